"""Run a scenario: every strategy, every replication, one engine; collect the tables."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sim.clinical.cart import RESPONSE_CR_MRD_NEG, RESPONSE_CR_MRD_POS
from sim.clinical.pathway import Course, Plan, plan_course, resolve_course
from sim.clinical.survival import DAYS_PER_YEAR
from sim.cohort import PatientAttributes, build_cohort
from sim.draws import PatientDraws
from sim.engines import cohort as cohort_engine
from sim.engines import des as des_engine
from sim.parallel import Executor, SerialExecutor, chunks
from sim.parameters import ParameterSet
from sim.scenario import Scenario
from sim.schema import EVENT_COLUMNS
from sim.strategies import Strategy
from sim.tables import events_frame, patients_frame

Engine = Literal["des", "cohort"]
ENGINES = {"des": des_engine.simulate_starts, "cohort": cohort_engine.simulate_starts}
CR_CODES = (RESPONSE_CR_MRD_NEG, RESPONSE_CR_MRD_POS)
COHORT_BLOCK = 65_536
"""Patients resolved together by the cohort engine (arrays of this length stay in cache)."""


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


def follow_strategy(
    params: ParameterSet,
    strategy: Strategy,
    attributes: PatientAttributes,
    draws: PatientDraws,
    scenario: Scenario,
    engine: Engine = "des",
    shared: dict | None = None,
) -> tuple[Plan, Course]:
    """Take a set of patients through one strategy: plan, the engine's start days, resolution.

    Parameters
    ----------
    params, strategy, attributes, draws
        As for :func:`sim.clinical.pathway.plan_course` (``shared`` likewise).
    scenario : Scenario
        Supplies the capacity and the horizon.
    engine : {"des", "cohort"}
    """
    plan = plan_course(params, strategy, attributes, draws, shared)
    return plan, resolve_course(plan, *ENGINES[engine](plan, scenario.capacity), scenario.horizon_days)


def simulate_replication(task: tuple[Scenario, ParameterSet, Engine, int, bool]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One replication of every strategy: the patients table and (optionally) the event log."""
    scenario, params, engine, replication, with_events = task
    draws = PatientDraws(scenario.seed, replication, scenario.patients)
    attributes = build_cohort(scenario.case_mix, draws)
    names = [s.name for s in scenario.strategies]
    columns: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in names}
    events: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    # Patients interact only through queues, so without them (the cohort engine) they are resolved
    # in blocks that stay in the processor's cache; the SimPy engine takes the cohort whole.
    block_size = COHORT_BLOCK if engine == "cohort" else scenario.patients
    for start in range(0, scenario.patients, block_size):
        part = slice(start, min(start + block_size, scenario.patients))
        block_draws, block_attributes, shared = draws.block(part), attributes.block(part), {}
        for strategy in scenario.strategies:
            plan, course = follow_strategy(params, strategy, block_attributes, block_draws, scenario, engine, shared)
            columns[strategy.name].append(course.columns)
            if with_events:
                events[strategy.name].append(events_frame(scenario.name, replication, plan, course, names, start))
    patients = patients_frame(scenario.name, replication, attributes, columns)
    return patients, (pd.concat([f for name in names for f in events[name]], ignore_index=True) if with_events else None)


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in EVENT_COLUMNS})



PARAMETER_SET_COUNTS: tuple[str, ...] = ("patients", "infused", "in_cr", "hsct", "relapse", "death", "alive_1y")


def simulate_parameter_sets(
    scenario: Scenario,
    parameter_sets: list[ParameterSet],
    executor: Executor | None = None,
    sets_per_task: int = 25,
) -> pd.DataFrame:
    """Run many parameter sets through the cohort engine (replication 0 of ``scenario``).

    Every set meets the same patients (common random numbers across sets), so differences between
    sets come from the parameters, not from the luck of the draw. Sets are grouped into tasks of
    ``sets_per_task`` for ``executor``; each task draws the patients once.

    Parameters
    ----------
    scenario : Scenario
        Cohort, strategies and horizon (capacity must be unlimited).
    parameter_sets : list of ParameterSet
        For example draws of ``ParameterSet.sample``.
    executor : Executor, optional
        Where the tasks run (default: serially).
    sets_per_task : int
        Parameter sets per task.

    Returns
    -------
    pandas.DataFrame
        One row per (parameter set, strategy): ``parameter_set, strategy`` and the counts
        ``patients, infused, in_cr, hsct, relapse, death`` (by the horizon) and ``alive_1y``
        (alive one year after enrolment).
    """
    numbered = list(enumerate(parameter_sets))
    tasks = [(scenario, list(group)) for group in chunks(numbered, sets_per_task)]
    rows = [row for result in (executor or SerialExecutor()).map(_parameter_set_task, tasks) for row in result]
    frame = pd.DataFrame(rows, columns=["parameter_set", "strategy", *PARAMETER_SET_COUNTS])
    frame["strategy"] = pd.Categorical(frame["strategy"], categories=[s.name for s in scenario.strategies])
    return frame


def _parameter_set_task(task: tuple[Scenario, list[tuple[int, ParameterSet]]]) -> list[tuple]:
    scenario, numbered = task
    draws = PatientDraws(scenario.seed, 0, scenario.patients)
    attributes = build_cohort(scenario.case_mix, draws)
    rows = []
    for index, params in numbered:
        shared: dict[tuple, np.ndarray] = {}
        for strategy in scenario.strategies:
            _, course = follow_strategy(params, strategy, attributes, draws, scenario, "cohort", shared)
            c = course.columns
            rows.append((index, strategy.name, attributes.n, int(c["infused"].sum()),
                         int(np.isin(c["response"], CR_CODES).sum()), int(c["hsct"].sum()), int(c["relapse"].sum()),
                         int(c["death"].sum()), int((c["last_day"] >= DAYS_PER_YEAR).sum())))
    return rows
