"""Estimators of sim.outcomes.estimators against hand-worked cases and exact identities."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from sim.outcomes.estimators import (
    cumulative_incidence,
    kaplan_meier,
    median_ci_ranks,
    median_with_ci,
    proportion,
    replication_interval,
)

# Ten subjects, (time in days, event): ties at 3 (two deaths and one censoring) and censorings.
KM_TIME = np.array([2, 3, 3, 3, 5, 6, 7, 8, 9, 10], dtype=float)
KM_EVENT = np.array([1, 1, 1, 0, 1, 0, 1, 0, 1, 0], dtype=bool)

# Ten subjects, (time, cause): cause 0 = censored; ties at 2 (one of each cause) and at 4
# (two of cause 1 and one censoring, which counts as at risk at 4).
AJ_TIME = np.array([1, 2, 2, 3, 4, 4, 4, 5, 6, 7], dtype=float)
AJ_CAUSE = np.array([1, 2, 1, 0, 1, 1, 0, 2, 0, 1])


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_kaplan_meier_matches_hand_worked_example():
    # t=2: 10 at risk, 1 death  -> S = 9/10               = 0.9
    # t=3: 9 at risk, 2 deaths  -> S = 0.9 * 7/9          = 0.7   (censored at 3 still at risk)
    # t=5: 6 at risk, 1 death   -> S = 0.7 * 5/6          = 0.583333...
    # t=7: 4 at risk, 1 death   -> S = 0.583333 * 3/4     = 0.4375 (6 censored before)
    # t=9: 2 at risk, 1 death   -> S = 0.4375 * 1/2       = 0.21875
    # last observation at 10 is censored: S(10) = 0.21875, beyond 10 undefined.
    km = kaplan_meier(KM_TIME, KM_EVENT)
    at = [0.0, 1.9, 2.0, 4.0, 5.0, 6.5, 8.0, 9.5, 10.0]
    expected = [1.0, 1.0, 0.9, 0.7, 7 / 12, 7 / 12, 0.4375, 0.21875, 0.21875]
    np.testing.assert_allclose(km.survival_at(at), expected, rtol=1e-12)
    assert np.isnan(km.survival_at(10.5))


def test_kaplan_meier_log_log_interval_matches_hand_computation():
    # At t=3: S = 0.7, Greenwood sum = 1/(10*9) + 2/(9*7); log-log se = sqrt(sum) / |log S|;
    # interval = S ** exp(+-1.96 se).
    greenwood = 1 / 90 + 2 / 63
    se = np.sqrt(greenwood) / abs(np.log(0.7))
    z = stats.norm.ppf(0.975)
    lower, upper = kaplan_meier(KM_TIME, KM_EVENT).confidence_interval_at(3.0)
    assert lower == pytest.approx(0.7 ** np.exp(z * se), rel=1e-9)
    assert upper == pytest.approx(0.7 ** np.exp(-z * se), rel=1e-9)


def test_kaplan_meier_median_on_hand_case():
    # S drops from 0.583 to 0.4375 at t=7, the first time S <= 0.5.
    km = kaplan_meier(KM_TIME, KM_EVENT)
    median, lower, upper = km.median()
    assert median == 7.0
    assert lower <= median
    assert np.isnan(upper) or upper >= median


def test_kaplan_meier_median_exactly_half_and_not_reached():
    # Four deaths at 1, 2, 3, 4: S = 0.75, 0.5, ... -> first time S <= 0.5 is 2.
    assert kaplan_meier([1.0, 2.0, 3.0, 4.0], [True] * 4).median().estimate == 2.0
    # One death among five: S never reaches 0.5.
    one_death = kaplan_meier([1.0, 2.0, 3.0, 4.0, 5.0], [True, False, False, False, False])
    assert np.isnan(one_death.median().estimate)


def test_kaplan_meier_degenerate_inputs_give_nan_not_warnings():
    empty = kaplan_meier([], [])
    assert np.isnan(empty.survival_at(1.0))
    assert np.isnan(empty.median().estimate)
    no_events = kaplan_meier([1.0, 2.0, 3.0], [False] * 3)
    assert no_events.survival_at(2.0) == 1.0
    assert np.all(np.isnan(no_events.confidence_interval_at(2.0)))
    assert np.isnan(no_events.survival_at(4.0))
    all_events = kaplan_meier([1.0, 2.0, 3.0], [True] * 3)
    assert all_events.survival_at(3.0) == 0.0
    assert all_events.survival_at(100.0) == 0.0
    assert np.all(np.isnan(all_events.confidence_interval_at(3.0)))


def test_kaplan_meier_median_interval_brackets_median_in_large_sample():
    rng = np.random.default_rng(7)
    time = rng.exponential(100.0, 400)
    censor = rng.exponential(300.0, 400)
    median, lower, upper = kaplan_meier(np.minimum(time, censor), time <= censor).median()
    assert lower < median < upper
    assert lower < 100.0 * np.log(2) < upper


def test_aalen_johansen_matches_hand_worked_example():
    # t=1: n=10, 1 of cause 1   -> F1 = 1 * 1/10 = 0.1                      S = 0.9
    # t=2: n=9, one of each      -> F1 = 0.1 + 0.9 * 1/9 = 0.2, F2 = 0.1     S = 0.9 * 7/9 = 0.7
    # t=3: censored
    # t=4: n=6, 2 of cause 1     -> F1 = 0.2 + 0.7 * 2/6 = 0.433333...       S = 0.7 * 4/6 = 0.466667
    # t=5: n=3, 1 of cause 2     -> F2 = 0.1 + 0.466667 * 1/3 = 0.255556    S = 0.466667 * 2/3 = 0.311111
    # t=6: censored
    # t=7: n=1, 1 of cause 1     -> F1 = 0.433333 + 0.311111 = 0.744444     S = 0
    cause_1 = cumulative_incidence(AJ_TIME, AJ_CAUSE, 1)
    cause_2 = cumulative_incidence(AJ_TIME, AJ_CAUSE, 2)
    at = [0.5, 1.0, 2.0, 3.5, 4.0, 5.0, 6.0, 7.0, 50.0]
    np.testing.assert_allclose(
        cause_1.incidence_at(at), [0, 0.1, 0.2, 0.2, 13 / 30, 13 / 30, 13 / 30, 67 / 90, 67 / 90], rtol=1e-12,
    )
    np.testing.assert_allclose(
        cause_2.incidence_at(at), [0, 0, 0.1, 0.1, 0.1, 23 / 90, 23 / 90, 23 / 90, 23 / 90], rtol=1e-12,
    )


def test_aalen_johansen_variance_matches_hand_computation():
    # Var F1(2) = sum over t_j <= 2 of
    #   (F(2) - F_j)^2 d_j / (n_j (n_j - d_j)) + S_{j-1}^2 dk_j (n_j - dk_j) / n_j^3
    #   - 2 (F(2) - F_j) S_{j-1} dk_j / n_j^2
    # j=1 (n=10, d=1, dk=1, S_prev=1, F_j=0.1):   0.01/90 + 9/1000 - 2*0.1/100 = 0.0071111
    # j=2 (n=9, d=2, dk=1, S_prev=0.9, F_j=0.2):  0 + 0.81*8/729 - 0 = 0.0088889
    # total 0.016 -> se 0.126491
    cause_1 = cumulative_incidence(AJ_TIME, AJ_CAUSE, 1)
    assert cause_1.standard_error[cause_1.times == 2.0][0] == pytest.approx(np.sqrt(0.016), rel=1e-12)


def test_aalen_johansen_with_one_cause_equals_one_minus_kaplan_meier():
    rng = np.random.default_rng(3)
    time = np.round(rng.exponential(50.0, 300))
    event = rng.random(300) < 0.6
    cif = cumulative_incidence(time, event.astype(int), 1)
    km = kaplan_meier(time, event)
    grid = np.linspace(0.0, time.max(), 400)
    np.testing.assert_allclose(cif.incidence_at(grid), 1.0 - km.survival_at(grid), atol=1e-12)
    # The delta-method variance reduces to Greenwood's: S^2 * sum d / (n (n - d)).
    at_risk = np.array([np.count_nonzero(time >= t) for t in cif.times])
    deaths = np.array([np.count_nonzero((time == t) & event) for t in cif.times])
    before_last = at_risk > deaths
    greenwood = km.survival_at(cif.times[before_last]) ** 2 * np.cumsum(
        deaths[before_last] / (at_risk[before_last] * (at_risk[before_last] - deaths[before_last])),
    )
    np.testing.assert_allclose(cif.standard_error[before_last] ** 2, greenwood, rtol=1e-9, atol=1e-15)


def test_incidences_of_all_causes_and_survival_sum_to_one():
    rng = np.random.default_rng(5)
    time = np.round(rng.exponential(30.0, 200))
    cause = rng.choice([0, 1, 2, 3], size=200, p=[0.3, 0.3, 0.3, 0.1])
    km = kaplan_meier(time, cause != 0)
    grid = np.unique(time)
    total = sum(cumulative_incidence(time, cause, k).incidence_at(grid) for k in (1, 2, 3))
    np.testing.assert_allclose(total + km.survival_at(grid), 1.0, atol=1e-12)


def test_aalen_johansen_standard_error_matches_monte_carlo_spread():
    rng = np.random.default_rng(11)
    estimates, standard_errors = [], []
    for _ in range(400):
        event_time = rng.exponential(100.0, 200)
        cause = np.where(rng.random(200) < 0.4, 1, 2)
        censor_time = rng.uniform(0.0, 300.0, 200)
        observed = event_time <= censor_time
        cif = cumulative_incidence(np.minimum(event_time, censor_time), np.where(observed, cause, 0), 1)
        estimates.append(cif.incidence_at(80.0))
        standard_errors.append(cif.standard_error[np.searchsorted(cif.times, 80.0, side="right") - 1])
    assert np.mean(standard_errors) == pytest.approx(np.std(estimates, ddof=1), rel=0.1)


def test_aalen_johansen_degenerate_inputs():
    empty = cumulative_incidence([], [], 1)
    assert np.isnan(empty.incidence_at(1.0))
    censored_only = cumulative_incidence([1.0, 2.0], [0, 0], 1)
    assert censored_only.incidence_at(1.5) == 0.0
    assert np.isnan(censored_only.incidence_at(3.0))
    with pytest.raises(ValueError, match="censoring"):
        cumulative_incidence([1.0], [1], 0)


def test_order_statistic_ranks_for_ten_values_by_hand():
    # P(Bin(10, 1/2) <= 1) = 11/1024 = 0.0107 <= 0.025 < P(<= 2) = 56/1024 -> ranks 2 and 9,
    # coverage 1 - 2 * 11/1024 = 0.9785.
    assert median_ci_ranks(10) == (2, 9)
    # With five values even the extremes cover only 1 - 2/32 = 0.9375 < 95%.
    assert median_ci_ranks(5) is None


@pytest.mark.parametrize("n", [6, 7, 10, 25, 50, 101, 500])
def test_order_statistic_interval_has_nominal_coverage_and_is_tightest(n):
    lower_rank, upper_rank = median_ci_ranks(n)
    assert upper_rank == n - lower_rank + 1
    coverage = 1 - 2 * stats.binom.cdf(lower_rank - 1, n, 0.5)
    narrower_coverage = 1 - 2 * stats.binom.cdf(lower_rank, n, 0.5)
    assert coverage >= 0.95
    assert narrower_coverage < 0.95


def test_order_statistic_interval_contains_sample_median():
    rng = np.random.default_rng(2)
    for n in (6, 11, 40, 301):
        values = rng.gamma(2.0, 30.0, n)
        median, lower, upper = median_with_ci(values)
        assert median == np.median(values)
        assert lower <= median <= upper
        assert lower in values and upper in values


def _scipy_kaplan_meier(time: np.ndarray, event: np.ndarray):
    """The reference: scipy.stats.ecdf with its log-log (exponential Greenwood) band."""
    survival = stats.ecdf(stats.CensoredData(uncensored=time[event], right=time[~event])).sf
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        band = survival.confidence_interval(confidence_level=0.95, method="log-log")
    return survival.quantiles, survival.probabilities, band.low.probabilities, band.high.probabilities


@pytest.mark.parametrize("seed", range(6))
def test_kaplan_meier_equals_scipy_ecdf(seed):
    """Our numpy Kaplan–Meier (written out so that a run need not import scipy.stats) against
    scipy.stats.ecdf on random data with ties, censoring, a last event and a last censoring."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 400))
    time = np.round(rng.exponential(30.0, size))
    event = rng.random(size) < rng.uniform(0.1, 1.0)
    ours = kaplan_meier(time, event)
    times, survival, lower, upper = _scipy_kaplan_meier(time, event)
    np.testing.assert_array_equal(ours.times, times)
    np.testing.assert_allclose(ours.survival, survival, rtol=1e-14, atol=0)
    np.testing.assert_allclose(ours.lower, lower, rtol=1e-12, atol=0, equal_nan=True)
    np.testing.assert_allclose(ours.upper, upper, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("trials", [1, 2, 7, 40, 333, 2000])
def test_wilson_interval_equals_scipy_binomtest(trials):
    """The Wilson interval written out against scipy.stats.binomtest(...).proportion_ci(method="wilson")."""
    for successes in sorted({0, 1, trials // 3, trials // 2, trials - 1, trials}):
        reference = stats.binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
        estimate = proportion(successes, trials)
        assert estimate.estimate == successes / trials
        assert estimate.lower == pytest.approx(reference.low, rel=1e-14, abs=1e-16)
        assert estimate.upper == pytest.approx(reference.high, rel=1e-14, abs=1e-16)


def test_wilson_interval_matches_newcombe_worked_example():
    """Newcombe (1998), Statistics in Medicine 17:857, table I, example (81/263): Wilson 0.2553 to 0.3662."""
    estimate = proportion(81, 263)
    assert (round(estimate.lower, 4), round(estimate.upper, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize("n", [2, 5, 30, 1000])
def test_monte_carlo_interval_uses_the_t_quantile_of_scipy(n):
    values = np.random.default_rng(n).normal(10.0, 2.0, n)
    mean, lower, upper = replication_interval(values)
    half = stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / np.sqrt(n)
    assert (lower, upper) == pytest.approx((mean - half, mean + half), rel=1e-13)


@pytest.mark.parametrize("n", [6, 7, 50, 333, 5000])
def test_median_ranks_equal_those_from_scipy_binomial(n):
    tail = stats.binom.cdf(np.arange(n + 1), n, 0.5)
    lower_rank = int(np.count_nonzero(tail <= 0.025))
    assert median_ci_ranks(n) == (lower_rank, n - lower_rank + 1)
