"""The folders and files commands write: a run's results, the calibration's files.

Each writer fills a folder through :func:`sim.io.files.write_folder` (cd7sim's own folders, replaced
atomically) or gives the functions that write each file, so the caller decides where they go.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from sim.calibration.calibrate import (
    FIT_FIGURE,
    FIT_FILE,
    IDENTIFIABILITY_FILE,
    POSTERIOR_FILE,
    Calibration,
)
from sim.inputs.posterior import Stamp
from sim.io.files import write_folder
from sim.outcomes.resources import servers
from sim.report.plots import plot_fit, plot_flow, plot_survival, plot_utilisation, plot_waits, save_png
from sim.simulation.results import Results

TABLE_FILES: tuple[str, ...] = ("patients.parquet", "events.parquet", "summary.csv", "resources.csv", "run.json")
"""The tables and the record of a run folder."""
PATIENT_FIGURES: tuple[str, ...] = ("survival.png", "flow.png")
"""Figures every run draws."""
CAPACITY_FIGURES: tuple[str, ...] = ("utilisation.png", "waits.png")
"""Figures drawn only when the run has something to say about capacity (see ``Results.shows_capacity``)."""


def run_figures(results: Results) -> dict[str, Callable[[], Figure]]:
    """The figures of a run, by file name: survival and flow always; resource use and waits for an open
    cohort or a limited resource (a closed cohort with unlimited capacity has no queues to show)."""
    simulation = results.simulation
    survival, flow = PATIENT_FIGURES
    figures = {survival: lambda: plot_survival(simulation.patients), flow: lambda: plot_flow(simulation.patients)}
    if results.shows_capacity:
        utilisation, waits = CAPACITY_FIGURES
        figures[utilisation] = lambda: plot_utilisation(
            simulation.occupancy, servers(results.scenario.capacity), results.scenario.observation_window)
        figures[waits] = lambda: plot_waits(simulation.patients)
    return figures


def run_files(results: Results) -> tuple[str, ...]:
    """Every file of the run folder of ``results``, in the order they are listed."""
    return (*TABLE_FILES, *run_figures(results))


def write_results(results: Results, out_dir: str | Path, protected: Sequence[Path] = ()) -> Path:
    """Write every output file into ``out_dir`` atomically (see :func:`sim.io.files.write_folder`).

    Parameters
    ----------
    results : Results
    out_dir : str or Path
        Destination folder: new, empty or cd7sim's own (created, or replaced whole).
    protected : sequence of Path
        Inputs the folder must not contain (the scenario file).

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
        results.resources.to_csv(staging / "resources.csv", index=False, float_format="%.6g")
        (staging / "run.json").write_text(json.dumps(results.run_info(), indent=2) + "\n", encoding="utf-8")
        for name, draw in run_figures(results).items():
            save_png(draw(), staging / name)

    return write_folder(out_dir, write, "run", protected)


def calibration_writers(calibration: Calibration, stamp: Stamp | None = None) -> dict[str, Callable[[Path], None]]:
    """What ``cd7sim calibrate`` writes: file name → function writing that file to a given path
    (the posterior, stamped with the parameters.yaml and targets.csv it came from, the fit table, the
    identifiability table and the fit figure).

    Parameters
    ----------
    calibration : Calibration
    stamp : Stamp, optional
        The inputs' fingerprint taken when the calibration read them (default: taken now).
    """
    fit = calibration.fit_frame()
    return {
        POSTERIOR_FILE: lambda path: calibration.posterior(stamp).write(path),
        FIT_FILE: lambda path: fit.to_csv(path, index=False, float_format="%.6g"),
        IDENTIFIABILITY_FILE: lambda path: calibration.identifiability_frame().to_csv(path, index=False, float_format="%.6g"),
        FIT_FIGURE: lambda path: save_png(plot_fit(fit), path),
    }
