"""Clinical rules from manufacturing to response (sim.disease.cart)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from sim.disease import cart
from tests.conftest import uniform_grid

U = uniform_grid(100_000)
Z = ndtri(U)


def shares(values: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(values, minlength=k) / values.size


def test_manufacturing_days_has_the_stated_median_and_grows_with_the_draw():
    days = cart.manufacturing_days(Z, 44.5, 0.35)
    assert np.median(days) == pytest.approx(44.5, rel=1e-3)
    assert np.all(np.diff(days) > 0)
    # IQR of a LogNormal(sigma) is median * exp(+-0.674 sigma)
    assert np.quantile(days, 0.75) / np.quantile(days, 0.25) == pytest.approx(np.exp(2 * 0.6745 * 0.35), rel=1e-2)


@pytest.mark.parametrize("p", [0.0, 0.037, 1.0])
def test_manufacturing_failure_rate_matches_probability(p):
    assert cart.manufacturing_failed(U, p).mean() == pytest.approx(p, abs=1e-4)


def test_crs_grades_follow_their_probabilities():
    grades = cart.crs_grade(U, 0.9, 0.2, 0.4, 0.5, 0.1)
    expected = [0.1, 0.9 * 0.8 * 0.6, 0.9 * 0.8 * 0.4, 0.9 * 0.2 * 0.5, 0.9 * 0.2 * 0.5 * 0.9, 0.9 * 0.2 * 0.5 * 0.1]
    np.testing.assert_allclose(shares(grades, 6), expected, atol=1e-4)


def test_crs_edges():
    assert np.all(cart.crs_grade(U, 0.0, 0.5, 0.5, 0.5, 0.5) == 0)
    assert np.all(cart.crs_grade(U, 1.0, 1.0, 0.5, 1.0, 1.0) == 5)
    mild_only = cart.crs_grade(U, 1.0, 0.0, 0.0, 1.0, 1.0)
    assert np.all(mild_only == 1)


def test_crs_grade_is_monotone_in_the_draw_and_in_severity():
    grades = cart.crs_grade(U, 0.9, 0.2, 0.4, 0.3, 0.2)
    assert np.all(np.diff(grades) >= 0)
    more_severe = cart.crs_grade(U, 0.9, 0.4, 0.4, 0.3, 0.2)
    assert np.all(more_severe >= grades)


def test_icans_grades_and_edges():
    grades = cart.icans_grade(U, 0.2, 0.5, 0.1)
    np.testing.assert_allclose(shares(grades, 6), [0.8, 0.05, 0.05, 0.045, 0.045, 0.01], atol=1e-4)
    assert np.all(cart.icans_grade(U, 0.0, 0.5, 0.5) == 0)
    assert np.all(cart.icans_grade(U, 1.0, 1.0, 1.0) == 5)


def test_severe_infection_probabilities_and_window():
    rng = np.random.default_rng(1)
    u1, u2, u3 = rng.random((3, 200_000))
    infected = cart.severe_infection(u1, 0.3)
    fatal = cart.fatal_infection(infected, u2, 0.1)
    day = cart.infection_day(u3, 30.0)
    assert infected.dtype == bool and fatal.dtype == bool
    assert infected.mean() == pytest.approx(0.3, abs=0.005)
    assert fatal.mean() == pytest.approx(0.03, abs=0.002)
    assert np.all(fatal <= infected)
    assert day.min() >= 0 and day.max() <= 30
    assert not cart.severe_infection(u1, 0.0).any()
    assert not cart.fatal_infection(np.zeros(u2.size, bool), u2, 1.0).any()


def test_grades_are_the_categories_of_their_probabilities():
    """The compiled grades against numpy's inverse CDF of the same probabilities, summed the same way."""
    from sim.disease.draws import categorical

    rng = np.random.default_rng(5)
    for p_any, p3, p2, p4, p5 in rng.random((20, 5)):
        mild, severe = p_any * (1 - p3), p_any * p3
        very = severe * p4
        crs = [1 - p_any, mild * (1 - p2), mild * p2, severe - very, very * (1 - p5), very * p5]
        np.testing.assert_array_equal(cart.crs_grade(U, p_any, p3, p2, p4, p5), categorical(U, np.array(crs)))
        fatal = severe * p5
        icans = [1 - p_any, mild / 2, mild / 2, (severe - fatal) / 2, (severe - fatal) / 2, fatal]
        np.testing.assert_array_equal(cart.icans_grade(U, p_any, p3, p5), categorical(U, np.array(icans)))


def outcome(u_response, u_mrd, p_cr, escape_share, multiplier, p_mrd_negative):
    """The response code and the CD7-negative escape of each patient (nothing prevented becomes resistance)."""
    return (cart.response(u_response, u_mrd, p_cr, escape_share, multiplier, p_mrd_negative, 0.0),
            cart.cd7_negative_escape(u_response, p_cr, escape_share, multiplier, 0.0))


def test_response_shares_and_cd7_escape():
    rng = np.random.default_rng(2)
    u_mrd = rng.random(U.size)
    code, escape = outcome(U, u_mrd, 0.7, 0.5, 1.0, 0.9)
    assert code.dtype == np.int8 and escape.dtype == bool
    in_cr = code != cart.RESPONSE_NONE
    assert in_cr.mean() == pytest.approx(0.7, abs=1e-4)
    assert escape.mean() == pytest.approx(0.15, abs=1e-4)
    assert (code[in_cr] == cart.RESPONSE_CR_MRD_NEG).mean() == pytest.approx(0.9, abs=0.005)
    assert not (escape & in_cr).any()


def test_removing_cd7_escape_turns_only_escapes_into_remissions():
    u_mrd = np.full(U.size, 0.5)
    code, escape = outcome(U, u_mrd, 0.7, 0.5, 1.0, 0.9)
    dual, dual_escape = outcome(U, u_mrd, 0.7, 0.5, 0.0, 0.9)
    assert not dual_escape.any()
    assert (dual != cart.RESPONSE_NONE).mean() == pytest.approx(0.85, abs=1e-4)
    # Nobody who responded before stops responding.
    assert np.all((dual != cart.RESPONSE_NONE)[code != cart.RESPONSE_NONE])


def test_prevented_escapes_can_become_resistance():
    # a dual-target product prevents every escape; half of the prevented ones become CD7-positive resistance
    code = cart.response(U, U, 0.7, 0.5, 0.0, 0.9, 0.5)
    assert (code == cart.RESPONSE_NONE).mean() == pytest.approx(0.15 + 0.075, abs=1e-4)
    assert not cart.cd7_negative_escape(U, 0.7, 0.5, 0.0, 0.5).any()


@pytest.mark.parametrize("p_cr", [0.0, 1.0])
def test_response_edges(p_cr):
    code, _ = outcome(U, U, p_cr, 0.5, 1.0, 1.0)
    assert np.all((code != cart.RESPONSE_NONE) == bool(p_cr))


def test_response_accepts_per_patient_probabilities():
    p_cr = np.where(np.arange(U.size) % 2 == 0, 1.0, 0.0)
    code, _ = outcome(U, U, p_cr, 0.5, 1.0, 1.0)
    assert np.all((code != cart.RESPONSE_NONE) == (p_cr == 1.0))
