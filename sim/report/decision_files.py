"""What ``cd7sim cea`` writes and prints: the decision analysis's tables, figures and terminal summary."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.report.decision_plots import plot_ce_plane, plot_ceac, plot_evpi, plot_evppi, plot_expected_loss
from sim.report.plots import save_png
from sim.report.text import fixed_width
from sim.uncertainty.decision import DecisionAnalysis

CEAC_COLUMNS: tuple[str, ...] = ("wtp", "strategy", "probability_best", "on_frontier", "expected_nmb", "expected_loss")
EVPI_COLUMNS: tuple[str, ...] = ("wtp", "evpi", "evpi_population")
EVPPI_COLUMNS: tuple[str, ...] = ("parameters", "wtp", "evppi", "se", "evppi_population", "method", "fit_warning")
TOP_EVPPI = 5
"""Parameter groups printed per willingness to pay."""


def decision_writers(analysis: DecisionAnalysis, currency: str) -> dict[str, Callable[[Path], None]]:
    """The files of ``cd7sim cea``: file name → function writing it to a given path.

    Parameters
    ----------
    analysis : DecisionAnalysis
    currency : str
        Unit of costs in the figures' labels.
    """
    def table(frame: pd.DataFrame) -> Callable[[Path], None]:
        return lambda path: frame.to_csv(path, index=False, float_format="%.6g")

    return {
        "icers.csv": table(analysis.icers),
        "ceac.csv": table(analysis.ceac[list(CEAC_COLUMNS)]),
        "evpi.csv": table(analysis.evpi[list(EVPI_COLUMNS)]),
        "evppi.csv": table(analysis.evppi[list(EVPPI_COLUMNS)]),
        "ce_plane.png": lambda path: save_png(plot_ce_plane(analysis.psa, analysis.icers, currency), path),
        "ceac.png": lambda path: save_png(plot_ceac(analysis.ceac, currency), path),
        "expected_loss.png": lambda path: save_png(plot_expected_loss(analysis.ceac, currency), path),
        "evpi.png": lambda path: save_png(plot_evpi(analysis.evpi, currency, analysis.population), path),
        "evppi.png": lambda path: save_png(plot_evppi(analysis.evppi, currency, analysis.evpi), path),
    }


def _number(value: object, digits: int = 0) -> str:
    """A table cell as a number with thousands separators and ``digits`` decimals; ``n/a`` if not finite."""
    number = float(value)  # type: ignore[arg-type]
    return "n/a" if not math.isfinite(number) else f"{number:,.{digits}f}"


def format_decision(analysis: DecisionAnalysis, currency: str) -> str:
    """The terminal summary: the incremental table on the means, then at each EVPPI willingness to pay the
    strategy to choose, its probability of being best, the EVPI and the highest EVPPIs.

    Parameters
    ----------
    analysis : DecisionAnalysis
    currency : str
    """
    icers = analysis.icers
    rows = [[str(r.strategy), _number(r.cost), f"{_number(r.cost_lower)}–{_number(r.cost_upper)}", _number(r.qalys, 3),
             f"{_number(r.qalys_lower, 3)}–{_number(r.qalys_upper, 3)}", _number(r.icer), str(r.status)]
            for r in icers.itertuples()]
    lines = fixed_width(["strategy", f"cost ({currency})", "95% interval", "QALYs", "95% interval",
                         f"ICER ({currency}/QALY)", "status"], rows)
    for wtp in analysis.wtps:
        ceac = analysis.ceac[analysis.ceac["wtp"] == wtp]
        chosen = ceac[ceac["on_frontier"]].iloc[0]
        evpi = float(analysis.evpi.loc[analysis.evpi["wtp"] == wtp, "evpi"].iloc[0])
        people = analysis.population
        population = "" if people is None else f" ({_number(evpi * people)} for {people:,.0f} people)"
        lines += ["", f"At {_number(wtp)} {currency}/QALY: choose {chosen['strategy']} (best in "
                      f"{100 * chosen['probability_best']:.0f}% of draws); EVPI {_number(evpi)} {currency} per person{population}"]
        top = analysis.evppi[analysis.evppi["wtp"] == wtp].sort_values("evppi", ascending=False).head(TOP_EVPPI)
        if not top.empty:
            lines.append(f"  highest EVPPI ({currency} per person, ± SE): " + "; ".join(
                f"{r.parameters} {_number(r.evppi)} ± {_number(r.se)}{' (fit warning)' if r.fit_warning else ''}"
                for r in top.itertuples()))
    return "\n".join(lines)
