"""Incremental cost-effectiveness analysis (sim.economics.incremental) against a published worked example,
hand-worked cases and properties of the efficient frontier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.economics.incremental import COLUMNS, incremental_analysis, net_monetary_benefit, nmb_column, optimal_strategy

# --- a published worked example ----------------------------------------------------------------------------

# Alarid-Escudero F, Enns EA, Knowlton G and the DARTH Team. "Basic Cost Effectiveness Analysis", vignette of
# the R package dampack (vignettes/basic_cea.Rmd), Example 2: "CEA using a probabilistic sensitivity analysis
# of treatment strategies for Clostridioides difficile infection", data from Rajasingham R, Enns EA,
# Khoruts A, Vaughn BP. Cost-effectiveness of Treatment Regimens for Clostridioides difficile Infection: An
# Evaluation of the 2018 Infectious Diseases Society of America Guidelines. Clin Infect Dis
# 2020;70(5):754-762. The vignette's printed ICER table is shipped beside it as vignettes/cdiff_icers.csv
# (github.com/DARTH-git/dampack, commit 8aae73f8418bd10a894152c9f26a467b6dfa59b9); its rows, as printed
# (strategy, mean cost in US$, mean QALYs, incremental cost, incremental QALYs, ICER in US$/QALY, status):
CDIFF_PRINTED = [
    ("s3", 57336.0059896538, 12.9399639202408, None, None, None, "ND"),
    ("s27", 57541.2526373815, 13.0140640696275, 205.246647727639, 0.0741001493866911, 2769.85470915263, "ND"),
    ("s33", 57642.2587507842, 13.0389116321918, 101.006113402713, 0.0248475625643216, 4065.03105249231, "ND"),
    ("s31", 57934.0743411241, 13.0966257932217, 291.815590339931, 0.0577141610298533, 5056.2216470406, "ND"),
    ("s43", 58072.1137208494, 13.11285766912, 138.039379725262, 0.0162318758983169, 8504.2160616553, "ND"),
    ("s44", 58665.7823044647, 13.1283328397025, 593.668583615326, 0.0154751705825014, 38362.6519947134, "ND"),
    ("s39", 57814.6470919581, 13.0462790163185, None, None, None, "ED"),
    ("s4", 57887.481549326, 12.9970657153765, None, None, None, "D"),
    ("s13", 58018.6252420203, 13.0650412387992, None, None, None, "D"),
    ("s37", 58081.7947984323, 13.1029711156978, None, None, None, "D"),
    ("s20", 58634.2026441398, 13.1100568867995, None, None, None, "D"),
]


def test_reproduces_dampack_vignette_cdiff_table():
    """Every status, increment and ICER of the printed table (dampack orders rows by status, then cost; ours
    are by cost, so rows are matched by strategy). The printed numbers carry 15 significant digits."""
    printed = pd.DataFrame(CDIFF_PRINTED, columns=list(COLUMNS)).set_index("strategy")
    table = incremental_analysis(printed.index, printed["cost"], printed["effect"]).set_index("strategy")
    assert list(table["cost"]) == sorted(printed["cost"])
    table = table.loc[printed.index]
    assert list(table["status"]) == list(printed["status"])
    for column in ("inc_cost", "inc_effect", "icer"):
        np.testing.assert_allclose(table[column].to_numpy(), printed[column].to_numpy(dtype=float), rtol=1e-11, equal_nan=True)


def test_hiv_screening_example_by_hand():
    """Example 1 of the same vignette: HIV screening in a high-risk population, costs (US$) and quality-adjusted
    life-months from Table 4 of Paltiel AD et al., Expanded HIV screening in the United States, Ann Intern Med
    2006;145(11):797-806, as entered in the vignette (QALYs = months / 12). The vignette states that annual
    screening is strongly dominated but does not print the ICERs, so these are worked by hand:

    - annual costs 29440 > 28440 (3yr) and gains 277.76 < 277.83 months: D.
    - one time vs status quo: (27000 − 26000) / ((277.57 − 277.25) / 12) = 1000 / (0.32 / 12) = 37500.
    - 5yr vs one time:        (28020 − 27000) / ((277.78 − 277.57) / 12) = 1020 / (0.21 / 12) = 58285.714...
    - 3yr vs 5yr:             (28440 − 28020) / ((277.83 − 277.78) / 12) =  420 / (0.05 / 12) = 100800.
    - 37500 < 58285.7 < 100800: no extended dominance.
    """
    names = ["status quo", "one time", "5yr", "3yr", "annual"]
    costs = [26000, 27000, 28020, 28440, 29440]
    months = np.array([277.25, 277.57, 277.78, 277.83, 277.76])
    table = incremental_analysis(names, costs, months / 12)
    assert list(table["strategy"]) == names
    assert list(table["status"]) == ["ND", "ND", "ND", "ND", "D"]
    np.testing.assert_allclose(table["icer"], [np.nan, 37500, 1020 * 12 / 0.21, 100800, np.nan], rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(table["inc_cost"], [np.nan, 1000, 1020, 420, np.nan], rtol=1e-12, equal_nan=True)


def test_extended_dominance_by_hand_including_a_point_on_the_line():
    """A (0, 0), B (100, 1), C (300, 2), D (350, 3), E (500, 4) in (cost, effect):
    ICERs in order of cost: B 100, C 200, D 50, E 150. C's 200 > D's 50: C is ED; then B 100, D (350 − 100)/(3 − 1)
    = 125, E 150: increasing. B stays. Add F (425, 3.5), exactly on the line D–E (ICER 150 from D, 150 to E):
    it is ED, so the ICERs strictly increase."""
    table = incremental_analysis(list("ABCDEF"), [0, 100, 300, 350, 500, 425], [0, 1, 2, 3, 4, 3.5]).set_index("strategy")
    assert table["status"].to_dict() == {"A": "ND", "B": "ND", "C": "ED", "D": "ND", "F": "ED", "E": "ND"}
    np.testing.assert_allclose(table.loc[["B", "D", "E"], "icer"], [100, 125, 150])
    np.testing.assert_allclose(table.loc[["D", "E"], "inc_effect"], [2, 1])


# --- edge cases --------------------------------------------------------------------------------------------

def test_one_strategy():
    table = incremental_analysis(["only"], [10.0], [1.0], wtp=[100])
    assert list(table.columns) == [*COLUMNS, "nmb_100"]
    assert table.loc[0, "status"] == "ND"
    assert table[["inc_cost", "inc_effect", "icer"]].isna().all(axis=None)
    assert table.loc[0, "nmb_100"] == 90.0


def test_identical_strategies_keep_the_first_name():
    """Same cost and effect: the name that sorts first is on the frontier, whatever the input order."""
    for names in (["b", "a", "c"], ["c", "b", "a"]):
        table = incremental_analysis(names, [5, 5, 5], [2, 2, 2])
        assert list(table["strategy"]) == ["a", "b", "c"]
        assert list(table["status"]) == ["ND", "D", "D"]


def test_weak_dominance_is_dominance():
    """Costs more for the same effect, or the same cost for less effect: D."""
    table = incremental_analysis(["ref", "dearer", "worse"], [10, 20, 10], [1, 1, 0.5]).set_index("strategy")
    assert table["status"].to_dict() == {"ref": "ND", "worse": "D", "dearer": "D"}


def test_all_dominated_but_one():
    table = incremental_analysis(["best", "x", "y", "z"], [1, 2, 3, 4], [10, 9, 10, -5])
    assert list(table["status"]) == ["ND", "D", "D", "D"]
    assert table["icer"].isna().all()


def test_negative_effects_and_costs():
    """Harms (negative effects) and savings (negative costs) are ordinary numbers: ICER (−100 − (−300)) /
    (−1 − (−3)) = 100 per unit."""
    table = incremental_analysis(["harmful", "less harmful"], [-300, -100], [-3, -1])
    assert list(table["status"]) == ["ND", "ND"]
    assert table.loc[1, "icer"] == 100.0


def test_net_monetary_benefit_columns_and_optimal_strategy():
    """Frontier B (0, 0), A (100, 1), C (300, 2): ICERs 100 and 200, so the best is B below 100 per unit,
    A between 100 and 200, C above; NMB at 150: B 0, A 150 − 100 = 50, C 300 − 300 = 0."""
    names, costs, effects = ["A", "B", "C"], [100, 0, 300], [1, 0, 2]
    table = incremental_analysis(names, costs, effects, wtp=[150, 2500.5]).set_index("strategy")
    assert table["nmb_150"].to_dict() == {"B": 0.0, "A": 50.0, "C": 0.0}
    assert nmb_column(2500.5) in table.columns
    assert [optimal_strategy(names, costs, effects, wtp) for wtp in (0, 99, 150, 250)] == ["B", "B", "A", "C"]
    assert optimal_strategy(names, costs, effects, 100) == "B"  # a tie: the cheaper frontier strategy


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused_naming_the_strategy(bad):
    with pytest.raises(ValueError, match=r"cost of strategy 'B': got (nan|inf|-inf); a finite number is required"):
        incremental_analysis(["A", "B"], [1.0, bad], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"effect of strategy 'A': got (nan|inf|-inf)"):
        incremental_analysis(["A", "B"], [1.0, 2.0], [bad, 2.0])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: incremental_analysis(["A", "B", "A"], [1, 2, 3], [1, 2, 3]), "'A' more than once"),
    (lambda: incremental_analysis([], [], []), "at least one strategy"),
    (lambda: incremental_analysis(["A", "B"], [1, 2, 3], [1, 2]), r"costs: got shape \(3,\)"),
    (lambda: incremental_analysis(["A", 2], [1, 2], [1, 2]), "a strategy name"),
    (lambda: incremental_analysis(["A"], [1], [1], wtp=[-1]), "willingness to pay: got -1"),
    (lambda: incremental_analysis(["A"], [1], [1], wtp=[np.nan]), "willingness to pay: got nan"),
    (lambda: incremental_analysis(["A"], [1], [1], wtp=[100, 100.0]), "distinct values"),
    (lambda: net_monetary_benefit([1], [1], -5), "willingness to pay"),
])
def test_bad_inputs_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- properties --------------------------------------------------------------------------------------------

# Costs in cents up to ±10 million and effects in thousandths of a QALY up to ±20: values of a real analysis,
# with ties (equal costs, equal effects, identical strategies) frequent enough to be exercised.
_costs = st.integers(-1_000_000_000, 1_000_000_000).map(lambda cents: cents / 100)
_effects = st.integers(-20_000, 20_000).map(lambda thousandths: thousandths / 1000)
_small_costs = st.integers(0, 20).map(float)
_small_effects = st.integers(0, 5).map(float)


@st.composite
def analyses(draw, max_size=12):
    """Names and costs and effects of 1 to ``max_size`` strategies, from a wide or a small tie-prone range."""
    n = draw(st.integers(1, max_size))
    costs, effects = draw(st.sampled_from([(_costs, _effects), (_small_costs, _small_effects)]))
    return [f"s{i}" for i in range(n)], draw(st.lists(costs, min_size=n, max_size=n)), draw(st.lists(effects, min_size=n, max_size=n))


def _frontier(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ND"].reset_index(drop=True)


@settings(max_examples=300, deadline=None)
@given(analyses(), st.data())
def test_a_dominated_strategy_changes_nothing_on_the_frontier(analysis, data):
    names, costs, effects = analysis
    i = data.draw(st.integers(0, len(names) - 1))
    extra_cost, less_effect = data.draw(st.tuples(st.integers(0, 10_000), st.integers(0, 1_000)).filter(lambda pair: pair != (0, 0)))
    before = incremental_analysis(names, costs, effects)
    after = incremental_analysis([*names, "~dominated"], [*costs, costs[i] + extra_cost], [*effects, effects[i] - less_effect / 1000])
    assert after.set_index("strategy").loc["~dominated", "status"] == "D"
    pd.testing.assert_frame_equal(_frontier(before), _frontier(after))
    pd.testing.assert_frame_equal(after[after["strategy"] != "~dominated"].reset_index(drop=True), before)


@settings(max_examples=300, deadline=None)
@given(analyses())
def test_frontier_is_ordered_and_its_icers_strictly_increase(analysis):
    table = incremental_analysis(*analysis)
    frontier = _frontier(table)
    assert table["cost"].is_monotonic_increasing
    assert (np.diff(frontier["cost"]) > 0).all() and (np.diff(frontier["effect"]) > 0).all()
    assert (np.diff(frontier["icer"].iloc[1:]) > 0).all()
    assert frontier[["inc_cost", "inc_effect", "icer"]].iloc[0].isna().all()
    assert table.loc[table["status"] != "ND", ["inc_cost", "inc_effect", "icer"]].isna().all(axis=None)
    # Every strategy off the frontier costs at least as much as the frontier's piecewise-linear cost at its
    # effect (it lies on or above the frontier), or gains no more than the cheapest frontier strategy at a cost
    # no lower.
    off = table[table["status"] != "ND"]
    frontier_cost = np.interp(off["effect"], frontier["effect"], frontier["cost"], left=-np.inf, right=np.inf)
    assert (off["cost"].to_numpy() >= frontier_cost - 1e-9 * np.abs(frontier_cost).clip(1)).all()


@settings(max_examples=200, deadline=None)
@given(analyses(), st.integers(0, 1_000_000))
def test_nmb_ranking_is_the_reversed_ranking_of_cost_minus_wtp_times_effect(analysis, wtp):
    names, costs, effects = analysis
    table = incremental_analysis(names, costs, effects, wtp=[wtp])
    by_nmb = table.sort_values(nmb_column(wtp), ascending=False, kind="stable")["strategy"]
    loss = table["cost"] - wtp * table["effect"]
    by_loss = table.assign(loss=loss).sort_values("loss", kind="stable")["strategy"]
    assert list(by_nmb) == list(by_loss)


@settings(max_examples=300, deadline=None)
@given(analyses(), st.integers(0, 1_000_000))
def test_highest_nmb_is_on_the_frontier(analysis, wtp):
    names, costs, effects = analysis
    table = incremental_analysis(names, costs, effects, wtp=[wtp]).set_index("strategy")
    best = optimal_strategy(names, costs, effects, wtp)
    assert table.loc[best, "status"] == "ND"
    benefit = table[nmb_column(wtp)]
    assert benefit[best] >= benefit.max() - 1e-9 * max(1.0, abs(benefit.max()))


@settings(max_examples=200, deadline=None)
@given(analyses())
def test_each_frontier_strategy_is_best_between_its_icer_and_the_next(analysis):
    """Checked halfway between consecutive ICERs, where they are more than rounding apart (collinear strategies
    give ICERs equal but for the last digit, and a tie between them there)."""
    names, costs, effects = analysis
    frontier = _frontier(incremental_analysis(names, costs, effects))
    bounds = [0.0, *frontier["icer"].iloc[1:], np.inf]
    for k, name in enumerate(frontier["strategy"]):
        low, high = bounds[k], bounds[k + 1]
        wtp = (low + high) / 2 if np.isfinite(high) else low + 1.0
        if high - low > 1e-9 * max(1.0, low):
            assert optimal_strategy(names, costs, effects, wtp) == name


@settings(max_examples=200, deadline=None)
@given(analyses(), st.randoms(use_true_random=False), st.lists(st.integers(0, 100_000), max_size=3, unique=True))
def test_input_order_does_not_matter(analysis, random, wtp):
    names, costs, effects = analysis
    order = list(range(len(names)))
    random.shuffle(order)
    pd.testing.assert_frame_equal(
        incremental_analysis(names, costs, effects, wtp),
        incremental_analysis([names[i] for i in order], [costs[i] for i in order], [effects[i] for i in order], wtp),
    )
