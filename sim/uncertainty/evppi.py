"""Expected value of partial perfect information (EVPPI) by nonparametric regression.

Method (Strong M, Oakley JE, Brennan A. Estimating multiparameter partial expected value of perfect
information from a probabilistic sensitivity analysis sample: a nonparametric regression approach. *Med
Decis Making* 2014;34(3):311–326): with net benefits ``NB_s`` of strategies ``s`` over PSA draws and a
group of parameters ``φ``, the incremental net benefit of each strategy against a reference,
``INB_s = NB_s − NB_ref``, is regressed on ``φ``; the fitted values ``ĝ_s(φ_i)`` estimate
``E[INB_s | φ_i]``, and

    EVPPI(φ) = mean_i max(0, max_s ĝ_s(φ_i)) − max(0, max_s mean_i ĝ_s(φ_i)).

The regression (`sim.uncertainty.smoothers`) is a penalised cubic regression spline for one parameter, a
tensor-product spline for two (mgcv's ``te(..., bs = "cr")``, the default of SAVI and of the R package voi)
and a Gaussian process for three or more.

Standard error: Strong et al.'s method — the fitted values are recomputed under draws of the regression
coefficients from their approximate Bayesian posterior (``N(β̂, σ² (X'X + λS)⁻¹)``), the EVPPI is computed
for each, and their standard deviation is the standard error. It measures the regression's uncertainty
given the PSA draws, not the Monte Carlo error of the draws themselves.

Fit check, reported as text (empty when the fit looks sound), never an exception:

- a residual pattern (mgcv's ``k.check``: neighbours' residuals alike, k-index < `PATTERN_K_INDEX` with
  permutation p < `PATTERN_P_VALUE`): the smoother missed structure (its basis is too small or too stiff),
  so the EVPPI may be too low; the message gives the effective degrees of freedom used of the basis's;
- an EVPPI above the EVPI by more than two standard errors: the regression over-fits noise.

No maintained Python package does this: voiage is linear-only (and pulls in jax), pygam pins an older
scipy; hence this small implementation, validated against the R package voi's printed results
(``tests/unit/test_evppi.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.uncertainty.smoothers import (
    Fit,
    cubic_regression_spline,
    fit_penalised_many,
    gaussian_process,
    residual_pattern,
    tensor_spline,
)

SPLINE_KNOTS = 5
"""Knots of the one-parameter spline (mgcv's ``te`` default, which the R package voi uses)."""
TENSOR_KNOTS = 5
"""Knots per margin of the two-parameter tensor spline (mgcv's ``te`` default)."""
REPLICATES = 200
"""Draws of the regression coefficients behind a standard error."""
PATTERN_K_INDEX = 0.95
"""A residual-pattern warning needs a k-index below this ..."""
PATTERN_P_VALUE = 0.01
"""... and a permutation p-value below this."""


@dataclass(frozen=True)
class Evppi:
    """The EVPPI of one group of parameters at one willingness to pay.

    Attributes
    ----------
    parameters : tuple of str
        The group.
    wtp : float
        Willingness to pay (currency per QALY).
    evppi : float
        Per person (currency).
    se : float
        Standard error (currency), from the regression's posterior (module docstring).
    method : str
        ``"spline"``, ``"tensor spline"`` or ``"gaussian process"`` (``"none"`` for a group of constants).
    fit_warning : str
        Why the regression may be unreliable; empty when the checks pass.
    """

    parameters: tuple[str, ...]
    wtp: float
    evppi: float
    se: float
    method: str
    fit_warning: str


def _smoother_fits(points: np.ndarray, responses: np.ndarray, rng: np.random.Generator) -> list[Fit]:
    """One fit per column of ``responses`` on the parameters ``points`` (``n × d``, no constant column)."""
    d = points.shape[1]
    if d == 1 and np.unique(points[:, 0]).size >= 3:
        return fit_penalised_many(cubic_regression_spline(points[:, 0], SPLINE_KNOTS), responses)
    if d == 2 and min(np.unique(points[:, j]).size for j in range(2)) >= 3:
        return fit_penalised_many(tensor_spline(points[:, 0], points[:, 1], TENSOR_KNOTS), responses)
    return [fit_penalised_many(gaussian_process(points, y, rng), y[:, None])[0] for y in responses.T]


def _value(fitted: np.ndarray) -> np.ndarray:
    """EVPPI from fitted incremental net benefits (``... × n × strategies − 1``): mean of the max minus max of the means."""
    best = np.maximum(fitted.max(axis=-1), 0.0)
    return best.mean(axis=-1) - np.maximum(fitted.mean(axis=-2).max(axis=-1), 0.0)


def evppi(net_benefit: np.ndarray, points: np.ndarray, names: Sequence[str], wtp: float, *,
          evpi: float | None = None, seed: int = 0, replicates: int = REPLICATES) -> Evppi:
    """EVPPI of a group of parameters from PSA draws, by regression on the group.

    Parameters
    ----------
    net_benefit : numpy.ndarray
        ``n × S`` net benefit of each strategy per draw at ``wtp`` (currency), finite, ``S >= 2``.
    points : numpy.ndarray
        ``n × d`` values of the group's parameters per draw (their own units), finite.
    names : sequence of str
        The group's parameter names (``d``).
    wtp : float
        The willingness to pay behind ``net_benefit`` (currency per QALY), reported back.
    evpi : float, optional
        The EVPI at ``wtp`` (currency per person), for the check that EVPPI does not exceed it.
    seed : int
        Seeds the subsamples of the Gaussian process, the check's permutations and the replicates.
    replicates : int
        Draws of the regression coefficients behind the standard error.

    Returns
    -------
    Evppi
    """
    nb = np.asarray(net_benefit, dtype=float)
    x = np.asarray(points, dtype=float).reshape(nb.shape[0], -1)
    group = tuple(names)
    rng = np.random.default_rng(seed)
    varying = x[:, x.max(axis=0) > x.min(axis=0)]
    if varying.shape[1] == 0:
        return Evppi(group, float(wtp), 0.0, 0.0, "none", "")
    reference = int(np.argmax(nb.mean(axis=0)))
    incremental = np.delete(nb, reference, axis=1) - nb[:, [reference]]
    fits = _smoother_fits(varying, incremental, rng)
    fitted = np.column_stack([fit.fitted for fit in fits])
    value = float(_value(fitted))
    draws = np.stack([fit.replicates(replicates, rng) for fit in fits], axis=-1)
    se = float(np.std(_value(draws), ddof=1))
    warnings = []
    for fit, y in zip(fits, incremental.T):
        pattern = residual_pattern(varying, y - fit.fitted, rng)
        if pattern.k_index < PATTERN_K_INDEX and pattern.p_value < PATTERN_P_VALUE:
            warnings.append(f"residuals show a pattern in the parameters (k-index {pattern.k_index:.2f}, "
                            f"p {pattern.p_value:.3f}; {fit.edf:.1f} of {fit.design.shape[1]} degrees of freedom "
                            f"used): the {fit.method} may miss structure and understate the EVPPI")
            break
    if evpi is not None and value > evpi + 2.0 * se:
        warnings.append(f"EVPPI {value:.4g} exceeds the EVPI {evpi:.4g} by more than two standard errors: "
                        "the regression may over-fit")
    return Evppi(group, float(wtp), value, se, fits[0].method, "; ".join(warnings))
