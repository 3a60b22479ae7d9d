"""Global sensitivity analysis: ``cd7sim gsa`` (Morris screening, Sobol indices), through SALib.

The outcome is one number per model evaluation: the base-case best strategy's advantage over the runner-up in
the chosen outcome (as the tornado of `sim.uncertainty.dsa`; for ``nmb`` at a willingness to pay). Every
uncertain input of `sim.uncertainty.dsa.dsa_inputs` varies over its **prior** (each parameter's distribution, each
cost's and utility's distribution), sampled as uniforms and mapped through the inverse CDF: Sobol indices assume
independent inputs, so the posterior's correlations are not used here (the PSA and its EVPPI use them).

- **Morris** (elementary effects; Morris 1991, Campolongo et al. 2007): ``r`` trajectories of ``d + 1`` runs on
  a 4-level grid of the unit hypercube; ``mu_star`` (mean absolute effect of moving an input across its
  quantile range) ranks the inputs, ``sigma`` flags non-linearity or interaction. Cost ``r (d + 1)`` runs.
- **Sobol** (Saltelli et al. 2010 via `sim.uncertainty.sobol`): first-order ``S1`` and total ``ST`` indices with
  bootstrap intervals. Cost ``n (d + 2)`` runs: with every input (``d`` ≈ 130) that is tens of thousands of
  runs, so give ``--inputs`` (for example the Morris screen's top ten).

**Simulation noise.** A finite cohort makes the outcome noisy: the same inputs on other patients give another
value. The noise is measured by evaluating the base inputs on :data:`NOISE_REPLICATES` other cohorts (other
seeds) and reported as its variance beside the variance of the outcome over the sample: when the noise share is
not small, the indices describe the luck of the cohort as much as the inputs (use more patients).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import cast

import numpy as np
import pandas as pd

from sim.inputs.errors import InputError
from sim.inputs.validation import key_list
from sim.simulation.parallel import Executor, SerialExecutor
from sim.uncertainty.dsa import Comparison, Input, dsa_inputs, outcome_table
from sim.uncertainty.psa import PsaPlan
from sim.uncertainty.sobol import EDGE, Prior, sobol_indices

MORRIS_LEVELS = 4
"""Grid levels of the Morris design."""
NOISE_REPLICATES = 8
"""Other cohorts (seeds) on which the base inputs are evaluated to measure the simulation noise."""


def _priors(plan: PsaPlan, inputs: Sequence[Input]) -> list[Prior]:
    """Each input's distribution (a parameter's prior, or a cost's or utility's), each with its quantile function (an
    uncertain input's distribution is never the fixed one, which has none)."""
    registry = plan.base.registry
    return [cast(Prior, registry[item.name].distribution if item.name in registry else plan.values.entries[item.name].distribution)
            for item in inputs]


def _evaluate(task: tuple[PsaPlan, list[dict[str, float]], Comparison]) -> list[float]:
    plan, rows, comparison = task
    return [comparison.value(outcome_table(plan, changes, comparison.outcome, comparison.wtp)) for changes in rows]


def _run(plan: PsaPlan, rows: list[dict[str, float]], comparison: Comparison, executor: Executor | None, on_done,
         chunk: int = 8) -> np.ndarray:
    tasks = [(plan, rows[start:start + chunk], comparison) for start in range(0, len(rows), chunk)]

    def done_chunk() -> None:
        if on_done is not None:
            on_done()

    results = (executor or SerialExecutor()).map(_evaluate, tasks, done_chunk)
    return np.asarray([value for chunk_values in results for value in chunk_values], dtype=float)


def chosen_inputs(plan: PsaPlan, names: Sequence[str] | None) -> list[Input]:
    """Every uncertain input, or those named.

    Raises
    ------
    InputError
        Naming ``--inputs`` for a name that is not an uncertain input.
    """
    inputs = dsa_inputs(plan)
    if names is None:
        return inputs
    by_name = {item.name: item for item in inputs}
    for name in names:
        if name not in by_name:
            raise InputError("--inputs", name, f"an uncertain input is required: {key_list(by_name)}")
    return [by_name[name] for name in names]


def evaluations(method: str, size: int, inputs: int) -> int:
    """Model runs of a Morris design of ``size`` trajectories or a Sobol design of ``size`` base samples."""
    return size * (inputs + 1) if method == "morris" else size * (inputs + 2)


def noise(plan: PsaPlan, comparison: Comparison, executor: Executor | None = None, on_done=None) -> np.ndarray:
    """The outcome at the base inputs on :data:`NOISE_REPLICATES` other cohorts (seeds ``seed + 1`` ...)."""
    values = []
    for offset in range(1, NOISE_REPLICATES + 1):
        other = replace(plan, scenario=plan.scenario.model_copy(update={"seed": plan.scenario.seed + offset}))
        values.append(_run(other, [{}], comparison, executor, on_done)[0])
    return np.asarray(values)


def morris(plan: PsaPlan, inputs: Sequence[Input], comparison: Comparison, trajectories: int, seed: int,
           executor: Executor | None = None, on_done=None) -> tuple[pd.DataFrame, np.ndarray]:
    """Morris elementary effects on the unit hypercube of the inputs' quantiles.

    Returns
    -------
    tuple
        ``(table, outcomes)``: one row per input ``input, evidence, mu_star, mu_star_conf, mu, sigma`` (outcome
        units per unit of quantile), widest ``mu_star`` first; and the outcome of every run.
    """
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem = {"num_vars": len(inputs), "names": [item.name for item in inputs], "bounds": [[0.0, 1.0]] * len(inputs)}
    unit = sample.sample(problem, trajectories, num_levels=MORRIS_LEVELS, seed=seed)
    rows = _rows(plan, inputs, unit)
    outcomes = _run(plan, rows, comparison, executor, on_done)
    result = analyze.analyze(problem, unit, outcomes, num_levels=MORRIS_LEVELS, seed=seed)
    table = pd.DataFrame({"input": [item.name for item in inputs], "evidence": [item.evidence for item in inputs],
                          "mu_star": result["mu_star"], "mu_star_conf": result["mu_star_conf"], "mu": result["mu"],
                          "sigma": result["sigma"]})
    return table.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True), outcomes


def _rows(plan: PsaPlan, inputs: Sequence[Input], unit: np.ndarray) -> list[dict[str, float]]:
    """Each row of a unit-hypercube design as input values (each input's quantile function)."""
    clipped = np.clip(unit, EDGE, 1 - EDGE)
    columns = [np.asarray(prior.ppf(clipped[:, index]), dtype=float) for index, prior in enumerate(_priors(plan, inputs))]
    return [{item.name: float(columns[index][row]) for index, item in enumerate(inputs)} for row in range(unit.shape[0])]


def sobol(plan: PsaPlan, inputs: Sequence[Input], comparison: Comparison, base_samples: int, seed: int,
          executor: Executor | None = None, on_done=None) -> tuple[pd.DataFrame, np.ndarray]:
    """First-order and total Sobol indices (see `sim.uncertainty.sobol.sobol_indices`).

    Returns
    -------
    tuple
        ``(table, outcomes)``: one row per input ``input, evidence, S1, S1_conf, ST, ST_conf``, highest ``ST`` first;
        and the outcome of every run.
    """
    names = [item.name for item in inputs]
    captured: list[np.ndarray] = []

    def model(values: np.ndarray) -> np.ndarray:
        rows = [dict(zip(names, map(float, row))) for row in values]
        outcomes = _run(plan, rows, comparison, executor, on_done)
        captured.append(outcomes)
        return outcomes

    table = sobol_indices(model, _priors(plan, inputs), names, base_samples, seed=seed)
    table = table.rename(columns={"parameter": "input"})
    table.insert(1, "evidence", [item.evidence for item in inputs])
    return table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True), np.concatenate(captured)
