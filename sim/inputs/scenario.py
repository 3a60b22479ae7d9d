"""Scenario files: schema, YAML loading and clear one-line errors (DESIGN.md sections 2 and 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.inputs.codes import DAYS_PER_YEAR, DISEASES
from sim.inputs.economic_settings import Economics
from sim.inputs.errors import MISSING, InputError, show_value, unreadable
from sim.inputs.limits import (
    MAX_DAYS,
    MAX_NAME_LENGTH,
    MAX_PATIENTS,
    MAX_RATE_PER_YEAR,
    MAX_REPLICATIONS,
    MAX_RUN_LENGTH_DAYS,
    MAX_SLOTS,
    MIN_HORIZON_DAYS,
)
from sim.inputs.parameters import DEFAULT_PARAMETERS_PATH, ParameterSet, load_parameters
from sim.inputs.paths import LESSONS_DIR, SCENARIOS_DIR
from sim.inputs.posterior import with_posterior_means
from sim.inputs.strategies import (
    NAME_PATTERN,
    Strategy,
    check_unique_names,
    resolve_strategy,
)
from sim.inputs.validation import (
    OrderedRange,
    StrictModel,
    first_error,
    key_list,
    read_yaml_mapping,
)

CART_SOURCES: tuple[str, ...] = ("autologous", "donor_derived", "universal")
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Days = Annotated[float, Field(ge=0.0, le=MAX_DAYS)]
"""A duration or a day of the calendar, days (at most :data:`sim.inputs.limits.MAX_DAYS`)."""
Slots = Annotated[int, Field(ge=1, le=MAX_SLOTS)]
"""Servers of a scarce resource (at most :data:`sim.inputs.limits.MAX_SLOTS`)."""


class TruncatedNormal(OrderedRange, StrictModel):
    """Normal distribution truncated to ``[low, high]``."""

    distribution: Literal["truncnorm"]
    mean: float
    sd: float = Field(gt=0)
    low: float
    high: float


class Uniform(OrderedRange, StrictModel):
    """Uniform distribution on ``[low, high]``."""

    distribution: Literal["uniform"]
    low: float
    high: float


AttributeDistribution = Annotated[TruncatedNormal | Uniform, Field(discriminator="distribution")]


def _shares(value: dict[str, float], allowed: tuple[str, ...]) -> dict[str, float]:
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise ValueError(f"unknown category {show_value(unknown[0])}; allowed: {key_list(allowed)}")
    if any(not 0.0 <= v <= 1.0 for v in value.values()):
        raise ValueError("each share must lie between 0 and 1")
    if abs(sum(value.values()) - 1.0) > 1e-6:
        raise ValueError(f"shares must sum to 1 (they sum to {sum(value.values()):.6g})")
    return {k: float(value.get(k, 0.0)) for k in allowed}


ATTRIBUTE_BOUNDS: dict[str, tuple[float, float, str]] = {
    "age": (0, 110, "ages (years)"),
    "marrow_blasts": (0, 100, "marrow blasts (percent)"),
}


class CaseMix(StrictModel):
    """Who the patients are.

    Attributes
    ----------
    disease : dict
        Shares of AML, T-ALL and T-LBL (sum to 1).
    age : distribution
        Age at enrolment, years.
    primary_refractory : float
        Share with primary refractory (rather than relapsed) disease.
    prior_hsct : float
        Share with a previous allo-HSCT.
    marrow_blasts : distribution
        Marrow blast percentage before treatment (0-100).
    cart_source : dict
        Shares of autologous, donor-derived and universal CAR-T products (sum to 1).
    donor_available : float
        Share with a suitable transplant donor.
    """

    disease: dict[str, float]
    age: AttributeDistribution
    primary_refractory: Probability
    prior_hsct: Probability
    marrow_blasts: AttributeDistribution
    cart_source: dict[str, float]
    donor_available: Probability

    @field_validator("disease")
    @classmethod
    def _disease_shares(cls, value: dict[str, float]) -> dict[str, float]:
        return _shares(value, DISEASES)

    @field_validator("cart_source")
    @classmethod
    def _source_shares(cls, value: dict[str, float]) -> dict[str, float]:
        return _shares(value, CART_SOURCES)

    @field_validator("age", "marrow_blasts")
    @classmethod
    def _within_bounds(cls, value: TruncatedNormal | Uniform, info: ValidationInfo) -> TruncatedNormal | Uniform:
        assert info.field_name is not None  # always set for a field validator
        low, high, what = ATTRIBUTE_BOUNDS[info.field_name]
        if value.low < low or value.high > high:
            raise ValueError(f"{what} must lie between {low} and {high}")
        if isinstance(value, TruncatedNormal) and not low <= value.mean <= high:
            raise ValueError(f"the mean of {what} must lie between {low} and {high}")
        return value


class Capacity(StrictModel):
    """Scarce resources of the service; ``None`` (the default) means unlimited.

    Attributes
    ----------
    apheresis_slots_per_week : int
        Apheresis appointments a week, evenly spaced (one every ``7 / slots`` days).
    manufacturing_slots : int
        Products that can be manufactured at once (each slot held from apheresis to release).
    cart_beds : int
        CAR-T inpatient beds (held from infusion for a stay that grows with CRS/ICANS grade).
    icu_beds : int
        ICU beds for CRS or ICANS grade >= 3 and severe infection.
    transplant_beds : int
        Transplant beds (held from HSCT for the transplant stay).
    donor_search_days : float
        Days from referral until a transplant donor is ready (an HSCT waits for it); not a queue.
    """

    apheresis_slots_per_week: Slots | None = None
    manufacturing_slots: Slots | None = None
    cart_beds: Slots | None = None
    icu_beds: Slots | None = None
    transplant_beds: Slots | None = None
    donor_search_days: Days | None = None

    def limited(self) -> dict[str, float]:
        """The settings that are not unlimited, by field name."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


MONTHS = 12
ONE_COHORT = "give exactly one of patients (a closed cohort) and arrivals (referrals over time)"


class Arrivals(StrictModel):
    """An open cohort: referrals arrive over calendar time as a Poisson process.

    Attributes
    ----------
    rate_per_year : float
        Mean referrals a year.
    monthly_profile : list of 12 floats, optional
        Relative referral intensity of each calendar month (January first; day 0 of the simulation
        is 1 January); scaled so that the year still has ``rate_per_year`` referrals on average.
        In a scenario file it may name a CSV file (columns ``month``, ``weight``), read relative
        to the scenario file.
    warm_up_days : float
        Days simulated before results are collected (patients referred then are left out).
    run_length_days : float
        Days of referrals collected after the warm-up.
    """

    rate_per_year: float = Field(gt=0, le=MAX_RATE_PER_YEAR)
    monthly_profile: list[Annotated[float, Field(gt=0)]] | None = Field(default=None, min_length=MONTHS, max_length=MONTHS)
    warm_up_days: Days = 0.0
    run_length_days: float = Field(gt=0, le=MAX_RUN_LENGTH_DAYS)

    @property
    def end_day(self) -> float:
        """Last day of referrals (days from the start of the simulation)."""
        return self.warm_up_days + self.run_length_days

    def expected_referrals(self, days: float) -> float:
        """Mean number of referrals in ``days`` days (a whole number of years, or on average over the
        calendar)."""
        return self.rate_per_year * days / DAYS_PER_YEAR

    @model_validator(mode="after")
    def _referrals_expected(self) -> Arrivals:
        if self.expected_referrals(self.run_length_days) < 1.0:
            raise ValueError(f"at least one referral must be expected after the warm-up; rate_per_year x run_length_days / "
                             f"{DAYS_PER_YEAR:g} is {show_value(self.expected_referrals(self.run_length_days))}")
        if self.expected_referrals(self.end_day) > MAX_PATIENTS:
            raise ValueError(f"at most {MAX_PATIENTS:,} referrals may be expected over the warm-up and the run length; "
                             f"rate_per_year x (warm_up_days + run_length_days) / {DAYS_PER_YEAR:g} is "
                             f"{show_value(self.expected_referrals(self.end_day))}")
        return self


class FollowUp(OrderedRange, StrictModel):
    """Administrative censoring: each patient is followed for a uniform time in ``[low, high]`` days."""

    low: Days
    high: Days


class StudyDesign(StrictModel):
    """How a published study selected and followed its patients (for calibration and validation).

    Attributes
    ----------
    size : int
        Patients the study reported.
    population : {"infused", "transplanted_in_cr"}
        Who the study reported on: everyone treated, or (Cao) only patients in CR who were transplanted.
    origin : {"infusion", "hsct"}
        Time origin of the study's survival endpoints and of its follow-up.
    follow_up_days : FollowUp
        Follow-up from the origin (staggered entry makes it vary between patients).
    """

    size: int = Field(ge=1, le=MAX_PATIENTS)
    population: Literal["infused", "transplanted_in_cr"]
    origin: Literal["infusion", "hsct"]
    follow_up_days: FollowUp


class Scenario(StrictModel):
    """A validated scenario.

    Attributes
    ----------
    name : str
        Used for the output folder and the ``scenario`` column.
    seed : int
        Run seed (common random numbers derive from it).
    patients : int
        Patients per strategy per replication, all enrolled on day 0 (a closed cohort); exactly
        one of ``patients`` and ``arrivals`` is given.
    arrivals : Arrivals
        Referrals over calendar time (an open cohort).
    replications : int
        Independent replications.
    horizon_days : float
        Follow-up from enrolment, days; everyone alive then is censored.
    case_mix : CaseMix
    strategies : list of Strategy
    parameters : dict
        Parameter overrides by name (validated against the registry).
    capacity : Capacity
    parameter_source : {"prior", "posterior"}
        Point values of the parameters: the evidence-based priors, or the posterior means of the
        committed calibration (``calibration/posterior.parquet``).
    study : StudyDesign, optional
        Set by the study replays in ``scenarios/studies/``.
    economics : Economics
        The economic evaluation: cost setting, utility set, horizon, willingness to pay, value overrides
        (:mod:`sim.inputs.economic_settings`).
    """

    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    description: str = ""
    seed: int = Field(ge=0)
    patients: int | None = Field(default=None, ge=1, le=MAX_PATIENTS)
    arrivals: Arrivals | None = None
    replications: int = Field(default=1, ge=1, le=MAX_REPLICATIONS)
    horizon_days: float = Field(ge=MIN_HORIZON_DAYS, le=MAX_DAYS)
    case_mix: CaseMix
    strategies: list[Strategy] = Field(min_length=1)
    parameters: dict[str, float] = Field(default_factory=dict)
    capacity: Capacity = Field(default_factory=Capacity)
    parameter_source: Literal["prior", "posterior"] = "prior"
    study: StudyDesign | None = None
    economics: Economics = Field(default_factory=Economics)

    @model_validator(mode="after")
    def _one_cohort(self) -> Scenario:
        if self.patients is None and self.arrivals is None:
            raise InputError("patients", MISSING, ONE_COHORT)
        if self.patients is not None and self.arrivals is not None:
            raise InputError("arrivals", self.arrivals.model_dump(exclude_defaults=True), ONE_COHORT)
        return self

    @property
    def observation_window(self) -> tuple[float, float]:
        """Calendar days over which resources are measured: after the warm-up to the end of
        referrals (open cohort), or the horizon (closed cohort)."""
        if self.arrivals is None:
            return 0.0, self.horizon_days
        return self.arrivals.warm_up_days, self.arrivals.end_day

    @field_validator("strategies")
    @classmethod
    def _unique_names(cls, value: list[Strategy]) -> list[Strategy]:
        check_unique_names(value)
        return value

    def parameter_set(self, registry: ParameterSet | None = None) -> ParameterSet:
        """The parameter values for this scenario: the registry with the scenario's overrides."""
        base = registry if registry is not None else load_parameters(DEFAULT_PARAMETERS_PATH)
        if self.parameter_source == "posterior":
            base = with_posterior_means(base)
        return base.with_overrides(self.parameters)


def builtin_scenarios() -> dict[str, Path]:
    """The scenarios that come with cd7sim, by name (the file name without ``.yaml``): the base case,
    the capacity examples and the study replays (the lessons of ``scenarios/lessons/`` are not scenarios)."""
    return {path.stem: path for path in sorted(SCENARIOS_DIR.rglob("*.yaml")) if LESSONS_DIR not in path.parents}


def scenario_path(scenario: str | Path) -> Path:
    """The file of a scenario given as a path or as a built-in name (``base``, ``regional_centre`` ...).

    An existing file wins over a built-in of the same name; a path that is neither is returned as given,
    so that reading it names the missing file.

    Raises
    ------
    InputError
        For a bare name (no folder, no suffix) that is neither a file nor a built-in scenario.
    """
    path = Path(scenario)
    if path.exists():
        return path
    builtins = builtin_scenarios()
    if str(scenario) in builtins:
        return builtins[str(scenario)]
    if path.suffix == "" and len(path.parts) == 1:
        raise InputError("scenario", str(scenario), "a scenario file, or a built-in scenario: " + ", ".join(builtins))
    return path


def load_scenario(path: str | Path, registry: ParameterSet | None = None) -> Scenario:
    """Read, validate and return a scenario file.

    Parameters
    ----------
    path : str or Path
        YAML scenario file, or the name of a built-in scenario (see :func:`builtin_scenarios`).
    registry : ParameterSet, optional
        Parameter registry to check overrides against (default: the packaged one).

    Raises
    ------
    InputError
        With the field, the value and what is allowed, for any problem.
    """
    path = scenario_path(path)
    raw = read_yaml_mapping(path, "scenario")
    arrivals = raw.get("arrivals")
    if isinstance(arrivals, dict) and isinstance(arrivals.get("monthly_profile"), str):
        profile = Path(path).parent / arrivals["monthly_profile"]
        raw = {**raw, "arrivals": {**arrivals, "monthly_profile": read_monthly_profile(profile)}}
    entries = raw.get("strategies")
    if isinstance(entries, list):
        raw = {**raw, "strategies": [resolve_strategy(e, f"strategies[{i}]") for i, e in enumerate(entries)]}
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        field, value, allowed = first_error(error, Scenario)
        raise InputError(field, value, allowed) from None
    (registry if registry is not None else load_parameters(DEFAULT_PARAMETERS_PATH)).with_overrides(scenario.parameters)
    scenario.economics.value_set()
    return scenario


def read_monthly_profile(path: Path) -> list[float]:
    """Read a monthly referral profile: a CSV with columns ``month`` (1-12, each once) and ``weight`` (> 0).

    Raises
    ------
    InputError
        Naming ``arrivals.monthly_profile`` for a missing or malformed file, or a weight that is not a
        finite number greater than 0.
    """
    import numpy as np
    import pandas as pd

    field = "arrivals.monthly_profile"
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise InputError(field, str(path),
                         f"a readable CSV file with columns month, weight is required ({unreadable(error, 'not CSV')})") from None
    if list(table.columns) != ["month", "weight"]:
        raise InputError(field, str(path), f"columns month, weight are required (got {', '.join(map(str, table.columns))})")
    months = pd.to_numeric(table["month"], errors="coerce")
    if sorted(months.tolist()) != list(range(1, MONTHS + 1)):
        raise InputError(field, str(path), "one row for each month 1 to 12 is required")
    weights = pd.to_numeric(table["weight"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(weights) & (weights > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(field, str(path), f"every weight must be a finite number greater than 0 "
                         f"(month {show_value(table['month'].iloc[row])}: {show_value(table['weight'].iloc[row])})")
    return weights[months.argsort().to_numpy()].tolist()
