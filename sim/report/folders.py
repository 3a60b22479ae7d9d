"""The folders and files commands write: a run's results, the calibration's files.

Each writer fills a folder through :func:`sim.io.files.write_folder` (cd7sim's own folders, replaced
atomically) or gives the functions that write each file, so the caller decides where they go.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from sim.calibration.calibrate import (
    FIT_FIGURE,
    FIT_FILE,
    IDENTIFIABILITY_FILE,
    POSTERIOR_FILE,
    Calibration,
)
from sim.io.files import atomic_path, write_folder
from sim.outcomes.resources import servers
from sim.report.plots import (
    plot_fit,
    plot_flow,
    plot_survival,
    plot_utilisation,
    plot_waits,
)
from sim.simulation.results import Results

FILES: tuple[str, ...] = (
    "patients.parquet", "events.parquet", "summary.csv", "resources.csv", "run.json",
    "survival.png", "flow.png", "utilisation.png", "waits.png",
)
"""The files of a run folder, in the order they are listed."""



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
        plot_survival(simulation.patients, staging / "survival.png")
        plot_flow(simulation.patients, staging / "flow.png")
        plot_utilisation(simulation.occupancy, servers(results.scenario.capacity),
                         results.scenario.observation_window, staging / "utilisation.png")
        plot_waits(simulation.patients, staging / "waits.png")

    return write_folder(out_dir, write, "run", protected)


def write_csv_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as CSV through a temporary file and one rename."""
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.6g")


def calibration_writers(calibration: Calibration) -> dict[str, Callable[[Path], None]]:
    """What ``cd7sim calibrate`` writes: file name → function writing that file to a given path
    (the posterior, the fit table, the identifiability table and the fit figure)."""
    fit = calibration.fit_frame()
    return {
        POSTERIOR_FILE: lambda path: calibration.posterior_frame().to_parquet(path, index=False),
        FIT_FILE: lambda path: fit.to_csv(path, index=False, float_format="%.6g"),
        IDENTIFIABILITY_FILE: lambda path: calibration.identifiability_frame().to_csv(path, index=False, float_format="%.6g"),
        FIT_FIGURE: lambda path: plot_fit(fit, path),
    }
