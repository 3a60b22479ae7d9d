"""Results of a run and their atomic writing (DESIGN.md section 7)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim import __version__
from sim.errors import InputError
from sim.files import atomic_path
from sim.outcomes import summarise
from sim.parameters import ParameterSet
from sim.plots import plot_flow, plot_survival
from sim.runner import Simulation
from sim.scenario import Scenario

FILES: tuple[str, ...] = (
    "patients.parquet", "events.parquet", "summary.csv", "run.json", "survival.png", "flow.png",
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
    """

    scenario: Scenario
    params: ParameterSet
    engine: str
    simulation: Simulation
    summary: pd.DataFrame

    @classmethod
    def from_simulation(cls, scenario: Scenario, params: ParameterSet, engine: str, simulation: Simulation) -> Results:
        """Summarise a simulation."""
        return cls(scenario, params, engine, simulation, summarise(simulation.patients))

    def run_info(self) -> dict[str, object]:
        """The content of ``run.json``."""
        return {
            "version": __version__,
            "scenario": self.scenario.model_dump(mode="json"),
            "seed": self.scenario.seed,
            "engine": self.engine,
            "patients": self.scenario.patients,
            "replications": self.scenario.replications,
            "wall_seconds": round(self.simulation.wall_seconds, 3),
            "parameters": self.params.as_dict(),
        }


def write_results(results: Results, out_dir: str | Path) -> Path:
    """Write every output file into ``out_dir`` atomically.

    All files are written into a temporary sibling folder, which then replaces ``out_dir`` in one
    rename, so readers never see a half-written set and a failed run leaves the old one intact.

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
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("--out", str(out_dir), "a folder path is required (a file of that name exists)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        results.simulation.patients.to_parquet(staging / "patients.parquet", index=False)
        results.simulation.events.to_parquet(staging / "events.parquet", index=False)
        results.summary.to_csv(staging / "summary.csv", index=False, float_format="%.6g")
        (staging / "run.json").write_text(json.dumps(results.run_info(), indent=2) + "\n", encoding="utf-8")
        plot_survival(results.simulation.patients, staging / "survival.png")
        plot_flow(results.simulation.patients, staging / "flow.png")
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
