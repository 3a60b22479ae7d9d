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
  censoring (Kaplan–Meier, Aalen–Johansen), so small-sample noise shows (used by validation); given a
  :class:`CohortRate`, what a new cohort with its own true rate would have reported (between-study
  variation, :mod:`sim.calibration.heterogeneity`).

A target may be about a subgroup of the reported patients (``subgroup``, for example ``age < 15``):
its population is then the patients of that subgroup only (see :class:`Subgroup`).

:func:`load_targets`, :func:`load_studies` and :func:`load_cohort` read the shipped targets and study
scenarios or a researcher's own, and refuse bad input with one line (:class:`InputError`).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim.disease import one_pass
from sim.disease.course import outcome_columns, plan_course
from sim.disease.draws import PatientDraws, uniform_stream
from sim.disease.patients import PatientAttributes, build_cohort
from sim.disease.steps import product_source
from sim.engines.cohort import simulate_services
from sim.inputs.errors import MISSING, InputError, unreadable
from sim.inputs.parameters import ParameterSet
from sim.inputs.paths import SCENARIOS_DIR, TARGETS_PATH
from sim.inputs.scenario import Scenario, load_scenario
from sim.inputs.validation import first_error, key_list
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
from sim.outcomes.estimators import cumulative_incidence, incidence_at_batch, kaplan_meier, survival_at_batch

_T = TypeVar("_T")
STUDIES_DIR = SCENARIOS_DIR / "studies"
"""The shipped study replays (one ``NAME.yaml`` per study)."""

SUBGROUP_ATTRIBUTES: dict[str, str] = {"age": "years", "marrow_blasts": "percent"}
"""Patient attributes a target's subgroup may restrict (unit of each)."""
_COMPARISONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_SUBGROUP = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|<|>)\s*(\S+)\s*$")
SUBGROUP_ALLOWED = (f"ATTRIBUTE OP NUMBER is required, ATTRIBUTE one of {', '.join(SUBGROUP_ATTRIBUTES)}, "
                    f"OP one of {', '.join(_COMPARISONS)} (e.g. 'age < 15')")


@dataclass(frozen=True)
class Subgroup:
    """Reported patients whose attribute compares with a threshold, e.g. ``age < 15`` (years) or
    ``marrow_blasts <= 20`` (percent before treatment).

    Attributes
    ----------
    attribute : {"age", "marrow_blasts"}
    comparison : {"<", "<=", ">", ">="}
    threshold : float
        In the attribute's unit (:data:`SUBGROUP_ATTRIBUTES`).
    """

    attribute: str
    comparison: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Subgroup:
        """Read ``ATTRIBUTE OP NUMBER``.

        Raises
        ------
        ValueError
            Saying what is allowed (:data:`SUBGROUP_ALLOWED`).
        """
        match = _SUBGROUP.match(text)
        if match is None or match.group(1) not in SUBGROUP_ATTRIBUTES or match.group(2) not in _COMPARISONS:
            raise ValueError(SUBGROUP_ALLOWED)
        try:
            threshold = float(match.group(3))
        except ValueError:
            raise ValueError(SUBGROUP_ALLOWED) from None
        if not math.isfinite(threshold):
            raise ValueError(SUBGROUP_ALLOWED.replace("NUMBER is", "NUMBER (finite) is"))
        return cls(match.group(1), match.group(2), threshold)

    def members(self, columns: Columns) -> np.ndarray:
        """Which patients of ``columns`` (which hold the attribute) belong to the subgroup."""
        return _COMPARISONS[self.comparison](columns[self.attribute], self.threshold)


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
        patients had the event by the reported median". Rates that vary between studies
        (:data:`sim.calibration.heterogeneity.BETWEEN_STUDY_METRICS`) take the beta-binomial instead.
    note : str
    subgroup : str, optional
        The reported patients the figure is about, ``ATTRIBUTE OP NUMBER`` (see :class:`Subgroup`);
        empty for all of them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

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
    subgroup: str | None = None

    @field_validator("subgroup")
    @classmethod
    def _subgroup_parses(cls, value: str | None) -> str | None:
        if value is not None:
            Subgroup.parse(value)
        return value

    @property
    def label(self) -> str:
        where = f"[{self.subgroup}]" if self.subgroup else ""
        return f"{self.study}:{self.metric}{where}"

    @property
    def among(self) -> Subgroup | None:
        """The subgroup the figure is about, or None for every reported patient."""
        return None if self.subgroup is None else Subgroup.parse(self.subgroup)

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


TARGET_COLUMNS: tuple[str, ...] = tuple(Target.model_fields)
"""Columns of a targets file (``calibration/targets.csv``), in order."""
REQUIRED_TARGET_COLUMNS: tuple[str, ...] = tuple(name for name, field in Target.model_fields.items() if field.is_required())
"""Columns every targets file must have."""
NUMERIC_TARGET_COLUMNS: tuple[str, ...] = ("value", "lower", "upper", "n", "events", "time_days")
LIKELIHOODS: tuple[str, ...] = ("binomial", "km", "median")


def _number(text: str) -> int | float | str:
    """A cell of a numeric column as the number it spells (``nan``, ``inf`` included, so that they are
    refused as non-finite), or the text itself when it is no number."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def load_targets(path: str | Path = TARGETS_PATH, studies: Sequence[str] | None = None,
                 studies_dir: str | Path | None = None) -> list[Target]:
    """Read and validate calibration targets (``calibration/targets.csv`` or a researcher's own file of
    the same columns).

    Parameters
    ----------
    path : str or Path
        CSV file, one target a row (columns :data:`TARGET_COLUMNS`; :data:`REQUIRED_TARGET_COLUMNS` required).
    studies : sequence of str, optional
        Study names a target may name (default: any).
    studies_dir : str or Path, optional
        Where those studies' files are (named in the message when a target names another study).

    Raises
    ------
    InputError
        For a missing or unreadable file, an unknown or missing column, no rows, or an invalid row: a
        value that is not a finite number, an unknown metric, likelihood, origin or study, a probability
        outside 0-1, events beyond ``n``, a survival figure without ``time_days``, a bad subgroup, or a
        target given twice.
    """
    return [target for _, target in _read_targets(Path(path), studies, studies_dir)]


def _read_targets(path: Path, studies: Sequence[str] | None, studies_dir: str | Path | None) -> list[tuple[int, Target]]:
    """The targets of ``path`` with the file line each was read from."""
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    except FileNotFoundError:
        raise InputError("targets file", str(path), "an existing CSV file is required") from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise InputError("targets file", str(path), f"a readable CSV file is required ({unreadable(error, 'not CSV')})") from None
    for column in frame.columns:
        if column not in TARGET_COLUMNS:
            raise InputError(f"{path.name}: column", column, f"one of {', '.join(TARGET_COLUMNS)} is allowed")
    for column in REQUIRED_TARGET_COLUMNS:
        if column not in frame.columns:
            raise InputError(f"{path.name}: column {column}", MISSING,
                             f"the columns {', '.join(REQUIRED_TARGET_COLUMNS)} are required")
    if frame.empty:
        raise InputError("targets file", str(path), "at least one target (row) is required")
    targets: list[tuple[int, Target]] = []
    seen: dict[tuple, int] = {}
    for row, record in enumerate(frame.to_dict("records"), start=2):
        where = f"{path.name} line {row}"
        clean = {k: (_number(v) if k in NUMERIC_TARGET_COLUMNS else v) for k, v in record.items() if isinstance(v, str)}
        try:
            target = Target.model_validate(clean)
        except ValidationError as error:
            field, value, allowed = first_error(error, Target)
            raise InputError(f"{where}: {field}", value, allowed) from None
        _check_target(target, where, studies, studies_dir)
        key = (target.study, target.metric, target.time_days, target.subgroup)
        if key in seen:
            raise InputError(f"{where}: metric", target.metric, f"a target given once is required (line {seen[key]} "
                             "has the same study, metric, time_days and subgroup)")
        seen[key] = row
        targets.append((row, target))
    return targets


def _check_target(target: Target, where: str, studies: Sequence[str] | None, studies_dir: str | Path | None) -> None:
    """Refuse a target the replays cannot evaluate or the likelihood cannot use (one line each)."""
    t = target
    if studies is not None and t.study not in studies:
        folder = f" in {studies_dir}" if studies_dir is not None else ""
        raise InputError(f"{where}: study", t.study, f"the name of a study file (NAME.yaml){folder} is required: "
                         f"{key_list(sorted(studies))}")
    if t.metric not in METRICS:
        raise InputError(f"{where}: metric", t.metric, "one of " + ", ".join(METRICS))
    if t.likelihood not in LIKELIHOODS:
        raise InputError(f"{where}: likelihood", t.likelihood, "binomial, km or median")
    if t.origin not in ("infusion", "hsct"):
        raise InputError(f"{where}: origin", t.origin, "infusion or hsct")
    expected = "median" if t.metric in EVENT_BY_TIME else "km" if t.metric in SURVIVAL else "binomial"
    if t.likelihood != expected:
        raise InputError(f"{where}: likelihood", t.likelihood, f"{expected} for the metric {t.metric}")
    if t.metric in EVENT_BY_TIME:
        if not t.value > 0:
            raise InputError(f"{where}: value", t.value, "a median in days, more than 0, is required")
    elif not 0.0 <= t.value <= 1.0:
        raise InputError(f"{where}: value", t.value, "a proportion between 0 and 1 is required")
    for name, bound in (("lower", t.lower), ("upper", t.upper)):
        if bound is not None and not 0.0 <= bound <= 1.0:
            raise InputError(f"{where}: {name}", bound, "a proportion between 0 and 1 is required")
    interval = "lower and upper both empty, or both given with lower <= value <= upper, is required"
    if t.lower is None and t.upper is not None:
        raise InputError(f"{where}: lower", MISSING, interval)
    if t.upper is None and t.lower is not None:
        raise InputError(f"{where}: upper", MISSING, interval)
    if t.lower is not None and t.upper is not None and not t.lower <= t.value <= t.upper:
        raise InputError(f"{where}: lower", t.lower, interval)
    if t.likelihood == "binomial":
        if t.events is None:
            raise InputError(f"{where}: events", MISSING, "events (patients with the event) are required for a binomial target")
        if not 0 <= t.events <= t.n:
            raise InputError(f"{where}: events", t.events, f"between 0 and n ({t.n}) is required")
    if (t.metric in SURVIVAL or t.metric == "early_death_after_hsct") and (t.time_days is None or not t.time_days > 0):
        raise InputError(f"{where}: time_days", MISSING if t.time_days is None else t.time_days,
                         f"days from {t.origin}, more than 0, are required for the metric {t.metric}")


def load_studies(names: Sequence[str], folder: str | Path = STUDIES_DIR) -> dict[str, Scenario]:
    """The study scenarios ``<folder>/<name>.yaml`` (default: the shipped ``scenarios/studies/``).

    Raises
    ------
    InputError
        For a missing or invalid file (the message names it), or a scenario that is not a study replay:
        a closed cohort of at least the study's size, with a ``study`` section and exactly one strategy.
    """
    studies = {}
    for name in names:
        path = Path(folder) / f"{name}.yaml"
        try:
            scenario = load_scenario(path)
        except InputError as error:
            if error.field == "scenario file":
                raise
            raise InputError(f"{path.name}: {error.field}", error.value, error.allowed) from None
        if scenario.study is None or len(scenario.strategies) != 1:
            raise InputError(f"{name}.yaml", name, "a study scenario needs a study section and exactly one strategy")
        if scenario.patients is None or scenario.patients < scenario.study.size:
            raise InputError(f"{name}.yaml: patients", scenario.patients if scenario.patients is not None else MISSING,
                             f"a closed cohort of at least the study's size ({scenario.study.size}) is required")
        studies[name] = scenario
    return studies


def study_names(folder: str | Path) -> list[str]:
    """Names of the study scenario files (``NAME.yaml``) in ``folder``.

    Raises
    ------
    InputError
        When ``folder`` is not an existing folder or holds no ``.yaml`` file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("--studies", str(folder), "an existing folder of study scenario files (NAME.yaml) is required")
    names = sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())
    if not names:
        raise InputError("--studies", str(folder), "a folder holding at least one study scenario file (NAME.yaml) is required")
    return names


def load_cohort(studies_dir: str | Path | None = None, targets_path: str | Path | None = None,
                ) -> tuple[dict[str, Scenario], list[Target]]:
    """Study replays and their targets, checked against each other: the shipped ones by default, or a
    researcher's own folder of study scenarios and targets file (either or both).

    Parameters
    ----------
    studies_dir : str or Path, optional
        Folder of study scenario files ``NAME.yaml`` (schema of ``scenarios/studies/*.yaml``); default
        the shipped ``scenarios/studies/``.
    targets_path : str or Path, optional
        Targets CSV (columns of ``calibration/targets.csv``); default the shipped one.

    Returns
    -------
    tuple
        ``(studies by name, targets)``: only the studies the targets name.

    Raises
    ------
    InputError
        For any bad input (see :func:`load_targets`, :func:`load_studies`, :func:`study_names`), or a
        target whose ``n`` exceeds its study's size.
    """
    folder = Path(studies_dir) if studies_dir is not None else STUDIES_DIR
    names = study_names(folder) if studies_dir is not None else None
    path = Path(targets_path) if targets_path is not None else TARGETS_PATH
    rows = _read_targets(path, names, studies_dir)
    studies = load_studies(sorted({t.study for _, t in rows}), folder)
    for row, target in rows:
        study = studies[target.study].study
        assert study is not None, "load_studies checks the study section"
        if target.n > study.size:
            raise InputError(f"{path.name} line {row}: n", target.n,
                             f"at most the size of the study {target.study} ({study.size} patients) is required")
    return studies, [target for _, target in rows]


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
        """Resolved course columns of every simulated patient that the endpoints read (the cohort engine's;
        see `sim.disease.course.outcome_columns` and `sim.outcomes.endpoints.Columns`),
        the attributes a subgroup may restrict (:data:`SUBGROUP_ATTRIBUTES`), and ``selected``: the
        patients the study reported on (its ``population``).

        The study scenario's own ``parameters:`` overrides, if any, apply on top of ``params``."""
        scenario = self.scenario
        assert scenario.study is not None, "a study replay has a study section (load_studies)"
        if scenario.parameters:
            params = params.with_overrides(scenario.parameters)
        strategy = scenario.strategies[0]
        if self.in_one_pass:  # the same columns, in one compiled pass
            columns = one_pass.outcome_columns(params, strategy, self.attributes, self.draws, scenario.horizon_days, self.source)
        else:
            plan = plan_course(params, strategy, self.attributes, self.draws)
            columns = outcome_columns(plan, simulate_services(plan, scenario.capacity), scenario.horizon_days)
        columns.update({name: getattr(self.attributes, name) for name in SUBGROUP_ATTRIBUTES})
        if scenario.study.population == "infused":
            columns["selected"] = infused(columns)
        else:
            columns["selected"] = _transplanted_in_cr(columns)
        return columns

    @cached_property
    def in_one_pass(self) -> bool:
        """Whether the replay takes :func:`sim.disease.one_pass.outcome_columns` (a strategy with a transplant, and
        nobody waiting), rather than the step-by-step passes."""
        return one_pass.covers(self.scenario.strategies[0]) and not self.scenario.capacity.limited()

    @cached_property
    def source(self) -> np.ndarray:
        """The CAR-T product each simulated patient gets under the study's strategy (:func:`product_source`: it does
        not depend on the parameters, so a replay works it out once)."""
        return product_source(self.scenario.strategies[0], self.attributes)

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
    return _time_to_event(target.origin, target.metric)


@lru_cache(maxsize=64)
def _time_to_event(origin: str, metric: str) -> TimeToEvent:
    """The time-to-event endpoint of a survival-type metric from ``origin`` (one object per pair)."""
    return TimeToEvent(origin, SURVIVAL[metric])


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


def _population(columns: Columns, target: Target) -> np.ndarray:
    """Patients in the denominator of ``target``'s metric, among those the study reported (and in its
    subgroup, if it has one)."""
    among = SUBPOPULATIONS.get(target.metric)
    population = columns["selected"] if among is None else columns["selected"] & among(columns)
    subgroup = target.among
    return population if subgroup is None else population & subgroup.members(columns)


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
    population = _population(columns, target)
    if target.metric in SURVIVAL:
        population = population & _endpoint(target).population(columns)
    return population


def _share(flags: np.ndarray, population: np.ndarray) -> float:
    """Share of the (non-empty) ``population`` with ``flags`` set."""
    return np.count_nonzero(flags & population) / np.count_nonzero(population)


def expected_probability(columns: Columns, target: Target) -> float:
    """The model's probability for ``target`` from a simulated population with complete follow-up: the
    proportion, the survival or cumulative incidence at ``time_days``, or (a median) the probability of
    the event by the reported median.

    Returns
    -------
    float
        NaN if the population is empty.
    """
    population = _denominator(columns, target)
    if not population.any():
        return float("nan")
    if target.metric in PROPORTIONS:
        return _share(PROPORTIONS[target.metric](columns, target), population)
    share = _share(_endpoint(target).within(columns, target.days), population)
    return share if target.metric in INCIDENCES or target.metric in EVENT_BY_TIME else 1.0 - share


def expected_probabilities(columns: Columns, targets: Sequence[Target]) -> np.ndarray:
    """:func:`expected_probability` of each of ``targets`` (all of one study) from the same simulated
    population, computed together: the populations, origins and events the targets share are computed
    once (the same operations as one target at a time, so the same numbers).

    Returns
    -------
    numpy.ndarray
        One probability per target, in order (NaN where the population is empty).
    """
    memo: dict[tuple, Any] = {}

    def once(key: tuple, compute: Callable[[], _T]) -> _T:
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    selected = columns["selected"]

    def population_of(target: Target, among: Callable[[Columns], np.ndarray] | None, endpoint: TimeToEvent | None,
                      ) -> tuple[np.ndarray, int]:
        """The target's denominator and its size (:func:`_denominator`, the same operations)."""
        population = selected if among is None else once(("among", among), lambda: selected & among(columns))
        subgroup = target.among
        if subgroup is not None:
            population = population & once(("subgroup", subgroup), lambda: subgroup.members(columns))
        if endpoint is not None:
            population = population & once(("origin", endpoint.origin), lambda: endpoint.population(columns))
        return population, int(np.count_nonzero(population))

    probabilities = np.empty(len(targets))
    for k, target in enumerate(targets):
        among = SUBPOPULATIONS.get(target.metric)
        survival = target.metric in SURVIVAL
        endpoint = _endpoint(target) if survival else None
        population, size = once(("population", among, target.subgroup, endpoint and endpoint.origin),
                                lambda: population_of(target, among, endpoint))
        if size == 0:
            probabilities[k] = float("nan")
            continue
        if endpoint is None:
            flags = PROPORTIONS[target.metric](columns, target)
            probabilities[k] = np.count_nonzero(flags & population) / size
            continue
        elapsed = once(("elapsed", endpoint.origin, endpoint.events), lambda: endpoint.elapsed(columns))
        within = endpoint.within(columns, target.days, elapsed)
        share = np.count_nonzero(within & population) / size
        probabilities[k] = share if target.metric in INCIDENCES or target.metric in EVENT_BY_TIME else 1.0 - share
    return probabilities


@dataclass(frozen=True)
class CohortRate:
    """A new cohort's own true rate for a target, beside the model's (between-study variation; see
    :mod:`sim.calibration.heterogeneity`).

    Attributes
    ----------
    expected : float
        The model's probability for the target (:func:`expected_probability`: a proportion, a survival
        or incidence probability, or for a median the probability of the event by the reported median).
    rate : float
        The cohort's own true value of that probability.
    uniforms : numpy.ndarray
        One uniform in (0, 1) per simulated patient (the columns' rows), to re-draw events.
    """

    expected: float
    rate: float
    uniforms: np.ndarray

    @property
    def shift(self) -> float:
        """``rate - expected``: how far the cohort's probability lies from the model's."""
        return self.rate - self.expected

    def recount(self, events: np.ndarray, population: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """Events of a proportion re-drawn at the cohort's rate: with rate below the model's, each event is
        kept with probability ``rate / expected``; above it, each non-event of the population becomes an
        event with probability ``(rate - expected) / (1 - expected)``. Patients who had the event with
        probability ``expected`` independently then have it with probability ``rate`` (the count is
        Binomial(population, rate)); at ``rate == expected`` nothing changes.
        """
        if self.rate < self.expected:
            return events & (uniforms < self.rate / self.expected)
        if self.rate > self.expected:
            return events | (population & (uniforms < self.shift / (1.0 - self.expected)))
        return events


def study_estimate(columns: Columns, follow_up_end: np.ndarray, target: Target, size: int,
                   cohort: CohortRate | None = None) -> float:
    """What the study would have reported for ``target`` from its first ``size`` reported patients,
    censored at the end of their follow-up (Kaplan–Meier / Aalen–Johansen for survival-type metrics,
    the Kaplan–Meier median for medians).

    Parameters
    ----------
    columns : Columns
        A simulated study (:meth:`StudyCohort.simulate`).
    follow_up_end : numpy.ndarray
        Day (from enrolment) each patient's follow-up ends.
    target : Target
    size : int
        Patients the study reported.
    cohort : CohortRate, optional
        The cohort's own true rate (between-study variation). A proportion's events are re-drawn at that
        rate (:meth:`CohortRate.recount`); a survival or incidence estimate is moved by
        :attr:`CohortRate.shift` (kept within 0-1); a median is read where the Kaplan–Meier curve
        crosses ``0.5 + shift`` (the curve moved down by the shift in the probability of the event).
        Default: the model's own rate.

    Returns
    -------
    float
        NaN if the population is empty or the estimate is undefined (for example a median not reached).
    """
    reported, sample, population = _reported(columns, target, size)
    if not population.any():
        return float("nan")
    if target.metric in PROPORTIONS:
        events = PROPORTIONS[target.metric](sample, target) & population
        if cohort is not None:
            events = cohort.recount(events, population, cohort.uniforms[reported])
        return _share(events, population)
    shift = 0.0 if cohort is None else cohort.shift
    observed = _endpoint(target).observe(sample, population, np.minimum(follow_up_end[reported], sample["last_day"]))
    if target.metric in INCIDENCES:
        estimate = float(cumulative_incidence(observed.time, observed.cause, EVENT).incidence_at(target.days))
        return estimate if shift == 0.0 else float(np.clip(estimate + shift, 0.0, 1.0))
    curve = kaplan_meier(observed.time, observed.event)
    if target.metric in EVENT_BY_TIME:
        if shift == 0.0:
            return float(curve.median().estimate)
        reached = np.flatnonzero(curve.survival <= 0.5 + shift)
        return float(curve.times[reached[0]]) if reached.size else float("nan")
    estimate = float(curve.survival_at(target.days))
    return estimate if shift == 0.0 else float(np.clip(estimate + shift, 0.0, 1.0))


def _reported(columns: Columns, target: Target, size: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The first ``size`` reported patients (their rows of ``columns``), their columns, and which of them
    are in ``target``'s denominator."""
    reported = np.flatnonzero(columns["selected"])[:size]
    sample = {name: values[reported] for name, values in columns.items()}
    return reported, sample, _denominator(sample, target)


Replay = tuple[Columns, np.ndarray, CohortRate | None]
"""A simulated study, the day each patient's follow-up ends and the cohort's own rate (the arguments of
:func:`study_estimate` but the target and size)."""


def study_estimates(replays: Sequence[Replay], target: Target, size: int) -> np.ndarray:
    """:func:`study_estimate` of ``target`` in each of several replays of its study, the same numbers; the
    Kaplan–Meier and Aalen–Johansen estimates at the target's time point of all replays computed together
    (:func:`sim.outcomes.estimators.survival_at_batch`, :func:`~sim.outcomes.estimators.incidence_at_batch`).

    Returns
    -------
    numpy.ndarray
        One estimate per replay, in order.
    """
    if target.metric not in SURVIVAL or target.metric in EVENT_BY_TIME:
        return np.array([study_estimate(columns, end, target, size, cohort) for columns, end, cohort in replays], dtype=float)
    endpoint, observed = _endpoint(target), []
    for columns, end, _ in replays:
        reported, sample, population = _reported(columns, target, size)
        observed.append(endpoint.observe(sample, population, np.minimum(end[reported], sample["last_day"])))
    width = max((o.time.size for o in observed), default=0)
    time, cause = np.zeros((len(observed), width)), np.zeros((len(observed), width), dtype=np.int8)
    included = np.arange(width) < np.array([o.time.size for o in observed], dtype=int)[:, None]
    for row, o in enumerate(observed):
        time[row, :o.time.size], cause[row, :o.time.size] = o.time, o.cause
    if target.metric in INCIDENCES:
        estimates = incidence_at_batch(time, cause, EVENT, target.days, included)
    else:
        estimates = survival_at_batch(time, cause == EVENT, target.days, included)
    shifts = np.array([0.0 if cohort is None else cohort.shift for _, _, cohort in replays])
    return np.where(shifts == 0.0, estimates, np.clip(estimates + shifts, 0.0, 1.0))
