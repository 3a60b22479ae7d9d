"""Between-study heterogeneity (sim.calibration.heterogeneity and its use in the likelihood).

Independent references: scipy.stats.betabinom and scipy.stats.binom for the likelihood, the beta-binomial as
a mixture integrated numerically (scipy.integrate.quad) for effective (non-integer) counts, scipy.stats.beta
for the prior of the intra-class correlation, and the analytic mean and variance of the beta-binomial.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import gammaln

from sim.calibration.calibrate import draw_icc, icc_log_likelihoods, log_likelihood, marginal_log_likelihood
from sim.calibration.heterogeneity import (
    BETWEEN_STUDY_METRICS,
    ICC_PRIOR,
    WITHIN_STUDY_METRICS,
    IccPrior,
    beta_binomial_logpmf,
    binomial_logpmf,
    draw_cohort_rate,
    icc_nodes,
    log_choose,
    overdispersed_logpmf,
)
from sim.calibration.studies import METRICS, CohortRate, Target


def shape(p: float, rho: float) -> tuple[float, float]:
    """scipy's (a, b) of the beta-binomial with mean p and intra-class correlation rho."""
    return p * (1 - rho) / rho, (1 - p) * (1 - rho) / rho


@pytest.mark.parametrize("n", [1, 9, 34, 124])
@pytest.mark.parametrize("p", [0.02, 0.3, 0.62, 0.97])
@pytest.mark.parametrize("rho", [1e-3, 0.074, 0.3, 0.9])
def test_beta_binomial_matches_scipy(n, p, rho):
    k = np.arange(n + 1)
    np.testing.assert_allclose(beta_binomial_logpmf(k, n, p, rho), stats.betabinom.logpmf(k, n, *shape(p, rho)),
                               rtol=1e-9, atol=1e-9)


def test_rho_zero_is_the_binomial_and_small_rho_tends_to_it():
    k, n, p = np.arange(35), 34, 0.32
    np.testing.assert_allclose(beta_binomial_logpmf(k, n, p, 0.0), stats.binom.logpmf(k, n, p), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(binomial_logpmf(k, n, p), stats.binom.logpmf(k, n, p), rtol=1e-12, atol=1e-12)
    gaps = [np.max(np.abs(np.exp(beta_binomial_logpmf(k, n, p, rho)) - stats.binom.pmf(k, n, p)))
            for rho in (1e-2, 1e-3, 1e-4, 1e-5)]
    assert all(later < earlier / 5 for earlier, later in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 1e-4


def test_the_intra_class_correlation_is_the_variance_inflation():
    """Mean n p and variance n p (1 - p) [1 + (n - 1) rho], the definition of rho (analytic moments)."""
    n, p, rho = 12, 0.15, 0.2
    k = np.arange(n + 1)
    pmf = np.exp(beta_binomial_logpmf(k, n, p, rho))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    mean = (k * pmf).sum()
    assert mean == pytest.approx(n * p)
    assert ((k - mean) ** 2 * pmf).sum() == pytest.approx(n * p * (1 - p) * (1 + (n - 1) * rho))


@pytest.mark.parametrize("k,n", [(6.8, 10.0), (21.3, 34.4), (0.0, 7.0)])
def test_effective_counts_are_the_beta_mixture_of_binomials(k, n):
    """Non-integer (effective) counts: the gamma-function form equals the mixture it stands for, the binomial
    likelihood integrated over the Beta distribution of the study's own rate."""
    p, rho = 0.62, 0.1
    a, b = shape(p, rho)
    log_choose = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    mixture, _ = integrate.quad(lambda pi: np.exp(log_choose) * pi**k * (1 - pi) ** (n - k) * stats.beta.pdf(pi, a, b),
                                0, 1, epsabs=1e-13, limit=200)
    assert beta_binomial_logpmf(k, n, p, rho) == pytest.approx(np.log(mixture), rel=1e-7)


def test_every_metric_is_classified_once():
    assert BETWEEN_STUDY_METRICS | WITHIN_STUDY_METRICS == set(METRICS)
    assert not BETWEEN_STUDY_METRICS & WITHIN_STUDY_METRICS
    assert {"cr", "crs_grade3plus", "icans_any", "nrm", "cir"} <= BETWEEN_STUDY_METRICS


def test_prior_of_the_intra_class_correlation():
    reference = stats.beta(ICC_PRIOR.alpha, ICC_PRIOR.beta)
    assert ICC_PRIOR.mean() == pytest.approx(reference.mean())
    np.testing.assert_allclose(ICC_PRIOR.interval(), reference.ppf([0.025, 0.975]), rtol=1e-10)
    low, high = ICC_PRIOR.interval()
    assert 0.005 < low < 0.02 and 0.15 < high < 0.25  # the documented plausible range 0.01-0.2
    nodes = icc_nodes(8)
    np.testing.assert_allclose(reference.cdf(nodes), (np.arange(8) + 0.5) / 8, rtol=1e-10)


def target(metric: str, events: float, n: int) -> Target:
    return Target(study="s", metric=metric, value=events / n, n=n, events=events, origin="infusion", evidence_id="X",
                  likelihood="binomial")


def test_transplant_uptake_keeps_the_binomial_and_other_rates_are_overdispersed():
    expected = np.array([[0.4, 0.4]])
    uptake, response = target("hsct", 9, 10), target("cr", 9, 10)
    binomial = log_likelihood(expected, [uptake, response])
    dispersed = log_likelihood(expected, [uptake, response], icc=0.2)
    assert log_likelihood(expected[:, :1], [uptake], icc=0.2) == pytest.approx(log_likelihood(expected[:, :1], [uptake]))
    assert dispersed - log_likelihood(expected[:, :1], [uptake]) == pytest.approx(
        stats.betabinom.logpmf(9, 10, *shape(0.4, 0.2)))
    assert dispersed > binomial  # 9 of 10 at a mean of 0.4 is less surprising when studies differ


def test_heterogeneous_studies_are_not_a_misfit_under_the_beta_binomial():
    """Xiao's 4 of 12 grade-3 CRS beside Hu's 0 of 10 and Cao's 1 of 34: at the pooled rate, the beta-binomial
    finds the three counts far less surprising than the binomial does."""
    counts = [target("crs_grade3plus", 4, 12), target("crs_grade3plus", 0, 10), target("crs_grade3plus", 1, 34)]
    expected = np.full((1, 3), 5 / 56)
    assert log_likelihood(expected, counts, icc=0.1) - log_likelihood(expected, counts) > 1.0


def test_marginal_likelihood_integrates_the_prior():
    counts = [target("crs_grade3plus", 4, 12), target("crs_grade3plus", 0, 10), target("cr", 7, 10)]
    expected = np.array([[0.09, 0.09, 0.8]])
    prior = stats.beta(ICC_PRIOR.alpha, ICC_PRIOR.beta)

    def integrand(rho: float) -> float:
        return float(np.exp(log_likelihood(expected, counts, icc=rho)[0])) * prior.pdf(rho)

    reference, _ = integrate.quad(integrand, 0, 1, epsabs=1e-14, limit=200)
    assert marginal_log_likelihood(expected, counts)[0] == pytest.approx(np.log(reference), abs=0.01)


def test_a_prior_concentrated_at_zero_gives_the_binomial_calibration():
    counts = [target("crs_grade3plus", 4, 12), target("crs_grade3plus", 0, 10), target("hsct", 9, 10)]
    expected = np.random.default_rng(2).uniform(0.05, 0.95, (50, 3))
    binomial = marginal_log_likelihood(expected, counts, prior=None)
    np.testing.assert_array_equal(binomial, log_likelihood(expected, counts))
    gaps = [np.max(np.abs(marginal_log_likelihood(expected, counts, prior=IccPrior(1.0, beta)) - binomial))
            for beta in (1e3, 1e4, 1e5, 1e6)]
    assert all(later < earlier / 5 for earlier, later in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 1e-3


def test_posterior_draws_of_the_intra_class_correlation_follow_its_conditional_posterior():
    counts = [target("crs_grade3plus", 4, 12), target("crs_grade3plus", 0, 10)]
    expected = np.tile([[0.1, 0.1]], (4000, 1))
    draws = draw_icc(expected, counts, np.random.default_rng(3))
    prior = stats.beta(ICC_PRIOR.alpha, ICC_PRIOR.beta)

    def density(rho: float) -> float:
        return float(np.exp(log_likelihood(expected[:1], counts, icc=rho)[0])) * prior.pdf(rho)

    evidence, _ = integrate.quad(density, 0, 1, limit=200)
    mean, _ = integrate.quad(lambda rho: rho * density(rho) / evidence, 0, 1, limit=200)
    assert mean > ICC_PRIOR.mean()  # the counts disagree: the posterior moves up
    assert draws.mean() == pytest.approx(mean, abs=0.004)
    assert len(np.unique(draws)) > 3000  # drawn within cells, not only at the grid's points


def test_a_new_cohorts_rate_then_count_is_beta_binomial():
    """Drawing the cohort's own rate (draw_cohort_rate), then its count, gives scipy's beta-binomial."""
    rng = np.random.default_rng(5)
    p, rho, n = 0.3, 0.15, 12
    rates = np.array([draw_cohort_rate(p, rho, rng) for _ in range(40000)])
    assert rates.mean() == pytest.approx(p, abs=0.004)
    assert rates.var() == pytest.approx(rho * p * (1 - p), rel=0.03)
    counts = np.bincount(rng.binomial(n, rates), minlength=n + 1) / rates.size
    np.testing.assert_allclose(counts, stats.betabinom.pmf(np.arange(n + 1), n, *shape(p, rho)), atol=0.006)
    assert draw_cohort_rate(p, 0.0, rng) == p and draw_cohort_rate(0.0, rho, rng) == 0.0


def test_recounting_events_at_the_cohorts_rate():
    rng = np.random.default_rng(8)
    population = rng.random(200000) < 0.8
    events = population & (rng.random(200000) < 0.3)
    uniforms = rng.random(200000)
    share = events.sum() / population.sum()
    for rate in (0.1, 0.55):
        recounted = CohortRate(share, rate, uniforms).recount(events, population, uniforms)
        assert recounted.sum() / population.sum() == pytest.approx(rate, abs=0.005)
        assert not (recounted & ~population).any()
        assert (recounted <= events).all() if rate < share else (recounted >= events).all()
    assert (CohortRate(share, share, uniforms).recount(events, population, uniforms) == events).all()


def test_the_likelihood_on_the_grid_of_intra_class_correlations_is_the_likelihood_at_each_node():
    """icc_log_likelihoods computes the node-free terms once: the same numbers, to the bit, as the binomial terms
    plus the dispersed terms' log_likelihood at each node, with NaN, 0 and 1 among the probabilities."""
    rng = np.random.default_rng(4)
    targets = [target("hsct", 9, 10), target("crs_grade3plus", 4, 12), target("cr", 0, 10), target("crs_any", 34, 34),
               target("hsct_among_cr", 5, 8), target("icans_any", 1, 12)]
    expected = rng.uniform(0, 1, (200, len(targets)))
    expected[rng.random(expected.shape) < 0.1] = np.nan
    expected[:5, 1], expected[5:10, 2] = 0.0, 1.0
    nodes = np.concatenate([[0.0], icc_nodes(16)])
    between = np.array([t.metric in BETWEEN_STUDY_METRICS for t in targets])
    dispersed = [t for t, b in zip(targets, between) if b]
    fixed = log_likelihood(expected[:, ~between], [t for t, b in zip(targets, between) if not b])
    reference = fixed[:, None] + np.column_stack([log_likelihood(expected[:, between], dispersed, float(rho)) for rho in nodes])
    np.testing.assert_array_equal(icc_log_likelihoods(expected, targets, nodes), reference)


def test_the_overdispersed_terms_are_the_beta_binomial_with_or_without_their_coefficients():
    rng = np.random.default_rng(6)
    n = rng.uniform(1, 40, 300)
    k, p, rho = n * rng.uniform(0, 1, 300), rng.uniform(0.01, 0.99, 300), rng.uniform(0.001, 0.6, 300)
    reference = beta_binomial_logpmf(k, n, p, rho)
    np.testing.assert_array_equal(overdispersed_logpmf(k, n, p, rho), reference)
    np.testing.assert_array_equal(overdispersed_logpmf(k, n, p, rho, log_choose(n, k)), reference)
    np.testing.assert_allclose(np.exp(log_choose(n[:20].round(), k[:20].round().clip(0, n[:20].round()))),
                               [math.comb(int(a), int(b)) for a, b in zip(n[:20].round(), k[:20].round().clip(0, n[:20].round()))],
                               rtol=1e-9)
