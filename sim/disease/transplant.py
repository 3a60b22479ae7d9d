"""Clinical rules for the transplant decision and the transplant itself (DESIGN.md section 3, steps 7-8)."""

from __future__ import annotations

import numpy as np
from numba import vectorize

from sim.disease.draws import category, lognormal_time
from sim.inputs.codes import CHIMERISM

CHIMERISM_FULL_DONOR, CHIMERISM_AUTOLOGOUS, CHIMERISM_GRAFT_FAILURE, CHIMERISM_NONE = (
    CHIMERISM.index(c) for c in ("full_donor", "autologous_recovery", "graft_failure", "none"))
"""Codes of the chimerism after HSCT (positions in :data:`sim.inputs.codes.CHIMERISM`, the one definition)."""


@vectorize(cache=True)
def hsct_candidate(
    offered: bool,
    donor_available: bool,
    prior_hsct: bool,
    u_fit: float,
    p_fit_after_prior_hsct: float,
    u_uptake: float,
    p_uptake: float,
) -> bool:
    """Whether a patient is planned for HSCT at the response assessment (a compiled ufunc).

    Eligible means offered transplant (in CR, or in MRD-positive CR for an MRD-guided strategy), with a
    donor, and fit (patients with a prior allo-HSCT are fit with probability ``p_fit_after_prior_hsct``,
    by the draw ``u_fit``); eligible patients then take up transplant with probability ``p_uptake`` (by
    the draw ``u_uptake``). Being alive and in remission on the planned day is checked later.
    """
    fit = not prior_hsct or u_fit < p_fit_after_prior_hsct
    return offered and donor_available and fit and u_uptake < p_uptake


def hsct_interval_days(z: np.ndarray, median_days: float, sigma: float) -> np.ndarray:
    """Planned days from infusion (or chemotherapy start) to HSCT, LogNormal around the median
    (``z``: normal scores of the draws ``u_hsct_interval``)."""
    return lognormal_time(z, median_days, sigma)


@vectorize(cache=True)
def chimerism(u: float, p_autologous_recovery: float, p_graft_failure: float) -> np.int8:
    """Engraftment outcome of one patient: full donor, autologous recovery or graft failure, by the draw
    ``u_chimerism`` (:func:`sim.disease.draws.category`; a compiled ufunc).

    Returns
    -------
    int8
        ``CHIMERISM_FULL_DONOR``, ``CHIMERISM_AUTOLOGOUS`` or ``CHIMERISM_GRAFT_FAILURE``.
    """
    return np.int8(category(u, (1.0 - p_autologous_recovery - p_graft_failure, p_autologous_recovery, p_graft_failure)))


@vectorize(cache=True)
def acute_gvhd_grade(
    u: float,
    p_grade2plus: float,
    p_grade3plus_given_2plus: float,
    p_grade1_given_below2: float,
    p_grade4_given_3plus: float,
) -> np.int8:
    """Acute GVHD grade 0-4 after HSCT, from the uniform draw ``u_agvhd_grade`` (monotone inverse CDF,
    :func:`sim.disease.draws.category`; a compiled ufunc).

    Parameters
    ----------
    u : float
        Uniform draw.
    p_grade2plus : float
        Probability of grade 2 or more.
    p_grade3plus_given_2plus, p_grade1_given_below2, p_grade4_given_3plus : float
        Conditional probabilities: grade 3 or more among 2 or more, grade 1 among below 2, grade 4
        among 3 or more.

    Returns
    -------
    int8
        Grade 0 to 4.
    """
    below2 = 1.0 - p_grade2plus
    grade3plus = p_grade2plus * p_grade3plus_given_2plus
    return np.int8(category(u, (
        below2 * (1.0 - p_grade1_given_below2),
        below2 * p_grade1_given_below2,
        p_grade2plus - grade3plus,
        grade3plus * (1.0 - p_grade4_given_3plus),
        grade3plus * p_grade4_given_3plus,
    )))


@vectorize(cache=True)
def chronic_gvhd(u: float, p_chronic: float) -> bool:
    """Whether chronic GVHD develops, if the patient lives to its onset (``u``: the draw ``u_cgvhd``; a
    compiled ufunc)."""
    return u < p_chronic


@vectorize(cache=True)
def car_t_gvhd(u: float, p_gvhd: float, donor_derived: bool) -> bool:
    """Whether a donor-derived CAR-T product causes acute GVHD before any transplant (``u``: the draw
    ``u_cart_gvhd``; a compiled ufunc)."""
    return donor_derived and u < p_gvhd
