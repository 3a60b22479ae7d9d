"""Run a scenario: every strategy, every replication, one engine; collect the tables."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from sim.clinical.pathway import plan_course, resolve_course
from sim.cohort import build_cohort
from sim.draws import PatientDraws
from sim.engines import cohort as cohort_engine
from sim.engines import des as des_engine
from sim.parameters import ParameterSet
from sim.parallel import Executor, SerialExecutor
from sim.scenario import Scenario
from sim.schema import EVENT_COLUMNS
from sim.tables import events_frame, patients_frame

Engine = Literal["des", "cohort"]
ENGINES = {"des": des_engine.simulate_starts, "cohort": cohort_engine.simulate_starts}


@dataclass(frozen=True)
class Simulation:
    """Raw output of a run: the patients table and the event log, with the time it took."""

    patients: pd.DataFrame
    events: pd.DataFrame
    wall_seconds: float


def simulate(
    scenario: Scenario,
    params: ParameterSet,
    engine: Engine = "des",
    executor: Executor | None = None,
    with_events: bool = True,
) -> Simulation:
    """Simulate every strategy of ``scenario`` for every replication.

    The same patients (attributes and draws) go through every strategy of a replication
    (common random numbers); replication ``r`` uses draws keyed by ``(seed, r)``. Replications are
    independent tasks for ``executor``; the result does not depend on which executor runs them.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    params : ParameterSet
        Parameter values (the scenario's overrides already applied).
    engine : {"des", "cohort"}
        SimPy engine, or the vectorised engine (unlimited capacity only).
    executor : Executor, optional
        Where replications run (default: serially, in this process).
    with_events : bool
        Build the event log (the patients table alone needs far less memory).
    """
    started = time.perf_counter()
    tasks = [(scenario, params, engine, replication, with_events) for replication in range(scenario.replications)]
    results = (executor or SerialExecutor()).map(simulate_replication, tasks)
    patients = pd.concat([r[0] for r in results], ignore_index=True)
    events = pd.concat([r[1] for r in results], ignore_index=True) if with_events else _empty_events()
    return Simulation(patients=patients, events=events, wall_seconds=time.perf_counter() - started)


def simulate_replication(task: tuple[Scenario, ParameterSet, Engine, int, bool]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One replication of every strategy: the patients table and (optionally) the event log."""
    scenario, params, engine, replication, with_events = task
    simulate_starts = ENGINES[engine]
    draws = PatientDraws(scenario.seed, replication, scenario.patients)
    attributes = build_cohort(scenario.case_mix, draws)
    names = [s.name for s in scenario.strategies]
    patients, events = [], []
    for strategy in scenario.strategies:
        plan = plan_course(params, strategy, attributes, draws)
        manufacturing_start, hsct_day = simulate_starts(plan, scenario.capacity)
        course = resolve_course(plan, manufacturing_start, hsct_day, scenario.horizon_days)
        patients.append(patients_frame(scenario.name, replication, plan, course, names))
        if with_events:
            events.append(events_frame(scenario.name, replication, plan, course, names))
    return pd.concat(patients, ignore_index=True), (pd.concat(events, ignore_index=True) if with_events else None)


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in EVENT_COLUMNS})

