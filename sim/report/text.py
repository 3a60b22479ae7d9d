"""Plain text for the terminal and for figure labels: the headline, economic, resource and sweep tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.economics.evaluation import Evaluation
from sim.inputs.codes import RESOURCES, SUBGROUP_COLUMNS, SUMMARY_COLUMNS, WAITING_EXITS
from sim.outcomes.endpoints import HEADLINE_METRICS


def setting_label(value: Any) -> str:
    """A scenario setting as shown to the user: ``unlimited`` for none (``None`` or NaN), numbers
    without trailing zeros."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unlimited"
    return f"{value:g}" if isinstance(value, float) else str(value)


def fixed_width(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a left-aligned table whose columns are as wide as their widest cell.

    Parameters
    ----------
    header : list of str
        Column titles.
    rows : list of list of str
        Cells, one list per row, as many as the header.
    """
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in (header, *rows)]


HEADLINE_TITLES: dict[str, str] = {
    "cr_rate": "CR", "hsct_rate": "HSCT", "os_1y": "OS 1y", "os_2y": "OS 2y", "pfs_1y": "PFS 1y",
    "nrm_post_hsct_2y": "NRM 2y", "cir_post_hsct_2y": "Relapse 2y",
}
"""Column titles of the headline metrics (`sim.outcomes.endpoints.HEADLINE_METRICS`)."""
HEADLINE_COLUMNS: tuple[tuple[str, str], ...] = tuple((HEADLINE_TITLES[metric], metric) for metric in HEADLINE_METRICS)
"""Column titles and metrics of `format_headline`, in the order of ``HEADLINE_METRICS``."""


def _percent(estimate: float, lower: float, upper: float) -> str:
    """``72% (68–76)``; ``n/a`` for a missing estimate or interval."""
    if not np.isfinite(estimate):
        return "n/a"
    interval = f"{100 * lower:.0f}–{100 * upper:.0f}" if np.isfinite(lower) and np.isfinite(upper) else "n/a"
    return f"{100 * estimate:.0f}% ({interval})"


def format_headline(summary: pd.DataFrame) -> str:
    """Fixed-width text table of the headline endpoints, one row per strategy.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `summarise`.

    Returns
    -------
    str
        Header line, one line per strategy (prefixed by the scenario when there are several), and a
        footnote on intervals and time origins.
    """
    several_scenarios = summary["scenario"].nunique() > 1
    estimates = {
        (scenario, strategy, metric): (estimate, lower, upper)
        for scenario, strategy, metric, estimate, lower, upper in summary[list(SUMMARY_COLUMNS)].itertuples(index=False)
    }
    rows = []
    for scenario, strategy in summary[["scenario", "strategy"]].drop_duplicates().itertuples(index=False):
        label = f"{scenario} / {strategy}" if several_scenarios else str(strategy)
        cells = [_percent(*estimates.get((scenario, strategy, metric), (np.nan, np.nan, np.nan))) for _, metric in HEADLINE_COLUMNS]
        rows.append([label, *cells])
    lines = fixed_width(["strategy", *(title for title, _ in HEADLINE_COLUMNS)], rows)
    footnote = (
        "Percent (95% CI: the estimator's own for one replication, Monte Carlo across replications). "
        "CR and HSCT among infused; OS and PFS from infusion; NRM and relapse at 2 years from HSCT, "
        "among transplanted patients."
    )
    return "\n".join([*lines, footnote])


SUBGROUP_TITLES: dict[str, str] = {
    "disease": "disease", "age_band": "age (years)", "status": "status", "blasts": "marrow blasts",
}
"""Column title of each subgroup dimension (`sim.inputs.codes.SUBGROUPS`) in `format_subgroups`."""


def format_subgroups(subgroups: pd.DataFrame, subgroup: str) -> str:
    """Fixed-width text table of the headline endpoints by one subgroup dimension, one row per strategy
    and level.

    Parameters
    ----------
    subgroups : pandas.DataFrame
        Output of `summarise_subgroups` (``subgroups.csv``).
    subgroup : str
        A dimension of `sim.inputs.codes.SUBGROUPS`.

    Returns
    -------
    str
        Header line; per strategy (prefixed by the scenario when there are several), one line per level
        with its number of patients and each headline metric in percent with its 95% interval; a footnote.
    """
    rows_of = subgroups[subgroups["subgroup"] == subgroup]
    several_scenarios = rows_of["scenario"].nunique() > 1
    estimates: dict[tuple[Any, ...], tuple[float, float, float]] = {}
    patients: dict[tuple[Any, ...], int] = {}
    for scenario, strategy, _, level, count, metric, estimate, lower, upper in rows_of[list(SUBGROUP_COLUMNS)].itertuples(index=False):
        estimates[scenario, strategy, level, metric] = (estimate, lower, upper)
        patients[scenario, strategy, level] = count
    rows = []
    for scenario, strategy, level in patients:
        label = f"{scenario} / {strategy}" if several_scenarios else str(strategy)
        cells = [_percent(*estimates.get((scenario, strategy, level, metric), (np.nan, np.nan, np.nan)))
                 for _, metric in HEADLINE_COLUMNS]
        rows.append([label, str(level), f"{patients[scenario, strategy, level]:,}", *cells])
    header = ["strategy", SUBGROUP_TITLES[subgroup], "patients", *(title for title, _ in HEADLINE_COLUMNS)]
    footnote = (
        "The endpoints above, estimated on each subgroup's patients alone (subgroups as at enrolment; patients: "
        "in the subgroup, every replication together; n/a: nobody to estimate from)."
    )
    return "\n".join([*fixed_width(header, rows), footnote])


def format_resources(resources: pd.DataFrame) -> str:
    """Fixed-width text table of ``resources.csv``: one row per strategy and resource that was used.

    Parameters
    ----------
    resources : pandas.DataFrame
        Output of :func:`summarise_resources`.
    """
    value: dict[tuple[Any, Any, Any], Any] = {(r.strategy, r.resource, r.metric): r.estimate for r in resources.itertuples()}
    rows = []
    for strategy, resource, capacity in resources[["strategy", "resource", "capacity"]].drop_duplicates().itertuples(index=False):
        def get(metric: str) -> float:
            return value.get((strategy, resource, metric), np.nan)

        if not get("requests_per_year") > 0:
            continue
        utilisation = get("utilisation")
        rows.append([
            str(strategy), resource, capacity or "unlimited",
            "-" if np.isnan(utilisation) else f"{100 * utilisation:.0f}%",
            f"{get('mean_wait_days'):.1f}", f"{get('p95_wait_days'):.1f}", f"{get('mean_queue'):.2f}",
            f"{get('max_queue'):.1f}", f"{get('throughput_per_year'):.1f}",
            "-" if np.isnan(get("bed_days_per_year")) else f"{get('bed_days_per_year'):.0f}",
        ])
    header = ["strategy", "resource", "capacity", "util.", "wait d", "p95 d", "queue", "max q", "served/y", "bed-d/y"]
    note = ("Mean over replications, in the observation window. wait: days from asking to service (or to leaving the "
            "queue); queue: patients waiting, time average; bed-d/y: bed-days (slot-days) a year.")
    return "\n".join([*fixed_width(header, rows), note])


def _days(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1f}"


def format_sweep(sweep: pd.DataFrame, keys: list[str], currency: str | None = None) -> str:
    """The planner's table: per combination and strategy, mean waits where anyone waited, patients
    lost while waiting and 2-year survival from referral (and cost and QALYs per referral when the sweep has them).

    Parameters
    ----------
    sweep : pandas.DataFrame
        Output of :func:`run_sweep`.
    keys : list of str
        The swept settings.
    currency : str, optional
        The currency of the costs, for the column title.
    """
    currency_label = f" {currency}" if currency else ""
    waits = sweep[(sweep["metric"] == "mean_wait_days")]
    waited = [r for r in RESOURCES if (waits.loc[waits["resource"] == r, "estimate"].fillna(0) > 0.05).any()]
    economic = bool(sweep["metric"].isin(["cost_total", "qalys"]).any())
    header = [*keys, "strategy", *(f"wait {r} (d)" for r in waited), "lost waiting", "OS 2y",
              *((f"cost/referral{currency_label}", "QALYs/referral") if economic else ())]
    rows = []
    labels = sweep[keys].map(setting_label)
    for _, rows_ in sweep.groupby([*(labels[k] for k in keys), sweep["strategy"].astype(str)], sort=False):
        value: dict[tuple[Any, Any], Any] = {(r.resource, r.metric): r.estimate for r in rows_.itertuples()}
        lost = sum(value.get(("", f"{e}_while_waiting"), np.nan) for e in WAITING_EXITS[1:])
        rows.append([
            *labels.loc[rows_.index[0]].tolist(), str(rows_["strategy"].iloc[0]),
            *(_days(value.get((r, "mean_wait_days"), np.nan)) for r in waited),
            f"{100 * lost:.1f}%", f"{100 * value.get(('', 'itt_os_2y'), np.nan):.1f}%",
            *((_money(value.get(("", "cost_total"), np.nan)), f"{value.get(('', 'qalys'), np.nan):.2f}") if economic else ()),
        ])
    note = ("Mean over replications. 'lost waiting': share of referrals who progressed, relapsed or died while "
            "waiting for a resource; 'OS 2y': alive two years after referral (at one year, waiting mostly postpones deaths)."
            + (" Cost and QALYs per referral: discounted, over the economic horizon (economics.csv's cost_total, qalys)."
               if economic else ""))
    return "\n".join([*fixed_width(header, rows), note])


def _money(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:,.0f}"


def _amount_with_interval(estimate: float, lower: float, upper: float, digits: int) -> str:
    """``1.23 (1.10–1.36)``, or with thousands separators for ``digits`` 0; ``n/a`` for a missing estimate."""
    if not np.isfinite(estimate):
        return "n/a"
    number = "{:,.%df}" % digits
    interval = f"{number.format(lower)}–{number.format(upper)}" if np.isfinite(lower) and np.isfinite(upper) else "n/a"
    return f"{number.format(estimate)} ({interval})"


def format_economics(evaluation: Evaluation) -> str:
    """Fixed-width text table of the economic results, one row per strategy in order of cost: mean discounted
    cost, QALYs and life-years with 95% intervals, the increments and ICER along the efficient frontier and
    the dominance status; then the strategy with the highest net monetary benefit at each willingness to pay.

    Parameters
    ----------
    evaluation : Evaluation
        The run's economic results (`sim.economics.evaluation.evaluate`).
    """
    summary = evaluation.summary
    columns = ["strategy", "metric", "estimate", "lower", "upper"]
    estimates = {(strategy, metric): (estimate, lower, upper)
                 for strategy, metric, estimate, lower, upper in summary[columns].itertuples(index=False)}
    currency = evaluation.currency
    icers = evaluation.icers
    rows = []
    for strategy, inc_cost, inc_qalys, icer, status in zip(icers["strategy"], icers["inc_cost"].to_numpy(float),
                                                           icers["inc_qalys"].to_numpy(float), icers["icer"].to_numpy(float),
                                                           icers["status"]):
        rows.append([
            str(strategy),
            _amount_with_interval(*estimates[(strategy, "cost_total")], 0),
            _amount_with_interval(*estimates[(strategy, "qalys")], 2),
            _amount_with_interval(*estimates[(strategy, "life_years")], 2),
            "–" if not np.isfinite(inc_cost) else _money(inc_cost),
            "–" if not np.isfinite(inc_qalys) else f"{inc_qalys:.2f}",
            "–" if not np.isfinite(icer) else _money(icer),
            str(status),
        ])
    header = ["strategy", f"Cost {currency}", "QALYs", "Life-years", f"Inc. cost {currency}", "Inc. QALYs",
              f"ICER {currency}/QALY", "Status"]
    title = (f"Economics: {evaluation.setting} ({currency} {evaluation.price_year}), {evaluation.horizon_text()}; "
             f"costs discounted {100 * evaluation.discount_costs:g}%/year, QALYs and life-years "
             f"{100 * evaluation.discount_outcomes:g}%/year")
    if icers.empty:
        return f"{title}\nNo patients were referred: nothing to evaluate."
    best = "; ".join(f"{strategy} at {wtp:,.0f} {currency}/QALY" for wtp, strategy in evaluation.best().items())
    footnote = ("Mean per patient (95% CI). Increments and ICERs against the previous strategy on the efficient frontier; "
                f"ND on the frontier, D dominated, ED extendedly dominated. Highest net monetary benefit: {best}.")
    return "\n".join([title, *fixed_width(header, rows), footnote])
