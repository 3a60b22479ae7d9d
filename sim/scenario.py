"""Scenario files: schema, YAML loading and clear one-line errors (DESIGN.md sections 2 and 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sim.errors import InputError
from sim.parameters import DEFAULT_PARAMETERS_PATH, ParameterSet, load_parameters
from sim.schema import DISEASES
from sim.strategies import Strategy, resolve_strategy
from sim.validation import OrderedRange, first_error, read_yaml_mapping

CART_SOURCES: tuple[str, ...] = ("autologous", "donor_derived", "universal")
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TruncatedNormal(OrderedRange, _Strict):
    """Normal distribution truncated to ``[low, high]``."""

    distribution: Literal["truncnorm"]
    mean: float
    sd: float = Field(gt=0)
    low: float
    high: float


class Uniform(OrderedRange, _Strict):
    """Uniform distribution on ``[low, high]``."""

    distribution: Literal["uniform"]
    low: float
    high: float


AttributeDistribution = Annotated[Union[TruncatedNormal, Uniform], Field(discriminator="distribution")]


def _shares(value: dict[str, float], allowed: tuple[str, ...]) -> dict[str, float]:
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise ValueError(f"unknown category {unknown[0]!r}; allowed: {', '.join(allowed)}")
    if any(not 0.0 <= v <= 1.0 for v in value.values()):
        raise ValueError("each share must lie between 0 and 1")
    if abs(sum(value.values()) - 1.0) > 1e-6:
        raise ValueError(f"shares must sum to 1 (they sum to {sum(value.values()):.6g})")
    return {k: float(value.get(k, 0.0)) for k in allowed}


ATTRIBUTE_BOUNDS: dict[str, tuple[float, float, str]] = {
    "age": (0, 110, "ages (years)"),
    "marrow_blasts": (0, 100, "marrow blasts (percent)"),
}


class CaseMix(_Strict):
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
        low, high, what = ATTRIBUTE_BOUNDS[info.field_name]
        if value.low < low or value.high > high:
            raise ValueError(f"{what} must lie between {low} and {high}")
        return value


class Capacity(_Strict):
    """Scarce resources; ``None`` (the default) means unlimited."""

    manufacturing_slots: int | None = Field(default=None, ge=1)
    transplant_beds: int | None = Field(default=None, ge=1)


class FollowUp(OrderedRange, _Strict):
    """Administrative censoring: each patient is followed for a uniform time in ``[low, high]`` days."""

    low: float = Field(ge=0)
    high: float


class StudyDesign(_Strict):
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

    size: int = Field(ge=1)
    population: Literal["infused", "transplanted_in_cr"]
    origin: Literal["infusion", "hsct"]
    follow_up_days: FollowUp


class Scenario(_Strict):
    """A validated scenario.

    Attributes
    ----------
    name : str
        Used for the output folder and the ``scenario`` column.
    seed : int
        Run seed (common random numbers derive from it).
    patients : int
        Patients per strategy per replication.
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
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(ge=0)
    patients: int = Field(ge=1)
    replications: int = Field(default=1, ge=1)
    horizon_days: float = Field(gt=0)
    case_mix: CaseMix
    strategies: list[Strategy] = Field(min_length=1)
    parameters: dict[str, float] = Field(default_factory=dict)
    capacity: Capacity = Field(default_factory=Capacity)
    parameter_source: Literal["prior", "posterior"] = "prior"
    study: StudyDesign | None = None

    @field_validator("strategies")
    @classmethod
    def _unique_names(cls, value: list[Strategy]) -> list[Strategy]:
        names = [s.name for s in value]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"strategy names must be unique; {duplicate!r} appears twice")
        return value

    def parameter_set(self, registry: ParameterSet | None = None) -> ParameterSet:
        """The parameter values for this scenario: the registry with the scenario's overrides."""
        base = registry if registry is not None else load_parameters(DEFAULT_PARAMETERS_PATH)
        if self.parameter_source == "posterior":
            base = base.with_posterior_means()
        return base.with_overrides(self.parameters)


def load_scenario(path: str | Path, registry: ParameterSet | None = None) -> Scenario:
    """Read, validate and return a scenario file.

    Parameters
    ----------
    path : str or Path
        YAML scenario file.
    registry : ParameterSet, optional
        Parameter registry to check overrides against (default: the packaged one).

    Raises
    ------
    InputError
        With the field, the value and what is allowed, for any problem.
    """
    raw = read_yaml_mapping(path, "scenario")
    entries = raw.get("strategies")
    if isinstance(entries, list):
        raw = {**raw, "strategies": [resolve_strategy(e, f"strategies[{i}]") for i, e in enumerate(entries)]}
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        field, value, allowed = first_error(error)
        raise InputError(field, value, allowed) from None
    scenario.parameter_set(registry)
    return scenario
