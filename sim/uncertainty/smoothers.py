"""Penalised regression smoothers: the conditional expectations behind regression-based EVPPI.

Each smoother is a linear model ``y ≈ X β`` with a quadratic roughness penalty ``Σ_j λ_j β' S_j β``: the
design ``X`` (one row per PSA draw) and penalties ``S_j`` come from a `Basis`; `fit_penalised_many` chooses the
smoothing parameters ``λ_j`` by generalised cross-validation (GCV, Wood 2017, *Generalized Additive Models*,
2nd ed., section 6.2; mgcv's default ``GCV.Cp``) and returns the fitted values with the Bayesian posterior
of the coefficients, ``β ~ N(β̂, σ² (X'X + Σ λ_j S_j)⁻¹)`` (Wood 2017, section 6.10), from which the
standard error of an EVPPI is simulated.

Bases
-----
- `cubic_regression_spline`: one parameter; a natural cubic spline parametrised by its values at ``k``
  knots placed at quantiles of the distinct values, penalised by ``∫ f''(x)² dx`` (Wood 2017, section
  5.3.1; mgcv's ``bs = "cr"``, whose knots are placed the same way).
- `tensor_spline`: two parameters; the row-wise tensor product of two such margins, with one penalty per
  direction (``S₁ ⊗ I`` and ``I ⊗ S₂``; Wood 2017, section 5.6; mgcv's ``te``).
- `gaussian_process`: any number of parameters; a Gaussian process with a linear mean and a squared-
  exponential kernel with one length-scale per parameter (automatic relevance determination). The
  length-scales and the nugget are estimated by maximising the restricted marginal likelihood on a
  subsample (as Strong, Oakley & Brennan 2014 do, to keep the ``n × n`` algebra small); the process is then
  represented by its values at a subsample of ``m`` inducing draws (the subset-of-regressors approximation,
  Rasmussen & Williams 2006, *Gaussian Processes for Machine Learning*, section 8.3.1): the design holds the
  linear mean and the kernel between every draw and the inducing draws, the penalty is the kernel matrix of
  the inducing draws, so that every draw informs the fit with ``m + d + 1`` coefficients rather than an
  ``n × n`` system.

Parameters are rescaled to ``[0, 1]`` before any basis is built; responses are centred (every basis holds
the constants unpenalised, so this changes nothing but rounding).

The fit check (`residual_pattern`) is mgcv's ``k.check``: residuals of draws that are neighbours in the
parameters should be no more alike than residuals at random; a low ratio with a small permutation p-value
says the smoother missed structure (the basis is too small or too stiff), so the EVPPI may be biased low.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, spatial

LOG10_LAMBDA_GRID = np.linspace(-8.0, 8.0, 33)
"""Starting grid of log10 smoothing parameters (each penalty is first scaled to the size of ``X'X``)."""
GP_HYPER_SAMPLE = 250
"""Draws used to estimate the Gaussian process's length-scales and nugget by marginal likelihood (SAVI's
default is 30 per parameter, at most 250)."""
GP_INDUCING = 300
"""Inducing draws that represent the Gaussian process (its basis size, beside the linear mean)."""
PATTERN_DRAWS = 5000
"""At most this many draws enter the residual-pattern check (a random subsample beyond)."""
PATTERN_PERMUTATIONS = 199
"""Permutations of the residuals for the residual-pattern check's p-value."""


@dataclass(frozen=True)
class Basis:
    """A regression basis for a penalised smoother.

    Attributes
    ----------
    design : numpy.ndarray
        ``n × p`` model matrix, one row per draw.
    penalties : tuple of numpy.ndarray
        ``p × p`` positive semi-definite penalty matrices, one per smoothing parameter.
    method : str
        Name of the smoother, for reports (``"spline"``, ``"tensor spline"``, ``"gaussian process"``).
    """

    design: np.ndarray
    penalties: tuple[np.ndarray, ...]
    method: str


@dataclass(frozen=True)
class Fit:
    """A penalised regression fit of one response.

    Attributes
    ----------
    fitted : numpy.ndarray
        Fitted values, one per draw (the response's unit).
    coefficients : numpy.ndarray
        ``β̂`` (``p``), of the centred response.
    offset : float
        The response's mean: ``fitted = design @ coefficients + offset``.
    design : numpy.ndarray
        The basis's ``n × p`` model matrix.
    precision_factor : numpy.ndarray
        Lower Cholesky factor ``L`` of ``X'X + Σ λ_j S_j`` (``p × p``).
    sigma : float
        Residual standard deviation ``σ̂ = sqrt(RSS / (n − edf))`` (the response's unit).
    edf : float
        Effective degrees of freedom ``tr(X (X'X + Σ λ_j S_j)⁻¹ X')``.
    method : str
        The basis's name.
    """

    fitted: np.ndarray
    coefficients: np.ndarray
    offset: float
    design: np.ndarray
    precision_factor: np.ndarray
    sigma: float
    edf: float
    method: str

    def replicates(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Fitted values under ``count`` draws of the coefficients from their approximate posterior.

        Parameters
        ----------
        count : int
            Number of replicates.
        rng : numpy.random.Generator

        Returns
        -------
        numpy.ndarray
            ``count × n`` fitted values (the response's unit).
        """
        z = rng.standard_normal((self.coefficients.size, count))
        deviations = linalg.solve_triangular(self.precision_factor, z, lower=True, trans="T") * self.sigma
        return (self.design @ (self.coefficients[:, None] + deviations)).T + self.offset


def unit_scaled(points: np.ndarray) -> np.ndarray:
    """Each column rescaled to ``[0, 1]`` by its minimum and range (a constant column becomes 0)."""
    low = points.min(axis=0)
    span = points.max(axis=0) - low
    return (points - low) / np.where(span > 0, span, 1.0)


def _spline_knots(x: np.ndarray, count: int) -> np.ndarray:
    """``count`` knots at evenly spaced quantiles of the distinct values of ``x`` (fewer if it has fewer)."""
    distinct = np.unique(x)
    return np.quantile(distinct, np.linspace(0.0, 1.0, min(count, distinct.size)))


def cubic_regression_spline(x: np.ndarray, knot_count: int = 10) -> Basis:
    """Natural cubic regression spline of one parameter, with the ``∫ f''²`` penalty.

    Parameters
    ----------
    x : numpy.ndarray
        Values of the parameter, one per draw (any unit; rescaled to ``[0, 1]``), at least 3 distinct.
    knot_count : int
        Knots (the basis dimension), at least 3.

    Returns
    -------
    Basis
        ``n × k`` design whose coefficients are the spline's values at the knots, and its penalty.
    """
    x = unit_scaled(np.asarray(x, dtype=float).reshape(-1, 1))[:, 0]
    knots = _spline_knots(x, knot_count)
    k = knots.size
    if k < 3:
        raise ValueError(f"a spline needs at least 3 distinct parameter values; got {k}")
    h = np.diff(knots)
    band = np.zeros((k - 2, k))
    rows = np.arange(k - 2)
    band[rows, rows] = 1.0 / h[:-1]
    band[rows, rows + 1] = -1.0 / h[:-1] - 1.0 / h[1:]
    band[rows, rows + 2] = 1.0 / h[1:]
    gram = np.diag((h[:-1] + h[1:]) / 3.0) + np.diag(h[1:-1] / 6.0, 1) + np.diag(h[1:-1] / 6.0, -1)
    second = np.zeros((k, k))
    second[1:-1] = np.linalg.solve(gram, band)  # second derivatives at the knots, natural ends
    penalty = band.T @ np.linalg.solve(gram, band)
    interval = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, k - 2)
    width = h[interval]
    right = (knots[interval + 1] - x) / width
    left = (x - knots[interval]) / width
    c_right = ((knots[interval + 1] - x) ** 3 / width - width * (knots[interval + 1] - x)) / 6.0
    c_left = ((x - knots[interval]) ** 3 / width - width * (x - knots[interval])) / 6.0
    design = c_right[:, None] * second[interval] + c_left[:, None] * second[interval + 1]
    lines = np.arange(x.size)
    design[lines, interval] += right
    design[lines, interval + 1] += left
    return Basis(design, (penalty,), "spline")


def tensor_spline(x1: np.ndarray, x2: np.ndarray, knot_count: int = 5) -> Basis:
    """Tensor product of two cubic regression splines, one smoothing penalty per parameter.

    Parameters
    ----------
    x1, x2 : numpy.ndarray
        Values of the two parameters, one per draw.
    knot_count : int
        Knots per margin (the basis dimension is its square; 5 as mgcv's ``te``).
    """
    first = cubic_regression_spline(x1, knot_count)
    second = cubic_regression_spline(x2, knot_count)
    a, b = first.design, second.design
    design = (a[:, :, None] * b[:, None, :]).reshape(a.shape[0], -1)
    penalties = (np.kron(first.penalties[0], np.eye(b.shape[1])), np.kron(np.eye(a.shape[1]), second.penalties[0]))
    return Basis(design, penalties, "tensor spline")


def _squared_exponential(a: np.ndarray, b: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``exp(−Σ_d ((a_d − b_d) / ℓ_d)²)`` between the rows of ``a`` and of ``b``."""
    return np.exp(-spatial.distance.cdist(a / scales, b / scales, "sqeuclidean"))


def _restricted_log_likelihood(log_hyper: np.ndarray, points: np.ndarray, y: np.ndarray) -> float:
    """Restricted log-likelihood of ``y ~ N(Hβ, σ² (K + νI))`` with ``β`` integrated out and ``σ²`` profiled.

    ``H = [1, points]``; ``K`` squared-exponential with length-scales ``exp(log_hyper[:-1])``, nugget
    ``ν = exp(log_hyper[-1])``. Returns −inf where the covariance is not numerically positive definite.
    """
    n = y.size
    covariance = _squared_exponential(points, points, np.exp(log_hyper[:-1]))
    covariance[np.diag_indices(n)] += np.exp(log_hyper[-1])
    try:
        factor = linalg.cholesky(covariance, lower=True)
    except linalg.LinAlgError:
        return -np.inf
    h = np.column_stack([np.ones(n), points])
    wh = linalg.solve_triangular(factor, h, lower=True)
    wy = linalg.solve_triangular(factor, y, lower=True)
    q = h.shape[1]
    cross = wh.T @ wh + 1e-10 * np.eye(q)
    beta = np.linalg.solve(cross, wh.T @ wy)
    residual = wy - wh @ beta
    quadratic = float(residual @ residual)
    if quadratic <= 0:
        return -np.inf
    _, log_det_cross = np.linalg.slogdet(cross)
    return float(-np.log(np.diag(factor)).sum() - 0.5 * log_det_cross - 0.5 * (n - q) * np.log(quadratic))


def gp_hyperparameters(points: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Length-scales and nugget of a squared-exponential Gaussian process by maximum restricted likelihood.

    Parameters
    ----------
    points : numpy.ndarray
        ``n × d`` parameters rescaled to ``[0, 1]``.
    y : numpy.ndarray
        Centred response, scaled to unit variance.

    Returns
    -------
    scales : numpy.ndarray
        Length-scales ``ℓ_d`` (units of the rescaled parameters).
    nugget : float
        ``ν``, the noise variance relative to the process variance.
    """
    d = points.shape[1]
    bounds = [(np.log(0.02), np.log(50.0))] * d + [(np.log(1e-6), np.log(1e4))]

    def objective(log_hyper: np.ndarray) -> float:
        value = _restricted_log_likelihood(log_hyper, points, y)
        return -value if np.isfinite(value) else 1e300

    best = optimize.minimize(objective, np.r_[np.full(d, np.log(0.5)), 0.0], method="L-BFGS-B", bounds=bounds)
    return np.exp(best.x[:-1]), float(np.exp(best.x[-1]))


def gaussian_process(points: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Basis:
    """A Gaussian-process basis (subset of regressors) for a response of several parameters.

    Parameters
    ----------
    points : numpy.ndarray
        ``n × d`` parameter values (any units; rescaled to ``[0, 1]``).
    y : numpy.ndarray
        The response (its hyperparameters are estimated from it).
    rng : numpy.random.Generator
        Chooses the subsamples for the hyperparameters and the inducing draws.
    """
    x = unit_scaled(np.asarray(points, dtype=float))
    n = x.shape[0]
    sample = rng.choice(n, size=min(n, GP_HYPER_SAMPLE), replace=False)
    centred = y[sample] - y[sample].mean()
    spread = centred.std()
    scales, _ = gp_hyperparameters(x[sample], centred / (spread if spread > 0 else 1.0))
    inducing = x[rng.choice(n, size=min(n, GP_INDUCING), replace=False)]
    design = np.column_stack([np.ones(n), x, _squared_exponential(x, inducing, scales)])
    penalty = np.zeros((design.shape[1], design.shape[1]))
    penalty[x.shape[1] + 1:, x.shape[1] + 1:] = _squared_exponential(inducing, inducing, scales)
    return Basis(design, (penalty,), "gaussian process")


def _cholesky(matrix: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, with the smallest diagonal jitter that makes it succeed."""
    scale = max(float(np.trace(matrix)) / matrix.shape[0], 1e-300)
    for jitter in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4):
        try:
            return linalg.cholesky(matrix + jitter * scale * np.eye(matrix.shape[0]), lower=True)
        except linalg.LinAlgError:
            continue
    raise linalg.LinAlgError("penalised normal equations are not positive definite")


class _Normal:
    """The penalised least-squares problem of one basis through its normal equations ``X'X β = X'y``.

    (The normal equations rather than a QR factorisation: forming ``X'X`` is one matrix product, which stays
    fast when the machine's cores are busy; the penalty keeps the system well conditioned.)
    """

    def __init__(self, basis: Basis) -> None:
        self.n = basis.design.shape[0]
        self.cross = basis.design.T @ basis.design
        size = np.linalg.norm(self.cross)
        self.penalties = [s * (size / norm) if (norm := np.linalg.norm(s)) > 0 else s for s in basis.penalties]

    def solve(self, log10_lambdas: np.ndarray, xty: np.ndarray, total: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Coefficients, Cholesky factor, residual sum of squares and edf at given smoothing parameters.

        ``xty`` is ``X'y`` and ``total`` is ``y'y`` of the centred response.
        """
        matrix = self.cross + sum(10.0 ** value * s for value, s in zip(log10_lambdas, self.penalties))
        factor = _cholesky(matrix)
        beta = linalg.cho_solve((factor, True), xty)
        edf = float(np.trace(linalg.cho_solve((factor, True), self.cross)))
        rss = max(total - 2.0 * float(beta @ xty) + float(beta @ self.cross @ beta), 0.0)
        return beta, factor, rss, edf

    def gcv(self, log10_lambdas: np.ndarray, xty: np.ndarray, total: float) -> float:
        """GCV score ``n · RSS / (n − edf)²``."""
        _, _, rss, edf = self.solve(log10_lambdas, xty, total)
        return self.n * rss / max(self.n - edf, 1e-9) ** 2


def fit_penalised_many(basis: Basis, ys: np.ndarray) -> list[Fit]:
    """Fit each column of ``ys`` on ``basis``, smoothing parameters chosen by GCV for each.

    Parameters
    ----------
    basis : Basis
    ys : numpy.ndarray
        ``n × m`` responses, one row per draw (any unit, finite).

    Returns
    -------
    list of Fit
        One per column, sharing the basis's cross-products.
    """
    normal = _Normal(basis)
    design = basis.design
    means = ys.mean(axis=0)
    centred = ys - means
    xty = design.T @ centred
    fits = []
    for column, mean in enumerate(means):
        total = float(centred[:, column] @ centred[:, column])
        log10 = _best_lambdas(normal, xty[:, column], total)
        beta, factor, rss, edf = normal.solve(log10, xty[:, column], total)
        # every basis holds the constants unpenalised, so the centred fit plus the mean is the fit of y
        fitted = design @ beta + mean
        sigma = float(np.sqrt(rss / max(normal.n - edf, 1.0)))
        fits.append(Fit(fitted=fitted, coefficients=beta, offset=float(mean), design=design, precision_factor=factor,
                        sigma=sigma, edf=edf, method=basis.method))
    return fits


def _best_lambdas(normal: _Normal, xty: np.ndarray, total: float) -> np.ndarray:
    """log10 smoothing parameters minimising GCV: the best of a grid, then refined."""
    count = len(normal.penalties)
    if count == 1:
        score = _one_penalty_gcv(normal, xty, total)
        scores = [score(value) for value in LOG10_LAMBDA_GRID]
        at = int(np.argmin(scores))
        low = LOG10_LAMBDA_GRID[max(at - 1, 0)]
        high = LOG10_LAMBDA_GRID[min(at + 1, LOG10_LAMBDA_GRID.size - 1)]
        best = optimize.minimize_scalar(score, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
        return np.array([best.x if best.fun <= scores[at] else LOG10_LAMBDA_GRID[at]])
    grid = LOG10_LAMBDA_GRID[::4]
    candidates = [np.array(point) for point in np.array(np.meshgrid(*[grid] * count)).reshape(count, -1).T]
    start = min(candidates, key=lambda point: normal.gcv(point, xty, total))
    found = optimize.minimize(lambda v: normal.gcv(v, xty, total), start, method="Nelder-Mead",
                              options={"xatol": 1e-4, "fatol": 1e-12 * max(total, 1.0), "maxiter": 400})
    return np.asarray(found.x) if found.fun <= normal.gcv(start, xty, total) else start


def _one_penalty_gcv(normal: _Normal, xty: np.ndarray, total: float) -> Callable[[float], float]:
    """GCV as a function of log10 λ for one penalty, each evaluation O(p) (Demmler–Reinsch).

    With ``X'X = L L'`` and ``L⁻¹ S L⁻ᵀ = U D U'``, the weights ``w = 1 / (1 + λ D)`` give
    ``edf = Σ w`` and ``RSS = y'y − Σ (2w − w²) z²`` with ``z = U' L⁻¹ X'y`` (Wood 2017, section 5.4.2).
    """
    factor = _cholesky(normal.cross)
    half = linalg.solve_triangular(factor, normal.penalties[0], lower=True)
    eigenvalues, vectors = np.linalg.eigh(linalg.solve_triangular(factor, half.T, lower=True))
    z2 = (vectors.T @ linalg.solve_triangular(factor, xty, lower=True)) ** 2
    eigenvalues = np.clip(eigenvalues, 0.0, None)

    def score(log10_lambda: float) -> float:
        w = 1.0 / (1.0 + 10.0 ** log10_lambda * eigenvalues)
        rss = max(total - float(np.sum((2.0 * w - w * w) * z2)), 0.0)
        return normal.n * rss / max(normal.n - float(w.sum()), 1e-9) ** 2

    return score


@dataclass(frozen=True)
class Pattern:
    """The residual-pattern check of a fit (mgcv's ``k.check``).

    Attributes
    ----------
    k_index : float
        Mean squared difference of neighbours' residuals over twice the residual variance: near 1 when the
        residuals hold no structure in the parameters, below 1 when neighbours' residuals are alike.
    p_value : float
        Share of random permutations of the residuals with an index as low (one-sided).
    """

    k_index: float
    p_value: float


def residual_pattern(points: np.ndarray, residuals: np.ndarray, rng: np.random.Generator) -> Pattern:
    """Whether residuals of draws that are neighbours in the parameters are more alike than by chance.

    Parameters
    ----------
    points : numpy.ndarray
        ``n × d`` parameter values (rescaled to ``[0, 1]`` here).
    residuals : numpy.ndarray
        Response minus fitted value, one per draw.
    rng : numpy.random.Generator
        Chooses the subsample (beyond `PATTERN_DRAWS`) and the permutations.
    """
    x = unit_scaled(np.asarray(points, dtype=float))
    r = np.asarray(residuals, dtype=float)
    if r.size > PATTERN_DRAWS:
        keep = rng.choice(r.size, size=PATTERN_DRAWS, replace=False)
        x, r = x[keep], r[keep]
    variance = float(np.mean((r - r.mean()) ** 2))
    if variance <= 0 or r.size < 3:
        return Pattern(1.0, 1.0)
    if x.shape[1] == 1:
        order = np.argsort(x[:, 0], kind="stable")
        first, second = order[:-1], order[1:]
    else:
        _, neighbours = spatial.cKDTree(x).query(x, k=2)
        first, second = np.arange(r.size), neighbours[:, 1]

    def index(values: np.ndarray) -> np.ndarray:
        """The index of each row of ``values`` (residuals in the draws' order)."""
        return np.mean((values[..., first] - values[..., second]) ** 2, axis=-1) / (2.0 * variance)

    observed = float(index(r))
    # every permutation at once: the same permutations, in the same order, as one rng.permutation(r) after another
    permuted = index(rng.permuted(np.broadcast_to(r, (PATTERN_PERMUTATIONS, r.size)), axis=1))
    return Pattern(observed, float((1 + np.sum(permuted <= observed)) / (PATTERN_PERMUTATIONS + 1)))
