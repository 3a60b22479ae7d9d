"""Study replays: simulate a published study as it was run, and measure what it measured.

A study scenario (``scenarios/studies/*.yaml``) carries a :class:`sim.inputs.scenario.StudyDesign`: who
the study reported on, the time origin of its endpoints and its follow-up. This module simulates
the study's strategy with the cohort engine, keeps the patients the study would have reported, and
computes each calibration target two ways:

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

from sim.disease.cart import RESPONSE_CR_MRD_NEG, RESPONSE_CR_MRD_POS, RESPONSE_NONE
from sim.disease.draws import PatientDraws, uniform_stream
from sim.disease.patients import PatientAttributes, build_cohort
from sim.disease.transplant import CHIMERISM_AUTOLOGOUS
from sim.inputs.errors import InputError
from sim.inputs.parameters import ParameterSet
from sim.inputs.paths import SCENARIOS_DIR, TARGETS_PATH
from sim.inputs.scenario import Scenario, load_scenario
from sim.inputs.validation import first_error
from sim.outcomes.estimators import cumulative_incidence, kaplan_meier
from sim.simulation.runner import follow_strategy

STUDIES_DIR = SCENARIOS_DIR / "studies"

Columns = dict[str, np.ndarray]


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
            return float(self.events), float(self.n)
        if self.likelihood == "median":
            return 0.5 * self.n, float(self.n)
        if self.lower is not None and self.upper is not None:
            standard_error = (self.upper - self.lower) / (2 * 1.959964)
            trials = self.value * (1 - self.value) / standard_error**2
            return self.value * trials, trials
        return self.value * self.n, float(self.n)

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
        draws = PatientDraws(scenario.seed, replication, n)
        return cls(scenario, replication, draws, build_cohort(scenario.case_mix, draws))

    def simulate(self, params: ParameterSet) -> Columns:
        """Resolved course columns of every simulated patient, plus ``selected`` and ``origin_day``."""
        scenario = self.scenario
        _, course = follow_strategy(params, scenario.strategies[0], self.attributes, self.draws, scenario, "cohort")
        columns = dict(course.columns)
        in_cr = np.isin(columns["response"], (RESPONSE_CR_MRD_NEG, RESPONSE_CR_MRD_POS))
        design = scenario.study
        columns["selected"] = columns["infused"] if design.population == "infused" else (in_cr & columns["hsct"])
        columns["in_cr"] = in_cr
        return columns

    def follow_up_end(self, columns: Columns) -> np.ndarray:
        """Day (from enrolment) on which each patient's follow-up ends: uniform in the study's window
        after its time origin (administrative censoring from staggered entry)."""
        window = self.scenario.study.follow_up_days
        u = uniform_stream(self.scenario.seed, self.replication, "u_follow_up", self.attributes.n)
        origin = columns["hsct_day"] if self.scenario.study.origin == "hsct" else columns["infusion_day"]
        return origin + window.low + u * (window.high - window.low)


def _origin(columns: Columns, target: Target) -> np.ndarray:
    return columns["hsct_day"] if target.origin == "hsct" else columns["infusion_day"]


def _first_day(*days: np.ndarray) -> np.ndarray:
    return np.fmin.reduce(np.stack(days), axis=0)


def _event_days(columns: Columns, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Day of the first event of ``kind`` (NaN if none) and its cause code (1 = the event of
    interest, 2 = a competing event) for survival-type metrics."""
    death = columns["death_day"]
    relapse = columns["relapse_day"]
    if kind == "os":
        return death, np.ones(death.shape, dtype=np.int8)
    if kind == "pfs":
        progression = np.where(columns["response"] == RESPONSE_NONE, columns["response_day"], np.nan)
        return _first_day(progression, relapse, death), np.ones(death.shape, dtype=np.int8)
    if kind == "lfs":
        return _first_day(relapse, death), np.ones(death.shape, dtype=np.int8)
    first = _first_day(relapse, death)
    relapsed_first = ~np.isnan(relapse)
    interest = relapsed_first if kind == "cir" else ~relapsed_first
    return first, np.where(interest, 1, 2).astype(np.int8)


SURVIVAL_KINDS = {"os": "os", "pfs": "pfs", "lfs": "lfs", "nrm": "nrm", "cir": "cir", "median_os": "os",
                  "median_pfs": "pfs", "os_hsct": "os", "os_no_hsct": "os", "pfs_hsct": "pfs", "pfs_no_hsct": "pfs"}
"""Survival-type metrics and the event they count."""
INCIDENCE_KINDS = {"nrm", "cir"}
EVENT_BY_TIME = {"median_os", "median_pfs"}
"""Metrics whose modelled probability is that of the event (not of surviving it) by the time point."""


def _population(columns: Columns, metric: str) -> np.ndarray:
    """Patients in the denominator of ``metric``, among those the study reported."""
    selected = columns["selected"]
    transplanted = selected & columns["hsct"]
    return {
        "hsct_among_cr": selected & columns["in_cr"],
        "early_death_after_hsct": transplanted, "autologous_recovery": transplanted, "cgvhd": transplanted,
        "os_hsct": transplanted & columns["in_cr"], "pfs_hsct": transplanted & columns["in_cr"],
        "os_no_hsct": selected & columns["in_cr"] & ~columns["hsct"],
        "pfs_no_hsct": selected & columns["in_cr"] & ~columns["hsct"],
    }.get(metric, selected)


PROPORTIONS: dict[str, Callable[[Columns, Target], np.ndarray]] = {
    "cr": lambda c, t: c["in_cr"],
    "mrd_negative": lambda c, t: c["response"] == RESPONSE_CR_MRD_NEG,
    "crs_any": lambda c, t: c["crs_grade"] >= 1,
    "crs_grade3plus": lambda c, t: c["crs_grade"] >= 3,
    "crs_mild": lambda c, t: (c["crs_grade"] >= 1) & (c["crs_grade"] <= 2),
    "icans_any": lambda c, t: c["icans_grade"] >= 1,
    "hsct": lambda c, t: c["hsct"],
    "hsct_among_cr": lambda c, t: c["hsct"],
    "autologous_recovery": lambda c, t: c["chimerism"] == CHIMERISM_AUTOLOGOUS,
    "agvhd_grade2plus": lambda c, t: c["agvhd_grade"] >= 2,
    "cgvhd": lambda c, t: c["cgvhd"],
    "early_death_after_hsct": lambda c, t: c["death"] & (c["death_day"] - c["hsct_day"] <= t.time_days),
}
"""Count metrics: which patients of the denominator have the event (``early_death_after_hsct``
within the target's ``time_days`` of HSCT)."""

METRICS: tuple[str, ...] = (*PROPORTIONS, *SURVIVAL_KINDS)


def _denominator(columns: Columns, target: Target) -> np.ndarray:
    """Patients in ``target``'s denominator; for survival-type metrics only those who reached its origin."""
    population = _population(columns, target.metric)
    if target.metric in SURVIVAL_KINDS:
        population = population & ~np.isnan(_origin(columns, target))
    return population


def _counted(columns: Columns, target: Target) -> tuple[np.ndarray, float | None]:
    """The denominator of ``target``, and the answer when no survival estimator is needed: NaN for an
    empty denominator, the share with the event for a count metric, else ``None``."""
    population = _denominator(columns, target)
    if not population.any():
        return population, float("nan")
    if target.metric in PROPORTIONS:
        return population, float(PROPORTIONS[target.metric](columns, target)[population].mean())
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
    kind = SURVIVAL_KINDS[target.metric]
    day, cause = _event_days(columns, kind)
    by_time = (day - _origin(columns, target) <= target.time_days) & (cause == 1)
    share = float(by_time[population].mean())
    return share if kind in INCIDENCE_KINDS or target.metric in EVENT_BY_TIME else 1.0 - share


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
    kind = SURVIVAL_KINDS[target.metric]
    day, cause = _event_days(sample, kind)
    origin = _origin(sample, target)[population]
    end = np.minimum(follow_up_end[population], sample["last_day"][population])
    event_day = day[population]
    observed = ~np.isnan(event_day) & (event_day <= end)
    time = np.where(observed, event_day, end) - origin
    if kind in INCIDENCE_KINDS:
        return float(cumulative_incidence(time, np.where(observed, cause[population], 0), 1).incidence_at(target.time_days))
    curve = kaplan_meier(time, observed)
    if target.metric in EVENT_BY_TIME:
        return float(curve.median().estimate)
    return float(curve.survival_at(target.time_days))
