"""The results of a run: its tables, its summary and its resource measures (DESIGN.md section 7)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from sim import __version__
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Scenario
from sim.io.provenance import git_commit, machine
from sim.outcomes.endpoints import summarise
from sim.outcomes.resources import overload_warnings, summarise_resources
from sim.outcomes.subgroups import summarise_subgroups
from sim.simulation.runner import Simulation


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
        """Summarise a simulation: overall and by resource (by subgroup when asked, see :attr:`subgroups`)."""
        resources = summarise_resources(simulation.resources, scenario.name, scenario.capacity)
        return cls(scenario, params, engine, simulation, summarise(simulation.patients), resources)

    @cached_property
    def subgroups(self) -> pd.DataFrame:
        """``subgroups.csv``: ``scenario, strategy, subgroup, level, patients, metric, estimate, lower, upper``,
        the headline endpoints by subgroup (:func:`sim.outcomes.subgroups.summarise_subgroups`), computed
        when first asked for (a run folder, ``--by``; not ``cd7sim check``)."""
        return summarise_subgroups(self.simulation.patients)

    @property
    def shows_capacity(self) -> bool:
        """Whether the run has anything to say about capacity: an open cohort or a limited resource.
        A closed cohort with unlimited capacity has no queues and a load that is not a service's."""
        return self.scenario.arrivals is not None or bool(self.scenario.capacity.limited())

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
            "machine": machine(),
            "git_commit": git_commit(),
        }




