"""Clinical rules for latent event times: drop-out, relapse, non-relapse death, survival with
disease and background mortality (DESIGN.md section 3, steps 1, 9-10).

Competing risks are latent times drawn up front; whichever comes first wins. ``inf`` marks an
event that never happens (for example the cured fraction of a mixture-cure model).
"""

from __future__ import annotations

import numpy as np

from sim.disease.draws import (
    exponential_time,
    gompertz_time,
    lognormal_time,
    weibull_time,
)
from sim.inputs.codes import DAYS_PER_YEAR, DEATH_CAUSES


def dropout_day(u: np.ndarray, p_by_60_days: float) -> np.ndarray:
    """Latent day of progression or death before infusion (exponential from enrolment).

    Parameters
    ----------
    u : ndarray
        Uniform draws ``u_dropout``.
    p_by_60_days : float
        Probability of dropping out within 60 days; 0 means never.
    """
    if p_by_60_days <= 0.0:
        return np.full(u.shape, np.inf)
    if p_by_60_days >= 1.0:
        return np.zeros(u.shape)
    median = 60.0 * np.log(2.0) / -np.log1p(-p_by_60_days)
    return exponential_time(u, median)


def background_death_day(u: np.ndarray, age_years: np.ndarray, hazard_at_40: float, slope: float) -> np.ndarray:
    """Latent day of death from background (non-disease) mortality, Gompertz by age.

    Parameters
    ----------
    u : ndarray
        Uniform draws ``u_background``.
    age_years : ndarray
        Age at enrolment, years.
    hazard_at_40 : float
        Background hazard at age 40, per year.
    slope : float
        Gompertz slope, per year of age.
    """
    hazard_now = hazard_at_40 * np.exp(slope * (age_years - 40.0))
    return gompertz_time(u, hazard_now, slope) * DAYS_PER_YEAR


def split_by_cd7(p_event: np.ndarray | float, cd7_negative_share: float, cd7_negative_multiplier: float) -> tuple[np.ndarray, np.ndarray]:
    """Split an event probability into CD7-positive and CD7-negative parts.

    The CD7-negative part is scaled by ``cd7_negative_multiplier``; the total is capped at 1.

    Returns
    -------
    p_positive, p_negative : ndarray
    """
    p_event = np.asarray(p_event, dtype=float)
    p_positive = p_event * (1.0 - cd7_negative_share)
    p_negative = np.minimum(p_event * cd7_negative_share * cd7_negative_multiplier, 1.0 - p_positive)
    return p_positive, p_negative


def relapse(
    u_relapse: np.ndarray,
    u_time: np.ndarray,
    p_positive: np.ndarray,
    p_negative: np.ndarray,
    median_days: float,
    shape: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Latent relapse time under a mixture-cure model, and the relapse's CD7 status.

    A patient relapses with probability ``p_positive + p_negative`` (CD7-positive first on the
    draw scale, then CD7-negative); the time to relapse is Weibull with the given median.

    Returns
    -------
    days : ndarray
        Days from the model's origin to relapse; ``inf`` for the cured.
    cd7_negative : ndarray of bool
    """
    positive = u_relapse < p_positive
    negative = ~positive & (u_relapse < p_positive + p_negative)
    days = np.where(positive | negative, weibull_time(u_time, median_days, shape), np.inf)
    return days, negative


def non_relapse_death(u_event: np.ndarray, u_time: np.ndarray, p_death: np.ndarray | float, median_days: float) -> np.ndarray:
    """Latent day of non-relapse death (mixture: a share dies, exponential time among them).

    Returns
    -------
    ndarray
        Days from the origin; ``inf`` for those who never die of it.
    """
    return np.where(u_event < p_death, exponential_time(u_time, median_days), np.inf)


def non_relapse_cause(
    u: np.ndarray, severe_gvhd: np.ndarray, gvhd_share_if_gvhd: float, infection_share: float
) -> np.ndarray:
    """Cause of a non-relapse death after HSCT, as a ``death_cause`` label.

    Patients with grade >= 3 acute or with chronic GVHD die of GVHD with probability
    ``gvhd_share_if_gvhd``; the rest die of infection with probability ``infection_share`` and
    otherwise of other causes.

    Returns
    -------
    ndarray of int8
        Index into ``sim.inputs.codes.DEATH_CAUSES`` of ``gvhd``, ``infection`` or ``other_nrm``.
    """
    gvhd = severe_gvhd & (u < gvhd_share_if_gvhd)
    rescaled = np.where(severe_gvhd, (u - gvhd_share_if_gvhd) / max(1.0 - gvhd_share_if_gvhd, 1e-12), u)
    infection = ~gvhd & (rescaled < infection_share)
    return np.select([gvhd, infection], [DEATH_CAUSES.index("gvhd"), DEATH_CAUSES.index("infection")],
                     DEATH_CAUSES.index("other_nrm")).astype(np.int8)


def survival_with_disease(z: np.ndarray, median_days: float, sigma: float) -> np.ndarray:
    """Days from relapse or progression to death from disease (LogNormal; ``z``: normal scores)."""
    return lognormal_time(z, median_days, sigma)
