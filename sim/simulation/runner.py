"""Run a scenario: every strategy, every replication, one engine; collect the tables."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sim.disease.course import Course, Plan, ResourceUse, plan_course, resolve_course
from sim.disease.draws import PatientDraws
from sim.disease.patients import PatientAttributes, build_cohort
from sim.engines import cohort as cohort_engine
from sim.engines import des as des_engine
from sim.engines.arrivals import referral_days
from sim.inputs.codes import DAYS_PER_YEAR, EVENT_COLUMNS, RESOURCES
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Scenario
from sim.inputs.strategies import Strategy
from sim.outcomes.endpoints import CR_CODES
from sim.outcomes.resources import occupancy, resource_metrics
from sim.simulation.parallel import Executor, Progress, SerialExecutor, chunks
from sim.simulation.tables import PatientsTable, events_frame

Engine = Literal["des", "cohort"]
ENGINES = {"des": des_engine.simulate_services, "cohort": cohort_engine.simulate_services}
COHORT_BLOCK = 65_536
"""Patients resolved together by the cohort engine (arrays of this length stay in cache)."""
OCCUPANCY_STEP_DAYS = 7.0
"""Spacing of the calendar days at which resource occupancy is recorded for the figures."""
RESOURCE_TABLE_COLUMNS: tuple[str, ...] = ("strategy", "replication", "resource", "metric", "value")
OCCUPANCY_COLUMNS: tuple[str, ...] = ("strategy", "replication", "resource", "day", "in_use", "queue")


@dataclass(frozen=True)
class Simulation:
    """Raw output of a run.

    Attributes
    ----------
    patients, events : pandas.DataFrame
        The patients table and the event log (patients referred during a warm-up left out).
    wall_seconds : float
    resources : pandas.DataFrame
        Resource metrics per replication: ``strategy, replication, resource, metric, value``
        (see :data:`sim.outcomes.resources.RESOURCE_METRICS`); empty when not asked for.
    occupancy : pandas.DataFrame
        ``strategy, replication, resource, day, in_use, queue`` every week of the calendar.
    table_seconds : float
        Of the work, the seconds spent building the patients tables (summed over replications).
    """

    patients: pd.DataFrame
    events: pd.DataFrame
    wall_seconds: float
    resources: pd.DataFrame
    occupancy: pd.DataFrame
    table_seconds: float = 0.0


def simulate(
    scenario: Scenario,
    params: ParameterSet,
    engine: Engine = "des",
    executor: Executor | None = None,
    with_events: bool = True,
    with_resources: bool = True,
    on_done: Progress = None,
) -> Simulation:
    """Simulate every strategy of ``scenario`` for every replication.

    The same patients (attributes, draws and, for an open cohort, referral days) go through every
    strategy of a replication (common random numbers); replication ``r`` uses draws keyed by
    ``(seed, r)``. Replications are independent tasks for ``executor``; the result does not depend
    on which executor runs them.

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
    with_resources : bool
        Measure the resources (``resources`` and ``occupancy``).
    on_done : callable, optional
        Called once per replication simulated (a progress bar).
    """
    started = time.perf_counter()
    tasks = [(scenario, params, engine, replication, with_events, with_resources) for replication in range(scenario.replications)]
    results = (executor or SerialExecutor()).map(simulate_replication, tasks, on_done)
    patients = pd.concat([r.patients for r in results], ignore_index=True)
    events = pd.concat([r.events for r in results], ignore_index=True) if with_events else _empty_events()
    return Simulation(
        patients=patients, events=events, wall_seconds=time.perf_counter() - started,
        resources=pd.concat([r.resources for r in results], ignore_index=True),
        occupancy=pd.concat([r.occupancy for r in results], ignore_index=True),
        table_seconds=sum(r.table_seconds for r in results),
    )


def follow_strategy(
    params: ParameterSet,
    strategy: Strategy,
    attributes: PatientAttributes,
    draws: PatientDraws,
    scenario: Scenario,
    engine: Engine = "des",
    shared: dict | None = None,
    enrol_day: np.ndarray | None = None,
) -> tuple[Plan, Course]:
    """Take a set of patients through one strategy: plan, the engine's services, resolution.

    Parameters
    ----------
    params, strategy, attributes, draws
        As for :func:`sim.disease.course.plan_course` (``shared`` likewise).
    scenario : Scenario
        Supplies the capacity and the horizon.
    engine : {"des", "cohort"}
    enrol_day : ndarray, optional
        Calendar day of each patient's referral (default: day 0).
    """
    plan = plan_course(params, strategy, attributes, draws, shared)
    return plan, resolve_course(plan, ENGINES[engine](plan, scenario.capacity, enrol_day), scenario.horizon_days)


def enrolment_days(scenario: Scenario, replication: int) -> np.ndarray:
    """Calendar day of each patient's enrolment: the referrals of an open cohort, or day 0."""
    if scenario.arrivals is None:
        assert scenario.patients is not None, "a closed cohort has its patients (Scenario._one_cohort)"
        return np.zeros(scenario.patients)
    return referral_days(scenario.arrivals, scenario.seed, replication)


@dataclass(frozen=True)
class Replication:
    """One replication's tables (see :class:`Simulation`)."""

    patients: pd.DataFrame
    events: pd.DataFrame | None
    resources: pd.DataFrame
    occupancy: pd.DataFrame
    table_seconds: float


def simulate_replication(task: tuple[Scenario, ParameterSet, Engine, int, bool, bool]) -> Replication:
    """One replication of every strategy: patients table, event log, resource measures."""
    scenario, params, engine, replication, with_events, with_resources = task
    enrol = enrolment_days(scenario, replication)
    n = enrol.size
    first_kept = int(np.searchsorted(enrol, scenario.observation_window[0])) if scenario.arrivals else 0
    names = [s.name for s in scenario.strategies]
    table = PatientsTable(scenario.name, replication, names, n, enrol)
    events: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    uses: dict[str, list[ResourceUse]] = {name: [] for name in names}
    table_seconds = 0.0
    # Patients interact only through queues, so without them (the cohort engine) they are resolved
    # in blocks that stay in the processor's cache, drawn block by block, and each block goes into the
    # table as soon as it is resolved; the SimPy engine takes the cohort whole.
    block_size = COHORT_BLOCK if engine == "cohort" else max(n, 1)
    for part, block_draws in PatientDraws.in_blocks(scenario.seed, replication, n, block_size):
        block_attributes = build_cohort(scenario.case_mix, block_draws)
        shared: dict[tuple, np.ndarray] = {}
        for index, strategy in enumerate(scenario.strategies):
            plan, course = follow_strategy(params, strategy, block_attributes, block_draws, scenario, engine, shared, enrol[part])
            started = time.perf_counter()
            table.put(index, part, block_attributes, {**course.columns, **course.wait_columns()})
            table_seconds += time.perf_counter() - started
            if with_resources:
                uses[strategy.name].append(course.resource_use)
            if with_events:
                events[strategy.name].append(events_frame(scenario.name, replication, plan, course, names, part.start))
    started = time.perf_counter()
    patients = table.frame()
    table_seconds += time.perf_counter() - started
    log = pd.concat([f for name in names for f in events[name]], ignore_index=True) if with_events else None
    if first_kept:
        patients = patients[patients["patient_id"] >= first_kept].reset_index(drop=True)
        log = log[log["patient_id"] >= first_kept].reset_index(drop=True) if log is not None else None
    if with_resources:
        resources, occupancy = _measure_resources(scenario, replication, enrol, uses)
    else:
        resources, occupancy = _empty_resources(), _empty_occupancy()
    return Replication(patients=patients, events=log, resources=resources, occupancy=occupancy,
                       table_seconds=table_seconds)


def _measure_resources(
    scenario: Scenario, replication: int, enrol: np.ndarray, uses: dict[str, list[ResourceUse]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Resource metrics and the weekly occupancy of every strategy of one replication."""
    window = scenario.observation_window
    days = np.arange(0.0, window[1] + OCCUPANCY_STEP_DAYS, OCCUPANCY_STEP_DAYS)
    metric_rows, occupancy_frames = [], []
    for strategy, parts in uses.items():
        use = _joined(parts, enrol.size)
        for resource, values in resource_metrics(use, enrol, scenario.capacity, window).items():
            metric_rows += [(strategy, replication, resource, metric, value) for metric, value in values.items()]
        for resource, (in_use, queue) in occupancy(use, enrol, days).items():
            if np.isnan(use.request[resource]).all():
                continue
            occupancy_frames.append(pd.DataFrame({
                "strategy": strategy, "replication": replication, "resource": resource, "day": days,
                "in_use": in_use, "queue": queue,
            }))
    metrics = pd.DataFrame(metric_rows, columns=list(RESOURCE_TABLE_COLUMNS))
    return metrics, pd.concat(occupancy_frames, ignore_index=True) if occupancy_frames else _empty_occupancy()


def _joined(parts: list[ResourceUse], n: int) -> ResourceUse:
    """The resource records of consecutive blocks of patients, as one."""
    if not parts:
        empty = np.full(n, np.nan)
        return ResourceUse({r: empty for r in RESOURCES}, {r: empty for r in RESOURCES}, {r: empty for r in RESOURCES},
                           np.zeros(n, np.int8), np.zeros(n, np.int8))
    if len(parts) == 1:
        return parts[0]
    request, start, end = (
        {r: np.concatenate([getattr(p, name)[r] for p in parts]) for r in RESOURCES} for name in ("request", "start", "end")
    )
    return ResourceUse(
        request, start, end, np.concatenate([p.left_queue for p in parts]), np.concatenate([p.left_reason for p in parts]),
    )


def _empty_resources() -> pd.DataFrame:
    return pd.DataFrame(columns=list(RESOURCE_TABLE_COLUMNS))


def _empty_occupancy() -> pd.DataFrame:
    return pd.DataFrame(columns=list(OCCUPANCY_COLUMNS))


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
    assert scenario.patients is not None, "parameter sets are simulated on a closed cohort"
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
