"""The economic evaluation of a run: each patient's values, their means by strategy, and the incremental analysis.

A run applies `sim.economics.value_models.patient_values` to the contract tables over the economic horizon (each patient followed to
death or age 100 for a lifetime horizon, `sim.inputs.economic_settings`); :func:`evaluate` turns the values of
every patient into the two contract files:

- ``economics.csv`` (``scenario, strategy, metric, estimate, lower, upper``): mean cost in total and by
  category (discounted), the undiscounted total, QALYs and life-years, discounted and not
  (`sim.economics.value_models.summarise_values`), and for an open cohort ``service_cost_per_year``: the
  undiscounted lifetime cost of the patients referred over the observation window, per year of the window -
  what a service commits each year in steady state (budget impact);
- ``icers.csv`` (``strategy, cost, qalys, inc_cost, inc_qalys, icer, status, nmb_<wtp>...``): the incremental
  analysis of the mean discounted costs and QALYs (`sim.economics.incremental.incremental_analysis`).

The mean cost per patient (``cost_total``) is the cost per referral of an open cohort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from sim.economics.incremental import incremental_analysis, nmb_column, optimal_strategy
from sim.economics.value_models import summarise_values
from sim.inputs.codes import DAYS_PER_YEAR, SUMMARY_COLUMNS
from sim.inputs.economic_settings import LIFETIME_AGE_YEARS, Economics
from sim.inputs.values import ValueSet
from sim.outcomes.estimators import replication_interval

ICER_COLUMNS: tuple[str, ...] = ("strategy", "cost", "qalys", "inc_cost", "inc_qalys", "icer", "status")
"""Columns of ``icers.csv`` before one ``nmb_<wtp>`` column per willingness to pay."""
SERVICE_COST_METRIC = "service_cost_per_year"
"""The metric of ``economics.csv`` an open cohort adds: the service's cost per year of referrals (currency a year)."""


def _service_costs(by_patient: pd.DataFrame, window_years: float) -> pd.DataFrame:
    """``service_cost_per_year`` rows: each replication's undiscounted total over the window's years; the
    interval across replications, or, with one, the patients' t interval scaled to the total."""
    records = []
    for (scenario, strategy), group in by_patient.groupby(["scenario", "strategy"], observed=True, sort=False):
        replications = group.groupby("replication", sort=True)["cost_total_undiscounted"]
        if replications.ngroups == 1:
            scaled = group["cost_total_undiscounted"].to_numpy(float) * (len(group) / window_years)
            result = replication_interval(scaled)
        else:
            result = replication_interval(replications.sum().to_numpy(float) / window_years)
        records.append((scenario, strategy, SERVICE_COST_METRIC, result.estimate, max(result.lower, 0.0), result.upper))
    return pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS))


@dataclass(frozen=True)
class Evaluation:
    """The economic results of a run and what a reader needs to judge them (CHEERS 2022 items 8-10 and 15).

    Attributes
    ----------
    summary : pandas.DataFrame
        ``economics.csv`` (see the module docstring).
    icers : pandas.DataFrame
        ``icers.csv``.
    setting : str
        The cost setting.
    perspective : str
        Whose costs are counted.
    currency : str
        ISO 4217 code.
    price_year : int
    utility_set : str
    horizon : str
        ``lifetime`` or ``follow_up``.
    horizon_days : float
        The follow-up of a ``follow_up`` horizon, days (``inf`` for a lifetime).
    discount_costs, discount_outcomes : float
        Annual discount rates.
    product_charged_on : str
        ``infusion`` or ``manufacturing``.
    wtp : tuple of float
        Willingness to pay per QALY (currency per QALY).
    """

    summary: pd.DataFrame
    icers: pd.DataFrame
    setting: str
    perspective: str
    currency: str
    price_year: int
    utility_set: str
    horizon: Literal["lifetime", "follow_up"]
    horizon_days: float
    discount_costs: float
    discount_outcomes: float
    product_charged_on: str
    wtp: tuple[float, ...]

    def best(self) -> dict[float, str]:
        """The strategy with the highest net monetary benefit at each willingness to pay (none without patients)."""
        table = self.icers
        if table.empty:
            return {}
        return {wtp: optimal_strategy(table["strategy"].tolist(), table["cost"], table["qalys"], wtp) for wtp in self.wtp}

    def horizon_text(self) -> str:
        """The time horizon in words."""
        if self.horizon == "lifetime":
            return f"lifetime (each patient to death or age {LIFETIME_AGE_YEARS:g})"
        return f"{self.horizon_days / DAYS_PER_YEAR:.3g} years from enrolment"

    def record(self) -> dict[str, object]:
        """The ``economics`` entry of ``run.json``: the CHEERS 2022 items 8 (perspective), 9 (time horizon),
        10 (discount rates) and 15 (currency and price date), and the rest of the evaluation's settings."""
        return {
            "perspective": self.perspective,
            "cost_setting": self.setting,
            "time_horizon": self.horizon_text(),
            "discount_rate_costs_per_year": self.discount_costs,
            "discount_rate_outcomes_per_year": self.discount_outcomes,
            "currency": self.currency,
            "price_year": self.price_year,
            "currency_conversion": "none: every cost is in the setting's currency",
            "utility_set": self.utility_set,
            "product_charged_on": self.product_charged_on,
            "willingness_to_pay_per_qaly": list(self.wtp),
            "highest_net_monetary_benefit": {nmb_column(wtp): strategy for wtp, strategy in self.best().items()},
        }


def evaluate(by_patient: pd.DataFrame, economics: Economics, values: ValueSet, horizon_days: float,
             window_years: float | None = None) -> Evaluation:
    """Summarise each patient's values into ``economics.csv`` and ``icers.csv``.

    Parameters
    ----------
    by_patient : pandas.DataFrame
        `sim.economics.value_models.patient_values` of every patient, strategy and replication of a run.
    economics : Economics
        The scenario's evaluation settings.
    values : ValueSet
        The value inputs used (``economics.value_set()``).
    horizon_days : float
        The scenario's follow-up, days (the horizon of a ``follow_up`` evaluation).
    window_years : float, optional
        For an open cohort, the years over which referrals were observed (adds ``service_cost_per_year``).

    Returns
    -------
    Evaluation
    """
    wtp = economics.thresholds(values)
    if by_patient.empty:  # nobody was referred: nothing to evaluate
        summary = pd.DataFrame(columns=list(SUMMARY_COLUMNS))
        icers = pd.DataFrame(columns=[*ICER_COLUMNS, *(nmb_column(v) for v in wtp)])
        return _evaluation(summary, icers, economics, values, horizon_days, wtp)
    summary = summarise_values(by_patient)
    if window_years is not None:
        summary = pd.concat([summary, _service_costs(by_patient, window_years)], ignore_index=True)
    means = summary.pivot_table(index="strategy", columns="metric", values="estimate", observed=True, sort=False)
    strategies = list(dict.fromkeys(by_patient["strategy"].astype(str)))
    table = incremental_analysis(strategies, means.loc[strategies, "cost_total"], means.loc[strategies, "qalys"], wtp)
    icers = table.rename(columns={"effect": "qalys", "inc_effect": "inc_qalys"})
    return _evaluation(summary, icers[[*ICER_COLUMNS, *(nmb_column(v) for v in wtp)]], economics, values, horizon_days, wtp)


def _evaluation(summary: pd.DataFrame, icers: pd.DataFrame, economics: Economics, values: ValueSet, horizon_days: float,
                wtp: tuple[float, ...]) -> Evaluation:
    setting = economics.cost_setting
    return Evaluation(
        summary=summary, icers=icers, setting=setting,
        perspective=values.perspective(setting), currency=values.currency(setting), price_year=values.price_year(setting),
        utility_set=economics.utility_set, horizon=economics.horizon,
        horizon_days=math.inf if economics.horizon == "lifetime" else float(horizon_days),
        discount_costs=values.discount_costs, discount_outcomes=values.discount_outcomes,
        product_charged_on=values.product_charged_on(setting), wtp=wtp,
    )

