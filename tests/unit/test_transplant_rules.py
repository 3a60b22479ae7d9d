"""Transplant decision and transplant outcomes (sim.disease.transplant)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from sim.disease import transplant
from tests.conftest import uniform_grid

U = uniform_grid(100_000)
Z = ndtri(U)


def test_candidate_needs_cr_donor_fitness_and_uptake():
    yes, no = np.array([True]), np.array([False])
    low, high = np.array([0.1]), np.array([0.9])
    assert transplant.hsct_candidate(yes, yes, no, high, 0.5, low, 0.5)[0]
    assert not transplant.hsct_candidate(no, yes, no, high, 0.5, low, 0.5)[0]
    assert not transplant.hsct_candidate(yes, no, no, high, 0.5, low, 0.5)[0]
    assert not transplant.hsct_candidate(yes, yes, no, high, 0.5, high, 0.5)[0]
    # a prior transplant makes fitness depend on the draw
    assert transplant.hsct_candidate(yes, yes, yes, low, 0.5, low, 0.5)[0]
    assert not transplant.hsct_candidate(yes, yes, yes, high, 0.5, low, 0.5)[0]


@pytest.mark.parametrize("uptake", [0.0, 0.625, 1.0])
def test_uptake_rate(uptake):
    ones = np.ones(U.size, dtype=bool)
    chosen = transplant.hsct_candidate(ones, ones, ~ones, U, 0.5, U, uptake)
    assert chosen.mean() == pytest.approx(uptake, abs=1e-4)


def test_interval_median():
    assert np.median(transplant.hsct_interval_days(Z, 57.5, 0.15)) == pytest.approx(57.5, rel=1e-3)


def test_chimerism_shares_and_edges():
    c = transplant.chimerism(U, 1 / 9, 0.05)
    np.testing.assert_allclose(np.bincount(c, minlength=3) / U.size, [1 - 1 / 9 - 0.05, 1 / 9, 0.05], atol=1e-4)
    assert np.all(transplant.chimerism(U, 0.0, 0.0) == transplant.CHIMERISM_FULL_DONOR)
    assert np.all(transplant.chimerism(U, 0.0, 1.0) == transplant.CHIMERISM_GRAFT_FAILURE)


def test_acute_gvhd_grades():
    g = transplant.acute_gvhd_grade(U, 0.4, 0.25, 0.3, 0.2)
    np.testing.assert_allclose(np.bincount(g, minlength=5) / U.size,
                               [0.6 * 0.7, 0.6 * 0.3, 0.4 * 0.75, 0.1 * 0.8, 0.1 * 0.2], atol=1e-4)
    assert np.all(transplant.acute_gvhd_grade(U, 0.0, 1.0, 0.0, 1.0) == 0)
    assert np.all(transplant.acute_gvhd_grade(U, 1.0, 1.0, 0.0, 1.0) == 4)
    # no prophylaxis data: grade >= 2 without any >= 3
    assert transplant.acute_gvhd_grade(U, 1 / 3, 0.0, 0.3, 0.5).max() == 2


def test_chronic_gvhd_rate():
    assert transplant.chronic_gvhd(U, 0.3).mean() == pytest.approx(0.3, abs=1e-4)
    assert not transplant.chronic_gvhd(U, 0.0).any()


def test_car_t_gvhd_only_from_donor_derived_products():
    donor = np.arange(U.size) % 2 == 0
    gvhd = transplant.car_t_gvhd(U, 1.0, donor)
    assert np.array_equal(gvhd, donor)
    assert not transplant.car_t_gvhd(U, 0.0, donor).any()


def test_chimerism_and_gvhd_grades_are_the_categories_of_their_probabilities():
    """The compiled rules against numpy's inverse CDF of the same probabilities, summed the same way."""
    from sim.disease.draws import categorical

    rng = np.random.default_rng(6)
    for p_autologous, p_failure, p2, p3, p1, p4 in rng.random((20, 6)) * [0.5, 0.5, 1, 1, 1, 1]:
        expected = categorical(U, np.array([1.0 - p_autologous - p_failure, p_autologous, p_failure]))
        np.testing.assert_array_equal(transplant.chimerism(U, p_autologous, p_failure), expected)
        below2, grade3plus = 1.0 - p2, p2 * p3
        grades = [below2 * (1.0 - p1), below2 * p1, p2 - grade3plus, grade3plus * (1.0 - p4), grade3plus * p4]
        np.testing.assert_array_equal(transplant.acute_gvhd_grade(U, p2, p3, p1, p4), categorical(U, np.array(grades)))
