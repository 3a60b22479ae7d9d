"""Clinical rules for the transplant decision and the transplant itself (DESIGN.md section 3, steps 7-8)."""

from __future__ import annotations

import numpy as np
from numba import vectorize

from sim.disease.draws import categorical, lognormal_time
from sim.inputs.codes import CHIMERISM

CHIMERISM_FULL_DONOR, CHIMERISM_AUTOLOGOUS, CHIMERISM_GRAFT_FAILURE, CHIMERISM_NONE = (
    CHIMERISM.index(c) for c in ("full_donor", "autologous_recovery", "graft_failure", "none"))
"""Codes of the chimerism after HSCT (positions in :data:`sim.inputs.codes.CHIMERISM`, the one definition)."""


def hsct_candidate(
    in_cr: np.ndarray,
    donor_available: np.ndarray,
    prior_hsct: np.ndarray,
    u_fit: np.ndarray,
    p_fit_after_prior_hsct: float,
    u_uptake: np.ndarray,
    p_uptake: float,
) -> np.ndarray:
    """Who is planned for HSCT at the response assessment.

    Eligible means in CR, with a donor, and fit (patients with a prior allo-HSCT are fit with
    probability ``p_fit_after_prior_hsct``); eligible patients then take up transplant with
    probability ``p_uptake``. Being alive and in remission on the planned day is checked later.

    Returns
    -------
    ndarray of bool
    """
    fit = ~prior_hsct | (u_fit < p_fit_after_prior_hsct)
    return in_cr & donor_available & fit & (u_uptake < p_uptake)


def hsct_interval_days(z: np.ndarray, median_days: float, sigma: float) -> np.ndarray:
    """Planned days from infusion (or chemotherapy start) to HSCT, LogNormal around the median
    (``z``: normal scores of the draws ``u_hsct_interval``)."""
    return lognormal_time(z, median_days, sigma)


def chimerism(u: np.ndarray, p_autologous_recovery: float, p_graft_failure: float) -> np.ndarray:
    """Engraftment outcome: full donor, autologous recovery or graft failure.

    Returns
    -------
    ndarray of int8
        ``CHIMERISM_FULL_DONOR``, ``CHIMERISM_AUTOLOGOUS`` or ``CHIMERISM_GRAFT_FAILURE``.
    """
    probabilities = np.array([1.0 - p_autologous_recovery - p_graft_failure, p_autologous_recovery, p_graft_failure])
    return categorical(u, probabilities).astype(np.int8)


def acute_gvhd_grade(
    u: np.ndarray,
    p_grade2plus: float,
    p_grade3plus_given_2plus: float,
    p_grade1_given_below2: float,
    p_grade4_given_3plus: float,
) -> np.ndarray:
    """Acute GVHD grade 0-4 after HSCT, from one uniform draw (monotone inverse CDF).

    Returns
    -------
    ndarray of int8
    """
    below2 = 1.0 - p_grade2plus
    grade3plus = p_grade2plus * p_grade3plus_given_2plus
    probabilities = np.array([
        below2 * (1.0 - p_grade1_given_below2),
        below2 * p_grade1_given_below2,
        p_grade2plus - grade3plus,
        grade3plus * (1.0 - p_grade4_given_3plus),
        grade3plus * p_grade4_given_3plus,
    ])
    return categorical(u, probabilities).astype(np.int8)


def chronic_gvhd(u: np.ndarray, p_chronic: float) -> np.ndarray:
    """True where chronic GVHD develops (if the patient lives to its onset)."""
    return u < p_chronic


@vectorize(cache=True)
def car_t_gvhd(u: float, p_gvhd: float, donor_derived: bool) -> bool:
    """Whether a donor-derived CAR-T product causes acute GVHD before any transplant (``u``: the draw
    ``u_cart_gvhd``; a compiled ufunc)."""
    return donor_derived and u < p_gvhd
