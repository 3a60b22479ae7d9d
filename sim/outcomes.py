"""Endpoints from the patients table: Kaplan–Meier, cumulative incidence, rates, the summary.

This module reads the patients table only (the columns of `sim.schema.PATIENT_COLUMNS`), never engine
internals. All days in the table count from the patient's enrolment; endpoints move the time origin
to infusion (index treatment), to HSCT or keep enrolment, as each metric states.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from sim.schema import CR_RESPONSES, PATIENT_COLUMNS, SUMMARY_COLUMNS, WAITING_EXITS
from sim.text import fixed_width

SIX_MONTHS_DAYS = 182.625
ONE_YEAR_DAYS = 365.25
TWO_YEARS_DAYS = 730.5
CONFIDENCE_LEVEL = 0.95
_Z = float(stats.norm.ppf(0.5 + CONFIDENCE_LEVEL / 2))
_NAN = float("nan")

METRICS: tuple[str, ...] = (
    "n_patients", "infused_rate",
    "cr_rate", "mrd_neg_cr_rate", "crs_any", "crs_grade3plus", "icans_any", "hsct_rate",
    "median_days_infusion_to_hsct",
    "agvhd_grade2plus", "agvhd_grade3plus", "cgvhd",
    "os_6m", "os_1y", "os_2y", "pfs_6m", "pfs_1y", "median_os_days", "median_pfs_days",
    "dfs_1y",
    "os_post_hsct_2y", "lfs_post_hsct_2y", "nrm_post_hsct_2y", "cir_post_hsct_2y",
    "itt_os_1y", "itt_os_2y",
    "relapse_cd7_negative_share",
    "dropout_while_waiting", "relapse_while_waiting", "death_while_waiting",
)
"""Metrics of `summarise`, in output order. The last three are shares of the patients enrolled who
left the pathway from a queue (for a scarce resource, see ``waiting_for``) by progression before
infusion, relapse before HSCT or death."""

HEADLINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("CR", "cr_rate"), ("HSCT", "hsct_rate"), ("OS 1y", "os_1y"), ("OS 2y", "os_2y"),
    ("PFS 1y", "pfs_1y"), ("NRM 2y", "nrm_post_hsct_2y"), ("Relapse 2y", "cir_post_hsct_2y"),
)
"""Column titles and metrics of `format_headline`."""


class Estimate(NamedTuple):
    """A point estimate with its 95% interval (``NaN`` where undefined)."""

    estimate: float
    lower: float
    upper: float


_MISSING = Estimate(_NAN, _NAN, _NAN)


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
    data = stats.CensoredData(uncensored=time[event], right=time[~event])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.filterwarnings(
            "ignore", message="The confidence interval is undefined", category=RuntimeWarning,
        )
        survival = stats.ecdf(data).sf
        band = survival.confidence_interval(confidence_level=CONFIDENCE_LEVEL, method="log-log")
    return KMResult(survival.quantiles, survival.probabilities, band.low.probabilities, band.high.probabilities)


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
        return _MISSING
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=CONFIDENCE_LEVEL, method="wilson",
    )
    return Estimate(successes / trials, float(interval.low), float(interval.high))


def median_ci_ranks(n: int) -> tuple[int, int] | None:
    """1-based ranks (l, n - l + 1) of the order statistics bounding the median with >= 95% coverage.

    ``l`` is the largest rank with P(Binomial(n, 1/2) <= l - 1) <= 2.5%, so the coverage
    1 - 2 P(Binomial(n, 1/2) <= l - 1) is at least 95%. ``None`` when no such rank exists (n <= 5).
    """
    tail = stats.binom.cdf(np.arange(n + 1), n, 0.5)
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
        return _MISSING
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
    values = values[np.isfinite(values)]
    if values.size == 0:
        return _MISSING
    mean = float(np.mean(values))
    if values.size < 2:
        return Estimate(mean, _NAN, _NAN)
    quantile = stats.t.ppf(0.5 + CONFIDENCE_LEVEL / 2, values.size - 1)
    half_width = quantile * np.std(values, ddof=1) / np.sqrt(values.size)
    return Estimate(mean, float(mean - half_width), float(mean + half_width))


@dataclass(frozen=True)
class _Cohort:
    """The patients of one strategy and replication as numpy arrays; days from enrolment, ``NaN`` = none."""

    infused: np.ndarray
    infusion_day: np.ndarray
    crs_grade: np.ndarray
    icans_grade: np.ndarray
    in_cr: np.ndarray
    mrd_negative_cr: np.ndarray
    no_response_day: np.ndarray
    hsct: np.ndarray
    hsct_day: np.ndarray
    agvhd_grade: np.ndarray
    cgvhd: np.ndarray
    relapse: np.ndarray
    relapse_day: np.ndarray
    relapse_cd7_negative: np.ndarray
    death: np.ndarray
    death_day: np.ndarray
    last_day: np.ndarray
    waiting_exit: np.ndarray

    @classmethod
    def from_frame(cls, patients: pd.DataFrame) -> _Cohort:
        """Arrays from a patients table; event days are ``NaN`` where the event flag is False."""
        def days(column: str) -> np.ndarray:
            return patients[column].to_numpy(dtype=float, na_value=_NAN)

        def flags(column: str) -> np.ndarray:
            return patients[column].to_numpy(dtype=bool)

        response = patients["response"]
        relapse, death = flags("relapse"), flags("death")
        return cls(
            infused=flags("infused"),
            infusion_day=days("infusion_day"),
            crs_grade=patients["crs_grade"].to_numpy(dtype=int),
            icans_grade=patients["icans_grade"].to_numpy(dtype=int),
            in_cr=response.isin(CR_RESPONSES).to_numpy(dtype=bool),
            mrd_negative_cr=(response == "cr_mrd_neg").to_numpy(dtype=bool),
            no_response_day=np.where(
                (response == "no_response").to_numpy(dtype=bool), days("response_day"), _NAN,
            ),
            hsct=flags("hsct"),
            hsct_day=days("hsct_day"),
            agvhd_grade=patients["agvhd_grade"].to_numpy(dtype=int),
            cgvhd=flags("cgvhd"),
            relapse=relapse,
            relapse_day=np.where(relapse, days("relapse_day"), _NAN),
            relapse_cd7_negative=flags("relapse_cd7_negative"),
            death=death,
            death_day=np.where(death, days("death_day"), _NAN),
            last_day=days("last_day"),
            waiting_exit=patients["waiting_exit"].astype(str).to_numpy(),
        )

    @property
    def size(self) -> int:
        """Number of patients."""
        return int(self.infused.size)

    def subset(self, selection: np.ndarray) -> _Cohort:
        """The patients picked by a boolean mask or an index array."""
        return _Cohort(**{field.name: getattr(self, field.name)[selection] for field in fields(self)})


def _time_to_first_event(
    origin: np.ndarray, last_day: np.ndarray, *event_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Time from ``origin`` to the first of ``event_days`` (``NaN`` = none), else to ``last_day``.

    Returns
    -------
    tuple of numpy.ndarray
        Time (days) and the event flag (False = censored at ``last_day``).
    """
    first = np.fmin.reduce(np.vstack(event_days), axis=0)
    event = np.isfinite(first)
    return np.where(event, first, last_day) - origin, event


class _Count(NamedTuple):
    """A proportion kept as counts until it is known whether its own interval is needed."""

    successes: int
    trials: int


def _rate(flags: np.ndarray) -> _Count:
    """Number of True values among all values."""
    return _Count(int(np.count_nonzero(flags)), int(flags.size))


def _as_estimate(value: Estimate | _Count, own_intervals: bool) -> Estimate:
    """An estimate; a count becomes a proportion, with its Wilson interval if ``own_intervals``."""
    if not isinstance(value, _Count):
        return value
    if own_intervals or value.trials == 0:
        return proportion(value.successes, value.trials)
    return Estimate(value.successes / value.trials, _NAN, _NAN)


def _response_and_toxicity(infused: _Cohort) -> dict[str, Estimate | _Count]:
    """Rates among infused patients, and the time from infusion to HSCT among those transplanted."""
    transplanted = infused.subset(infused.hsct)
    return {
        "cr_rate": _rate(infused.in_cr),
        "mrd_neg_cr_rate": _rate(infused.mrd_negative_cr),
        "crs_any": _rate(infused.crs_grade >= 1),
        "crs_grade3plus": _rate(infused.crs_grade >= 3),
        "icans_any": _rate(infused.icans_grade >= 1),
        "hsct_rate": _rate(infused.hsct),
        "median_days_infusion_to_hsct": median_with_ci(transplanted.hsct_day - transplanted.infusion_day),
    }


def _overall_survival_times(infused: _Cohort) -> tuple[np.ndarray, np.ndarray]:
    """Days from infusion to death or censoring, and the death flag."""
    return _time_to_first_event(infused.infusion_day, infused.last_day, infused.death_day)


def _disease_free_survival_times(infused: _Cohort) -> tuple[np.ndarray, np.ndarray]:
    """Among patients in CR: days from infusion to relapse, death or censoring, and the event flag."""
    responders = infused.subset(infused.in_cr)
    return _time_to_first_event(
        responders.infusion_day, responders.last_day, responders.relapse_day, responders.death_day,
    )


def overall_survival_times(patients: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Overall survival data among infused patients, from infusion (start of the index treatment).

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table (columns of `sim.schema.PATIENT_COLUMNS`).

    Returns
    -------
    tuple of numpy.ndarray
        Days from infusion to death or censoring, and the death flag, one entry per infused patient.
    """
    cohort = _Cohort.from_frame(patients)
    return _overall_survival_times(cohort.subset(cohort.infused))


def disease_free_survival_times(patients: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Disease-free survival data among infused patients in CR, from infusion.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table (columns of `sim.schema.PATIENT_COLUMNS`).

    Returns
    -------
    tuple of numpy.ndarray
        Days from infusion to relapse, death or censoring, and the event flag, one entry per infused
        patient in CR (MRD-negative or positive).
    """
    cohort = _Cohort.from_frame(patients)
    return _disease_free_survival_times(cohort.subset(cohort.infused))


def _survival_from_infusion(infused: _Cohort) -> dict[str, Estimate]:
    """OS, PFS (non-response at assessment, relapse or death) and DFS (among CR) from infusion."""
    overall = kaplan_meier(*_overall_survival_times(infused))
    progression_free = kaplan_meier(*_time_to_first_event(
        infused.infusion_day, infused.last_day, infused.no_response_day, infused.relapse_day, infused.death_day,
    ))
    disease_free = kaplan_meier(*_disease_free_survival_times(infused))
    return {
        "os_6m": overall.estimate_at(SIX_MONTHS_DAYS),
        "os_1y": overall.estimate_at(ONE_YEAR_DAYS),
        "os_2y": overall.estimate_at(TWO_YEARS_DAYS),
        "pfs_6m": progression_free.estimate_at(SIX_MONTHS_DAYS),
        "pfs_1y": progression_free.estimate_at(ONE_YEAR_DAYS),
        "median_os_days": overall.median(),
        "median_pfs_days": progression_free.median(),
        "dfs_1y": disease_free.estimate_at(ONE_YEAR_DAYS),
    }


def _after_transplant(transplanted: _Cohort) -> dict[str, Estimate | _Count]:
    """GVHD rates and OS, LFS, NRM and relapse incidence from HSCT among transplanted patients."""
    origin = transplanted.hsct_day
    relapse_day = np.where(transplanted.relapse_day >= origin, transplanted.relapse_day, _NAN)
    overall = kaplan_meier(*_time_to_first_event(origin, transplanted.last_day, transplanted.death_day))
    time, event = _time_to_first_event(origin, transplanted.last_day, relapse_day, transplanted.death_day)
    relapsed = np.isfinite(relapse_day) & ~(transplanted.death_day < relapse_day)
    cause = np.where(event, np.where(relapsed, 1, 2), 0)
    return {
        "agvhd_grade2plus": _rate(transplanted.agvhd_grade >= 2),
        "agvhd_grade3plus": _rate(transplanted.agvhd_grade >= 3),
        "cgvhd": _rate(transplanted.cgvhd),
        "os_post_hsct_2y": overall.estimate_at(TWO_YEARS_DAYS),
        "lfs_post_hsct_2y": kaplan_meier(time, event).estimate_at(TWO_YEARS_DAYS),
        "nrm_post_hsct_2y": cumulative_incidence(time, cause, 2).estimate_at(TWO_YEARS_DAYS),
        "cir_post_hsct_2y": cumulative_incidence(time, cause, 1).estimate_at(TWO_YEARS_DAYS),
    }


def _cohort_metrics(cohort: _Cohort, own_intervals: bool) -> list[Estimate]:
    """Every metric of `METRICS`, in order, for one strategy and replication.

    Proportions get their Wilson interval only if ``own_intervals``; survival estimates always carry
    theirs.
    """
    infused = cohort.subset(cohort.infused)
    enrolment = np.zeros(cohort.size)
    intention_to_treat = kaplan_meier(*_time_to_first_event(enrolment, cohort.last_day, cohort.death_day))
    metrics = {
        "n_patients": Estimate(float(cohort.size), _NAN, _NAN),
        "infused_rate": _rate(cohort.infused),
        **_response_and_toxicity(infused),
        **_survival_from_infusion(infused),
        **_after_transplant(cohort.subset(cohort.hsct)),
        "itt_os_1y": intention_to_treat.estimate_at(ONE_YEAR_DAYS),
        "itt_os_2y": intention_to_treat.estimate_at(TWO_YEARS_DAYS),
        "relapse_cd7_negative_share": _rate(cohort.relapse_cd7_negative[cohort.relapse]),
        **{f"{exit_}_while_waiting": _rate(cohort.waiting_exit == exit_) for exit_ in WAITING_EXITS[1:]},
    }
    return [_as_estimate(metrics[name], own_intervals) for name in METRICS]


def _groups(patients: pd.DataFrame) -> Iterator[tuple[str, str, list[np.ndarray]]]:
    """(scenario, strategy, row indices per replication) in order of first appearance of each pair."""
    scenario_code, scenarios = pd.factorize(patients["scenario"])
    strategy_code, strategies = pd.factorize(patients["strategy"])
    pair_code, pairs = pd.factorize(scenario_code * len(strategies) + strategy_code)
    replication_code, replications = pd.factorize(patients["replication"])
    group = pair_code * len(replications) + replication_code
    order = np.argsort(group, kind="stable")
    chunks = np.split(order, np.flatnonzero(np.diff(group[order])) + 1) if order.size else []
    for code, chunk_group in itertools.groupby(chunks, key=lambda rows: pair_code[rows[0]]):
        pair = pairs[code]
        scenario, strategy = scenarios[pair // len(strategies)], strategies[pair % len(strategies)]
        yield str(scenario), str(strategy), list(chunk_group)


def summarise(patients: pd.DataFrame) -> pd.DataFrame:
    """Summary endpoints per scenario and strategy.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (columns of `sim.schema.PATIENT_COLUMNS`); days count from enrolment.

    Returns
    -------
    pandas.DataFrame
        Columns `sim.schema.SUMMARY_COLUMNS`, one row per (scenario, strategy, metric of `METRICS`),
        pairs in order of first appearance. Proportions are fractions 0–1, times are days. With one
        replication the interval is each estimator's own 95% CI (Wilson, Kaplan–Meier log-log,
        Aalen–Johansen log(-log), order-statistic for the median time to HSCT, Brookmeyer–Crowley for
        median survival; none for ``n_patients``). With several replications the estimate is the mean
        of the per-replication values and the interval the Monte Carlo 95% CI of that mean
        (see `replication_interval`). Empty denominators give ``NaN``.
    """
    missing = [column for column in PATIENT_COLUMNS if column not in patients.columns]
    if missing:
        raise ValueError(f"patients table lacks columns {missing}")
    cohort = _Cohort.from_frame(patients)
    records = []
    for scenario, strategy, replications in _groups(patients):
        per_replication = [_cohort_metrics(cohort.subset(rows), len(replications) == 1) for rows in replications]
        if len(per_replication) == 1:
            estimates = per_replication[0]
        else:
            estimates = [
                replication_interval([values[i].estimate for values in per_replication]) for i in range(len(METRICS))
            ]
        records += [(scenario, strategy, metric, *estimate) for metric, estimate in zip(METRICS, estimates)]
    return pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS)).astype(
        {"estimate": float, "lower": float, "upper": float},
    )


def _percent(estimate: float, lower: float, upper: float) -> str:
    """``72% (68–76)``; ``n/a`` for a missing estimate or interval."""
    if not np.isfinite(estimate):
        return "n/a"
    interval = f"{100 * lower:.0f}–{100 * upper:.0f}" if np.isfinite(lower) and np.isfinite(upper) else "n/a"
    return f"{100 * estimate:.0f}% ({interval})"


def format_headline(summary: pd.DataFrame) -> str:
    """Fixed-width text table of the headline endpoints, one row per strategy.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `summarise`.

    Returns
    -------
    str
        Header line, one line per strategy (prefixed by the scenario when there are several), and a
        footnote on intervals and time origins.
    """
    several_scenarios = summary["scenario"].nunique() > 1
    estimates = {
        (scenario, strategy, metric): (estimate, lower, upper)
        for scenario, strategy, metric, estimate, lower, upper in summary[list(SUMMARY_COLUMNS)].itertuples(index=False)
    }
    rows = []
    for scenario, strategy in summary[["scenario", "strategy"]].drop_duplicates().itertuples(index=False):
        label = f"{scenario} / {strategy}" if several_scenarios else str(strategy)
        cells = [_percent(*estimates.get((scenario, strategy, metric), _MISSING)) for _, metric in HEADLINE_COLUMNS]
        rows.append([label, *cells])
    lines = fixed_width(["strategy", *(title for title, _ in HEADLINE_COLUMNS)], rows)
    footnote = (
        "Percent (95% CI: the estimator's own for one replication, Monte Carlo across replications). "
        "CR and HSCT among infused; OS and PFS from infusion; NRM and relapse at 2 years from HSCT, "
        "among transplanted patients."
    )
    return "\n".join([*lines, footnote])
