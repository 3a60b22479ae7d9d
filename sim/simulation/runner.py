"""Run a scenario: every strategy, every replication, one engine; collect the tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from sim.disease import one_pass
from sim.disease.course import Course, Plan, ResourceUse, plan_course, resolve_course
from sim.disease.draws import PatientDraws
from sim.disease.patients import PatientAttributes, build_cohort
from sim.engines import cohort as cohort_engine
from sim.engines import des as des_engine
from sim.engines.arrivals import referral_days
from sim.inputs.codes import DAYS_PER_YEAR, EVENT_COLUMNS, PATIENT_KEY, RESOURCES
from sim.inputs.economic_settings import LIFETIME_AGE_YEARS
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
ValuesOf = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]
"""A value model: a patients table and its event log to one row of values per patient, keyed by ``PATIENT_KEY``
(for example costs and QALYs, `sim.economics.evaluation.patient_values`)."""
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
    values : pandas.DataFrame
        What the value model made of each patient (``PATIENT_KEY`` and its columns), over the economic horizon;
        empty when no value model was given.
    """

    patients: pd.DataFrame
    events: pd.DataFrame
    wall_seconds: float
    resources: pd.DataFrame
    occupancy: pd.DataFrame
    table_seconds: float = 0.0
    values: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PATIENT_KEY)))


def simulate(
    scenario: Scenario,
    params: ParameterSet,
    engine: Engine = "des",
    executor: Executor | None = None,
    with_events: bool = True,
    with_resources: bool = True,
    on_done: Progress = None,
    values_of: ValuesOf | None = None,
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
    values_of : callable, optional
        A value model (:data:`ValuesOf`), applied in each replication's task to the tables over the scenario's
        economic horizon (``economics.horizon``: each patient followed to death or age
        :data:`~sim.inputs.economic_settings.LIFETIME_AGE_YEARS`, or the follow-up of the clinical tables); it must
        pickle to run in other processes.
    """
    started = time.perf_counter()
    tasks = [(scenario, params, engine, replication, with_events, with_resources, values_of)
             for replication in range(scenario.replications)]
    results = (executor or SerialExecutor()).map(simulate_replication, tasks, on_done)
    patients = pd.concat([r.patients for r in results], ignore_index=True)
    events = pd.concat([r.events for r in results], ignore_index=True) if with_events else _empty_events()
    return Simulation(
        patients=patients, events=events, wall_seconds=time.perf_counter() - started,
        resources=pd.concat([r.resources for r in results], ignore_index=True),
        occupancy=pd.concat([r.occupancy for r in results], ignore_index=True),
        table_seconds=sum(r.table_seconds for r in results),
        **({"values": pd.concat([r.values for r in results], ignore_index=True)} if values_of is not None else {}),
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


def lifetime_days(attributes: PatientAttributes) -> np.ndarray:
    """Each patient's lifetime horizon from enrolment: the days until age
    :data:`~sim.inputs.economic_settings.LIFETIME_AGE_YEARS` (0 for anyone that old already)."""
    return np.maximum(LIFETIME_AGE_YEARS - attributes.age, 0.0) * DAYS_PER_YEAR


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
    values: pd.DataFrame | None = None


class _Tables:
    """The patients table and event log of one replication, filled block by block, strategy by strategy (every
    strategy of the scenario, or the ``strategies`` given)."""

    def __init__(self, scenario: Scenario, replication: int, n: int, enrol: np.ndarray, with_events: bool,
                 strategies: list[str] | None = None) -> None:
        self.scenario, self.replication, self.with_events = scenario, replication, with_events
        self.all_names = [s.name for s in scenario.strategies]
        self.names = strategies if strategies is not None else self.all_names
        self.table = PatientsTable(scenario.name, replication, self.names, n, enrol)
        self.events: dict[str, list[pd.DataFrame]] = {name: [] for name in self.names}

    def add(self, index: int, part: slice, attributes: PatientAttributes, plan: Plan, course: Course) -> None:
        """The ``index``-th strategy's course of the patients ``part``."""
        self.table.put(index, part, attributes, course.columns)
        if self.with_events:
            name = self.names[index]
            self.events[name].append(events_frame(self.scenario.name, self.replication, plan, course, self.all_names, part.start))

    def patients(self) -> pd.DataFrame:
        return self.table.frame()

    def log(self) -> pd.DataFrame | None:
        return pd.concat([f for name in self.names for f in self.events[name]], ignore_index=True) if self.with_events else None


def _lifetime_values(tables: dict[str, _Tables], values_of: ValuesOf, first_kept: int) -> pd.DataFrame:
    """``values_of`` applied to each strategy's lifetime tables in turn (one strategy's tables built at a time)."""
    parts = []
    names = list(tables)
    for name in names:
        table = tables.pop(name)
        log = table.log()
        assert log is not None, "lifetime tables keep their event log"
        parts.append(values_of(_kept(table.patients(), first_kept), _kept(log, first_kept)))
    values = pd.concat(parts, ignore_index=True)
    values["strategy"] = pd.Categorical(values["strategy"].astype(str), categories=names)
    return values


def _kept(table: pd.DataFrame, first_kept: int) -> pd.DataFrame:
    """The rows of patients referred after the warm-up (all of them when ``first_kept`` is 0)."""
    if not first_kept:
        return table
    return table[table["patient_id"] >= first_kept].reset_index(drop=True)


def simulate_replication(task: tuple[Scenario, ParameterSet, Engine, int, bool, bool, ValuesOf | None]) -> Replication:
    """One replication of every strategy: patients table, event log, resource measures and, with a value model,
    each patient's values over the economic horizon."""
    scenario, params, engine, replication, with_events, with_resources, values_of = task
    enrol = enrolment_days(scenario, replication)
    n = enrol.size
    first_kept = int(np.searchsorted(enrol, scenario.observation_window[0])) if scenario.arrivals else 0
    lifetime = values_of is not None and scenario.economics.horizon == "lifetime"
    clinical = _Tables(scenario, replication, n, enrol, with_events or (values_of is not None and not lifetime))
    economic = {s.name: _Tables(scenario, replication, n, enrol, True, [s.name]) for s in scenario.strategies} if lifetime else {}
    uses: dict[str, list[ResourceUse]] = {s.name: [] for s in scenario.strategies}
    table_seconds = 0.0
    # Patients interact only through queues, so without them (the cohort engine) they are resolved
    # in blocks that stay in the processor's cache, drawn block by block, and each block goes into the
    # table as soon as it is resolved; the SimPy engine takes the cohort whole.
    block_size = COHORT_BLOCK if engine == "cohort" else max(n, 1)
    table_only = engine == "cohort" and not (clinical.with_events or with_resources or lifetime)
    if table_only:  # the one pass below does not go through the engine, which checks the capacity
        cohort_engine.require_unlimited(scenario.capacity)
    for part, block_draws in PatientDraws.in_blocks(scenario.seed, replication, n, block_size):
        block_attributes = build_cohort(scenario.case_mix, block_draws)
        shared: dict[tuple, np.ndarray] = {}
        for index, strategy in enumerate(scenario.strategies):
            if table_only and one_pass.covers(strategy):  # only the table is asked for: each course in one pass, to the same columns
                columns = one_pass.table_columns(params, strategy, block_attributes, block_draws, scenario.horizon_days, shared)
                started = time.perf_counter()
                clinical.table.put(index, part, block_attributes, columns)
                table_seconds += time.perf_counter() - started
                del columns  # this strategy's arrays go before the next strategy's are made
                continue
            plan, course = follow_strategy(params, strategy, block_attributes, block_draws, scenario, engine, shared, enrol[part])
            started = time.perf_counter()
            clinical.add(index, part, block_attributes, plan, course)
            table_seconds += time.perf_counter() - started
            if lifetime:  # the same course, followed to death or age 100
                lifelong = resolve_course(plan, course.services, lifetime_days(block_attributes))
                economic[strategy.name].add(0, part, block_attributes, plan, lifelong)
            if with_resources:
                uses[strategy.name].append(course.resource_use)
            del plan, course  # this strategy's arrays go before the next strategy's are made
    del block_draws, block_attributes, shared  # the last block's draws, rows and scores go before the table is built
    started = time.perf_counter()
    patients = _kept(clinical.patients(), first_kept)
    table_seconds += time.perf_counter() - started
    log = clinical.log()
    log = _kept(log, first_kept) if log is not None else None
    values = None
    if values_of is not None and lifetime:
        values = _lifetime_values(economic, values_of, first_kept)
    elif values_of is not None:
        assert log is not None, "the clinical tables keep their event log for a value model"
        values = values_of(patients, log)
    if with_resources:
        resources, occupancy = _measure_resources(scenario, replication, enrol, uses)
    else:
        resources, occupancy = _empty_resources(), _empty_occupancy()
    return Replication(patients=patients, events=log if with_events else None, resources=resources, occupancy=occupancy,
                       table_seconds=table_seconds, values=values)


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
