"""Posterior predictive check: each study replayed at its own size, under posterior draws.

For every posterior draw (a different set of simulated patients each time) each study is replayed
with its own sample size, selection and follow-up, and the study's own estimator is applied
(proportions, Kaplan–Meier, Aalen–Johansen, Kaplan–Meier medians). The spread of those estimates is
what the model says the study could have reported; the reported value should lie inside its 95%
interval. Small studies give wide intervals: that is the point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.studies import StudyCohort, Target, study_estimate
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Scenario
from sim.simulation.parallel import Executor, Progress, SerialExecutor, chunks

VALIDATION_FILE = "validation.csv"
"""The table ``cd7sim validate`` writes."""
PATIENTS_PER_REPORTED = 25
"""Simulated patients per reported patient (enough for selective studies such as Cao's)."""


def _study_patients(scenario: Scenario) -> int:
    assert scenario.patients is not None and scenario.study is not None, "a study replay: a closed cohort with a study section"
    return min(scenario.patients, PATIENTS_PER_REPORTED * scenario.study.size)


def _predict_task(task: tuple[ParameterSet, list[tuple[int, dict[str, float]]], dict[str, Scenario], list[Target]]) -> np.ndarray:
    base, rows, studies, targets = task
    estimates = np.empty((len(rows), len(targets)))
    for i, (draw, values) in enumerate(rows):
        params = base.with_values(values)
        for name, scenario in studies.items():
            assert scenario.study is not None, "a study replay has a study section (load_studies)"
            cohort = StudyCohort.draw(scenario, replication=1 + draw, patients=_study_patients(scenario))
            columns = cohort.simulate(params)
            end = cohort.follow_up_end(columns)
            for j, target in enumerate(targets):
                if target.study == name:
                    estimates[i, j] = study_estimate(columns, end, target, scenario.study.size)
    return estimates


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
        Posterior draws (``calibration/posterior.parquet``).
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
    rows = [(int(i), dict(zip(names, posterior.iloc[i][names].astype(float)))) for i in picked]
    tasks = [(base, list(block), studies, targets) for block in chunks(rows, 10)]
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
