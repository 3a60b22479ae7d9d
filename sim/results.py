"""Results of a run and their atomic writing (DESIGN.md section 7)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim import __version__
from sim.files import atomic_path, write_folder
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


def write_results(results: Results, out_dir: str | Path, protected: Sequence[Path] = ()) -> Path:
    """Write every output file into ``out_dir`` atomically (see :func:`sim.files.write_folder`).

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
