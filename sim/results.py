"""Results of a run and their atomic writing (DESIGN.md section 7)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim import __version__
from sim.errors import InputError
from sim.files import atomic_path
from sim.outcomes import summarise
from sim.parameters import ParameterSet
from sim.plots import plot_flow, plot_survival, plot_utilisation, plot_waits
from sim.resources import overload_warnings, servers, summarise_resources
from sim.runner import Simulation
from sim.scenario import Scenario

FILES: tuple[str, ...] = (
    "patients.parquet", "events.parquet", "summary.csv", "resources.csv", "run.json",
    "survival.png", "flow.png", "utilisation.png", "waits.png",
)


@dataclass(frozen=True)
class Results:
    """Everything a run produces.

    Attributes
    ----------
    scenario : Scenario
    params : ParameterSet
    engine : str
    simulation : Simulation
        Patients table, event log and simulation wall time.
    summary : pandas.DataFrame
        ``scenario, strategy, metric, estimate, lower, upper``.
    resources : pandas.DataFrame
        ``resources.csv``: ``scenario, strategy, resource, capacity, metric, estimate, lower, upper``.
    """

    scenario: Scenario
    params: ParameterSet
    engine: str
    simulation: Simulation
    summary: pd.DataFrame
    resources: pd.DataFrame

    @classmethod
    def from_simulation(cls, scenario: Scenario, params: ParameterSet, engine: str, simulation: Simulation) -> Results:
        """Summarise a simulation."""
        resources = summarise_resources(simulation.resources, scenario.name, scenario.capacity)
        return cls(scenario, params, engine, simulation, summarise(simulation.patients), resources)

    def warnings(self) -> list[str]:
        """Resources whose queues grow without bound under this load (see :func:`overload_warnings`)."""
        return overload_warnings(self.resources)

    def run_info(self) -> dict[str, object]:
        """The content of ``run.json``."""
        return {
            "version": __version__,
            "scenario": self.scenario.model_dump(mode="json"),
            "seed": self.scenario.seed,
            "engine": self.engine,
            "patients": self.scenario.patients,
            "patients_per_replication": self.simulation.patients.groupby("replication", observed=True)["patient_id"].nunique().tolist(),
            "replications": self.scenario.replications,
            "wall_seconds": round(self.simulation.wall_seconds, 3),
            "parameters": self.params.as_dict(),
        }


def write_results(results: Results, out_dir: str | Path) -> Path:
    """Write every output file into ``out_dir`` atomically (see :func:`write_folder`).

    Parameters
    ----------
    results : Results
    out_dir : str or Path
        Destination folder (created, or replaced if it exists).

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

    return write_folder(out_dir, write)


def write_folder(out_dir: str | Path, write: Callable[[Path], None]) -> Path:
    """Fill a folder atomically: ``write`` fills a temporary sibling folder, which then replaces
    ``out_dir`` in one rename, so readers never see a half-written set and a failed run leaves
    the old one intact.

    Parameters
    ----------
    out_dir : str or Path
        Destination folder (created, or replaced if it exists).
    write : callable
        Writes the files into the folder it is given.

    Returns
    -------
    Path
        The folder written.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("--out", str(out_dir), "a folder path is required (a file of that name exists)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write(staging)
        _replace_folder(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def write_csv_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as CSV through a temporary file and one rename."""
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.6g")


def _replace_folder(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target`` with renames only."""
    if not target.exists():
        os.replace(new, target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.replace(target, retired / target.name)
    os.replace(new, target)
    shutil.rmtree(retired, ignore_errors=True)
