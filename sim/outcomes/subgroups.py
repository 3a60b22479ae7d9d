"""Subgroups of the patients, each dimension defined once, and the headline endpoints by subgroup.

A subgroup dimension (`DIMENSIONS`, one per name of `sim.inputs.codes.SUBGROUPS`) splits the patients
by an attribute they have at enrolment, the same under every strategy, into levels:

- ``disease``: AML, T-ALL, T-LBL (`sim.inputs.codes.DISEASES`);
- ``age_band``: age at enrolment (years) ≤ 14 (under 15), 15–39, 40–59, ≥ 60;
- ``status``: primary refractory or relapsed disease (``primary_refractory``);
- ``blasts``: marrow blasts before treatment ≤ 20% or > 20% (``marrow_blasts``, percent).

`summarise_subgroups` reports the headline endpoints (`sim.outcomes.endpoints.HEADLINE_METRICS`) of
every level with the summary's own estimators and intervals (`sim.outcomes.endpoints.cohort_estimates`),
computed on the level's patients only: what `sim.outcomes.endpoints.summarise` gives for that subset of
the patients table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.inputs.codes import DISEASES, SUBGROUP_COLUMNS, SUBGROUPS
from sim.outcomes.endpoints import HEADLINE_METRICS, cohort_estimates, patient_columns, strategy_groups

NO_LEVEL = -1
"""Level code of a patient in no level of a dimension (a missing or unknown value)."""


@dataclass(frozen=True)
class Dimension:
    """A subgroup dimension: the column of the patients table it reads and the levels it makes of it.

    Attributes
    ----------
    column : str
        Column of the patients table (`sim.inputs.codes.PATIENT_COLUMNS`).
    levels : tuple of str
        Labels of the levels, in output order.
    classify : callable
        ``classify(values) -> codes``: for the column's values (a pandas Series), the position of each
        patient's level in ``levels`` (int array), `NO_LEVEL` for a missing or unknown value.
    """

    column: str
    levels: tuple[str, ...]
    classify: Callable[[pd.Series], np.ndarray]

    def codes(self, patients: pd.DataFrame) -> np.ndarray:
        """Each patient's level: its position in ``levels``, `NO_LEVEL` for none (int array)."""
        return self.classify(patients[self.column])


def _bands(edges: tuple[float, ...], upper_inclusive: bool) -> Callable[[pd.Series], np.ndarray]:
    """Classify numbers into the bands between ascending ``edges`` (len(edges) + 1 bands).

    An edge belongs to the band above it, or, if ``upper_inclusive``, to the band below; ``NaN`` is
    in no band.
    """
    def classify(values: pd.Series) -> np.ndarray:
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        codes = np.searchsorted(edges, numbers, side="left" if upper_inclusive else "right")
        return np.where(np.isnan(numbers), NO_LEVEL, codes)
    return classify


def _categories(labels: tuple[str, ...]) -> Callable[[pd.Series], np.ndarray]:
    """Classify labels by their position in ``labels``; another label is in no level."""
    def classify(values: pd.Series) -> np.ndarray:
        return pd.Index(labels).get_indexer(pd.Index(values.astype(object)))
    return classify


def _primary_refractory_first(values: pd.Series) -> np.ndarray:
    """Level 0 for primary refractory disease (True), 1 for relapsed (False)."""
    return np.where(values.to_numpy(dtype=bool), 0, 1)


AGE_BAND_EDGES_YEARS: tuple[float, ...] = (15.0, 40.0, 60.0)
"""Ages at enrolment (years) where an age band starts: under 15, 15 to under 40, 40 to under 60, 60 on."""
AGE_BANDS: tuple[str, ...] = ("≤ 14", "15–39", "40–59", "≥ 60")
"""Labels of the age bands, in completed years."""
MARROW_BLASTS_CUT_PERCENT = 20.0
"""Marrow blasts (percent) where the lower blast level ends, inclusive: exactly 20% is ``≤ 20%``."""
BLAST_LEVELS: tuple[str, ...] = ("≤ 20%", "> 20%")
STATUS_LEVELS: tuple[str, ...] = ("primary refractory", "relapsed")

DIMENSIONS: dict[str, Dimension] = {
    "disease": Dimension("disease", DISEASES, _categories(DISEASES)),
    "age_band": Dimension("age", AGE_BANDS, _bands(AGE_BAND_EDGES_YEARS, upper_inclusive=False)),
    "status": Dimension("primary_refractory", STATUS_LEVELS, _primary_refractory_first),
    "blasts": Dimension("marrow_blasts", BLAST_LEVELS, _bands((MARROW_BLASTS_CUT_PERCENT,), upper_inclusive=True)),
}
"""Every subgroup dimension, by its name in `sim.inputs.codes.SUBGROUPS`, in that order."""


def summarise_subgroups(patients: pd.DataFrame) -> pd.DataFrame:
    """The headline endpoints per scenario, strategy, subgroup dimension and level.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (columns of `sim.inputs.codes.PATIENT_COLUMNS`); days count from enrolment.

    Returns
    -------
    pandas.DataFrame
        Columns `sim.inputs.codes.SUBGROUP_COLUMNS`: one row per (scenario, strategy) in order of first
        appearance, dimension (`SUBGROUPS` order), level (the dimension's order) and metric of
        `HEADLINE_METRICS`, every level present even without patients. ``patients`` is the number of
        the level's patients under that strategy, all replications together; ``estimate, lower, upper``
        are what `summarise` gives on those patients alone (fractions 0–1; with one replication the
        estimator's own 95% interval, with several the Monte Carlo 95% interval of the mean across
        replications). A level without patients, or whose population of a metric is empty, has ``NaN``.
    """
    columns = patient_columns(patients)
    levels = {name: DIMENSIONS[name].codes(patients) for name in SUBGROUPS}
    records = []
    for scenario, strategy, replications in strategy_groups(patients):
        for name in SUBGROUPS:
            for code, level in enumerate(DIMENSIONS[name].levels):
                members = [rows[levels[name][rows] == code] for rows in replications]
                estimates = cohort_estimates(columns, members, HEADLINE_METRICS)
                count = sum(rows.size for rows in members)
                records += [(scenario, strategy, name, level, count, metric, *estimate)
                            for metric, estimate in zip(HEADLINE_METRICS, estimates)]
    return pd.DataFrame.from_records(records, columns=list(SUBGROUP_COLUMNS)).astype(
        {"patients": int, "estimate": float, "lower": float, "upper": float},
    )
