"""Hospital care rules: CAR-T bed stay by toxicity grade, ICU need, death while waiting for an ICU bed,
and the hospital days the tables report from the beds held."""

from __future__ import annotations

import numpy as np
import pytest

from sim.disease import care
from sim.disease.course import (
    DEATH_CODE,
    ResourceUse,
    admission_day,
    discharge_day,
    plan_course,
    stay_days,
)
from sim.disease.draws import PatientDraws
from sim.disease.patients import build_cohort
from sim.inputs.codes import RESOURCES
from sim.inputs.strategies import BUILTIN_STRATEGIES
from tests.conftest import uniform_grid


def test_cart_stay_grows_with_the_worse_grade_above_one():
    crs, icans = np.array([0, 1, 2, 3, 1, 5]), np.array([0, 0, 1, 0, 4, 2])
    assert care.cart_stay_days(crs, icans, 7.0, 2.0).tolist() == [7, 7, 9, 11, 13, 15]
    assert care.cart_stay_days(crs, icans, 7.0, 0.0).tolist() == [7] * 6


def test_death_while_waiting_for_icu_is_exponential_in_the_hazard():
    u = uniform_grid(20_000)
    days = care.icu_wait_death_days(u, 0.05)
    assert np.median(days) == pytest.approx(np.log(2) / 0.05, rel=1e-3)
    assert np.mean(days < 5.0) == pytest.approx(1 - np.exp(-0.25), abs=1e-3)
    assert np.all(care.icu_wait_death_days(u, 0.1) < days)
    assert np.isinf(care.icu_wait_death_days(u, 0.0)).all()


def test_icu_need_is_the_first_severe_toxicity_or_infection(base_scenario, params):
    draws = PatientDraws(3, 0, 5000)
    plan = plan_course(params, BUILTIN_STRATEGIES["cart_alone"], build_cohort(base_scenario.case_mix, draws), draws)
    needs = np.isfinite(plan.icu_need_after_infusion)
    severe = (plan.crs_grade >= 3) | (plan.icans_grade >= 3) | plan.severe_infection
    assert np.array_equal(needs, severe)
    crs_first = (plan.crs_grade >= 3) & (params["crs_onset_days"] <= np.where(plan.severe_infection, plan.infection_after_infusion, np.inf))
    assert np.all(plan.icu_cause[crs_first] == DEATH_CODE["crs"])
    infection_only = plan.severe_infection & (plan.crs_grade < 3) & (plan.icans_grade < 3)
    assert np.allclose(plan.icu_need_after_infusion[infection_only], plan.infection_after_infusion[infection_only])
    assert np.all(plan.icu_cause[infection_only] == DEATH_CODE["infection"])


def bed_records(start: list[float], end: list[float]) -> ResourceUse:
    """ICU bed records of a few patients (the other resources unused)."""
    never = np.full(len(start), np.nan)
    records = {r: never for r in RESOURCES}
    none = np.zeros(len(start), dtype=np.int8)
    return ResourceUse(request={**records, "icu_bed": np.array(start)}, start={**records, "icu_bed": np.array(start)},
                       end={**records, "icu_bed": np.array(end)}, left_queue=none, left_reason=none)


def test_hospital_stays_are_the_beds_held_cut_at_the_last_day():
    # discharged alive; held until death; still in at the end of follow-up; never admitted;
    # a bed the records hold after a death they do not know of; admitted after death (the records' ghost)
    use = bed_records([10.0, 10.0, 1090.0, np.nan, 10.0, 40.0], [15.0, 12.0, 1095.0, np.nan, 15.0, 45.0])
    last_day = np.array([400.0, 12.0, 1092.0, 400.0, 13.0, 30.0])
    days = stay_days(use, "icu_bed", last_day)
    np.testing.assert_array_equal(days, [5.0, 2.0, 2.0, np.nan, 3.0, np.nan])
    np.testing.assert_array_equal(admission_day(use, "icu_bed", last_day), [10.0, 10.0, 1090.0, np.nan, 10.0, np.nan])
    # discharged only alive and within follow-up
    np.testing.assert_array_equal(discharge_day(use, "icu_bed", last_day), [15.0, np.nan, np.nan, np.nan, np.nan, np.nan])
