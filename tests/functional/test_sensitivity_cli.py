"""`cd7sim dsa` and `cd7sim gsa`: the tornado's bars equal direct runs at the bounds, thresholds, two-way grid,
Morris and Sobol on the model, the simulation noise, bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.cli import main
from sim.uncertainty.dsa import BOUNDS, comparison_of, dsa_inputs, one_way, outcome_table
from sim.uncertainty.gsa import evaluations
from sim.uncertainty.psa import psa_plan


@pytest.fixture(scope="module")
def plan():
    return psa_plan(api.load("base", patients=80, seed=12), 1, None)


def test_each_tornado_bar_equals_a_direct_run_at_its_bound(plan):
    """The one-way analysis's values are the model run at the input's 2.5% / 97.5% point with everything else at
    its base value (here on priors: the prior's own quantiles)."""
    analysis = one_way(plan, "nmb", 100_000.0)
    registry = plan.base.registry
    for name in ("cr_cart_tcell", "cost_settings.us_payer.costs.cart_product"):
        row = analysis.tornado.set_index("input").loc[name]
        if name in registry:
            expected_low = float(registry[name].distribution.ppf(np.array(BOUNDS[0])))
        else:
            expected_low = plan.values.entries[name].quantile(BOUNDS[0])
        assert row["low"] == pytest.approx(expected_low)
        direct = outcome_table(plan, {name: row["low"]}, "nmb", 100_000.0)
        assert row["outcome_low"] == pytest.approx(float(direct[analysis.best] - direct[analysis.runner_up]))
    base = outcome_table(plan, {}, "nmb", 100_000.0)
    assert analysis.base_difference == pytest.approx(float(base[analysis.best] - base[analysis.runner_up]))
    assert analysis.base_difference >= 0 and analysis.best == base.idxmax()
    assert analysis.tornado["width"].is_monotonic_decreasing
    assert len(analysis.tornado) == len(dsa_inputs(plan))
    # a cheaper CAR-T product narrows the gap to the CAR-T strategies, a dearer one widens it
    product = analysis.tornado.set_index("input").loc["cost_settings.us_payer.costs.cart_product"]
    assert product["outcome_low"] < analysis.base_difference < product["outcome_high"]


def test_a_threshold_lies_where_the_decision_changes(plan):
    """At a willingness to pay near the all-in-one strategy's ICER, the product's price decides: the threshold
    reported sits between the base price and the bound that changes the decision, and the two strategies are
    close to equal there."""
    analysis = one_way(plan, "nmb", 160_000.0)
    thresholds = analysis.thresholds.set_index("input")
    if "cost_settings.us_payer.costs.cart_product" not in thresholds.index:
        pytest.skip("at this cohort the product's range does not change the decision")
    threshold = thresholds.loc["cost_settings.us_payer.costs.cart_product", "threshold"]
    item = next(i for i in dsa_inputs(plan) if i.name == "cost_settings.us_payer.costs.cart_product")
    assert min(item.base, item.low) < threshold < max(item.base, item.high)


def test_dsa_command_writes_the_tornado_and_the_two_way_grid(tmp_path, capsys):
    out = tmp_path / "dsa"
    assert main(["dsa", "base", "--patients", "40", "--two-way", "cr_cart_tcell,relapse_haplo_no_prophylaxis",
                 "--out", str(out), "--workers", "1"]) == 0
    for name in ("dsa.csv", "tornado.csv", "thresholds.csv", "tornado.png", "two_way.csv", "two_way.png"):
        assert (out / name).is_file(), name
    grid = pd.read_csv(out / "two_way.csv")
    assert len(grid) == 25 * 4 and grid.groupby(["cr_cart_tcell", "relapse_haplo_no_prophylaxis"])["best"].sum().eq(1).all()
    printed = capsys.readouterr().out
    assert "Base case:" in printed and "is best" in printed


def test_gsa_morris_ranks_the_product_price_and_measures_the_noise(tmp_path, capsys):
    out = tmp_path / "gsa"
    inputs = "cost_settings.us_payer.costs.cart_product,utility_sets.default.disutility_days.icu_stay,cr_cart_tcell"
    assert main(["gsa", "base", "--method", "morris", "--n", "4", "--patients", "60", "--inputs", inputs,
                 "--out", str(out), "--workers", "1"]) == 0
    table = pd.read_csv(out / "morris.csv")
    assert list(table.columns) == ["input", "evidence", "mu_star", "mu_star_conf", "mu", "sigma"]
    assert table["input"].iloc[0] == "cost_settings.us_payer.costs.cart_product"  # a price moves the NMB gap most
    record = json.loads((out / "gsa.json").read_text())
    assert record["runs"] == evaluations("morris", 4, 3) == 16
    assert record["noise_sd"] > 0 and 0 <= record["noise_share"]
    assert "noise share of the variance" in capsys.readouterr().out


def test_gsa_sobol_indices_of_the_model(tmp_path):
    out = tmp_path / "sobol"
    inputs = "cost_settings.us_payer.costs.cart_product,cost_settings.us_payer.costs.apheresis"
    assert main(["gsa", "base", "--method", "sobol", "--n", "8", "--patients", "40", "--inputs", inputs,
                 "--out", str(out), "--workers", "1"]) == 0
    table = pd.read_csv(out / "sobol.csv").set_index("input")
    # the product price (a sd of ~80,000 USD) explains more of the gap's variance than apheresis (~3,000 USD)
    assert table.loc["cost_settings.us_payer.costs.cart_product", "ST"] > table.loc["cost_settings.us_payer.costs.apheresis", "ST"]


def test_comparison_is_the_base_case_best_against_the_runner_up(plan):
    comparison = comparison_of(plan, "qalys", 0.0)
    qalys = outcome_table(plan, {}, "qalys", 0.0)
    assert comparison.best == qalys.idxmax() and comparison.value(qalys) >= 0


@pytest.mark.parametrize("command, message", [
    (["dsa", "base", "--outcome", "wealth"], r"^cd7sim: error: command line: got .*invalid choice: 'wealth'"),
    (["dsa", "base", "--two-way", "cr_cart_tcell,pizza"], r"^cd7sim: error: --two-way: got 'pizza'; an uncertain input"),
    (["dsa", "base", "--wtp", "1,2"], r"^cd7sim: error: --wtp: got '1,2'; one willingness to pay is required$"),
    (["gsa", "base", "--method", "sobol", "--n", "6"], r"^cd7sim: error: --n: got 6; a power of two is required"),
    (["gsa", "base", "--inputs", "cr_cart_tcell,pizza"], r"^cd7sim: error: --inputs: got 'pizza'; an uncertain input"),
    (["gsa", "regional_centre"], r"^cd7sim: error: scenario: got 'regional_centre'; a closed cohort"),
])
def test_bad_sensitivity_input_is_one_line_and_writes_nothing(tmp_path, capsys, command, message):
    out = tmp_path / "out"
    assert main([*command, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and re.match(message, err), err
    assert not out.exists()
