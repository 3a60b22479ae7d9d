"""Figures of the decision analysis of a PSA (``cd7sim cea``): the cost-effectiveness plane, the acceptability
curves with their frontier, the expected loss curves, the EVPI curve and the EVPPI bars.

Each function returns a matplotlib ``Figure`` made without pyplot, with fixed margins (inches), axes labelled
with their units and strategies in the colours of :data:`sim.report.plots.PALETTE`, in the PSA's order.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.report.plots import PALETTE, new_figure, set_margins, strategy_colours
from sim.uncertainty.decision import PSA

CLOUD_POINTS = 1000
"""At most this many draws per strategy are drawn on the cost-effectiveness plane (a random subset beyond)."""
EVPPI_BARS = 15
"""Parameter groups shown in the EVPPI chart (the highest at the first willingness to pay)."""
FONT_SIZE = 10
"""Axis labels and titles, points."""


def _figure(width: float, height: float, left: float = 1.1, right: float = 0.3, bottom: float = 0.7,
            top: float = 0.5) -> tuple[Figure, Axes]:
    """One panel with fixed margins in inches."""
    figure, axes = new_figure(figsize=(width, height))
    set_margins(figure, left=left, right=right, bottom=bottom, top=top)
    return figure, axes


def _curves(ceac: pd.DataFrame, column: str) -> tuple[Figure, Axes]:
    """A figure with one curve of ``column`` against the willingness to pay per strategy, in the PSA's colours."""
    figure, axes = _figure(7.5, 4.6, right=2.4)
    colours = strategy_colours(ceac["strategy"])
    for name, rows in ceac.groupby("strategy", sort=False):
        axes.plot(rows["wtp"], rows[column], color=colours[str(name)], linewidth=1.4, label=str(name))
    return figure, axes


def _money() -> FuncFormatter:
    """Tick labels with thousands separators (no currency sign: the unit is in the axis label)."""
    return FuncFormatter(lambda value, _: f"{value:,.0f}" if abs(value) >= 10 or value == 0 else f"{value:,.2g}")


def plot_ce_plane(psa: PSA, icers: pd.DataFrame, currency: str, seed: int = 0) -> Figure:
    """The cost-effectiveness plane: each strategy's PSA draws, its mean and the efficient frontier.

    Parameters
    ----------
    psa : PSA
    icers : pandas.DataFrame
        `sim.uncertainty.decision.incremental_table` of ``psa`` (its ``strategy, cost, qalys, status``).
    currency : str
        Unit of costs for the axis label (e.g. ``USD``).
    seed : int
        Chooses the draws shown when there are more than `CLOUD_POINTS`.
    """
    figure, axes = _figure(7.5, 5.2, right=2.4)
    colours = strategy_colours(psa.strategies)
    rng = np.random.default_rng(seed)
    shown = np.sort(rng.choice(psa.draws.size, size=min(psa.draws.size, CLOUD_POINTS), replace=False))
    for index, name in enumerate(psa.strategies):
        axes.scatter(psa.qalys[shown, index], psa.cost[shown, index], s=6, alpha=0.25, color=colours[name], linewidths=0)
    means = icers.set_index("strategy")
    for name in psa.strategies:
        row = means.loc[name]
        axes.scatter([row["qalys"]], [row["cost"]], s=70, color=colours[name], edgecolors="black", linewidths=0.8, zorder=3,
                     label=f"{name} ({row['status']})")
    frontier = icers[icers["status"] == "ND"]
    axes.plot(frontier["qalys"], frontier["cost"], color="black", linewidth=1.2, zorder=2, label="efficient frontier (means)")
    axes.yaxis.set_major_formatter(_money())
    axes.set_xlabel("QALYs per person", fontsize=FONT_SIZE)
    axes.set_ylabel(f"Cost per person ({currency})", fontsize=FONT_SIZE)
    axes.set_title(f"Cost-effectiveness plane: {psa.draws.size:,} PSA draws per strategy and their means", fontsize=FONT_SIZE)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", frameon=False,
                title="mean (ND / ED / D)", title_fontsize="small")
    return figure


def _wtp_axis(axes: Axes, currency: str) -> None:
    axes.xaxis.set_major_formatter(_money())
    axes.set_xlabel(f"Willingness to pay ({currency} per QALY)", fontsize=FONT_SIZE)
    axes.grid(alpha=0.3)


def plot_ceac(ceac: pd.DataFrame, currency: str) -> Figure:
    """Cost-effectiveness acceptability curves, with the frontier (CEAF) marked.

    Parameters
    ----------
    ceac : pandas.DataFrame
        `sim.uncertainty.decision.acceptability`: ``wtp, strategy, probability_best, on_frontier``.
    currency : str
        Unit of costs for the axis label.
    """
    figure, axes = _curves(ceac, "probability_best")
    frontier = ceac[ceac["on_frontier"]]
    axes.scatter(frontier["wtp"], frontier["probability_best"], s=22, facecolors="none", edgecolors="black", linewidths=1.0,
                 zorder=3, label="frontier (CEAF): highest\nexpected net benefit")
    axes.set_ylim(-0.02, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_ylabel("Probability of the highest net benefit", fontsize=FONT_SIZE)
    _wtp_axis(axes, currency)
    axes.set_title("Cost-effectiveness acceptability curves and frontier", fontsize=FONT_SIZE)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", frameon=False)
    return figure


def plot_expected_loss(ceac: pd.DataFrame, currency: str) -> Figure:
    """Expected loss curves: the net benefit each strategy forgoes against perfect information.

    The lower envelope is the frontier strategy's loss, which is the EVPI.

    Parameters
    ----------
    ceac : pandas.DataFrame
        `sim.uncertainty.decision.acceptability`: ``wtp, strategy, expected_loss``.
    currency : str
    """
    figure, axes = _curves(ceac, "expected_loss")
    frontier = ceac[ceac["on_frontier"]]
    axes.plot(frontier["wtp"], frontier["expected_loss"], color="black", linestyle=":", linewidth=1.6,
              label="frontier strategy (= EVPI)")
    axes.set_ylim(bottom=0.0)
    axes.yaxis.set_major_formatter(_money())
    axes.set_ylabel(f"Expected loss ({currency} per person)", fontsize=FONT_SIZE)
    _wtp_axis(axes, currency)
    axes.set_title("Expected loss of each strategy against perfect information", fontsize=FONT_SIZE)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", frameon=False)
    return figure


def plot_evpi(evpi: pd.DataFrame, currency: str, population: float | None = None) -> Figure:
    """The EVPI per person over willingness to pay (and, with a population, on a second axis for it).

    Parameters
    ----------
    evpi : pandas.DataFrame
        `sim.uncertainty.decision.evpi_table`: ``wtp, evpi``.
    currency : str
    population : float, optional
        People the decision affects.
    """
    figure, axes = _figure(7.0, 4.4, right=1.3 if population else 0.3)
    axes.plot(evpi["wtp"], evpi["evpi"], color=PALETTE[0], linewidth=1.6)
    axes.set_ylim(bottom=0.0)
    axes.yaxis.set_major_formatter(_money())
    axes.set_ylabel(f"EVPI ({currency} per person)", fontsize=FONT_SIZE)
    _wtp_axis(axes, currency)
    title = "Expected value of perfect information"
    if population:
        right = axes.twinx()
        low, high = axes.get_ylim()
        right.set_ylim(low * population, high * population)
        right.yaxis.set_major_formatter(_money())
        right.set_ylabel(f"EVPI for {population:,.0f} people ({currency})", fontsize=FONT_SIZE)
        title += f" (population {population:,.0f})"
    axes.set_title(title, fontsize=FONT_SIZE)
    return figure


def plot_evppi(evppi: pd.DataFrame, currency: str, evpi: pd.DataFrame | None = None) -> Figure:
    """EVPPI per parameter group: horizontal bars per willingness to pay, with ±1.96 standard errors.

    The `EVPPI_BARS` groups with the highest EVPPI at the first willingness to pay are shown, highest on
    top; a group whose regression was flagged is hatched; the EVPI at each willingness to pay is a dashed
    line in its colour.

    Parameters
    ----------
    evppi : pandas.DataFrame
        `sim.uncertainty.decision.evppi_table`: ``parameters, wtp, evppi, se, fit_warning``.
    currency : str
    evpi : pandas.DataFrame, optional
        ``wtp, evpi`` rows including those of ``evppi``'s willingness-to-pay values.
    """
    if evppi.empty:
        figure, axes = _figure(6.0, 2.0)
        axes.set_axis_off()
        axes.text(0.5, 0.5, "No parameters: no EVPPI", ha="center", va="center", transform=axes.transAxes)
        return figure
    wtps = list(dict.fromkeys(evppi["wtp"]))
    first = evppi[evppi["wtp"] == wtps[0]].sort_values("evppi", ascending=False).head(EVPPI_BARS)
    groups = first["parameters"].tolist()
    height = max(3.0, 1.5 + 0.3 * len(groups) * max(1.0, 0.6 * len(wtps)))
    label_width = min(3.5, 0.4 + 0.07 * max(len(name) for name in groups))
    figure, axes = _figure(label_width + 6.5, height, left=label_width, right=2.2, bottom=0.7, top=0.8)
    bar = 0.8 / len(wtps)
    positions = np.arange(len(groups))[::-1]
    for index, wtp in enumerate(wtps):
        rows = evppi[evppi["wtp"] == wtp].set_index("parameters").loc[groups]
        colour = PALETTE[index % len(PALETTE)]
        flagged = rows["fit_warning"].fillna("").astype(str).str.len() > 0
        y = positions + 0.4 - bar * (index + 0.5)
        axes.barh(y, rows["evppi"], height=bar * 0.9, color=colour, xerr=1.96 * rows["se"].to_numpy(),
                  error_kw={"elinewidth": 0.8, "capsize": 2}, hatch=["//" if f else "" for f in flagged],
                  label=f"at {wtp:,.0f} {currency}/QALY")
        if evpi is not None:
            value = evpi.loc[np.isclose(evpi["wtp"], wtp), "evpi"]
            if not value.empty and math.isfinite(float(value.iloc[0])):
                axes.axvline(float(value.iloc[0]), color=colour, linestyle="--", linewidth=1.0, label=f"EVPI at {wtp:,.0f}")
    axes.set_yticks(positions, groups, fontsize=8)
    axes.set_ylim(-0.6, len(groups) - 0.4)
    axes.set_xlim(left=0.0)
    axes.xaxis.set_major_formatter(_money())
    axes.set_xlabel(f"EVPPI ({currency} per person)", fontsize=FONT_SIZE)
    axes.grid(axis="x", alpha=0.3)
    axes.set_title("Expected value of partial perfect information\n(bars ±1.96 standard errors; hatched: fit warning)",
                   fontsize=FONT_SIZE)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", frameon=False)
    return figure
