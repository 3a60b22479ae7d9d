"""Settling each patient's course: who was infused, responded, was transplanted, relapsed and died
(of which competing risk) and when, censored at the end of follow-up.

:func:`settle_patients` settles one patient after another, written as the pathway reads, in one
compiled pass (numba); :func:`settle` gathers its inputs from a plan and the services. Setting the environment variable
``NUMBA_DISABLE_JIT=1`` runs the same function as plain Python, for stepping through a course in a
debugger.

Days count from enrolment unless named ``*_after_infusion`` (from infusion) or ``*_after_hsct``
(from HSCT); ``NaN`` is an event that did not happen, ``inf`` a latent event that never comes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.disease import survival
from sim.disease.cart import RESPONSE_NONE, RESPONSE_NOT_ASSESSED
from sim.disease.timing import before_relapse, minimum
from sim.disease.transplant import CHIMERISM_NONE
from sim.inputs.codes import DEATH_CAUSES

RISKS = ("refractory_disease", "relapse", "early_toxicity", "late_non_relapse", "non_relapse", "graft_failure",
         "late_effects", "background", "icu_wait")
"""The competing risks of death, in their order of precedence on ties; a risk's code is its index."""
RISK_CODE = {risk: code for code, risk in enumerate(RISKS)}
RISKS_AFTER_RELAPSE = frozenset({"refractory_disease", "relapse", "background"})
"""The risks that still run after a relapse (the disease, and background mortality); every other one
is a non-relapse death, counted only before relapse."""
_REFRACTORY, _RELAPSE, _EARLY, _LATE, _NON_RELAPSE, _GRAFT_FAILURE, _LATE_EFFECTS, _BACKGROUND, _ICU_WAIT = range(len(RISKS))
assert all(RISK_CODE[name] not in (_EARLY, _LATE, _NON_RELAPSE, _GRAFT_FAILURE, _LATE_EFFECTS, _ICU_WAIT)
           for name in RISKS_AFTER_RELAPSE), "the kernel cuts exactly the non-relapse risks at relapse"

RISK_CAUSE = np.array([DEATH_CAUSES.index(cause) for cause in (
    "disease", "disease", "none", "none", "none", "infection", "other_nrm", "background", "none")], dtype=np.int8)
"""The cause of death of each risk (:data:`RISKS`) whose cause is one for everybody; the others are per
patient: the toxicity that killed early, a drawn non-relapse cause, what sent the patient to the ICU."""
NO_DEATH = DEATH_CAUSES.index("none")

COLUMNS = ("infused", "infusion_day", "crs_grade", "icans_grade", "response", "response_day", "hsct", "hsct_day",
           "agvhd_grade", "cgvhd", "relapse", "relapse_day", "relapse_cd7_negative", "death", "death_day", "last_day",
           "chimerism")
"""The endpoint columns :func:`settle` decides, in the patients table's order."""
_BOOLEAN = frozenset({"infused", "hsct", "cgvhd", "relapse", "relapse_cd7_negative", "death"})
_CODES = frozenset({"crs_grade", "icans_grade", "response", "agvhd_grade", "chimerism"})


@njit(cache=True, inline="always")
def _observed(day: float, last_day: float) -> float:
    """The day if it came by the end of follow-up, ``NaN`` otherwise."""
    return day if day <= last_day else math.nan


@njit(cache=True, error_model="numpy", inline="always")
def settle_patient(before, toxicity, response, after, graft, causes, services, horizon):  # noqa: PLR0914, PLR0915 - the course
    """Settle one patient: the endpoint columns (:data:`COLUMNS` order), then the latent death day, first risk,
    severe GVHD, the CAR-T, acute and chronic GVHD days observed and the cause of death (the order of
    :class:`Settled`'s arrays).

    The arguments are the patient's values of the arrays :func:`settle` gathers, by step, in its order, and the end
    of follow-up; a few tuples rather than forty values, so that the call can be inlined.
    """
    slot_days, failed, exit_day, dropout_day, background_day = before
    early_after, late_after, car_t_gvhd, car_t_gvhd_after, crs_grade, icans_grade = toxicity
    response_after, response_code, relapse_after, relapse_negative_pre, refractory_survival, relapse_survival = response
    relapse_after_hsct, relapse_negative_post, hsct_relapse_survival, nrm_after_hsct, late_effects_after = after
    graft_failure_after, agvhd_grade, agvhd_after, cgvhd, cgvhd_after, chimerism = graft
    early_cause, late_cause_draw, nrm_cause_draw, icu_cause, gvhd_share, infection_share = causes
    manufacturing_start, infusion_day, hsct_day, icu_wait_death_day = services
    release_day = manufacturing_start + slot_days
    t0, hsct = infusion_day, hsct_day
    infused, transplanted = not math.isnan(t0), not math.isnan(hsct)

    # the response assessment, if the patient lives to it
    assessment_day = t0 + response_after
    assessed = (infused and early_after > response_after and background_day > assessment_day
                and not icu_wait_death_day <= assessment_day)
    response = response_code if assessed else RESPONSE_NOT_ASSESSED
    response_day = assessment_day if assessed else math.nan
    in_cr = assessed and response_code != RESPONSE_NONE

    # living with untreated disease from: a failed manufacturing (at release: not a progression, but no
    # CAR-T), a drop-out (progression before infusion), or primary non-response (at the assessment)
    untreated_day = math.nan
    if not infused:
        untreated_day = release_day if failed and release_day < exit_day else dropout_day
    if assessed and not in_cr:
        untreated_day = response_day

    if transplanted:
        relapse_day, relapse_negative = hsct + relapse_after_hsct, relapse_negative_post
        relapse_death = relapse_day + hsct_relapse_survival
    else:
        relapse_day = t0 + relapse_after if in_cr else math.inf
        relapse_negative = relapse_negative_pre
        relapse_death = relapse_day + relapse_survival

    # the competing risks of death: the first wins (the earlier risk on ties); after a relapse, death
    # is from the disease, so every other risk but age counts only before it
    late_day = t0 + late_after
    risks = (
        untreated_day + refractory_survival,
        relapse_death,
        # a fatal infection of the aplasia is not cancelled by an early transplant (engraftment ends the aplasia later)
        before_relapse(t0 + early_after, relapse_day),
        # prolonged cytopenia or late infection without transplant: a transplant before it takes over
        before_relapse(math.inf if hsct <= late_day else late_day, relapse_day),
        before_relapse(hsct + nrm_after_hsct, relapse_day),
        before_relapse(hsct + graft_failure_after, relapse_day),
        before_relapse(hsct + late_effects_after, relapse_day),
        background_day,
        before_relapse(icu_wait_death_day, relapse_day),
    )
    death_day, first = math.inf, 0
    for risk in range(len(risks)):
        if risks[risk] < death_day:
            death_day, first = risks[risk], risk

    # GVHD starts only alive and in remission
    gvhd_until = minimum(death_day, relapse_day)
    agvhd_day = hsct + agvhd_after
    agvhd_day = agvhd_day if transplanted and agvhd_grade > 0 and agvhd_day < gvhd_until else math.nan
    cgvhd_day = hsct + cgvhd_after
    cgvhd_day = cgvhd_day if transplanted and cgvhd and cgvhd_day < gvhd_until else math.nan
    severe_gvhd = (agvhd_grade >= 3 and agvhd_day < death_day) or cgvhd_day < death_day

    # the cause of death: the first risk's own cause, or one drawn for the patient
    cause = RISK_CAUSE[first]
    if first == _EARLY:
        cause = early_cause
    elif first == _LATE:
        cause = survival.non_relapse_cause(late_cause_draw, False, gvhd_share, infection_share)
    elif first == _NON_RELAPSE:
        cause = survival.non_relapse_cause(nrm_cause_draw, severe_gvhd, gvhd_share, infection_share)
    elif first == _ICU_WAIT:
        cause = icu_cause

    # censoring: every event, the index treatment and its assessment too, is recorded only by the last day
    died = death_day <= horizon
    last_day = death_day if died else horizon
    t0, response_day = _observed(t0, last_day), _observed(response_day, last_day)
    infused = not math.isnan(t0)
    relapse_day = _observed(relapse_day if relapse_day < death_day else math.nan, last_day)
    hsct = _observed(hsct, last_day)
    transplanted = not math.isnan(hsct)
    car_t_gvhd_day = t0 + car_t_gvhd_after
    car_t_gvhd_day = _observed(car_t_gvhd_day if infused and car_t_gvhd and car_t_gvhd_day < death_day else math.nan, last_day)
    agvhd_day, cgvhd_day = _observed(agvhd_day, last_day), _observed(cgvhd_day, last_day)
    grade = agvhd_grade if transplanted and not math.isnan(agvhd_day) else 0
    if not math.isnan(car_t_gvhd_day) and grade < 2:
        grade = 2

    return (
        # the endpoint columns, in COLUMNS order
        infused, t0, crs_grade if infused else 0, icans_grade if infused else 0,
        RESPONSE_NOT_ASSESSED if math.isnan(response_day) else response, response_day, transplanted, hsct, grade,
        not math.isnan(cgvhd_day), not math.isnan(relapse_day), relapse_day, not math.isnan(relapse_day) and relapse_negative, died,
        death_day if died else math.nan, last_day, chimerism if transplanted else CHIMERISM_NONE,
        # the latent death day, first risk, severe GVHD, the GVHD days observed and the cause of death
        death_day, first, severe_gvhd, car_t_gvhd_day, agvhd_day, cgvhd_day, cause if died else NO_DEATH,
    )


@njit(cache=True, error_model="numpy")
def settle_patients(plan, services, horizon, out, latent):
    """:func:`settle_patient` of one patient after another: its endpoint columns into ``out`` (arrays in
    :data:`COLUMNS` order) and its latent death day, first risk, GVHD days and cause of death into ``latent``.

    ``plan``, ``services`` and ``latent`` are tuples of arrays in the order of :func:`settle`.
    """
    (slot_days, failed, exit_day, dropout_day, background_day, early_after, late_after, car_t_gvhd, car_t_gvhd_after,
     crs_grade, icans_grade, response_after, response_code, relapse_after, relapse_negative_pre, refractory_survival,
     relapse_survival, relapse_after_hsct, relapse_negative_post, hsct_relapse_survival, nrm_after_hsct, late_effects_after,
     graft_failure_after, agvhd_grade, agvhd_after, cgvhd, cgvhd_after, chimerism, early_cause, late_cause_draw, nrm_cause_draw,
     icu_cause, gvhd_share, infection_share) = plan
    manufacturing_start, infusion_day, hsct_day, icu_wait_death_day = services
    (o_infused, o_infusion_day, o_crs, o_icans, o_response, o_response_day, o_hsct, o_hsct_day, o_agvhd, o_cgvhd,
     o_relapse, o_relapse_day, o_relapse_negative, o_death, o_death_day, o_last_day, o_chimerism) = out
    l_death_day, l_first, l_severe_gvhd, l_car_t_gvhd_day, l_agvhd_day, l_cgvhd_day, l_cause = latent
    for i in range(horizon.shape[0]):
        (o_infused[i], o_infusion_day[i], o_crs[i], o_icans[i], o_response[i], o_response_day[i], o_hsct[i], o_hsct_day[i],
         o_agvhd[i], o_cgvhd[i], o_relapse[i], o_relapse_day[i], o_relapse_negative[i], o_death[i], o_death_day[i], o_last_day[i],
         o_chimerism[i], l_death_day[i], l_first[i], l_severe_gvhd[i], l_car_t_gvhd_day[i], l_agvhd_day[i], l_cgvhd_day[i],
         l_cause[i]) = settle_patient(
            (slot_days[i], failed[i], exit_day[i], dropout_day[i], background_day[i]),
            (early_after[i], late_after[i], car_t_gvhd[i], car_t_gvhd_after[i], crs_grade[i], icans_grade[i]),
            (response_after[i], response_code[i], relapse_after[i], relapse_negative_pre[i], refractory_survival[i],
             relapse_survival[i]),
            (relapse_after_hsct[i], relapse_negative_post[i], hsct_relapse_survival[i], nrm_after_hsct[i], late_effects_after[i]),
            (graft_failure_after[i], agvhd_grade[i], agvhd_after[i], cgvhd[i], cgvhd_after[i], chimerism[i]),
            (early_cause[i], late_cause_draw[i], nrm_cause_draw[i], icu_cause[i], gvhd_share[i], infection_share[i]),
            (manufacturing_start[i], infusion_day[i], hsct_day[i], icu_wait_death_day[i]), horizon[i])


@dataclass(frozen=True)
class Settled:
    """What :func:`settle` decided.

    Attributes
    ----------
    columns : dict of ndarray
        The endpoint columns (:data:`COLUMNS`).
    death_day : ndarray
        Latent day of death (before censoring; ``inf``: none).
    first : ndarray of int8
        Code of the risk of death that came first (:data:`RISK_CODE`).
    severe_gvhd : ndarray of bool
        Grade III-IV acute or chronic GVHD before death (latent, uncensored).
    car_t_gvhd_day, agvhd_day, cgvhd_day : ndarray
        Onset days of CAR-T GVHD and of acute and chronic GVHD after HSCT, observed by the last day.
    death_cause : ndarray of int8
        Cause of a death by the last day (index into ``sim.inputs.codes.DEATH_CAUSES``; ``none`` without).
    """

    columns: dict[str, np.ndarray]
    death_day: np.ndarray
    first: np.ndarray
    severe_gvhd: np.ndarray
    car_t_gvhd_day: np.ndarray
    agvhd_day: np.ndarray
    cgvhd_day: np.ndarray
    death_cause: np.ndarray


def _codes(values: np.ndarray, dtype: type) -> np.ndarray:
    """``values`` as contiguous ``dtype`` codes or flags."""
    return np.ascontiguousarray(values, dtype=dtype)


def days_of(values: np.ndarray | float, n: int) -> np.ndarray:
    """``values`` as ``n`` contiguous float64 days (a constant repeated): the form compiled passes take."""
    if isinstance(values, np.ndarray) and values.shape == (n,):
        return np.ascontiguousarray(values, dtype=np.float64)
    return np.full(n, values, dtype=np.float64)


def endpoint_arrays(n: int) -> tuple[np.ndarray, ...]:
    """Empty arrays for the endpoint columns of ``n`` patients, in :data:`COLUMNS` order: flags as bool, grades and
    codes as int8, days as float64 (what the settling passes write into)."""
    return tuple(np.empty(n, dtype=np.bool_ if name in _BOOLEAN else np.int8 if name in _CODES else np.float64) for name in COLUMNS)


def settle(plan, services, horizon_days: float | np.ndarray) -> Settled:
    """Settle every patient's course (see :func:`settle_patients`).

    Parameters
    ----------
    plan : sim.disease.course.Plan
        The wait-independent course.
    services : sim.disease.course.Services
        What the engine decided (days from enrolment).
    horizon_days : float or ndarray
        End of follow-up from enrolment, days, for everyone or per patient.
    """
    before, toxicity, response, graft, after = plan.before, plan.toxicity, plan.response, plan.transplant, plan.after_transplant
    n = services.infusion_day.shape[0]
    b = np.bool_
    plan_arrays = (
        days_of(before.slot_days, n), _codes(before.manufacturing_failed, b), days_of(before.exit_day, n),
        days_of(before.dropout_day, n), days_of(before.background_death_day, n),
        days_of(toxicity.early_death_after_infusion, n), days_of(toxicity.late_death_after_infusion, n),
        _codes(toxicity.car_t_gvhd, b), days_of(toxicity.car_t_gvhd_after_infusion, n),
        _codes(toxicity.crs_grade, np.int8), _codes(toxicity.icans_grade, np.int8),
        days_of(response.response_after_infusion, n), _codes(response.response_code, np.int8),
        days_of(response.relapse_after_infusion, n), _codes(response.relapse_cd7_negative, b),
        days_of(response.survival_with_refractory_disease, n), days_of(response.survival_after_relapse, n),
        days_of(after.relapse_after_hsct, n), _codes(after.relapse_cd7_negative, b), days_of(after.survival_after_hsct_relapse, n),
        days_of(after.nrm_after_hsct, n), days_of(after.late_effects_death_after_hsct, n),
        days_of(graft.graft_failure_death_after_hsct, n), _codes(graft.agvhd_grade, np.int8), days_of(graft.agvhd_after_hsct, n),
        _codes(graft.cgvhd, b), days_of(graft.cgvhd_after_hsct, n), _codes(graft.chimerism, np.int8),
        _codes(toxicity.early_death_cause, np.int8), days_of(toxicity.late_death_cause_draw, n), days_of(after.nrm_cause_draw, n),
        _codes(plan.care.icu_cause, np.int8), days_of(after.nrm_gvhd_share_if_gvhd, n), days_of(after.nrm_infection_share, n),
    )
    service_arrays = tuple(days_of(days, n) for days in (services.manufacturing_start, services.infusion_day, services.hsct_day,
                                                         services.icu_wait_death_day))
    out = endpoint_arrays(n)
    latent = (np.empty(n), np.empty(n, dtype=np.int8), np.empty(n, dtype=np.bool_), np.empty(n), np.empty(n), np.empty(n),
              np.empty(n, dtype=np.int8))
    settle_patients(plan_arrays, service_arrays, days_of(horizon_days, n), out, latent)
    columns = dict(zip(COLUMNS, out, strict=True))
    columns["cart_source"] = plan.cart_source
    return Settled(columns, *latent)
