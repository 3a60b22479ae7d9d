"""Endpoints, each defined once over columns of the patients table, and the summary table of a run.

Every population, event, time origin and censoring rule that the summary (`summarise`), the study
replays (`sim.calibration.studies`) and the figures (`sim.report.plots`) report is defined here, as a
small function over ``Columns``: arrays keyed by the names of `sim.inputs.codes.PATIENT_COLUMNS`, one
entry per patient. Days count from each patient's enrolment and ``NaN`` marks an event that did not
happen (by ``last_day``); categories are integer codes, the positions of their labels in the tuples of
`sim.inputs.codes` (``response`` in ``RESPONSES``, ``chimerism`` in ``CHIMERISM``, ``waiting_exit`` in
``WAITING_EXITS``) — the engine's resolved course columns are such columns already, and
`patient_columns` makes them from a patients table.

- Populations and binary events (`infused`, `in_complete_response`, `crs_any`, ...) give one flag per
  patient; a proportion is the share of a population with an event (`PROPORTIONS` for the summary).
- Time-to-event endpoints (`TimeToEvent`) join a time origin (`ORIGINS`), the first event counted
  (`death`, `progression_or_death`, `relapse_or_death`, and the competing-risk pair
  `relapse_before_death` / `death_before_relapse`), and a population: the patients who reached the
  origin, optionally only those of a further population. Follow-up is censored at ``last_day``, or at
  an earlier day (a study's administrative censoring); an event after the end of follow-up is not seen.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from sim.inputs.codes import (
    CHIMERISM,
    CR_RESPONSES,
    DAYS_PER_YEAR,
    PATIENT_COLUMNS,
    RESPONSES,
    SUMMARY_COLUMNS,
    WAITING_EXITS,
)
from sim.outcomes.estimators import (
    Estimate,
    KMResult,
    cumulative_incidence,
    kaplan_meier,
    median_with_ci,
    proportion,
    replication_interval,
)

_NAN = float("nan")
ONE_YEAR_DAYS = DAYS_PER_YEAR
SIX_MONTHS_DAYS = DAYS_PER_YEAR / 2
TWO_YEARS_DAYS = 2 * DAYS_PER_YEAR

Columns = Mapping[str, np.ndarray]
"""Columns of the patients table as arrays, one entry per patient (see the module docstring)."""

CR_CODES: tuple[int, ...] = tuple(RESPONSES.index(response) for response in CR_RESPONSES)
"""Codes of ``response`` that are a complete remission (MRD-negative or positive)."""
MRD_NEGATIVE_CR_CODE = RESPONSES.index("cr_mrd_neg")
NO_RESPONSE_CODE = RESPONSES.index("no_response")
NOT_ASSESSED_CODE = RESPONSES.index("not_assessed")
AUTOLOGOUS_RECOVERY_CODE = CHIMERISM.index("autologous_recovery")

CENSORED, EVENT, COMPETING_EVENT = 0, 1, 2
"""Causes of a time-to-event endpoint: censored, its event of interest, a competing event."""


def patient_columns(patients: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns the endpoints read, from a patients table.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table (columns of `sim.inputs.codes.PATIENT_COLUMNS`); categories as labels, plain or
        categorical.

    Returns
    -------
    dict of str to numpy.ndarray
        Flags as bool, grades as int, days (from enrolment) as float with ``NaN`` where the event's flag
        is False, and ``response``, ``chimerism`` and ``waiting_exit`` as codes (-1 for a label the
        codes do not know).
    """
    def days(column: str, happened: np.ndarray | None = None) -> np.ndarray:
        values = patients[column].to_numpy(dtype=float, na_value=_NAN)
        return values if happened is None else np.where(happened, values, _NAN)

    def flags(column: str) -> np.ndarray:
        return patients[column].to_numpy(dtype=bool)

    def codes(column: str, labels: tuple[str, ...]) -> np.ndarray:
        return pd.Categorical(patients[column], categories=list(labels)).codes

    infused, hsct, relapse, death = flags("infused"), flags("hsct"), flags("relapse"), flags("death")
    return {
        "infused": infused,
        "infusion_day": days("infusion_day", infused),
        "crs_grade": patients["crs_grade"].to_numpy(dtype=int),
        "icans_grade": patients["icans_grade"].to_numpy(dtype=int),
        "response": codes("response", RESPONSES),
        "response_day": days("response_day"),
        "hsct": hsct,
        "hsct_day": days("hsct_day", hsct),
        "agvhd_grade": patients["agvhd_grade"].to_numpy(dtype=int),
        "cgvhd": flags("cgvhd"),
        "relapse": relapse,
        "relapse_day": days("relapse_day", relapse),
        "relapse_cd7_negative": flags("relapse_cd7_negative"),
        "death": death,
        "death_day": days("death_day", death),
        "last_day": days("last_day"),
        "chimerism": codes("chimerism", CHIMERISM),
        "waiting_exit": codes("waiting_exit", WAITING_EXITS),
    }


def subset(columns: Columns, selection: np.ndarray) -> dict[str, np.ndarray]:
    """The patients picked by a boolean mask or an index array, every column."""
    return {name: values[selection] for name, values in columns.items()}


# Populations and binary events: one flag per patient.

def everyone(c: Columns) -> np.ndarray:
    """Every patient enrolled."""
    return np.ones(c["last_day"].shape, dtype=bool)


def infused(c: Columns) -> np.ndarray:
    """Patients who started the index treatment (CAR-T infusion, or chemotherapy)."""
    return c["infused"]


def transplanted(c: Columns) -> np.ndarray:
    """Patients who received an allo-HSCT (by ``last_day``)."""
    return c["hsct"]


def relapsed(c: Columns) -> np.ndarray:
    """Patients who relapsed (by ``last_day``)."""
    return c["relapse"]


def response_assessed(c: Columns) -> np.ndarray:
    """Patients whose response was assessed (alive at the assessment, by ``last_day`` or not)."""
    return c["response"] != NOT_ASSESSED_CODE


def in_complete_response(c: Columns) -> np.ndarray:
    """Patients in complete remission at the response assessment, MRD-negative or positive."""
    response = c["response"]
    return functools.reduce(np.logical_or, [response == code for code in CR_CODES])


def mrd_negative_cr(c: Columns) -> np.ndarray:
    """Patients in MRD-negative complete remission at the response assessment."""
    return c["response"] == MRD_NEGATIVE_CR_CODE


def crs_any(c: Columns) -> np.ndarray:
    """Cytokine release syndrome of any grade (1 or more)."""
    return c["crs_grade"] >= 1


def crs_grade3plus(c: Columns) -> np.ndarray:
    """Cytokine release syndrome of grade 3 or more."""
    return c["crs_grade"] >= 3


def crs_mild(c: Columns) -> np.ndarray:
    """Cytokine release syndrome of grade 1 or 2."""
    return (c["crs_grade"] >= 1) & (c["crs_grade"] <= 2)


def icans_any(c: Columns) -> np.ndarray:
    """ICANS of any grade (1 or more)."""
    return c["icans_grade"] >= 1


def agvhd_grade2plus(c: Columns) -> np.ndarray:
    """Acute GVHD of grade 2 or more (after HSCT, or CAR-T-related)."""
    return c["agvhd_grade"] >= 2


def agvhd_grade3plus(c: Columns) -> np.ndarray:
    """Acute GVHD of grade 3 or more."""
    return c["agvhd_grade"] >= 3


def cgvhd(c: Columns) -> np.ndarray:
    """Chronic GVHD."""
    return c["cgvhd"]


def autologous_recovery(c: Columns) -> np.ndarray:
    """Autologous haematopoietic recovery after HSCT (the graft did not take; ``chimerism``)."""
    return c["chimerism"] == AUTOLOGOUS_RECOVERY_CODE


def relapse_cd7_negative(c: Columns) -> np.ndarray:
    """A relapse with CD7-negative disease."""
    return c["relapse_cd7_negative"]


def left_while_waiting(c: Columns, exit_: str) -> np.ndarray:
    """Patients who left the pathway from a queue for ``exit_`` (a category of `WAITING_EXITS`)."""
    return c["waiting_exit"] == WAITING_EXITS.index(exit_)


def infusion_to_hsct_days(c: Columns) -> np.ndarray:
    """Days from infusion to HSCT; ``NaN`` unless both happened."""
    return c["hsct_day"] - c["infusion_day"]


# Time-to-event endpoints.

ORIGINS: dict[str, Callable[[Columns], np.ndarray]] = {
    "enrolment": lambda c: np.zeros(c["last_day"].shape),
    "infusion": lambda c: c["infusion_day"],
    "hsct": lambda c: c["hsct_day"],
}
"""Time origins: day (from enrolment) each patient reached it, ``NaN`` if never."""


class Events(NamedTuple):
    """The first event a time-to-event endpoint counts, per patient.

    Each event definition below is a function ``events(columns, origin_day) -> Events``, where
    ``origin_day`` is the day (from enrolment) the endpoint's time origin was reached (see `ORIGINS`).

    Attributes
    ----------
    day : numpy.ndarray
        Day (from enrolment) of the first event counted, ``NaN`` if none.
    cause : numpy.ndarray
        `EVENT` for the endpoint's event, `COMPETING_EVENT` for a competing one (int8).
    """

    day: np.ndarray
    cause: np.ndarray


def _first_day(*days: np.ndarray) -> np.ndarray:
    """Earliest of the days per patient, ignoring ``NaN`` (``NaN`` if all are)."""
    return functools.reduce(np.fmin, days)


def _only(day: np.ndarray) -> Events:
    """A single event kind: every event is the endpoint's event."""
    return Events(day, np.full(day.shape, EVENT, dtype=np.int8))


def _relapse_since(c: Columns, origin: np.ndarray) -> np.ndarray:
    """Day of relapse on or after ``origin``; an earlier relapse is not an event of an endpoint from it."""
    return np.where(c["relapse_day"] >= origin, c["relapse_day"], _NAN)


def death(c: Columns, origin: np.ndarray) -> Events:
    """Death from any cause (overall survival)."""
    return _only(c["death_day"])


def progression_or_death(c: Columns, origin: np.ndarray) -> Events:
    """Progression — no response at the response assessment (on its day), or relapse — or death
    (progression-free survival)."""
    no_response_day = np.where(c["response"] == NO_RESPONSE_CODE, c["response_day"], _NAN)
    return _only(_first_day(no_response_day, _relapse_since(c, origin), c["death_day"]))


def relapse_or_death(c: Columns, origin: np.ndarray) -> Events:
    """Relapse or death (disease-free survival among patients in CR; leukaemia-free survival)."""
    return _only(_first_day(_relapse_since(c, origin), c["death_day"]))


def relapse_before_death(c: Columns, origin: np.ndarray) -> Events:
    """Relapse (cumulative incidence of relapse), with death without relapse as the competing event."""
    relapse_day = _relapse_since(c, origin)
    first = _first_day(relapse_day, c["death_day"])
    relapse_first = np.isfinite(relapse_day) & ~(c["death_day"] < relapse_day)
    return Events(first, np.where(relapse_first, EVENT, COMPETING_EVENT).astype(np.int8))


def death_before_relapse(c: Columns, origin: np.ndarray) -> Events:
    """Death without relapse (non-relapse mortality), with relapse as the competing event."""
    first, cause = relapse_before_death(c, origin)
    return Events(first, (EVENT + COMPETING_EVENT - cause).astype(np.int8))


class Observed(NamedTuple):
    """Follow-up data of a time-to-event endpoint, one entry per patient of its population.

    Attributes
    ----------
    time : numpy.ndarray
        Days from the origin to the first event counted, or to the end of follow-up.
    cause : numpy.ndarray
        `CENSORED`, `EVENT` or `COMPETING_EVENT`.
    """

    time: np.ndarray
    cause: np.ndarray

    @property
    def event(self) -> np.ndarray:
        """True where the endpoint's event was observed (for Kaplan–Meier)."""
        return self.cause == EVENT


@dataclass(frozen=True)
class TimeToEvent:
    """A time-to-event endpoint: time origin, first event counted, population.

    Attributes
    ----------
    origin : str
        Key of `ORIGINS`.
    events : callable
        ``events(columns, origin_day) -> Events``: the first event counted (for example `death`).
    among : callable, optional
        ``among(columns) -> mask``: the population, within the patients who reached the origin
        (default: all of those).
    """

    origin: str
    events: Callable[[Columns, np.ndarray], Events]
    among: Callable[[Columns], np.ndarray] | None = None

    def origin_day(self, c: Columns) -> np.ndarray:
        """Day (from enrolment) each patient reached the origin, ``NaN`` if never."""
        return ORIGINS[self.origin](c)

    def population(self, c: Columns) -> np.ndarray:
        """The patients counted: those who reached the origin (and are in ``among``)."""
        reached = ~np.isnan(self.origin_day(c))
        return reached if self.among is None else reached & self.among(c)

    def observe(self, c: Columns, population: np.ndarray | None = None,
                end_day: np.ndarray | None = None) -> Observed:
        """Follow-up from the origin, censored at the end of follow-up.

        Parameters
        ----------
        c : Columns
            The patients.
        population : numpy.ndarray of bool, optional
            The patients to return (default: the endpoint's `population`); a caller counting fewer
            (a study's reported patients) passes a mask within it.
        end_day : numpy.ndarray, optional
            Day (from enrolment) each patient's follow-up ends (default ``last_day``); an event after
            it is censored there.

        Returns
        -------
        Observed
            Days from the origin and the cause, one entry per patient of ``population``.
        """
        population = self.population(c) if population is None else population
        origin = self.origin_day(c)
        day, cause = self.events(c, origin)
        day, cause, origin = day[population], cause[population], origin[population]
        end = (c["last_day"] if end_day is None else end_day)[population]
        seen = day <= end
        return Observed(np.where(seen, day, end) - origin, np.where(seen, cause, CENSORED).astype(np.int8))

    def elapsed(self, c: Columns) -> tuple[np.ndarray, np.ndarray]:
        """Days from the origin to the first event counted (``NaN`` if none, or if the origin was never reached),
        and whether that event is the endpoint's own, under complete follow-up (censored only at ``last_day``,
        where the columns end): what :meth:`within` compares with its days."""
        origin = self.origin_day(c)
        day, cause = self.events(c, origin)
        return day - origin, cause == EVENT

    def within(self, c: Columns, days: float, elapsed: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Whether each patient had the endpoint's event within ``days`` (days) of the origin, under
        complete follow-up (censored only at ``last_day``, where the columns end); False for patients
        who never reached the origin. ``elapsed``: :meth:`elapsed`, if the caller has it already."""
        since, event = self.elapsed(c) if elapsed is None else elapsed
        return (since <= days) & event


OS_FROM_ENROLMENT = TimeToEvent("enrolment", death)
"""Overall survival from enrolment, every patient (intention to treat)."""
OS_FROM_INFUSION = TimeToEvent("infusion", death)
"""Overall survival from infusion (start of the index treatment), infused patients."""
PFS_FROM_INFUSION = TimeToEvent("infusion", progression_or_death)
"""Progression-free survival from infusion, infused patients."""
DFS_FROM_INFUSION = TimeToEvent("infusion", relapse_or_death, among=in_complete_response)
"""Disease-free survival from infusion, infused patients in CR."""
OS_FROM_HSCT = TimeToEvent("hsct", death)
"""Overall survival from HSCT, transplanted patients."""
LFS_FROM_HSCT = TimeToEvent("hsct", relapse_or_death)
"""Leukaemia-free survival from HSCT, transplanted patients."""
CIR_FROM_HSCT = TimeToEvent("hsct", relapse_before_death)
"""Cumulative incidence of relapse from HSCT (competing: non-relapse mortality), transplanted patients."""
NRM_FROM_HSCT = TimeToEvent("hsct", death_before_relapse)
"""Non-relapse mortality from HSCT (competing: relapse), transplanted patients."""


# The summary of a run.

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

HEADLINE_METRICS: tuple[str, ...] = (
    "cr_rate", "hsct_rate", "os_1y", "os_2y", "pfs_1y", "nrm_post_hsct_2y", "cir_post_hsct_2y",
)
"""The headline endpoints, a selection of `METRICS`: the table ``cd7sim run`` prints and the metrics of
``subgroups.csv`` (`sim.outcomes.subgroups`)."""

PROPORTIONS: dict[str, tuple[Callable[[Columns], np.ndarray], Callable[[Columns], np.ndarray]]] = {
    "infused_rate": (everyone, infused),
    "cr_rate": (infused, in_complete_response),
    "mrd_neg_cr_rate": (infused, mrd_negative_cr),
    "crs_any": (infused, crs_any),
    "crs_grade3plus": (infused, crs_grade3plus),
    "icans_any": (infused, icans_any),
    "hsct_rate": (infused, transplanted),
    "agvhd_grade2plus": (transplanted, agvhd_grade2plus),
    "agvhd_grade3plus": (transplanted, agvhd_grade3plus),
    "cgvhd": (transplanted, cgvhd),
    "relapse_cd7_negative_share": (relapsed, relapse_cd7_negative),
    **{f"{exit_}_while_waiting": (everyone, functools.partial(left_while_waiting, exit_=exit_))
       for exit_ in WAITING_EXITS[1:]},
}
"""Proportion metrics of `summarise`: (population, event); the share of the population with the event."""


class _Count(NamedTuple):
    """A proportion kept as counts until it is known whether its own interval is needed."""

    successes: int
    trials: int


def _as_estimate(value: Estimate | _Count, own_intervals: bool) -> Estimate:
    """An estimate; a count becomes a proportion, with its Wilson interval if ``own_intervals``."""
    if not isinstance(value, _Count):
        return value
    if own_intervals or value.trials == 0:
        return proportion(value.successes, value.trials)
    return Estimate(value.successes / value.trials, _NAN, _NAN)


def _survival(c: Columns, endpoint: TimeToEvent) -> KMResult:
    """Kaplan–Meier estimate of ``endpoint`` (censored at ``last_day``)."""
    observed = endpoint.observe(c)
    return kaplan_meier(observed.time, observed.event)


def _incidence(c: Columns, endpoint: TimeToEvent, days: float) -> Estimate:
    """Aalen–Johansen cumulative incidence of ``endpoint``'s event by ``days`` from its origin."""
    observed = endpoint.observe(c)
    return cumulative_incidence(observed.time, observed.cause, EVENT).estimate_at(days)


class _Cohort:
    """The patients of one strategy and replication, with each Kaplan–Meier curve estimated once, when
    a metric first needs it."""

    def __init__(self, c: Columns) -> None:
        self.c = c
        self._curves: dict[TimeToEvent, KMResult] = {}

    def survival(self, endpoint: TimeToEvent) -> KMResult:
        """Kaplan–Meier estimate of ``endpoint`` (censored at ``last_day``)."""
        if endpoint not in self._curves:
            self._curves[endpoint] = _survival(self.c, endpoint)
        return self._curves[endpoint]


_Metric = Callable[[_Cohort], Estimate | _Count]
"""How one metric of `METRICS` is estimated from a cohort."""


def _share(population: Callable[[Columns], np.ndarray], event: Callable[[Columns], np.ndarray]) -> _Metric:
    """The share of ``population`` with ``event``, as counts."""
    def count(cohort: _Cohort) -> _Count:
        among = population(cohort.c)
        return _Count(int(np.count_nonzero(event(cohort.c)[among])), int(np.count_nonzero(among)))
    return count


def _survival_at(endpoint: TimeToEvent, days: float) -> _Metric:
    """Kaplan–Meier survival of ``endpoint`` at ``days`` from its origin."""
    return lambda cohort: cohort.survival(endpoint).estimate_at(days)


def _median_survival(endpoint: TimeToEvent) -> _Metric:
    """Median time (days) to ``endpoint``'s event, Kaplan–Meier."""
    return lambda cohort: cohort.survival(endpoint).median()


def _incidence_at(endpoint: TimeToEvent, days: float) -> _Metric:
    """Aalen–Johansen cumulative incidence of ``endpoint``'s event at ``days`` from its origin."""
    return lambda cohort: _incidence(cohort.c, endpoint, days)


def _median_days_infusion_to_hsct(cohort: _Cohort) -> Estimate:
    """Median days from infusion to HSCT among the infused patients transplanted."""
    c = cohort.c
    return median_with_ci(infusion_to_hsct_days(c)[infused(c) & transplanted(c)])


_METRIC_RULES: dict[str, _Metric] = {
    "n_patients": lambda cohort: Estimate(float(cohort.c["last_day"].size), _NAN, _NAN),
    **{name: _share(population, event) for name, (population, event) in PROPORTIONS.items()},
    "median_days_infusion_to_hsct": _median_days_infusion_to_hsct,
    "os_6m": _survival_at(OS_FROM_INFUSION, SIX_MONTHS_DAYS),
    "os_1y": _survival_at(OS_FROM_INFUSION, ONE_YEAR_DAYS),
    "os_2y": _survival_at(OS_FROM_INFUSION, TWO_YEARS_DAYS),
    "pfs_6m": _survival_at(PFS_FROM_INFUSION, SIX_MONTHS_DAYS),
    "pfs_1y": _survival_at(PFS_FROM_INFUSION, ONE_YEAR_DAYS),
    "median_os_days": _median_survival(OS_FROM_INFUSION),
    "median_pfs_days": _median_survival(PFS_FROM_INFUSION),
    "dfs_1y": _survival_at(DFS_FROM_INFUSION, ONE_YEAR_DAYS),
    "os_post_hsct_2y": _survival_at(OS_FROM_HSCT, TWO_YEARS_DAYS),
    "lfs_post_hsct_2y": _survival_at(LFS_FROM_HSCT, TWO_YEARS_DAYS),
    "nrm_post_hsct_2y": _incidence_at(NRM_FROM_HSCT, TWO_YEARS_DAYS),
    "cir_post_hsct_2y": _incidence_at(CIR_FROM_HSCT, TWO_YEARS_DAYS),
    "itt_os_1y": _survival_at(OS_FROM_ENROLMENT, ONE_YEAR_DAYS),
    "itt_os_2y": _survival_at(OS_FROM_ENROLMENT, TWO_YEARS_DAYS),
}
"""How each metric of `METRICS` is estimated, by name."""


def _cohort_metrics(c: Columns, own_intervals: bool, metrics: tuple[str, ...]) -> list[Estimate]:
    """The ``metrics`` (names of `METRICS`), in order, for one strategy and replication.

    Proportions get their Wilson interval only if ``own_intervals``; survival estimates always carry
    theirs.
    """
    cohort = _Cohort(c)
    return [_as_estimate(_METRIC_RULES[name](cohort), own_intervals) for name in metrics]


def strategy_groups(patients: pd.DataFrame) -> Iterator[tuple[str, str, list[np.ndarray]]]:
    """(scenario, strategy, row positions per replication) in order of first appearance of each pair."""
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


def cohort_estimates(columns: Columns, replications: list[np.ndarray], metrics: tuple[str, ...] = METRICS) -> list[Estimate]:
    """The ``metrics``, in order, for the patients of one scenario and strategy, as the summary gives them.

    Parameters
    ----------
    columns : Columns
        The patients (see `patient_columns`), of this strategy or more.
    replications : list of numpy.ndarray
        Positions in ``columns`` of the patients of each replication; a replication may hold none.
    metrics : tuple of str
        Names of `METRICS` (default: all of them); only these are estimated.

    Returns
    -------
    list of Estimate
        With one replication, each estimator's own 95% interval; with several, the mean of the
        per-replication values and its Monte Carlo 95% interval (`replication_interval`). ``NaN`` where
        a denominator is empty. Proportions are fractions 0–1, times days.
    """
    own_intervals = len(replications) == 1
    per_replication = [_cohort_metrics(subset(columns, rows), own_intervals, metrics) for rows in replications]
    if own_intervals:
        return per_replication[0]
    return [_within_range(metric, replication_interval([values[i].estimate for values in per_replication]))
            for i, metric in enumerate(metrics)]


DAY_METRICS: frozenset[str] = frozenset({"n_patients", "median_days_infusion_to_hsct", "median_os_days", "median_pfs_days"})
"""The metrics of `METRICS` that are counts or days; every other one is a fraction 0–1."""


def _within_range(metric: str, estimate: Estimate) -> Estimate:
    """A Monte Carlo interval cut to what the metric can be (0–1 for a fraction, >= 0 for days): with few
    replications mean ± t·sd/√k can overshoot, which says nothing more than the bound itself."""
    high = np.inf if metric in DAY_METRICS else 1.0
    return Estimate(estimate.estimate, float(np.clip(estimate.lower, 0.0, high)), float(np.clip(estimate.upper, 0.0, high)))


def summarise(patients: pd.DataFrame) -> pd.DataFrame:
    """Summary endpoints per scenario and strategy.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (columns of `sim.inputs.codes.PATIENT_COLUMNS`); days count from enrolment.

    Returns
    -------
    pandas.DataFrame
        Columns `sim.inputs.codes.SUMMARY_COLUMNS`, one row per (scenario, strategy, metric of `METRICS`),
        pairs in order of first appearance. Proportions (`PROPORTIONS`) are fractions 0–1, times are
        days; survival and incidence metrics use the `TimeToEvent` endpoints of this module. With one
        replication the interval is each estimator's own 95% CI (Wilson, Kaplan–Meier log-log,
        Aalen–Johansen log(-log), order-statistic for the median time to HSCT, Brookmeyer–Crowley for
        median survival; none for ``n_patients``). With several replications the estimate is the mean
        of the per-replication values and the interval the Monte Carlo 95% CI of that mean
        (see `replication_interval`), cut to 0–1 for fractions and at 0 for days. Empty denominators give ``NaN``.
    """
    missing = [column for column in PATIENT_COLUMNS if column not in patients.columns]
    if missing:
        raise ValueError(f"patients table lacks columns {missing}")
    columns = patient_columns(patients)
    records = []
    for scenario, strategy, replications in strategy_groups(patients):
        estimates = cohort_estimates(columns, replications)
        records += [(scenario, strategy, metric, *estimate) for metric, estimate in zip(METRICS, estimates)]
    return pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS)).astype(
        {"estimate": float, "lower": float, "upper": float},
    )
