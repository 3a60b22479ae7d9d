"""sim.outcomes.endpoints.summarise and format_headline on small hand-built patients tables."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.inputs.codes import PATIENT_COLUMNS, SUMMARY_COLUMNS, WAIT_COLUMNS
from sim.outcomes.endpoints import METRICS, summarise
from sim.outcomes.estimators import replication_interval
from sim.report.text import format_headline

NAN = float("nan")

DEFAULTS: dict[str, object] = {
    "scenario": "base", "strategy": "cart_hsct", "replication": 0, "disease": "T-ALL", "age": 30.0,
    "enrol_day": 0.0, "infused": True, "infusion_day": 10.0, "crs_grade": 0, "icans_grade": 0,
    "response": "cr_mrd_neg", "response_day": 38.0, "hsct": False, "hsct_day": NAN, "agvhd_grade": 0,
    "cgvhd": False, "relapse": False, "relapse_day": NAN, "relapse_cd7_negative": False, "death": False,
    "death_day": NAN, "death_cause": "none", "last_day": 1500.0, "chimerism": "none",
    **{column: NAN for column in WAIT_COLUMNS}, "waiting_for": "none", "waiting_exit": "none",
    "cart_source": "autologous", "donor_available": True, "prior_hsct": False, "primary_refractory": False,
    "marrow_blasts": 30.0, "cart_stay_days": 7.0, "icu_days": 0.0, "hsct_stay_days": NAN,
}
"""An infused patient in MRD-negative CR, alive and followed for 1500 days, who never queued."""


def patient(**changes: object) -> dict[str, object]:
    """One row of the patients table: the defaults with ``changes``; a death sets ``last_day``."""
    unknown = set(changes) - set(DEFAULTS)
    assert not unknown, f"unknown columns {unknown}"
    row = {**DEFAULTS, **changes}
    if row["death"] and "last_day" not in changes:
        row["last_day"] = row["death_day"]
    return row


def not_infused(**changes: object) -> dict[str, object]:
    """A patient who never started the index treatment."""
    return patient(infused=False, infusion_day=NAN, response="not_assessed", response_day=NAN, **changes)


def table(*rows: dict[str, object]) -> pd.DataFrame:
    """A patients table with the schema's columns; patient ids numbered per strategy and replication."""
    frame = pd.DataFrame(list(rows))
    frame["patient_id"] = frame.groupby(["strategy", "replication"]).cumcount()
    return frame[list(PATIENT_COLUMNS)]


def metric(summary: pd.DataFrame, name: str, strategy: str = "cart_hsct") -> pd.Series:
    """The summary row of one metric and strategy."""
    rows = summary[(summary["metric"] == name) & (summary["strategy"] == strategy)]
    assert len(rows) == 1
    return rows.iloc[0]


def quiet_summarise(patients: pd.DataFrame) -> pd.DataFrame:
    """`summarise` with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return summarise(patients)


def test_columns_metric_order_and_strategy_order():
    patients = table(patient(strategy="zeta"), patient(strategy="alpha"), patient(strategy="zeta"))
    patients["strategy"] = pd.Categorical(patients["strategy"], categories=["alpha", "zeta"])
    summary = quiet_summarise(patients)
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    assert list(summary["strategy"]) == ["zeta"] * len(METRICS) + ["alpha"] * len(METRICS)
    assert list(summary["metric"]) == list(METRICS) * 2
    assert metric(summary, "n_patients", "zeta")["estimate"] == 2
    assert metric(summary, "n_patients", "alpha")["estimate"] == 1


def test_rates_count_only_infused_patients_with_wilson_interval():
    patients = table(
        patient(response="cr_mrd_neg", crs_grade=3),
        patient(response="cr_mrd_pos", crs_grade=1, icans_grade=2),
        patient(response="no_response"),
        not_infused(crs_grade=4, icans_grade=4),
    )
    summary = quiet_summarise(patients)
    assert metric(summary, "n_patients")["estimate"] == 4
    assert metric(summary, "infused_rate")["estimate"] == pytest.approx(3 / 4)
    cr = metric(summary, "cr_rate")
    assert cr["estimate"] == pytest.approx(2 / 3)
    wilson = stats.binomtest(2, 3).proportion_ci(method="wilson")
    assert (cr["lower"], cr["upper"]) == pytest.approx((wilson.low, wilson.high))
    assert metric(summary, "mrd_neg_cr_rate")["estimate"] == pytest.approx(1 / 3)
    assert metric(summary, "crs_any")["estimate"] == pytest.approx(2 / 3)
    assert metric(summary, "crs_grade3plus")["estimate"] == pytest.approx(1 / 3)
    assert metric(summary, "icans_any")["estimate"] == pytest.approx(1 / 3)


def test_gvhd_counts_only_transplanted_patients_and_time_to_hsct():
    patients = table(
        patient(hsct=True, hsct_day=70.0, agvhd_grade=2, cgvhd=True),
        patient(hsct=True, hsct_day=90.0, agvhd_grade=0),
        patient(agvhd_grade=3, cgvhd=True),
        patient(),
    )
    summary = quiet_summarise(patients)
    assert metric(summary, "hsct_rate")["estimate"] == pytest.approx(0.5)
    assert metric(summary, "agvhd_grade2plus")["estimate"] == pytest.approx(0.5)
    assert metric(summary, "agvhd_grade3plus")["estimate"] == 0.0
    assert metric(summary, "cgvhd")["estimate"] == pytest.approx(0.5)
    # Days from infusion (day 10) to HSCT: 60 and 80; too few for an order-statistic interval.
    time_to_hsct = metric(summary, "median_days_infusion_to_hsct")
    assert time_to_hsct["estimate"] == pytest.approx(70.0)
    assert np.isnan(time_to_hsct["lower"]) and np.isnan(time_to_hsct["upper"])


def test_pfs_counts_non_response_as_progression_at_response_day():
    # Non-responder assessed 250 days after infusion, alive: progression at 250 days, not a death.
    patients = table(patient(response="no_response", response_day=260.0), patient())
    summary = quiet_summarise(patients)
    assert metric(summary, "pfs_6m")["estimate"] == 1.0
    assert metric(summary, "pfs_1y")["estimate"] == pytest.approx(0.5)
    assert metric(summary, "os_1y")["estimate"] == 1.0
    assert metric(summary, "median_pfs_days")["estimate"] == pytest.approx(250.0)
    assert np.isnan(metric(summary, "median_os_days")["estimate"])


def test_survival_from_infusion_and_dfs_among_cr():
    # Infusion at day 10. OS events 90 and 400 days after infusion, among four infused.
    patients = table(
        patient(response="no_response", death=True, death_day=100.0, death_cause="disease"),
        patient(relapse=True, relapse_day=210.0, death=True, death_day=410.0, death_cause="disease"),
        patient(),
        patient(),
        not_infused(death=True, death_day=5.0, death_cause="disease"),
    )
    summary = quiet_summarise(patients)
    assert metric(summary, "os_6m")["estimate"] == pytest.approx(0.75)
    assert metric(summary, "os_1y")["estimate"] == pytest.approx(0.75)
    assert metric(summary, "os_2y")["estimate"] == pytest.approx(0.5)
    # PFS: non-response at day 38 (28 after infusion), relapse 200 days after infusion.
    assert metric(summary, "pfs_6m")["estimate"] == pytest.approx(0.75)
    assert metric(summary, "pfs_1y")["estimate"] == pytest.approx(0.5)
    # DFS among the three in CR: one relapse within a year.
    assert metric(summary, "dfs_1y")["estimate"] == pytest.approx(2 / 3)
    # Intention to treat from enrolment counts the patient who died before infusion.
    assert metric(summary, "itt_os_1y")["estimate"] == pytest.approx(0.8 * 3 / 4)


def test_post_transplant_endpoints_with_competing_risks():
    # HSCT at day 100 for four patients; from HSCT: death without relapse at 50, relapse at 100
    # then death at 300, two alive.
    # NRM:  t=50 n=4 -> 1/4.  CIR: t=100 n=3, S(100-) = 3/4 -> 3/4 * 1/3 = 1/4.
    # LFS = 1 - 1/4 - 1/4 = 1/2;  OS: 3/4 after 50, 3/4 * 2/3 = 1/2 after 300.
    transplanted = {"hsct": True, "hsct_day": 100.0}
    patients = table(
        patient(**transplanted, death=True, death_day=150.0, death_cause="infection"),
        patient(**transplanted, relapse=True, relapse_day=200.0, relapse_cd7_negative=True, death=True,
                death_day=400.0, death_cause="disease"),
        patient(**transplanted),
        patient(**transplanted),
        patient(relapse=True, relapse_day=300.0),
    )
    summary = quiet_summarise(patients)
    assert metric(summary, "nrm_post_hsct_2y")["estimate"] == pytest.approx(0.25)
    assert metric(summary, "cir_post_hsct_2y")["estimate"] == pytest.approx(0.25)
    assert metric(summary, "lfs_post_hsct_2y")["estimate"] == pytest.approx(0.5)
    assert metric(summary, "os_post_hsct_2y")["estimate"] == pytest.approx(0.5)
    assert metric(summary, "relapse_cd7_negative_share")["estimate"] == pytest.approx(0.5)


def test_survival_beyond_follow_up_is_nan():
    # Everyone alive and followed only 500 days after infusion: 2-year OS is not estimable.
    summary = quiet_summarise(table(patient(last_day=510.0), patient(last_day=510.0)))
    assert metric(summary, "os_1y")["estimate"] == 1.0
    assert np.isnan(metric(summary, "os_2y")["estimate"])


def test_empty_denominators_give_nan_without_warnings():
    patients = table(not_infused(), not_infused(strategy="chemo_allo"), patient(strategy="chemo_allo"))
    summary = quiet_summarise(patients)
    empty_for_no_infused = [
        "cr_rate", "crs_any", "hsct_rate", "median_days_infusion_to_hsct", "agvhd_grade2plus", "cgvhd",
        "os_1y", "pfs_1y", "median_os_days", "dfs_1y", "os_post_hsct_2y", "nrm_post_hsct_2y",
        "cir_post_hsct_2y", "relapse_cd7_negative_share",
    ]
    for name in empty_for_no_infused:
        row = metric(summary, name)
        assert row[["estimate", "lower", "upper"]].isna().all(), name
    assert metric(summary, "infused_rate")["estimate"] == 0.0
    assert np.isnan(metric(summary, "agvhd_grade2plus", "chemo_allo")["estimate"])
    assert metric(summary, "cr_rate", "chemo_allo")["estimate"] == 1.0


def test_several_replications_give_mean_and_monte_carlo_interval():
    # cr_rate per replication: 1/2, 1, 3/4 -> mean 3/4, sd 1/4, interval 3/4 +- t(0.975, 2) * (1/4) / sqrt(3).
    # No one is transplanted in replication 2, so agvhd uses replications 0 and 1 only.
    rows = [
        patient(replication=0, hsct=True, hsct_day=70.0, agvhd_grade=2),
        patient(replication=0, response="no_response"),
        patient(replication=1, hsct=True, hsct_day=70.0), patient(replication=1),
        *(patient(replication=2) for _ in range(3)), patient(replication=2, response="no_response"),
    ]
    summary = quiet_summarise(table(*rows))
    cr = metric(summary, "cr_rate")
    half_width = stats.t.ppf(0.975, 2) * 0.25 / math.sqrt(3)
    assert cr["estimate"] == pytest.approx(0.75)
    assert (cr["lower"], cr["upper"]) == pytest.approx((0.75 - half_width, min(0.75 + half_width, 1.0)))
    gvhd = metric(summary, "agvhd_grade2plus")
    half_width = stats.t.ppf(0.975, 1) * np.std([1.0, 0.0], ddof=1) / math.sqrt(2)
    assert gvhd["estimate"] == pytest.approx(0.5)
    assert half_width > 0.5  # the interval of a fraction is cut to 0-1
    assert (gvhd["lower"], gvhd["upper"]) == (0.0, 1.0)
    assert metric(summary, "n_patients")["estimate"] == pytest.approx(8 / 3)


def test_replication_interval_needs_two_finite_values():
    assert all(np.isnan(replication_interval([])))
    single = replication_interval([0.4, NAN])
    assert single.estimate == 0.4 and np.isnan(single.lower) and np.isnan(single.upper)


def test_categorical_and_plain_string_columns_give_identical_summaries():
    patients = table(patient(), patient(response="no_response"), not_infused(strategy="cart_alone"))
    text_columns = ("scenario", "strategy", "disease", "response", "death_cause")
    categorical = patients.astype(dict.fromkeys(text_columns, "category"))
    pd.testing.assert_frame_equal(quiet_summarise(patients), quiet_summarise(categorical))


def test_format_headline_rows_percentages_and_missing_values():
    patients = table(
        *(patient(hsct=True, hsct_day=60.0) for _ in range(3)), patient(response="no_response"),
        patient(strategy="cart_alone"), not_infused(strategy="cart_alone"),
    )
    text = format_headline(quiet_summarise(patients))
    lines = text.splitlines()
    titles = ("CR", "HSCT", "OS 1y", "OS 2y", "PFS 1y", "NRM 2y", "Relapse 2y")
    assert all(title in lines[0] for title in titles)
    hsct_line = next(line for line in lines if line.startswith("cart_hsct"))
    alone_line = next(line for line in lines if line.startswith("cart_alone"))
    # CR 3/4 with its Wilson interval 30%–95%.
    assert "75% (30–95)" in hsct_line
    assert "n/a" in alone_line
    assert "from infusion" in lines[-1] and "from HSCT" in lines[-1]


def test_losses_while_waiting_are_shares_of_everyone_enrolled():
    summary = summarise(table(
        not_infused(waiting_for="manufacturing", waiting_exit="dropout", wait_manufacturing_days=20.0),
        not_infused(waiting_for="cart_bed", waiting_exit="death", death=True, death_day=70.0, death_cause="background"),
        patient(waiting_for="transplant_bed", waiting_exit="relapse", relapse=True, relapse_day=90.0),
        patient(),
    ))
    assert metric(summary, "dropout_while_waiting").estimate == pytest.approx(1 / 4)
    assert metric(summary, "death_while_waiting").estimate == pytest.approx(1 / 4)
    assert metric(summary, "relapse_while_waiting").estimate == pytest.approx(1 / 4)
