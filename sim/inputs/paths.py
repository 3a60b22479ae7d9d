"""Where cd7sim finds its packaged inputs, independent of the current folder.

The parameter registry, the committed posterior, the calibration targets and the scenarios live in the
repository's top-level ``calibration/`` and ``scenarios/`` folders, beside the package.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The folder holding the package and its inputs (the repository root)."""
CALIBRATION_DIR = ROOT / "calibration"
"""Parameters, targets, the committed posterior and fit."""
TARGETS_PATH = CALIBRATION_DIR / "targets.csv"
"""The calibration targets: every reported figure the model is calibrated and validated against."""
SCENARIOS_DIR = ROOT / "scenarios"
"""The base case, the study replays and the capacity examples."""
