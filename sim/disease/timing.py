"""When services come: the days that depend on waiting, one patient at a time (compiled).

Both engines decide the waits with these helpers: the SimPy engine calls them for each patient as
its calendar reaches them, and the cohort engine's compiled passes (:func:`sim.disease.course.unqueued_services`,
:func:`sim.disease.course.unqueued_resource_use`) and the settling of each course
(:mod:`sim.disease.settlement`) call the same compiled functions. Waiting lengthens exposure to the
latent times already drawn; it never redraws them (DESIGN.md section 4).

Days count from enrolment unless named ``*_after_infusion`` (from infusion) or ``*_after_hsct``
(from HSCT); ``NaN`` is an event that did not happen (and propagates, as in ``numpy.minimum``),
``inf`` a latent event that never comes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def minimum(a: float, b: float) -> float:
    """The earlier of two days; ``NaN`` if either is (as ``numpy.minimum``)."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a <= b else b


@njit(cache=True, error_model="numpy")
def before_relapse(death_day: float, relapse_day: float) -> float:
    """A non-relapse death counts only before a relapse (after it, death is from the disease): the day,
    or ``inf`` (also for ``NaN``, a death that does not happen; same origin for both days)."""
    return death_day if death_day < relapse_day else math.inf


@njit(cache=True, error_model="numpy")
def ready_day(start_day: float, slot_days: float, release_to_infusion_days: float) -> float:
    """Day a patient is ready for infusion (product released, lymphodepletion given), or starts
    chemotherapy, for manufacturing started on ``start_day``. Infusion needs a CAR-T bed as well."""
    return start_day + slot_days + release_to_infusion_days


@njit(cache=True, error_model="numpy")
def pre_hsct_exit_day(infused_day: float, exit_after_infusion: float, background_day: float) -> float:
    """Day after which a planned HSCT can no longer happen (relapse, early or background death)."""
    return minimum(infused_day + exit_after_infusion, background_day)


@njit(cache=True, error_model="numpy")
def infused_death_day(early_death_after_infusion: float, background_day: float, post_hsct_death_after_hsct: float,
                      infused_day: float, hsct_day: float) -> float:
    """Latent day of death of an infused patient from toxicity, background, or the transplant if
    transplanted (``hsct_day`` ``NaN`` when not); relapse deaths excluded."""
    after_hsct = hsct_day + post_hsct_death_after_hsct
    if math.isnan(after_hsct):
        after_hsct = math.inf
    return minimum(minimum(infused_day + early_death_after_infusion, background_day), after_hsct)


@njit(cache=True, error_model="numpy")
def icu_request_day(icu_need_after_infusion: float, early_death_after_infusion: float, background_day: float,
                    post_hsct_death_after_hsct: float, infused_day: float, hsct_day: float) -> float:
    """Day an infused patient asks for an ICU bed: the first need, if alive (``NaN`` otherwise). A need
    after an early transplant (a severe infection while the aplasia lasts) is met too: the patient goes
    from the transplant ward to intensive care (``hsct_day`` ``NaN``: not transplanted)."""
    need = infused_day + icu_need_after_infusion
    death = infused_death_day(early_death_after_infusion, background_day, post_hsct_death_after_hsct, infused_day,
                              hsct_day if hsct_day <= need else math.nan)
    return need if need < death else math.nan


@njit(cache=True, error_model="numpy")
def hsct_ready_day(planned_day: float, icu_day: float, icu_end_day: float) -> float:
    """The day a planned transplant can go ahead: not during an ICU stay (nor while waiting for an ICU
    bed) that began on or before the planned day; then it waits for the discharge, with its relapse and
    death risks running on (``NaN`` ICU days: no ICU stay)."""
    return icu_end_day if icu_day <= planned_day < icu_end_day else planned_day


@njit(cache=True, error_model="numpy")
def cart_bed_days(stay_days: float, early_death_after_infusion: float, background_day: float, infused_day: float) -> float:
    """Days a CAR-T bed is held from infusion: the stay, cut short by death."""
    return minimum(minimum(stay_days, early_death_after_infusion), background_day - infused_day)


@njit(cache=True, error_model="numpy")
def icu_bed_days(stay_days: float, death_day: float, admission_day: float) -> float:
    """Days an ICU bed is held from admission: the stay, cut short by death."""
    return minimum(stay_days, death_day - admission_day)


@njit(cache=True, error_model="numpy")
def transplant_bed_days(stay_days: float, death_after_hsct: float, background_day: float, hsct_day: float,
                        toxicity_death_day: float) -> float:
    """Days a transplant bed is held: the stay, cut short by death from the transplant, background or a
    fatal infection of the CAR-T aplasia (``toxicity_death_day``, days from enrolment)."""
    return minimum(minimum(minimum(stay_days, death_after_hsct), background_day - hsct_day), toxicity_death_day - hsct_day)


@njit(cache=True, error_model="numpy", inline="always")
def pre_hsct_exit_after(early_death_after_infusion: float, late_death_after_infusion: float, relapse_after_infusion: float) -> float:
    """Days after infusion at which a patient can no longer be transplanted (early death, a late non-relapse death,
    relapse while waiting); background death is added by :func:`pre_hsct_exit_day`."""
    return minimum(minimum(early_death_after_infusion, late_death_after_infusion), relapse_after_infusion)


@njit(cache=True, error_model="numpy")
def pre_hsct_exit_after_infusion(early_death_after_infusion: np.ndarray, late_death_after_infusion: np.ndarray,
                                 relapse_after_infusion: np.ndarray) -> np.ndarray:
    """:func:`pre_hsct_exit_after` of each patient."""
    exit_days = np.empty(early_death_after_infusion.shape[0])
    for i in range(exit_days.shape[0]):
        exit_days[i] = pre_hsct_exit_after(early_death_after_infusion[i], late_death_after_infusion[i], relapse_after_infusion[i])
    return exit_days


@njit(cache=True, error_model="numpy", inline="always")
def post_hsct_death_after(nrm_after_hsct: float, graft_failure_death_after_hsct: float, late_effects_death_after_hsct: float,
                          relapse_after_hsct: float, survival_after_hsct_relapse: float) -> float:
    """Days from HSCT to death from the transplant (only before a relapse) or from its relapse, for one patient
    (background and the CAR-T aplasia's infections excluded)."""
    non_relapse = minimum(minimum(nrm_after_hsct, graft_failure_death_after_hsct), late_effects_death_after_hsct)
    return minimum(before_relapse(non_relapse, relapse_after_hsct), relapse_after_hsct + survival_after_hsct_relapse)


@njit(cache=True, error_model="numpy")
def post_hsct_death_after_hsct(nrm_after_hsct: np.ndarray, graft_failure_death_after_hsct: np.ndarray,
                               late_effects_death_after_hsct: np.ndarray, relapse_after_hsct: np.ndarray,
                               survival_after_hsct_relapse: np.ndarray) -> np.ndarray:
    """:func:`post_hsct_death_after` of each patient."""
    death_days = np.empty(nrm_after_hsct.shape[0])
    for i in range(death_days.shape[0]):
        death_days[i] = post_hsct_death_after(nrm_after_hsct[i], graft_failure_death_after_hsct[i], late_effects_death_after_hsct[i],
                                              relapse_after_hsct[i], survival_after_hsct_relapse[i])
    return death_days


@njit(cache=True, error_model="numpy")
def held(start_day: float, end_day: float, last_day: float) -> float:
    """Days one patient held a resource from ``start_day`` to ``end_day``, cut at ``last_day`` (death or the end of
    follow-up); ``NaN`` where the hold did not begin before ``last_day``."""
    return minimum(end_day, last_day) - start_day if start_day < last_day else math.nan


@njit(cache=True, error_model="numpy")
def held_days(start_day: np.ndarray, end_day: np.ndarray, last_day: np.ndarray) -> np.ndarray:
    """:func:`held` of one patient after another."""
    days = np.empty(start_day.shape[0])
    for i in range(days.shape[0]):
        days[i] = held(start_day[i], end_day[i], last_day[i])
    return days
