"""GOLDEN REGRESSION TEST — not a check of correctness.

A small base-case run at a fixed seed is compared with the summary saved in
``golden_summary.csv``, to notice any unintended change of model behaviour. When a change is
intended (a rule or a parameter changed on purpose), regenerate the file and say so in the
commit message::

    CD7SIM_UPDATE_GOLDEN=1 python -m pytest tests/regression
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from sim.outcomes.endpoints import summarise
from sim.simulation.runner import simulate

GOLDEN = Path(__file__).with_name("golden_summary.csv")


def test_small_base_run_matches_the_golden_summary(base_scenario, params):
    scenario = base_scenario.model_copy(update={"patients": 400, "seed": 11})
    summary = summarise(simulate(scenario, params, "des").patients)
    if os.environ.get("CD7SIM_UPDATE_GOLDEN"):
        summary.to_csv(GOLDEN, index=False, float_format="%.12g")
    golden = pd.read_csv(GOLDEN)
    assert list(summary.metric) == list(golden.metric)
    assert list(summary.strategy.astype(str)) == list(golden.strategy)
    for column in ("estimate", "lower", "upper"):
        np.testing.assert_allclose(summary[column].to_numpy(float), golden[column].to_numpy(float),
                                   rtol=1e-9, equal_nan=True, err_msg=column)
