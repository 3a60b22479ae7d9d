"""Teaching figures: the same virtual patients under each strategy (a swimmer plot), the pathway as an alluvial
(Sankey) figure, and the band of survival curves over posterior draws; each with a text alternative.

Common random numbers make the swimmer plot possible: a ``patient_id`` is the same patient (same attributes,
same random draws) under every strategy of a run, so the rows of one patient differ only by strategy.
Figures are made without pyplot, in the colours of :data:`sim.report.plots.PALETTE`; :func:`projector_style`
enlarges their text for a lecture hall.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle

from sim.inputs.codes import CR_RESPONSES
from sim.outcomes.endpoints import ONE_YEAR_DAYS, OS_FROM_INFUSION, patient_columns
from sim.outcomes.estimators import kaplan_meier
from sim.report.plots import DAYS_PER_MONTH, PALETTE, new_figure, new_panels, set_margins, strategy_colours

PROJECTOR_FONT_SIZE = 15.0
"""Base font size of figures drawn for a projector, points (matplotlib's default is 10)."""

MARKERS: dict[str, tuple[str, str, str]] = {
    "infusion": ("^", "#000000", "index treatment (infusion or chemotherapy)"),
    "cr": ("o", "#FFFFFF", "complete remission"),
    "hsct": ("D", "#000000", "allo-HSCT"),
    "relapse": ("X", PALETTE[5], "relapse"),
    "death": ("s", "#000000", "death"),
}
"""Swimmer-plot events: marker, face colour and legend label (the edge is black)."""

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Index treatment", ("treated", "not treated")),
    ("Response", ("CR", "no CR")),
    ("Consolidation", ("HSCT", "no HSCT")),
    ("1 year", ("in remission", "with disease", "dead")),
    ("End of follow-up", ("alive", "dead")),
)
"""The columns of the alluvial figure and their categories, top to bottom (see :func:`pathway_stages`)."""
STAGE_COLOURS: dict[str, str] = {
    "treated": PALETTE[0], "CR": PALETTE[0], "HSCT": PALETTE[0], "in remission": PALETTE[2], "alive": PALETTE[2],
    "not treated": "#999999", "no CR": "#999999", "no HSCT": "#999999", "with disease": PALETTE[1], "dead": "#000000",
}
"""Block colours of the alluvial figure (Okabe–Ito: blue on the pathway, green alive, orange with disease)."""
LABELLED_SHARE = 0.04
"""Smallest share of patients whose block of the alluvial figure is labelled (the text alternative gives all)."""


@contextmanager
def projector_style() -> Iterator[None]:
    """Figures made inside this context have large text (:data:`PROJECTOR_FONT_SIZE`), for a lecture hall."""
    with matplotlib.rc_context({"font.size": PROJECTOR_FONT_SIZE, "axes.titlesize": "large", "axes.labelsize": "medium",
                                "legend.fontsize": "small", "figure.titlesize": "large"}):
        yield


def contrasting_patients(patients: pd.DataFrame, count: int) -> list[int]:
    """``count`` patient ids of the first replication whose courses differ most between strategies.

    A course is summarised by whether the patient was transplanted, relapsed and died, and by the year of death;
    patients with the most distinct summaries across strategies come first (then by id), so the swimmer plot shows
    strategies changing what happens to the same people.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (``patient_id`` the same patient under every strategy).
    count : int
        Patients wanted (fewer when the run has fewer).
    """
    first = patients[patients["replication"] == patients["replication"].min()]
    year = np.floor(first["death_day"].fillna(np.inf) / ONE_YEAR_DAYS).clip(upper=99).astype(int).astype(str)
    course = first["hsct"].astype(str) + first["relapse"].astype(str) + first["death"].astype(str) + year
    distinct = course.groupby(first["patient_id"].to_numpy()).nunique()
    ranked = distinct.reset_index().sort_values([0, "index"], ascending=[False, True])
    return [int(patient) for patient in ranked["index"].head(count)]


def _patient_events(row: pd.Series) -> dict[str, float]:
    """Days from enrolment of each swimmer-plot event of one patient row (``NaN`` where it did not happen)."""
    in_cr = str(row["response"]) in CR_RESPONSES
    return {"infusion": row["infusion_day"], "cr": row["response_day"] if in_cr else np.nan,
            "hsct": row["hsct_day"], "relapse": row["relapse_day"], "death": row["death_day"]}


def plot_swimmer(patients: pd.DataFrame, patient_ids: Sequence[int]) -> matplotlib.figure.Figure:
    """The same patients under each strategy: one bar per patient and strategy from enrolment to death or the
    end of follow-up, in months, with the index treatment, remission, transplant, relapse and death marked.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table; its first replication is drawn.
    patient_ids : sequence of int
        The patients to draw, top to bottom.
    """
    first = patients[patients["replication"] == patients["replication"].min()]
    strategies = list(dict.fromkeys(map(str, first["strategy"])))
    colours = strategy_colours(strategies)
    rows = first[first["patient_id"].isin(list(patient_ids))].set_index(["patient_id", "strategy"], drop=False)
    height = 0.6 + 0.42 * len(strategies) * max(len(patient_ids), 1)
    figure, axes = new_figure(figsize=(12, height + 2.2))
    labels, y = [], 0.0
    for patient in patient_ids:
        for strategy in strategies:
            if (patient, strategy) not in rows.index:
                continue
            row = rows.loc[(patient, strategy)]
            axes.barh(y, row["last_day"] / DAYS_PER_MONTH, height=0.6, color=colours[strategy], alpha=0.85)
            for event, day in _patient_events(row).items():
                if np.isfinite(day):
                    marker, face, _ = MARKERS[event]
                    axes.plot(day / DAYS_PER_MONTH, y, marker=marker, markersize=11, markerfacecolor=face,
                              markeredgecolor="#000000", linestyle="none")
            if not row["death"]:
                axes.annotate("", xy=(row["last_day"] / DAYS_PER_MONTH + 1.5, y), xytext=(row["last_day"] / DAYS_PER_MONTH, y),
                              arrowprops={"arrowstyle": "->", "color": "#000000"})
            labels.append((y, f"patient {patient} · {strategy}"))
            y += 1.0
        axes.axhline(y - 0.5, color="#999999", linewidth=0.8)
        y += 0.3
    axes.set_yticks([position for position, _ in labels], [label for _, label in labels], fontsize="small")
    axes.invert_yaxis()
    axes.set_xlabel("Months from enrolment (arrow: alive at the end of follow-up)")
    axes.set_title("The same virtual patients under each strategy")
    axes.grid(axis="x", alpha=0.3)
    handles: list[Artist] = [Line2D([], [], marker=m, markerfacecolor=f, markeredgecolor="#000000", linestyle="none",
                                    markersize=10, label=label) for m, f, label in MARKERS.values()]
    handles += [Rectangle((0, 0), 1, 1, color=colours[s], label=s) for s in strategies]
    figure.legend(handles=handles, loc="lower center", ncol=3, fontsize="small", frameon=False)
    set_margins(figure, left=4.6, right=0.3, bottom=0.9 + 0.3 * -(-len(handles) // 3), top=0.5)
    return figure


def swimmer_text(patients: pd.DataFrame, patient_ids: Sequence[int]) -> str:
    """A text alternative of :func:`plot_swimmer`: each patient's course under each strategy, in words."""
    first = patients[patients["replication"] == patients["replication"].min()]
    lines = []
    for patient in patient_ids:
        for _, row in first[first["patient_id"] == patient].iterrows():
            steps = [f"{name} at month {day / DAYS_PER_MONTH:.1f}" for name, day in _patient_events(row).items() if np.isfinite(day)]
            end = "died" if row["death"] else f"alive at month {row['last_day'] / DAYS_PER_MONTH:.1f}"
            lines.append(f"Patient {patient}, {row['strategy']}: {', '.join(steps) or 'not treated'}; {end}.")
    return "\n".join(lines)


def pathway_stages(patients: pd.DataFrame) -> pd.DataFrame:
    """Each patient's category at each stage of :data:`STAGES` (one column per stage, one row per patient).

    Index treatment: infused (or chemotherapy started) or not; response: complete remission or not; consolidation:
    transplanted or not; 1 year after enrolment: alive in remission (CR, no relapse by then), alive with disease, or
    dead; end of follow-up: alive or dead.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (days from enrolment).
    """
    columns = patient_columns(patients)
    in_cr = patients["response"].astype(str).isin(CR_RESPONSES).to_numpy()
    dead_by_year = columns["death"] & (columns["death_day"] <= ONE_YEAR_DAYS)
    relapsed_by_year = columns["relapse"] & (columns["relapse_day"] <= ONE_YEAR_DAYS)
    year = np.where(dead_by_year, "dead", np.where(in_cr & ~relapsed_by_year, "in remission", "with disease"))
    return pd.DataFrame({
        "Index treatment": np.where(columns["infused"], "treated", "not treated"),
        "Response": np.where(in_cr, "CR", "no CR"),
        "Consolidation": np.where(columns["hsct"], "HSCT", "no HSCT"),
        "1 year": year,
        "End of follow-up": np.where(columns["death"], "dead", "alive"),
    }, index=patients.index)


def _ribbon(x0: float, x1: float, bottom0: float, top0: float, bottom1: float, top1: float) -> np.ndarray:
    """The outline of a smooth ribbon from the span ``[bottom0, top0]`` at ``x0`` to ``[bottom1, top1]`` at ``x1``."""
    t = np.linspace(0.0, 1.0, 30)
    ease = (1 - np.cos(np.pi * t)) / 2
    x = x0 + (x1 - x0) * t
    lower = bottom0 + (bottom1 - bottom0) * ease
    upper = top0 + (top1 - top0) * ease
    return np.column_stack([np.concatenate([x, x[::-1]]), np.concatenate([lower, upper[::-1]])])


def plot_alluvial(patients: pd.DataFrame) -> matplotlib.figure.Figure:
    """The pathway as an alluvial (Sankey) figure, one panel per strategy: blocks are the share of patients in each
    category of each stage (:data:`STAGES`), ribbons the patients moving between consecutive stages.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table; replications are pooled (shares of all patients of a strategy).
    """
    strategies = list(dict.fromkeys(map(str, patients["strategy"])))
    ncols = 1 if len(strategies) == 1 else 2
    nrows = -(-len(strategies) // ncols)
    figure, panels = new_panels(nrows, ncols, figsize=(7.5 * ncols, 4.3 * nrows), squeeze=False)
    gap, width = 0.03, 0.16
    for axes, strategy in zip(panels.flat, strategies):
        stages = pathway_stages(patients[patients["strategy"] == strategy])
        total = max(len(stages), 1)
        spans: list[dict[str, tuple[float, float]]] = []
        for x, (stage, categories) in enumerate(STAGES):
            shares = stages[stage].value_counts().reindex(list(categories), fill_value=0) / total
            top, span = 1.0 + gap * (len(categories) - 1), {}
            for category, share in shares.items():
                span[str(category)] = (top - share, top)
                if share > 0:
                    axes.add_patch(Rectangle((x - width / 2, top - share), width, share, color=STAGE_COLOURS[str(category)]))
                if share >= LABELLED_SHARE:
                    axes.text(x, top - share / 2, f"{category} {share:.0%}", ha="center", va="center", fontsize="x-small",
                              bbox={"facecolor": "#FFFFFF", "alpha": 0.85, "edgecolor": "none", "pad": 1.5}, zorder=3)
                top -= share + gap
            spans.append(span)
        for x in range(len(STAGES) - 1):
            source, target = STAGES[x][0], STAGES[x + 1][0]
            flows = stages.groupby([source, target]).size() / total
            out_used = {c: spans[x][c][1] for c in spans[x]}
            in_used = {c: spans[x + 1][c][1] for c in spans[x + 1]}
            for category in STAGES[x][1]:
                for destination in STAGES[x + 1][1]:
                    share = float(flows.get((category, destination), 0.0))
                    if share <= 0:
                        continue
                    outline = _ribbon(x + width / 2, x + 1 - width / 2, out_used[category] - share, out_used[category],
                                      in_used[destination] - share, in_used[destination])
                    axes.add_patch(Polygon(outline, closed=True, color=STAGE_COLOURS[destination], alpha=0.3, linewidth=0))
                    out_used[category] -= share
                    in_used[destination] -= share
        axes.set_xlim(-0.5, len(STAGES) - 0.5)
        axes.set_ylim(-0.08, 1.0 + gap * 2 + 0.02)
        axes.set_xticks(range(len(STAGES)), [stage for stage, _ in STAGES], fontsize="x-small")
        axes.set_yticks([])
        axes.set_title(strategy, color=strategy_colours(strategies)[strategy], fontweight="bold")
        for side in ("left", "right", "top"):
            axes.spines[side].set_visible(False)
    for axes in list(panels.flat)[len(strategies):]:
        axes.set_visible(False)
    figure.suptitle("Where the patients go: the pathway stage by stage (share of enrolled patients)")
    set_margins(figure, left=0.2, right=0.2, bottom=0.5, top=0.8, wspace=0.08)
    figure.subplots_adjust(hspace=0.35)
    return figure


def alluvial_text(patients: pd.DataFrame) -> str:
    """A text alternative of :func:`plot_alluvial`: the share of patients in each category of each stage, by strategy."""
    lines = []
    for strategy in dict.fromkeys(map(str, patients["strategy"])):
        stages = pathway_stages(patients[patients["strategy"] == strategy])
        parts = [f"{stage}: " + ", ".join(f"{category} {np.mean(stages[stage] == category):.0%}" for category in categories)
                 for stage, categories in STAGES]
        lines.append(f"{strategy}: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def survival_band(tables: Sequence[pd.DataFrame], months: np.ndarray) -> pd.DataFrame:
    """Overall survival from infusion at ``months`` for each strategy across posterior draws: the median and the
    2.5% and 97.5% quantiles of the draws' Kaplan–Meier curves.

    Parameters
    ----------
    tables : sequence of pandas.DataFrame
        One patients table per posterior draw (the same strategies in each).
    months : numpy.ndarray
        Months from infusion at which to evaluate.

    Returns
    -------
    pandas.DataFrame
        Columns ``strategy, month, median, lower, upper`` (probabilities 0-1).
    """
    curves: dict[str, list[np.ndarray]] = {}
    for table in tables:
        for strategy, rows in table.groupby("strategy", sort=False, observed=True):
            observed = OS_FROM_INFUSION.observe(patient_columns(rows))
            km = kaplan_meier(observed.time, observed.event)
            curves.setdefault(str(strategy), []).append(km.survival_at(months * DAYS_PER_MONTH))
    frames = []
    for strategy, values in curves.items():
        stacked = np.vstack(values)
        followed = ~np.all(np.isnan(stacked), axis=0)  # months beyond every draw's follow-up stay NaN
        lower, median, upper = np.full((3, months.size), np.nan)
        lower[followed], median[followed], upper[followed] = np.nanquantile(stacked[:, followed], [0.025, 0.5, 0.975], axis=0)
        frames.append(pd.DataFrame({"strategy": strategy, "month": months, "median": median, "lower": lower, "upper": upper}))
    return pd.concat(frames, ignore_index=True)


def plot_survival_band(band: pd.DataFrame, draws: int) -> matplotlib.figure.Figure:
    """Overall survival by strategy with the 95% band of the posterior draws (:func:`survival_band`).

    Parameters
    ----------
    band : pandas.DataFrame
        Columns ``strategy, month, median, lower, upper``.
    draws : int
        Posterior draws behind the band (for the title).
    """
    figure, axes = new_figure(figsize=(11, 5.5))
    colours = strategy_colours(band["strategy"])
    for strategy, rows in band.groupby("strategy", sort=False):
        axes.fill_between(rows["month"], rows["lower"], rows["upper"], color=colours[str(strategy)], alpha=0.2, linewidth=0)
        axes.plot(rows["month"], rows["median"], color=colours[str(strategy)], linewidth=2.2, label=str(strategy))
    axes.set_ylim(0.0, 1.0)
    axes.set_xlabel("Months from infusion")
    axes.set_ylabel("Overall survival")
    axes.set_title(f"Overall survival: median and 95% band over {draws} posterior draws")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize="small")
    set_margins(figure, left=1.0, right=0.3, bottom=0.8, top=0.6)
    return figure
