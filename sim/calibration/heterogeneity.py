"""Between-study heterogeneity: the beta-binomial likelihood and a new cohort's own true rate.

The four CD7 CAR-T studies come from different centres, products and eras (Hu: donor-derived products
in Hangzhou; Cao and NS7: autologous NS7 products at Lu Daopei; Xiao: another centre, later). A rate
such as grade >= 3 CRS is not one number that every study estimates with binomial noise: each study
has its own true rate around the population mean the model represents (grading scales, supportive
care, product and selection differ). Xiao's 4 of 12 grade-3 CRS beside Hu's 0 of 10 is what that
variation looks like, not necessarily a misfit.

Model
-----
For a target with model probability ``p`` (the mean over centres for the study's case mix and
design), the study's own true rate is

    pi ~ Beta(p (1 - rho) / rho, (1 - p) (1 - rho) / rho)      (mean p, variance rho p (1 - p))

and its count of ``n`` is Binomial(n, pi). Marginally the count is beta-binomial, with variance
``n p (1 - p) [1 + (n - 1) rho]``: ``rho`` is the intra-class correlation of patients within a
study. ``rho -> 0`` is the binomial. A study of ``n`` patients then carries the information of
``n / (1 + (n - 1) rho)`` binomial patients about the population mean: however large one centre's
cohort, it cannot pin the mean down closer than the spread between centres.

Which rates vary between studies (:data:`BETWEEN_STUDY_METRICS`): response (CR, MRD-negative CR),
toxicity (any CRS, grade 1-2 and grade >= 3 CRS, any ICANS), transplant outcomes (early death,
autologous recovery, acute and chronic GVHD, non-relapse mortality, relapse) and every survival
figure. Transplant uptake (:data:`WITHIN_STUDY_METRICS`: ``hsct``, ``hsct_among_cr``) keeps the
binomial: it is a setting of the strategy (each study's protocol; a scenario's ``hsct_uptake``), which
a new cohort chooses rather than meets.

``rho`` is one parameter shared by those rates (four studies cannot inform one per rate) with the
prior :data:`ICC_PRIOR` (a labelled assumption, see there). The calibration integrates it out on a
grid of prior quantiles (:func:`icc_nodes`) and draws it for each posterior draw from its conditional
posterior; the posterior predictive check draws each new cohort's true rate from the between-study
distribution before its count (:func:`draw_cohort_rate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaincinv, betaln, gammaln, xlog1py, xlogy

from sim.inputs.posterior import ICC_COLUMN

__all__ = [
    "BETWEEN_STUDY_METRICS", "ICC_COLUMN", "ICC_NODES", "ICC_PRIOR", "IccPrior", "WITHIN_STUDY_METRICS",
    "beta_binomial_logpmf", "between_study", "binomial_logpmf", "draw_cohort_rate", "icc_nodes",
    "log_choose", "overdispersed_logpmf",
]

BETWEEN_STUDY_METRICS: frozenset[str] = frozenset({
    "cr", "mrd_negative",                                            # response
    "crs_any", "crs_mild", "crs_grade3plus", "icans_any",            # toxicity (grading differs by centre)
    "early_death_after_hsct", "autologous_recovery", "agvhd_grade2plus", "cgvhd", "nrm", "cir",   # transplant
    "os", "pfs", "lfs", "median_os", "median_pfs", "os_hsct", "os_no_hsct", "pfs_hsct", "pfs_no_hsct",  # survival
})
"""Metrics whose true rate varies between studies (beta-binomial likelihood, between-study draw in validation)."""
WITHIN_STUDY_METRICS: frozenset[str] = frozenset({"hsct", "hsct_among_cr"})
"""Metrics with a binomial likelihood only: transplant uptake, a setting of the strategy (the study's protocol)."""


@dataclass(frozen=True)
class IccPrior:
    """Beta(alpha, beta) prior of the intra-class correlation ``rho`` (dimensionless, 0-1).

    Attributes
    ----------
    alpha, beta : float
        Shape parameters.
    """

    alpha: float
    beta: float

    def ppf(self, u: npt.ArrayLike) -> np.ndarray:
        """Quantiles (inverse CDF) at ``u`` in (0, 1)."""
        return np.asarray(betaincinv(self.alpha, self.beta, u), dtype=float)

    def mean(self) -> float:
        """Prior mean."""
        return self.alpha / (self.alpha + self.beta)

    def interval(self) -> tuple[float, float]:
        """Central 95% prior interval."""
        low, high = self.ppf([0.025, 0.975])
        return float(low), float(high)


ICC_PRIOR = IccPrior(alpha=2.0, beta=25.0)
"""Prior of the between-study intra-class correlation ``rho``: Beta(2, 25), mean 0.074, 95% interval
0.010-0.196 (assumption; plausible range 0.01-0.2).

Reason: a between-study standard deviation of the log-odds of about 0.25 to 1 (a centre one standard
deviation above the mean has 1.3 to 2.7 times its odds) gives ``rho`` of about 0.006-0.17 for
rates between 10% and 90% (``rho = Var(pi) / (p (1 - p))``, by simulation); single-arm CAR-T series from
different centres routinely differ that much in response and in severe CRS (different products, doses,
lymphodepletion, CRS grading scales - Lee 2014 vs ASTCT 2019 - and supportive care). The density is 0
at ``rho = 0``: the studies are known not to be exchangeable patients of one centre. It is not larger
because the model already represents the case mix, product source, strategy, selection and follow-up
of each study; ``rho`` covers only what remains."""
ICC_NODES = 32
"""Grid points (prior quantiles) on which the calibration integrates ``rho`` out."""


def icc_nodes(nodes: int = ICC_NODES, prior: IccPrior = ICC_PRIOR) -> np.ndarray:
    """``rho`` at the midpoints of ``nodes`` equal-probability cells of its prior (quantiles
    ``(i + 1/2) / nodes``): a midpoint rule for integrals over the prior."""
    return prior.ppf((np.arange(nodes) + 0.5) / nodes)


def between_study(metric: str) -> bool:
    """Whether ``metric``'s true rate varies between studies (see :data:`BETWEEN_STUDY_METRICS`)."""
    return metric in BETWEEN_STUDY_METRICS


def binomial_logpmf(k: npt.ArrayLike, n: npt.ArrayLike, p: npt.ArrayLike) -> np.ndarray:
    """Log probability of ``k`` events in ``n`` trials with probability ``p`` (binomial), written with
    gamma functions so that an effective (non-integer) ``k`` and ``n`` are allowed.

    Parameters
    ----------
    k, n : array_like
        Events and trials, ``0 <= k <= n`` (counts of patients; not necessarily whole).
    p : array_like
        Event probability in [0, 1].
    """
    k, n, p = (np.asarray(x, dtype=float) for x in (k, n, p))
    return log_choose(n, k) + xlogy(k, p) + xlog1py(n - k, -p)


def beta_binomial_logpmf(k: npt.ArrayLike, n: npt.ArrayLike, p: npt.ArrayLike, rho: npt.ArrayLike) -> np.ndarray:
    """Log probability of ``k`` events in ``n`` trials when the trials' own probability is drawn from
    Beta(p (1 - rho) / rho, (1 - p) (1 - rho) / rho) (beta-binomial, mean ``n p``, variance
    ``n p (1 - p) [1 + (n - 1) rho]``); the binomial where ``rho`` is 0.

    Parameters
    ----------
    k, n : array_like
        Events and trials, ``0 <= k <= n`` (not necessarily whole: the gamma-function form).
    p : array_like
        Mean event probability, strictly between 0 and 1 where ``rho > 0``.
    rho : array_like
        Intra-class correlation in [0, 1).

    Returns
    -------
    numpy.ndarray
        Natural logarithm of the probability, broadcast over the arguments.
    """
    k, n, p, rho = (np.asarray(x, dtype=float) for x in (k, n, p, rho))
    dispersed = rho > 0
    mixed = overdispersed_logpmf(k, n, p, np.where(dispersed, rho, 0.5))
    return np.where(dispersed, mixed, binomial_logpmf(k, n, p))


def overdispersed_logpmf(k: npt.ArrayLike, n: npt.ArrayLike, p: npt.ArrayLike, rho: npt.ArrayLike,
                         coefficients: npt.ArrayLike | None = None) -> np.ndarray:
    """:func:`beta_binomial_logpmf` where every ``rho`` is above 0: the beta-binomial only, without the binomial
    terms that :func:`beta_binomial_logpmf` computes for ``rho`` of 0 (``p`` strictly between 0 and 1: at 0 or 1
    it is ``-inf`` or NaN).

    Parameters
    ----------
    k, n, p : array_like
        As :func:`beta_binomial_logpmf`.
    rho : array_like
        Intra-class correlation in (0, 1).
    coefficients : array_like, optional
        ``log_choose(n, k)`` when already computed (:func:`log_choose`; the same numbers).

    Returns
    -------
    numpy.ndarray
        Natural logarithm of the probability, broadcast over the arguments.
    """
    k, n, p, rho = (np.asarray(x, dtype=float) for x in (k, n, p, rho))
    scale = (1.0 - rho) / rho
    a, b = p * scale, (1.0 - p) * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        return (log_choose(n, k) if coefficients is None else coefficients) + betaln(k + a, n - k + b) - betaln(a, b)


def log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Natural log of the binomial coefficient ``n`` choose ``k`` (gamma functions: not necessarily whole)."""
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def draw_cohort_rate(p: float, rho: float, rng: np.random.Generator) -> float:
    """A new cohort's own true rate: Beta(p (1 - rho) / rho, (1 - p) (1 - rho) / rho), mean ``p``; ``p``
    itself where ``rho`` is 0 or ``p`` is 0 or 1 (or NaN: no patient to have a rate)."""
    if not rho > 0 or not 0.0 < p < 1.0:
        return p
    scale = (1.0 - rho) / rho
    return float(rng.beta(p * scale, (1.0 - p) * scale))
