"""Capacity sweeps: the same referrals and patients under a grid of service settings.

``cd7sim sweep SCENARIO --set capacity.manufacturing_slots=2,3,4,5`` runs the SimPy engine once per
combination of the settings given, with the scenario's seed: every combination meets the same
referrals and the same patients with the same luck (common random numbers), so differences between
rows come from the capacity, not from chance.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from sim.inputs.errors import InputError
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Arrivals, Capacity, Scenario
from sim.inputs.validation import first_error, key_list, load_yaml
from sim.outcomes.endpoints import summarise
from sim.outcomes.resources import summarise_resources
from sim.simulation.parallel import Executor
from sim.simulation.runner import ValuesOf, simulate

SECTIONS: dict[str, type[Capacity | Arrivals]] = {"capacity": Capacity, "arrivals": Arrivals}
UNLIMITED = ("none", "null", "unlimited")
PATIENT_METRICS: tuple[str, ...] = (
    "dropout_while_waiting", "relapse_while_waiting", "death_while_waiting", "itt_os_1y", "itt_os_2y", "hsct_rate",
)
"""Patient outcomes reported for each combination (see :data:`sim.outcomes.estimators.METRICS`). Survival from
referral at 2 years is the one to read: a patient waiting without progressing is alive, so a long
wait postpones deaths past the 1-year mark (lead time) before it shows as lives lost."""
VALUE_METRICS: tuple[str, ...] = ("cost_total", "qalys")
"""Economic outcomes reported for each combination when the sweep is given a value model: the mean discounted cost and
QALYs per referral over the economic horizon (see `sim.economics.evaluation`)."""
RESOURCE_METRICS: tuple[str, ...] = ("mean_wait_days", "p95_wait_days", "utilisation", "left_queue_per_year")
"""Resource measures reported for each combination (see :data:`sim.outcomes.resources.RESOURCE_METRICS`)."""
SWEEP_COLUMNS: tuple[str, ...] = ("strategy", "resource", "metric", "estimate", "lower", "upper")
"""Columns of ``sweep.csv`` after one column per swept setting (``resource`` empty for patient outcomes)."""


@dataclass(frozen=True)
class Setting:
    """One swept setting: a dotted scenario field and its values (``None`` = unlimited)."""

    key: str
    values: tuple[Any, ...]


def parse_setting(text: str) -> Setting:
    """Parse ``capacity.manufacturing_slots=2,3,4,5`` (``none`` or ``unlimited`` for no limit).

    Each value is read as YAML (``2`` a whole number, ``2.5`` a number); it is checked against the
    scenario's schema when the grid is built (:func:`sweep_grid`).

    Raises
    ------
    InputError
        For a malformed text, a section other than ``capacity`` or ``arrivals``, an unknown field, or
        a value that is empty or not valid YAML.
    """
    key, sep, values = text.partition("=")
    section, _, field = key.strip().partition(".")
    if not sep or not key.strip() or not values.strip():
        raise InputError("--set", text, "KEY=VALUE[,VALUE...] is required, for example capacity.manufacturing_slots=2,3,4")
    if section not in SECTIONS or field not in SECTIONS[section].model_fields:
        allowed = key_list(f"{s}.{f}" for s, model in SECTIONS.items() for f in model.model_fields)
        raise InputError("--set", key, f"one of {allowed} is required")
    key = key.strip()
    parsed = [_setting_value(key, v) for v in values.split(",")]
    for index, value in enumerate(parsed):
        if any(value == earlier for earlier in parsed[:index]):
            raise InputError(f"--set {key}", values.split(",")[index].strip() if value is None else value,
                             "each value once is required (a value given twice would simulate the same combination twice)")
    return Setting(key=key, values=tuple(parsed))


def _setting_value(key: str, text: str) -> Any:
    """One value of ``--set KEY=...``: ``None`` for no limit, else the YAML value of ``text``."""
    if text.strip().lower() in UNLIMITED:
        return None
    if not text.strip():
        raise InputError(f"--set {key}", text, "each value must be given (none for no limit); two commas in a row leave one out")
    try:
        return load_yaml(text)
    except yaml.YAMLError:
        raise InputError(f"--set {key}", text, "each value must be a number, or none for no limit") from None


def with_settings(scenario: Scenario, assignment: dict[str, Any]) -> Scenario:
    """``scenario`` with the dotted settings of ``assignment`` applied, validated.

    Raises
    ------
    InputError
        Naming the setting, the value and what is allowed.
    """
    update = {}
    for section, model in SECTIONS.items():
        values = {key.partition(".")[2]: value for key, value in assignment.items() if key.startswith(f"{section}.")}
        if not values:
            continue
        current = getattr(scenario, section)
        if current is None:
            raise InputError(f"--set {section}", next(iter(values.values())), f"the scenario has no {section} section to change")
        try:
            update[section] = model.model_validate({**current.model_dump(), **values})
        except ValidationError as error:
            field, value, allowed = first_error(error, model)
            raise InputError(f"--set {section}.{field}".rstrip("."), value, allowed) from None
    return scenario.model_copy(update=update)


@dataclass(frozen=True)
class Grid:
    """The validated combinations of a sweep: the settings' keys, and each combination's values with
    its scenario."""

    keys: list[str]
    combinations: list[tuple[tuple[Any, ...], Scenario]]


def sweep_grid(scenario: Scenario, settings: list[Setting]) -> Grid:
    """Every combination of ``settings`` applied to ``scenario``, validated before anything runs.

    Raises
    ------
    InputError
        For a setting given twice, or the first combination a setting makes invalid (see
        :func:`with_settings`).
    """
    keys = [s.key for s in settings]
    repeated = next((key for index, key in enumerate(keys) if key in keys[:index]), None)
    if repeated is not None:
        raise InputError("--set", repeated, "each setting may be given once; list all its values in one --set KEY=V1,V2,...")
    combinations = itertools.product(*(s.values for s in settings))
    return Grid(keys, [(values, with_settings(scenario, dict(zip(keys, values)))) for values in combinations])


def run_sweep(grid: Grid, params: ParameterSet, executor: Executor | None = None, on_done=None,
              values_of: ValuesOf | None = None, summarise_values: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
              ) -> pd.DataFrame:
    """Simulate every combination of ``grid`` (SimPy engine, common random numbers).

    Parameters
    ----------
    grid : Grid
        From :func:`sweep_grid`.
    params : ParameterSet
        Parameter values (the sweep changes the service, not the parameters).
    executor : Executor, optional
        Where each combination's replications run.
    on_done : callable, optional
        Called with 1 after each combination (for a progress bar).
    values_of, summarise_values : callable, optional
        A value model (see `sim.simulation.runner.simulate`) and what summarises its values by strategy into
        ``scenario, strategy, metric, estimate, lower, upper`` rows (for example
        `sim.economics.value_models.summarise_values`): with both, the sweep adds :data:`VALUE_METRICS`.

    Returns
    -------
    pandas.DataFrame
        One column per setting, then :data:`SWEEP_COLUMNS`: for each combination and strategy the
        patient outcomes of :data:`PATIENT_METRICS` (and :data:`VALUE_METRICS` with a value model) and, per
        resource, :data:`RESOURCE_METRICS`.
    """
    frames = []
    for values, variant in grid.combinations:
        simulation = simulate(variant, params, "des", executor, with_events=False, values_of=values_of)
        summary = summarise(simulation.patients)
        if values_of is not None and summarise_values is not None:
            economic = summarise_values(simulation.values)
            summary = pd.concat([summary, economic[economic["metric"].isin(VALUE_METRICS)]], ignore_index=True)
        patient = summary[summary["metric"].isin((*PATIENT_METRICS, *VALUE_METRICS))].assign(resource="")
        resources = summarise_resources(simulation.resources, variant.name, variant.capacity)
        resource = resources[resources["metric"].isin(RESOURCE_METRICS)]
        frame = pd.concat([patient, resource], ignore_index=True)[list(SWEEP_COLUMNS)]
        for position, (key, value) in enumerate(zip(grid.keys, values)):
            frame.insert(position, key, pd.Series([value] * len(frame), dtype=object))
        frames.append(frame)
        if on_done is not None:
            on_done(1)
    return pd.concat(frames, ignore_index=True)




