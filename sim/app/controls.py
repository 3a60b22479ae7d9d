"""What the teaching app's controls change, without Streamlit: the evidence range of a parameter, the scenario a set
of control values gives, and the headline table of a run (so each is testable on its own).

Everything goes through the library facade :mod:`sim.api` and the objects it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import api

HEADLINE_METRICS: dict[str, str] = {
    "infused_rate": "Infused",
    "cr_rate": "CR",
    "hsct_rate": "HSCT",
    "agvhd_grade2plus": "aGVHD 2+",
    "os_1y": "OS 1y",
    "os_2y": "OS 2y",
    "pfs_1y": "PFS 1y",
    "nrm_post_hsct_2y": "NRM 2y",
    "cir_post_hsct_2y": "Relapse 2y",
    "relapse_cd7_negative_share": "CD7-neg relapses",
    "itt_os_1y": "ITT OS 1y",
}
"""The headline table's metrics (fractions of ``summary.csv``) and their column labels: infused among enrolled; CR
and HSCT among infused; OS and PFS from infusion; NRM and relapse at 2 years from HSCT; CD7-negative share of
relapses; ITT OS 1 year from enrolment (referral)."""
WAITING_METRICS: dict[str, str] = {"dropout_while_waiting": "Dropout waiting", "death_while_waiting": "Died waiting"}
"""Added to the headline table when capacity is limited (shares of enrolled patients)."""
UNLIMITED = 0
"""The value of a capacity slider that means unlimited."""
CAPACITY_CONTROLS: dict[str, str] = {"manufacturing_slots": "Manufacturing slots", "cart_beds": "CAR-T beds",
                                     "transplant_beds": "Transplant beds"}
"""The capacity settings the app offers for an open cohort, and their labels."""


@dataclass(frozen=True)
class ParameterControl:
    """A slider for one parameter of ``calibration/parameters.yaml``.

    Attributes
    ----------
    name : str
    low, high : float
        The evidence range: the assumption's plausible range, or the central 95% of the uncertainty distribution.
    value : float
        The scenario's value, inside the range.
    unit : str
    help : str
        The tooltip: what it means, its evidence identifiers and, for an assumption, the reason.
    """

    name: str
    low: float
    high: float
    value: float
    unit: str
    help: str


def parameter_controls(params: api.ParameterSet) -> dict[str, ParameterControl]:
    """A slider for each parameter of ``params`` (a scenario's :meth:`parameter_set`) that has an uncertainty
    distribution, by name."""
    controls = {}
    for name, parameter in params.registry.items():
        distribution = parameter.distribution
        if parameter.range is not None:
            low, high = parameter.range
        elif hasattr(distribution, "ppf"):
            low, high = (float(v) for v in distribution.ppf(np.array([0.025, 0.975])))
        else:
            continue
        if not low < high:
            continue
        evidence = ", ".join(parameter.evidence)
        reason = f" Why an assumption: {parameter.reason}" if parameter.reason else ""
        help_text = f"{parameter.description.strip()} Evidence: {evidence}. Range {low:.3g}–{high:.3g} {parameter.unit}.{reason}"
        controls[name] = ParameterControl(name, float(low), float(high), float(np.clip(params[name], low, high)),
                                          parameter.unit, help_text)
    return controls


def strategy_defaults(params: api.ParameterSet, strategy: api.Strategy) -> dict[str, float | bool]:
    """A strategy's transplant interval (days), uptake (0-1), CD7-negative multiplier and MRD-guided flag as the
    controls show them: its own values, or those of ``params`` (the scenario's parameter set) where it leaves them
    to the parameters."""
    values: dict[str, float | bool] = {"cd7_negative_multiplier": strategy.cd7_negative_multiplier,
                                       "mrd_guided": strategy.hsct_for == "mrd_positive"}
    if strategy.hsct_platform != "none":
        names = strategy.transplant_parameters
        values["hsct_interval_days"] = strategy.hsct_interval_days or params[names.interval_days]
        values["hsct_uptake"] = strategy.hsct_uptake if strategy.hsct_uptake is not None else params[names.uptake]
    return values


def strategy_with(strategy: api.Strategy, controls: Mapping[str, float | bool]) -> dict[str, object]:
    """The strategy with the control values that apply to it (a scenario-file mapping)."""
    fields: dict[str, object] = strategy.model_dump()
    if strategy.index_therapy == "cart" and "cd7_negative_multiplier" in controls:
        fields["cd7_negative_multiplier"] = float(controls["cd7_negative_multiplier"])
    if strategy.hsct_platform != "none":
        for key in ("hsct_interval_days", "hsct_uptake"):
            if key in controls:
                fields[key] = float(controls[key])
        if "mrd_guided" in controls:
            fields["hsct_for"] = "mrd_positive" if controls["mrd_guided"] else "all_in_cr"
    return fields


def engine_for(scenario: api.Scenario) -> str:
    """``cohort`` (vectorised, fast) unless the scenario limits capacity, which needs the discrete-event engine."""
    return "des" if scenario.capacity.limited() else "cohort"


def headline_table(summary: pd.DataFrame, waiting: bool = False) -> pd.DataFrame:
    """The headline table: one row per strategy, each metric as ``percent (95% interval)``; ``n/a`` where undefined.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of a run.
    waiting : bool
        Add the shares who left while waiting for a resource (:data:`WAITING_METRICS`).
    """
    metrics = {**HEADLINE_METRICS, **(WAITING_METRICS if waiting else {})}
    rows = summary[summary["metric"].isin(list(metrics))]
    table = rows.pivot_table(index="strategy", columns="metric", values=["estimate", "lower", "upper"], sort=False, observed=True)
    strategies = list(dict.fromkeys(map(str, summary["strategy"])))
    result = pd.DataFrame(index=pd.Index(strategies, name="strategy"))
    for metric, label in metrics.items():
        if ("estimate", metric) not in table.columns:
            continue
        result[label] = [_percent(*(float(table.at[s, (column, metric)]) for column in ("estimate", "lower", "upper")))  # type: ignore[arg-type]
                         if s in table.index else "n/a" for s in strategies]
    return result


def _percent(estimate: float, lower: float, upper: float) -> str:
    if not np.isfinite(estimate):
        return "n/a"
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return f"{estimate:.0%}"
    return f"{estimate:.0%} ({lower * 100:.0f}–{upper * 100:.0f})"


def estimate(summary: pd.DataFrame, strategy: str, metric: str) -> float:
    """One estimate of ``summary.csv`` (a fraction, or days), ``NaN`` when absent."""
    rows = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric)]
    return float(rows["estimate"].iloc[0]) if len(rows) else float("nan")
