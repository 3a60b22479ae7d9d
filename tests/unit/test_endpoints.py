"""Endpoint definitions of sim.outcomes.endpoints on hand-built columns, and the summary and a study
replay agreeing where they report the same endpoint."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.calibration.studies import StudyCohort, Target, load_studies, study_estimate
from sim.disease import cart, transplant
from sim.inputs.codes import CHIMERISM, CR_RESPONSES, RESPONSES
from sim.inputs.parameters import load_parameters
from sim.outcomes.endpoints import (
    AUTOLOGOUS_RECOVERY_CODE,
    CENSORED,
    CIR_FROM_HSCT,
    COMPETING_EVENT,
    CR_CODES,
    DFS_FROM_INFUSION,
    EVENT,
    LFS_FROM_HSCT,
    NRM_FROM_HSCT,
    OS_FROM_ENROLMENT,
    OS_FROM_HSCT,
    OS_FROM_INFUSION,
    PFS_FROM_INFUSION,
    PROPORTIONS,
    crs_mild,
    in_complete_response,
    left_while_waiting,
    mrd_negative_cr,
    patient_columns,
    response_assessed,
    summarise,
)
from sim.outcomes.estimators import cumulative_incidence, kaplan_meier
from sim.simulation.runner import simulate
from tests.unit.test_outcomes import patient, table

NAN = math.nan
NO_RESPONSE = RESPONSES.index("no_response")
MRD_POSITIVE = RESPONSES.index("cr_mrd_pos")

DEFAULTS: dict[str, object] = {
    "infused": True, "infusion_day": 10.0, "crs_grade": 0, "icans_grade": 0,
    "response": RESPONSES.index("cr_mrd_neg"), "response_day": 38.0, "hsct": False, "hsct_day": NAN,
    "agvhd_grade": 0, "cgvhd": False, "relapse": False, "relapse_day": NAN, "relapse_cd7_negative": False,
    "death": False, "death_day": NAN, "last_day": 1500.0, "chimerism": CHIMERISM.index("none"),
    "waiting_exit": 0,
}
"""An infused patient in MRD-negative CR, alive and followed for 1500 days (codes, days from enrolment)."""


def columns(*rows: dict[str, object]) -> dict[str, np.ndarray]:
    """Endpoint columns of the patients given as changes to `DEFAULTS`; the flags follow the days."""
    full = [{**DEFAULTS, **row} for row in rows]
    for row in full:
        row.update(hsct=not math.isnan(row["hsct_day"]), relapse=not math.isnan(row["relapse_day"]),
                   death=not math.isnan(row["death_day"]))
        if row["death"]:
            row["last_day"] = row["death_day"]
    return {name: np.array([row[name] for row in full]) for name in DEFAULTS}


def test_codes_are_those_of_sim_inputs_codes_and_of_the_engine():
    assert [RESPONSES[code] for code in CR_CODES] == list(CR_RESPONSES)
    assert CR_CODES == (cart.RESPONSE_CR_MRD_NEG, cart.RESPONSE_CR_MRD_POS)
    assert AUTOLOGOUS_RECOVERY_CODE == transplant.CHIMERISM_AUTOLOGOUS
    response = np.array([*range(len(RESPONSES)), -1])
    c = {"response": response}
    assert list(in_complete_response(c)) == [label in CR_RESPONSES for label in RESPONSES] + [False]
    assert list(mrd_negative_cr(c)) == [label == "cr_mrd_neg" for label in RESPONSES] + [False]
    assert list(response_assessed(c)) == [label != "not_assessed" for label in RESPONSES] + [True]


def test_patient_columns_turn_labels_into_codes_and_blank_days_of_events_that_did_not_happen():
    patients = table(
        patient(response="no_response", waiting_exit="death", relapse=False, relapse_day=99.0),
        patient(infused=False, infusion_day=5.0, response="not_assessed", response_day=NAN,
                chimerism="autologous_recovery"),
    )
    c = patient_columns(patients)
    assert list(c["response"]) == [NO_RESPONSE, RESPONSES.index("not_assessed")]
    assert list(c["chimerism"]) == [CHIMERISM.index("none"), AUTOLOGOUS_RECOVERY_CODE]
    assert list(left_while_waiting(c, "death")) == [True, False]
    assert np.isnan(c["relapse_day"][0]) and np.isnan(c["infusion_day"][1])
    categorical = patient_columns(patients.astype({"response": "category", "waiting_exit": "category"}))
    assert all(np.array_equal(c[name], categorical[name], equal_nan=True) for name in c)


def test_os_from_hsct_counts_transplanted_patients_from_hsct_to_death_or_last_day():
    c = columns({"hsct_day": 100.0, "death_day": 400.0}, {"hsct_day": 60.0}, {})
    assert list(OS_FROM_HSCT.population(c)) == [True, True, False]
    observed = OS_FROM_HSCT.observe(c)
    assert list(observed.time) == [300.0, 1440.0]
    assert list(observed.cause) == [EVENT, CENSORED]


def test_an_event_after_the_end_of_follow_up_is_censored_there():
    c = columns({"death_day": 410.0}, {"death_day": 110.0})
    observed = OS_FROM_INFUSION.observe(c, end_day=np.array([200.0, 200.0]))
    assert list(observed.time) == [190.0, 100.0]
    assert list(observed.event) == [False, True]


def test_pfs_counts_non_response_at_its_assessment_relapse_and_death_whichever_first():
    c = columns(
        {"response": NO_RESPONSE, "response_day": 40.0, "death_day": 300.0},
        {"relapse_day": 210.0, "death_day": 400.0},
        {"death_day": 60.0},
        {},
    )
    observed = PFS_FROM_INFUSION.observe(c)
    assert list(observed.time) == [30.0, 200.0, 50.0, 1490.0]
    assert list(observed.event) == [True, True, True, False]


def test_dfs_from_infusion_counts_only_infused_patients_in_cr():
    c = columns({}, {"response": MRD_POSITIVE, "relapse_day": 110.0}, {"response": NO_RESPONSE},
                {"infused": False, "infusion_day": NAN})
    assert list(DFS_FROM_INFUSION.population(c)) == [True, True, False, False]
    assert list(DFS_FROM_INFUSION.observe(c).time) == [1490.0, 100.0]


def test_a_relapse_before_the_origin_is_no_event_of_an_endpoint_from_it():
    c = columns({"relapse_day": 50.0, "hsct_day": 100.0})
    assert LFS_FROM_HSCT.observe(c).cause[0] == CENSORED
    assert NRM_FROM_HSCT.observe(c).cause[0] == CENSORED


def test_relapse_and_non_relapse_mortality_compete_and_with_lfs_add_up_to_one():
    # From HSCT at day 100: death without relapse, relapse then death, relapse, two event-free.
    c = columns(
        {"hsct_day": 100.0, "death_day": 150.0},
        {"hsct_day": 100.0, "relapse_day": 200.0, "death_day": 300.0},
        {"hsct_day": 100.0, "relapse_day": 500.0},
        {"hsct_day": 100.0}, {"hsct_day": 100.0, "last_day": 700.0},
    )
    relapse, non_relapse = CIR_FROM_HSCT.observe(c), NRM_FROM_HSCT.observe(c)
    assert list(relapse.cause) == [COMPETING_EVENT, EVENT, EVENT, CENSORED, CENSORED]
    assert list(non_relapse.cause) == [EVENT, COMPETING_EVENT, COMPETING_EVENT, CENSORED, CENSORED]
    assert list(relapse.time) == list(non_relapse.time) == list(LFS_FROM_HSCT.observe(c).time)
    lfs = LFS_FROM_HSCT.observe(c)
    for day in (60.0, 120.0, 450.0, 800.0):
        cir = cumulative_incidence(relapse.time, relapse.cause, EVENT).incidence_at(day)
        nrm = cumulative_incidence(non_relapse.time, non_relapse.cause, EVENT).incidence_at(day)
        assert cir + nrm + kaplan_meier(lfs.time, lfs.event).survival_at(day) == pytest.approx(1.0)


def test_within_is_the_event_by_a_day_from_the_origin_under_complete_follow_up():
    c = columns({"hsct_day": 100.0, "death_day": 120.0}, {"hsct_day": 100.0, "death_day": 131.0}, {"death_day": 110.0})
    assert list(OS_FROM_HSCT.within(c, 30.0)) == [True, False, False]
    # CIR: death is the competing event, never the event of interest
    assert not CIR_FROM_HSCT.within(c, 1000.0).any()


def test_intention_to_treat_survival_counts_everyone_from_enrolment():
    c = columns({"infused": False, "infusion_day": NAN, "death_day": 20.0}, {})
    assert OS_FROM_ENROLMENT.population(c).all()
    assert list(OS_FROM_ENROLMENT.observe(c).time) == [20.0, 1500.0]


def test_proportions_of_the_summary_use_their_population_as_denominator():
    c = columns({"crs_grade": 2}, {"crs_grade": 3, "hsct_day": 50.0}, {"infused": False, "infusion_day": NAN, "crs_grade": 1})
    assert list(crs_mild(c)) == [True, False, True]
    population, event = PROPORTIONS["crs_any"]
    assert event(c)[population(c)].mean() == 1.0
    population, event = PROPORTIONS["hsct_rate"]
    assert event(c)[population(c)].mean() == 0.5


def test_the_summary_and_a_study_replay_report_the_same_estimates_for_the_same_patients():
    params = load_parameters()
    scenario = load_studies(["hu2024"])["hu2024"].model_copy(update={"patients": 400, "replications": 1})
    patients = simulate(scenario, params, engine="cohort", with_events=False, with_resources=False).patients
    summary = summarise(patients).set_index("metric")["estimate"]
    replay = StudyCohort.draw(scenario).simulate(params)
    transplanted_infused = patients["hsct"] & patients["infused"]
    assert transplanted_infused.sum() == patients["hsct"].sum() > 0  # every transplanted patient was infused
    no_study_censoring = np.full(scenario.patients, np.inf)

    def replayed(metric: str, time_days: float | None = None, origin: str = "infusion") -> float:
        target = Target(study="hu2024", metric=metric, value=0.5, n=1, events=0, time_days=time_days, origin=origin,
                        evidence_id="X", likelihood="binomial")
        return study_estimate(replay, no_study_censoring, target, size=scenario.patients)

    pairs = {
        "cr_rate": replayed("cr"), "mrd_neg_cr_rate": replayed("mrd_negative"), "crs_any": replayed("crs_any"),
        "crs_grade3plus": replayed("crs_grade3plus"), "icans_any": replayed("icans_any"),
        "hsct_rate": replayed("hsct"),
        "os_6m": replayed("os", 182.625), "os_1y": replayed("os", 365.25), "pfs_1y": replayed("pfs", 365.25),
        "median_os_days": replayed("median_os", 134.0), "median_pfs_days": replayed("median_pfs", 81.0),
        "os_post_hsct_2y": replayed("os", 730.5, "hsct"), "lfs_post_hsct_2y": replayed("lfs", 730.5, "hsct"),
        "nrm_post_hsct_2y": replayed("nrm", 730.5, "hsct"), "cir_post_hsct_2y": replayed("cir", 730.5, "hsct"),
    }
    assert summary["n_patients"] == patients["infused"].size
    for name, value in pairs.items():
        assert summary[name] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), name
    assert pd.notna(summary[["os_1y", "nrm_post_hsct_2y", "cir_post_hsct_2y"]]).all()


def test_monte_carlo_intervals_stay_within_what_a_metric_can_be(base_scenario, params):
    """Two replications of 6 patients: mean ± t(0.975, 1)·sd/√2 leaves 0–1 for most fractions; the
    summary cuts the interval there (and days at 0), leaving the estimate alone."""
    from sim.outcomes.endpoints import DAY_METRICS, METRICS, summarise

    scenario = base_scenario.model_copy(update={"patients": 6, "replications": 2, "seed": 5})
    summary = summarise(simulate(scenario, params, "cohort").patients)
    assert set(DAY_METRICS) <= set(METRICS)
    fractions = summary[~summary.metric.isin(DAY_METRICS)].dropna(subset=["lower"])
    assert len(fractions) > 20
    assert ((fractions.lower >= 0) & (fractions.upper <= 1) & (fractions.lower <= fractions.upper)).all()
    assert ((fractions.lower == 0) | (fractions.upper == 1)).any()  # some were cut
    days = summary[summary.metric.isin(DAY_METRICS)].dropna(subset=["lower"])
    assert (days.lower >= 0).all()
