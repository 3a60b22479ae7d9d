"""Clinical rules from enrolment to the day-28 response (DESIGN.md section 3, steps 1-6).

Every rule is a pure function: per-patient uniform draws in, outcomes out, by inverse CDF or by
comparing a draw with a probability. Most are rules for one patient compiled as ufuncs (numba), which
the compiled steps of :mod:`sim.disease.steps` call patient by patient and which apply elementwise to
arrays as well. No rule knows about engines.
"""

from __future__ import annotations

import numpy as np
from numba import vectorize

from sim.disease.draws import category, lognormal_time
from sim.disease.survival import split_by_cd7
from sim.inputs.codes import RESPONSES

RESPONSE_CR_MRD_NEG, RESPONSE_CR_MRD_POS, RESPONSE_NONE, RESPONSE_NOT_ASSESSED = (
    RESPONSES.index(r) for r in ("cr_mrd_neg", "cr_mrd_pos", "no_response", "not_assessed"))
"""Codes of the responses (positions in :data:`sim.inputs.codes.RESPONSES`, the one definition)."""


def manufacturing_days(z: np.ndarray, median_days: float, sigma: float) -> np.ndarray:
    """Days a manufacturing slot is held (LogNormal by inverse CDF).

    Parameters
    ----------
    z : ndarray
        Normal scores of the draws ``u_manufacturing_time``.
    median_days : float
        Median manufacturing time, days.
    sigma : float
        Log-scale standard deviation.
    """
    return lognormal_time(z, median_days, sigma)


@vectorize(cache=True)
def manufacturing_failed(u: float, p_failure: float) -> bool:
    """Whether the product fails at release (``u``: the draw ``u_manufacturing_failure``; a compiled ufunc)."""
    return u < p_failure


@vectorize(cache=True)
def crs_grade(
    u: float,
    p_any: float,
    p_grade3plus_given_any: float,
    p_grade2_given_mild: float,
    p_grade4plus_given_3plus: float,
    p_grade5_given_4plus: float,
) -> np.int8:
    """CRS grade 0-5 of one patient, from the uniform draw ``u_crs_grade`` (a compiled ufunc).

    Grades are ordered along the draw, so a larger draw never gives a lower grade (monotone inverse
    CDF, :func:`sim.disease.draws.category`).

    Parameters
    ----------
    u : float
        Uniform draw.
    p_any : float
        Probability of any CRS.
    p_grade3plus_given_any, p_grade2_given_mild, p_grade4plus_given_3plus, p_grade5_given_4plus : float
        Conditional probabilities of the grades: 3 or more among any CRS, 2 among grades 1-2, 4 or more
        among 3 or more, 5 (fatal) among 4 or more.

    Returns
    -------
    int8
        Grade 0 (no CRS) to 5 (fatal).
    """
    mild = p_any * (1.0 - p_grade3plus_given_any)
    severe = p_any * p_grade3plus_given_any
    very_severe = severe * p_grade4plus_given_3plus
    return np.int8(category(u, (
        1.0 - p_any,
        mild * (1.0 - p_grade2_given_mild),
        mild * p_grade2_given_mild,
        severe - very_severe,
        very_severe * (1.0 - p_grade5_given_4plus),
        very_severe * p_grade5_given_4plus,
    )))


@vectorize(cache=True)
def icans_grade(u: float, p_any: float, p_grade3plus_given_any: float, p_grade5_given_3plus: float) -> np.int8:
    """ICANS grade 0-5 of one patient, from the uniform draw ``u_icans_grade``; grades 1-2 and 3-4 split
    equally (monotone inverse CDF; a compiled ufunc).

    Parameters
    ----------
    u : float
        Uniform draw.
    p_any : float
        Probability of any ICANS.
    p_grade3plus_given_any, p_grade5_given_3plus : float
        Probability of grade 3 or more among any ICANS, and of grade 5 (fatal) among those.

    Returns
    -------
    int8
        Grade 0 (none) to 5 (fatal).
    """
    mild = p_any * (1.0 - p_grade3plus_given_any)
    severe = p_any * p_grade3plus_given_any
    fatal = severe * p_grade5_given_3plus
    return np.int8(category(u, (1.0 - p_any, mild / 2, mild / 2, (severe - fatal) / 2, (severe - fatal) / 2, fatal)))


@vectorize(cache=True)
def severe_infection(u: float, p_infection: float) -> bool:
    """Whether a patient has a severe infection during aplasia (``u``: the draw ``u_infection``; a compiled ufunc)."""
    return u < p_infection


@vectorize(cache=True)
def infection_day(u_time: float, window_days: float) -> float:
    """Day after infusion of a severe infection, uniform over the aplasia window of ``window_days`` days
    (``u_time``: the draw ``u_infection_time``; defined for everyone; a compiled ufunc)."""
    return u_time * window_days


@vectorize(cache=True)
def fatal_infection(infected: bool, u_death: float, p_death_given_infection: float) -> bool:
    """Whether a patient dies of a severe infection: infected, and dying of it with probability
    ``p_death_given_infection`` (``u_death``: the draw ``u_infection_death``; a compiled ufunc)."""
    return infected and u_death < p_death_given_infection


@vectorize(cache=True)
def cd7_negative_escape(
    u_response: float, p_cr: float, cd7_negative_share_of_nonresponse: float, cd7_negative_multiplier: float,
    prevented_to_positive: float,
) -> bool:
    """Whether a patient does not respond through CD7-negative escape (a compiled ufunc).

    Non-response (probability ``1 - p_cr``) splits into CD7-positive resistance, first on the draw
    scale, then CD7-negative escape (:func:`sim.disease.survival.split_by_cd7`; the parameters are as for
    :func:`response`).
    """
    p_resistant, p_escape = split_by_cd7(1.0 - p_cr, cd7_negative_share_of_nonresponse, cd7_negative_multiplier,
                                         prevented_to_positive)
    return not u_response < p_resistant and u_response < p_resistant + p_escape


@vectorize(cache=True)
def response(
    u_response: float, u_mrd: float, p_cr: float, cd7_negative_share_of_nonresponse: float, cd7_negative_multiplier: float,
    p_mrd_negative_given_cr: float, prevented_to_positive: float,
) -> np.int8:
    """Response of one patient at assessment: CR MRD-negative, CR MRD-positive or no response (a compiled ufunc).

    Non-response splits into CD7-positive resistance and CD7-negative escape (:func:`cd7_negative_escape`);
    the escape part is scaled by ``cd7_negative_multiplier`` (for example below 1 for a dual-target product).

    Parameters
    ----------
    u_response, u_mrd : float
        Uniform draws ``u_response`` and ``u_mrd``.
    p_cr : float
        Probability of CR.
    cd7_negative_share_of_nonresponse : float
        Share of non-response due to CD7-negative escape.
    cd7_negative_multiplier : float
        Multiplier on the CD7-negative escape probability.
    p_mrd_negative_given_cr : float
        Probability that a CR is MRD-negative.
    prevented_to_positive : float
        Share of the escapes a multiplier below 1 prevents that become CD7-positive resistance instead
        (:func:`sim.disease.survival.split_by_cd7`).

    Returns
    -------
    int8
        ``RESPONSE_CR_MRD_NEG``, ``RESPONSE_CR_MRD_POS`` or ``RESPONSE_NONE``.
    """
    p_resistant, p_escape = split_by_cd7(1.0 - p_cr, cd7_negative_share_of_nonresponse, cd7_negative_multiplier,
                                         prevented_to_positive)
    if u_response < p_resistant or u_response < p_resistant + p_escape:
        return np.int8(RESPONSE_NONE)
    return np.int8(RESPONSE_CR_MRD_NEG if u_mrd < p_mrd_negative_given_cr else RESPONSE_CR_MRD_POS)
