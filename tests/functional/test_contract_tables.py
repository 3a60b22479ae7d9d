"""The contract tables say what the course did: events dated when they happened."""

from __future__ import annotations

import numpy as np
import pytest

from sim.cohort import build_cohort
from sim.draws import PatientDraws
from sim.runner import enrolment_days, follow_strategy
from sim.scenario import load_scenario
from sim.tables import events_frame
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
    wait = course.wait_columns()["wait_apheresis_days"]
    assert (wait[patient] > 0).sum() > 50
    np.testing.assert_array_equal(apheresis.day.to_numpy(), granted[patient])
    assert (apheresis.day.to_numpy() >= plan.request_day[patient] + wait[patient] - 1e-9).all()
    np.testing.assert_allclose(apheresis.day.to_numpy(), plan.request_day[patient] + wait[patient], rtol=0, atol=1e-9)
    # everyone whose appointment came by the end of follow-up has the event, and no one else
    observed = np.flatnonzero(granted <= course.columns["last_day"])
    np.testing.assert_array_equal(np.sort(patient), observed)
