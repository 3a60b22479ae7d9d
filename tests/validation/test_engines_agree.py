"""The SimPy and cohort engines give the same patients table with unlimited capacity (DESIGN.md section 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.inputs.codes import PATIENT_COLUMNS
from sim.inputs.errors import InputError
from sim.simulation.runner import simulate


def test_engines_agree_patient_for_patient(base_scenario, params):
    scenario = base_scenario.model_copy(update={"patients": 800, "replications": 2, "seed": 3})
    des, cohort = simulate(scenario, params, "des"), simulate(scenario, params, "cohort")
    assert list(des.patients.columns) == list(cohort.patients.columns) == list(PATIENT_COLUMNS)
    days = [c for c in des.patients.columns if c.endswith(("_day", "_days"))]
    for column in des.patients.columns:
        if column in days:
            np.testing.assert_allclose(des.patients[column], cohort.patients[column], rtol=0, atol=1e-9, err_msg=column)
        else:
            pd.testing.assert_series_equal(des.patients[column], cohort.patients[column])
    pd.testing.assert_frame_equal(des.events, cohort.events)



def test_engines_agree_when_follow_up_ends_before_treatment(base_scenario, params):
    """A 30-day horizon ends before most infusions: both engines cut the same courses at ``last_day``."""
    scenario = base_scenario.model_copy(update={"patients": 300, "seed": 5, "horizon_days": 30.0})
    des, cohort = simulate(scenario, params, "des"), simulate(scenario, params, "cohort")
    assert 0 < des.patients.infused.sum() < len(des.patients) / 2
    pd.testing.assert_frame_equal(des.patients, cohort.patients, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(des.events, cohort.events, rtol=0, atol=1e-9)

def test_cohort_engine_refuses_finite_capacity(base_scenario, params):
    scenario = base_scenario.model_copy(update={
        "patients": 10, "capacity": base_scenario.capacity.model_copy(update={"transplant_beds": 3})})
    with pytest.raises(InputError, match=r"capacity\.transplant_beds: got 3; the cohort engine needs unlimited capacity"):
        simulate(scenario, params, "cohort")


def test_engines_agree_when_nobody_reaches_treatment(base_scenario, params):
    everyone_drops_out = params.with_overrides({"dropout_60d": 1.0})
    scenario = base_scenario.model_copy(update={"patients": 20})
    des, cohort = simulate(scenario, everyone_drops_out, "des"), simulate(scenario, everyone_drops_out, "cohort")
    pd.testing.assert_frame_equal(des.patients, cohort.patients)
    assert not des.patients.infused.any()


def test_cohort_blocks_do_not_change_anything(base_scenario, params, monkeypatch):
    """The cohort engine resolves patients in blocks; block edges must not show in any table."""
    import sim.simulation.runner

    scenario = base_scenario.model_copy(update={"patients": 350, "seed": 4})
    des = simulate(scenario, params, "des")
    monkeypatch.setattr(sim.simulation.runner, "COHORT_BLOCK", 64)
    blocked = simulate(scenario, params, "cohort")
    pd.testing.assert_frame_equal(des.patients, blocked.patients, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(des.events, blocked.events, rtol=0, atol=1e-9)


def test_engines_agree_when_capacity_is_finite_but_never_binds(base_scenario, params):
    """With slots and beds limited but more than the cohort can use, the SimPy engine answers through its
    calendar and its server pools (not the unlimited shortcut), and still nobody waits: the patients
    table equals the cohort engine's (which needs unlimited capacity), patient for patient. (Apheresis
    stays unlimited: appointments are spaced in time, so a cohort enrolled on one day always queues.)"""
    scenario = base_scenario.model_copy(update={"patients": 600, "replications": 2, "seed": 11})
    roomy = scenario.capacity.model_copy(update={
        "manufacturing_slots": 10_000, "cart_beds": 10_000, "icu_beds": 10_000, "transplant_beds": 10_000})
    des = simulate(scenario.model_copy(update={"capacity": roomy}), params, "des")
    cohort = simulate(scenario, params, "cohort")
    days = [c for c in des.patients.columns if c.endswith(("_day", "_days"))]
    assert des.patients["infused"].any() and des.patients["hsct"].any()
    for column in des.patients.columns:
        if column in days:
            np.testing.assert_allclose(des.patients[column], cohort.patients[column], rtol=0, atol=1e-9, err_msg=column)
        else:
            pd.testing.assert_series_equal(des.patients[column], cohort.patients[column])
