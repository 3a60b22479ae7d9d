"""The whole course of each patient in one compiled pass, when nobody waits: the endpoint columns a study replay reads
(:func:`outcome_columns`), or the patients table's columns of a cohort-engine run that asks for nothing else
(:func:`table_columns`: no event log, resource measures or values).

:func:`outcome_columns` gives the same columns, to the bit, as :func:`sim.disease.course.outcome_columns` of
:func:`sim.disease.course.plan_course` and :func:`sim.disease.course.unqueued_services`: it calls the same per-patient
rules (``*_patient`` of :mod:`sim.disease.steps`, :func:`sim.disease.course.unqueued_patient`,
:func:`sim.disease.settlement.settle_patient`), in the pathway's order, for one patient after another, instead of
one step for all patients after another. Nothing between the steps is written to memory, and each patient's draws
are read from one row: at the size of a study replay the step-by-step passes spend much of their time moving the
arrays between steps, and the calibration replays every study for every parameter draw.

The numpy parts of the rules (the LogNormal, Gompertz and drop-out times, the Weibull scores) are computed first, as
the steps compute them, and read by the pass. A strategy without transplant takes the step-by-step path
(:func:`covers`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from sim.disease import survival, timing
from sim.disease.course import remembered, unqueued_patient, unqueued_table_patient
from sim.disease.draws import PatientDraws
from sim.disease.patients import PatientAttributes
from sim.disease.settlement import COLUMNS, days_of, endpoint_arrays, settle_patient
from sim.disease.steps import (
    Once,
    after_transplant_inputs,
    after_transplant_patient,
    before_infusion_inputs,
    before_infusion_patient,
    candidate_patient,
    care_patient,
    care_values,
    decision_inputs,
    late_effects_inputs,
    planned_hsct_interval,
    product_source,
    relapse_without_transplant,
    response_inputs,
    response_patient,
    toxicity_inputs,
    toxicity_patient,
    transplant_inputs,
    transplant_patient,
)
from sim.disease.transplant import CHIMERISM_NONE
from sim.inputs.codes import DAYS_PER_YEAR, WAIT_COLUMNS
from sim.inputs.parameters import ParameterSet
from sim.inputs.strategies import Strategy

DRAWS = (
    "u_manufacturing_failure",
    "u_crs_grade", "u_icans_grade", "u_infection", "u_infection_death", "u_infection_time", "u_cart_gvhd", "u_late_nrm", "u_late_nrm_time",
    "u_response", "u_mrd", "u_relapse_pre",
    "u_hsct_fit", "u_hsct_uptake",
    "u_chimerism", "u_graft_failure_death", "u_agvhd_grade", "u_cgvhd",
    "u_relapse_post", "u_nrm", "u_nrm_time", "u_salvage", "u_nrm_cause",
)
"""The uniform draws the pass reads as they are, in the order of its rows (:meth:`PatientDraws.rows`): the draws of
the steps' inputs (:func:`sim.disease.steps.before_infusion_inputs`, ``toxicity_inputs``, ``response_inputs``,
``decision_inputs``, ``transplant_inputs``, ``after_transplant_inputs``) and the draw of a non-relapse cause of death."""
SCORED = ("u_late_effects",)
"""The draws the pass reads as their exponential scores, after :data:`DRAWS` in its rows (those of
:func:`sim.disease.steps.late_effects_inputs`)."""


LATE_EFFECTS_EARLIEST_DAYS = survival.LATE_EFFECTS_FROM_YEARS * DAYS_PER_YEAR - 1.0
"""Days after HSCT before which no late-effects death comes (two years, less a day: the rounding of the tables' inverse
is below a millionth of a day for any Gompertz slope of 1e-6 a year or more, or of 0). A late-effects death that
could only come after the end of follow-up changes none of the endpoint columns (every one is censored there), so
the pass works it out only for patients followed that long after their transplant."""
LATE_EFFECTS_SLOPE_FLOOR = 1e-6
"""Smallest Gompertz slope (per year, other than 0) for which :data:`LATE_EFFECTS_EARLIEST_DAYS` holds; below it the
pass works out every transplanted patient's late effects."""


def covers(strategy: Strategy) -> bool:
    """Whether :func:`outcome_columns` takes ``strategy``: one with a transplant platform (the others have no
    transplant steps to run, and take the step-by-step path)."""
    return strategy.hsct_platform != "none"


def outcome_columns(params: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws,
                    horizon_days: float | np.ndarray, source: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The endpoint columns of every patient when nobody waits (those of :func:`sim.disease.course.outcome_columns`).

    Parameters
    ----------
    params : ParameterSet
        Parameter values.
    strategy : Strategy
        The strategy followed; one that :func:`covers`.
    attributes : PatientAttributes
        The patients.
    draws : PatientDraws
        Their uniform draws.
    horizon_days : float or ndarray
        End of follow-up from enrolment, days, for everyone or per patient.
    source : ndarray of int8, optional
        :func:`sim.disease.steps.product_source` of ``strategy`` and ``attributes``, if the caller keeps it (a study
        replay does: it does not depend on the parameters).
    """
    columns, _ = _run(params, strategy, attributes, draws, horizon_days, source, remembered(None), whole_table=False)
    return columns


def table_columns(params: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws,
                  horizon_days: float | np.ndarray, shared: dict[tuple, Any] | None = None) -> dict[str, np.ndarray]:
    """The columns of the patients table of every patient when nobody waits: those of
    :func:`sim.disease.course.resolve_course` (``Course.columns``) of the cohort engine's services, in their order —
    the endpoint columns, the cause of death, the hospital days and the waits (parameters as for
    :func:`outcome_columns`; ``shared`` as for :func:`sim.disease.course.plan_course`)."""
    columns, extra = _run(params, strategy, attributes, draws, horizon_days, None, remembered(shared), whole_table=True)
    death_cause, *hospital_and_waits = extra
    none = np.zeros(attributes.n, dtype=np.int8)
    table = {name: values for name, values in columns.items() if name not in ("last_day", "chimerism", "cart_source")}
    table["death_cause"] = death_cause
    table.update({name: columns[name] for name in ("last_day", "chimerism", "cart_source")})
    table.update(zip(TABLE_COLUMNS, hospital_and_waits, strict=True))
    table.update({"waiting_for": none, "waiting_exit": none})
    return table


TABLE_COLUMNS = ("cart_stay_days", "icu_days", "hsct_stay_days", *WAIT_COLUMNS)
"""The hospital-day and waiting columns :func:`table_columns` adds to the endpoint columns, in the table's order
(:func:`sim.disease.course.unqueued_table_columns`)."""


def _run(params: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws,
         horizon_days: float | np.ndarray, source: np.ndarray | None, once: Once, whole_table: bool,
         ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...]]:
    """Gather what the pass reads and run it: the endpoint columns, and with ``whole_table`` the cause of death and the
    :data:`TABLE_COLUMNS` (empty arrays otherwise)."""
    assert covers(strategy), "a strategy without transplant takes the step-by-step path"
    p, n = params, attributes.n
    uses_cart = strategy.index_therapy == "cart"
    source = product_source(strategy, attributes) if source is None else source
    # what the steps compute from the parameters with numpy (the draws themselves are read from their rows, DRAWS)
    (manufacturing, _), before_values, dropout_day, background_day = before_infusion_inputs(p, strategy, attributes, draws, once)
    _, toxicity_values = toxicity_inputs(p, strategy, draws)
    hsct_interval = planned_hsct_interval(p, strategy, draws)
    response_own, response_values = response_inputs(p, strategy, draws)
    _, decision_values = decision_inputs(p, strategy, draws)
    _, transplant_values = transplant_inputs(p, strategy, draws)
    _, relapse_median, relapse_cd7_share = relapse_without_transplant(p, uses_cart)
    after_own, after_values = after_transplant_inputs(p, strategy, draws, relapse_cd7_share, relapse_median, once)
    _, late_values, tables = late_effects_inputs(p, draws, once)
    w_relapse_pre, w_refractory, w_post_relapse = response_own[3:]
    _, w_graft, w_own, *_, salvaged = after_own
    patients = (
        attributes.disease, attributes.primary_refractory, attributes.donor_available, attributes.prior_hsct, attributes.age,
        attributes.marrow_blasts, source, manufacturing, dropout_day, background_day, hsct_interval, w_relapse_pre, w_refractory,
        w_post_relapse, w_graft, w_own, salvaged,
    )
    values = (before_values, toxicity_values, response_values, decision_values, transplant_values, after_values, late_values,
              care_values(p))
    settle_values = tuple(float(v) for v in (
        p["cart_gvhd_onset_days"], p["agvhd_onset_days"], p["cgvhd_onset_days"], p["nrm_gvhd_share_if_gvhd"], p["nrm_infection_share"],
        p["icu_stay_days"], p["hsct_stay_days"]))
    out = endpoint_arrays(n)
    size = n if whole_table else 0
    extra: tuple[np.ndarray, ...] = (np.empty(size, dtype=np.int8), *(np.empty(size) for _ in TABLE_COLUMNS))
    _course_patients(draws.rows(DRAWS, SCORED), tuple(np.ascontiguousarray(a) for a in patients), values, settle_values, tables, uses_cart,
                     survival.SALVAGE_CODE[strategy.salvage_after_hsct_relapse], days_of(horizon_days, n), whole_table, out, extra)
    columns = dict(zip(COLUMNS, out, strict=True))
    columns["cart_source"] = source
    return columns, extra


@njit(cache=True, error_model="numpy")
def _course_patients(rows, patients, values, settle_values, tables, uses_cart, salvage_code, horizon, whole_table, out,  # noqa: PLR0914
                     extra):
    """The course of one patient after another, from enrolment to the end of follow-up, into ``out`` (the endpoint
    columns, :data:`sim.disease.settlement.COLUMNS`): the steps' per-patient rules in the pathway's order, the days
    of a course in which nobody waits, and the settling; with ``whole_table``, the cause of death and the hospital
    days and waits into ``extra`` (``rows``: each patient's :data:`DRAWS`; the other arguments as :func:`_run` builds
    them)."""
    (disease, primary_refractory, donor_available, prior_hsct, age, blasts, source, manufacturing, dropout_day, background_day,
     hsct_interval, w_relapse_pre, w_refractory, w_post_relapse, w_graft, w_own, salvaged) = patients
    (before_values, toxicity_values, response_values, decision_values, transplant_values, after_values, late_values,
     care_values_) = values
    cgvhd_rr, hazard_at_40, slope = late_values
    late_effects_always = slope != 0.0 and abs(slope) < LATE_EFFECTS_SLOPE_FLOOR
    car_t_gvhd_after, agvhd_after, cgvhd_after, gvhd_share, infection_share, icu_stay, hsct_stay = settle_values
    for i in range(horizon.shape[0]):
        # the patient's draws (DRAWS, then SCORED), from their row
        (u_failure, u_crs, u_icans, u_infection, u_infection_death, u_infection_time, u_cart_gvhd, u_late, u_late_time, u_response,
         u_mrd, u_relapse_pre, u_fit, u_uptake, u_chimerism, u_graft_failure_death, u_agvhd, u_cgvhd, u_relapse_post, u_nrm,
         u_nrm_time, u_salvage, u_nrm_cause, late_effects_score) = (
            rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3], rows[i, 4], rows[i, 5], rows[i, 6], rows[i, 7], rows[i, 8], rows[i, 9],
            rows[i, 10], rows[i, 11], rows[i, 12], rows[i, 13], rows[i, 14], rows[i, 15], rows[i, 16], rows[i, 17], rows[i, 18],
            rows[i, 19], rows[i, 20], rows[i, 21], rows[i, 22], rows[i, 23])
        # 1-2. before infusion
        needs_slot, request_day, slot_days, release_days, failed = before_infusion_patient(
            source[i], manufacturing[i], u_failure, before_values, uses_cart)
        exit_day = timing.minimum(dropout_day[i], background_day[i])
        # 3-5. toxicity
        crs, icans, infected, infection_day, early, early_cause, car_t_gvhd, late = toxicity_patient(
            u_crs, u_icans, u_infection, u_infection_death, u_infection_time, u_cart_gvhd, u_late,
            u_late_time, source[i], toxicity_values, uses_cart)
        # 6, 9-10. response, relapse without transplant, survival with disease
        (response_after, code, _escape, relapse_after, relapse_negative_pre, p_relapse, refractory_survival, relapse_survival,
         hsct_relapse_survival) = response_patient(
            disease[i], primary_refractory[i], hsct_interval[i], u_response, u_mrd, u_relapse_pre, w_relapse_pre[i],
            w_refractory[i], w_post_relapse[i], response_values, uses_cart)
        # 7. transplant decision
        candidate = candidate_patient(code, donor_available[i], prior_hsct[i], u_fit, u_uptake, decision_values)
        # hospital care, and the days of a course in which nobody waits
        cart_stay, icu_need, icu_cause = care_patient(crs, icans, infected, infection_day, care_values_)
        manufacturing_start, infusion_day, hsct_day = unqueued_patient(
            request_day, exit_day, slot_days, release_days, failed, background_day[i], early, icu_need, hsct_interval[i], candidate,
            timing.pre_hsct_exit_after(early, late, relapse_after), icu_stay)
        # 8-9. the transplant and what follows it, for the patients transplanted (settling reads them for no one else),
        # and the late effects for those followed long enough to see them
        chimerism, graft_failure_death, agvhd, cgvhd = CHIMERISM_NONE, math.inf, 0, False
        nrm, relapse_after_hsct, relapse_negative_post, survival_after_hsct_relapse = math.inf, math.inf, False, math.inf
        late_effects = math.inf
        if not math.isnan(hsct_day):
            chimerism, graft_failure_death, agvhd, cgvhd = transplant_patient(
                u_chimerism, u_graft_failure_death, u_agvhd, u_cgvhd, transplant_values)
            nrm, relapse_after_hsct, relapse_negative_post, _salvage, survival_after_hsct_relapse = after_transplant_patient(
                blasts[i], age[i], code, p_relapse, chimerism, hsct_relapse_survival, u_relapse_post, w_graft[i], w_own[i],
                u_nrm, u_nrm_time, u_salvage, salvaged[i], after_values, salvage_code)
            if whole_table or late_effects_always or hsct_day + LATE_EFFECTS_EARLIEST_DAYS <= horizon[i]:
                late_effects = survival.late_effects_day(late_effects_score, age[i], cgvhd_rr if cgvhd else 1.0, hazard_at_40,
                                                         slope, tables)
        # settling: who was infused, responded, was transplanted, relapsed and died, by the end of follow-up
        settled = settle_patient(
            (slot_days, failed, exit_day, dropout_day[i], background_day[i]),
            (early, late, car_t_gvhd, car_t_gvhd_after, crs, icans),
            (response_after, code, relapse_after, relapse_negative_pre, refractory_survival, relapse_survival),
            (relapse_after_hsct, relapse_negative_post, survival_after_hsct_relapse, nrm, late_effects),
            (graft_failure_death, agvhd, agvhd_after, cgvhd, cgvhd_after, chimerism),
            (early_cause, u_nrm_cause, u_nrm_cause, icu_cause, gvhd_share, infection_share),
            (manufacturing_start, infusion_day, hsct_day, math.nan), horizon[i])
        (out[0][i], out[1][i], out[2][i], out[3][i], out[4][i], out[5][i], out[6][i], out[7][i], out[8][i], out[9][i], out[10][i],
         out[11][i], out[12][i], out[13][i], out[14][i], out[15][i], out[16][i]) = settled[:17]
        if whole_table:  # the cause of death, and the hospital days and waits of a course in which nobody waits
            post_hsct_death = timing.post_hsct_death_after(nrm, graft_failure_death, late_effects, relapse_after_hsct,
                                                           survival_after_hsct_relapse)
            extra[0][i] = settled[23]
            (extra[1][i], extra[2][i], extra[3][i], extra[4][i], extra[5][i], extra[6][i], extra[7][i], extra[8][i],
             extra[9][i]) = unqueued_table_patient(
                infusion_day, hsct_day, needs_slot, manufacturing_start, slot_days, cart_stay, background_day[i], early, icu_need,
                post_hsct_death, relapse_after_hsct, uses_cart, icu_stay, hsct_stay, settled[15])
