"""Per-patient draws: common random numbers by construction (sim.disease.draws)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.disease.draws import (
    DRAW_NAMES,
    PatientDraws,
    categorical,
    exponential_score,
    gompertz_time,
    weibull_score,
    weibull_time,
)


def test_same_seed_same_draws_and_every_name_present():
    a, b = PatientDraws(7, 0, 100), PatientDraws(7, 0, 100)
    assert set(a) == set(DRAW_NAMES)
    for name in DRAW_NAMES:
        np.testing.assert_array_equal(a[name], b[name])


def test_a_patients_draws_do_not_depend_on_cohort_size():
    small, large = PatientDraws(7, 0, 10), PatientDraws(7, 0, 1000)
    for name in DRAW_NAMES:
        np.testing.assert_array_equal(small[name], large[name][:10])


def test_draws_in_blocks_are_the_draws_of_the_whole_cohort():
    whole = PatientDraws(7, 1, 1000)
    parts = list(PatientDraws.in_blocks(7, 1, 1000, 300))
    assert [(part.start, part.stop) for part, _ in parts] == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    for name in DRAW_NAMES:
        np.testing.assert_array_equal(np.concatenate([block[name] for _, block in parts]), whole[name])
    np.testing.assert_array_equal(parts[1][1].normal("u_hsct_interval"), whole.block(parts[1][0]).normal("u_hsct_interval"))
    np.testing.assert_array_equal(parts[1][1].weibull("u_refractory", 1.5), weibull_score(whole["u_refractory"][300:600], 1.5))


def test_seed_replication_and_name_each_change_the_draws():
    base = PatientDraws(7, 0, 50)
    assert not np.array_equal(base["u_response"], PatientDraws(8, 0, 50)["u_response"])
    assert not np.array_equal(base["u_response"], PatientDraws(7, 1, 50)["u_response"])
    assert not np.array_equal(base["u_response"], base["u_relapse_pre"])


def test_draws_are_uniform_in_open_interval():
    u = PatientDraws(1, 0, 200_000)["u_crs_grade"]
    assert u.min() > 0.0 and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.003)
    assert np.quantile(u, 0.1) == pytest.approx(0.1, abs=0.003)


def test_categorical_inverse_cdf_with_shared_and_per_patient_probabilities():
    u = np.array([0.05, 0.15, 0.5, 0.95])
    np.testing.assert_array_equal(categorical(u, np.array([0.1, 0.3, 0.6])), [0, 1, 2, 2])
    per_patient = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.4], [0.6, 0.4]])
    np.testing.assert_array_equal(categorical(u, per_patient), [0, 1, 0, 1])


def test_weibull_median_and_gompertz_inverse():
    assert weibull_time(weibull_score(np.array([0.5]), 1.5), 53.0, 1.5)[0] == pytest.approx(53.0)
    t = gompertz_time(exponential_score(np.array([0.3])), np.array([0.01]), 0.1)[0]
    cumulative_hazard = 0.01 / 0.1 * (np.exp(0.1 * t) - 1)
    assert -np.expm1(-cumulative_hazard) == pytest.approx(0.3)


def test_truncated_normal_matches_scipy():
    from scipy import stats

    from sim.disease.draws import truncated_normal

    u = np.linspace(0.001, 0.999, 999)
    expected = stats.truncnorm.ppf(u, (3 - 40) / 18, (75 - 40) / 18, loc=40, scale=18)
    np.testing.assert_allclose(truncated_normal(u, 40, 18, 3, 75), expected, rtol=1e-9)
    assert truncated_normal(np.array([1e-300]), 40, 18, 3, 75)[0] >= 3


def test_gompertz_edge_cases_constant_and_zero_hazard():
    u = np.array([0.3, 0.9])
    with np.errstate(all="raise"):
        constant = gompertz_time(exponential_score(u), np.array([0.02, 0.02]), 0.0)
        never = gompertz_time(exponential_score(u), np.array([0.0, 0.0]), 0.1)
    assert np.allclose(constant, -np.log1p(-u) / 0.02)
    assert np.isinf(never).all()
    assert np.allclose(gompertz_time(exponential_score(u), np.array([0.02, 0.02]), 1e-9), constant, rtol=1e-6)
