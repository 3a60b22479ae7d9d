"""The steps of the patient pathway (sim.disease.steps) on hand-built patients and draws, and the
competing-risk helper."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import ndtri

from sim.disease import cart, steps, survival
from sim.disease import transplant as transplant_rules
from sim.disease.course import plan_course, resolve_course, unqueued_services
from sim.disease.draws import DRAW_NAMES, PatientDraws, exponential_score, exponential_time_scores, weibull_score
from sim.disease.patients import AUTOLOGOUS, DONOR_DERIVED, UNIVERSAL, PatientAttributes, build_cohort
from sim.inputs.codes import CART_SOURCES, DEATH_CAUSES
from sim.inputs.strategies import BUILTIN_STRATEGIES, TRANSPLANT_PARAMETERS

CART_ALONE, HAPLO, BRIDGE, CHEMO = (BUILTIN_STRATEGIES[name] for name in
                                    ("cart_alone", "cart_haplo_no_prophylaxis", "cart_bridge_allo", "chemo_allo"))
NEVER = np.inf


class HandDraws(dict):
    """Uniform draws written by hand: 0.5 for every draw not given (the interface of PatientDraws)."""

    def __init__(self, n: int, **given: list[float]) -> None:
        super().__init__({name: np.full(n, 0.5) for name in DRAW_NAMES})
        self.update({name: np.asarray(values, dtype=float) for name, values in given.items()})
        self.n_patients = n

    def normal(self, name: str) -> np.ndarray:
        return ndtri(self[name])

    def exponential(self, name: str) -> np.ndarray:
        return exponential_score(self[name])

    def exponential_time_scores(self, name: str) -> np.ndarray:
        return exponential_time_scores(self[name])

    def weibull(self, name: str, shape: float) -> np.ndarray:
        return weibull_score(self[name], shape)


def patients(n: int, **given: list) -> PatientAttributes:
    """``n`` T-ALL patients aged 40, relapsed, without prior HSCT, 5% blasts, autologous, with a donor."""
    values = dict(disease=np.full(n, 1, np.int8), age=np.full(n, 40.0), primary_refractory=np.zeros(n, bool),
                  prior_hsct=np.zeros(n, bool), marrow_blasts=np.full(n, 5.0),
                  cart_source=np.full(n, CART_SOURCES.index("autologous"), np.int8), donor_available=np.ones(n, bool))
    values.update({name: np.asarray(v, dtype=values[name].dtype) for name, v in given.items()})
    return PatientAttributes(**values)


def test_earlier_keeps_the_first_event_and_its_code():
    assert steps.earlier(10.0, 1, 5.0, 2) == (5.0, 2)
    # a tie goes to the event so far; a NaN or inf candidate never comes
    assert steps.earlier(5.0, 1, 5.0, 2) == (5.0, 1)
    assert steps.earlier(5.0, 1, np.nan, 2) == (5.0, 1)
    assert steps.earlier(np.inf, 0, np.inf, 2) == (np.inf, 0)


def test_icu_need_ties_go_to_crs_then_icans_then_infection(params):
    # severe CRS and ICANS on their onset days, and severe infections on those days or earlier
    crs_day, icans_day = params["crs_onset_days"], params["icans_onset_days"]
    toxicity = steps.Toxicity(
        crs_grade=np.array([3, 0, 3, 0, 0], np.int8), crs_onset_after_infusion=crs_day,
        icans_grade=np.array([3, 4, 0, 0, 2], np.int8), icans_onset_after_infusion=icans_day,
        severe_infection=np.array([True, True, True, True, False]),
        infection_after_infusion=np.array([min(crs_day, icans_day), icans_day, crs_day - 1.0, 2.0, 1.0]),
        early_death_after_infusion=np.full(5, NEVER), early_death_cause=np.zeros(5, np.int8),
        car_t_gvhd=np.zeros(5, bool), car_t_gvhd_after_infusion=1.0, late_death_after_infusion=np.full(5, NEVER),
        late_death_cause_draw=np.full(5, 0.5),
    )
    icu = steps.plan_care(params, CART_ALONE, HandDraws(5), toxicity)
    first = "crs" if crs_day <= icans_day else "icans"
    np.testing.assert_array_equal(icu.icu_need_after_infusion, [min(crs_day, icans_day), icans_day, crs_day - 1.0, 2.0, NEVER])
    assert [DEATH_CAUSES[c] for c in icu.icu_cause[:4]] == [first, "icans", "infection", "infection"]
    extra = params["cart_stay_extra_days_per_grade"]
    np.testing.assert_array_equal(icu.cart_stay_days[:2], [params["cart_stay_days"] + 2 * extra, params["cart_stay_days"] + 3 * extra])


def test_universal_product_needs_no_apheresis_or_manufacturing(params):
    source = np.array([CART_SOURCES.index("autologous"), UNIVERSAL], np.int8)
    before = steps.plan_before_infusion(params, CART_ALONE, patients(2), HandDraws(2, u_manufacturing_failure=[1e-9, 1e-9]), source)
    np.testing.assert_array_equal(before.needs_slot, [True, False])
    assert before.slot_days[0] > 0 and before.slot_days[1] == 0
    np.testing.assert_array_equal(before.manufacturing_failed, [True, False])  # only a manufactured product fails
    np.testing.assert_array_equal(before.request_day, [params["apheresis_delay_days"], params["universal_product_days"]])
    np.testing.assert_array_equal(before.exit_day, np.minimum(before.dropout_day, before.background_death_day))


def test_chemotherapy_needs_no_product(params):
    source = steps.product_source(CHEMO, patients(2))
    before = steps.plan_before_infusion(params, CHEMO, patients(2), HandDraws(2), source)
    assert not before.needs_slot.any() and not before.manufacturing_failed.any()
    np.testing.assert_array_equal(before.request_day, params["chemo_start_days"])
    np.testing.assert_array_equal(before.release_to_infusion_days, 0.0)


def test_early_death_is_the_first_fatal_toxicity(params):
    # patient 0: fatal CRS (day 10) and a fatal infection on day 3; patient 1: fatal CRS only; patient 2: nothing
    draws = HandDraws(3, u_crs_grade=[1 - 1e-9, 1 - 1e-9, 1e-9], u_infection=[1e-9, 1.0 - 1e-9, 1.0 - 1e-9],
                      u_infection_death=[1e-9, 1e-9, 1e-9], u_infection_time=[0.1, 0.1, 0.1])
    toxicity = steps.plan_toxicity(params, CART_ALONE, draws, np.zeros(3, np.int8))
    np.testing.assert_array_equal(toxicity.crs_grade, [5, 5, 0])
    np.testing.assert_allclose(toxicity.early_death_after_infusion, [0.1 * params["aplasia_window_days"], params["crs_death_days"], NEVER])
    assert [DEATH_CAUSES[c] for c in toxicity.early_death_cause[:2]] == ["infection", "crs"]


def test_chemotherapy_has_no_cart_toxicity(params):
    draws = HandDraws(2, u_crs_grade=[1 - 1e-9] * 2, u_icans_grade=[1 - 1e-9] * 2, u_cart_gvhd=[1e-9] * 2)
    source = np.full(2, DONOR_DERIVED, np.int8)
    assert steps.plan_toxicity(params, HAPLO, draws, source).car_t_gvhd.all()
    toxicity = steps.plan_toxicity(params, CHEMO, draws, source)
    assert not toxicity.crs_grade.any() and not toxicity.icans_grade.any() and not toxicity.car_t_gvhd.any()


def test_an_early_transplant_brings_the_response_assessment_forward(params):
    draws = HandDraws(3, u_response=[1 - 1e-9, 1 - 1e-9, 1e-9], u_relapse_pre=[1e-9, 1 - 1e-9, 1e-9])
    response = steps.plan_response(params, CART_ALONE, patients(3), draws, np.array([10.0, NEVER, NEVER]))
    np.testing.assert_array_equal(response.response_after_infusion, [10.0, params["response_assessment_days"],
                                                                     params["response_assessment_days"]])
    np.testing.assert_array_equal(response.response_code != cart.RESPONSE_NONE, [True, True, False])  # in CR
    assert response.response_code[2] == cart.RESPONSE_NONE
    # relapse from remission counts from the assessment; the cured never relapse
    assert response.relapse_after_infusion[0] > 10.0 and response.relapse_after_infusion[1] == NEVER


def test_transplant_candidates_are_in_remission_with_a_donor(params):
    attributes = patients(3, donor_available=[True, False, True])
    draws = HandDraws(3, u_response=[1 - 1e-9, 1 - 1e-9, 1e-9], u_hsct_uptake=[1e-9] * 3)
    interval = steps.planned_hsct_interval(params, BRIDGE, draws)
    response = steps.plan_response(params, BRIDGE, attributes, draws, interval)
    decision = steps.plan_transplant_decision(params, BRIDGE, attributes, draws, response, interval)
    np.testing.assert_array_equal(decision.candidate, [True, False, False])
    np.testing.assert_allclose(decision.interval, params["hsct_interval_conventional_days"])  # the median at u = 0.5
    no_hsct_interval = steps.planned_hsct_interval(params, CART_ALONE, draws)
    no_hsct = steps.plan_transplant_decision(params, CART_ALONE, attributes, draws, response, no_hsct_interval)
    assert not no_hsct.candidate.any() and np.isinf(no_hsct.interval).all()


def test_gvhd_needs_a_full_donor_graft(params):
    # chimerism by draw: full donor, autologous recovery, graft failure; every GVHD draw at its worst
    autologous = params["autologous_recovery_haplo"]
    u_chimerism = [1e-9, 1 - params["graft_failure_haplo"] - autologous / 2, 1 - 1e-9]
    draws = HandDraws(3, u_chimerism=u_chimerism, u_agvhd_grade=[1 - 1e-9] * 3, u_cgvhd=[1e-9] * 3, u_graft_failure_death=[1e-9] * 3)
    graft = steps.plan_transplant(params, HAPLO, draws)
    np.testing.assert_array_equal(graft.chimerism, [transplant_rules.CHIMERISM_FULL_DONOR, transplant_rules.CHIMERISM_AUTOLOGOUS,
                                                    transplant_rules.CHIMERISM_GRAFT_FAILURE])
    np.testing.assert_array_equal(graft.agvhd_grade, [4, 0, 0])
    np.testing.assert_array_equal(graft.cgvhd, [True, False, False])
    np.testing.assert_array_equal(graft.graft_failure_death_after_hsct, [NEVER, NEVER, params["graft_failure_death_days"]])
    nothing = steps.plan_transplant(params, CART_ALONE, draws)
    assert not nothing.agvhd_grade.any() and not nothing.cgvhd.any() and np.isinf(nothing.graft_failure_death_after_hsct).all()


def test_relapse_after_transplant_without_a_graft_is_relapse_without_consolidation(params):
    p = params.with_overrides({"relapse_haplo_no_prophylaxis": 0.0, "relapse_no_consolidation": 1.0})
    draws = HandDraws(2, u_chimerism=[1e-9, 1 - 1e-9])  # full donor; graft failure
    graft = steps.plan_transplant(p, HAPLO, draws)
    response = steps.plan_response(p, HAPLO, patients(2), draws, np.full(2, 25.0))
    decision = steps.TransplantDecision(candidate=np.ones(2, dtype=bool), interval=np.full(2, 25.0))
    after = steps.plan_after_transplant(p, HAPLO, patients(2), draws, graft, response, decision)
    assert after.relapse_after_hsct[0] == NEVER
    assert after.relapse_after_hsct[1] == pytest.approx(p["relapse_no_consolidation_median_days"])  # Weibull median at u = 0.5
    never = steps.plan_after_transplant(p, CART_ALONE, patients(2), draws, graft, response, decision)
    assert np.isinf(never.relapse_after_hsct).all() and np.isinf(never.nrm_after_hsct).all()


def test_late_effects_are_drawn_for_transplant_candidates_raised_by_chronic_gvhd(params):
    """Candidates get survival.late_effects_death_days (with the chronic GVHD multiplier where the graft gives chronic
    GVHD); a patient who is never a candidate is never transplanted and gets none."""
    draws = HandDraws(3, u_chimerism=[1e-9] * 3, u_cgvhd=[1e-9, 1 - 1e-9, 1e-9], u_late_effects=[0.3] * 3)
    graft = steps.plan_transplant(params, HAPLO, draws)
    assert graft.cgvhd.tolist() == [True, False, True]
    response = steps.plan_response(params, HAPLO, patients(3), draws, np.full(3, 25.0))
    decision = steps.TransplantDecision(candidate=np.array([True, True, False]), interval=np.full(3, 25.0))
    after = steps.plan_after_transplant(params, HAPLO, patients(3), draws, graft, response, decision)
    expected = survival.late_effects_death_days(
        np.full(2, 0.3), np.full(2, 40.0), params["background_gompertz_rate_at_40"], params["background_gompertz_slope"],
        params["late_relative_mortality_2y"], params["late_relative_mortality_15y"], np.array([params["late_mortality_cgvhd_rr"], 1.0]))
    np.testing.assert_array_equal(after.late_effects_death_after_hsct[:2], expected)
    assert after.late_effects_death_after_hsct[0] < after.late_effects_death_after_hsct[1] and np.isfinite(expected).all()
    assert after.late_effects_death_after_hsct[2] == NEVER


def test_high_blasts_raise_relapse_after_a_graft(params):
    p = params.with_overrides({"relapse_high_blasts_multiplier": 2.0})
    u_relapse = 1.5 * p["relapse_haplo_no_prophylaxis"]  # relapses at twice the rate, not at the rate
    draws = HandDraws(2, u_chimerism=[1e-9] * 2, u_relapse_post=[u_relapse] * 2)
    attributes = patients(2, marrow_blasts=[5.0, 50.0])
    response = steps.plan_response(p, HAPLO, attributes, draws, np.full(2, 25.0))
    decision = steps.TransplantDecision(candidate=np.ones(2, dtype=bool), interval=np.full(2, 25.0))
    after = steps.plan_after_transplant(p, HAPLO, attributes, draws, steps.plan_transplant(p, HAPLO, draws), response, decision)
    np.testing.assert_array_equal(np.isfinite(after.relapse_after_hsct), [False, True])


def test_icu_need_is_the_first_severe_toxicity_and_stays_grow_with_grade(params):
    toxicity = steps.plan_toxicity(params, CART_ALONE, HandDraws(
        3, u_crs_grade=[1e-9, 1e-9, 0.999], u_icans_grade=[1e-9, 0.999, 1e-9], u_infection=[1e-9, 1.0 - 1e-9, 1.0 - 1e-9],
        u_infection_death=[1.0 - 1e-9] * 3, u_infection_time=[0.01, 0.5, 0.5]), np.zeros(3, np.int8))
    assert (toxicity.crs_grade[0], toxicity.icans_grade[0]) == (0, 0) and toxicity.crs_grade[2] >= 3 and toxicity.icans_grade[1] >= 3
    care = steps.plan_care(params, CART_ALONE, HandDraws(3), toxicity)
    np.testing.assert_allclose(care.icu_need_after_infusion, [0.3, params["icans_onset_days"], params["crs_onset_days"]])
    assert [DEATH_CAUSES[c] for c in care.icu_cause] == ["infection", "icans", "crs"]
    assert care.cart_stay_days[0] == params["cart_stay_days"] and (care.cart_stay_days[1:] > params["cart_stay_days"]).all()
    assert care.needs_cart_bed and not steps.plan_care(params, CHEMO, HandDraws(3), toxicity).needs_cart_bed


def test_plan_composes_the_steps_and_replaces_one_step_attribute(params, base_scenario):
    draws = PatientDraws(3, 0, 200)
    attributes = build_cohort(base_scenario.case_mix, draws)
    plan = plan_course(params, HAPLO, attributes, draws)
    assert plan.request_day is plan.before.request_day and plan.icu_cause is plan.care.icu_cause
    # the strategy's product, not the case mix's; without a donor, the patient's own cells
    assert (plan.cart_source == np.where(attributes.donor_available, DONOR_DERIVED, AUTOLOGOUS)).all()
    days = np.full(200, 3.0)
    changed = dataclasses.replace(plan, slot_days=days)
    assert changed.before.slot_days is days and changed.toxicity is plan.toxicity
    assert changed.before.request_day is plan.before.request_day and plan.before.slot_days is not days
    with pytest.raises(TypeError, match="no step"):
        dataclasses.replace(plan, shoe_size=days)


@pytest.mark.parametrize("key", list(TRANSPLANT_PARAMETERS))
def test_every_transplant_parameter_name_is_a_parameter(params, key):
    names = TRANSPLANT_PARAMETERS[key]
    for field in dataclasses.fields(names):
        assert 0.0 <= params[getattr(names, field.name)] < float("inf")


def test_a_strategy_without_transplant_has_no_transplant_parameters():
    with pytest.raises(KeyError):
        _ = CART_ALONE.transplant_parameters
    assert HAPLO.transplant_parameters.nrm == "nrm_haplo_no_prophylaxis"
    assert BRIDGE.transplant_parameters.nrm != CHEMO.transplant_parameters.nrm


def test_an_index_treatment_or_assessment_after_the_end_of_follow_up_is_not_recorded(params, base_scenario):
    """A horizon that ends before the infusion (or before the response assessment) leaves the patient not
    infused (not assessed), with no toxicity grades and no hospital days: nothing after ``last_day``."""
    draws = PatientDraws(5, 0, 400)
    plan = plan_course(params, HAPLO, build_cohort(base_scenario.case_mix, draws), draws)
    services = unqueued_services(plan)
    full = resolve_course(plan, services, base_scenario.horizon_days).columns
    assessed = full["response"] != cart.RESPONSE_NOT_ASSESSED
    t0, response_day = full["infusion_day"], full["response_day"]
    assert full["infused"].sum() > 100 and assessed.sum() > 100

    before_infusion = resolve_course(plan, services, np.where(full["infused"], t0 - 1.0, base_scenario.horizon_days)).columns
    infused = full["infused"]
    assert not before_infusion["infused"][infused].any() and np.isnan(before_infusion["infusion_day"][infused]).all()
    assert (before_infusion["response"][infused] == cart.RESPONSE_NOT_ASSESSED).all()
    assert (before_infusion["crs_grade"][infused] == 0).all() and (before_infusion["icans_grade"][infused] == 0).all()
    assert not before_infusion["hsct"][infused].any() and (before_infusion["icu_days"][infused] == 0).all()
    assert np.isnan(before_infusion["cart_stay_days"][infused]).all()
    np.testing.assert_array_equal(before_infusion["last_day"][infused], t0[infused] - 1.0)

    before_assessment = resolve_course(plan, services, np.where(assessed, (t0 + response_day) / 2, base_scenario.horizon_days)).columns
    np.testing.assert_array_equal(before_assessment["infusion_day"][assessed], t0[assessed])
    assert (before_assessment["response"][assessed] == cart.RESPONSE_NOT_ASSESSED).all()
    assert np.isnan(before_assessment["response_day"][assessed]).all()
    # the patients followed to the end are untouched
    for name in ("infused", "infusion_day", "response", "response_day"):
        np.testing.assert_array_equal(before_assessment[name][~assessed], full[name][~assessed], err_msg=name)
