"""Parameter registry: every clinical number, its uncertainty and its evidence.

The registry is read from ``calibration/parameters.yaml``. Each entry has a value, a unit,
an uncertainty distribution for probabilistic analysis and the EVIDENCE.md identifier(s)
it comes from, or the word ``assumption`` with a reason and a plausible range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Literal, cast

import numpy as np
from pydantic import Field, ValidationError, model_validator
from scipy.special import betaincinv, gammaincinv, ndtri

from sim.inputs.errors import InputError, show_value
from sim.inputs.limits import MAX_DAYS, MAX_MULTIPLIER, MAX_YEARS
from sim.inputs.paths import CALIBRATION_DIR
from sim.inputs.validation import (
    OrderedRange,
    StrictModel,
    first_error,
    key_list,
    read_yaml_mapping,
)

DEFAULT_PARAMETERS_PATH = CALIBRATION_DIR / "parameters.yaml"
DEFAULT_POSTERIOR_PATH = DEFAULT_PARAMETERS_PATH.with_name("posterior.parquet")
"""The committed posterior (see :mod:`sim.inputs.posterior`)."""

MAX_RATE = 10.0
"""Largest rate in ``per_year`` or ``per_day``: a Gompertz slope of 10 a year over the 70 years
between age 40 and the oldest patient multiplies the hazard by e^700, just inside double range."""
Unit = Literal["probability", "days", "years", "multiplier", "shape", "per_year", "per_day"]
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "probability": (0.0, 1.0),
    "days": (0.0, MAX_DAYS),
    "years": (0.0, MAX_YEARS),
    "multiplier": (0.0, MAX_MULTIPLIER),
    "shape": (0.01, 20.0),
    "per_year": (0.0, MAX_RATE),
    "per_day": (0.0, MAX_RATE),
}
"""Values each unit allows (inclusive). Beyond a century, a thousandfold multiplier, a rate (or a
Gompertz slope) above 10 per unit of time, or a shape outside 0.01-20 (lognormal sigma, Weibull
shape), times and hazards overflow; no clinical quantity of the model comes near these bounds."""


class BetaCounts(StrictModel):
    """Beta(events + 1/2, n - events + 1/2): the Jeffreys posterior of a proportion."""

    type: Literal["beta"]
    events: float = Field(ge=0)
    n: float = Field(gt=0)

    @model_validator(mode="after")
    def _events_within_n(self) -> BetaCounts:
        if self.events > self.n:
            raise ValueError(f"events ({self.events}) cannot exceed n ({self.n})")
        return self

    def mean(self) -> float:
        """Posterior mean, the default point value."""
        return (self.events + 0.5) / (self.n + 1.0)

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.beta(self.events + 0.5, self.n - self.events + 0.5))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles (inverse CDF) at ``u``."""
        return betaincinv(self.events + 0.5, self.n - self.events + 0.5, u)


class GammaDist(StrictModel):
    """Gamma by mean and standard deviation."""

    type: Literal["gamma"]
    mean: float = Field(gt=0)
    sd: float = Field(gt=0)

    def draw(self, rng: np.random.Generator) -> float:
        shape = (self.mean / self.sd) ** 2
        return float(rng.gamma(shape, self.sd**2 / self.mean))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles (inverse CDF) at ``u``."""
        return gammaincinv((self.mean / self.sd) ** 2, u) * (self.sd**2 / self.mean)


class LogNormalDist(StrictModel):
    """LogNormal by median and log-scale standard deviation."""

    type: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(gt=0)

    def draw(self, rng: np.random.Generator) -> float:
        return float(self.median * np.exp(self.sigma * rng.standard_normal()))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles (inverse CDF) at ``u``."""
        return self.median * np.exp(self.sigma * ndtri(u))


class UniformDist(OrderedRange, StrictModel):
    """Uniform between low and high."""

    type: Literal["uniform"]
    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles (inverse CDF) at ``u``."""
        return self.low + u * (self.high - self.low)


class FixedDist(StrictModel):
    """No uncertainty represented (a protocol constant or a definition)."""

    type: Literal["fixed"]

    def draw(self, rng: np.random.Generator) -> float:
        raise AssertionError("fixed parameters are not drawn")


Distribution = Annotated[
    BetaCounts | GammaDist | LogNormalDist | UniformDist | FixedDist,
    Field(discriminator="type"),
]


class Parameter(StrictModel):
    """One clinical or service parameter.

    Attributes
    ----------
    value : float
        Point value used by the base case (for Beta-from-counts, defaults to the Jeffreys mean).
    unit : str
        One of ``probability, days, years, multiplier, shape, per_year``.
    distribution : Distribution
        Uncertainty for probabilistic analysis.
    evidence : list of str
        EVIDENCE.md identifiers, or ``["assumption"]``.
    reason : str, optional
        Why the assumption was made (required for assumptions).
    range : tuple of float, optional
        Plausible range of an assumption (required for assumptions).
    description : str
        What the number means, with its time origin.
    """

    value: float | None = None
    unit: Unit
    distribution: Distribution
    evidence: list[str] = Field(min_length=1)
    reason: str | None = None
    range: Annotated[tuple[float, float], Field(strict=False)] | None = None
    description: str

    @model_validator(mode="after")
    def _complete(self) -> Parameter:
        if self.value is None:
            if not isinstance(self.distribution, BetaCounts):
                raise ValueError("value is required unless the distribution is a Beta from counts")
            object.__setattr__(self, "value", self.distribution.mean())
        check_value(self.unit, float(cast(float, self.value)))  # set just above when it was None
        if "assumption" in self.evidence and (self.reason is None or self.range is None):
            raise ValueError("an assumption needs a reason and a range")
        if self.range is not None and not self.range[0] <= self.range[1]:
            raise ValueError(f"range {self.range} is not ordered")
        return self

    @property
    def is_assumption(self) -> bool:
        return "assumption" in self.evidence


def checked_overrides(values: Mapping[str, float], overrides: Mapping[str, object], units: Mapping[str, str], field: str,
                      what: str, within: Callable[[str, float], bool] | None = None,
                      allowed: Callable[[str], str] | None = None) -> dict[str, float]:
    """``values`` with ``overrides`` applied, each checked: a known name, a number, allowed by its unit.

    Parameters
    ----------
    values : mapping of str to float
        The current values by name.
    overrides : mapping of str to object
        New values by name, as a user gave them.
    units : mapping of str to str
        The unit of every name that may be overridden.
    field : str
        Name of the input field, for error messages.
    what : str
        What a name must be, for the message on an unknown name (e.g. ``a parameter of parameters.yaml``).
    within, allowed : callable, optional
        Whether a unit allows a value, and what it allows in words (default: the parameters' units,
        :func:`within_unit` and :func:`allowed_values`).

    Raises
    ------
    InputError
        For an unknown name, a value that is not a number, or one its unit does not allow.
    """
    def allows(unit: str, value: float) -> bool:
        return bool(within(unit, value)) if within is not None else bool(within_unit(unit, value))

    describe = allowed or allowed_values
    result = dict(values)
    for name, value in overrides.items():
        where = f"{field}.{name}"
        if name not in units:
            raise InputError(where, name, f"not {what}; allowed: {key_list(units)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(where, value, "a number is required")
        if not allows(units[name], float(value)):
            raise InputError(where, value, describe(units[name]))
        result[name] = float(value)
    return result


def allowed_values(unit: str) -> str:
    """What ``unit`` allows, in words."""
    low, high = UNIT_RANGES[unit]
    what = "a probability" if unit == "probability" else f"a value in {unit}"
    return f"{what} must lie between {low:g} and {high:g}"


def within_unit(unit: str, value: float | np.ndarray) -> bool | np.ndarray:
    """Whether ``value`` (a number, or each of an array) is allowed for ``unit``: a finite number
    inside :data:`UNIT_RANGES`."""
    low, high = UNIT_RANGES[unit]
    inside = np.isfinite(value) & (low <= value) & (value <= high)
    return bool(inside) if np.ndim(inside) == 0 else inside


def check_value(unit: str, value: float) -> None:
    """Raise ``ValueError`` when ``value`` is outside what ``unit`` allows.

    Parameters
    ----------
    unit : str
        The parameter's unit.
    value : float
        Candidate value.
    """
    if not within_unit(unit, value):
        raise ValueError(f"{allowed_values(unit)}, got {show_value(value)}")


class ParameterSet(Mapping[str, float]):
    """An immutable set of parameter values, keyed by name, with the registry behind it.

    Parameters
    ----------
    registry : dict of str to Parameter
        The definitions (units, distributions, evidence).
    values : dict of str to float, optional
        Values to use; defaults to each parameter's point value.
    """

    def __init__(self, registry: Mapping[str, Parameter], values: Mapping[str, float] | None = None):
        self._registry = dict(registry)
        self._values = {name: float(p.value) for name, p in self._registry.items()}  # type: ignore[arg-type]
        if values is not None:
            self._values.update({k: float(v) for k, v in values.items()})

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def registry(self) -> Mapping[str, Parameter]:
        """The parameter definitions."""
        return self._registry

    def with_overrides(self, overrides: Mapping[str, object], field: str = "parameters") -> ParameterSet:
        """Return a copy with some values replaced, each checked against its unit.

        Parameters
        ----------
        overrides : mapping of str to number
            New values by parameter name.
        field : str
            Name of the input field, for error messages.

        Raises
        ------
        InputError
            For an unknown name or a value outside the unit's range.
        """
        units = {name: parameter.unit for name, parameter in self._registry.items()}
        return ParameterSet(self._registry, checked_overrides(self._values, overrides, units, field,
                                                              f"a parameter of {DEFAULT_PARAMETERS_PATH.name}"))

    def sample(self, rng: np.random.Generator) -> ParameterSet:
        """Draw one probabilistic-analysis set from every parameter's distribution.

        Parameters are drawn in registry order, so the same generator state gives the
        same set. Fixed parameters keep their value.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        """
        values = {
            name: (p.value if isinstance(p.distribution, FixedDist) else p.distribution.draw(rng))
            for name, p in self._registry.items()
        }
        return ParameterSet(self._registry, values)  # type: ignore[arg-type]

    def with_values(self, values: Mapping[str, float]) -> ParameterSet:
        """A copy with some values replaced, unchecked: for draws already inside each prior's support
        (calibration and posterior draws). User input goes through :meth:`with_overrides`."""
        return ParameterSet(self._registry, {**self._values, **values})

    def as_dict(self) -> dict[str, float]:
        """Plain name → value dictionary."""
        return dict(self._values)


def load_parameters(path: str | Path = DEFAULT_PARAMETERS_PATH) -> ParameterSet:
    """Read and validate a parameter registry file.

    Parameters
    ----------
    path : str or Path
        YAML file mapping parameter names to definitions.

    Raises
    ------
    InputError
        When the file is missing, is not YAML, or an entry is invalid.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "parameters")
    registry: dict[str, Parameter] = {}
    for name, entry in raw.items():
        try:
            registry[name] = Parameter.model_validate(entry)
        except ValidationError as error:
            field, value, allowed = first_error(error, Parameter)
            raise InputError(f"{path.name}:{name}.{field}".rstrip("."), value, allowed) from None
    return ParameterSet(registry)
