"""Figures: survival by strategy, the pathway flow, the calibration fit, and capacity (resource use
over time, waiting-time distributions, the capacity sweep).

Survival and flow read the patients table (columns of `sim.inputs.codes.PATIENT_COLUMNS`). Each function
returns a matplotlib ``Figure`` made without pyplot (no global state: safe in a web app or a report);
the caller saves it (:func:`save_png`) or shows it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.inputs.codes import DAYS_PER_YEAR, RESOURCES
from sim.outcomes.endpoints import (
    DFS_FROM_INFUSION,
    ONE_YEAR_DAYS,
    OS_FROM_INFUSION,
    Observed,
    in_complete_response,
    infused,
    patient_columns,
    response_assessed,
    transplanted,
)
from sim.outcomes.estimators import kaplan_meier
from sim.report.text import setting_label

DAYS_PER_MONTH = DAYS_PER_YEAR / 12
DPI = 120
"""Resolution of saved figures, dots per inch."""


_Layout = Literal["constrained", "compressed", "tight"]
"""The layout engines of a matplotlib Figure."""


def new_figure(*, figsize: tuple[float, float], layout: _Layout | None = None) -> tuple[Figure, Axes]:
    """A figure of one panel (as ``pyplot.subplots`` gives, without pyplot)."""
    figure = Figure(figsize=figsize, layout=layout)
    return figure, figure.subplots()


def new_panels(nrows: int, ncols: int, *, figsize: tuple[float, float], layout: _Layout | None = None,
                **grid: Any) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows`` x ``ncols`` panels, an array of axes (as ``pyplot.subplots`` gives, without pyplot)."""
    figure = Figure(figsize=figsize, layout=layout)
    return figure, figure.subplots(nrows, ncols, **grid)


def set_margins(figure: Figure, *, left: float, right: float, bottom: float, top: float, wspace: float = 0.2) -> None:
    """Fixed margins around the panels, in inches (``wspace`` as a share of the mean panel width).

    For figures whose labels are fixed texts: it gives what ``tight_layout`` would, without laying the
    text out twice (which took about a third of the default run's figure time).
    """
    width, height = figure.get_size_inches()
    figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                           wspace=wspace)


def save_png(figure: Figure, path: str | Path) -> None:
    """Write ``figure`` as a PNG at :data:`DPI` (whatever the suffix of ``path``)."""
    figure.savefig(path, format="png", dpi=DPI)

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


AT_RISK_EVERY_MONTHS = 12.0
"""Months between the numbers at risk printed under a survival panel (and between its x ticks)."""


def _plot_km(axes: Axes, observed: Observed, label: str, colour: str) -> None:
    """Draw one Kaplan–Meier step curve of ``observed`` (days from infusion) against months, with its
    pointwise 95% band (log-log; where it is undefined, at survival 1 or 0, the curve itself); nothing if empty."""
    if observed.time.size == 0:
        return
    km = kaplan_meier(observed.time, observed.event)
    times, survival = km.step_curve()
    lower = np.concatenate(([1.0], np.where(np.isnan(km.lower), km.survival, km.lower)))
    upper = np.concatenate(([1.0], np.where(np.isnan(km.upper), km.survival, km.upper)))
    axes.fill_between(times / DAYS_PER_MONTH, lower, upper, step="post", color=colour, alpha=0.15, linewidth=0)
    axes.step(times / DAYS_PER_MONTH, survival, where="post", label=label, color=colour, linewidth=1.6)


def _at_risk(observed: Observed, months: np.ndarray) -> np.ndarray:
    """Patients still followed (no event, not censored) just before each of ``months`` from the origin."""
    days = np.sort(observed.time)
    return days.size - np.searchsorted(days, months * DAYS_PER_MONTH, side="left")


def _numbers_at_risk(axes: Axes, rows: list[tuple[str, Observed, str]], months: np.ndarray) -> None:
    """The numbers at risk under the panel, one row per strategy in its colour, at ``months``."""
    transform = axes.get_xaxis_transform()  # x in data (months), y in axes fractions
    axes.text(0.0, -0.2, "Number at risk", transform=axes.transAxes, ha="left", va="top", fontsize="small", fontweight="bold")
    for row, (_, observed, colour) in enumerate(rows):
        y = -0.2 - (row + 1) * AT_RISK_ROW
        for month, count in zip(months, _at_risk(observed, months), strict=True):
            axes.text(month, y, f"{count:,}", transform=transform, ha="center", va="top", fontsize="small", color=colour)


AT_RISK_ROW = 0.075
"""Height of one row of the numbers at risk, as a share of the panel's height."""


def _finish_survival_axes(axes: Axes, title: str, last_month: float) -> np.ndarray:
    """Limits, ticks every :data:`AT_RISK_EVERY_MONTHS`, labels, title and (if any curve was drawn) a
    legend; returns the tick months (where the numbers at risk go)."""
    ticks = np.arange(0.0, max(last_month, AT_RISK_EVERY_MONTHS) + 1e-9, AT_RISK_EVERY_MONTHS)
    axes.set_ylim(0.0, 1.0)
    axes.set_xlim(0.0, max(last_month, ticks[-1]) + 0.5)
    axes.set_xticks(ticks)
    axes.set_xlabel("Months from infusion")
    axes.set_ylabel("Probability")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if axes.get_lines():
        axes.legend(loc="upper right", fontsize="small")
    return ticks


def plot_survival(patients: pd.DataFrame) -> Figure:
    """Kaplan–Meier overall and disease-free survival by strategy, as one PNG with two panels.

    OS counts death among infused patients; DFS counts relapse or death among infused patients in CR
    (`sim.outcomes.endpoints.OS_FROM_INFUSION`, `DFS_FROM_INFUSION`). Both run from infusion (start of
    the index treatment), in months of 30.4375 days; replications are pooled into one curve per strategy.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table; days count from enrolment.
    """
    groups = list(_by_strategy(patients))
    colours = strategy_colours(label for label, _ in groups)
    panel_height = 3.6
    at_risk_height = panel_height * (0.2 + (len(groups) + 1) * AT_RISK_ROW)
    figure, (os_axes, dfs_axes) = new_panels(1, 2, figsize=(11, panel_height + at_risk_height + 0.9), sharey=True)
    observed: dict[str, list[tuple[str, Observed, str]]] = {"os": [], "dfs": []}
    for label, rows in groups:
        columns = patient_columns(rows)
        observed["os"].append((label, OS_FROM_INFUSION.observe(columns), colours[label]))
        observed["dfs"].append((label, DFS_FROM_INFUSION.observe(columns), colours[label]))
    times = [curve.time for key in observed for _, curve, _ in observed[key] if curve.time.size]
    last_month = max((float(time.max()) for time in times), default=0.0) / DAYS_PER_MONTH  # the longest follow-up from infusion
    for axes, key, title in ((os_axes, "os", "Overall survival (infused patients)"),
                             (dfs_axes, "dfs", "Disease-free survival (patients in CR)")):
        for label, curve, colour in observed[key]:
            _plot_km(axes, curve, label, colour)
        _numbers_at_risk(axes, observed[key], _finish_survival_axes(axes, title, last_month))
    figure.suptitle("Survival by strategy, Kaplan–Meier with 95% confidence bands")
    set_margins(figure, left=0.75, right=0.2, bottom=at_risk_height + 0.2, top=0.7, wspace=0.09)
    return figure


def _flow_counts(rows: pd.DataFrame) -> np.ndarray:
    """Patients reaching each step of `FLOW_STEPS`, averaged per replication.

    "Alive in remission at 1 y" counts the infused patients in CR whose disease-free survival
    (`sim.outcomes.endpoints.DFS_FROM_INFUSION`) lasts at least one year.
    """
    columns = patient_columns(rows)
    treated = infused(columns)
    disease_free_days = DFS_FROM_INFUSION.observe(columns).time
    reached = np.array([
        len(rows),
        np.count_nonzero(treated),
        np.count_nonzero(treated & response_assessed(columns)),
        np.count_nonzero(treated & in_complete_response(columns)),
        np.count_nonzero(transplanted(columns)),
        np.count_nonzero(disease_free_days >= ONE_YEAR_DAYS),
        np.count_nonzero(~columns["death"]),
    ], dtype=float)
    return reached / rows["replication"].nunique()


def _count_label(count: float) -> str:
    """A count as a whole number, or with one decimal when it is a non-integer average."""
    return f"{count:.0f}" if float(count).is_integer() else f"{count:.1f}"


def plot_flow(patients: pd.DataFrame) -> Figure:
    """Pathway flow: how many patients per replication reach each step, by strategy, as one PNG.

    Steps (`FLOW_STEPS`): enrolled; infused (start of the index treatment); alive at response
    assessment; in CR; transplanted; alive in remission (CR, no relapse) 1 year (365.25 days) after infusion;
    alive at the end of follow-up. Counts are averaged over replications.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table; days count from enrolment.
    """
    groups = [(label, _flow_counts(rows)) for label, rows in _by_strategy(patients)]
    positions = np.arange(len(FLOW_STEPS))
    height = 0.8 / max(len(groups), 1)
    figure, axes = new_figure(figsize=(9, 1.5 + 0.25 * len(FLOW_STEPS) * max(len(groups), 1)))
    colours = strategy_colours(label for label, _ in groups)
    for index, (label, counts) in enumerate(groups):
        bars = axes.barh(positions + (index - (len(groups) - 1) / 2) * height, counts, height, label=label, color=colours[label])
        axes.bar_label(bars, labels=[_count_label(count) for count in counts], padding=2, fontsize="small")
    axes.set_yticks(positions, FLOW_STEPS)
    axes.invert_yaxis()
    axes.set_xlabel("Patients per replication")
    axes.set_title("Patient pathway by strategy")
    axes.margins(x=0.12)
    if groups:
        axes.legend(loc="lower right", fontsize="small")
    set_margins(figure, left=2.4, right=0.2, bottom=0.65, top=0.45)
    return figure


def plot_fit(fit: pd.DataFrame) -> Figure:
    """Calibration fit: each target's reported value (and CI) beside the model's prior and posterior
    95% intervals of its expected probability, one row per target, as one PNG.

    Parameters
    ----------
    fit : pandas.DataFrame
        ``sim.calibration.calibrate.Calibration.fit_frame()``; medians appear as the probability 0.5 of the
        event by the reported median time.
    """
    rows = np.arange(len(fit))[::-1]
    figure, axes = new_figure(figsize=(8.5, 1.2 + 0.28 * len(fit)))
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
    return figure


RESOURCE_LABELS: dict[str, str] = dict(zip(RESOURCES, (
    "Apheresis", "Manufacturing slots", "CAR-T beds", "ICU beds", "Transplant beds", "Donor search",
)))
"""Human label of each resource of `sim.inputs.codes.RESOURCES`, in the order resources are drawn."""

SWEEP_SHARE_METRICS: dict[str, str] = {
    "dropout_while_waiting": "Progressed before infusion while waiting",
    "relapse_while_waiting": "Relapsed while waiting",
    "death_while_waiting": "Died while waiting",
    "itt_os_2y": "2-year survival from referral",
}
"""Patient metrics of `plot_sweep` that are shares (drawn as percent), in drawing order, with panel titles."""

_LineStyle = Literal["-", "--", ":", "-."]
_LINE_STYLES: tuple[_LineStyle, ...] = ("-", "--", ":", "-.")


def _ordered_resources(names: Iterable[object]) -> list[str]:
    """The resource names present, in `RESOURCE_LABELS` order, then unknown names in order of appearance."""
    present = list(dict.fromkeys(name for name in names if isinstance(name, str) and name))
    return [name for name in RESOURCE_LABELS if name in present] + [name for name in present
                                                                    if name not in RESOURCE_LABELS]


PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
"""Okabe & Ito's colour-blind-safe palette (blue, orange, bluish green, reddish purple, sky blue, vermillion,
black, yellow), one colour per strategy in order of first appearance."""


def strategy_colours(strategies: Iterable[object]) -> dict[str, str]:
    """One colour of :data:`PALETTE` per strategy, in order of first appearance."""
    return {strategy: PALETTE[index % len(PALETTE)] for index, strategy in enumerate(dict.fromkeys(map(str, strategies)))}


def _panel_grid(count: int) -> tuple[Figure, np.ndarray]:
    """A figure with ``count`` panels on a grid of up to 3 columns; spare cells are hidden."""
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure, axes = new_panels(rows, columns, figsize=(4.4 * columns, 1.2 + 3.2 * rows), squeeze=False,
                                layout="constrained")
    for spare in axes.ravel()[count:]:
        spare.set_axis_off()
    return figure, axes.ravel()[:count]


def _figure_legend(figure: Figure, panels: Iterable[Axes]) -> None:
    """One legend below the panels with every labelled artist once (first occurrence wins)."""
    entries: dict[str, Artist] = {}
    for axes in panels:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        figure.legend(list(entries.values()), list(entries), loc="outside lower center",
                      ncol=min(len(entries), 4), fontsize="small", frameon=False)


def message_figure(text: str) -> Figure:
    """A small figure holding only ``text``, centred, for runs with nothing to draw."""
    figure, axes = new_figure(figsize=(6, 2))
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes)
    return figure


def _mark_window(axes: Axes, window: tuple[float, float], days: tuple[float, float]) -> None:
    """Shade the warm-up (before ``window[0]``) and mark the end of observation ``window[1]`` if inside ``days``."""
    warm_up, end = window
    if warm_up > 0:
        axes.axvspan(0.0, warm_up / DAYS_PER_MONTH, color="0.9", zorder=0, label="warm-up")
    if days[0] <= end <= days[1]:
        axes.axvline(end / DAYS_PER_MONTH, color="0.3", linewidth=0.8, label="end of observation window")


def _plot_occupancy(axes: Axes, means: pd.DataFrame, column: str, colours: dict[str, str]) -> None:
    """Draw ``column`` of the replication means against months, one line per strategy."""
    for strategy, rows in means.groupby("strategy", sort=False):
        rows = rows.sort_values("day")
        axes.plot(rows["day"] / DAYS_PER_MONTH, rows[column], color=colours[str(strategy)], linewidth=1.2, label=strategy)
    axes.grid(alpha=0.3)


def plot_utilisation(occupancy: pd.DataFrame, servers: dict[str, int | None], window: tuple[float, float]) -> Figure:
    """Resource use over time: servers in use and patients waiting per resource, mean over replications.

    One row of panels per resource present (in `RESOURCE_LABELS` order), "in use" on the left with a
    dashed capacity line, "waiting" on the right; one line per strategy. The warm-up is shaded and the
    end of the observation window marked. Time runs in months of 30.4375 days from the start of the
    simulation.

    Parameters
    ----------
    occupancy : pandas.DataFrame
        Columns ``strategy``, ``replication``, ``resource``, ``day`` (days from the start of the
        simulation, the same regular grid throughout), ``in_use`` (servers busy) and ``queue``
        (patients waiting).
    servers : dict of str to int or None
        Servers per resource; None (or absent) means unlimited, drawn without a capacity line.
    window : tuple of float
        Start (end of warm-up) and end of the observation window, days from the start of the simulation.
    """
    resources = _ordered_resources(occupancy["resource"].unique())
    if not resources:
        return message_figure("No resource use recorded in this run")
    means = (occupancy.assign(strategy=occupancy["strategy"].astype(str))
             .groupby(["resource", "strategy", "day"], sort=False, observed=True)[["in_use", "queue"]]
             .mean().reset_index())
    colours = strategy_colours(means["strategy"])
    days = (float(occupancy["day"].min()), float(occupancy["day"].max()))
    replications = occupancy["replication"].nunique()
    figure, panels = new_panels(len(resources), 2, figsize=(11, 1.0 + 2.4 * len(resources)), sharex=True,
                                  squeeze=False, layout="constrained")
    for resource, (use_axes, wait_axes) in zip(resources, panels):
        rows = means[means["resource"] == resource]
        label = RESOURCE_LABELS.get(resource, resource)
        _plot_occupancy(use_axes, rows, "in_use", colours)
        _plot_occupancy(wait_axes, rows, "queue", colours)
        capacity = servers.get(resource)
        if capacity is not None:
            use_axes.axhline(capacity, color="black", linestyle="--", linewidth=1, label="capacity")
        for axes in (use_axes, wait_axes):
            _mark_window(axes, window, days)
            axes.set_ylim(0.0, max(axes.get_ylim()[1], 1.0))
        use_axes.set(title=f"{label}: in use", ylabel="in use")
        wait_axes.set(title=f"{label}: waiting", ylabel="patients waiting")
    for axes in panels[-1]:
        axes.set_xlabel("months since start of simulation")
    _figure_legend(figure, panels.ravel())
    figure.suptitle(f"Resource use over time (mean of {replications} replication{'s' * (replications != 1)})")
    return figure


def _wait_steps(waits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days and share who waited at most that long, as a post-step curve from day 0 (empirical CDF)."""
    days, counts = np.unique(waits, return_counts=True)
    share = np.cumsum(counts) / waits.size
    if days[0] > 0:
        return np.concatenate(([0.0], days)), np.concatenate(([0.0], share))
    return days, share


def plot_waits(patients: pd.DataFrame) -> Figure:
    """Waiting-time distributions: empirical CDF of each resource's wait by strategy, as one PNG.

    One panel per ``wait_<resource>_days`` column with data (in `RESOURCE_LABELS` order); among the
    patients who asked for the resource (non-missing wait), the share who waited at most x days, with
    replications pooled. A figure saying nobody waited is written when no wait column has data.

    Parameters
    ----------
    patients : pandas.DataFrame
        Column ``strategy`` and any of the ``wait_<resource>_days`` columns (days; NaN when the patient
        never asked for the resource).
    """
    columns = [(resource, f"wait_{resource}_days") for resource in RESOURCE_LABELS]
    columns = [(resource, column) for resource, column in columns
               if column in patients and patients[column].notna().any()]
    if not columns:
        return message_figure("Nobody waited for a resource in this run")
    strategies = patients["strategy"].astype(str)
    colours = strategy_colours(strategies)
    figure, panels = _panel_grid(len(columns))
    for axes, (resource, column) in zip(panels, columns):
        for strategy, waits in patients[column].groupby(strategies, sort=False):
            days = waits.dropna().to_numpy(dtype=float)
            if days.size:
                axes.step(*_wait_steps(days), where="post", color=colours[strategy], label=strategy)
        axes.set_ylim(0.0, 1.02)
        axes.set_xlim(left=0.0)
        axes.set(title=f"{RESOURCE_LABELS[resource]} (n asked = {patients[column].notna().sum()})",
                 xlabel="days waited", ylabel="share who waited at most x days")
        axes.grid(alpha=0.3)
    _figure_legend(figure, panels)
    figure.suptitle("Waiting time for each resource, by strategy")
    return figure


def _setting_categories(values: pd.Series) -> list[str]:
    """Labels of a swept setting's values along the x axis: ascending, then "unlimited" if any is missing."""
    labels = [setting_label(value) for value in sorted(values.dropna().unique())]
    return list(dict.fromkeys(labels)) + ["unlimited"] * bool(values.isna().any())


def _combination_labels(sweep: pd.DataFrame, keys: list[str]) -> list[str]:
    """Per row, the values of the swept ``keys`` as e.g. "cart_bed=2, icu_bed=unlimited" (key's last part)."""
    if not keys:
        return [""] * len(sweep)
    names = [key.rsplit(".", 1)[-1] for key in keys]
    return [", ".join(f"{name}={setting_label(value)}" for name, value in zip(names, values))
            for values in zip(*(sweep[key] for key in keys))]


def _sweep_panels(table: pd.DataFrame, currency: str = "") -> list[tuple[str, str, pd.DataFrame]]:
    """(title, y label, rows) of each `plot_sweep` panel: mean waits per resource, percent metrics, then cost
    (thousands of ``currency``) and QALYs per referral where the sweep has them."""
    panels = []
    waits = table[table["metric"] == "mean_wait_days"]
    resources = waits["resource"] if "resource" in waits else pd.Series(dtype=object)
    for resource in _ordered_resources(resources.unique()):
        rows = waits[resources == resource]
        if (rows["estimate"].fillna(0.0) != 0.0).any():
            panels.append((f"{RESOURCE_LABELS.get(resource, resource)}: mean wait", "days", rows))
    for metric, title in SWEEP_SHARE_METRICS.items():
        rows = table[table["metric"] == metric]
        if len(rows):
            percent = {column: 100.0 * rows[column].astype(float) for column in ("estimate", "lower", "upper")}
            panels.append((title, "% of patients", rows.assign(**percent)))
    for metric, title, label, scale in (("cost_total", "Cost per referral (discounted)", f"thousand {currency}".strip(), 1e-3),
                                        ("qalys", "QALYs per referral (discounted)", "QALYs", 1.0)):
        rows = table[table["metric"] == metric]
        if len(rows):
            panels.append((title, label, rows.assign(**{c: scale * rows[c].astype(float) for c in ("estimate", "lower", "upper")})))
    return panels


def _plot_sweep_panel(axes: Axes, rows: pd.DataFrame, categories: list[str], colours: dict[str, str],
                      styles: dict[str, _LineStyle]) -> None:
    """Estimate with lower–upper error bars against the setting category, one line per strategy and
    combination of the other settings; strategies are dodged slightly apart."""
    positions = {label: index for index, label in enumerate(categories)}
    dodge = {strategy: 0.06 * (index - (len(colours) - 1) / 2) for index, strategy in enumerate(colours)}
    for (strategy, combination), line in rows.groupby(["strategy", "combination"], sort=False):
        line = line.assign(x=line["setting"].map(positions) + dodge[str(strategy)]).sort_values("x")
        estimate = line["estimate"].to_numpy(dtype=float)
        error = np.clip([estimate - line["lower"].to_numpy(dtype=float),
                         line["upper"].to_numpy(dtype=float) - estimate], 0.0, None)
        axes.errorbar(line["x"], estimate, yerr=error, color=colours[str(strategy)], linestyle=styles[str(combination)],
                      marker="o", markersize=3, capsize=2, linewidth=1.2)
    axes.set_xticks(range(len(categories)), categories)
    axes.set_ylim(bottom=0.0)
    axes.grid(alpha=0.3)


def plot_sweep(sweep: pd.DataFrame, keys: list[str], currency: str = "") -> Figure:
    """Capacity sweep ("how many do we need?"): each metric against the first swept setting, as one PNG.

    Panels, on a grid of up to 3 columns: mean wait (days) for each resource with a non-zero mean
    wait somewhere, then the shares in `SWEEP_SHARE_METRICS` (as percent) that are present, then the cost
    (thousands of ``currency``) and QALYs per referral where the sweep has them. The first
    setting's values are categories along the x axis, ascending, with a missing value (unlimited) last.
    One colour per strategy, one line style per combination of the other settings; error bars span
    lower to upper where given.

    Parameters
    ----------
    sweep : pandas.DataFrame
        Columns ``*keys`` (the swept settings; missing means unlimited), ``strategy``, ``metric``,
        ``estimate``, ``lower``, ``upper`` and, for ``mean_wait_days`` rows, ``resource``.
    keys : list of str
        The swept settings, at least one; the first is the x axis.
    currency : str, optional
        The currency of the costs, for the axis label.
    """
    if not keys:
        raise ValueError("plot_sweep needs at least one swept setting in keys")
    table = sweep.assign(setting=[setting_label(value) for value in sweep[keys[0]]],
                         combination=_combination_labels(sweep, keys[1:]), strategy=sweep["strategy"].astype(str))
    panels = _sweep_panels(table, currency)
    if not panels:
        return message_figure("No capacity-sweep results to draw")
    categories = _setting_categories(sweep[keys[0]])
    colours = strategy_colours(table["strategy"])
    styles = {combination: _LINE_STYLES[index % len(_LINE_STYLES)]
              for index, combination in enumerate(dict.fromkeys(table["combination"]))}
    legend = [Line2D([], [], color=colour, marker="o", label=strategy) for strategy, colour in colours.items()]
    if len(keys) > 1:
        legend += [Line2D([], [], color="0.3", linestyle=style, label=combination)
                   for combination, style in styles.items()]
    figure, axes_list = _panel_grid(len(panels))
    for axes, (title, ylabel, rows) in zip(axes_list, panels):
        _plot_sweep_panel(axes, rows, categories, colours, styles)
        axes.set(title=title, xlabel=keys[0], ylabel=ylabel)
    figure.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 4), fontsize="small",
                  frameon=False)
    figure.suptitle("Capacity sweep: " + ", ".join(keys))
    return figure
