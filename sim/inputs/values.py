"""Value inputs of the health-economic layer: costs, utilities, discount rates and willingness to pay.

The inputs are read from ``calibration/values.yaml`` with the discipline of ``parameters.yaml`` (see
:mod:`sim.inputs.parameters`): every entry has a value, a unit, an uncertainty distribution, the EVIDENCE.md
identifier(s) it comes from or ``assumption`` with a reason and a plausible range, and a description.

The file holds named **cost settings** (``us_payer``, ``china_payer``: a currency, a price year, when a
CAR-T product is charged and one cost per item of :data:`COST_ITEMS`), named **utility sets** (``default``:
a utility per state of :data:`UTILITY_STATES`, and for each event of :data:`DISUTILITY_EVENTS` a decrement
held for a number of days), two annual discount rates and willingness-to-pay thresholds per currency.

Each value is addressed by its dotted path in the file, e.g. ``cost_settings.us_payer.costs.cart_product``,
``utility_sets.default.states.remission``, ``discount_costs``: the names :meth:`ValueSet.with_overrides`
takes and :meth:`ValueSet.draw` and :meth:`ValueSet.ppf` draw.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator
from scipy.special import betaincinv

from sim.inputs.codes import DAYS_PER_YEAR
from sim.inputs.errors import InputError, show_value
from sim.inputs.limits import MAX_DAYS
from sim.inputs.parameters import FixedDist, GammaDist, LogNormalDist, UniformDist, checked_overrides
from sim.inputs.paths import CALIBRATION_DIR
from sim.inputs.validation import StrictModel, first_error, key_list, read_yaml_mapping

DEFAULT_VALUES_PATH = CALIBRATION_DIR / "values.yaml"

MIN_UTILITY = -0.594
"""Lowest utility allowed: the worst EQ-5D-3L health state on the UK tariff (a state worse than dead)."""
MAX_COST = 1e9
"""Largest cost of one item (per event, day or year) in any currency: far above any health-care price."""
MAX_AGE_DECLINE = 0.05
"""Largest utility decline per year of age: 0.05 a year takes full health to dead in 20 years."""

UNIT_RANGES: dict[str, tuple[float, float]] = {
    "currency": (0.0, MAX_COST),
    "currency_per_day": (0.0, MAX_COST),
    "currency_per_year": (0.0, MAX_COST),
    "currency_per_qaly": (0.0, MAX_COST),
    "utility": (MIN_UTILITY, 1.0),
    "utility_decrement": (0.0, 1.0 - MIN_UTILITY),
    "utility_per_year": (0.0, MAX_AGE_DECLINE),
    "days": (0.0, MAX_DAYS),
    "per_year": (0.0, 1.0),
}
"""Values each unit allows, inclusive, except ``per_year`` (a discount rate), which must stay below 1."""
_OPEN_ABOVE = frozenset({"per_year"})

COST_ITEMS = (
    "apheresis", "cart_product", "lymphodepletion", "salvage_chemotherapy", "crs_grade1_2", "crs_grade3plus", "icans",
    "icu_day", "cart_ward_day", "hsct_episode", "hsct_extra_day", "graft_failure", "agvhd_grade2", "agvhd_grade3plus",
    "relapse_treatment", "end_of_life", "follow_up_year_1", "follow_up_year_later", "cgvhd_year", "relapsed_disease_year",
)
"""The cost items every cost setting prices (the fields of :class:`Costs`)."""
UTILITY_STATES = (
    "before_treatment", "aplasia", "remission", "hsct_first_year", "gvhd", "relapsed_refractory", "long_term_remission",
)
"""The health states every utility set values (the fields of :class:`States`)."""
DISUTILITY_EVENTS = ("crs_grade3plus", "icans", "severe_infection", "icu_stay")
"""The events every utility set gives a decrement and a duration for."""


def allowed_values(unit: str) -> str:
    """What ``unit`` allows, in words."""
    low, high = UNIT_RANGES[unit]
    if unit in _OPEN_ABOVE:
        return f"a value in {unit} must be at least {low:g} and below {high:g}"
    return f"a value in {unit} must lie between {low:g} and {high:g}"


def within_unit(unit: str, value: float) -> bool:
    """Whether ``value`` is a finite number that ``unit`` allows (:data:`UNIT_RANGES`)."""
    low, high = UNIT_RANGES[unit]
    return bool(np.isfinite(value)) and low <= value and (value < high if unit in _OPEN_ABOVE else value <= high)


class BetaMeanSd(StrictModel):
    """Beta by mean and standard deviation (the method of moments), for utilities and decrements."""

    type: Literal["beta"]
    mean: float = Field(gt=0, lt=1)
    sd: float = Field(gt=0)

    @model_validator(mode="after")
    def _feasible(self) -> BetaMeanSd:
        if not self.sd**2 < self.mean * (1 - self.mean):
            raise ValueError(f"sd ({show_value(self.sd)}) must be below sqrt(mean (1 - mean)) for a Beta")
        return self

    def _shapes(self) -> tuple[float, float]:
        total = self.mean * (1 - self.mean) / self.sd**2 - 1
        return self.mean * total, (1 - self.mean) * total

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.beta(*self._shapes()))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles (inverse CDF) at ``u``."""
        return betaincinv(*self._shapes(), u)


Distribution = Annotated[BetaMeanSd | GammaDist | LogNormalDist | UniformDist | FixedDist, Field(discriminator="type")]
CostDistribution = Annotated[GammaDist | LogNormalDist, Field(discriminator="type")]
UtilityDistribution = Annotated[BetaMeanSd | UniformDist | FixedDist, Field(discriminator="type")]
DaysDistribution = Annotated[GammaDist | LogNormalDist | UniformDist | FixedDist, Field(discriminator="type")]
ChoiceDistribution = Annotated[UniformDist | FixedDist, Field(discriminator="type")]


class Entry(StrictModel):
    """One value input.

    Attributes
    ----------
    value : float
        Base-case value, in ``unit``; for a LogNormal it is the median, for a Gamma or Beta the mean.
    unit : str
        One of :data:`UNIT_RANGES`.
    distribution : Distribution
        Uncertainty for probabilistic analysis.
    evidence : list of str
        EVIDENCE.md identifiers and/or ``assumption``.
    reason : str, optional
        Why the assumption was made (required for assumptions).
    range : tuple of float, optional
        Plausible range (required for assumptions); holds the value.
    description : str
        What the number means, and for an assumption which source would settle it.
    """

    value: float
    unit: str
    distribution: Distribution
    evidence: list[str] = Field(min_length=1)
    reason: str | None = None
    range: Annotated[tuple[float, float], Field(strict=False)] | None = None
    description: str

    @model_validator(mode="after")
    def _complete(self) -> Entry:
        if not within_unit(self.unit, self.value):
            raise ValueError(allowed_values(self.unit))
        if self.is_assumption and (self.reason is None or self.range is None):
            raise ValueError("an assumption needs a reason and a range")
        if self.range is not None and not self.range[0] <= self.value <= self.range[1]:
            raise ValueError(f"the value ({show_value(self.value)}) must lie inside the range {show_value(list(self.range))}")
        centre = {LogNormalDist: "median", GammaDist: "mean", BetaMeanSd: "mean"}.get(type(self.distribution))
        if centre is not None and getattr(self.distribution, centre) != self.value:
            raise ValueError(f"the value ({show_value(self.value)}) must equal the distribution's {centre}")
        if isinstance(self.distribution, UniformDist) and not (
            self.distribution.low <= self.value <= self.distribution.high
            and within_unit(self.unit, self.distribution.low) and within_unit(self.unit, self.distribution.high)
        ):
            raise ValueError(f"the Uniform must hold the value and stay within the unit: {allowed_values(self.unit)}")
        return self

    @property
    def is_assumption(self) -> bool:
        return "assumption" in self.evidence

    @property
    def is_uncertain(self) -> bool:
        """Whether the entry is drawn in probabilistic analysis (every distribution but ``fixed``)."""
        return not isinstance(self.distribution, FixedDist)

    def quantile(self, u: float) -> float:
        """The distribution's quantile at ``u`` (0 < u < 1)."""
        assert not isinstance(self.distribution, FixedDist), "a fixed value has no quantiles"
        return float(self.distribution.ppf(np.asarray(u)))


class CostEntry(Entry):
    """A cost, in its setting's currency at its setting's price year (both repeated here, as a check)."""

    unit: Literal["currency", "currency_per_day", "currency_per_year"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    price_year: int = Field(ge=1900, le=2100)
    distribution: CostDistribution


class OneOffCostEntry(CostEntry):
    """A cost per event."""

    unit: Literal["currency"]


class DailyCostEntry(CostEntry):
    """A cost per day."""

    unit: Literal["currency_per_day"]


class AnnualCostEntry(CostEntry):
    """A cost per year."""

    unit: Literal["currency_per_year"]


class UtilityEntry(Entry):
    unit: Literal["utility"]
    distribution: UtilityDistribution


class DecrementEntry(Entry):
    unit: Literal["utility_decrement"]
    distribution: UtilityDistribution


class DaysEntry(Entry):
    unit: Literal["days"]
    distribution: DaysDistribution


class AgeDeclineEntry(Entry):
    unit: Literal["utility_per_year"]
    distribution: ChoiceDistribution


class RateEntry(Entry):
    unit: Literal["per_year"]
    distribution: ChoiceDistribution


class Costs(StrictModel):
    """One cost per item of :data:`COST_ITEMS`: one-off (``currency``), per day or per year."""

    apheresis: OneOffCostEntry
    cart_product: OneOffCostEntry
    lymphodepletion: OneOffCostEntry
    salvage_chemotherapy: OneOffCostEntry
    crs_grade1_2: OneOffCostEntry
    crs_grade3plus: OneOffCostEntry
    icans: OneOffCostEntry
    icu_day: DailyCostEntry
    cart_ward_day: DailyCostEntry
    hsct_episode: OneOffCostEntry
    hsct_extra_day: DailyCostEntry
    graft_failure: OneOffCostEntry
    agvhd_grade2: OneOffCostEntry
    agvhd_grade3plus: OneOffCostEntry
    relapse_treatment: OneOffCostEntry
    end_of_life: OneOffCostEntry
    follow_up_year_1: AnnualCostEntry
    follow_up_year_later: AnnualCostEntry
    cgvhd_year: AnnualCostEntry
    relapsed_disease_year: AnnualCostEntry


class ProductCharge(StrictModel):
    """When a CAR-T product is charged: at ``infusion`` (a failed product costs nothing) or at ``manufacturing``."""

    value: Literal["infusion", "manufacturing"]
    evidence: list[str] = Field(min_length=1)
    reason: str | None = None
    description: str

    @model_validator(mode="after")
    def _reasoned(self) -> ProductCharge:
        if "assumption" in self.evidence and self.reason is None:
            raise ValueError("an assumption needs a reason")
        return self


class CostSetting(StrictModel):
    """A named cost setting: currency (ISO 4217 code), price year, perspective, product charging and the costs."""

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    price_year: int = Field(ge=1900, le=2100)
    perspective: str = Field(min_length=1)
    description: str
    product_charged_on: ProductCharge
    costs: Costs


class States(StrictModel):
    """One utility per state of :data:`UTILITY_STATES`."""

    before_treatment: UtilityEntry
    aplasia: UtilityEntry
    remission: UtilityEntry
    hsct_first_year: UtilityEntry
    gvhd: UtilityEntry
    relapsed_refractory: UtilityEntry
    long_term_remission: UtilityEntry


class Disutilities(StrictModel):
    """A utility decrement per event of :data:`DISUTILITY_EVENTS` (utility points, held for the event's days)."""

    crs_grade3plus: DecrementEntry
    icans: DecrementEntry
    severe_infection: DecrementEntry
    icu_stay: DecrementEntry


class DisutilityDays(StrictModel):
    """How many days each event's decrement is held."""

    crs_grade3plus: DaysEntry
    icans: DaysEntry
    severe_infection: DaysEntry
    icu_stay: DaysEntry


class UtilitySet(StrictModel):
    """A named utility set: states, event decrements and their durations, and the decline with age."""

    description: str
    states: States
    disutilities: Disutilities
    disutility_days: DisutilityDays
    age_decline_per_year: AgeDeclineEntry


class Thresholds(StrictModel):
    """Willingness-to-pay thresholds per QALY in one currency, lowest first."""

    value: list[float] = Field(min_length=1)
    unit: Literal["currency_per_qaly"]
    evidence: list[str] = Field(min_length=1)
    reason: str | None = None
    range: Annotated[tuple[float, float], Field(strict=False)] | None = None
    description: str

    @model_validator(mode="after")
    def _checked(self) -> Thresholds:
        if not all(within_unit(self.unit, v) and v > 0 for v in self.value) or self.value != sorted(set(self.value)):
            raise ValueError(f"value: distinct positive thresholds, lowest first, are required, got {show_value(self.value)}")
        if "assumption" in self.evidence and (self.reason is None or self.range is None):
            raise ValueError("an assumption needs a reason and a range")
        if self.range is not None and not self.range[0] <= self.value[0] <= self.value[-1] <= self.range[1]:
            raise ValueError(f"the thresholds must lie inside the range {show_value(list(self.range))}")
        return self


Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class ValuesFile(StrictModel):
    """The whole ``values.yaml``."""

    cost_settings: dict[Name, CostSetting] = Field(min_length=1)
    utility_sets: dict[Name, UtilitySet] = Field(min_length=1)
    discount_costs: RateEntry
    discount_outcomes: RateEntry
    willingness_to_pay: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Thresholds]


def _entries(spec: ValuesFile) -> dict[str, Entry]:
    """Every scalar entry of the file by its dotted path, in file order."""
    entries: dict[str, Entry] = {}
    for setting_name, setting in spec.cost_settings.items():
        for item in COST_ITEMS:
            entries[f"cost_settings.{setting_name}.costs.{item}"] = getattr(setting.costs, item)
    for set_name, utility_set in spec.utility_sets.items():
        prefix = f"utility_sets.{set_name}"
        entries.update({f"{prefix}.states.{state}": getattr(utility_set.states, state) for state in UTILITY_STATES})
        entries.update({f"{prefix}.disutilities.{event}": getattr(utility_set.disutilities, event) for event in DISUTILITY_EVENTS})
        entries.update({f"{prefix}.disutility_days.{event}": getattr(utility_set.disutility_days, event) for event in DISUTILITY_EVENTS})
        entries[f"{prefix}.age_decline_per_year"] = utility_set.age_decline_per_year
    entries["discount_costs"] = spec.discount_costs
    entries["discount_outcomes"] = spec.discount_outcomes
    return entries


class ValueSet(Mapping[str, float]):
    """An immutable set of value inputs, keyed by dotted path (see the module's docstring), with the file behind it.

    Parameters
    ----------
    spec : ValuesFile
        The validated file (definitions, units, distributions, evidence).
    values : mapping of str to float, optional
        Values to use; defaults to each entry's base-case value.
    """

    def __init__(self, spec: ValuesFile, values: Mapping[str, float] | None = None):
        self._spec = spec
        self._entries = _entries(spec)
        self._values = {name: entry.value for name, entry in self._entries.items()}
        if values is not None:
            self._values.update(values)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def spec(self) -> ValuesFile:
        """The validated file."""
        return self._spec

    @property
    def entries(self) -> Mapping[str, Entry]:
        """Every entry's definition, by dotted path."""
        return self._entries

    @property
    def settings(self) -> tuple[str, ...]:
        """Names of the cost settings."""
        return tuple(self._spec.cost_settings)

    @property
    def utility_sets(self) -> tuple[str, ...]:
        """Names of the utility sets."""
        return tuple(self._spec.utility_sets)

    def _setting(self, name: str) -> CostSetting:
        if name not in self._spec.cost_settings:
            raise InputError("cost setting", name, f"one of {key_list(self._spec.cost_settings)}")
        return self._spec.cost_settings[name]

    def _utility_set(self, name: str) -> str:
        if name not in self._spec.utility_sets:
            raise InputError("utility set", name, f"one of {key_list(self._spec.utility_sets)}")
        return f"utility_sets.{name}"

    def costs(self, setting: str) -> dict[str, float]:
        """Cost of each item of :data:`COST_ITEMS` in ``setting``: per event (``currency``), per day or per year,
        in :meth:`currency` at :meth:`price_year`.

        Raises
        ------
        InputError
            For an unknown setting.
        """
        self._setting(setting)
        return {item: self._values[f"cost_settings.{setting}.costs.{item}"] for item in COST_ITEMS}

    def currency(self, setting: str) -> str:
        """ISO 4217 code of ``setting``'s currency."""
        return self._setting(setting).currency

    def perspective(self, setting: str) -> str:
        """Whose costs ``setting`` counts (CHEERS 2022 item 8)."""
        return self._setting(setting).perspective

    def price_year(self, setting: str) -> int:
        """The year whose prices ``setting``'s costs are in."""
        return self._setting(setting).price_year

    def product_charged_on(self, setting: str) -> Literal["infusion", "manufacturing"]:
        """Whether ``setting`` charges a CAR-T product at infusion (a failed product costs nothing) or at manufacturing."""
        return self._setting(setting).product_charged_on.value

    def with_product_charged_on(self, setting: str, on: Literal["infusion", "manufacturing"]) -> ValueSet:
        """Return a copy in which ``setting`` charges a CAR-T product at ``on`` (``infusion`` or ``manufacturing``).

        Raises
        ------
        InputError
            For an unknown setting.
        """
        chosen = self._setting(setting)
        charge = chosen.product_charged_on.model_copy(update={"value": on})
        settings = {**self._spec.cost_settings, setting: chosen.model_copy(update={"product_charged_on": charge})}
        return ValueSet(self._spec.model_copy(update={"cost_settings": settings}), self._values)

    def utilities(self, utility_set: str) -> dict[str, float]:
        """Utility of each state of :data:`UTILITY_STATES` (1 = full health, 0 = dead)."""
        prefix = self._utility_set(utility_set)
        return {state: self._values[f"{prefix}.states.{state}"] for state in UTILITY_STATES}

    def disutilities(self, utility_set: str) -> dict[str, float]:
        """Utility decrement of each event of :data:`DISUTILITY_EVENTS`, held for :meth:`disutility_days` days."""
        prefix = self._utility_set(utility_set)
        return {event: self._values[f"{prefix}.disutilities.{event}"] for event in DISUTILITY_EVENTS}

    def disutility_days(self, utility_set: str) -> dict[str, float]:
        """Days each event's decrement is held, from the event's onset."""
        prefix = self._utility_set(utility_set)
        return {event: self._values[f"{prefix}.disutility_days.{event}"] for event in DISUTILITY_EVENTS}

    def qaly_losses(self, utility_set: str) -> dict[str, float]:
        """Undiscounted QALYs lost per event: decrement × days / 365.25."""
        days = self.disutility_days(utility_set)
        return {event: decrement * days[event] / DAYS_PER_YEAR for event, decrement in self.disutilities(utility_set).items()}

    def age_decline_per_year(self, utility_set: str) -> float:
        """Utility points lost per year of age above the age at enrolment."""
        return self._values[f"{self._utility_set(utility_set)}.age_decline_per_year"]

    @property
    def discount_costs(self) -> float:
        """Annual discount rate of costs, 0 <= r < 1."""
        return self._values["discount_costs"]

    @property
    def discount_outcomes(self) -> float:
        """Annual discount rate of QALYs and life years, 0 <= r < 1."""
        return self._values["discount_outcomes"]

    def wtp(self, currency: str) -> tuple[float, ...]:
        """Willingness-to-pay thresholds per QALY in ``currency``, lowest first.

        Raises
        ------
        InputError
            For a currency the file gives no thresholds for.
        """
        thresholds = self._spec.willingness_to_pay
        if currency not in thresholds:
            raise InputError("willingness-to-pay currency", currency, f"one of {key_list(thresholds)}")
        return tuple(thresholds[currency].value)

    def with_overrides(self, overrides: Mapping[str, object], field: str = "values") -> ValueSet:
        """Return a copy with some values replaced, each checked against its unit.

        Parameters
        ----------
        overrides : mapping of str to number
            New values by dotted path (e.g. ``cost_settings.us_payer.costs.cart_product``).
        field : str
            Name of the input field, for error messages.

        Raises
        ------
        InputError
            For an unknown name, a value that is not a number, or one outside the unit's range.
        """
        units = {name: entry.unit for name, entry in self._entries.items()}
        return ValueSet(self._spec, checked_overrides(self._values, overrides, units, field, f"a value of {DEFAULT_VALUES_PATH.name}",
                                                      within_unit, allowed_values))

    @property
    def uncertain(self) -> tuple[str, ...]:
        """Names of the entries drawn in probabilistic analysis (every one but those with a ``fixed`` distribution)."""
        return tuple(name for name, entry in self._entries.items() if entry.is_uncertain)

    def draw(self, rng: np.random.Generator) -> ValueSet:
        """One probabilistic-analysis set: every uncertain entry drawn from its distribution, in file order (the same
        generator state gives the same set); fixed entries keep their value.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        """
        return ValueSet(self._spec, {name: self._entries[name].distribution.draw(rng) for name in self.uncertain})

    def ppf(self, u: float | Mapping[str, float]) -> ValueSet:
        """A set at given quantiles of the uncertain entries (for Latin-hypercube or one-way analyses).

        Parameters
        ----------
        u : float or mapping of str to float
            One quantile, 0 < u < 1, for every uncertain entry, or quantiles by name (the rest keep their values).

        Raises
        ------
        InputError
            For a name that is not uncertain, or a quantile outside (0, 1).
        """
        quantiles = dict.fromkeys(self.uncertain, u) if not isinstance(u, Mapping) else dict(u)
        values = {}
        for name, q in quantiles.items():
            if name not in self._entries or not self._entries[name].is_uncertain:
                raise InputError(f"quantiles.{name}", name, f"an uncertain value is required; allowed: {key_list(self.uncertain)}")
            if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < q < 1.0:
                raise InputError(f"quantiles.{name}", q, "a quantile strictly between 0 and 1 is required")
            values[name] = self._entries[name].quantile(float(q))
        return ValueSet(self._spec, values)


def load_values(path: str | Path = DEFAULT_VALUES_PATH) -> ValueSet:
    """Read and validate a value-input file.

    Parameters
    ----------
    path : str or Path
        YAML file of cost settings, utility sets, discount rates and willingness-to-pay thresholds.

    Raises
    ------
    InputError
        When the file is missing, is not YAML, repeats a key, or an entry is missing or invalid (unknown name,
        non-finite number, negative cost, utility outside [-0.594, 1], wrong type ...), in one line naming the field.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "values")
    try:
        spec = ValuesFile.model_validate(raw)
    except ValidationError as error:
        field, value, allowed = first_error(error, ValuesFile)
        if isinstance(value, dict) and "value" in value:  # a check across an entry's fields: show the entry's value
            value = value["value"]
        raise InputError(f"{path.name}:{field}".rstrip(":"), value, allowed) from None
    _check_settings(spec, path.name)
    return ValueSet(spec)


def _check_settings(spec: ValuesFile, where: str) -> None:
    """Each setting's costs are in its currency and price year, and its currency has willingness-to-pay thresholds.

    Raises
    ------
    InputError
        Naming the first cost, or the setting, that breaks a rule.
    """
    for name, setting in spec.cost_settings.items():
        for item in COST_ITEMS:
            entry: CostEntry = getattr(setting.costs, item)
            field = f"{where}:cost_settings.{name}.costs.{item}"
            if entry.currency != setting.currency:
                raise InputError(f"{field}.currency", entry.currency, f"the setting's currency, {setting.currency}, is required")
            if entry.price_year != setting.price_year:
                raise InputError(f"{field}.price_year", entry.price_year, f"the setting's price year, {setting.price_year}, is required")
        if setting.currency not in spec.willingness_to_pay:
            raise InputError(f"{where}:cost_settings.{name}.currency", setting.currency,
                             f"a currency with willingness_to_pay thresholds is required: {key_list(spec.willingness_to_pay)}")
