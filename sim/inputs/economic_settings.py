"""A scenario's economic evaluation: which cost setting and utility set, the time horizon, willingness to pay
and overrides of the value inputs (``calibration/values.yaml``, :mod:`sim.inputs.values`).

In a scenario file::

    economics:
      cost_setting: us_payer          # or china_payer (the settings of values.yaml)
      utility_set: default
      horizon: lifetime               # or follow_up: the scenario's horizon_days
      product_charged_on: infusion    # or manufacturing; default: the cost setting's own rule
      wtp: [100000, 150000]           # per QALY, in the setting's currency; default: values.yaml's for it
      values:                         # any value of values.yaml by its dotted name
        discount_costs: 0.035
        cost_settings.us_payer.costs.cart_product: 373000

Every field has a default, so a scenario without ``economics`` is evaluated for a US payer over a lifetime.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from sim.inputs.errors import InputError, show_value
from sim.inputs.validation import StrictModel, key_list
from sim.inputs.values import MAX_COST, ValueSet, load_values

LIFETIME_AGE_YEARS = 100.0
"""Age at which a lifetime horizon ends for a patient still alive, years (issue 12: followed to death or age 100)."""
MAX_WTP_VALUES = 20
"""Most willingness-to-pay values a scenario may list (each adds a column to ``icers.csv``)."""


class Economics(StrictModel):
    """The economic evaluation of a scenario (see the module docstring).

    Attributes
    ----------
    cost_setting : str
        A cost setting of ``values.yaml`` (the perspective, currency and price year come with it).
    utility_set : str
        A utility set of ``values.yaml``.
    horizon : {"lifetime", "follow_up"}
        ``lifetime``: every patient followed to death or age :data:`LIFETIME_AGE_YEARS` for costs and QALYs;
        ``follow_up``: the scenario's ``horizon_days``, as the clinical results.
    product_charged_on : {"infusion", "manufacturing"}, optional
        When a CAR-T product is charged (default: the cost setting's rule).
    wtp : list of float, optional
        Willingness to pay per QALY in the setting's currency, distinct, lowest first (default: the thresholds
        ``values.yaml`` gives for that currency).
    values : dict
        Overrides of value inputs by dotted name (e.g. ``discount_costs``).
    """

    cost_setting: str = "us_payer"
    utility_set: str = "default"
    horizon: Literal["lifetime", "follow_up"] = "lifetime"
    product_charged_on: Literal["infusion", "manufacturing"] | None = None
    wtp: list[float] | None = Field(default=None, min_length=1, max_length=MAX_WTP_VALUES)
    values: dict[str, float] = Field(default_factory=dict)

    @field_validator("wtp")
    @classmethod
    def _thresholds(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return value
        for threshold in value:
            if not 0.0 <= threshold <= MAX_COST:
                raise ValueError(f"each willingness to pay must lie between 0 and {MAX_COST:g} per QALY (got {show_value(threshold)})")
        if sorted(set(value)) != value:
            raise ValueError(f"distinct values, lowest first, are required (got {show_value(value)})")
        return value

    def value_set(self, base: ValueSet | None = None) -> ValueSet:
        """The value inputs of this evaluation: ``values.yaml`` (or ``base``) with the overrides and the product rule.

        Raises
        ------
        InputError
            Naming ``economics.cost_setting``, ``economics.utility_set`` or ``economics.values.<name>`` for a setting,
            set or value the file does not have, or a value its unit does not allow.
        """
        values = base if base is not None else load_values()
        if self.cost_setting not in values.settings:
            raise InputError("economics.cost_setting", self.cost_setting, f"one of {key_list(values.settings)} is required")
        if self.utility_set not in values.utility_sets:
            raise InputError("economics.utility_set", self.utility_set, f"one of {key_list(values.utility_sets)} is required")
        values = values.with_overrides(self.values, "economics.values")
        if self.product_charged_on is not None:
            values = values.with_product_charged_on(self.cost_setting, self.product_charged_on)
        return values

    def thresholds(self, values: ValueSet) -> tuple[float, ...]:
        """Willingness to pay per QALY: the scenario's, or the values file's for the setting's currency."""
        return tuple(self.wtp) if self.wtp is not None else values.wtp(values.currency(self.cost_setting))
