"""The decision analysis of a PSA (sim.uncertainty.decision): acceptability curves and frontier, expected loss,
EVPI, the incremental table with intervals and the default willingness-to-pay values, on hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.uncertainty.decision import (
    PSA,
    acceptability,
    default_evppi_wtps,
    default_wtp_grid,
    evpi_table,
    expected_value_of_perfect_information,
    incremental_table,
)


def long_table(costs: np.ndarray, qalys: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    """The PSA table (draw, strategy, cost, qalys) of n × S arrays, draws numbered from 1."""
    n, s = costs.shape
    return pd.DataFrame({"draw": np.repeat(np.arange(1, n + 1), s), "strategy": np.tile(names, n),
                         "cost": costs.ravel(), "qalys": qalys.ravel()})


@pytest.fixture
def three() -> PSA:
    """Three strategies over 2,000 draws: 'cheap' (cost 1,000, 1 QALY), 'middle' (+2,000 for +0.1 QALY:
    ICER 20,000), 'dear' (+6,000 more for +0.1 QALY: ICER 60,000), each with independent noise."""
    rng = np.random.default_rng(7)
    n = 2000
    costs = np.column_stack([np.full(n, 1000.0), np.full(n, 3000.0), np.full(n, 9000.0)]) + rng.normal(0, 300, (n, 3))
    qalys = np.column_stack([np.full(n, 1.0), np.full(n, 1.1), np.full(n, 1.2)]) + rng.normal(0, 0.05, (n, 3))
    parameters = pd.DataFrame({"draw": np.arange(1, n + 1), "p": rng.uniform(size=n)})
    return PSA.from_tables(long_table(costs, qalys, ("cheap", "middle", "dear")), parameters)


def test_a_psa_is_read_from_its_long_table_whatever_the_row_order(three):
    shuffled = long_table(three.cost, three.qalys, three.strategies).sample(frac=1.0, random_state=1)
    again = PSA.from_tables(shuffled)
    assert set(again.strategies) == set(three.strategies)
    order = [again.strategies.index(name) for name in three.strategies]
    np.testing.assert_array_equal(again.cost[:, order], three.cost)
    np.testing.assert_array_equal(again.draws, np.arange(1, 2001))


def test_acceptability_curves_sum_to_one_and_the_frontier_is_the_best_expected_strategy(three):
    grid = [0.0, 10_000.0, 40_000.0, 100_000.0]
    table = acceptability(three, grid)
    assert table.groupby("wtp")["probability_best"].sum().to_numpy() == pytest.approx(1.0)
    frontier = table[table["on_frontier"]]
    assert frontier["wtp"].tolist() == grid
    assert frontier["strategy"].tolist() == ["cheap", "cheap", "middle", "dear"]
    best_expected = table.loc[table.groupby("wtp")["expected_nmb"].idxmax(), "strategy"].tolist()
    assert best_expected == frontier["strategy"].tolist()


def test_the_frontier_strategys_expected_loss_is_the_evpi(three):
    """Expected loss of the strategy chosen now = E[max NB] − max E[NB] = EVPI; every other loses more."""
    for wtp in (5_000.0, 20_000.0, 70_000.0):
        table = acceptability(three, [wtp])
        chosen = table[table["on_frontier"]].iloc[0]
        assert chosen["expected_loss"] == pytest.approx(expected_value_of_perfect_information(three, wtp))
        assert (table["expected_loss"] >= chosen["expected_loss"] - 1e-9).all()


def test_tied_draws_share_the_probability_of_being_best():
    """Two identical strategies tie in every draw: each is best with probability one half."""
    costs = np.array([[1.0, 1.0], [2.0, 2.0]])
    psa = PSA.from_tables(long_table(costs, np.ones((2, 2)), ("a", "b")))
    assert acceptability(psa, [0.0])["probability_best"].tolist() == [0.5, 0.5]


def test_evpi_for_a_population():
    costs = np.array([[0.0, 100.0], [0.0, -100.0]])
    psa = PSA.from_tables(long_table(costs, np.zeros((2, 2)), ("a", "b")))
    # net benefits (0, −100) and (0, 100): E[max] = 50, max E = 0
    table = evpi_table(psa, [0.0], population=2500)
    assert table.to_dict("records") == [{"wtp": 0.0, "evpi": 50.0, "evpi_population": 125_000.0}]
    assert math.isnan(evpi_table(psa, [0.0])["evpi_population"].iloc[0])


def test_the_incremental_table_on_the_means_with_intervals():
    """Two draws by hand: 'a' costs 0 and 10, gains 1 and 1; 'b' costs 100 and 300, gains 2 and 4. Means
    (5, 1) and (200, 3): 'b' is ND against 'a' with increments 195 and 2, ICER 97.5; the draw-wise increments
    are (100, 1) and (290, 3), whose 95% percentile interval is 104.75–285.25 and 1.05–2.95."""
    costs = np.array([[0.0, 100.0], [10.0, 300.0]])
    qalys = np.array([[1.0, 2.0], [1.0, 4.0]])
    table = incremental_table(PSA.from_tables(long_table(costs, qalys, ("a", "b"))), [50.0])
    assert table.columns[:8].tolist() == ["strategy", "cost", "qalys", "inc_cost", "inc_qalys", "icer", "status", "nmb_50"]
    row = table.set_index("strategy").loc["b"]
    assert (row["cost"], row["qalys"], row["inc_cost"], row["inc_qalys"], row["icer"], row["status"]) == (
        200.0, 3.0, 195.0, 2.0, 97.5, "ND")
    assert (row["inc_cost_lower"], row["inc_cost_upper"]) == pytest.approx((104.75, 285.25))
    assert (row["inc_qalys_lower"], row["inc_qalys_upper"]) == pytest.approx((1.05, 2.95))
    assert row["nmb_50"] == pytest.approx(50 * 3 - 200)
    first = table.set_index("strategy").loc["a"]
    assert (first["cost_lower"], first["cost_upper"]) == pytest.approx((0.25, 9.75))
    assert math.isnan(first["inc_cost_lower"])


def test_the_default_grid_spans_twice_the_largest_frontier_icer(three):
    """Frontier ICERs about 20,000 and 60,000: the grid runs from 0 to 2 × 60,000 rounded up to 200,000
    (1, 2, 2.5 or 5 times a power of ten) in 51 values; EVPPI defaults to the ICERs at two figures."""
    grid = default_wtp_grid(three)
    assert grid[0] == 0 and grid.size == 51
    assert grid[-1] == 200_000
    wtps = default_evppi_wtps(three)
    assert len(wtps) == 2
    assert wtps[0] == pytest.approx(20_000, rel=0.2) and wtps[1] == pytest.approx(60_000, rel=0.2)


def test_a_dominant_strategy_gives_the_fallback_grid():
    costs = np.array([[0.0, 10.0], [0.0, 12.0]])
    qalys = np.array([[2.0, 1.0], [2.0, 1.0]])
    psa = PSA.from_tables(long_table(costs, qalys, ("a", "b")))
    assert default_wtp_grid(psa)[-1] == 100_000
    assert default_evppi_wtps(psa) == [50_000.0]
