"""The run folder: a run's tables, record and figures, written through :func:`sim.io.files.write_folder`
(cd7sim's own folders, replaced atomically). The calibration's files are in
:mod:`sim.report.calibration_files`, apart, so that a run does not import the calibration (and scipy.stats).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from sim.economics.evaluation import Evaluation
from sim.io.files import write_folder
from sim.outcomes.resources import servers
from sim.report.economics_plots import plot_ce_plane, plot_costs
from sim.report.plots import plot_flow, plot_survival, plot_utilisation, plot_waits, save_png
from sim.simulation.results import Results

TABLE_FILES: tuple[str, ...] = ("patients.parquet", "events.parquet", "summary.csv", "subgroups.csv", "resources.csv", "run.json")
"""The tables and the record of a run folder."""
ECONOMIC_FILES: tuple[str, ...] = ("economics.csv", "icers.csv")
"""The economic tables of a run folder (a run with an economic evaluation)."""
PATIENT_FIGURES: tuple[str, ...] = ("survival.png", "flow.png")
"""Figures every run draws."""
ECONOMIC_FIGURES: tuple[str, ...] = ("ce_plane.png", "costs.png")
"""Figures of the economic evaluation."""
CAPACITY_FIGURES: tuple[str, ...] = ("utilisation.png", "waits.png")
"""Figures drawn only when the run has something to say about capacity (see ``Results.shows_capacity``)."""


def run_figures(results: Results, evaluation: Evaluation | None = None) -> dict[str, Callable[[], Figure]]:
    """The figures of a run, by file name: survival and flow always; the cost-effectiveness plane and the costs
    by category with an economic evaluation; resource use and waits for an open cohort or a limited resource (a
    closed cohort with unlimited capacity has no queues to show)."""
    simulation = results.simulation
    survival, flow = PATIENT_FIGURES
    figures = {survival: lambda: plot_survival(simulation.patients), flow: lambda: plot_flow(simulation.patients)}
    if evaluation is not None:
        plane, costs = ECONOMIC_FIGURES
        figures[plane] = lambda: plot_ce_plane(evaluation)
        figures[costs] = lambda: plot_costs(evaluation)
    if results.shows_capacity:
        utilisation, waits = CAPACITY_FIGURES
        figures[utilisation] = lambda: plot_utilisation(
            simulation.occupancy, servers(results.scenario.capacity), results.scenario.observation_window)
        figures[waits] = lambda: plot_waits(simulation.patients)
    return figures


def run_files(results: Results, evaluation: Evaluation | None = None) -> tuple[str, ...]:
    """Every file of the run folder of ``results``, in the order they are listed."""
    return (*TABLE_FILES, *(ECONOMIC_FILES if evaluation is not None else ()), *run_figures(results, evaluation))


def write_results(results: Results, out_dir: str | Path, protected: Sequence[Path] = (), evaluation: Evaluation | None = None) -> Path:
    """Write every output file into ``out_dir`` atomically (see :func:`sim.io.files.write_folder`).

    Parameters
    ----------
    results : Results
    out_dir : str or Path
        Destination folder: new, empty or cd7sim's own (created, or replaced whole).
    protected : sequence of Path
        Inputs the folder must not contain (the scenario file).
    evaluation : Evaluation, optional
        The run's economic evaluation: ``economics.csv``, ``icers.csv``, its figures and the ``economics`` entry of
        ``run.json``.

    Returns
    -------
    Path
        The folder written.
    """
    def write(staging: Path) -> None:
        simulation = results.simulation
        simulation.patients.to_parquet(staging / "patients.parquet", index=False)
        simulation.events.to_parquet(staging / "events.parquet", index=False)
        results.summary.to_csv(staging / "summary.csv", index=False, float_format="%.6g")
        results.subgroups.to_csv(staging / "subgroups.csv", index=False, float_format="%.6g")
        results.resources.to_csv(staging / "resources.csv", index=False, float_format="%.6g")
        info = results.run_info()
        if evaluation is not None:
            economics_file, icers_file = ECONOMIC_FILES
            evaluation.summary.to_csv(staging / economics_file, index=False, float_format="%.8g")
            evaluation.icers.to_csv(staging / icers_file, index=False, float_format="%.8g")
            info["economics"] = evaluation.record()
        (staging / "run.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        for name, draw in run_figures(results, evaluation).items():
            save_png(draw(), staging / name)

    return write_folder(out_dir, write, "run", protected)
