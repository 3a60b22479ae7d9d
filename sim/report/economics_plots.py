"""Figures of the economic evaluation: the cost-effectiveness plane with its frontier, and the costs by category.

Both read an `sim.economics.evaluation.Evaluation` (the rows of ``economics.csv`` and ``icers.csv``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.economics.evaluation import Evaluation
from sim.economics.value_models import COST_CATEGORIES
from sim.report.plots import message_figure, new_figure, set_margins, strategy_colours

CATEGORY_COLOURS: dict[str, str] = dict(zip(COST_CATEGORIES, (
    "#0072B2", "#56B4E9", "#009E73", "#E69F00", "#D55E00", "#CC79A7", "#F0E442", "#999999",
)))
"""One colour per cost category: Okabe & Ito's colour-blind-safe palette, with grey for the eighth."""
CATEGORY_LABELS: dict[str, str] = {
    "product": "CAR-T product and apheresis", "hospital": "Hospital (ward, ICU, chemotherapy)", "transplant": "Transplant",
    "toxicity": "CRS and ICANS", "gvhd": "GVHD", "follow_up": "Follow-up in remission",
    "disease": "Relapsed or refractory disease", "end_of_life": "End-of-life care",
}
"""Legend labels of the cost categories."""
WTP_LINE_STYLES: tuple[str, ...] = ("--", ":", "-.")
"""Line styles of the willingness-to-pay lines, lowest threshold first."""


def _thousands() -> FuncFormatter:
    return FuncFormatter(lambda value, _: f"{value / 1000:,.0f}")


def _estimates(evaluation: Evaluation, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, lower and upper of ``metric`` for each strategy, in the order of ``icers.csv``."""
    rows = evaluation.summary[evaluation.summary["metric"] == metric].set_index("strategy").loc[evaluation.icers["strategy"]]
    return rows["estimate"].to_numpy(float), rows["lower"].to_numpy(float), rows["upper"].to_numpy(float)


def _wtp_lines(axes: Axes, evaluation: Evaluation, origin: tuple[float, float]) -> None:
    """Lines of slope λ through the cheapest frontier strategy: strategies below a line are worth it at λ."""
    x0, y0 = origin
    left, right = axes.get_xlim()
    for wtp, style in zip(evaluation.wtp, WTP_LINE_STYLES * len(evaluation.wtp)):
        axes.plot([left, right], [y0 + wtp * (left - x0), y0 + wtp * (right - x0)], style, color="grey", linewidth=1,
                  label=f"willingness to pay {wtp:,.0f} {evaluation.currency}/QALY")
    axes.set_xlim(left, right)


def plot_ce_plane(evaluation: Evaluation) -> Figure:
    """The cost-effectiveness plane: each strategy's mean discounted QALYs and cost with 95% intervals, the
    efficient frontier (``ND`` strategies joined in order of cost, each step labelled with its ICER) and lines of
    the willingness-to-pay thresholds through the cheapest frontier strategy.

    Parameters
    ----------
    evaluation : Evaluation
        The run's economic results.
    """
    icers = evaluation.icers
    if icers.empty:
        return message_figure("No patients to evaluate: nobody was referred")
    cost, cost_low, cost_high = _estimates(evaluation, "cost_total")
    qalys, qalys_low, qalys_high = _estimates(evaluation, "qalys")
    colours = strategy_colours(evaluation.summary["strategy"])
    figure, axes = new_figure(figsize=(8.5, 6.0))
    for index, strategy in enumerate(icers["strategy"]):
        status = icers["status"].iloc[index]
        axes.errorbar(qalys[index], cost[index], xerr=[[qalys[index] - qalys_low[index]], [qalys_high[index] - qalys[index]]],
                      yerr=[[cost[index] - cost_low[index]], [cost_high[index] - cost[index]]], fmt="o", markersize=8,
                      color=colours[strategy], capsize=3, label=f"{strategy} ({status})")
    on_frontier = (icers["status"] == "ND").to_numpy()
    axes.plot(qalys[on_frontier], cost[on_frontier], "-", color="black", linewidth=1.2, label="efficient frontier")
    for index in np.flatnonzero(on_frontier)[1:]:
        axes.annotate(f"ICER {icers['icer'].iloc[index]:,.0f}", (qalys[index], cost[index]), textcoords="offset points",
                      xytext=(8, -14), fontsize="small")
    axes.margins(x=0.25, y=0.2)
    first = int(np.flatnonzero(on_frontier)[0])
    _wtp_lines(axes, evaluation, (qalys[first], cost[first]))
    axes.yaxis.set_major_formatter(_thousands())
    axes.set_xlabel("QALYs per patient (discounted)")
    axes.set_ylabel(f"Cost per patient (thousand {evaluation.currency} {evaluation.price_year}, discounted)")
    axes.set_title(f"Cost-effectiveness plane: {evaluation.setting}, {evaluation.horizon_text()}", fontsize="medium")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    set_margins(figure, left=1.0, right=0.25, bottom=0.7, top=0.45)
    return figure


def plot_costs(evaluation: Evaluation) -> Figure:
    """Mean discounted cost per patient by category and strategy, stacked, with the total and its 95% interval.

    Parameters
    ----------
    evaluation : Evaluation
        The run's economic results.
    """
    strategies = evaluation.icers["strategy"].tolist()
    if not strategies:
        return message_figure("No patients to evaluate: nobody was referred")
    positions = np.arange(len(strategies))
    figure, axes = new_figure(figsize=(9.5, 1.9 + 0.6 * len(strategies)))
    left = np.zeros(len(strategies))
    for category in COST_CATEGORIES:
        amounts, _, _ = _estimates(evaluation, f"cost_{category}")
        axes.barh(positions, amounts, left=left, color=CATEGORY_COLOURS[category], label=CATEGORY_LABELS[category], height=0.6)
        left += amounts
    total, low, high = _estimates(evaluation, "cost_total")
    axes.errorbar(total, positions, xerr=[total - low, high - total], fmt="none", color="black", capsize=3, label="total, 95% interval")
    axes.set_yticks(positions, strategies)
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(_thousands())
    axes.set_xlabel(f"Cost per patient (thousand {evaluation.currency} {evaluation.price_year}, discounted)")
    axes.set_title(f"Costs by category: {evaluation.setting}, {evaluation.horizon_text()}", fontsize="medium")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.55 / (0.6 * len(strategies) + 1.0)), ncol=3, fontsize="small",
                frameon=False)
    set_margins(figure, left=2.4, right=0.3, bottom=1.25, top=0.4)
    return figure
