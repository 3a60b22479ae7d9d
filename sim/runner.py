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
from sim.scenario import Scenario
from sim.tables import events_frame, patients_frame

Engine = Literal["des", "cohort"]
ENGINES = {"des": des_engine.simulate_starts, "cohort": cohort_engine.simulate_starts}


@dataclass(frozen=True)
class Simulation:
    """Raw output of a run: the patients table and the event log, with the time it took."""

    patients: pd.DataFrame
    events: pd.DataFrame
    wall_seconds: float


def simulate(scenario: Scenario, params: ParameterSet, engine: Engine = "des") -> Simulation:
    """Simulate every strategy of ``scenario`` for every replication.

    The same patients (attributes and draws) go through every strategy of a replication
    (common random numbers); replication ``r`` uses draws keyed by ``(seed, r)``.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    params : ParameterSet
        Parameter values (the scenario's overrides already applied).
    engine : {"des", "cohort"}
        SimPy engine, or the vectorised engine (unlimited capacity only).
    """
    started = time.perf_counter()
    simulate_starts = ENGINES[engine]
    patients, events = [], []
    for replication in range(scenario.replications):
        draws = PatientDraws(scenario.seed, replication, scenario.patients)
        attributes = build_cohort(scenario.case_mix, draws)
        for strategy in scenario.strategies:
            plan = plan_course(params, strategy, attributes, draws)
            manufacturing_start, hsct_day = simulate_starts(plan, scenario.capacity)
            course = resolve_course(plan, manufacturing_start, hsct_day, scenario.horizon_days)
            patients.append(patients_frame(scenario.name, replication, plan, course))
            events.append(events_frame(scenario.name, replication, plan, course))
    names = [s.name for s in scenario.strategies]
    return Simulation(
        patients=_tidy(pd.concat(patients, ignore_index=True), names),
        events=_tidy(pd.concat(events, ignore_index=True), names),
        wall_seconds=time.perf_counter() - started,
    )


def _tidy(frame: pd.DataFrame, strategy_names: list[str]) -> pd.DataFrame:
    """Restore categorical columns after concatenation, strategies in scenario order."""
    frame["scenario"] = frame["scenario"].astype("category")
    frame["strategy"] = pd.Categorical(frame["strategy"].astype(str), categories=strategy_names)
    if "detail" in frame:
        frame["detail"] = frame["detail"].astype(str).astype("category")
    return frame
