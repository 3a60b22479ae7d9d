"""Bayesian calibration to the CD7 CAR-T studies by adaptive importance sampling.

Method: adaptive multiple importance sampling (AMIS; Cornuet, Marin, Mira & Robert, Scand J Stat
2012), a close relative of incremental mixture importance sampling (IMIS; Raftery & Bao, Biometrics
2010), followed by sampling-importance-resampling (SIR; Rubin 1988; Menzies et al.,
PharmacoEconomics 2017).

1. Every uncertain parameter of ``calibration/parameters.yaml`` is expressed by its prior quantile
   ``u`` in (0, 1), and ``z = logit(u)``; the prior is then a product of standard logistic densities.
2. Stage 0 draws the prior on a Latin hypercube (McKay, Beckman & Conover 1979).
3. The parameters whose stage-0 draws correlate with the likelihood are adapted: each later stage
   fits a Gaussian to the weighted draws so far in those dimensions (covariance inflated, with a
   defensive share of the prior), draws a batch from it (the other parameters from their prior),
   and re-weighs *all* draws against the deterministic mixture of every proposal used (AMIS).
4. Every draw is simulated through every study replay with the same patients (common random
   numbers, so the likelihood surface is smooth); the likelihood multiplies one term per target with
   the target's own denominator (:meth:`sim.calibration.studies.Target.effective_counts`): beta-binomial
   for a rate that varies between studies, binomial for transplant uptake
   (:mod:`sim.calibration.heterogeneity`). The between-study intra-class correlation ``rho`` is
   integrated out on a grid of its prior quantiles, so each draw's weight is its marginal likelihood.
5. Posterior draws are resampled with probability proportional to the final weights (systematic); each
   is given a ``rho`` drawn from its conditional posterior given the draw (the grid cell by its
   likelihood, then uniformly within the cell's prior quantiles).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from sim.calibration import (
    DEFAULT_POSTERIOR_DRAWS,
    DEFAULT_PRIOR_DRAWS,
    DEFAULT_STAGE_DRAWS,
    DEFAULT_STAGES,
)
from sim.calibration.heterogeneity import (
    ICC_COLUMN,
    ICC_NODES,
    ICC_PRIOR,
    IccPrior,
    beta_binomial_logpmf,
    between_study,
    binomial_logpmf,
    icc_nodes,
    log_choose,
    overdispersed_logpmf,
)
from sim.calibration.studies import StudyCohort, Target, expected_probabilities
from sim.inputs.errors import InputError
from sim.inputs.limits import MAX_CALIBRATION_DRAWS, simulated_draws
from sim.inputs.parameters import DEFAULT_PARAMETERS_PATH, DEFAULT_POSTERIOR_PATH, Distribution, FixedDist, ParameterSet
from sim.inputs.paths import TARGETS_PATH
from sim.inputs.posterior import Posterior, Stamp
from sim.inputs.scenario import Scenario
from sim.simulation.parallel import Executor, Progress, SerialExecutor, chunks

POSTERIOR_FILE = DEFAULT_POSTERIOR_PATH.name
FIT_FILE, IDENTIFIABILITY_FILE, FIT_FIGURE = "fit.csv", "identifiability.csv", "fit.png"
PROBABILITY_FLOOR = 1e-6
INFORMED_SD_RATIO = 0.8
"""A parameter whose posterior sd is below this share of its prior sd is called informed by the targets."""
ROWS_PER_TASK = 50
"""Parameter draws simulated per task (one progress step)."""


def calibration_blocks(prior_draws: int, stages: int, stage_draws: int) -> int:
    """Tasks (progress steps) of :func:`calibrate` with this budget."""
    return -(-prior_draws // ROWS_PER_TASK) + stages * -(-stage_draws // ROWS_PER_TASK)


def uncertain_parameters(params: ParameterSet) -> list[str]:
    """Names of the parameters with an uncertainty distribution (the ones calibration varies)."""
    return [name for name, p in params.registry.items() if not isinstance(p.distribution, FixedDist)]


def _evaluate_task(task: tuple[ParameterSet, list[str], np.ndarray, dict[str, Scenario], list[Target], IccPrior | None],
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Marginal log-likelihood (:func:`marginal_log_likelihood`) and expected probability of every target
    (columns) of a block of parameter draws (rows)."""
    base, names, rows, studies, targets, icc_prior = task
    cohorts = {name: _cohort(scenario) for name, scenario in studies.items()}
    by_study = {name: [j for j, t in enumerate(targets) if t.study == name] for name in cohorts}
    expected = np.full((len(rows), len(targets)), np.nan)
    for i, row in enumerate(rows):
        params = base.with_values(dict(zip(names, row.tolist())))
        for name, cohort in cohorts.items():
            if by_study[name]:
                expected[i, by_study[name]] = expected_probabilities(cohort.simulate(params), [targets[j] for j in by_study[name]])
    return marginal_log_likelihood(expected, targets, icc_prior), expected


_DRAWN: list[StudyCohort] = []
"""The study cohorts this process drew last (at most ``COHORTS_KEPT``, the latest last)."""
COHORTS_KEPT = 16


def _cohort(scenario: Scenario) -> StudyCohort:
    """The simulated patients of ``scenario`` (:meth:`StudyCohort.draw`, replication 0), drawn once per process
    and kept: every task of a calibration replays the same studies, with the same patients."""
    for cohort in _DRAWN:
        if cohort.scenario == scenario:
            return cohort
    cohort = StudyCohort.draw(scenario)
    _DRAWN.append(cohort)
    del _DRAWN[:-COHORTS_KEPT]
    return cohort


def _prepare(params: ParameterSet, studies: dict[str, Scenario]) -> None:
    """Draw the study cohorts and simulate each study once with ``params`` in this process: the worker processes
    of a local executor, forked from it at every stage, then start with the cohorts drawn and the compiled
    simulation loaded (about a quarter of a second per worker and stage otherwise). Nothing it computes is kept
    but the cohorts, which are the same in any process."""
    for scenario in studies.values():
        _cohort(scenario).simulate(params)


def evaluate(
    base: ParameterSet,
    names: list[str],
    values: np.ndarray,
    studies: dict[str, Scenario],
    targets: list[Target],
    executor: Executor | None = None,
    on_done: Progress = None,
    icc_prior: IccPrior | None = ICC_PRIOR,
    rows_per_task: int = ROWS_PER_TASK,
) -> tuple[np.ndarray, np.ndarray]:
    """Marginal log-likelihood (the intra-class correlation integrated out over ``icc_prior``, see
    :func:`marginal_log_likelihood`) and model probabilities (rows: parameter draws ``values``; columns:
    targets) through the study replays; each block of draws is simulated and its likelihood computed in one
    task (the likelihood of a draw depends on its own row only, so the numbers do not depend on the blocks).

    Returns
    -------
    tuple of numpy.ndarray
        The natural-log likelihood of each draw, and the expected probabilities.
    """
    tasks = [(base, names, block, studies, targets, icc_prior) for block in chunks(values, rows_per_task)]
    results = (executor or SerialExecutor()).map(_evaluate_task, tasks, on_done)
    return np.concatenate([loglik for loglik, _ in results]), np.vstack([expected for _, expected in results])


def log_likelihood(expected: np.ndarray, targets: list[Target], icc: float = 0.0) -> np.ndarray:
    """Log-likelihood of every row of ``expected`` (model probabilities; columns: ``targets``): one
    beta-binomial term per target whose rate varies between studies, with intra-class correlation
    ``icc`` (:func:`sim.calibration.heterogeneity.beta_binomial_logpmf`), one binomial term per other
    target; ``icc = 0`` gives the binomial throughout. Effective counts as
    :meth:`sim.calibration.studies.Target.effective_counts`; a NaN probability (no patient in the
    denominator) counts as 0.5, and probabilities are kept within ``PROBABILITY_FLOOR`` of 0 and 1.

    Returns
    -------
    numpy.ndarray
        One natural-log likelihood per row (normalising constants included).
    """
    events, trials = _counts(targets)
    rho = np.where([between_study(t.metric) for t in targets], icc, 0.0)
    return beta_binomial_logpmf(events, trials, _probabilities(expected), rho).sum(axis=1)


def _counts(targets: list[Target]) -> tuple[np.ndarray, np.ndarray]:
    """Effective events and trials of each target (:meth:`sim.calibration.studies.Target.effective_counts`)."""
    counts = np.array([t.effective_counts() for t in targets]).reshape(len(targets), 2)
    return counts[:, 0], counts[:, 1]


def _probabilities(expected: np.ndarray) -> np.ndarray:
    """Model probabilities as the likelihood reads them: NaN as 0.5, within ``PROBABILITY_FLOOR`` of 0 and 1."""
    return np.clip(np.nan_to_num(expected, nan=0.5), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)


def icc_log_likelihoods(expected: np.ndarray, targets: list[Target], nodes: np.ndarray) -> np.ndarray:
    """Log-likelihood of every row of ``expected`` at each intra-class correlation of ``nodes``
    (rows: draws; columns: nodes): :func:`log_likelihood` at each node, the same numbers, with the terms
    that do not depend on the node (the binomial terms, the binomial coefficients) computed once.
    """
    between = np.array([between_study(t.metric) for t in targets], dtype=bool)
    events, trials = _counts(targets)
    fixed = binomial_logpmf(events[~between], trials[~between], _probabilities(expected[:, ~between])).sum(axis=1)
    k, n, p = events[between], trials[between], _probabilities(expected[:, between])
    coefficients = log_choose(n, k)
    columns = []
    for rho in nodes:
        if not rho > 0:
            columns.append(binomial_logpmf(k, n, p).sum(axis=1))
            continue
        columns.append(overdispersed_logpmf(k, n, p, rho, coefficients).sum(axis=1))
    return fixed[:, None] + np.column_stack(columns)


def marginal_log_likelihood(expected: np.ndarray, targets: list[Target], prior: IccPrior | None = ICC_PRIOR,
                            nodes: int = ICC_NODES) -> np.ndarray:
    """Log-likelihood of every row of ``expected`` with the intra-class correlation integrated out over
    its ``prior`` (midpoint rule on ``nodes`` equal-probability cells, :func:`sim.calibration.heterogeneity.icc_nodes`);
    the binomial likelihood when ``prior`` is None (no between-study variation)."""
    if prior is None:
        return log_likelihood(expected, targets)
    grid = icc_log_likelihoods(expected, targets, icc_nodes(nodes, prior))
    return np.logaddexp.reduce(grid, axis=1) - np.log(nodes)


def draw_icc(expected: np.ndarray, targets: list[Target], rng: np.random.Generator, prior: IccPrior = ICC_PRIOR,
             nodes: int = ICC_NODES) -> np.ndarray:
    """One intra-class correlation per row of ``expected`` from its posterior given that row: a cell of
    the ``prior``'s ``nodes`` equal-probability cells with probability proportional to the likelihood at its
    midpoint, then a prior quantile uniformly within the cell."""
    grid = icc_log_likelihoods(expected, targets, icc_nodes(nodes, prior))
    weights = np.exp(grid - grid.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cell = np.minimum((cumulative < rng.random(len(grid))[:, None]).sum(axis=1), nodes - 1)
    return prior.ppf((cell + rng.random(len(grid))) / nodes)


def systematic_resample(weights: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``draws`` resampled rows, each chosen with probability proportional to its weight."""
    positions = (rng.random() + np.arange(draws)) / draws
    return np.minimum(np.searchsorted(np.cumsum(weights / weights.sum()), positions), weights.size - 1)


@dataclass(frozen=True)
class Calibration:
    """Prior draws, their fit to the targets and the resampled posterior.

    Attributes
    ----------
    names : list of str
        Calibrated parameters.
    draws : ndarray
        Every parameter draw simulated (rows), stage 0 first (those are prior draws).
    expected : ndarray
        Model probability of each target (columns) for each draw (rows).
    log_likelihood : ndarray
        Per draw.
    weights : ndarray
        Normalised importance weights (the posterior as a weighted sample).
    posterior_index : ndarray
        Rows of ``draws`` making up the resampled posterior.
    prior_draws : int
        The first ``prior_draws`` rows are the stage-0 prior sample.
    targets : list of Target
    seed : int
    seconds : float
        Wall time.
    icc : ndarray, optional
        Between-study intra-class correlation of each posterior draw (in the order of ``posterior_index``).
    """

    names: list[str]
    draws: np.ndarray
    expected: np.ndarray
    log_likelihood: np.ndarray
    weights: np.ndarray
    posterior_index: np.ndarray
    prior_draws: int
    targets: list[Target]
    seed: int
    seconds: float
    icc: np.ndarray | None = None

    @property
    def effective_sample_size(self) -> float:
        """Kish effective sample size of the importance weights."""
        return float(1.0 / np.sum(self.weights**2))

    def posterior_frame(self) -> pd.DataFrame:
        """The posterior draws: ``draw, source_draw, log_likelihood``, one column per parameter, and
        ``between_study_icc`` (when drawn)."""
        index = self.posterior_index
        frame = pd.DataFrame(self.draws[index], columns=self.names)
        frame.insert(0, "log_likelihood", self.log_likelihood[index])
        frame.insert(0, "source_draw", index)
        frame.insert(0, "draw", np.arange(index.size))
        if self.icc is not None:
            frame[ICC_COLUMN] = self.icc
        return frame

    def icc_summary(self) -> tuple[float, float, float] | None:
        """Posterior mean and 95% interval of the between-study intra-class correlation (None if not drawn)."""
        if self.icc is None:
            return None
        low, high = np.percentile(self.icc, [2.5, 97.5])
        return float(self.icc.mean()), float(low), float(high)

    def posterior(self, stamp: Stamp | None = None) -> Posterior:
        """The posterior draws (:meth:`posterior_frame`) with their provenance stamp, ready to write.

        Parameters
        ----------
        stamp : Stamp, optional
            What the calibration used; default: the packaged ``parameters.yaml`` and ``targets.csv`` as
            they are now (``cd7sim calibrate`` calibrates against those). Give the stamp taken when the
            inputs were read to guard against files edited during a long calibration, or the stamp of
            other files for a calibration against them.
        """
        return Posterior(self.posterior_frame(), stamp if stamp is not None else Stamp.of(DEFAULT_PARAMETERS_PATH, TARGETS_PATH))

    def fit_frame(self) -> pd.DataFrame:
        """Every target beside the model's prior and posterior expected probability (mean, 95% interval)."""
        prior, posterior = self.expected[:self.prior_draws], self.expected[self.posterior_index]
        rows = []
        for j, t in enumerate(self.targets):
            low, high = np.nanpercentile(posterior[:, j], [2.5, 97.5])
            rows.append({
                "study": t.study, "metric": t.metric, "evidence_id": t.evidence_id, "reported": t.modelled_value,
                "reported_lower": t.lower, "reported_upper": t.upper, "n": t.n, "likelihood": t.likelihood,
                "prior_mean": float(np.nanmean(prior[:, j])), "posterior_mean": float(np.nanmean(posterior[:, j])),
                "posterior_lower": float(low), "posterior_upper": float(high),
            })
        return pd.DataFrame(rows)

    def identifiability_frame(self) -> pd.DataFrame:
        """Which parameters the targets inform: prior vs posterior mean and spread."""
        prior, posterior = self.draws[:self.prior_draws], self.draws[self.posterior_index]
        prior_sd, posterior_sd = prior.std(axis=0), posterior.std(axis=0)
        ratio = np.divide(posterior_sd, prior_sd, out=np.ones_like(prior_sd), where=prior_sd > 0)
        return pd.DataFrame({
            "parameter": self.names, "prior_mean": prior.mean(axis=0), "prior_sd": prior_sd,
            "posterior_mean": posterior.mean(axis=0), "posterior_sd": posterior_sd, "sd_ratio": ratio,
            "informed": ratio < INFORMED_SD_RATIO,
        }).sort_values("sd_ratio", kind="stable").reset_index(drop=True)


def calibrate(
    params: ParameterSet,
    studies: dict[str, Scenario],
    targets: list[Target],
    prior_draws: int = DEFAULT_PRIOR_DRAWS,
    stages: int = DEFAULT_STAGES,
    stage_draws: int = DEFAULT_STAGE_DRAWS,
    posterior_draws: int = DEFAULT_POSTERIOR_DRAWS,
    seed: int = 2024,
    executor: Executor | None = None,
    on_done: Progress = None,
    icc_prior: IccPrior | None = ICC_PRIOR,
) -> Calibration:
    """Run the calibration (AMIS, then resampling).

    Parameters
    ----------
    params : ParameterSet
        Priors (the registry) and the values of fixed parameters.
    studies : dict of str to Scenario
        Study replays by name.
    targets : list of Target
    prior_draws : int
        Latin-hypercube draws from the prior (stage 0).
    stages, stage_draws : int
        Adaptive stages after stage 0, and draws per stage.
    posterior_draws : int
        Posterior draws to resample.
    seed : int
        Makes every draw and the resampling reproducible.
    executor : Executor, optional
        Where blocks of draws are simulated (default serially).
    on_done : callable, optional
        Called after each block of draws (progress).
    icc_prior : IccPrior, optional
        Prior of the between-study intra-class correlation (default
        :data:`sim.calibration.heterogeneity.ICC_PRIOR`); None for the binomial likelihood throughout (no
        between-study variation; the posterior then has no ``between_study_icc`` column).
    """
    check_budget(prior_draws, stages, stage_draws, posterior_draws)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    names = uncertain_parameters(params)
    _prepare(params, studies)
    z = _logit(qmc.LatinHypercube(d=len(names), seed=rng).random(prior_draws))
    values, loglik, expected = _log_likelihood_at(params, names, z, studies, targets, executor, on_done, icc_prior)
    adaptive = _informative_dimensions(z, loglik)
    value_blocks, expected_blocks = [values], [expected]
    proposals: list[tuple[int, np.ndarray, np.ndarray]] = []
    for _ in range(stages):
        weights = _amis_weights(z[:, adaptive], loglik, prior_draws, proposals)
        mean, covariance = _proposal(z[:, adaptive], weights)
        proposals.append((stage_draws, mean, covariance))
        new = _logit(np.clip(rng.random((stage_draws, len(names))), 1e-12, 1 - 1e-12))
        new[:, adaptive] = _draw_proposal(rng, mean, covariance, stage_draws)
        new_values, new_loglik, new_expected = _log_likelihood_at(params, names, new, studies, targets, executor, on_done,
                                                                  icc_prior)
        z, loglik = np.vstack([z, new]), np.concatenate([loglik, new_loglik])
        value_blocks.append(new_values)
        expected_blocks.append(new_expected)
    weights = _amis_weights(z[:, adaptive], loglik, prior_draws, proposals)
    values = np.vstack(value_blocks)
    index = systematic_resample(weights, posterior_draws, rng)
    expected = np.vstack(expected_blocks)
    icc = None if icc_prior is None else draw_icc(expected[index], targets, rng, icc_prior)
    return Calibration(names, values, expected, loglik, weights / weights.sum(), index,
                       prior_draws, targets, seed, time.perf_counter() - started, icc)


def check_budget(prior_draws: int, stages: int, stage_draws: int, posterior_draws: int) -> None:
    """Refuse, before anything runs, a calibration budget beyond :data:`sim.inputs.limits.MAX_CALIBRATION_DRAWS`.

    Raises
    ------
    InputError
        Naming the command line's option (or the sum of draws simulated) and the bound.
    """
    most = f"at most {MAX_CALIBRATION_DRAWS:,} is allowed"
    if prior_draws > MAX_CALIBRATION_DRAWS:
        raise InputError("--prior-draws", prior_draws, most)
    if posterior_draws > MAX_CALIBRATION_DRAWS:
        raise InputError("--posterior-draws", posterior_draws, most)
    simulated = simulated_draws(prior_draws, stages, stage_draws)
    if simulated > MAX_CALIBRATION_DRAWS:
        raise InputError("--prior-draws + --stages x --stage-draws", simulated,
                         f"{most} (draws simulated in all; each takes about 10 ms on one core)")


def _informative_dimensions(z: np.ndarray, loglik: np.ndarray) -> np.ndarray:
    """Parameters whose prior draws correlate with the likelihood (Spearman, beyond 2.5 standard errors).

    Only these are adapted; the others are always drawn from their prior, so their density ratio
    cancels from the importance weights (importance sampling in all ~70 dimensions would collapse).
    """
    rho = stats.spearmanr(z, loglik[:, None]).statistic[-1, :-1]
    threshold = 2.5 / np.sqrt(z.shape[0])
    return np.flatnonzero(np.abs(rho) > threshold)


DEFENSIVE_PRIOR_SHARE = 0.1
COVARIANCE_INFLATION = 1.5
PROPOSAL_ELITE = 300


def _logit(u: np.ndarray) -> np.ndarray:
    return np.log(u) - np.log1p(-u)


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _values(params: ParameterSet, names: list[str], unit: np.ndarray) -> np.ndarray:
    """Parameter values at prior quantiles ``unit`` (one column per parameter)."""
    unit = np.clip(unit, 1e-12, 1 - 1e-12)
    return np.column_stack([_quantiles(params.registry[name].distribution, unit[:, j]) for j, name in enumerate(names)])


def _quantiles(distribution: Distribution, unit: np.ndarray) -> np.ndarray:
    if isinstance(distribution, FixedDist):
        raise AssertionError("fixed parameters have no quantiles")  # uncertain_parameters leaves them out
    return distribution.ppf(unit)


def _log_likelihood_at(
    params: ParameterSet, names: list[str], z: np.ndarray, studies: dict[str, Scenario], targets: list[Target],
    executor: Executor | None, on_done: Progress, icc_prior: IccPrior | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameter values, marginal log-likelihood (the intra-class correlation integrated out) and expected
    target probabilities of the draws ``z`` (logit prior quantiles)."""
    values = _values(params, names, _expit(z))
    return values, *evaluate(params, names, values, studies, targets, executor, on_done, icc_prior)


def _log_prior(z: np.ndarray) -> np.ndarray:
    """Log density of the prior in ``z = logit(u)`` space: a product of standard logistic densities."""
    return (-z - 2.0 * np.log1p(np.exp(-z))).sum(axis=1)


def _amis_weights(z: np.ndarray, loglik: np.ndarray, prior_draws: int,
                  proposals: list[tuple[int, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Importance weights of every draw against the deterministic mixture of all proposals so far."""
    log_prior = _log_prior(z)
    total = prior_draws + sum(count for count, _, _ in proposals)
    components = [np.log(prior_draws / total) + log_prior]
    for count, mean, covariance in proposals:
        log_q = np.logaddexp(np.log(DEFENSIVE_PRIOR_SHARE) + log_prior,
                             np.log(1 - DEFENSIVE_PRIOR_SHARE) + stats.multivariate_normal(mean, covariance).logpdf(z))
        components.append(np.log(count / total) + log_q)
    log_weight = loglik + log_prior - np.logaddexp.reduce(np.stack(components), axis=0)
    return np.exp(log_weight - log_weight.max())


def _proposal(z: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian fitted to the ``PROPOSAL_ELITE`` draws of highest weight (equally weighted), covariance
    inflated: broader and steadier than a weighted fit when few draws carry the weight."""
    elite = z[np.argsort(weights)[-PROPOSAL_ELITE:]]
    mean = elite.mean(axis=0)
    covariance = np.atleast_2d(np.cov(elite, rowvar=False))
    covariance = 0.9 * covariance + 0.1 * np.diag(np.diag(covariance)) + 1e-6 * np.eye(z.shape[1])
    return mean, COVARIANCE_INFLATION * covariance


def _draw_proposal(rng: np.random.Generator, mean: np.ndarray, covariance: np.ndarray, draws: int) -> np.ndarray:
    """Draws from the defensive mixture: the prior with probability ``DEFENSIVE_PRIOR_SHARE``, else the Gaussian."""
    from_prior = rng.random(draws) < DEFENSIVE_PRIOR_SHARE
    gaussian = rng.multivariate_normal(mean, covariance, size=draws, method="cholesky")
    prior = _logit(np.clip(rng.random((draws, mean.size)), 1e-12, 1 - 1e-12))
    return np.where(from_prior[:, None], prior, gaussian)


