"""Estimators with their 95% intervals: Kaplan–Meier, Aalen–Johansen cumulative incidence,
proportions (Wilson), medians (order statistics) and Monte Carlo intervals across replications.

Pure functions of arrays of times and marks; they know nothing of the model. Kaplan–Meier and the
Wilson interval are written out here (the formulas of ``scipy.stats.ecdf`` and ``scipy.stats.binomtest``,
which the validation tests use as the reference) because importing ``scipy.stats`` takes about a second,
longer than the whole default run should; only ``scipy.special`` is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, cast

import numpy as np
import numpy.typing as npt
from scipy.special import bdtr, ndtri, stdtrit

CONFIDENCE_LEVEL = 0.95
_Z = float(ndtri(0.5 + CONFIDENCE_LEVEL / 2))
_NAN = float("nan")


class Estimate(NamedTuple):
    """A point estimate with its 95% interval (``NaN`` where undefined)."""

    estimate: float
    lower: float
    upper: float


NO_ESTIMATE = Estimate(_NAN, _NAN, _NAN)
"""An estimate that cannot be made (no patients at risk, no events to time)."""


def _step_values(
    times: np.ndarray, values: np.ndarray, t: npt.ArrayLike, before_first: float, after_last: float,
) -> np.ndarray:
    """Evaluate a right-continuous step function at ``t``.

    Parameters
    ----------
    times : numpy.ndarray
        Ascending jump times.
    values : numpy.ndarray
        Value from each jump time on.
    t : array_like
        Evaluation times, same unit as ``times``.
    before_first, after_last : float
        Value before the first and after the last jump time.

    Returns
    -------
    numpy.ndarray
        Values at ``t`` (0-d for scalar ``t``); ``NaN`` for ``NaN`` times.
    """
    t = np.asarray(t, dtype=float)
    if times.size == 0:
        return np.full(t.shape, _NAN)[()]
    index = np.searchsorted(times, t, side="right") - 1
    result = np.where(index < 0, before_first, values[np.clip(index, 0, None)])
    result = np.where(t > times[-1], after_last, result)
    return np.where(np.isnan(t), _NAN, result)[()]


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier estimate of a survival function with pointwise 95% log-log bands.

    Attributes
    ----------
    times : numpy.ndarray
        Distinct observed times (events and censorings), ascending, in the unit of the input (days).
    survival : numpy.ndarray
        Estimated survival from each time on.
    lower, upper : numpy.ndarray
        Pointwise 95% confidence band (log-log, Greenwood variance); ``NaN`` where the survival is
        0 or 1, where the log-log interval is undefined.
    """

    times: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def _after_last(self) -> float:
        """Survival beyond the last observed time: 0 if it reached 0, otherwise undefined (``NaN``)."""
        return 0.0 if self.survival.size and self.survival[-1] == 0.0 else _NAN

    def survival_at(self, t: npt.ArrayLike) -> np.ndarray:
        """Survival probability at times ``t`` (days); ``NaN`` beyond the follow-up or for no data."""
        return _step_values(self.times, self.survival, t, 1.0, self._after_last())

    def confidence_interval_at(self, t: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise 95% log-log interval ``(lower, upper)`` at times ``t`` (days); ``NaN`` where undefined."""
        return (
            _step_values(self.times, self.lower, t, _NAN, _NAN),
            _step_values(self.times, self.upper, t, _NAN, _NAN),
        )

    def estimate_at(self, t: float) -> Estimate:
        """Survival at one time ``t`` (days) with its 95% interval."""
        lower, upper = self.confidence_interval_at(t)
        return Estimate(float(self.survival_at(t)), float(lower), float(upper))

    def median(self) -> Estimate:
        """Median survival time (days) with a Brookmeyer–Crowley style 95% interval.

        The median is the first time at which the survival is at most 0.5; the interval runs from the
        first time the lower band reaches 0.5 to the first time the upper band does. Each is ``NaN`` if
        never reached. Where the band is undefined (survival 0 or 1) it is taken equal to the survival.
        """
        lower_band = np.where(np.isnan(self.lower), self.survival, self.lower)
        upper_band = np.where(np.isnan(self.upper), self.survival, self.upper)
        return Estimate(
            _first_time_at_most_half(self.times, self.survival),
            _first_time_at_most_half(self.times, lower_band),
            _first_time_at_most_half(self.times, upper_band),
        )

    def step_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (days) and survival of the step curve from time 0 (survival 1), for ``where="post"`` plots."""
        start = min(0.0, float(self.times[0])) if self.times.size else 0.0
        return np.concatenate(([start], self.times)), np.concatenate(([1.0], self.survival))


def _first_time_at_most_half(times: np.ndarray, curve: np.ndarray) -> float:
    """First time at which a non-increasing curve is at most 0.5, ``NaN`` if never."""
    reached = np.flatnonzero(curve <= 0.5)
    return float(times[reached[0]]) if reached.size else _NAN


def _validated_times(time: npt.ArrayLike, marks: npt.ArrayLike, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Times as finite floats and event marks as ``dtype``, checked to be 1-d and of equal length."""
    time = np.asarray(time, dtype=float)
    marks = np.asarray(marks, dtype=dtype)
    if time.ndim != 1 or time.shape != marks.shape:
        raise ValueError(
            f"time and event/cause must be 1-d of equal length, got shapes {time.shape} and {marks.shape}",
        )
    if not np.all(np.isfinite(time)):
        raise ValueError("time must be finite (days); censor at the last follow-up instead of NaN")
    return time, marks


def kaplan_meier(time: npt.ArrayLike, event: npt.ArrayLike) -> KMResult:
    """Kaplan–Meier estimate with a pointwise 95% log-log confidence band.

    Parameters
    ----------
    time : array_like of float
        Time from the origin to the event or to censoring (days), finite.
    event : array_like of bool
        True where the event was observed, False where the time is right-censored.

    Returns
    -------
    KMResult
        Empty arrays (all evaluations ``NaN``) when there are no subjects.
    """
    time, event = _validated_times(time, event, bool)
    if time.size == 0:
        empty = np.empty(0)
        return KMResult(empty, empty, empty, empty)
    order = np.argsort(time)
    time, died = time[order], event[order].astype(np.int64)
    first = np.diff(time, prepend=-np.inf) > 0
    last = np.diff(time, append=np.inf) > 0
    at_risk = np.arange(time.size, 0, -1)[first]
    deaths = np.diff(np.cumsum(died)[last], prepend=0)
    survival = np.cumprod((at_risk - deaths) / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(deaths / (at_risk * (at_risk - deaths)))
        standard_error = np.sqrt(1 / np.log(survival) ** 2 * greenwood)
        log_minus_log = np.log(-np.log(survival))
        lower = np.exp(-np.exp(log_minus_log + _Z * standard_error))
        upper = np.exp(-np.exp(log_minus_log - _Z * standard_error))
    return KMResult(time[first], survival, np.clip(lower, 0, 1), np.clip(upper, 0, 1))


@dataclass(frozen=True)
class CIFResult:
    """Aalen–Johansen cumulative incidence of one cause with pointwise 95% intervals.

    Attributes
    ----------
    times : numpy.ndarray
        Distinct times with an event of any cause, ascending (days).
    incidence : numpy.ndarray
        Cumulative incidence of the cause of interest from each time on.
    standard_error : numpy.ndarray
        Delta-method (Aalen-type) standard error of the incidence.
    lower, upper : numpy.ndarray
        Pointwise 95% interval on the log(-log) scale; ``NaN`` where the incidence is 0 or 1.
    last_time : float
        Last observed time (event or censoring), days; beyond it the incidence is undefined unless
        every subject had an event.
    complete : bool
        True when the all-cause survival reached 0, so the incidence is known beyond ``last_time``.
    """

    times: np.ndarray
    incidence: np.ndarray
    standard_error: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    last_time: float
    complete: bool

    def _values_at(self, values: np.ndarray, t: npt.ArrayLike, before_first: float) -> np.ndarray:
        """A step curve at ``t`` (days), ``NaN`` past ``last_time`` unless ``complete``."""
        t = np.asarray(t, dtype=float)
        if self.times.size:
            result = _step_values(self.times, values, t, before_first, values[-1])
        else:
            result = np.full(t.shape, before_first)
        undefined = np.isnan(t) | np.isnan(self.last_time) | ((t > self.last_time) & ~self.complete)
        return np.where(undefined, _NAN, result)[()]

    def incidence_at(self, t: npt.ArrayLike) -> np.ndarray:
        """Cumulative incidence at times ``t`` (days); ``NaN`` beyond the follow-up or for no data."""
        return self._values_at(self.incidence, t, 0.0)

    def confidence_interval_at(self, t: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise 95% interval ``(lower, upper)`` at times ``t`` (days); ``NaN`` where undefined."""
        return self._values_at(self.lower, t, _NAN), self._values_at(self.upper, t, _NAN)

    def estimate_at(self, t: float) -> Estimate:
        """Cumulative incidence at one time ``t`` (days) with its 95% interval."""
        lower, upper = self.confidence_interval_at(t)
        return Estimate(float(self.incidence_at(t)), float(lower), float(upper))

    def step_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (days) and incidence of the step curve from time 0 (incidence 0)."""
        start = min(0.0, float(self.times[0])) if self.times.size else 0.0
        return np.concatenate(([start], self.times)), np.concatenate(([0.0], self.incidence))


def cumulative_incidence(time: npt.ArrayLike, cause: npt.ArrayLike, cause_of_interest: int) -> CIFResult:
    """Aalen–Johansen cumulative incidence function under competing risks.

    At each distinct event time t_j with n_j at risk, d_j events of any cause and d_kj of the cause of
    interest, F(t) = sum over t_j <= t of S(t_j-) d_kj / n_j, where S is the all-cause Kaplan–Meier
    survival. Subjects censored at t_j count as at risk at t_j.

    Parameters
    ----------
    time : array_like of float
        Time from the origin to the first event or to censoring (days), finite.
    cause : array_like of int
        0 for censored, otherwise the code of the (first) event's cause.
    cause_of_interest : int
        The cause whose incidence is estimated (not 0).

    Returns
    -------
    CIFResult
        With the delta-method variance (Aalen-type) and log(-log) 95% intervals.
    """
    time, cause = _validated_times(time, cause, int)
    if cause_of_interest == 0:
        raise ValueError("cause_of_interest must not be 0, which marks censoring")
    if time.size == 0:
        empty = np.empty(0)
        return CIFResult(empty, empty, empty, empty, empty, _NAN, False)
    unique_times, position = np.unique(time, return_inverse=True)
    observed = np.bincount(position, minlength=unique_times.size)
    at_risk = time.size - np.concatenate(([0], np.cumsum(observed)[:-1]))
    events = np.bincount(position, weights=cause != 0, minlength=unique_times.size)
    of_interest = np.bincount(position, weights=cause == cause_of_interest, minlength=unique_times.size)
    has_event = events > 0
    event_times = unique_times[has_event]
    at_risk, events, of_interest = at_risk[has_event], events[has_event], of_interest[has_event]
    survival_after = np.cumprod(1.0 - events / at_risk)
    survival_before = np.concatenate(([1.0], survival_after[:-1]))
    incidence = np.cumsum(survival_before * of_interest / at_risk)
    standard_error = np.sqrt(_aalen_johansen_variance(incidence, survival_before, at_risk, events, of_interest))
    lower, upper = _log_log_interval(incidence, standard_error)
    complete = bool(survival_after.size and survival_after[-1] == 0.0)
    return CIFResult(event_times, incidence, standard_error, lower, upper, float(unique_times[-1]), complete)


def _aalen_johansen_variance(
    incidence: np.ndarray, survival_before: np.ndarray, at_risk: np.ndarray, events: np.ndarray,
    of_interest: np.ndarray,
) -> np.ndarray:
    """Delta-method variance of the Aalen–Johansen incidence at each event time.

    Var F(t_m) = sum_{j<=m} [ (F_m - F_j)^2 d_j / (n_j (n_j - d_j))
                              + S_{j-1}^2 d_kj (n_j - d_kj) / n_j^3
                              - 2 (F_m - F_j) S_{j-1} d_kj / n_j^2 ],
    expanded in F_m so that every term is a cumulative sum. The first term is 0 when n_j = d_j,
    because the incidence cannot change after the all-cause survival reaches 0. With one cause it
    equals Greenwood's variance of 1 - KM.
    """
    survivors = at_risk - events
    hazard_term = np.divide(events, at_risk * survivors, out=np.zeros_like(events), where=survivors > 0)
    own_term = survival_before**2 * of_interest * (at_risk - of_interest) / at_risk**3
    cross_term = survival_before * of_interest / at_risk**2
    variance = (
        incidence**2 * np.cumsum(hazard_term)
        - 2.0 * incidence * np.cumsum(hazard_term * incidence)
        + np.cumsum(hazard_term * incidence**2)
        + np.cumsum(own_term)
        - 2.0 * incidence * np.cumsum(cross_term)
        + 2.0 * np.cumsum(cross_term * incidence)
    )
    return np.clip(variance, 0.0, None)


def _log_log_interval(incidence: np.ndarray, standard_error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% interval for an incidence on the log(-log) scale; ``NaN`` where the incidence is 0 or 1."""
    defined = (incidence > 0.0) & (incidence < 1.0)
    safe = np.where(defined, incidence, 0.5)
    with np.errstate(over="ignore", divide="ignore"):
        spread = np.exp(_Z * standard_error / (safe * -np.log(safe)))
        lower = np.where(defined, safe**spread, _NAN)
        upper = np.where(defined, safe ** (1.0 / spread), _NAN)
    return lower, upper


def proportion(successes: int, trials: int) -> Estimate:
    """A proportion (fraction 0–1) with its Wilson 95% interval; all ``NaN`` when ``trials`` is 0."""
    if trials == 0:
        return NO_ESTIMATE
    n, p = int(trials), successes / trials
    denominator = 2 * (n + _Z**2)
    centre = (2 * n * p + _Z**2) / denominator
    half_width = _Z / denominator * math.sqrt(4 * n * p * (1 - p) + _Z**2)
    lower = 0.0 if successes == 0 else centre - half_width
    upper = 1.0 if successes == trials else centre + half_width
    return Estimate(p, float(lower), float(upper))


def median_ci_ranks(n: int) -> tuple[int, int] | None:
    """1-based ranks (l, n - l + 1) of the order statistics bounding the median with >= 95% coverage.

    ``l`` is the largest rank with P(Binomial(n, 1/2) <= l - 1) <= 2.5%, so the coverage
    1 - 2 P(Binomial(n, 1/2) <= l - 1) is at least 95%. ``None`` when no such rank exists (n <= 5).
    """
    tail = bdtr(np.arange(n + 1), n, 0.5)
    lower_rank = int(np.count_nonzero(tail <= (1.0 - CONFIDENCE_LEVEL) / 2))
    return (lower_rank, n - lower_rank + 1) if lower_rank >= 1 else None


def median_with_ci(values: npt.ArrayLike) -> Estimate:
    """Sample median with the distribution-free (order-statistic, binomial) 95% interval.

    Parameters
    ----------
    values : array_like of float
        Observations (e.g. days); non-finite values are dropped.

    Returns
    -------
    Estimate
        ``NaN`` median for no values; ``NaN`` interval for fewer than 6 values.
    """
    values = np.asarray(values, dtype=float)
    values = np.sort(values[np.isfinite(values)])
    if values.size == 0:
        return NO_ESTIMATE
    ranks = median_ci_ranks(values.size)
    if ranks is None:
        return Estimate(float(np.median(values)), _NAN, _NAN)
    return Estimate(float(np.median(values)), float(values[ranks[0] - 1]), float(values[ranks[1] - 1]))


def replication_interval(values: npt.ArrayLike) -> Estimate:
    """Mean over replications with its Monte Carlo 95% confidence interval.

    Parameters
    ----------
    values : array_like of float
        One value of a metric per replication; non-finite values are dropped.

    Returns
    -------
    Estimate
        Mean of the k finite values, and mean ± t(0.975, k - 1) · sd / sqrt(k); the interval is
        ``NaN`` for k < 2 and everything is ``NaN`` for k = 0.
    """
    values = np.asarray(values, dtype=float)
    values = cast(np.ndarray, values[np.isfinite(values)])  # numpy's stubs type a boolean mask's result as Any
    if values.size == 0:
        return NO_ESTIMATE
    mean = float(np.mean(values))
    if values.size < 2:
        return Estimate(mean, _NAN, _NAN)
    quantile = stdtrit(values.size - 1, 0.5 + CONFIDENCE_LEVEL / 2)
    half_width = quantile * np.std(values, ddof=1) / np.sqrt(values.size)
    return Estimate(mean, float(mean - half_width), float(mean + half_width))


class _SortedBatch(NamedTuple):
    """Rows of follow-up data sorted by time (see :func:`_sort_batch`): times, causes, subjects per row,
    subjects at risk, whether a subject is the last of its run of tied times, and the first of that run."""

    time: np.ndarray
    cause: np.ndarray
    subjects: np.ndarray
    at_risk: np.ndarray
    group_end: np.ndarray
    first_of_group: np.ndarray


def _sort_batch(time: npt.ArrayLike, cause: npt.ArrayLike, included: npt.ArrayLike | None) -> _SortedBatch:
    """Each row's included subjects sorted by time, the others after them (time ``inf``, cause 0), with
    the subjects at risk at each distinct time (counted at the first of its ties) and where each run of
    tied times ends and starts.

    Raises
    ------
    ValueError
        When the arrays are not 2-d of one shape, or an included time is not finite.
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause)
    included = np.ones(time.shape, dtype=bool) if included is None else np.asarray(included, dtype=bool)
    if time.ndim != 2 or time.shape != cause.shape or time.shape != included.shape:
        raise ValueError(f"time, cause and included must be 2-d of one shape, got {time.shape}, {cause.shape} and {included.shape}")
    if not np.all(np.isfinite(time[included])):
        raise ValueError("time must be finite (days); censor at the last follow-up instead of NaN")
    time = np.where(included, time, np.inf)
    order = np.argsort(time, axis=1, kind="stable")
    time = np.take_along_axis(time, order, axis=1)
    cause = np.take_along_axis(np.where(included, cause, 0).astype(np.int64), order, axis=1)
    subjects = included.sum(axis=1)
    position = np.broadcast_to(np.arange(time.shape[1]), time.shape)
    valid = position < subjects[:, None]
    with np.errstate(invalid="ignore"):  # inf - inf among the excluded subjects
        group_start = np.diff(time, axis=1, prepend=-np.inf) > 0
        group_end = valid & ~(np.diff(time, axis=1, append=np.inf) <= 0)  # the last of a run of ties (the last included too)
    first_of_group = np.maximum.accumulate(np.where(group_start & valid, position, 0), axis=1)
    return _SortedBatch(time, cause, subjects, subjects[:, None] - first_of_group, group_end, first_of_group)


def _per_group(flags: np.ndarray, batch: _SortedBatch) -> np.ndarray:
    """How many subjects of each run of tied times have ``flags``, at the run's last subject (int)."""
    counts = np.cumsum(flags, axis=1, dtype=np.int64)
    before = np.take_along_axis(counts - flags, batch.first_of_group, axis=1)
    return counts - before


def _value_by_time(curve: np.ndarray, batch: _SortedBatch, t: float, before_first: float) -> np.ndarray:
    """A step curve (one value per sorted subject) at time ``t``: its value at the last subject observed by
    ``t``, ``before_first`` where none was."""
    seen = np.count_nonzero(batch.time <= t, axis=1)
    rows = np.arange(curve.shape[0])
    return np.where(seen > 0, curve[rows, np.maximum(seen - 1, 0)], before_first)


def survival_at_batch(time: npt.ArrayLike, event: npt.ArrayLike, t: float, included: npt.ArrayLike | None = None) -> np.ndarray:
    """Kaplan–Meier survival at time ``t`` of each row of follow-up data, all rows at once: row ``b`` gives
    ``kaplan_meier(time[b][included[b]], event[b][included[b]]).survival_at(t)``, the same number (the
    same products in the same order).

    Parameters
    ----------
    time : array_like of float, shape (rows, subjects)
        Days from the origin to the event or censoring; finite where included.
    event : array_like of bool, same shape
        True where the event was observed.
    t : float
        Days.
    included : array_like of bool, same shape, optional
        The subjects of each row (default: all).

    Returns
    -------
    numpy.ndarray
        One survival per row; ``NaN`` for a row without subjects, and beyond a row's last time unless its
        survival reached 0 (then 0).
    """
    batch = _sort_batch(time, event, included)
    deaths = _per_group(batch.cause != 0, batch)
    factor = np.where(batch.group_end, (batch.at_risk - deaths) / np.maximum(batch.at_risk, 1), 1.0)
    survival = np.cumprod(factor, axis=1)
    value = _value_by_time(survival, batch, t, 1.0)
    return _beyond_follow_up(value, survival, batch, t, lambda end: np.where(end == 0.0, 0.0, _NAN))


def incidence_at_batch(time: npt.ArrayLike, cause: npt.ArrayLike, cause_of_interest: int, t: float,
                       included: npt.ArrayLike | None = None) -> np.ndarray:
    """Aalen–Johansen cumulative incidence of ``cause_of_interest`` at time ``t`` of each row of follow-up
    data, all rows at once: row ``b`` gives ``cumulative_incidence(time[b][included[b]], cause[b][included[b]],
    cause_of_interest).incidence_at(t)``, the same number (the same sums and products in the same order).

    Parameters
    ----------
    time : array_like of float, shape (rows, subjects)
        Days from the origin to the first event or censoring; finite where included.
    cause : array_like of int, same shape
        0 for censored, otherwise the code of the event's cause.
    cause_of_interest : int
        Not 0.
    t : float
        Days.
    included : array_like of bool, same shape, optional
        The subjects of each row (default: all).

    Returns
    -------
    numpy.ndarray
        One incidence per row; ``NaN`` for a row without subjects, and beyond a row's last time unless its
        all-cause survival reached 0.
    """
    if cause_of_interest == 0:
        raise ValueError("cause_of_interest must not be 0, which marks censoring")
    batch = _sort_batch(time, cause, included)
    events = _per_group(batch.cause != 0, batch).astype(float)
    of_interest = _per_group(batch.cause == cause_of_interest, batch).astype(float)
    at_event = batch.group_end & (events > 0)
    at_risk = np.maximum(batch.at_risk, 1)
    survival_after = np.cumprod(np.where(at_event, 1.0 - events / at_risk, 1.0), axis=1)
    survival_before = np.concatenate((np.ones((survival_after.shape[0], 1)), survival_after[:, :-1]), axis=1)
    incidence = np.cumsum(np.where(at_event, survival_before * of_interest / at_risk, 0.0), axis=1)
    value = _value_by_time(incidence, batch, t, 0.0)
    return _beyond_follow_up(value, survival_after, batch, t, lambda end: np.where(end == 0.0, value, _NAN))


def _beyond_follow_up(value: np.ndarray, survival: np.ndarray, batch: _SortedBatch, t: float,
                      after_last: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``value``, with ``after_last(all-cause survival at the end)`` past each row's last time, and ``NaN``
    for rows without subjects or a ``NaN`` time."""
    rows = np.arange(value.shape[0])
    last = np.maximum(batch.subjects - 1, 0)
    beyond = t > batch.time[rows, last]
    value = np.where(beyond, after_last(survival[rows, last]), value)
    return np.where((batch.subjects == 0) | math.isnan(t), _NAN, value)
