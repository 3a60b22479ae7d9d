"""Clinical rules for latent event times: drop-out, relapse, non-relapse death, survival with
disease and background mortality (DESIGN.md section 3, steps 1, 9-10).

Competing risks are latent times drawn up front; whichever comes first wins. ``inf`` marks an
event that never happens (for example the cured fraction of a mixture-cure model).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit, vectorize

from sim.disease.draws import (
    exponential_time,
    exponential_time_scores,
    gompertz_time,
    weibull_time,
)
from sim.inputs.codes import DAYS_PER_YEAR, DEATH_CAUSES


def dropout_day(scores: np.ndarray, p_by_60_days: float) -> np.ndarray:
    """Latent day of progression or death before infusion (exponential from enrolment; :func:`exponential_time`
    of each draw, to the bit).

    Parameters
    ----------
    scores : ndarray
        :func:`sim.disease.draws.exponential_time_scores` of the draws ``u_dropout``.
    p_by_60_days : float
        Probability of dropping out within 60 days; 0 means never.
    """
    if p_by_60_days <= 0.0:
        return np.full(scores.shape, np.inf)
    if p_by_60_days >= 1.0:
        return np.zeros(scores.shape)
    median = float(60.0 * np.log(2.0) / -np.log1p(-p_by_60_days))
    return scores * (median / math.log(2.0))


def background_death_day(e: np.ndarray, age_years: np.ndarray, hazard_at_40: float, slope: float) -> np.ndarray:
    """Latent day of death from background (non-disease) mortality, Gompertz by age.

    Parameters
    ----------
    e : ndarray
        Standard exponential scores of the draws ``u_background`` (:meth:`sim.disease.draws.PatientDraws.exponential`).
    age_years : ndarray
        Age at enrolment, years.
    hazard_at_40 : float
        Background hazard at age 40, per year.
    slope : float
        Gompertz slope, per year of age.
    """
    hazard_now = hazard_at_40 * np.exp(slope * (age_years - 40.0))
    return gompertz_time(e, hazard_now, slope) * DAYS_PER_YEAR


@njit(cache=True, error_model="numpy")
def split_by_cd7(p_event: float, cd7_negative_share: float, cd7_negative_multiplier: float,
                 prevented_to_positive: float) -> tuple[float, float]:
    """Split an event probability (non-response, or relapse) into its CD7-positive and CD7-negative parts
    (compiled, for one patient).

    The CD7-negative part is scaled by ``cd7_negative_multiplier``. When the multiplier is below 1 (a product
    that prevents CD7-negative escape, e.g. a dual-target CAR-T), the prevented escapes do not all become
    cures: a share ``prevented_to_positive`` of them becomes a CD7-positive event instead (the leukaemia
    finds another way); the rest are prevented. The CD7-positive part is capped at 1 and the CD7-negative
    part at what the positive part leaves of 1.

    Parameters
    ----------
    p_event : float
        Probability of the event.
    cd7_negative_share : float
        Share of the events that are CD7-negative.
    cd7_negative_multiplier : float
        Multiplier on the CD7-negative part.
    prevented_to_positive : float
        Share of the prevented CD7-negative events that become CD7-positive.

    Returns
    -------
    p_positive, p_negative : float
    """
    prevented = p_event * cd7_negative_share * max(1.0 - cd7_negative_multiplier, 0.0)
    positive = min(p_event * (1.0 - cd7_negative_share) + prevented_to_positive * prevented, 1.0)
    return positive, min(p_event * cd7_negative_share * cd7_negative_multiplier, 1.0 - positive)


@njit(cache=True, error_model="numpy")
def with_hazard_ratio(p_event: float, hazard_ratio: float) -> float:
    """The probability of an event under a hazard ratio (proportional hazards): ``1 - (1 - p)^HR``
    (compiled, for one patient or one parameter value)."""
    return 1.0 - (1.0 - p_event) ** hazard_ratio


LATE_EFFECTS_FROM_YEARS = 2.0
"""Years after HSCT from which late excess mortality runs (the 2-year survivors of HSCT-LATE-BMTSS)."""
LATE_EFFECTS_TO_YEARS = 15.0
"""Years after HSCT at which the relative mortality reaches its long-term value."""


def late_effects_death_days(
    u: np.ndarray, age_years: np.ndarray, hazard_at_40: float, slope: float, relative_start: float, relative_end: float,
    multiplier: np.ndarray | float,
) -> np.ndarray:
    """Latent days from HSCT to a late non-relapse death from the excess mortality of transplant survivors.

    From :data:`LATE_EFFECTS_FROM_YEARS` after HSCT the hazard is ``multiplier * (RM(t) - 1) * h(age + t)``,
    with ``h`` the Gompertz background hazard and the relative mortality ``RM`` falling log-linearly, year
    by year, from ``relative_start`` to ``relative_end`` at :data:`LATE_EFFECTS_TO_YEARS`, constant after.
    The cumulative hazard is integrated exactly on each year (:func:`late_effects_tables`) and inverted at
    ``-log(1 - u)`` (:func:`late_effects_day`). Age is taken at enrolment (the weeks to HSCT are ignored:
    under 1% of the hazard).

    Parameters
    ----------
    u : ndarray
        Uniform draws ``u_late_effects``.
    age_years : ndarray
        Age at enrolment, years.
    hazard_at_40, slope : float
        Background Gompertz hazard at 40 (per year) and slope (per year of age).
    relative_start, relative_end : float
        Relative mortality at 2 and at 15 years after HSCT.
    multiplier : float or ndarray
        On the excess hazard (e.g. with chronic GVHD).

    Returns
    -------
    ndarray
        Days from HSCT (``inf`` where the excess hazard is 0).
    """
    tables = late_effects_tables(relative_start, relative_end, slope)
    scores = exponential_time_scores(np.ascontiguousarray(u, dtype=np.float64))
    n = scores.shape[0]
    days = np.empty(n)
    late_effects_days_into(scores, np.ascontiguousarray(np.broadcast_to(age_years, (n,)), dtype=np.float64),
                           np.ascontiguousarray(np.broadcast_to(multiplier, (n,)), dtype=np.float64),
                           float(hazard_at_40), float(slope), tables, days)
    return days


@lru_cache(maxsize=16)
def late_effects_tables(relative_start: float, relative_end: float, slope: float) -> tuple[tuple[float, ...], ...]:
    """The cumulative excess hazard of late effects per unit of a patient's scale, at the year boundaries.

    The cumulative excess hazard of :func:`late_effects_death_days` is ``scale_i x G(t)``, with ``G`` the same
    for every patient, so each patient needs ``G(t) = -log(1 - u) / scale_i``: ``G`` is tabulated at the year
    boundaries from :data:`LATE_EFFECTS_FROM_YEARS` and inverted in closed form within a year.

    Returns
    -------
    before, excess, grown, starts : tuple of float
        ``G`` at the start of each year (the last year runs on), the excess relative mortality of each year,
        ``exp(slope x start)`` (the start itself for a slope of 0) and the start of each year, years after HSCT:
        tuples of numbers, which a compiled pass reads without the reference counting of arrays. The tables of the
        latest parameter values are kept: every study replay of a calibration draw asks for the same ones.
    """
    starts = np.arange(LATE_EFFECTS_FROM_YEARS, LATE_EFFECTS_TO_YEARS + 1.0)
    fraction = (starts - LATE_EFFECTS_FROM_YEARS) / (LATE_EFFECTS_TO_YEARS - LATE_EFFECTS_FROM_YEARS)
    excess = np.maximum(np.exp(np.log(relative_start) + fraction * (np.log(relative_end) - np.log(relative_start))) - 1.0, 0.0)
    grown = np.exp(slope * starts) if slope != 0.0 else starts  # the primitive of exp(slope t), up to 1/slope
    per_year = excess[:-1] * ((grown[1:] - grown[:-1]) / slope if slope != 0.0 else np.diff(starts))
    before = np.concatenate(([0.0], np.cumsum(per_year)))
    return tuple(tuple(table.tolist()) for table in (before, excess, grown, starts))


@njit(cache=True, error_model="numpy")
def late_effects_day(score, age_years, multiplier, hazard_at_40, slope, tables):
    """Days from HSCT to a late-effects death of one patient (:func:`late_effects_death_days`), by inverting the
    cumulative excess hazard tabulated by :func:`late_effects_tables` at the patient's ``-log(1 - u)``
    (``score``: :func:`sim.disease.draws.exponential_time_scores` of the draw ``u_late_effects``); ``inf`` where it
    never comes, and for a ``multiplier`` of 0 (a patient who is never transplanted)."""
    before, excess, grown, starts = tables
    years = math.inf
    if multiplier > 0.0:
        scale = hazard_at_40 * math.exp(slope * (age_years - 40.0)) * multiplier
        needed = score / scale
        if math.isfinite(needed):
            # the last year whose start the cumulative hazard reaches (``before`` never decreases): most patients
            # need more than the tables hold, and are in the last year, which runs on
            segment = len(before) - 1
            while segment > 0 and before[segment] > needed:
                segment -= 1
            rate = excess[segment]
            if rate > 0.0:
                remaining = needed - before[segment]
                if slope != 0.0:
                    years = math.log(grown[segment] + slope * remaining / rate) / slope
                else:
                    years = starts[segment] + remaining / rate
    return years * DAYS_PER_YEAR


@njit(cache=True, error_model="numpy")
def late_effects_days_into(scores, age_years, multiplier, hazard_at_40, slope, tables, out):
    """:func:`late_effects_day` of one patient after another, into ``out``."""
    for i in range(scores.shape[0]):
        out[i] = late_effects_day(scores[i], age_years[i], multiplier[i], hazard_at_40, slope, tables)


@vectorize(cache=True)
def late_non_relapse_death(u_event: float, u_time: float, p_death: float, from_days: float, median_days: float) -> float:
    """Latent day of a late non-relapse death without transplant (prolonged cytopenia, late infection):
    a share ``p_death`` dies, ``from_days`` plus an exponential time with median ``median_days`` (days
    from the index treatment; ``inf`` for the others; a compiled ufunc)."""
    return from_days + exponential_time(u_time, median_days) if u_event < p_death else math.inf


@vectorize(cache=True)
def relapse_day(u_relapse: float, w_time: float, p_positive: float, p_negative: float, scale: float) -> float:
    """Latent relapse day of one patient under a mixture-cure model (a compiled ufunc).

    A patient relapses with probability ``p_positive + p_negative`` (CD7-positive first on the draw
    scale, then CD7-negative, :func:`relapses_cd7_negative`); the time to relapse is Weibull: ``scale``
    (:func:`sim.disease.draws.weibull_scale`, days) times ``w_time``, the standard Weibull score of the
    time draw for the shape (``PatientDraws.weibull``).

    Returns
    -------
    float
        Days from the model's origin to relapse; ``inf`` for the cured.
    """
    if u_relapse < p_positive or u_relapse < p_positive + p_negative:
        return scale * w_time
    return math.inf


@vectorize(cache=True)
def relapses_cd7_negative(u_relapse: float, p_positive: float, p_negative: float) -> bool:
    """Whether the relapse of :func:`relapse_day` is CD7-negative (a compiled ufunc)."""
    return not u_relapse < p_positive and u_relapse < p_positive + p_negative


@vectorize(cache=True)
def non_relapse_death(u_event: float, u_time: float, p_death: float, median_days: float) -> float:
    """Latent day of non-relapse death (mixture: a share dies, exponential time among them; ``inf``
    for those who never die of it; days from the origin; a compiled ufunc)."""
    return exponential_time(u_time, median_days) if u_event < p_death else math.inf


GVHD_DEATH, INFECTION_DEATH, OTHER_NRM_DEATH = (DEATH_CAUSES.index(cause) for cause in ("gvhd", "infection", "other_nrm"))


@vectorize(cache=True)
def non_relapse_cause(u: float, severe_gvhd: bool, gvhd_share_if_gvhd: float, infection_share: float) -> np.int8:
    """Cause of a non-relapse death after HSCT, as a ``death_cause`` code (a compiled ufunc).

    Patients with grade >= 3 acute or with chronic GVHD die of GVHD with probability
    ``gvhd_share_if_gvhd``; the rest die of infection with probability ``infection_share`` and
    otherwise of other causes.

    Returns
    -------
    int8
        Index into ``sim.inputs.codes.DEATH_CAUSES`` of ``gvhd``, ``infection`` or ``other_nrm``.
    """
    if severe_gvhd and u < gvhd_share_if_gvhd:
        return np.int8(GVHD_DEATH)
    rescaled = (u - gvhd_share_if_gvhd) / max(1.0 - gvhd_share_if_gvhd, 1e-12) if severe_gvhd else u
    return np.int8(INFECTION_DEATH if rescaled < infection_share else OTHER_NRM_DEATH)


SALVAGE_CODE = {"none": 0, "dli": 1, "second_cart": 2}
"""Code of each salvage treatment of a relapse after HSCT (``Strategy.salvage_after_hsct_relapse``)."""


@vectorize(cache=True)
def salvage_works(u: float, cd7_negative: bool, salvage: int, p_dli: float, p_second_cart: float) -> bool:
    """Whether a relapse after HSCT responds to the salvage treatment of code ``salvage``
    (:data:`SALVAGE_CODE`); a second CD7 CAR-T cannot work on a CD7-negative relapse (a compiled ufunc)."""
    if salvage == 1:
        return u < p_dli
    if salvage == 2:
        return not cd7_negative and u < p_second_cart
    return False


def survival_with_disease(w: np.ndarray, median_days: float, shape: float) -> np.ndarray:
    """Days from relapse or progression to death from disease (Weibull with a rising hazard, by inverse CDF;
    ``w``: the standard Weibull scores of the draws for ``shape``, ``PatientDraws.weibull``)."""
    return weibull_time(w, median_days, shape)
