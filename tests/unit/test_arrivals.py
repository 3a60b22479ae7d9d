"""Referral days of an open cohort: a Poisson process with the scenario's rate and monthly profile."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.engines.arrivals import referral_days
from sim.inputs.codes import DAYS_PER_YEAR
from sim.inputs.scenario import Arrivals

MONTH = DAYS_PER_YEAR / 12


def test_counts_are_poisson_with_the_annual_rate():
    arrivals = Arrivals(rate_per_year=40, run_length_days=DAYS_PER_YEAR)
    counts = np.array([referral_days(arrivals, 3, r).size for r in range(400)])
    # Mean and variance of a Poisson(40) count; 400 replications give a standard error of ~0.32.
    assert counts.mean() == pytest.approx(40, abs=1.0)
    assert counts.var(ddof=1) == pytest.approx(40, rel=0.2)


def test_gaps_are_exponential_with_a_flat_profile():
    arrivals = Arrivals(rate_per_year=365.25, run_length_days=20 * DAYS_PER_YEAR)
    gaps = np.diff(referral_days(arrivals, 1, 0))
    assert stats.kstest(gaps, "expon", args=(0, 1.0)).pvalue > 0.01
    assert stats.kstest(gaps, "expon", args=(0, 1.2)).pvalue < 0.01


def test_monthly_profile_shapes_the_calendar_and_keeps_the_annual_total():
    profile = [3.0] + [1.0] * 11
    arrivals = Arrivals(rate_per_year=140, monthly_profile=profile, run_length_days=30 * DAYS_PER_YEAR)
    days = referral_days(arrivals, 7, 0)
    month = (days // MONTH).astype(int) % 12
    january, others = np.count_nonzero(month == 0), np.count_nonzero(month != 0)
    # Expected: 140 * 3/14 = 30 referrals in January and 10 in each other month, every year.
    assert january / 30 == pytest.approx(30, rel=0.1)
    assert others / 30 / 11 == pytest.approx(10, rel=0.1)
    assert days.size / 30 == pytest.approx(140, rel=0.05)


def test_referrals_are_sorted_inside_the_run_and_reproducible():
    arrivals = Arrivals(rate_per_year=50, warm_up_days=100, run_length_days=500)
    days = referral_days(arrivals, 11, 2)
    assert np.all(np.diff(days) >= 0) and days.min() >= 0 and days.max() < 600
    assert np.array_equal(days, referral_days(arrivals, 11, 2))
    assert not np.array_equal(days[:10], referral_days(arrivals, 11, 3)[:10])


def test_a_longer_run_keeps_the_same_early_referrals():
    short = referral_days(Arrivals(rate_per_year=50, run_length_days=365), 5, 0)
    long = referral_days(Arrivals(rate_per_year=50, run_length_days=3650), 5, 0)
    assert np.array_equal(long[: short.size], short)
