"""An installed wheel carries its inputs: ``pip install .`` then ``cd7sim run base`` from any folder.

The repository's top-level ``calibration/`` and ``scenarios/`` are mapped into the wheel as the data
packages ``sim._data.calibration`` and ``sim._data.scenarios`` (pyproject.toml, ``[tool.setuptools]``);
:mod:`sim.inputs.paths` reads the source tree's folders when they sit beside the package, else those.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

DATA_FOLDERS = {"calibration": "sim._data.calibration", "scenarios": "sim._data.scenarios"}
"""Top-level input folder -> the data package the wheel carries it as."""
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache*", ".hypothesis", "results")
"""What the copy of the source tree the wheel is built from leaves out."""


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _inputs() -> list[Path]:
    """Every input file of the source tree's calibration/ and scenarios/, relative to the repository."""
    return sorted(path.relative_to(REPO) for folder in DATA_FOLDERS for path in (REPO / folder).rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith("."))


def test_the_wheel_lists_every_package_and_input_folder():
    """The packages of pyproject.toml are explicit (a mapped folder cannot join a ``find``): they are
    exactly the source tree's sim packages and one data package per folder of calibration/ and scenarios/."""
    config = _setuptools()
    assert config["package-dir"] == {"sim": "sim", **{package: folder for folder, package in DATA_FOLDERS.items()}}
    code = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "sim").rglob("__init__.py")}
    data = {".".join((DATA_FOLDERS[path.parts[0]], *path.parts[1:-1])).rstrip(".") for path in _inputs()}
    assert sorted(config["packages"]) == sorted(code | data)
    patterns = config["package-data"]
    unpackaged = [str(path) for path in _inputs()
                  if not any(path.match(glob) for glob in patterns[".".join((DATA_FOLDERS[path.parts[0]], *path.parts[1:-1]))])]
    assert unpackaged == [], "input files no package-data glob of pyproject.toml takes into the wheel"


PROBE = """
import json, sys
import sim, sim.api, sim.inputs.paths as paths
run = sim.api.run("base", patients=50, seed=1)
print(json.dumps({"sim": sim.__file__, "root": str(paths.ROOT), "calibration": str(paths.CALIBRATION_DIR),
                  "scenarios": str(paths.SCENARIOS_DIR), "targets": str(paths.TARGETS_PATH),
                  "run": type(run).__name__}))
"""


@pytest.mark.slow
def test_an_installed_wheel_runs_from_an_unrelated_folder(tmp_path):
    """Build the wheel from a copy of the source tree, install it into a bare folder, and from a third
    folder (no calibration/ or scenarios/ in sight) import it, run the base case and the command line."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", str(source), "--no-deps", "-w", str(tmp_path / "wheels")],
                           cwd=tmp_path, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("cd7sim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = [str(path) for path in _inputs() if f"sim/_data/{path.as_posix()}" not in names]
    assert missing == [], "inputs the wheel lacks"
    assert {"sim/_data/calibration/parameters.yaml", "sim/_data/calibration/posterior.parquet",
            "sim/_data/scenarios/base.yaml", "sim/_data/scenarios/studies/hu2024.yaml", "sim/report/templates/report.html.j2"} <= names

    site = tmp_path / "site"
    installed = subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                               cwd=tmp_path, capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # PYTHONPATH comes before site-packages, where the editable install's finder of the test's own
    # environment sits at the end of sys.meta_path: the wheel's sim wins (checked below), and the
    # environment still supplies the dependencies.
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=elsewhere, env=env, capture_output=True, text=True,
                           check=False, timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    resolved = site.resolve()
    assert Path(seen["sim"]).resolve().is_relative_to(resolved), f"imported {seen['sim']}, not the wheel's sim"
    for key in ("root", "calibration", "scenarios", "targets"):
        assert Path(seen[key]).is_relative_to(resolved), (key, seen[key])
    assert Path(seen["calibration"]) == resolved / "sim" / "_data" / "calibration"
    assert seen["run"] == "Run"

    command = subprocess.run([sys.executable, "-m", "sim.cli", "run", "base", "--patients", "50", "--out", "out"],
                             cwd=elsewhere, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert command.returncode == 0, command.stderr[-3000:]
    assert (elsewhere / "out" / "summary.csv").is_file()
    assert sorted(path.name for path in elsewhere.iterdir()) == ["out"]
    info = json.loads((elsewhere / "out" / "run.json").read_text(encoding="utf-8"))
    assert info["git_commit"] is None and info["machine"]["cores"] >= 1  # an installed wheel has no commit

    report = subprocess.run([sys.executable, "-m", "sim.cli", "report", "out", "--out", "out.html"],  # the template is packaged
                            cwd=elsewhere, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "EVIDENCE.md not found" in report.stdout and "STRESS-DES" in (elsewhere / "out.html").read_text(encoding="utf-8")

    committed = subprocess.run([sys.executable, "-m", "sim.cli", "validate", "--write-committed", "--draws", "1"],
                               cwd=elsewhere, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert committed.returncode == 2
    assert committed.stderr.strip() == ("cd7sim: error: --write-committed: got true; only a source checkout has a "
                                        "committed calibration to rewrite (this cd7sim is an installed wheel); use --out DIR")
