"""Study replays: simulate a published study as it was run, and measure what it measured.

A study scenario (``scenarios/studies/*.yaml``) carries a :class:`sim.inputs.scenario.StudyDesign`: who
the study reported on, the time origin of its endpoints and its follow-up. This module simulates
the study's strategy with the cohort engine, keeps the patients the study would have reported, and
computes each calibration target two ways. Populations, events, time origins and censoring are those
of :mod:`sim.outcomes.endpoints` (the summary of a run uses the same definitions); this module only says
which of them each target's metric is, and among which reported patients:

- :func:`expected_probability` — the model's probability for the target, from a large simulated
  population with complete follow-up (used by the likelihood);
- :func:`study_estimate` — what the study would have reported from ``size`` patients with its own
  censoring (Kaplan–Meier, Aalen–Johansen), so small-sample noise shows (used by validation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.disease.draws import PatientDraws, uniform_stream
from sim.disease.patients import PatientAttributes, build_cohort
from sim.inputs.errors import InputError
from sim.inputs.parameters import ParameterSet
from sim.inputs.paths import SCENARIOS_DIR, TARGETS_PATH
from sim.inputs.scenario import Scenario, load_scenario
from sim.inputs.validation import first_error
from sim.outcomes.endpoints import (
    EVENT,
    ORIGINS,
    OS_FROM_HSCT,
    Columns,
    Events,
    TimeToEvent,
    agvhd_grade2plus,
    autologous_recovery,
    cgvhd,
    crs_any,
    crs_grade3plus,
    crs_mild,
    death,
    death_before_relapse,
    icans_any,
    in_complete_response,
    infused,
    mrd_negative_cr,
    progression_or_death,
    relapse_before_death,
    relapse_or_death,
    transplanted,
)
from sim.outcomes.estimators import cumulative_incidence, kaplan_meier
from sim.simulation.runner import follow_strategy

STUDIES_DIR = SCENARIOS_DIR / "studies"


class Target(BaseModel):
    """One calibration target (a row of ``calibration/targets.csv``).

    Attributes
    ----------
    study, metric : str
        Which study scenario, and which quantity (see :data:`METRICS`).
    value : float
        Reported value (a proportion, a survival or incidence probability, or a median in days).
    lower, upper : float, optional
        Reported 95% confidence interval.
    n : int
        Patients the figure rests on.
    events : float, optional
        Patients with the event, for counts.
    time_days : float, optional
        Time point of survival-type figures, days from ``origin``.
    origin : {"infusion", "hsct"}
    evidence_id : str
    likelihood : {"binomial", "km", "median"}
        Binomial on counts; Kaplan–Meier or cumulative-incidence figures as binomial with an
        effective sample size (from the CI when reported, else ``n``); a median as "half the
        patients had the event by the reported median".
    note : str
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    study: str
    metric: str
    value: float
    lower: float | None = None
    upper: float | None = None
    n: int = Field(ge=1)
    events: float | None = None
    time_days: float | None = None
    origin: str
    evidence_id: str
    likelihood: str
    note: str | None = None

    @property
    def label(self) -> str:
        return f"{self.study}:{self.metric}"

    def effective_counts(self) -> tuple[float, float]:
        """``(events, trials)`` for the binomial likelihood of this target."""
        if self.likelihood == "binomial":
            assert self.events is not None, f"binomial target {self.label} without events"
            return float(self.events), float(self.n)
        if self.likelihood == "median":
            return 0.5 * self.n, float(self.n)
        if self.lower is not None and self.upper is not None:
            standard_error = (self.upper - self.lower) / (2 * 1.959964)
            trials = self.value * (1 - self.value) / standard_error**2
            return self.value * trials, trials
        return self.value * self.n, float(self.n)

    @property
    def days(self) -> float:
        """``time_days``, which a target of a time-bound metric has."""
        assert self.time_days is not None, f"target {self.label} without time_days"
        return self.time_days

    @property
    def modelled_value(self) -> float:
        """The probability the model must match: the value, or 0.5 for a median."""
        return 0.5 if self.likelihood == "median" else self.value


def load_targets(path: str | Path = TARGETS_PATH) -> list[Target]:
    """Read and validate the calibration targets.

    Raises
    ------
    InputError
        For a missing file or an invalid row.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise InputError("targets file", str(path), "an existing CSV file is required") from None
    targets = []
    for row, record in enumerate(frame.to_dict("records"), start=2):
        clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()}
        try:
            target = Target.model_validate(clean)
        except ValidationError as error:
            field, value, allowed = first_error(error)
            raise InputError(f"{path.name} line {row}: {field}", value, allowed) from None
        if target.metric not in METRICS:
            raise InputError(f"{path.name} line {row}: metric", target.metric, "one of " + ", ".join(METRICS))
        if target.likelihood not in ("binomial", "km", "median"):
            raise InputError(f"{path.name} line {row}: likelihood", target.likelihood, "binomial, km or median")
        targets.append(target)
    return targets


def load_studies(names: list[str]) -> dict[str, Scenario]:
    """The study scenarios ``scenarios/studies/<name>.yaml``."""
    studies = {}
    for name in names:
        scenario = load_scenario(STUDIES_DIR / f"{name}.yaml")
        if scenario.study is None or len(scenario.strategies) != 1:
            raise InputError(f"{name}.yaml", name, "a study scenario needs a study section and exactly one strategy")
        studies[name] = scenario
    return studies


@dataclass
class StudyCohort:
    """The simulated patients of one study replication, drawn once and reused for every parameter set."""

    scenario: Scenario
    replication: int
    draws: PatientDraws
    attributes: PatientAttributes

    @classmethod
    def draw(cls, scenario: Scenario, replication: int = 0, patients: int | None = None) -> StudyCohort:
        n = patients or scenario.patients
        assert n is not None, "a study replay is a closed cohort"
        draws = PatientDraws(scenario.seed, replication, n)
        return cls(scenario, replication, draws, build_cohort(scenario.case_mix, draws))

    def simulate(self, params: ParameterSet) -> dict[str, np.ndarray]:
        """Resolved course columns of every simulated patient (see `sim.outcomes.endpoints.Columns`),
        plus ``selected``: the patients the study reported on (its ``population``)."""
        scenario = self.scenario
        assert scenario.study is not None, "a study replay has a study section (load_studies)"
        _, course = follow_strategy(params, scenario.strategies[0], self.attributes, self.draws, scenario, "cohort")
        columns = dict(course.columns)
        if scenario.study.population == "infused":
            columns["selected"] = infused(columns)
        else:
            columns["selected"] = _transplanted_in_cr(columns)
        return columns

    def follow_up_end(self, columns: Columns) -> np.ndarray:
        """Day (from enrolment) on which each patient's follow-up ends: uniform in the study's window
        after its time origin (administrative censoring from staggered entry)."""
        study = self.scenario.study
        assert study is not None, "a study replay has a study section (load_studies)"
        window = study.follow_up_days
        u = uniform_stream(self.scenario.seed, self.replication, "u_follow_up", self.attributes.n)
        return ORIGINS[study.origin](columns) + window.low + u * (window.high - window.low)


SURVIVAL: dict[str, Callable[[Columns, np.ndarray], Events]] = {
    "os": death, "pfs": progression_or_death, "lfs": relapse_or_death, "nrm": death_before_relapse,
    "cir": relapse_before_death, "median_os": death, "median_pfs": progression_or_death,
    "os_hsct": death, "os_no_hsct": death, "pfs_hsct": progression_or_death, "pfs_no_hsct": progression_or_death,
}
"""Survival-type metrics and the first event each counts (from the target's ``origin``)."""
INCIDENCES = {"nrm", "cir"}
"""Metrics that are a cumulative incidence (competing risks), not a survival probability."""
EVENT_BY_TIME = {"median_os", "median_pfs"}
"""Metrics whose modelled probability is that of the event (not of surviving it) by the time point."""


def _endpoint(target: Target) -> TimeToEvent:
    """The time-to-event endpoint of a survival-type ``target``."""
    return TimeToEvent(target.origin, SURVIVAL[target.metric])


def _transplanted_in_cr(c: Columns) -> np.ndarray:
    return in_complete_response(c) & transplanted(c)


def _in_cr_not_transplanted(c: Columns) -> np.ndarray:
    return in_complete_response(c) & ~transplanted(c)


SUBPOPULATIONS: dict[str, Callable[[Columns], np.ndarray]] = {
    "hsct_among_cr": in_complete_response,
    "early_death_after_hsct": transplanted, "autologous_recovery": transplanted, "cgvhd": transplanted,
    "os_hsct": _transplanted_in_cr, "pfs_hsct": _transplanted_in_cr,
    "os_no_hsct": _in_cr_not_transplanted, "pfs_no_hsct": _in_cr_not_transplanted,
}
"""Metrics counted among some of the reported patients only, and which."""


def _population(columns: Columns, metric: str) -> np.ndarray:
    """Patients in the denominator of ``metric``, among those the study reported."""
    among = SUBPOPULATIONS.get(metric)
    return columns["selected"] if among is None else columns["selected"] & among(columns)


PROPORTIONS: dict[str, Callable[[Columns, Target], np.ndarray]] = {
    "cr": lambda c, t: in_complete_response(c),
    "mrd_negative": lambda c, t: mrd_negative_cr(c),
    "crs_any": lambda c, t: crs_any(c),
    "crs_grade3plus": lambda c, t: crs_grade3plus(c),
    "crs_mild": lambda c, t: crs_mild(c),
    "icans_any": lambda c, t: icans_any(c),
    "hsct": lambda c, t: transplanted(c),
    "hsct_among_cr": lambda c, t: transplanted(c),
    "autologous_recovery": lambda c, t: autologous_recovery(c),
    "agvhd_grade2plus": lambda c, t: agvhd_grade2plus(c),
    "cgvhd": lambda c, t: cgvhd(c),
    "early_death_after_hsct": lambda c, t: OS_FROM_HSCT.within(c, t.days),
}
"""Count metrics: which patients of the denominator have the event (``early_death_after_hsct``:
death within the target's ``time_days`` of HSCT)."""

METRICS: tuple[str, ...] = (*PROPORTIONS, *SURVIVAL)


def _denominator(columns: Columns, target: Target) -> np.ndarray:
    """Patients in ``target``'s denominator; for survival-type metrics only those who reached its origin."""
    population = _population(columns, target.metric)
    if target.metric in SURVIVAL:
        population = population & _endpoint(target).population(columns)
    return population


def _share(flags: np.ndarray, population: np.ndarray) -> float:
    """Share of the (non-empty) ``population`` with ``flags`` set."""
    return np.count_nonzero(flags & population) / np.count_nonzero(population)


def _counted(columns: Columns, target: Target) -> tuple[np.ndarray, float | None]:
    """The denominator of ``target``, and the answer when no survival estimator is needed: NaN for an
    empty denominator, the share with the event for a count metric, else ``None``."""
    population = _denominator(columns, target)
    if not population.any():
        return population, float("nan")
    if target.metric in PROPORTIONS:
        return population, _share(PROPORTIONS[target.metric](columns, target), population)
    return population, None


def expected_probability(columns: Columns, target: Target) -> float:
    """The model's probability for ``target`` from a simulated population with complete follow-up.

    Returns
    -------
    float
        NaN if the population is empty.
    """
    population, share = _counted(columns, target)
    if share is not None:
        return share
    share = _share(_endpoint(target).within(columns, target.days), population)
    return share if target.metric in INCIDENCES or target.metric in EVENT_BY_TIME else 1.0 - share


def study_estimate(columns: Columns, follow_up_end: np.ndarray, target: Target, size: int) -> float:
    """What the study would have reported for ``target`` from its first ``size`` reported patients,
    censored at the end of their follow-up (Kaplan–Meier / Aalen–Johansen for survival-type metrics,
    the Kaplan–Meier median for medians).

    Returns
    -------
    float
        NaN if the population is empty or the estimate is undefined (for example a median not reached).
    """
    reported = np.flatnonzero(columns["selected"])[:size]
    sample = {name: values[reported] for name, values in columns.items()}
    return _estimate(sample, follow_up_end[reported], target)


def _estimate(sample: Columns, follow_up_end: np.ndarray, target: Target) -> float:
    population, share = _counted(sample, target)
    if share is not None:
        return share
    observed = _endpoint(target).observe(sample, population, np.minimum(follow_up_end, sample["last_day"]))
    if target.metric in INCIDENCES:
        return float(cumulative_incidence(observed.time, observed.cause, EVENT).incidence_at(target.days))
    curve = kaplan_meier(observed.time, observed.event)
    if target.metric in EVENT_BY_TIME:
        return float(curve.median().estimate)
    return float(curve.survival_at(target.days))
