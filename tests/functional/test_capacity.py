"""Capacity planning end to end: queues change outcomes in the expected direction, patients keep
living while they wait, and the same referrals meet every setting (common random numbers)."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.capacity.sweep import with_settings
from sim.inputs.codes import WAIT_COLUMNS
from sim.inputs.scenario import load_scenario
from sim.outcomes.endpoints import summarise
from sim.outcomes.resources import summarise_resources
from sim.simulation.parallel import LocalExecutor
from sim.simulation.runner import simulate
from tests.conftest import BASE_SCENARIO

REGIONAL = BASE_SCENARIO.parent / "capacity" / "regional_centre.yaml"
CLINICAL_COLUMNS = ["infused", "infusion_day", "crs_grade", "response", "hsct", "hsct_day", "relapse", "relapse_day",
                    "death", "death_day", "death_cause"]


@pytest.fixture(scope="module")
def regional():
    scenario = load_scenario(REGIONAL).model_copy(update={"replications": 3})
    return scenario, scenario.parameter_set()


def run(scenario, params, **settings):
    return simulate(with_settings(scenario, settings), params, "des", with_events=False)


def estimate(simulation, scenario, metric, strategy="cart_bridge_allo", resource=None):
    if resource is None:
        table = summarise(simulation.patients)
        return table[(table.metric == metric) & (table.strategy == strategy)].estimate.item()
    table = summarise_resources(simulation.resources, scenario.name, scenario.capacity)
    return table[(table.metric == metric) & (table.strategy == strategy) & (table.resource == resource)].estimate.item()


def test_fewer_manufacturing_slots_mean_longer_waits_and_more_drop_outs(regional):
    scenario, params = regional
    few, many = run(scenario, params, **{"capacity.manufacturing_slots": 4}), run(scenario, params, **{"capacity.manufacturing_slots": 8})
    few_wait = estimate(few, scenario, "mean_wait_days", resource="manufacturing")
    assert few_wait > 3 * estimate(many, scenario, "mean_wait_days", resource="manufacturing")
    assert estimate(few, scenario, "dropout_while_waiting") > estimate(many, scenario, "dropout_while_waiting") + 0.05
    transplanted = [s.patients[s.patients.strategy == "cart_bridge_allo"].hsct.mean() for s in (few, many)]
    assert transplanted[0] < transplanted[1]


def test_waiting_for_an_icu_bed_can_kill_only_when_it_is_harmful(regional):
    scenario, params = regional
    busy = {"capacity.icu_beds": 1, "arrivals.rate_per_year": 200, "capacity.manufacturing_slots": None,
            "capacity.cart_beds": None, "capacity.apheresis_slots_per_week": None}
    harmful = run(scenario, params.with_values({"icu_wait_death_hazard_per_day": 0.1}), **busy)
    harmless = run(scenario, params.with_values({"icu_wait_death_hazard_per_day": 0.0}), **busy)
    died_waiting = harmful.patients[(harmful.patients.waiting_for == "icu_bed")]
    assert len(died_waiting) > 0
    assert set(died_waiting.waiting_exit) == {"death"}
    assert set(died_waiting.death_cause) <= {"crs", "icans", "infection"}
    # the wait ends with the death: the patient dies in the queue, wait_icu_bed_days after asking
    asked = died_waiting.death_day - died_waiting.wait_icu_bed_days
    assert (asked > died_waiting.infusion_day).all()
    assert (harmless.patients.waiting_for == "icu_bed").sum() < len(died_waiting)


def test_patients_keep_living_while_they_wait(regional):
    scenario, params = regional
    patients = run(scenario, params, **{"capacity.manufacturing_slots": 4, "capacity.transplant_beds": 1}).patients
    waits = patients[list(WAIT_COLUMNS)]
    assert (waits.fillna(0) >= 0).all().all()
    left = patients[patients.waiting_for != "none"]
    assert len(left) > 0
    before_infusion = left.waiting_for.isin(["apheresis", "manufacturing", "cart_bed"])
    assert not left.infused[before_infusion].any()
    assert set(left.waiting_exit[before_infusion]) <= {"dropout", "death"}
    waiting_for_hsct = left.waiting_for.isin(["transplant_bed", "donor_search"])
    assert not left.hsct[waiting_for_hsct].any()
    relapsed = left[waiting_for_hsct & (left.waiting_exit == "relapse")]
    assert len(relapsed) > 0 and relapsed.relapse.all()
    # the wait for the bed ends with the relapse, after the planned transplant day (past infusion)
    asked = relapsed.relapse_day - relapsed.wait_transplant_bed_days.fillna(relapsed.wait_donor_search_days)
    assert (asked > relapsed.infusion_day).all()
    assert (patients.enrol_day >= scenario.observation_window[0]).all()


def test_same_referrals_and_patients_under_every_setting(regional):
    scenario, params = regional
    tight = run(scenario, params, **{"capacity.manufacturing_slots": 4}).patients
    loose = run(scenario, params, **{"capacity.manufacturing_slots": None}).patients
    key = ["strategy", "replication", "patient_id", "enrol_day", "disease", "age"]
    pd.testing.assert_frame_equal(tight[key], loose[key])
    # A patient who waited for nothing in either setting lived the same life.
    unaffected = (tight[list(WAIT_COLUMNS)].fillna(0) == 0).all(axis=1) & (loose[list(WAIT_COLUMNS)].fillna(0) == 0).all(axis=1)
    assert unaffected.sum() > 100
    pd.testing.assert_frame_equal(tight.loc[unaffected, CLINICAL_COLUMNS], loose.loc[unaffected, CLINICAL_COLUMNS])


def test_open_cohort_without_limits_agrees_between_engines(regional):
    scenario, params = regional
    unlimited = scenario.model_copy(update={"capacity": type(scenario.capacity)(), "replications": 2})
    des, cohort = simulate(unlimited, params, "des"), simulate(unlimited, params, "cohort")
    pd.testing.assert_frame_equal(des.patients, cohort.patients)
    pd.testing.assert_frame_equal(des.events, cohort.events)
    pd.testing.assert_frame_equal(des.resources, cohort.resources)
    assert (des.patients[list(WAIT_COLUMNS)].fillna(0) == 0).all().all()


def test_serial_and_parallel_capacity_runs_are_identical(regional):
    scenario, params = regional
    serial = simulate(scenario, params, "des")
    parallel = simulate(scenario, params, "des", LocalExecutor(2))
    for name in ("patients", "events", "resources", "occupancy"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(parallel, name))
