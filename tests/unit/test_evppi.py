"""EVPI and regression EVPPI (sim.uncertainty.evppi, sim.uncertainty.decision) against a published reference
example, closed forms, brute-force nested Monte Carlo and the inequalities they must obey."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.uncertainty.decision import PSA, evppi_table, expected_value_of_perfect_information
from sim.uncertainty.evppi import evppi
from tests.conftest import REPO

CHEMO = REPO / "tests" / "data" / "voi_chemo"


@pytest.fixture(scope="module")
def chemo() -> PSA:
    return PSA.from_tables(pd.read_parquet(CHEMO / "psa.parquet"), pd.read_parquet(CHEMO / "parameters.parquet"))


# --- a published reference example ---------------------------------------------------------------------------

def test_evpi_reproduces_the_voi_chemotherapy_example(chemo):
    """Jackson C, Heath A et al., R package voi 1.0.3 (github.com/chjackson/voi, commit b43b895),
    tests/testthat/test_evpi.R: ``evpi(chemo_cea)$evpi`` at k = 10,000 ... 50,000 per QALY prints
    8.76486716445652, 368.605096225918, 206.468704777362, 150.472904023947, 126.983450042782 (the PSA of its
    chemotherapy model, 10,000 draws, vendored in tests/data/voi_chemo)."""
    printed = [8.76486716445652, 368.605096225918, 206.468704777362, 150.472904023947, 126.983450042782]
    ours = [expected_value_of_perfect_information(chemo, wtp) for wtp in (10_000, 20_000, 30_000, 40_000, 50_000)]
    assert ours == pytest.approx(printed, rel=1e-9)


def test_one_parameter_evppi_reproduces_the_voi_chemotherapy_example(chemo):
    """voi 1.0.3, tests/testthat/test_evppi.R, "single-parameter EVPPI": ``evppi(chemo_nb, chemo_pars,
    pars = "p_side_effects_t2")`` prints 262.1109 (net benefit at 20,000 per QALY; mgcv's
    ``te(p_side_effects_t2, bs = "cr")`` with GCV, which our one-parameter spline is). Within voi's own
    tolerance (1e-5, relative)."""
    result = evppi(chemo.net_benefit(20_000), chemo.parameters[["p_side_effects_t2"]].to_numpy(), ["p_side_effects_t2"],
                   20_000, evpi=368.605096225918)
    assert result.evppi == pytest.approx(262.1109, rel=1e-5)
    assert result.method == "spline"
    assert result.fit_warning == ""
    assert 0 < result.se < 20


def test_two_parameter_evppi_agrees_with_the_voi_chemotherapy_example(chemo):
    """voi 1.0.3, tests/testthat/test_evppi.R, "multi-parameter EVPPI, gam": ``pars = c("p_side_effects_t2",
    "logor_side_effects")`` prints 333.4516 (mgcv tensor spline; the same file prints 333.8265 for an additive
    GAM and 334.0442 for MARS): our tensor spline (margins parametrised by their values at the knots, rather
    than mgcv's reparametrisation) within 1%, and within a few standard errors."""
    names = ["p_side_effects_t2", "logor_side_effects"]
    result = evppi(chemo.net_benefit(20_000), chemo.parameters[names].to_numpy(), names, 20_000, evpi=368.605096225918)
    assert result.method == "tensor spline"
    assert result.evppi == pytest.approx(333.4516, rel=0.01)
    assert abs(result.evppi - 333.4516) < 3 * result.se


def test_the_gaussian_process_agrees_with_the_spline_on_the_reference_example(chemo):
    """The Gaussian process (used for three or more parameters) on the same two parameters of voi's
    chemotherapy example, 3,000 draws (as Strong et al. 2014 fit a GP to a few thousand): near the splines'
    value on those draws (the two smoothers are independent estimates of one conditional expectation)."""
    names = ["p_side_effects_t2", "logor_side_effects"]
    nb = chemo.net_benefit(20_000)[:3000]
    points = chemo.parameters[names].to_numpy()[:3000]
    spline = evppi(nb, points, names, 20_000)
    from sim.uncertainty.evppi import _smoother_fits, _value
    reference = int(np.argmax(nb.mean(axis=0)))
    incremental = np.delete(nb, reference, axis=1) - nb[:, [reference]]
    gp_points = np.column_stack([points, np.random.default_rng(3).uniform(size=3000)])  # a third, irrelevant input
    fits = _smoother_fits(gp_points, incremental, np.random.default_rng(0))
    assert fits[0].method == "gaussian process"
    gp_value = float(_value(np.column_stack([fit.fitted for fit in fits])))
    assert gp_value == pytest.approx(spline.evppi, rel=0.05)


# --- closed forms ----------------------------------------------------------------------------------------

def normal_evpi(mean: float, sd: float) -> float:
    """EVPI of two strategies whose incremental net benefit is N(mean, sd²): E[max(0, INB)] − max(0, mean).

    E[max(0, Y)] for Y ~ N(m, s²) is m Φ(m/s) + s φ(m/s); subtracting max(0, m) gives s φ(m/s) − |m| Φ(−|m|/s)
    (for m > 0: m Φ(m/s) − m = −m Φ(−m/s); for m < 0 it is m Φ(m/s) directly).
    """
    return sd * stats.norm.pdf(mean / sd) - abs(mean) * stats.norm.cdf(-abs(mean) / sd)


def test_the_normal_evpi_formula_against_brute_force():
    """The closed form of `normal_evpi` against a million draws (Monte Carlo standard error)."""
    rng = np.random.default_rng(11)
    for mean, sd in ((200.0, 1500.0), (-300.0, 700.0), (0.0, 100.0)):
        inb = rng.normal(mean, sd, 1_000_000)
        gain = np.maximum(inb, 0.0)
        brute = gain.mean() - max(inb.mean(), 0.0)
        assert brute == pytest.approx(normal_evpi(mean, sd), abs=4 * gain.std() / 1000)


A, B, NOISE = 200.0, 600.0, 1500.0
"""The analytic case: INB = A + B·X + ε, X ~ N(0, 1), ε ~ N(0, NOISE²) independent of X (currency)."""


def analytic_psa(n: int, seed: int, extra: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Net benefits (n × 2) and parameters (X, then ``extra`` irrelevant uniforms) of the analytic case."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    base = rng.normal(1000.0, 300.0, n)
    nb = np.column_stack([base, base + A + B * x + rng.normal(0.0, NOISE, n)])
    return nb, np.column_stack([x, rng.uniform(size=(n, extra))])


def test_evppi_of_a_normal_incremental_net_benefit_matches_its_closed_form():
    """INB = a + b·X + ε with X ~ N(0, 1): E[INB | X] = a + b·X ~ N(a, b²), so EVPPI(X) = E[max(0, a + bX)] −
    max(0, a) = normal_evpi(a, |b|) (Strong, Oakley & Brennan 2014, section 2: EVPPI is the EVPI of the
    conditional expectation), and EVPI = normal_evpi(a, sqrt(b² + σ²)). The regression estimate agrees with
    the same quantity on the sample's own X (the regression error, within 4 standard errors) and with the
    closed form (adding the Monte Carlo error of 10,000 draws)."""
    n = 10_000
    nb, points = analytic_psa(n, seed=5)
    result = evppi(nb, points, ["x"], 20_000)
    conditional = np.maximum(A + B * points[:, 0], 0.0)
    on_sample = conditional.mean() - max(A + B * points[:, 0].mean(), 0.0)
    assert abs(result.evppi - on_sample) < 4 * result.se
    monte_carlo = conditional.std() / np.sqrt(n)
    assert abs(result.evppi - normal_evpi(A, B)) < 4 * np.hypot(result.se, monte_carlo)
    assert result.fit_warning == ""


def test_the_gaussian_process_evppi_matches_the_closed_form():
    """The same analytic case with X in a group of three (two irrelevant uniforms), so the Gaussian process
    fits it; 3,000 draws."""
    nb, points = analytic_psa(3000, seed=8, extra=2)
    result = evppi(nb, points, ["x", "u1", "u2"], 20_000)
    assert result.method == "gaussian process"
    conditional = np.maximum(A + B * points[:, 0], 0.0)
    monte_carlo = conditional.std() / np.sqrt(3000)
    assert abs(result.evppi - normal_evpi(A, B)) < 4 * np.hypot(result.se, monte_carlo) + 0.05 * normal_evpi(A, B)


# --- brute force: nested Monte Carlo on a small nonlinear model ------------------------------------------------

def nonlinear_net_benefit(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Three strategies' net benefits (currency) of two uniform(0, 1) parameters, nonlinear and interacting."""
    return np.stack([np.zeros_like(x1 + x2),
                     2000.0 * x1 * x2 - 450.0,
                     1500.0 * np.sin(3.0 * x1) * x2 ** 2 - 420.0], axis=-1)


def nested_evppi_x1(outer: int = 2000, inner: int = 4000, seed: int = 1) -> float:
    """EVPPI(X1) by brute force: E over X1 of max_s E[NB_s | X1] (inner Monte Carlo over X2), minus max_s E[NB_s]."""
    rng = np.random.default_rng(seed)
    x1 = (np.arange(outer) + 0.5) / outer
    x2 = rng.uniform(size=inner)
    conditional = nonlinear_net_benefit(x1[:, None], x2[None, :]).mean(axis=1)
    overall = conditional.mean(axis=0)
    return float(conditional.max(axis=1).mean() - overall.max())


def test_regression_evppi_agrees_with_nested_monte_carlo():
    """EVPPI(X1) of a nonlinear three-strategy model: the regression on a 5,000-draw PSA (with noise on net
    benefit) against brute-force nested Monte Carlo (2,000 × 4,000 evaluations, error ~1); within 4 standard
    errors plus the Monte Carlo error of the 5,000 outer draws."""
    rng = np.random.default_rng(21)
    n = 5000
    x1, x2 = rng.uniform(size=n), rng.uniform(size=n)
    nb = nonlinear_net_benefit(x1, x2) + rng.normal(0.0, 200.0, (n, 3))
    result = evppi(nb, x1[:, None], ["x1"], 1.0)
    truth = nested_evppi_x1()
    assert truth > 50
    assert abs(result.evppi - truth) < 4 * result.se + 0.06 * truth


def test_evppi_obeys_its_inequalities():
    """0 <= EVPPI(X1), EVPPI(X2) <= EVPPI(X1, X2) <= EVPI (within two standard errors): information on more
    parameters is worth at least as much, and no more than perfect information on all of them."""
    rng = np.random.default_rng(4)
    n = 4000
    x1, x2 = rng.uniform(size=n), rng.uniform(size=n)
    nb = nonlinear_net_benefit(x1, x2) + rng.normal(0.0, 200.0, (n, 3))
    evpi = float(nb.max(axis=1).mean() - nb.mean(axis=0).max())
    one = evppi(nb, x1[:, None], ["x1"], 1.0, evpi=evpi)
    two = evppi(nb, x2[:, None], ["x2"], 1.0, evpi=evpi)
    both = evppi(nb, np.column_stack([x1, x2]), ["x1", "x2"], 1.0, evpi=evpi)
    for member in (one, two):
        assert member.evppi >= 0
        assert both.evppi >= member.evppi - 2 * np.hypot(both.se, member.se)
    assert both.evppi <= evpi + 2 * both.se
    assert both.fit_warning == ""


def test_evpi_against_brute_force_on_a_small_case():
    """Four draws, three strategies, by hand at λ = 1,000 per QALY: net benefits per draw
    (500, 300, 100), (200, 400, −100), (−100, 0, 900), (600, 100, 200); the maxima average
    (500 + 400 + 900 + 600) / 4 = 600, the best mean is max(300, 200, 275) = 300, so EVPI = 300."""
    qalys = np.array([[1.0, 1.0, 1.0]] * 4)
    nb = np.array([[500.0, 300.0, 100.0], [200.0, 400.0, -100.0], [-100.0, 0.0, 900.0], [600.0, 100.0, 200.0]])
    psa = PSA(strategies=("a", "b", "c"), draws=np.arange(4), cost=1000.0 * qalys - nb, qalys=qalys,
              parameters=pd.DataFrame(index=range(4)))
    assert expected_value_of_perfect_information(psa, 1000.0) == pytest.approx(300.0)


# --- the fit check and edge cases -----------------------------------------------------------------------------

def test_a_badly_fitting_regression_is_flagged_not_fatal():
    """An incremental net benefit that oscillates three times over the parameter's range is beyond a
    five-knot spline: the residual check flags it (a warning in the result, no exception)."""
    rng = np.random.default_rng(2)
    n = 5000
    x = rng.uniform(size=n)
    nb = np.column_stack([np.zeros(n), 1000.0 * np.sin(6 * np.pi * x) + rng.normal(0.0, 300.0, n)])
    result = evppi(nb, x[:, None], ["x"], 1.0)
    assert "pattern" in result.fit_warning


def test_evppi_above_evpi_is_flagged():
    """An EVPI given lower than the regression's EVPPI is reported as over-fitting."""
    nb, points = analytic_psa(2000, seed=3)
    result = evppi(nb, points, ["x"], 1.0, evpi=1.0)
    assert "exceeds the EVPI" in result.fit_warning


def test_a_constant_parameter_is_worth_nothing():
    nb, points = analytic_psa(500, seed=3)
    result = evppi(nb, np.full((500, 1), 2.5), ["fixed"], 1.0)
    assert (result.evppi, result.se, result.method) == (0.0, 0.0, "none")


def test_the_evppi_table_covers_every_group_and_wtp(chemo):
    """One row per group and willingness to pay, with the population value when a population is given."""
    table = evppi_table(chemo, [["p_side_effects_t2"], ["p_side_effects_t2", "logor_side_effects"]], [20_000, 30_000],
                        population=1000)
    assert list(table.columns) == ["parameters", "wtp", "evppi", "se", "evppi_population", "method", "fit_warning"]
    assert table["parameters"].tolist() == ["p_side_effects_t2", "p_side_effects_t2,logor_side_effects"] * 2
    assert table["evppi_population"].to_numpy() == pytest.approx(1000 * table["evppi"].to_numpy())
    assert table.loc[0, "evppi"] == pytest.approx(262.1109, rel=1e-5)
