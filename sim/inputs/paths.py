"""Where cd7sim finds its packaged inputs, independent of the current folder.

The parameter registry, the value inputs, the committed posterior, the calibration targets and the scenarios live in the
repository's top-level ``calibration/`` and ``scenarios/`` folders, beside the package. A wheel
(``pip install .``) carries copies of the two folders inside the package, as ``sim/_data/calibration``
and ``sim/_data/scenarios`` (the ``[tool.setuptools]`` tables of ``pyproject.toml`` map them).

How :data:`ROOT` is decided, once, at import:

1. the source tree: when the folder holding the ``sim`` package also holds ``calibration/parameters.yaml``
   and ``scenarios/base.yaml`` (a checkout, or an editable install ``pip install -e .``), the inputs are
   read, and ``cd7sim calibrate --write-committed`` writes, there;
2. otherwise the package's data folder ``sim/_data`` (what ``importlib.resources.files("sim") / "_data"``
   gives for an unpacked install, as pip's), which holds ``calibration/`` and ``scenarios/`` in a wheel install.

The current folder plays no part in either case.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
"""The ``sim`` package folder."""


def _root() -> Path:
    """The folder holding ``calibration/`` and ``scenarios/`` (see the module's docstring)."""
    source = _PACKAGE.parent
    if (source / "calibration" / "parameters.yaml").is_file() and (source / "scenarios" / "base.yaml").is_file():
        return source
    return _PACKAGE / "_data"


ROOT = _root()
"""The folder holding ``calibration/`` and ``scenarios/``: the repository root in a checkout or editable
install, the package's ``_data`` folder in a wheel install."""
SOURCE_TREE = ROOT != _PACKAGE / "_data"
"""Whether the inputs are the checkout's own (the committed calibration may be rewritten there, on request)."""
CALIBRATION_DIR = ROOT / "calibration"
"""Parameters, value inputs (costs, utilities), targets, the committed posterior and fit."""
TARGETS_PATH = CALIBRATION_DIR / "targets.csv"
"""The calibration targets: every reported figure the model is calibrated and validated against."""
SCENARIOS_DIR = ROOT / "scenarios"
"""The base case, the study replays and the capacity examples."""
LESSONS_DIR = SCENARIOS_DIR / "lessons"
"""The teaching app's lessons (:mod:`sim.inputs.lessons`): not scenarios themselves, each names one."""
