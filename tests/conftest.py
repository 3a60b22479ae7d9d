"""Shared fixtures: the packaged parameters, the base scenario and small helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.inputs.parameters import load_parameters
from sim.inputs.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
BASE_SCENARIO = REPO / "scenarios" / "base.yaml"


@pytest.fixture(scope="session")
def params():
    return load_parameters()


@pytest.fixture(scope="session")
def base_scenario():
    return load_scenario(BASE_SCENARIO)


def uniform_grid(n: int) -> np.ndarray:
    """Evenly spread uniforms: the share below p is exactly p to within 1/n."""
    return (np.arange(n) + 0.5) / n


