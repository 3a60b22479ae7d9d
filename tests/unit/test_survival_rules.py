"""Latent event times (sim.disease.survival)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from sim.disease import survival
from sim.disease.draws import exponential_score, exponential_time, exponential_time_scores, weibull_scale, weibull_score
from sim.inputs.codes import DEATH_CAUSES
from tests.conftest import uniform_grid

U = uniform_grid(100_000)
Z = ndtri(U)


@pytest.mark.parametrize("p", [0.03, 0.1, 0.25])
def test_dropout_probability_at_60_days(p):
    assert (survival.dropout_day(exponential_time_scores(U), p) < 60).mean() == pytest.approx(p, abs=1e-4)


def test_dropout_edges():
    assert np.all(np.isinf(survival.dropout_day(exponential_time_scores(U), 0.0)))
    assert np.all(survival.dropout_day(exponential_time_scores(U), 1.0) == 0.0)


@pytest.mark.parametrize("median", [0.37, 45.0, 123.456, 1e4])
def test_scaled_scores_are_the_exponential_times_to_the_bit(median):
    """An exponential time is its kept score times median / log(2): the numbers of the compiled rule, not numpy's
    log1p (which differs in the last bit for about one draw in six)."""
    u = np.random.default_rng(4).random(200_000)
    expected = np.array([exponential_time(x, median) for x in u.tolist()])
    np.testing.assert_array_equal(exponential_time_scores(u) * (median / np.log(2.0)), expected)
    assert not np.array_equal(exponential_score(u) * (median / np.log(2.0)), expected)


def test_background_death_matches_gompertz_survival():
    age = np.full(U.size, 60.0)
    days = survival.background_death_day(exponential_score(U), age, 0.0012, 0.085)
    h0 = 0.0012 * np.exp(0.085 * 20)
    for years in (1.0, 5.0, 20.0):
        expected = 1 - np.exp(-h0 / 0.085 * (np.exp(0.085 * years) - 1))
        assert (days < years * 365.25).mean() == pytest.approx(expected, abs=1e-4)


def test_older_patients_die_sooner_with_the_same_draw():
    young = survival.background_death_day(exponential_score(U), np.full(U.size, 20.0), 0.0012, 0.085)
    old = survival.background_death_day(exponential_score(U), np.full(U.size, 70.0), 0.0012, 0.085)
    assert np.all(old < young)


def test_cd7_parts_keep_the_total_and_cap_at_one():
    def parts(p, share, multiplier, to_positive=0.0):
        return survival.split_by_cd7(p, share, multiplier, to_positive)

    pos, neg = parts(0.8, 0.5, 1.0)
    assert pos + neg == pytest.approx(0.8)
    pos, neg = parts(0.8, 0.5, 0.0)
    assert (pos, neg) == (pytest.approx(0.4), 0.0)
    pos, neg = parts(0.8, 0.5, 10.0)
    assert pos + neg == pytest.approx(1.0)
    # half of the prevented CD7-negative events become CD7-positive
    assert parts(0.8, 0.5, 0.0, 0.5) == (pytest.approx(0.6), 0.0)


def test_relapse_cure_fraction_median_and_cd7_share():
    rng = np.random.default_rng(3)
    days = survival.relapse_day(U, weibull_score(rng.random(U.size), 1.5), 0.3, 0.5, weibull_scale(53.0, 1.5))
    negative = survival.relapses_cd7_negative(U, 0.3, 0.5)
    relapsed = np.isfinite(days)
    assert relapsed.mean() == pytest.approx(0.8, abs=1e-4)
    assert negative.mean() == pytest.approx(0.5, abs=1e-4)
    assert not (negative & ~relapsed).any()
    assert np.median(days[relapsed]) == pytest.approx(53.0, rel=0.02)


def test_relapse_edges():
    never = survival.relapse_day(U, U, 0.0, 0.0, weibull_scale(53.0, 1.0))
    assert np.all(np.isinf(never)) and not survival.relapses_cd7_negative(U, 0.0, 0.0).any()
    always = survival.relapse_day(U, U, 1.0, 0.0, weibull_scale(53.0, 1.0))
    assert np.all(np.isfinite(always))


def test_non_relapse_death_mixture():
    rng = np.random.default_rng(4)
    days = survival.non_relapse_death(U, rng.random(U.size), 0.32, 90.0)
    assert np.isfinite(days).mean() == pytest.approx(0.32, abs=1e-4)
    assert np.median(days[np.isfinite(days)]) == pytest.approx(90.0, rel=0.02)
    assert np.all(np.isinf(survival.non_relapse_death(U, U, 0.0, 90.0)))


def test_non_relapse_cause():
    gvhd_patients = np.ones(U.size, dtype=bool)
    cause = survival.non_relapse_cause(U, gvhd_patients, 0.6, 0.5)
    labels = np.array(DEATH_CAUSES)[cause]
    assert (labels == "gvhd").mean() == pytest.approx(0.6, abs=1e-4)
    assert (labels == "infection").mean() == pytest.approx(0.4 * 0.5, abs=1e-4)
    no_gvhd = np.array(DEATH_CAUSES)[survival.non_relapse_cause(U, ~gvhd_patients, 0.6, 0.5)]
    assert not (no_gvhd == "gvhd").any()
    assert (no_gvhd == "infection").mean() == pytest.approx(0.5, abs=1e-4)


def test_survival_with_disease_median_and_thin_tails():
    days = survival.survival_with_disease(weibull_score(U, 1.5), 53.0, 1.5)
    assert np.median(days) == pytest.approx(53.0, rel=1e-3)
    # Weibull with a rising hazard: S(t) = 2^-(t/53)^1.5, so almost nobody lives 2 years with active disease
    assert np.mean(days > 730.5) == pytest.approx(2.0 ** -((730.5 / 53.0) ** 1.5), abs=1e-5)
    assert np.mean(days > 730.5) < 1e-6 and np.mean(days < 7.0) == pytest.approx(1 - 2.0 ** -((7 / 53.0) ** 1.5), abs=1e-3)


def test_hazard_ratio_on_a_probability():
    """1 - (1 - p)^HR: proportional hazards on a cumulative incidence (HR 1 keeps it, HR 3.65 from HSCT-MRD-AML)."""
    assert survival.with_hazard_ratio(0.2, 1.0) == pytest.approx(0.2)
    assert survival.with_hazard_ratio(0.1, 3.65) == pytest.approx(1 - 0.9**3.65)
    assert survival.with_hazard_ratio(0.0, 3.65) == 0.0 and survival.with_hazard_ratio(1.0, 0.5) == 1.0


def test_late_effects_follow_the_relative_mortality():
    """Late-effects deaths against the analytic survival: with a constant relative mortality (start = end)
    and no Gompertz slope the excess hazard is (RM - 1) h from year 2 on, so the time is exponential."""
    hazard, rm = 0.01, 3.0
    days = survival.late_effects_death_days(U, np.full(U.shape, 40.0), hazard, 0.0, rm, rm, 1.0)
    years = days / 365.25
    assert years.min() >= 2.0
    expected = 2.0 + np.log(2.0) / ((rm - 1.0) * hazard)
    assert np.median(years) == pytest.approx(expected, rel=1e-3)
    # the cGVHD multiplier scales the hazard: the median excess time shrinks by the same factor
    scaled = survival.late_effects_death_days(U, np.full(U.shape, 40.0), hazard, 0.0, rm, rm, 2.7) / 365.25
    assert np.median(scaled) - 2.0 == pytest.approx((expected - 2.0) / 2.7, rel=1e-3)
    # with a Gompertz slope and a falling relative mortality, the cumulative hazard at each death time is -log(1 - u)
    slope, start, end = 0.085, 9.9, 2.2
    age = 30.0 + 40.0 * U[::-1]
    times = survival.late_effects_death_days(U, age, 0.0012, slope, start, end, 1.0) / 365.25
    grid = np.arange(2.0, 15.0 + 1.0)
    excess = np.exp(np.log(start) + (grid - 2.0) / 13.0 * (np.log(end) - np.log(start))) - 1.0
    for i in range(0, U.size, 9973):
        t = times[i]
        edges = np.append(grid, np.inf)
        cumulative = 0.0
        for a, b, factor in zip(edges[:-1], edges[1:], excess, strict=True):
            top = min(b, t)
            if top > a:
                cumulative += factor * 0.0012 * np.exp(slope * (age[i] - 40.0)) * (np.exp(slope * top) - np.exp(slope * a)) / slope
        assert cumulative == pytest.approx(-np.log1p(-U[i]), rel=1e-9)
