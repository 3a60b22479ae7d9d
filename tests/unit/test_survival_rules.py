"""Latent event times (sim.disease.survival)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from sim.disease import survival
from sim.inputs.codes import DEATH_CAUSES
from tests.conftest import uniform_grid

U = uniform_grid(100_000)
Z = ndtri(U)


@pytest.mark.parametrize("p", [0.03, 0.1, 0.25])
def test_dropout_probability_at_60_days(p):
    assert (survival.dropout_day(U, p) < 60).mean() == pytest.approx(p, abs=1e-4)


def test_dropout_edges():
    assert np.all(np.isinf(survival.dropout_day(U, 0.0)))
    assert np.all(survival.dropout_day(U, 1.0) == 0.0)


def test_background_death_matches_gompertz_survival():
    age = np.full(U.size, 60.0)
    days = survival.background_death_day(U, age, 0.0012, 0.085)
    h0 = 0.0012 * np.exp(0.085 * 20)
    for years in (1.0, 5.0, 20.0):
        expected = 1 - np.exp(-h0 / 0.085 * (np.exp(0.085 * years) - 1))
        assert (days < years * 365.25).mean() == pytest.approx(expected, abs=1e-4)


def test_older_patients_die_sooner_with_the_same_draw():
    young = survival.background_death_day(U, np.full(U.size, 20.0), 0.0012, 0.085)
    old = survival.background_death_day(U, np.full(U.size, 70.0), 0.0012, 0.085)
    assert np.all(old < young)


def test_split_by_cd7_keeps_total_and_caps_at_one():
    pos, neg = survival.split_by_cd7(0.8, 0.5, 1.0)
    assert pos + neg == pytest.approx(0.8)
    pos, neg = survival.split_by_cd7(0.8, 0.5, 0.0)
    assert (pos, neg) == (pytest.approx(0.4), 0.0)
    pos, neg = survival.split_by_cd7(0.8, 0.5, 10.0)
    assert pos + neg == pytest.approx(1.0)


def test_relapse_cure_fraction_median_and_cd7_share():
    rng = np.random.default_rng(3)
    days, negative = survival.relapse(U, rng.random(U.size), 0.3, 0.5, 53.0, 1.5)
    relapsed = np.isfinite(days)
    assert relapsed.mean() == pytest.approx(0.8, abs=1e-4)
    assert negative.mean() == pytest.approx(0.5, abs=1e-4)
    assert not (negative & ~relapsed).any()
    assert np.median(days[relapsed]) == pytest.approx(53.0, rel=0.02)


def test_relapse_edges():
    never, neg = survival.relapse(U, U, 0.0, 0.0, 53.0, 1.0)
    assert np.all(np.isinf(never)) and not neg.any()
    always, _ = survival.relapse(U, U, 1.0, 0.0, 53.0, 1.0)
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


def test_survival_with_disease_median():
    assert np.median(survival.survival_with_disease(Z, 53.0, 0.8)) == pytest.approx(53.0, rel=1e-3)


def test_first_event_picks_the_earliest_and_its_label():
    from sim.disease.course import first_event

    days, label = first_event([
        (np.array([5.0, np.nan, 3.0, np.inf]), 1),
        (np.array([4.0, 2.0, 3.0, np.inf]), np.array([7, 8, 9, 10])),
        (np.array([9.0, 9.0, 9.0, np.inf]), 3),
    ])
    np.testing.assert_array_equal(days, [4.0, 2.0, 3.0, np.inf])
    np.testing.assert_array_equal(label, [7, 8, 1, 0])  # a tie goes to the earlier candidate
