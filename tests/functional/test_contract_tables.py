"""The contract tables say what the course did: the attributes that drove it, events dated when they
happened."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.disease.draws import PatientDraws
from sim.disease.patients import build_cohort
from sim.inputs.codes import ATTRIBUTE_COLUMNS, CART_PRODUCTS
from sim.inputs.scenario import load_scenario
from sim.inputs.strategies import Strategy
from sim.simulation.runner import enrolment_days, follow_strategy, simulate
from sim.simulation.tables import events_frame
from tests.conftest import BASE_SCENARIO

REGIONAL = BASE_SCENARIO.parent / "capacity" / "regional_centre.yaml"


@pytest.fixture(scope="module")
def regional():
    scenario = load_scenario(REGIONAL)
    return scenario, scenario.parameter_set()


def test_apheresis_is_dated_on_the_granted_appointment(regional):
    """With two apheresis appointments a week patients queue; the event is the appointment, not the request."""
    scenario, params = regional
    strategy = next(s for s in scenario.strategies if s.name == "cart_bridge_allo")
    enrol = enrolment_days(scenario, 0)
    draws = PatientDraws(scenario.seed, 0, enrol.size)
    plan, course = follow_strategy(params, strategy, build_cohort(scenario.case_mix, draws), draws, scenario, "des",
                                   enrol_day=enrol)
    events = events_frame(scenario.name, 0, plan, course, [strategy.name])
    apheresis = events[events.event == "apheresis"]
    patient = apheresis.patient_id.to_numpy()
    granted = course.resource_use.start["apheresis"]
    wait = course.columns["wait_apheresis_days"]
    assert (wait[patient] > 0).sum() > 50
    np.testing.assert_array_equal(apheresis.day.to_numpy(), granted[patient])
    assert (apheresis.day.to_numpy() >= plan.request_day[patient] + wait[patient] - 1e-9).all()
    np.testing.assert_allclose(apheresis.day.to_numpy(), plan.request_day[patient] + wait[patient], rtol=0, atol=1e-9)
    # everyone whose appointment came by the end of follow-up has the event, and no one else
    observed = np.flatnonzero(granted <= course.columns["last_day"])
    np.testing.assert_array_equal(np.sort(patient), observed)


@pytest.fixture(scope="module")
def base_run(base_scenario, params):
    scenario = base_scenario.model_copy(update={"patients": 3000, "seed": 21})
    return scenario, simulate(scenario, params, "des")


def within_four_standard_errors(observed: float, share: float, n: int) -> bool:
    return abs(observed - share) <= 4 * np.sqrt(share * (1 - share) / n)


def test_attributes_follow_the_case_mix(base_run):
    scenario, run = base_run
    mix, p = scenario.case_mix, run.patients
    patients = p[p.strategy == "cart_alone"]
    n = len(patients)
    for column in ("donor_available", "prior_hsct", "primary_refractory"):
        assert within_four_standard_errors(patients[column].mean(), getattr(mix, column), n), column
    for source, share in mix.cart_source.items():
        assert within_four_standard_errors((patients.cart_source == source).mean(), share, n), source
    blasts = mix.marrow_blasts
    a, b = (blasts.low - blasts.mean) / blasts.sd, (blasts.high - blasts.mean) / blasts.sd
    expected = stats.truncnorm(a, b, loc=blasts.mean, scale=blasts.sd)
    assert patients.marrow_blasts.between(blasts.low, blasts.high).all()
    assert abs(patients.marrow_blasts.mean() - expected.mean()) <= 4 * expected.std() / np.sqrt(n)


def test_attributes_are_the_same_patient_under_every_strategy(base_run):
    _, run = base_run
    by = {str(name): g.reset_index(drop=True) for name, g in run.patients.groupby("strategy", observed=True)}
    patient = [c for c in ATTRIBUTE_COLUMNS if c != "cart_source"]
    for g in by.values():
        pd.testing.assert_frame_equal(g[["patient_id", *patient]], by["cart_alone"][["patient_id", *patient]])
    # the two strategies that take the product from the case mix give each patient the same one
    pd.testing.assert_series_equal(by["cart_bridge_allo"].cart_source, by["cart_alone"].cart_source)


def test_each_strategy_gives_its_own_product(base_scenario, params):
    own = {source: Strategy(name=f"cart_{source}", index_therapy="cart", cart_source=source, hsct_platform="none")
           for source in ("autologous", "donor_derived", "universal")}
    scenario = base_scenario.model_copy(update={"patients": 2000, "strategies": [*base_scenario.strategies, *own.values()]})
    run = simulate(scenario, params, "cohort")
    p = run.patients
    assert p.cart_source.cat.categories.tolist() == list(CART_PRODUCTS)
    products = p.groupby("strategy", observed=True).cart_source.unique().map(lambda c: set(c.astype(str)))
    assert products["chemo_allo"] == {"none"}
    # a donor-derived product needs a donor: without one the patient's own cells are used
    assert products["cart_haplo_no_prophylaxis"] == {"donor_derived", "autologous"}
    assert products["cart_bridge_allo"] == products["cart_alone"] == {"autologous", "donor_derived", "universal"}
    for source, strategy in own.items():
        assert products[strategy.name] == ({source, "autologous"} if source == "donor_derived" else {source})
    donors = p.loc[p.cart_source == "donor_derived", "donor_available"]
    assert donors.all()
    no_donor = p[(p.strategy == "cart_haplo_no_prophylaxis") & ~p.donor_available]
    assert len(no_donor) > 0 and (no_donor.cart_source == "autologous").all()
    # a donor-derived product only where the strategy uses one (its own, or the case mix's)
    donor_derived = set(p.strategy[p.cart_source == "donor_derived"].astype(str))
    assert donor_derived == {"cart_haplo_no_prophylaxis", "cart_bridge_allo", "cart_alone", "cart_donor_derived"}
    # apheresis only for a product made from the patient's or a donor's cells
    e = run.events
    aphereses = e[e.event == "apheresis"].merge(p[["strategy", "patient_id", "cart_source"]], on=["strategy", "patient_id"])
    assert set(aphereses.cart_source.astype(str)) == {"autologous", "donor_derived"}


def test_hospital_days_are_the_stays_the_beds_were_held_for(base_run, params):
    _, run = base_run
    p = run.patients
    cart = p[p.strategy != "chemo_allo"]
    assert (cart.cart_stay_days.notna() == cart.infused).all()
    assert p.cart_stay_days[p.strategy == "chemo_allo"].isna().all()  # no hospital-stay rule for chemotherapy
    assert (p.hsct_stay_days.notna() == p.hsct).all()
    assert p.icu_days.notna().all()
    for column in ("cart_stay_days", "icu_days", "hsct_stay_days"):
        assert (p[column].dropna() >= 0).all(), column
    # the CAR-T stay rule, cut short by death only
    rule = params["cart_stay_days"] + params["cart_stay_extra_days_per_grade"] * (
        np.maximum(cart.crs_grade, cart.icans_grade) - 1).clip(lower=0)
    stay_end = cart.infusion_day + cart.cart_stay_days
    assert (cart.cart_stay_days[cart.infused] <= rule[cart.infused] + 1e-9).all()
    assert (stay_end[cart.infused] <= cart.last_day[cart.infused] + 1e-9).all()
    shortened = cart.infused & (cart.cart_stay_days < rule - 1e-9)
    assert shortened.any()
    np.testing.assert_allclose(stay_end[shortened], cart.death_day[shortened], rtol=0, atol=1e-9)
    transplanted = p[p.hsct]
    assert (transplanted.hsct_stay_days <= params["hsct_stay_days"] + 1e-9).all()
    hsct_end = transplanted.hsct_day + transplanted.hsct_stay_days
    shortened = transplanted.hsct_stay_days < params["hsct_stay_days"] - 1e-9
    assert shortened.any()
    np.testing.assert_allclose(hsct_end[shortened], transplanted.death_day[shortened], rtol=0, atol=1e-9)
    assert (p.icu_days <= params["icu_stay_days"] + 1e-9).all()
    assert ((p.icu_days > 0) <= p.infused).all()


def event_days(events: pd.DataFrame, event: str, detail: str | None = None) -> pd.Series:
    """Day of ``event`` (with ``detail``) per (strategy, replication, patient_id); at most one each."""
    chosen = events[(events.event == event) & ((events.detail == detail) if detail is not None else True)]
    days = chosen.set_index(["strategy", "replication", "patient_id"]).day
    assert days.index.is_unique, event
    return days


def assert_stays_match_events(run) -> None:
    """Hospital days and the admission and discharge events tell the same story."""
    p = run.patients.set_index(["strategy", "replication", "patient_id"])
    e = run.events
    admission, icu_out = event_days(e, "icu_admission"), event_days(e, "icu_discharge")
    ward_out, hsct_out = event_days(e, "discharge", "cart_ward"), event_days(e, "discharge", "transplant")
    assert set(e.detail[e.event == "discharge"]) <= {"cart_ward", "transplant"}
    # ICU: icu_days > 0 exactly for the admitted; a discharge ends the stay, otherwise death or follow-up does
    assert set(admission.index) == set(p.index[p.icu_days > 0])
    assert set(icu_out.index) <= set(admission.index)
    stay_end = admission + p.icu_days.loc[admission.index]
    discharged = stay_end.index.isin(icu_out.index)
    np.testing.assert_allclose(stay_end[discharged], icu_out.loc[stay_end.index[discharged]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(stay_end[~discharged], p.last_day.loc[stay_end.index[~discharged]], rtol=0, atol=1e-9)
    # the CAR-T ward from infusion, the transplant stay from HSCT
    for start_day, days, out in ((p.infusion_day, p.cart_stay_days, ward_out), (p.hsct_day, p.hsct_stay_days, hsct_out)):
        stay_end = (start_day + days).dropna()
        assert set(out.index) <= set(stay_end.index)
        discharged = stay_end.index.isin(out.index)
        np.testing.assert_allclose(stay_end[discharged], out.loc[stay_end.index[discharged]], rtol=0, atol=1e-9)
        np.testing.assert_allclose(stay_end[~discharged], p.last_day.loc[stay_end.index[~discharged]], rtol=0, atol=1e-9)
    # a stay ended by death has no discharge: every discharge comes before the end of follow-up
    for out in (icu_out, ward_out, hsct_out):
        assert (out < p.last_day.loc[out.index]).all()
    died_on_the_ward = p.index[p.death & np.isclose(p.infusion_day + p.cart_stay_days, p.death_day, rtol=0, atol=1e-9)]
    assert len(died_on_the_ward) > 0 and not died_on_the_ward.isin(ward_out.index).any()


def test_admissions_and_discharges_match_the_hospital_days(base_run):
    _, run = base_run
    assert_stays_match_events(run)


def test_admissions_and_discharges_match_the_hospital_days_when_beds_are_scarce(regional):
    scenario, params = regional
    run = simulate(scenario.model_copy(update={"replications": 2}), params, "des")
    assert (run.patients.wait_icu_bed_days > 0).sum() > 5
    assert_stays_match_events(run)


def test_intensive_care_starts_with_the_severe_toxicity_or_infection(base_run):
    """With beds free, a patient enters intensive care the day the first severe CRS or ICANS, or a
    severe infection, begins; the admission's detail names it."""
    _, run = base_run
    e = run.events
    admissions = e[e.event == "icu_admission"]
    assert set(admissions.detail) == {"crs", "icans", "infection"}
    key = ["strategy", "replication", "patient_id", "day"]
    cause_events = {"crs": "crs", "icans": "icans", "infection": "severe_infection"}
    for cause, event in cause_events.items():
        admitted = admissions[admissions.detail == cause][key]
        onset = e[e.event == event][[*key, "detail"]]
        matched = admitted.merge(onset, on=key, how="left")
        assert matched.detail.notna().all(), cause
        if cause != "infection":
            assert matched.detail.isin(["grade 3", "grade 4", "grade 5"]).all(), cause
