"""Posterior predictive check: each study replayed as a new cohort at its own size, under posterior draws.

For every posterior draw (a different set of simulated patients each time) each study is replayed
with its own sample size, selection and follow-up, and the study's own estimator is applied
(proportions, Kaplan–Meier, Aalen–Johansen, Kaplan–Meier medians). Each study is a new cohort from
another centre: for a rate that varies between studies, the cohort's own true rate is first drawn from
the between-study distribution around the model's (Beta with the draw's intra-class correlation; see
:mod:`sim.calibration.heterogeneity`), then its count (:class:`sim.calibration.studies.CohortRate`).
The spread of those estimates is what the model says a study like it could have reported; the reported
value should lie inside its 95% interval. Small studies and heterogeneous rates give wide intervals:
that is the point.

Each draw's intra-class correlation comes from the posterior's :data:`ICC_COLUMN`; a posterior without
it (calibrated before the beta-binomial likelihood) gets one drawn from the prior for each draw.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.heterogeneity import ICC_COLUMN, ICC_PRIOR, between_study, draw_cohort_rate
from sim.calibration.studies import (
    CohortRate,
    Replay,
    StudyCohort,
    Target,
    expected_probabilities,
    expected_probability,
    study_estimates,
)
from sim.disease.draws import uniform_stream
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Scenario
from sim.outcomes.endpoints import Columns
from sim.simulation.parallel import Executor, Progress, SerialExecutor, chunks

VALIDATION_FILE = "validation.csv"
"""The table ``cd7sim validate`` writes."""
PATIENTS_PER_REPORTED = 25
"""Simulated patients per reported patient (enough for selective studies such as Cao's)."""
DRAWS_PER_TASK = 10
"""Posterior draws replayed per task (one progress step)."""


def _study_patients(scenario: Scenario) -> int:
    assert scenario.patients is not None and scenario.study is not None, "a study replay: a closed cohort with a study section"
    return min(scenario.patients, PATIENTS_PER_REPORTED * scenario.study.size)


PRIOR_ICC_SEED = 11
"""Seed of the intra-class correlations drawn from the prior for a posterior that has none."""

PredictRow = tuple[int, dict[str, float], float]
"""A posterior draw to replay: its number, its parameter values and its intra-class correlation."""


def cohort_rate(columns: Columns, target: Target, icc: float, seed: int, replication: int,
                expected: float | None = None) -> CohortRate:
    """The new cohort's own true rate for ``target``: drawn from the between-study distribution around the
    model's probability in ``columns`` (the whole simulated population, complete follow-up) when the
    target's rate varies between studies, else the model's probability itself.

    Parameters
    ----------
    columns : Columns
        The simulated study (:meth:`StudyCohort.simulate`).
    target : Target
    icc : float
        Intra-class correlation of the draw (0-1).
    seed, replication : int
        The study's seed and the replication replayed: with the target's label and time point they key
        the random numbers, so the same target gets the same numbers in any run, serial or parallel.
    expected : float, optional
        The model's probability for ``target`` in ``columns`` when already computed
        (:func:`~sim.calibration.studies.expected_probabilities`; default: computed here).
    """
    if expected is None:
        expected = expected_probability(columns, target)
    key = f"{target.label}@{target.time_days}"
    rng = np.random.default_rng(np.random.SeedSequence([seed, replication, zlib.crc32(f"cohort rate {key}".encode())]))
    rate = draw_cohort_rate(expected, icc if between_study(target.metric) else 0.0, rng)
    return CohortRate(expected, rate, uniform_stream(seed, replication, f"u_cohort {key}", len(columns["selected"])))


def _predict_task(task: tuple[ParameterSet, list[PredictRow], dict[str, Scenario], list[Target]]) -> np.ndarray:
    base, rows, studies, targets = task
    estimates = np.full((len(rows), len(targets)), np.nan)
    replays: dict[int, list[Replay]] = {j: [] for j in range(len(targets))}
    for draw, values, icc in rows:
        params = base.with_values(values)
        for name, scenario in studies.items():
            replication = 1 + draw
            cohort = StudyCohort.draw(scenario, replication=replication, patients=_study_patients(scenario))
            columns = cohort.simulate(params)
            end = cohort.follow_up_end(columns)
            own = [j for j, target in enumerate(targets) if target.study == name]
            for j, expected in zip(own, expected_probabilities(columns, [targets[j] for j in own])):
                replays[j].append((columns, end, cohort_rate(columns, targets[j], icc, scenario.seed, replication, float(expected))))
    for j, target in enumerate(targets):  # every draw's replay of a target's study estimated together
        if not replays[j]:
            continue
        study = studies[target.study].study
        assert study is not None, "a study replay has a study section (load_studies)"
        estimates[:, j] = study_estimates(replays[j], target, study.size)
    return estimates


def draw_iccs(posterior: pd.DataFrame, picked: np.ndarray) -> np.ndarray:
    """The intra-class correlation of each picked posterior draw: the posterior's own column, or (a
    posterior without one) draws from the prior, the same for the same rows."""
    if ICC_COLUMN in posterior.columns:
        return posterior[ICC_COLUMN].to_numpy(dtype=float)[picked]
    u = np.random.default_rng(PRIOR_ICC_SEED).random(len(posterior))
    return ICC_PRIOR.ppf(u[picked])


def posterior_predictive(
    posterior: pd.DataFrame,
    base: ParameterSet,
    studies: dict[str, Scenario],
    targets: list[Target],
    draws: int = 200,
    executor: Executor | None = None,
    on_done: Progress = None,
) -> pd.DataFrame:
    """Replay every study under ``draws`` posterior draws and compare with what was reported.

    Parameters
    ----------
    posterior : pandas.DataFrame
        Posterior draws (``calibration/posterior.parquet``); its ``between_study_icc`` column, if any,
        gives each draw's intra-class correlation (else drawn from the prior).
    base : ParameterSet
        Registry and values of the parameters not in the posterior.
    studies, targets
        Study replays and calibration targets.
    draws : int
        Posterior draws used (evenly spaced through the sample).

    Returns
    -------
    pandas.DataFrame
        One row per target: ``study, metric, subgroup, evidence_id, n, reported, reported_lower,
        reported_upper, predicted_mean, predicted_lower, predicted_upper, defined_share, inside``.
    """
    names = [c for c in posterior.columns if c in base.registry]
    picked = np.linspace(0, len(posterior) - 1, min(draws, len(posterior))).round().astype(int)
    iccs = draw_iccs(posterior, picked)
    rows: list[PredictRow] = [(int(i), dict(zip(names, posterior.iloc[i][names].astype(float))), float(icc))
                              for i, icc in zip(picked, iccs)]
    tasks = [(base, list(block), studies, targets) for block in chunks(rows, DRAWS_PER_TASK)]
    estimates = np.vstack((executor or SerialExecutor()).map(_predict_task, tasks, on_done))
    records = []
    for j, t in enumerate(targets):
        values = estimates[:, j]
        defined = values[~np.isnan(values)]
        low, high = np.percentile(defined, [2.5, 97.5]) if defined.size else (np.nan, np.nan)
        records.append({
            "study": t.study, "metric": t.metric, "subgroup": t.subgroup or "", "evidence_id": t.evidence_id, "n": t.n,
            "reported": t.value,
            "reported_lower": t.lower, "reported_upper": t.upper,
            "predicted_mean": float(defined.mean()) if defined.size else np.nan,
            "predicted_lower": float(low), "predicted_upper": float(high),
            "defined_share": defined.size / values.size,
            "inside": bool(low - 1e-9 <= t.value <= high + 1e-9),
        })
    return pd.DataFrame(records)


def predictive_blocks(draws: int, posterior_draws: int) -> int:
    """Tasks (progress steps) of :func:`posterior_predictive` with ``draws`` of ``posterior_draws``."""
    return -(-min(draws, posterior_draws) // DRAWS_PER_TASK)


def format_validation(table: pd.DataFrame) -> str:
    """Printed table of the posterior predictive check, ending with ``N of M targets inside``."""
    lines = [f"{'study':<14}{'metric':<34}{'n':>5}  {'reported':>17}  {'model mean (95% interval)':>30}  inside"]
    r: Any  # a row of the table (columns of posterior_predictive)
    for r in table.itertuples():
        ci = f" ({r.reported_lower:.3g}–{r.reported_upper:.3g})" if pd.notna(r.reported_lower) else ""
        reported = f"{r.reported:.3g}{ci}"
        model = f"{r.predicted_mean:.3g} ({r.predicted_lower:.3g}–{r.predicted_upper:.3g})"
        metric = f"{r.metric} [{r.subgroup}]" if isinstance(r.subgroup, str) and r.subgroup else r.metric
        lines.append(f"{r.study:<14}{metric:<34}{r.n:>5}  {reported:>17}  {model:>30}  {'yes' if r.inside else 'NO'}")
    lines.append(f"{int(table.inside.sum())} of {len(table)} targets inside")
    return "\n".join(lines)
