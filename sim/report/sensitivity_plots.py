"""Figures of the deterministic sensitivity analysis (``cd7sim dsa``): the tornado and the two-way map."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from sim.report.plots import PALETTE, new_figure, set_margins, strategy_colours
from sim.uncertainty.dsa import OneWay

TORNADO_BARS = 15
"""Inputs shown in the tornado (the widest)."""
OUTCOME_LABELS: dict[str, str] = {
    "nmb": "net monetary benefit", "cost": "cost", "qalys": "QALYs", "life_years": "life-years", "os_1y": "1-year OS",
    "os_2y": "2-year OS", "itt_os_2y": "2-year OS from enrolment", "hsct_rate": "HSCT rate", "cr_rate": "CR rate",
}
"""Words for each outcome of `sim.inputs.codes.COMPARED_OUTCOMES`."""


def outcome_unit(outcome: str, currency: str) -> str:
    """The unit of an outcome, for axis labels."""
    if outcome in ("nmb", "cost"):
        return currency
    if outcome in ("qalys", "life_years"):
        return "per patient"
    return "fraction 0–1"


def plot_tornado(analysis: OneWay, currency: str) -> Figure:
    """The best strategy's advantage over the runner-up as each input moves to its 2.5% (blue) and 97.5% (orange)
    point, the widest :data:`TORNADO_BARS` inputs, each labelled with its evidence; the line is the base case and
    a bar crossing zero marks an input whose range changes the decision.

    Parameters
    ----------
    analysis : OneWay
        `sim.uncertainty.dsa.one_way`'s result.
    currency : str
        The currency of costs (for ``nmb`` and ``cost``).
    """
    rows = analysis.tornado.head(TORNADO_BARS).iloc[::-1]
    positions = np.arange(len(rows))
    figure, axes = new_figure(figsize=(10.5, 1.6 + 0.42 * max(len(rows), 1)))
    base = analysis.base_difference
    for values, colour, label in ((rows["outcome_low"], PALETTE[0], "input at its 2.5% point"),
                                  (rows["outcome_high"], PALETTE[1], "input at its 97.5% point")):
        axes.barh(positions, values.to_numpy(float) - base, left=base, color=colour, height=0.6, label=label)
    axes.axvline(base, color="black", linewidth=1, label="base case")
    axes.axvline(0.0, color="grey", linewidth=1, linestyle="--", label="no difference (the decision changes)")
    axes.set_yticks(positions, [f"{name}\n[{evidence}]" for name, evidence in zip(rows["input"], rows["evidence"])], fontsize=8)
    what = OUTCOME_LABELS.get(analysis.outcome, analysis.outcome)
    at = f" at {analysis.wtp:,.0f} {currency}/QALY" if analysis.outcome == "nmb" else ""
    axes.set_xlabel(f"{analysis.best} minus {analysis.runner_up}: {what}{at} ({outcome_unit(analysis.outcome, currency)})")
    axes.set_title(f"One-way sensitivity: the inputs that move the decision most ({len(analysis.tornado)} inputs varied)",
                   fontsize="medium")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    set_margins(figure, left=3.6, right=0.3, bottom=0.7, top=0.45)
    return figure


def plot_two_way(table: pd.DataFrame, outcome: str) -> Figure:
    """The best strategy in each cell of a two-way analysis (colour) and its outcome (text).

    Parameters
    ----------
    table : pandas.DataFrame
        `sim.uncertainty.dsa.two_way`'s result (its first two columns are the inputs).
    outcome : str
        The outcome compared.
    """
    first, second = table.columns[:2]
    best = table[table["best"]]
    xs, ys = np.sort(best[first].unique()), np.sort(best[second].unique())
    colours = strategy_colours(table["strategy"])
    figure, axes = new_figure(figsize=(8.5, 6.0))
    for row in best.itertuples(index=False):
        x, y = int(np.searchsorted(xs, row[0])), int(np.searchsorted(ys, row[1]))
        axes.add_patch(Rectangle((x - 0.5, y - 0.5), 1.0, 1.0, color=colours[str(row.strategy)], alpha=0.55))
        axes.text(x, y, f"{row.outcome:,.3g}", ha="center", va="center", fontsize=8)
    axes.set_xlim(-0.5, len(xs) - 0.5)
    axes.set_ylim(-0.5, len(ys) - 0.5)
    axes.set_xticks(range(len(xs)), [f"{v:.3g}" for v in xs])
    axes.set_yticks(range(len(ys)), [f"{v:.3g}" for v in ys])
    axes.set_xlabel(str(first))
    axes.set_ylabel(str(second))
    axes.set_title(f"Two-way sensitivity: the best strategy by {OUTCOME_LABELS.get(outcome, outcome)} (its value in each cell)",
                   fontsize="medium")
    shown = list(dict.fromkeys(best["strategy"].astype(str)))
    axes.legend(handles=[Patch(color=colours[name], label=name) for name in shown], loc="upper center",
                bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize="small", frameon=False)
    set_margins(figure, left=1.0, right=0.3, bottom=1.3, top=0.45)
    return figure
