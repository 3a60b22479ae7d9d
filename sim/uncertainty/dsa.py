"""Deterministic sensitivity analysis: ``cd7sim dsa``.

**One-way.** Every uncertain input — each parameter the scenario does not fix, and each uncertain cost and utility
of its cost setting and utility set — is set in turn to its 2.5% and its 97.5% point, the others staying at
their base values: for a calibrated parameter of a scenario that reads the posterior, the empirical quantiles of
its posterior draws; otherwise its prior's quantiles (its distribution's inverse CDF). Each setting is simulated
on the same patients (common random numbers) and gives every strategy's outcome (``nmb`` at a willingness to pay,
``qalys``, ``cost``, ``life_years`` or a clinical outcome of `sim.uncertainty.psa.OUTCOME_METRICS`).

**What the tornado shows.** The outcome of the strategy that is best at the base values minus that of the
runner-up (for ``cost``, the runner-up's minus the best's, so that positive always favours the best): a bar
that crosses zero marks an input whose plausible range changes the decision. The **threshold** of such an
input — where the two strategies are equal — is found by linear interpolation between the base value and the
bound at which the decision changes (an approximation: the outcome is not linear in every input).

**Two-way.** Two inputs over a grid of their 2.5%–97.5% ranges; each cell gives every strategy's outcome and the
best strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.inputs.codes import COMPARED_OUTCOMES, OUTCOME_METRICS, VALUE_COLUMNS
from sim.inputs.errors import InputError
from sim.inputs.parameters import ParameterSet
from sim.inputs.validation import key_list
from sim.inputs.values import ValueSet
from sim.simulation.parallel import Executor, SerialExecutor
from sim.uncertainty.psa import PsaPlan, strategy_outcomes

BOUNDS: tuple[float, float] = (0.025, 0.975)
"""The quantiles of the one-way range."""
HIGHER_IS_BETTER: dict[str, bool] = {**dict.fromkeys(COMPARED_OUTCOMES, True), "cost": False}
"""Whether a higher value of the outcome is better (costs: lower is better)."""
TWO_WAY_STEPS = 5
"""Grid points along each input of a two-way analysis."""
DSA_COLUMNS: tuple[str, ...] = ("input", "evidence", "bound", "value", "strategy", "outcome")
"""Columns of ``dsa.csv`` (``bound``: ``base``, ``low``, ``high``)."""


@dataclass(frozen=True)
class Input:
    """One uncertain input: its name, evidence, base value and 2.5% / 97.5% values."""

    name: str
    evidence: str
    base: float
    low: float
    high: float


def dsa_inputs(plan: PsaPlan) -> list[Input]:
    """The uncertain inputs of a plan with their base values and ranges (see the module docstring)."""
    inputs = []
    registry = plan.base.registry
    base = plan.base_values()
    for name in plan.parameter_names:
        if plan.posterior is not None and name in plan.posterior.columns:
            low, high = np.quantile(plan.posterior[name].to_numpy(float), BOUNDS)
            evidence = "posterior: " + ", ".join(registry[name].evidence)
        else:
            low, high = (float(v) for v in registry[name].distribution.ppf(np.array(BOUNDS)))  # type: ignore[union-attr]
            evidence = ", ".join(registry[name].evidence)
        inputs.append(Input(name, evidence, base[name], float(low), float(high)))
    for name in plan.value_names:
        entry = plan.values.entries[name]
        low, high = entry.quantile(BOUNDS[0]), entry.quantile(BOUNDS[1])
        inputs.append(Input(name, ", ".join(entry.evidence), plan.values[name], float(low), float(high)))
    return inputs


def _set(plan: PsaPlan, changes: dict[str, float]) -> tuple[ParameterSet, ValueSet]:
    """The base inputs with ``changes`` (parameters and value inputs by name)."""
    params = plan.point.with_values({k: v for k, v in changes.items() if k in plan.point.registry})
    value_changes = {k: v for k, v in changes.items() if k not in plan.point.registry}
    values = ValueSet(plan.values.spec, {**dict(plan.values), **value_changes})
    return params, values


def outcome_table(plan: PsaPlan, changes: dict[str, float], outcome: str, wtp: float) -> pd.Series:
    """Each strategy's ``outcome`` with the base inputs changed by ``changes`` (a Series indexed by strategy)."""
    rows = strategy_outcomes(plan, *_set(plan, changes))
    table = pd.DataFrame(rows, columns=["strategy", *VALUE_COLUMNS, *OUTCOME_METRICS]).set_index("strategy")
    if outcome == "nmb":
        return wtp * table["qalys"] - table["cost"]
    return table[outcome].astype(float)


def _evaluate(task: tuple[PsaPlan, dict[str, float], str, float]) -> pd.Series:
    plan, changes, outcome, wtp = task
    return outcome_table(plan, changes, outcome, wtp)


@dataclass(frozen=True)
class OneWay:
    """A one-way analysis: every input at its bounds, the decision it changes, the thresholds.

    Attributes
    ----------
    table : pandas.DataFrame
        ``dsa.csv``: :data:`DSA_COLUMNS`, one row per input, bound and strategy (and the base rows, input ``""``).
    tornado : pandas.DataFrame
        ``input, evidence, base, low, high, outcome_low, outcome_high, width``: the best-minus-runner-up difference
        at each bound, widest first.
    thresholds : pandas.DataFrame
        ``input, evidence, threshold, preferred_below, preferred_above`` for the inputs that change the decision.
    best, runner_up : str
        The best and second-best strategies at the base values.
    base_difference : float
        Best minus runner-up at the base values.
    outcome : str
    wtp : float
    """

    table: pd.DataFrame
    tornado: pd.DataFrame
    thresholds: pd.DataFrame
    best: str
    runner_up: str
    base_difference: float
    outcome: str
    wtp: float


@dataclass(frozen=True)
class Comparison:
    """The pair a sensitivity analysis explains: the strategy best at the base values and the runner-up.

    Attributes
    ----------
    best, runner_up : str
    outcome : str
        One of ``sim.inputs.codes.COMPARED_OUTCOMES``.
    wtp : float
        Willingness to pay for ``nmb`` (currency per QALY).
    """

    best: str
    runner_up: str
    outcome: str
    wtp: float

    def value(self, table: pd.Series) -> float:
        """``best`` minus ``runner_up`` in ``table`` (for ``cost`` the other way round: positive favours ``best``)."""
        sign = 1.0 if HIGHER_IS_BETTER[self.outcome] else -1.0
        return sign * float(table[self.best] - table[self.runner_up])


def check_comparison(plan: PsaPlan, outcome: str) -> None:
    """Refuse what no comparison can be made of.

    Raises
    ------
    InputError
        For an unknown outcome, or a scenario with a single strategy (nothing to decide between).
    """
    if outcome not in COMPARED_OUTCOMES:
        raise InputError("--outcome", outcome, f"one of {key_list(COMPARED_OUTCOMES)} is required")
    if len(plan.scenario.strategies) < 2:
        raise InputError("strategies", len(plan.scenario.strategies), "at least two strategies are required to compare")


def comparison_of(plan: PsaPlan, outcome: str, wtp: float, base: pd.Series | None = None) -> Comparison:
    """The best and runner-up strategies at the base inputs (``base``: their outcomes, when already simulated).

    Raises
    ------
    InputError
        See :func:`check_comparison`.
    """
    check_comparison(plan, outcome)
    table = base if base is not None else outcome_table(plan, {}, outcome, wtp)
    ranked = table.sort_values(ascending=not HIGHER_IS_BETTER[outcome])
    return Comparison(str(ranked.index[0]), str(ranked.index[1]), outcome, wtp)


def one_way(plan: PsaPlan, outcome: str, wtp: float, executor: Executor | None = None, on_done=None) -> OneWay:
    """Every input at its 2.5% and 97.5% points (see the module docstring).

    Parameters
    ----------
    plan : PsaPlan
        The scenario, its patients and the inputs (see `sim.uncertainty.psa.psa_plan`).
    outcome : str
        One of ``sim.inputs.codes.COMPARED_OUTCOMES``.
    wtp : float
        Willingness to pay for ``nmb`` (currency per QALY).
    executor : Executor, optional
    on_done : callable, optional
        Called after each simulated setting.

    Raises
    ------
    InputError
        For an unknown outcome, or a scenario with a single strategy (nothing to decide between).
    """
    check_comparison(plan, outcome)
    inputs = dsa_inputs(plan)
    settings: list[dict[str, float]] = [{}, *({i.name: bound} for i in inputs for bound in (i.low, i.high))]
    tasks = [(plan, changes, outcome, wtp) for changes in settings]
    results = (executor or SerialExecutor()).map(_evaluate, tasks, on_done)
    comparison = comparison_of(plan, outcome, wtp, results[0])
    best, runner_up, base = comparison.best, comparison.runner_up, results[0]
    base_difference = comparison.value(base)
    rows = [("", "", "base", np.nan, strategy, float(value)) for strategy, value in base.items()]
    tornado, thresholds = [], []
    for index, item in enumerate(inputs):
        low, high = results[1 + 2 * index], results[2 + 2 * index]
        for bound, value, result in (("low", item.low, low), ("high", item.high, high)):
            rows += [(item.name, item.evidence, bound, value, strategy, float(v)) for strategy, v in result.items()]
        at_low, at_high = comparison.value(low), comparison.value(high)
        tornado.append((item.name, item.evidence, item.base, item.low, item.high, at_low, at_high, abs(at_high - at_low)))
        for bound_value, at_bound in ((item.low, at_low), (item.high, at_high)):
            if at_bound < 0 <= base_difference and at_bound != base_difference:
                share = base_difference / (base_difference - at_bound)
                threshold = item.base + share * (bound_value - item.base)
                below, above = (runner_up, best) if bound_value < item.base else (best, runner_up)
                thresholds.append((item.name, item.evidence, threshold, below, above))
    tornado_table = pd.DataFrame(tornado, columns=["input", "evidence", "base", "low", "high", "outcome_low", "outcome_high", "width"])
    return OneWay(
        table=pd.DataFrame(rows, columns=list(DSA_COLUMNS)),
        tornado=tornado_table.sort_values("width", ascending=False, kind="stable").reset_index(drop=True),
        thresholds=pd.DataFrame(thresholds, columns=["input", "evidence", "threshold", "preferred_below", "preferred_above"]),
        best=best, runner_up=runner_up, base_difference=base_difference, outcome=outcome, wtp=wtp,
    )


def two_way(plan: PsaPlan, names: Sequence[str], outcome: str, wtp: float, executor: Executor | None = None,
            on_done=None) -> pd.DataFrame:
    """Two inputs over a :data:`TWO_WAY_STEPS` × :data:`TWO_WAY_STEPS` grid of their 2.5%–97.5% ranges.

    Returns
    -------
    pandas.DataFrame
        ``<first>, <second>, strategy, outcome, best`` (``best``: whether the strategy is the best in that cell).

    Raises
    ------
    InputError
        Naming ``--two-way`` for an input that is not uncertain, or the same input twice.
    """
    inputs = {item.name: item for item in dsa_inputs(plan)}
    if len(names) != 2 or names[0] == names[1]:
        raise InputError("--two-way", ",".join(names), "two different inputs A,B are required")
    for name in names:
        if name not in inputs:
            raise InputError("--two-way", name, f"an uncertain input is required: {key_list(inputs)}")
    first, second = (inputs[name] for name in names)
    grid = [(a, b) for a in np.linspace(first.low, first.high, TWO_WAY_STEPS) for b in np.linspace(second.low, second.high, TWO_WAY_STEPS)]
    results = (executor or SerialExecutor()).map(_evaluate, [(plan, {first.name: a, second.name: b}, outcome, wtp) for a, b in grid],
                                                 on_done)
    higher = HIGHER_IS_BETTER[outcome]
    rows = []
    for (a, b), result in zip(grid, results):
        best = result.idxmax() if higher else result.idxmin()
        rows += [(a, b, strategy, float(value), strategy == best) for strategy, value in result.items()]
    return pd.DataFrame(rows, columns=[first.name, second.name, "strategy", "outcome", "best"])
