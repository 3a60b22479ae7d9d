"""Continuous-time discounting (sim.economics.discounting) against hand-worked values, exact identities and
numerical integration by scipy.integrate.quad."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from sim.economics.discounting import discount_factor, discounted_totals, discounted_years
from sim.inputs.codes import DAYS_PER_YEAR

YEAR = DAYS_PER_YEAR


def test_one_year_at_three_percent_by_hand():
    """[0, 1 year) at 3%: (1 − 1.03^-1) / ln 1.03 = (1 − 0.970873786...) / 0.029558802...
    = 0.029126213... / 0.029558802... = 0.98536515 years (to 8 decimals)."""
    one_year = discounted_years(0.0, YEAR, 0.03)
    assert one_year == pytest.approx(0.98536515, abs=5e-9)
    assert one_year == pytest.approx((1 - 1 / 1.03) / math.log(1.03), rel=1e-12)


def test_second_year_is_the_first_discounted_by_one_year():
    """[1, 2 years) at 3.5%: 1.035^-1 × (1 − 1.035^-1) / ln 1.035 = 0.966183575 × 0.983003... = 0.94976 years."""
    first = (1 - 1 / 1.035) / math.log(1.035)
    assert discounted_years(YEAR, 2 * YEAR, 0.035) == pytest.approx(first / 1.035, rel=1e-13)
    assert discounted_years(YEAR, 2 * YEAR, 0.035) == pytest.approx(0.94976, abs=1e-5)


def test_event_discount_factor_by_hand():
    """An event at 2 years at 3.5%: 1.035^-2 = 1 / 1.071225 = 0.933510...; at day 0 the factor is 1."""
    np.testing.assert_allclose(discount_factor([0.0, 2 * YEAR, YEAR / 2], 0.035), [1.0, 1 / 1.071225, 1.035 ** -0.5], rtol=1e-14)
    assert discount_factor(123.0, 0.0) == 1.0


def test_zero_rate_is_the_undiscounted_length_exactly():
    start = np.array([0.0, 10.0, 400.0, 5.0])
    end = np.array([YEAR, 10.0, 1000.0, 7305.0])
    assert np.array_equal(discounted_years(start, end, 0.0), (end - start) / YEAR)


def test_constant_rate_over_a_horizon_matches_the_closed_form():
    """A utility of 0.7 held over [0, 10 years) at 3.5%: 0.7 (1 − 1.035^-10) / ln 1.035."""
    closed_form = 0.7 * (1 - 1.035 ** -10) / math.log(1.035)
    total = discounted_totals([0], [0.0], [10 * YEAR], [0.7], 0.035)
    np.testing.assert_allclose(total, [closed_form], rtol=1e-13)


def test_totals_per_patient_by_hand():
    """Patient 0: cost 1000 per year over [0, 1 year) and 1000 per year over [1, 2 years), together the
    cost over [0, 2 years); patient 1: no intervals, 0; patient 2: utility 0.5 over the first year at rate 0,
    0.5 QALYs."""
    whole = 1000 * discounted_years(0.0, 2 * YEAR, 0.03)
    totals = discounted_totals([0, 0, 2], [0.0, YEAR, 0.0], [YEAR, 2 * YEAR, YEAR], [1000, 1000, 0.0], 0.03, n_patients=4)
    np.testing.assert_allclose(totals, [whole, 0, 0, 0], rtol=1e-13)
    assert discounted_totals([2], [0.0], [YEAR], [0.5], 0.0).tolist() == [0.0, 0.0, 0.5]
    assert discounted_totals(np.array([], dtype=int), [], [], [], 0.03).size == 0


@settings(max_examples=300, deadline=None)
@given(
    st.floats(0, 50 * YEAR), st.floats(0, 20 * YEAR), st.floats(0, 1), st.floats(0, 0.2),
)
def test_splitting_an_interval_leaves_its_discounted_length_unchanged(start, length, share, rate):
    """[a, b) = [a, m) + [m, b) for any m inside, in particular across a year boundary."""
    end = start + length
    middle = start + share * length
    whole = discounted_years(start, end, rate)
    parts = discounted_years([start, middle], [middle, end], rate).sum()
    assert parts == pytest.approx(whole, rel=1e-12, abs=1e-12)


def test_an_interval_across_a_year_boundary_split_at_the_boundary():
    """[200 days, 500 days) crosses day 365.25; split there, at 3%."""
    whole = discounted_years(200.0, 500.0, 0.03)
    assert discounted_years([200.0, YEAR], [YEAR, 500.0], 0.03).sum() == pytest.approx(whole, rel=1e-14)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 50 * YEAR), st.floats(0, 20 * YEAR), st.floats(0, 0.99))
def test_discounted_is_at_most_undiscounted(start, length, rate):
    end = start + length
    assert discounted_years(start, end, rate) <= (end - start) / YEAR * (1 + 1e-12)


def test_agrees_with_numerical_integration_on_random_intervals():
    """Independent reference: quad of (1 + r) ** -(t / 365.25) / 365.25 over [t0, t1) days."""
    rng = np.random.default_rng(20240612)
    start = rng.uniform(0, 40 * YEAR, 200)
    end = start + rng.exponential(3 * YEAR, 200)
    rates = rng.uniform(0, 0.15, 200)
    for t0, t1, rate in zip(start, end, rates):
        reference, error = integrate.quad(lambda t: (1 + rate) ** -(t / YEAR) / YEAR, t0, t1, epsabs=0, epsrel=1e-12)
        assert discounted_years(t0, t1, rate) == pytest.approx(reference, rel=1e-10)


def test_tiny_rates_and_intervals_lose_no_precision():
    """Near r = 0 and for short intervals the result tends to the undiscounted length (no 0/0, no cancellation)."""
    assert discounted_years(0.0, YEAR, 1e-15) == pytest.approx(1.0, rel=1e-14)
    assert discounted_years(YEAR, YEAR + 1e-6, 0.035) == pytest.approx(1e-6 / YEAR / 1.035, rel=1e-9)


@pytest.mark.parametrize("rate", [-0.01, 1.0, 1.5, np.nan])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ValueError, match="discount rate: got"):
        discounted_years(0.0, 1.0, rate)
    with pytest.raises(ValueError, match="discount rate: got"):
        discount_factor(1.0, rate)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: discounted_years([0.0, np.nan], [1.0, 2.0], 0.03), "start: got nan at position 1; finite days"),
    (lambda: discounted_years(0.0, np.inf, 0.03), "end: got inf at position 0"),
    (lambda: discount_factor([np.nan], 0.03), "days: got nan"),
    (lambda: discounted_years([0.0, 5.0], [1.0, 4.0], 0.03), "interval at position 1: ends before it starts"),
    (lambda: discounted_totals([0, 1], [0.0], [1.0], [1.0], 0.03), "1-d arrays of one length"),
    (lambda: discounted_totals([0.0], [0.0], [1.0], [1.0], 0.03), "integer patient indices"),
    (lambda: discounted_totals([-1], [0.0], [1.0], [1.0], 0.03), "0 <= patient < 0"),
    (lambda: discounted_totals([3], [0.0], [1.0], [1.0], 0.03, n_patients=2), "0 <= patient < 2"),
    (lambda: discounted_totals([0], [0.0], [1.0], [np.nan], 0.03), "value: got nan"),
])
def test_bad_inputs_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
