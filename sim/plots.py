"""Figures from the patients table: survival by strategy and the pathway flow.

Reads the patients table only (columns of `sim.schema.PATIENT_COLUMNS`). Figures are drawn with the
non-interactive Agg backend and written as PNG to the path given, whatever its suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from sim.outcomes import (
    ONE_YEAR_DAYS,
    disease_free_survival_times,
    kaplan_meier,
    overall_survival_times,
)
from sim.schema import CR_RESPONSES

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (pyplot after choosing the backend)

DAYS_PER_MONTH = 30.4375
DPI = 120

FLOW_STEPS: tuple[str, ...] = (
    "enrolled",
    "infused (index treatment)",
    "alive at response assessment",
    "in CR",
    "transplanted",
    "alive in remission at 1 y",
    "alive at end",
)
"""Pathway steps of `plot_flow`, top to bottom."""


def _by_strategy(patients: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """(label, rows) per scenario and strategy in order of first appearance, replications pooled.

    The label is the strategy, prefixed by the scenario when the table holds several scenarios.
    """
    several_scenarios = patients["scenario"].nunique() > 1
    for (scenario, strategy), rows in patients.groupby(["scenario", "strategy"], sort=False, observed=True):
        yield (f"{scenario} / {strategy}" if several_scenarios else str(strategy)), rows


def _plot_km(axes: plt.Axes, days: np.ndarray, event: np.ndarray, label: str) -> None:
    """Draw one Kaplan–Meier step curve of ``days`` (from infusion) against months; nothing if empty."""
    if days.size == 0:
        return
    times, survival = kaplan_meier(days, event).step_curve()
    axes.step(times / DAYS_PER_MONTH, survival, where="post", label=label)


def _finish_survival_axes(axes: plt.Axes, title: str) -> None:
    """Limits, labels, title and (if any curve was drawn) a legend."""
    axes.set_ylim(0.0, 1.0)
    axes.set_xlim(left=0.0)
    axes.set_xlabel("Months from infusion")
    axes.set_ylabel("Probability")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if axes.get_lines():
        axes.legend(loc="upper right", fontsize="small")


def plot_survival(patients: pd.DataFrame, path: str | Path) -> None:
    """Kaplan–Meier overall and disease-free survival by strategy, as one PNG with two panels.

    OS counts death among infused patients; DFS counts relapse or death among infused patients in CR.
    Both run from infusion (start of the index treatment), in months of 30.4375 days; replications are
    pooled into one curve per strategy.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table; days count from enrolment.
    path : str or pathlib.Path
        Where to write the PNG (written as PNG whatever the suffix).
    """
    figure, (os_axes, dfs_axes) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    try:
        for label, rows in _by_strategy(patients):
            _plot_km(os_axes, *overall_survival_times(rows), label)
            _plot_km(dfs_axes, *disease_free_survival_times(rows), label)
        _finish_survival_axes(os_axes, "Overall survival (infused patients)")
        _finish_survival_axes(dfs_axes, "Disease-free survival (patients in CR)")
        figure.suptitle("Survival by strategy, Kaplan–Meier")
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=DPI)
    finally:
        plt.close(figure)


def _flow_counts(rows: pd.DataFrame) -> np.ndarray:
    """Patients reaching each step of `FLOW_STEPS`, averaged per replication."""
    infused = rows["infused"].to_numpy(dtype=bool)
    infusion_day = rows["infusion_day"].to_numpy(dtype=float)
    since_infusion = rows["last_day"].to_numpy(dtype=float) - infusion_day
    relapse_since_infusion = rows["relapse_day"].to_numpy(dtype=float) - infusion_day
    relapsed_in_first_year = rows["relapse"].to_numpy(dtype=bool) & (relapse_since_infusion < ONE_YEAR_DAYS)
    in_cr = infused & rows["response"].isin(CR_RESPONSES).to_numpy(dtype=bool)
    reached = np.array([
        len(rows),
        np.count_nonzero(infused),
        np.count_nonzero(infused & (rows["response"] != "not_assessed").to_numpy(dtype=bool)),
        np.count_nonzero(in_cr),
        np.count_nonzero(rows["hsct"].to_numpy(dtype=bool)),
        np.count_nonzero(in_cr & (since_infusion >= ONE_YEAR_DAYS) & ~relapsed_in_first_year),
        np.count_nonzero(~rows["death"].to_numpy(dtype=bool)),
    ], dtype=float)
    return reached / rows["replication"].nunique()


def _count_label(count: float) -> str:
    """A count as a whole number, or with one decimal when it is a non-integer average."""
    return f"{count:.0f}" if float(count).is_integer() else f"{count:.1f}"


def plot_flow(patients: pd.DataFrame, path: str | Path) -> None:
    """Pathway flow: how many patients per replication reach each step, by strategy, as one PNG.

    Steps (`FLOW_STEPS`): enrolled; infused (start of the index treatment); alive at response
    assessment; in CR; transplanted; alive in remission (CR, no relapse) 1 year (365.25 days) after infusion;
    alive at the end of follow-up. Counts are averaged over replications.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table; days count from enrolment.
    path : str or pathlib.Path
        Where to write the PNG (written as PNG whatever the suffix).
    """
    groups = [(label, _flow_counts(rows)) for label, rows in _by_strategy(patients)]
    positions = np.arange(len(FLOW_STEPS))
    height = 0.8 / max(len(groups), 1)
    figure, axes = plt.subplots(figsize=(9, 1.5 + 0.25 * len(FLOW_STEPS) * max(len(groups), 1)))
    try:
        for index, (label, counts) in enumerate(groups):
            bars = axes.barh(positions + (index - (len(groups) - 1) / 2) * height, counts, height, label=label)
            axes.bar_label(bars, labels=[_count_label(count) for count in counts], padding=2, fontsize="small")
        axes.set_yticks(positions, FLOW_STEPS)
        axes.invert_yaxis()
        axes.set_xlabel("Patients per replication")
        axes.set_title("Patient pathway by strategy")
        axes.margins(x=0.12)
        if groups:
            axes.legend(loc="lower right", fontsize="small")
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=DPI)
    finally:
        plt.close(figure)


def plot_fit(fit: pd.DataFrame, path: str | Path) -> None:
    """Calibration fit: each target's reported value (and CI) beside the model's prior and posterior
    95% intervals of its expected probability, one row per target, as one PNG.

    Parameters
    ----------
    fit : pandas.DataFrame
        ``sim.calibration.Calibration.fit_frame()``; medians appear as the probability 0.5 of the
        event by the reported median time.
    path : str or pathlib.Path
        Where to write the PNG.
    """
    rows = np.arange(len(fit))[::-1]
    figure, axes = plt.subplots(figsize=(8.5, 1.2 + 0.28 * len(fit)))
    axes.hlines(rows, fit["posterior_lower"], fit["posterior_upper"], color="tab:blue", linewidth=4, alpha=0.6,
                label="model, posterior 95% interval")
    axes.plot(fit["prior_mean"], rows, "|", color="grey", markersize=9, label="model, prior mean")
    axes.plot(fit["posterior_mean"], rows, "o", color="tab:blue", markersize=4, label="model, posterior mean")
    has_ci = fit["reported_lower"].notna()
    axes.hlines(rows[has_ci], fit["reported_lower"][has_ci], fit["reported_upper"][has_ci], color="black", linewidth=1)
    axes.plot(fit["reported"], rows, "D", color="black", markersize=4, label="reported (95% CI where given)")
    axes.set_yticks(rows, [f"{s} · {m} (n={n})" for s, m, n in zip(fit["study"], fit["metric"], fit["n"])], fontsize=7)
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("probability")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=7, frameon=False)
    axes.set_title("Calibration targets beside the model", fontsize=10, pad=34)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=DPI)
    plt.close(figure)
