"""Endpoints, each defined once over the patients table: response, toxicity, transplant, survival
(OS, PFS, DFS from infusion; OS, LFS, NRM, CIR from HSCT; OS from enrolment), CD7-negative relapse and
the shares lost while waiting; and the summary table of a run.

This module reads the patients table only (the columns of `sim.inputs.codes.PATIENT_COLUMNS`), never engine
internals. All days in the table count from the patient's enrolment; endpoints move the time origin
to infusion (index treatment), to HSCT or keep enrolment, as each metric states.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import pandas as pd

from sim.inputs.codes import (
    CR_RESPONSES,
    PATIENT_COLUMNS,
    SUMMARY_COLUMNS,
    WAITING_EXITS,
)
from sim.outcomes.estimators import (
    Estimate,
    cumulative_incidence,
    kaplan_meier,
    median_with_ci,
    proportion,
    replication_interval,
)

_NAN = float("nan")
SIX_MONTHS_DAYS = 182.625
ONE_YEAR_DAYS = 365.25
TWO_YEARS_DAYS = 730.5

METRICS: tuple[str, ...] = (
    "n_patients", "infused_rate",
    "cr_rate", "mrd_neg_cr_rate", "crs_any", "crs_grade3plus", "icans_any", "hsct_rate",
    "median_days_infusion_to_hsct",
    "agvhd_grade2plus", "agvhd_grade3plus", "cgvhd",
    "os_6m", "os_1y", "os_2y", "pfs_6m", "pfs_1y", "median_os_days", "median_pfs_days",
    "dfs_1y",
    "os_post_hsct_2y", "lfs_post_hsct_2y", "nrm_post_hsct_2y", "cir_post_hsct_2y",
    "itt_os_1y", "itt_os_2y",
    "relapse_cd7_negative_share",
    "dropout_while_waiting", "relapse_while_waiting", "death_while_waiting",
)
"""Metrics of `summarise`, in output order. The last three are shares of the patients enrolled who
left the pathway from a queue (for a scarce resource, see ``waiting_for``) by progression before
infusion, relapse before HSCT or death."""


@dataclass(frozen=True)
class _Cohort:
    """The patients of one strategy and replication as numpy arrays; days from enrolment, ``NaN`` = none."""

    infused: np.ndarray
    infusion_day: np.ndarray
    crs_grade: np.ndarray
    icans_grade: np.ndarray
    in_cr: np.ndarray
    mrd_negative_cr: np.ndarray
    no_response_day: np.ndarray
    hsct: np.ndarray
    hsct_day: np.ndarray
    agvhd_grade: np.ndarray
    cgvhd: np.ndarray
    relapse: np.ndarray
    relapse_day: np.ndarray
    relapse_cd7_negative: np.ndarray
    death: np.ndarray
    death_day: np.ndarray
    last_day: np.ndarray
    waiting_exit: np.ndarray

    @classmethod
    def from_frame(cls, patients: pd.DataFrame) -> _Cohort:
        """Arrays from a patients table; event days are ``NaN`` where the event flag is False."""
        def days(column: str) -> np.ndarray:
            return patients[column].to_numpy(dtype=float, na_value=_NAN)

        def flags(column: str) -> np.ndarray:
            return patients[column].to_numpy(dtype=bool)

        response = patients["response"]
        relapse, death = flags("relapse"), flags("death")
        return cls(
            infused=flags("infused"),
            infusion_day=days("infusion_day"),
            crs_grade=patients["crs_grade"].to_numpy(dtype=int),
            icans_grade=patients["icans_grade"].to_numpy(dtype=int),
            in_cr=response.isin(CR_RESPONSES).to_numpy(dtype=bool),
            mrd_negative_cr=(response == "cr_mrd_neg").to_numpy(dtype=bool),
            no_response_day=np.where(
                (response == "no_response").to_numpy(dtype=bool), days("response_day"), _NAN,
            ),
            hsct=flags("hsct"),
            hsct_day=days("hsct_day"),
            agvhd_grade=patients["agvhd_grade"].to_numpy(dtype=int),
            cgvhd=flags("cgvhd"),
            relapse=relapse,
            relapse_day=np.where(relapse, days("relapse_day"), _NAN),
            relapse_cd7_negative=flags("relapse_cd7_negative"),
            death=death,
            death_day=np.where(death, days("death_day"), _NAN),
            last_day=days("last_day"),
            waiting_exit=patients["waiting_exit"].astype(str).to_numpy(),
        )

    @property
    def size(self) -> int:
        """Number of patients."""
        return int(self.infused.size)

    def subset(self, selection: np.ndarray) -> _Cohort:
        """The patients picked by a boolean mask or an index array."""
        return _Cohort(**{field.name: getattr(self, field.name)[selection] for field in fields(self)})


def _time_to_first_event(
    origin: np.ndarray, last_day: np.ndarray, *event_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Time from ``origin`` to the first of ``event_days`` (``NaN`` = none), else to ``last_day``.

    Returns
    -------
    tuple of numpy.ndarray
        Time (days) and the event flag (False = censored at ``last_day``).
    """
    first = np.fmin.reduce(np.vstack(event_days), axis=0)
    event = np.isfinite(first)
    return np.where(event, first, last_day) - origin, event


class _Count(NamedTuple):
    """A proportion kept as counts until it is known whether its own interval is needed."""

    successes: int
    trials: int


def _rate(flags: np.ndarray) -> _Count:
    """Number of True values among all values."""
    return _Count(int(np.count_nonzero(flags)), int(flags.size))


def _as_estimate(value: Estimate | _Count, own_intervals: bool) -> Estimate:
    """An estimate; a count becomes a proportion, with its Wilson interval if ``own_intervals``."""
    if not isinstance(value, _Count):
        return value
    if own_intervals or value.trials == 0:
        return proportion(value.successes, value.trials)
    return Estimate(value.successes / value.trials, _NAN, _NAN)


def _response_and_toxicity(infused: _Cohort) -> dict[str, Estimate | _Count]:
    """Rates among infused patients, and the time from infusion to HSCT among those transplanted."""
    transplanted = infused.subset(infused.hsct)
    return {
        "cr_rate": _rate(infused.in_cr),
        "mrd_neg_cr_rate": _rate(infused.mrd_negative_cr),
        "crs_any": _rate(infused.crs_grade >= 1),
        "crs_grade3plus": _rate(infused.crs_grade >= 3),
        "icans_any": _rate(infused.icans_grade >= 1),
        "hsct_rate": _rate(infused.hsct),
        "median_days_infusion_to_hsct": median_with_ci(transplanted.hsct_day - transplanted.infusion_day),
    }


def _overall_survival_times(infused: _Cohort) -> tuple[np.ndarray, np.ndarray]:
    """Days from infusion to death or censoring, and the death flag."""
    return _time_to_first_event(infused.infusion_day, infused.last_day, infused.death_day)


def _disease_free_survival_times(infused: _Cohort) -> tuple[np.ndarray, np.ndarray]:
    """Among patients in CR: days from infusion to relapse, death or censoring, and the event flag."""
    responders = infused.subset(infused.in_cr)
    return _time_to_first_event(
        responders.infusion_day, responders.last_day, responders.relapse_day, responders.death_day,
    )


def overall_survival_times(patients: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Overall survival data among infused patients, from infusion (start of the index treatment).

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table (columns of `sim.inputs.codes.PATIENT_COLUMNS`).

    Returns
    -------
    tuple of numpy.ndarray
        Days from infusion to death or censoring, and the death flag, one entry per infused patient.
    """
    cohort = _Cohort.from_frame(patients)
    return _overall_survival_times(cohort.subset(cohort.infused))


def disease_free_survival_times(patients: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Disease-free survival data among infused patients in CR, from infusion.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table (columns of `sim.inputs.codes.PATIENT_COLUMNS`).

    Returns
    -------
    tuple of numpy.ndarray
        Days from infusion to relapse, death or censoring, and the event flag, one entry per infused
        patient in CR (MRD-negative or positive).
    """
    cohort = _Cohort.from_frame(patients)
    return _disease_free_survival_times(cohort.subset(cohort.infused))


def _survival_from_infusion(infused: _Cohort) -> dict[str, Estimate]:
    """OS, PFS (non-response at assessment, relapse or death) and DFS (among CR) from infusion."""
    overall = kaplan_meier(*_overall_survival_times(infused))
    progression_free = kaplan_meier(*_time_to_first_event(
        infused.infusion_day, infused.last_day, infused.no_response_day, infused.relapse_day, infused.death_day,
    ))
    disease_free = kaplan_meier(*_disease_free_survival_times(infused))
    return {
        "os_6m": overall.estimate_at(SIX_MONTHS_DAYS),
        "os_1y": overall.estimate_at(ONE_YEAR_DAYS),
        "os_2y": overall.estimate_at(TWO_YEARS_DAYS),
        "pfs_6m": progression_free.estimate_at(SIX_MONTHS_DAYS),
        "pfs_1y": progression_free.estimate_at(ONE_YEAR_DAYS),
        "median_os_days": overall.median(),
        "median_pfs_days": progression_free.median(),
        "dfs_1y": disease_free.estimate_at(ONE_YEAR_DAYS),
    }


def _after_transplant(transplanted: _Cohort) -> dict[str, Estimate | _Count]:
    """GVHD rates and OS, LFS, NRM and relapse incidence from HSCT among transplanted patients."""
    origin = transplanted.hsct_day
    relapse_day = np.where(transplanted.relapse_day >= origin, transplanted.relapse_day, _NAN)
    overall = kaplan_meier(*_time_to_first_event(origin, transplanted.last_day, transplanted.death_day))
    time, event = _time_to_first_event(origin, transplanted.last_day, relapse_day, transplanted.death_day)
    relapsed = np.isfinite(relapse_day) & ~(transplanted.death_day < relapse_day)
    cause = np.where(event, np.where(relapsed, 1, 2), 0)
    return {
        "agvhd_grade2plus": _rate(transplanted.agvhd_grade >= 2),
        "agvhd_grade3plus": _rate(transplanted.agvhd_grade >= 3),
        "cgvhd": _rate(transplanted.cgvhd),
        "os_post_hsct_2y": overall.estimate_at(TWO_YEARS_DAYS),
        "lfs_post_hsct_2y": kaplan_meier(time, event).estimate_at(TWO_YEARS_DAYS),
        "nrm_post_hsct_2y": cumulative_incidence(time, cause, 2).estimate_at(TWO_YEARS_DAYS),
        "cir_post_hsct_2y": cumulative_incidence(time, cause, 1).estimate_at(TWO_YEARS_DAYS),
    }


def _cohort_metrics(cohort: _Cohort, own_intervals: bool) -> list[Estimate]:
    """Every metric of `METRICS`, in order, for one strategy and replication.

    Proportions get their Wilson interval only if ``own_intervals``; survival estimates always carry
    theirs.
    """
    infused = cohort.subset(cohort.infused)
    enrolment = np.zeros(cohort.size)
    intention_to_treat = kaplan_meier(*_time_to_first_event(enrolment, cohort.last_day, cohort.death_day))
    metrics = {
        "n_patients": Estimate(float(cohort.size), _NAN, _NAN),
        "infused_rate": _rate(cohort.infused),
        **_response_and_toxicity(infused),
        **_survival_from_infusion(infused),
        **_after_transplant(cohort.subset(cohort.hsct)),
        "itt_os_1y": intention_to_treat.estimate_at(ONE_YEAR_DAYS),
        "itt_os_2y": intention_to_treat.estimate_at(TWO_YEARS_DAYS),
        "relapse_cd7_negative_share": _rate(cohort.relapse_cd7_negative[cohort.relapse]),
        **{f"{exit_}_while_waiting": _rate(cohort.waiting_exit == exit_) for exit_ in WAITING_EXITS[1:]},
    }
    return [_as_estimate(metrics[name], own_intervals) for name in METRICS]


def _groups(patients: pd.DataFrame) -> Iterator[tuple[str, str, list[np.ndarray]]]:
    """(scenario, strategy, row indices per replication) in order of first appearance of each pair."""
    scenario_code, scenarios = pd.factorize(patients["scenario"])
    strategy_code, strategies = pd.factorize(patients["strategy"])
    pair_code, pairs = pd.factorize(scenario_code * len(strategies) + strategy_code)
    replication_code, replications = pd.factorize(patients["replication"])
    group = pair_code * len(replications) + replication_code
    order = np.argsort(group, kind="stable")
    chunks = np.split(order, np.flatnonzero(np.diff(group[order])) + 1) if order.size else []
    for code, chunk_group in itertools.groupby(chunks, key=lambda rows: pair_code[rows[0]]):
        pair = pairs[code]
        scenario, strategy = scenarios[pair // len(strategies)], strategies[pair % len(strategies)]
        yield str(scenario), str(strategy), list(chunk_group)


def summarise(patients: pd.DataFrame) -> pd.DataFrame:
    """Summary endpoints per scenario and strategy.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (columns of `sim.inputs.codes.PATIENT_COLUMNS`); days count from enrolment.

    Returns
    -------
    pandas.DataFrame
        Columns `sim.inputs.codes.SUMMARY_COLUMNS`, one row per (scenario, strategy, metric of `METRICS`),
        pairs in order of first appearance. Proportions are fractions 0–1, times are days. With one
        replication the interval is each estimator's own 95% CI (Wilson, Kaplan–Meier log-log,
        Aalen–Johansen log(-log), order-statistic for the median time to HSCT, Brookmeyer–Crowley for
        median survival; none for ``n_patients``). With several replications the estimate is the mean
        of the per-replication values and the interval the Monte Carlo 95% CI of that mean
        (see `replication_interval`). Empty denominators give ``NaN``.
    """
    missing = [column for column in PATIENT_COLUMNS if column not in patients.columns]
    if missing:
        raise ValueError(f"patients table lacks columns {missing}")
    cohort = _Cohort.from_frame(patients)
    records = []
    for scenario, strategy, replications in _groups(patients):
        per_replication = [_cohort_metrics(cohort.subset(rows), len(replications) == 1) for rows in replications]
        if len(per_replication) == 1:
            estimates = per_replication[0]
        else:
            estimates = [
                replication_interval([values[i].estimate for values in per_replication]) for i in range(len(METRICS))
            ]
        records += [(scenario, strategy, metric, *estimate) for metric, estimate in zip(METRICS, estimates)]
    return pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS)).astype(
        {"estimate": float, "lower": float, "upper": float},
    )
