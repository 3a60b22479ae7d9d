"""Sobol indices through the SALib wrapper (sim.uncertainty.sobol) against analytic indices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.inputs.parameters import BetaCounts, GammaDist, LogNormalDist, UniformDist
from sim.uncertainty.sobol import sobol_indices


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """sin x1 + a sin² x2 + b x3⁴ sin x1, each x uniform on (−π, π)."""
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_the_ishigami_function():
    """Ishigami T, Homma T (1990), *Proc. ISUMA '90*, 398–403; analytic indices for a = 7, b = 0.1 (Sobol' &
    Levitan 1999; Saltelli et al. 2008, *Global Sensitivity Analysis: The Primer*, section 4.9, and SALib's
    own test of them): S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437. Through the wrapper with uniform
    priors mapped by their inverse CDF, 2^13 base samples; within 0.03 and within the bootstrap interval
    (widened by 0.01 for the interval's own error)."""
    prior = UniformDist(type="uniform", low=-math.pi, high=math.pi)
    table = sobol_indices(ishigami, [prior] * 3, ["x1", "x2", "x3"], n=2 ** 13, seed=1)
    first = [0.3139, 0.4424, 0.0]
    total = [0.5576, 0.4424, 0.2437]
    assert table["S1"].to_numpy() == pytest.approx(first, abs=0.03)
    assert table["ST"].to_numpy() == pytest.approx(total, abs=0.03)
    assert (np.abs(table["S1"] - first) <= table["S1_conf"] + 0.01).all()
    assert (np.abs(table["ST"] - total) <= table["ST_conf"] + 0.01).all()


def test_beta_gamma_and_lognormal_priors_enter_through_their_quantiles():
    """A linear model y = Σ c_i X_i of independent inputs has S1_i = ST_i = c_i² Var(X_i) / Σ_j c_j² Var(X_j):
    with a Beta(3.5, 7.5) (events 3 of 10, Jeffreys), a Gamma (mean 2, sd 0.5) and a LogNormal (median 1,
    log-sd 0.3) the indices follow their variances, which only the exact prior shapes give."""
    priors = [BetaCounts(type="beta", events=3, n=10), GammaDist(type="gamma", mean=2.0, sd=0.5),
              LogNormalDist(type="lognormal", median=1.0, sigma=0.3)]
    coefficients = np.array([4.0, 1.0, 1.5])
    variances = np.array([
        3.5 * 7.5 / (11.0 ** 2 * 12.0),
        0.25,
        (math.exp(0.09) - 1.0) * math.exp(0.09),
    ])
    shares = coefficients ** 2 * variances / np.sum(coefficients ** 2 * variances)
    table = sobol_indices(lambda x: x @ coefficients, priors, ["p", "g", "l"], n=2 ** 12, seed=2)
    assert table["S1"].to_numpy() == pytest.approx(shares, abs=0.02)
    assert table["ST"].to_numpy() == pytest.approx(shares, abs=0.02)


def test_bad_arguments_are_refused():
    prior = UniformDist(type="uniform", low=0.0, high=1.0)
    with pytest.raises(ValueError, match="power of two"):
        sobol_indices(lambda x: x[:, 0], [prior], ["a"], n=1000)
    with pytest.raises(ValueError, match="one distinct name per prior"):
        sobol_indices(lambda x: x[:, 0], [prior, prior], ["a", "a"], n=64)
    with pytest.raises(ValueError, match="one per row"):
        sobol_indices(lambda x: x[:3, 0], [prior], ["a"], n=64)
