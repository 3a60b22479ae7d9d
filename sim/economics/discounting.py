"""Exact continuous-time discounting over each patient's own timeline.

Convention: at an annual discount rate ``r`` (e.g. 0.035), a cost or outcome at time ``t`` years after the
origin (the patient's enrolment, day 0) is worth ``(1 + r) ** -t``: the annual rate compounded
continuously at the equivalent continuous rate ``δ = ln(1 + r)``, so ``(1 + r) ** -t = exp(-δ t)`` and a full
year is discounted by exactly ``1 / (1 + r)``, as with annual discounting at year ends. A flow at a constant
rate over ``[t0, t1)`` is integrated exactly::

    ∫_{t0}^{t1} exp(-δ t) dt = (exp(-δ t0) − exp(-δ t1)) / δ = exp(-δ t0) · (−expm1(−δ (t1 − t0))) / δ,

computed as ``exp(-δ t0) · (t1 − t0) · (1 − exp(−x)) / x`` with ``x = δ (t1 − t0)``, which stays accurate for
short intervals and small rates and is ``t1 − t0`` exactly at ``r = 0`` (no division by zero).

Units: times are days since the origin (the unit of the contract tables), converted with
`sim.inputs.codes.DAYS_PER_YEAR`; discounted lengths are in years, so a utility (QALYs per year) or a cost
per year multiplied by them gives discounted QALYs or costs. Rates are annual, ``0 <= r < 1``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from sim.inputs.codes import DAYS_PER_YEAR

_SERIES_BELOW = 1e-8
"""Below this ``x``, ``(1 − exp(−x)) / x`` is ``1 − x/2`` to within ``x²/6``, under a rounding error."""


def _validated_rate(rate: float) -> float:
    """An annual discount rate as a float in ``[0, 1)``."""
    value = float(rate)
    if not 0.0 <= value < 1.0:  # also refuses NaN
        raise ValueError(f"discount rate: got {rate!r}; an annual rate >= 0 and < 1 (e.g. 0.035) is required")
    return value


def _validated_days(label: str, days: npt.ArrayLike) -> np.ndarray:
    """Times in days as a float array, every one finite."""
    array = np.asarray(days, dtype=float)
    bad = ~np.isfinite(array)
    if bad.any():
        position = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{label}: got {array.ravel()[position].item()!r} at position {position}; finite days are required")
    return array


def discount_factor(days: npt.ArrayLike, rate: float) -> np.ndarray:
    """Discount factor ``(1 + rate) ** -(days / DAYS_PER_YEAR)`` of one-off events.

    Parameters
    ----------
    days : array_like
        Times of the events, days since the origin; finite.
    rate : float
        Annual discount rate, ``0 <= rate < 1``.

    Returns
    -------
    numpy.ndarray
        The factor (unitless) per event, the shape of ``days`` (0-d for a scalar); 1 at day 0 and for ``rate = 0``.

    Raises
    ------
    ValueError
        A rate outside ``[0, 1)`` or a time that is ``NaN`` or infinite.
    """
    delta = math.log1p(_validated_rate(rate))
    return np.exp(-delta * _validated_days("days", days) / DAYS_PER_YEAR)


def discounted_years(start: npt.ArrayLike, end: npt.ArrayLike, rate: float) -> np.ndarray:
    """Discounted length of intervals ``[start, end)``: ``∫ (1 + rate) ** -t dt`` over the interval, t in years.

    Parameters
    ----------
    start, end : array_like
        Interval bounds, days since the origin; finite, broadcastable, ``end >= start``.
    rate : float
        Annual discount rate, ``0 <= rate < 1``.

    Returns
    -------
    numpy.ndarray
        Discounted length (years) per interval; exactly ``(end − start) / DAYS_PER_YEAR`` for ``rate = 0``,
        never more than that for ``rate > 0`` and interval starting at or after day 0.

    Raises
    ------
    ValueError
        A rate outside ``[0, 1)``, a bound that is ``NaN`` or infinite, or an interval that ends before it starts.
    """
    delta = math.log1p(_validated_rate(rate))
    t0, t1 = np.broadcast_arrays(_validated_days("start", start), _validated_days("end", end))
    backwards = np.flatnonzero((t1 < t0).ravel())
    if backwards.size:
        raise ValueError(f"interval at position {int(backwards[0])}: ends before it starts; end >= start is required")
    length = (t1 - t0) / DAYS_PER_YEAR
    # length · (1 − exp(−x)) / x with x = δ · length, the ratio by its series 1 − x/2 where x is too small for
    # the division (x = 0 at rate 0 or for empty intervals; δ itself may be subnormal).
    x = delta * length
    small = x < _SERIES_BELOW
    ratio = np.where(small, 1 - x / 2, -np.expm1(-x) / np.where(small, 1.0, x))
    return np.exp(-delta * t0 / DAYS_PER_YEAR) * length * ratio


def discounted_totals(
    patient: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike, value: npt.ArrayLike, rate: float,
    n_patients: int | None = None,
) -> np.ndarray:
    """Discounted sum, per patient, of values held constant over intervals: ``Σ value · discounted years``.

    Each row is one interval of one patient's timeline with a constant value per year: a utility (a year in
    that state is worth ``value`` QALYs) or a cost per year. A patient may have any number of intervals, in
    any order; overlapping intervals add up (a drug cost and a ward cost at the same time), so intervals meant
    to be exclusive (health states) must not overlap.

    Parameters
    ----------
    patient : array_like of int
        Patient of each interval, ``0 <= patient < n_patients`` (e.g. codes from `pandas.factorize`).
    start, end : array_like
        Interval bounds, days since the patient's origin; finite, ``end >= start``.
    value : array_like
        Value per year over each interval (QALYs per year, or currency per year); finite.
    rate : float
        Annual discount rate, ``0 <= rate < 1``.
    n_patients : int, optional
        Number of patients; by default one more than the largest ``patient``. Patients without intervals get 0.

    Returns
    -------
    numpy.ndarray
        Discounted total per patient (QALYs, or currency), length ``n_patients``.

    Raises
    ------
    ValueError
        Arrays of different lengths, a patient index outside ``[0, n_patients)``, a value that is not finite,
        or what `discounted_years` refuses.
    """
    patient = np.asarray(patient)
    start, end, value = (np.asarray(array, dtype=float) for array in (start, end, value))
    shapes = {array.shape for array in (patient, start, end, value)}
    if len(shapes) != 1 or patient.ndim != 1:
        raise ValueError(f"patient, start, end, value: got shapes {sorted(shapes)}; 1-d arrays of one length are required")
    if patient.size and not np.issubdtype(patient.dtype, np.integer):
        raise ValueError(f"patient: got dtype {patient.dtype}; integer patient indices are required")
    if n_patients is not None:
        count = n_patients
    else:
        count = int(patient.max()) + 1 if patient.size else 0
    if patient.size and (patient.min() < 0 or patient.max() >= count):
        raise ValueError(f"patient: got indices from {patient.min()} to {patient.max()}; 0 <= patient < {count} is required")
    if not np.isfinite(value).all():
        raise ValueError(f"value: got {value[~np.isfinite(value)][0].item()!r}; finite values per year are required")
    return np.bincount(patient.astype(np.intp), weights=value * discounted_years(start, end, rate), minlength=count)
