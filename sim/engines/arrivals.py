"""Referral days of an open cohort: a (possibly seasonal) Poisson process on the calendar.

The referral days of replication ``r`` come from their own random stream keyed by the run seed
and ``r`` only, so every strategy and every capacity setting of a sweep meets the same referrals
(common random numbers), and patient ``i`` is the ``i``-th referral with the same draws throughout.
"""

from __future__ import annotations

import numpy as np

from sim.disease.draws import uniform_stream
from sim.inputs.codes import DAYS_PER_YEAR
from sim.inputs.scenario import MONTHS, Arrivals

ARRIVAL_STREAM = "u_referral_gap"


def cumulative_intensity(arrivals: Arrivals, end_day: float) -> tuple[np.ndarray, np.ndarray]:
    """Knots of the cumulative referral intensity, piecewise linear between month boundaries.

    Parameters
    ----------
    arrivals : Arrivals
    end_day : float
        Last calendar day covered (days).

    Returns
    -------
    days, expected : ndarray
        Month boundaries (from 0 to at least ``end_day``) and the expected number of referrals
        by each.
    """
    month_days = DAYS_PER_YEAR / MONTHS
    boundaries = np.arange(int(np.ceil(end_day / month_days)) + 1) * month_days
    weights = np.asarray(arrivals.monthly_profile or [1.0] * MONTHS, dtype=float)
    relative = weights / weights.max()
    per_month = arrivals.rate_per_year * relative / relative.sum()
    expected = np.concatenate([[0.0], np.cumsum(per_month[np.arange(boundaries.size - 1) % MONTHS])])
    return boundaries, expected


def referral_days(arrivals: Arrivals, seed: int, replication: int) -> np.ndarray:
    """Calendar days of the referrals in ``[0, arrivals.end_day)``, in order.

    Unit-rate exponential gaps (by inverse CDF from the referral stream) are mapped through the
    inverse cumulative intensity, which gives a Poisson process with the profile's rate.

    Parameters
    ----------
    arrivals : Arrivals
    seed, replication : int

    Returns
    -------
    ndarray
        Days from the start of the simulation (day 0 = 1 January).
    """
    days, expected = cumulative_intensity(arrivals, arrivals.end_day)
    total = float(np.interp(arrivals.end_day, days, expected))
    n = int(total + 10.0 * np.sqrt(total) + 20.0)
    while True:
        points = np.cumsum(-np.log1p(-uniform_stream(seed, replication, ARRIVAL_STREAM, n)))
        if points[-1] > total:
            break
        n *= 2
    referrals = np.interp(points[points < total], expected, days)
    return referrals[referrals < arrivals.end_day]
