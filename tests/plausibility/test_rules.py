"""Each plausibility rule on hand-made tables: a course that breaks it (flagged, the rule fails) and a course
that comes close without breaking it (not flagged, the rule passes), so that every rule can fail."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sim.outcomes.plausibility import (
    APLASIA_WINDOW_DAYS,
    IMPLAUSIBLE,
    IMPOSSIBLE,
    RULES,
    Tables,
    check,
)
from sim.report.plausibility import format_check
from tests.plausibility.courses import (
    CGVHD_AFTER_HSCT,
    HORIZON,
    HSCT,
    INFUSION,
    NAN,
    RESPONSE,
    chemotherapy,
    course,
    dead,
    not_transplanted,
    tables,
)

RULE = {rule.name: rule for rule in RULES}
COHORT = 20
"""Patients of an implausible rule's cases: enough for a share of 100% to lie above any bound beyond noise."""

RELAPSED = {"relapse": True, "relapse_day": 300.0}
NON_RESPONDER = {"response": "no_response", "hsct": False, "hsct_day": NAN, "chimerism": "none", "hsct_stay_days": NAN}
NEVER_INFUSED = {"infused": False, "infusion_day": NAN, "crs_grade": 0, "response": "not_assessed", "response_day": NAN,
                 "hsct": False, "hsct_day": NAN, "chimerism": "none", "cart_stay_days": NAN, "hsct_stay_days": NAN}
DROPOUT = [("dropout", 40.0, "progression before infusion")]
DONOR_PRODUCT = {"cart_source": "donor_derived"}
ICU = [("icu_admission", HSCT - 3, "infection")]
EARLY_HSCT = {"response_day": INFUSION + 20, "hsct_day": INFUSION + 25}
"""A transplant during CAR-T aplasia (the all-in-one strategy)."""

# rule name -> (courses that break it, courses that come close and do not)
CASES: dict[str, tuple[list[dict], list[dict]]] = {
    "flags_disagree_with_days": (
        [course(hsct=False), course(relapse=True), course(death=True), course(response="not_assessed"),
         course(relapse_cd7_negative=True)],
        [course(), course(**RELAPSED, relapse_cd7_negative=True)]),
    "not_one_terminal_state": (
        [course(add=[("death", 400.0, "disease")]), course(drop=["censored"]),
         course(**dead(400.0, "disease", last_day=HORIZON, **RELAPSED))],
        [course(), course(**dead(400.0, "disease", **RELAPSED))]),
    "day_before_enrolment": (
        [course(add=[("apheresis", -2.0, "")]), course(infusion_day=-1.0, add=[("manufacturing_start", 1.0, "")])],
        [course(add=[("apheresis", 0.0, "")])]),
    "event_after_death": (
        [course(**dead(HSCT - 8, "infection")), course(**dead(200.0, "gvhd"), add=[("cgvhd", 210.0, "")])],
        [course(**dead(HSCT, "gvhd")), course(**dead(200.0, "gvhd"), add=[("icu_discharge", 200.0, "")])]),
    "event_after_last_day": (
        [course(add=[("icu_discharge", HORIZON + 5, "")]), course(last_day=HSCT - 1)],
        [course(add=[("icu_discharge", HORIZON, "")])]),
    "table_disagrees_with_log": (
        [course(drop=["hsct"]), course(agvhd_grade=2, drop=["agvhd"]), course(add=[("relapse", 500.0, "CD7-negative")]),
         course(response_day=RESPONSE + 1, drop=["response"], add=[("response", RESPONSE, "cr_mrd_neg")])],
        [course(agvhd_grade=2, cgvhd=True)]),
    "death_cause_disagrees_with_death": (
        [course(death_cause="gvhd"), course(**dead(400.0, "none"))],
        [course(), course(**dead(400.0, "gvhd"))]),
    "response_before_infusion": (
        [course(response_day=INFUSION - 10), course(infused=False, infusion_day=NAN)],
        [course(response_day=INFUSION)]),
    "hsct_before_infusion": (
        [course(hsct_day=INFUSION - 5), course(infused=False, infusion_day=NAN)],
        [course(hsct_day=INFUSION + 1)]),
    "hsct_before_response": (
        [course(hsct_day=RESPONSE - 8)],
        [course(hsct_day=RESPONSE)]),
    "relapse_before_cr": (
        [course(relapse=True, relapse_day=RESPONSE - 18)],
        [course(relapse=True, relapse_day=RESPONSE + 1)]),
    "relapse_without_cr": (
        [not_transplanted(response="no_response", **RELAPSED), not_transplanted(**NEVER_INFUSED, **RELAPSED)],
        [course(response="cr_mrd_pos", **RELAPSED)]),
    "hsct_without_cr": (
        [course(response="no_response"), course(response="not_assessed")],
        [course(response="cr_mrd_pos")]),
    "hsct_without_donor": (
        [course(donor_available=False)],
        [not_transplanted(donor_available=False)]),
    "hsct_during_icu_stay": (
        [course(add=[*ICU, ("icu_discharge", HSCT + 2, "")]), course(add=ICU),
         course(add=[("icu_admission", HSCT, "crs"), ("icu_discharge", HSCT + 5, "")])],
        [course(add=[*ICU, ("icu_discharge", HSCT, "")]), course(add=[("icu_admission", HSCT + 1, "infection")])]),
    "donor_product_without_donor": (
        [not_transplanted(**DONOR_PRODUCT, donor_available=False),
         not_transplanted(**DONOR_PRODUCT, **NEVER_INFUSED, donor_available=False)],
        [course(**DONOR_PRODUCT), not_transplanted(donor_available=False)]),
    "index_treatment_disagrees_with_product": (
        [chemotherapy(add=[("infusion", INFUSION, "CD7 CAR-T")]), course(add=[("chemotherapy_start", INFUSION, "")])],
        [chemotherapy(), course()]),
    "cart_toxicity_without_cart": (
        [chemotherapy(crs_grade=2), course(**NEVER_INFUSED, icans_grade=1), chemotherapy(add=[("icans", 55.0, "grade 1")])],
        [chemotherapy(), course(crs_grade=3, icans_grade=2)]),
    "gvhd_without_hsct": (
        [not_transplanted(agvhd_grade=2), not_transplanted(**DONOR_PRODUCT, cgvhd=True),
         not_transplanted(**DONOR_PRODUCT, **NEVER_INFUSED, agvhd_grade=2)],
        [not_transplanted(**DONOR_PRODUCT, agvhd_grade=2), course(agvhd_grade=3, cgvhd=True)]),
    "cart_gvhd_without_donor_product": (
        [not_transplanted(add=[("agvhd", INFUSION + 14, "grade 2, CAR-T-related")]),
         not_transplanted(**DONOR_PRODUCT, add=[("agvhd", INFUSION - 1, "grade 2, CAR-T-related")])],
        [not_transplanted(**DONOR_PRODUCT, agvhd_grade=2)]),
    "hsct_gvhd_before_hsct": (
        [course(cgvhd=True, drop=["cgvhd"], add=[("cgvhd", HSCT - 8, "")]),
         not_transplanted(add=[("agvhd", 90.0, "grade 3, HSCT-related")])],
        [course(agvhd_grade=2, cgvhd=True)]),
    "chimerism_without_hsct": (
        [not_transplanted(chimerism="autologous_recovery"), course(chimerism="none")],
        [not_transplanted(), course(chimerism="graft_failure")]),
    "cgvhd_after_relapse": (
        [course(cgvhd=True, relapse=True, relapse_day=HSCT + CGVHD_AFTER_HSCT - 50)],
        [course(cgvhd=True, relapse=True, relapse_day=HSCT + CGVHD_AFTER_HSCT + 1)]),
    "non_relapse_death_after_relapse": (
        [course(**RELAPSED, **dead(350.0, cause)) for cause in ("infection", "crs", "icans", "gvhd", "other_nrm")],
        [course(**RELAPSED, **dead(350.0, "disease")), course(**RELAPSED, **dead(350.0, "background")),
         course(**dead(350.0, "gvhd"))]),
    "disease_death_without_progression": (
        [course(**dead(400.0, "disease")), not_transplanted(**NEVER_INFUSED, **dead(200.0, "disease")),
         not_transplanted(response="not_assessed", response_day=NAN, **dead(60.0, "disease"))],
        [course(**RELAPSED, **dead(400.0, "disease")), not_transplanted(**NON_RESPONDER, **dead(200.0, "disease")),
         not_transplanted(**NEVER_INFUSED, **dead(200.0, "disease"), add=DROPOUT),
         not_transplanted(**NEVER_INFUSED, **dead(200.0, "disease"), add=[("product_release", 45.0, "manufacturing failed")])]),
    "fatal_infection_not_logged": (
        [not_transplanted(**dead(INFUSION + 20, "infection")),
         course(**EARLY_HSCT, **dead(INFUSION + APLASIA_WINDOW_DAYS - 5, "infection")),
         not_transplanted(**dead(INFUSION + 20, "infection"), add=[("severe_infection", INFUSION + 15, "non-fatal")])],
        [not_transplanted(**dead(INFUSION + 20, "infection"), add=[("severe_infection", INFUSION + 15, "fatal")]),
         course(**EARLY_HSCT, **dead(INFUSION + APLASIA_WINDOW_DAYS + 1, "infection"))]),
    "early_infection_death_without_infection": (
        [not_transplanted(**dead(INFUSION + APLASIA_WINDOW_DAYS + 30, "infection"))],
        [not_transplanted(**dead(INFUSION + 20, "infection"), add=[("severe_infection", INFUSION + 15, "fatal")]),
         course(**dead(HSCT + 200, "infection"))]),
    "fatal_infection_survived": (
        [course(add=[("severe_infection", INFUSION + 15, "fatal")]),
         course(**dead(400.0, "gvhd"), add=[("severe_infection", INFUSION + 15, "fatal")])],
        [course(add=[("severe_infection", INFUSION + 15, "non-fatal")])]),
    "icu_days_without_admission": (
        [course(icu_days=5.0)],
        [course(icu_days=5.0, add=[("icu_admission", 60.0, "crs"), ("icu_discharge", 65.0, "")])]),
    "icu_admission_without_icu_days": (
        [course(add=[("icu_admission", 60.0, "crs")]), course(icu_days=NAN, add=[("icu_admission", 60.0, "crs")])],
        [course(), course(icu_days=2.0, add=[("icu_admission", 60.0, "infection")])]),
    "hospital_days_out_of_range": (
        [course(cart_stay_days=-1.0), course(hsct_stay_days=HORIZON - HSCT + 1), course(icu_days=NAN),
         course(**dead(HSCT + 10, "gvhd"), hsct_stay_days=28.0)],
        [course(**dead(HSCT + 10, "gvhd"), hsct_stay_days=10.0), course(icu_days=0.0)]),
    "hospital_stay_without_its_treatment": (
        [chemotherapy(cart_stay_days=7.0), course(**{**NEVER_INFUSED, "cart_stay_days": 2.0}), not_transplanted(hsct_stay_days=28.0)],
        [chemotherapy(), not_transplanted()]),
    "untreated_non_responder_alive_2y": (
        [not_transplanted(**NON_RESPONDER)] * COHORT,
        [not_transplanted(**NON_RESPONDER, **dead(RESPONSE + 100, "disease"))] * COHORT
        + [course(response="no_response", hsct=False, hsct_day=NAN, chimerism="none", hsct_stay_days=NAN,
                  scenario="short", last_day=RESPONSE + 400)] * COHORT),
    "disease_death_within_7d_of_relapse": (
        [course(**RELAPSED, **dead(305.0, "disease"))] * COHORT,
        [course(**RELAPSED, **dead(360.0, "disease"))] * COHORT),
    "alive_3y_after_untreated_relapse": (
        [course(**RELAPSED)] * COHORT,
        [course(**RELAPSED, **dead(500.0, "disease"))] * COHORT),
    "never_infused_alive_5y": (
        [not_transplanted(**NEVER_INFUSED, add=DROPOUT)] * COHORT,
        [not_transplanted(**NEVER_INFUSED, **dead(200.0, "disease"), add=DROPOUT)] * COHORT),
    "cart_alone_alive_5y": (
        [not_transplanted(strategy="cart_alone")] * COHORT,
        [not_transplanted(strategy="cart_alone", relapse=True, relapse_day=150.0, **dead(250.0, "disease"))] * COHORT
        + [course()] * COHORT),
}


def test_every_rule_has_its_cases_and_every_name_is_unique():
    assert len(RULE) == len(RULES)
    assert set(CASES) == set(RULE)


def test_the_clean_course_passes_every_rule():
    report = check(*tables(course(), not_transplanted(), chemotherapy()))
    assert report.passed, format_check(report)


@pytest.mark.parametrize("name", list(CASES))
def test_rule_flags_the_course_that_breaks_it(name):
    rule = RULE[name]
    courses, _ = CASES[name]
    flagged = np.asarray(rule.violations(Tables(*tables(*courses))))
    assert flagged.tolist() == [True] * len(courses)
    result = rule.evaluate(Tables(*tables(*courses)))
    assert not result.passed
    assert result.violations == len(courses)
    assert result.examples["patient_id"].tolist() == list(range(min(len(courses), 3)))


@pytest.mark.parametrize("name", list(CASES))
def test_rule_accepts_the_course_that_comes_close(name):
    rule = RULE[name]
    _, courses = CASES[name]
    tables_ = Tables(*tables(*courses))
    assert not np.asarray(rule.violations(tables_)).any()
    result = rule.evaluate(tables_)
    assert result.passed and result.violations == 0 and result.examples.empty


def test_implausible_rules_state_a_bound_and_its_reason():
    for rule in RULES:
        if rule.kind == IMPLAUSIBLE:
            assert 0 < rule.bound < 1 and rule.reason and rule.among is not None, rule.name
        else:
            assert rule.kind == IMPOSSIBLE and rule.bound == 0 and rule.among is None, rule.name


def test_an_implausible_share_above_its_bound_by_chance_passes():
    """One untreated non-responder alive at two years among ten (10%, bound 5%) is within sampling noise:
    the 95% Wilson interval (1.8-40%) reaches the bound. Five among ten (50%, 24-76%) is not."""
    rule = RULE["untreated_non_responder_alive_2y"]
    dying = not_transplanted(**NON_RESPONDER, **dead(RESPONSE + 100, "disease"))
    alive = not_transplanted(**NON_RESPONDER)
    once = rule.evaluate(Tables(*tables(alive, *[dying] * 9)))
    assert (once.violations, once.judged, once.share) == (1, 10, 0.1) and once.passed
    often = rule.evaluate(Tables(*tables(*[alive] * 5, *[dying] * 5)))
    assert often.violations == 5 and not often.passed


def test_patients_who_cannot_reach_the_time_point_are_not_judged():
    """A scenario followed 400 days cannot show survival at two years: its non-responders are left out,
    not counted as survivors or deaths."""
    short = not_transplanted(**NON_RESPONDER, scenario="short", last_day=RESPONSE + 400)
    result = RULE["untreated_non_responder_alive_2y"].evaluate(Tables(*tables(*[short] * 5)))
    assert (result.violations, result.judged) == (0, 0) and result.passed and np.isnan(result.share)


def test_a_report_counts_names_and_shows_the_patients_who_break_a_rule():
    courses = [course(), course(donor_available=False), course(), course(donor_available=False)]
    report = check(*tables(*courses))
    (failed,) = report.failed
    assert failed.rule.name == "hsct_without_donor" and failed.violations == 2 and failed.judged == 4
    assert failed.examples[["patient_id", "donor_available", "hsct"]].values.tolist() == [[1, False, True], [3, False, True]]
    assert not report.passed and report.patients == 4
    frame = report.frame()
    assert frame.columns.tolist() == ["rule", "kind", "violations", "judged", "share", "lower", "upper", "bound", "passed", "statement"]
    assert frame.set_index("rule").loc["hsct_without_donor", "share"] == 0.5
    text = format_check(report)
    assert "FAIL hsct_without_donor (impossible, 2 of 4): An allogeneic transplant needs a donor." in text
    assert text.splitlines()[-1] == f"1 of {len(RULES)} rules failed: hsct_without_donor."


def test_patients_are_matched_by_scenario_strategy_replication_and_id():
    """Two strategies and two replications of the same patient ids: each event belongs to its own row."""
    courses = [course(strategy=strategy, replication=replication, **dead(400.0 + 10 * replication, "gvhd"))
               for strategy in ("a", "b") for replication in (0, 1)]
    patients, events = tables(*courses)
    patients["patient_id"] = 7
    events["patient_id"] = 7
    assert check(patients, events.sample(frac=1.0, random_state=1)).passed


@pytest.mark.parametrize("change, message", [
    (lambda p, e: (pd.concat([p, p]), e), "names a patient twice"),
    (lambda p, e: (p, e.assign(patient_id=e.patient_id + 1)), "events of patients not in the patients table"),
    (lambda p, e: (p, e.assign(event=e.event.replace("hsct", "transplant"))), "events the contract does not know"),
    (lambda p, e: (p.drop(columns="chimerism"), e), "lacks columns ['chimerism']"),
])
def test_tables_that_do_not_fit_together_are_refused(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Tables(*change(*tables(course())))
