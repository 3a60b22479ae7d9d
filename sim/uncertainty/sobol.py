"""Sobol sensitivity indices of any function of parameters, through SALib, with priors by inverse CDF.

SALib samples the unit hypercube (Saltelli's scheme on a scrambled Sobol sequence) and estimates first-order
and total indices with bootstrap confidence intervals (Saltelli et al. 2010, *Comput Phys Commun*
181:259). Each parameter's prior enters through its quantile function: a uniform ``u`` becomes
``prior.ppf(u)``, so Beta, Gamma, LogNormal or any distribution with a ``ppf`` (those of
`sim.inputs.parameters`) keeps its exact shape. The indices are of independent inputs: correlated
(posterior) parameters must be treated as one group or analysed on their priors.

A model evaluation count for ``n`` base samples and ``d`` parameters is ``n (d + 2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

EDGE = 1e-12
"""Uniforms are kept inside ``[EDGE, 1 − EDGE]``, so that a prior with unbounded support stays finite."""


class Prior(Protocol):
    """Anything with a quantile function."""

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles at probabilities ``u``."""
        ...


def sobol_indices(model: Callable[[np.ndarray], np.ndarray], priors: Sequence[Prior], names: Sequence[str], n: int,
                  seed: int = 0, confidence: float = 0.95) -> pd.DataFrame:
    """First-order and total Sobol indices of ``model`` with independent ``priors``.

    Parameters
    ----------
    model : callable
        Maps an ``m × d`` matrix of parameter values (one row per evaluation, columns in the order of
        ``priors``) to ``m`` outcomes.
    priors : sequence of Prior
        One distribution per parameter, each with ``ppf``.
    names : sequence of str
        Parameter names (``d``, distinct).
    n : int
        Base samples, a power of two; the model is evaluated ``n (d + 2)`` times.
    seed : int
        Seeds the scrambling of the Sobol sequence and the bootstrap.
    confidence : float
        Level of the bootstrap confidence intervals.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``parameter``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (indices are shares of
        the outcome's variance; ``_conf`` is the half-width of the interval).
    """
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    names = list(names)
    if len(priors) != len(names) or len(set(names)) != len(names):
        raise ValueError(f"names: got {names!r} for {len(priors)} priors; one distinct name per prior is required")
    if n < 2 or n & (n - 1):
        raise ValueError(f"n: got {n!r}; a power of two of at least 2 is required")
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    uniforms = np.clip(sample.sample(problem, n, calc_second_order=False, scramble=True, seed=seed), EDGE, 1.0 - EDGE)
    values = np.column_stack([np.asarray(prior.ppf(uniforms[:, j]), dtype=float) for j, prior in enumerate(priors)])
    outcome = np.asarray(model(values), dtype=float).reshape(-1)
    if outcome.shape != (values.shape[0],):
        raise ValueError(f"model: returned {outcome.size} outcomes for {values.shape[0]} rows; one per row is required")
    indices = analyze.analyze(problem, outcome, calc_second_order=False, conf_level=confidence, seed=seed,
                              print_to_console=False)
    return pd.DataFrame({"parameter": names, "S1": indices["S1"], "S1_conf": indices["S1_conf"],
                         "ST": indices["ST"], "ST_conf": indices["ST_conf"]})
