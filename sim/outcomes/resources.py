"""What the service's resources went through: utilisation, waits, queues, throughput, bed-days.

Reads the resource records of a run (:class:`sim.disease.course.ResourceUse`, one request per
patient and resource) on the calendar, over the scenario's observation window (after the warm-up
to the end of referrals, or the horizon for a closed cohort). Everything here is plain counting on
intervals: a patient is *in service* from the start to the end of a use, and *in the queue* from
the request to the start (or to the day the patient left the queue).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.disease.course import ResourceUse
from sim.inputs.codes import DAYS_PER_YEAR, RESOURCE_COLUMNS, RESOURCES
from sim.inputs.scenario import Capacity
from sim.outcomes.estimators import replication_interval

WAIT_QUANTILE = 0.95
RESOURCE_METRICS: tuple[str, ...] = (
    "requests_per_year", "throughput_per_year", "left_queue_per_year",
    "mean_wait_days", "p95_wait_days", "mean_queue", "max_queue",
    "mean_in_use", "peak_in_use", "utilisation", "offered_load", "bed_days_per_year",
)
"""Metrics of ``resources.csv``, per strategy and resource, in output order:

- ``requests_per_year``, ``throughput_per_year`` (services started), ``left_queue_per_year``
  (patients who left the pathway while waiting): per year of the window;
- ``mean_wait_days``, ``p95_wait_days``: among requests made in the window (time from request to
  service, or to leaving the queue);
- ``mean_queue``, ``max_queue``: patients waiting, time average and maximum over the window;
- ``mean_in_use``, ``peak_in_use``: servers busy (beds occupied), time average and maximum;
- ``utilisation``: ``mean_in_use`` / servers (unlimited: none);
- ``offered_load``: requests a day × mean service time / servers; 1 or more means the queue grows
  without bound (unlimited: none);
- ``bed_days_per_year``: server-days used a year (bed-days; slot-days for manufacturing,
  appointment-days for apheresis).

The donor search is a delay, not a queue: it has waits and a queue, no servers.
"""


CAPACITY_FIELDS: dict[str, str] = {
    "apheresis": "apheresis_slots_per_week", "manufacturing": "manufacturing_slots", "cart_bed": "cart_beds",
    "icu_bed": "icu_beds", "transplant_bed": "transplant_beds", "donor_search": "donor_search_days",
}
"""The scenario's ``capacity`` field of each resource."""


def servers(capacity: Capacity) -> dict[str, int | None]:
    """Servers of each resource (``None`` = unlimited); apheresis is one chair booked one appointment
    at a time, and the donor search has no servers."""
    setting = {r: getattr(capacity, field) for r, field in CAPACITY_FIELDS.items()}
    return {**setting, "apheresis": 1 if setting["apheresis"] else None, "donor_search": None}


def capacity_labels(capacity: Capacity) -> dict[str, str]:
    """The scenario's setting of each resource as written in ``resources.csv`` (empty: unlimited)."""
    units = {"apheresis": " per week", "donor_search": " days"}
    settings = {r: getattr(capacity, field) for r, field in CAPACITY_FIELDS.items()}
    return {r: "" if v is None else f"{v:g}{units.get(r, '')}" for r, v in settings.items()}


def level(up: np.ndarray, down: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Number of intervals ``[up, down)`` that contain each day.

    Parameters
    ----------
    up, down : ndarray
        Starts and ends of the intervals (days); ``down >= up``.
    days : ndarray
        Days at which to count.
    """
    return (np.searchsorted(np.sort(up), days, side="right") - np.searchsorted(np.sort(down), days, side="right")).astype(float)


def _time_in(up: np.ndarray, down: np.ndarray, window: tuple[float, float]) -> float:
    """Total length of the intervals ``[up, down)`` inside the window (days)."""
    return float(np.clip(np.minimum(down, window[1]) - np.maximum(up, window[0]), 0.0, None).sum())


def _peak(up: np.ndarray, down: np.ndarray, window: tuple[float, float]) -> float:
    """Most intervals open at once inside the window (the level only rises at a start)."""
    inside = up[(up >= window[0]) & (up < window[1])]
    return float(level(up, down, np.concatenate([[window[0]], inside])).max())


def _intervals(use: ResourceUse, enrol_day: np.ndarray, resource: str) -> tuple[np.ndarray, ...]:
    """Calendar days of the requests for ``resource``: ``request, start, end, served, waited_until``
    for the patients who asked (``waited_until``: service start, or the day the patient left the queue)."""
    request = enrol_day + use.request[resource]
    asked = ~np.isnan(request)
    request, start, end = request[asked], (enrol_day + use.start[resource])[asked], (enrol_day + use.end[resource])[asked]
    served = ~np.isnan(start)
    return request, start, end, served, np.where(served, start, end)


def resource_metrics(
    use: ResourceUse, enrol_day: np.ndarray, capacity: Capacity, window: tuple[float, float],
) -> dict[str, dict[str, float]]:
    """Every metric of :data:`RESOURCE_METRICS` for every resource, for one strategy and replication.

    Parameters
    ----------
    use : ResourceUse
        The requests (days from each patient's enrolment).
    enrol_day : ndarray
        Calendar day of each patient's enrolment.
    capacity : Capacity
    window : (float, float)
        Calendar days over which to measure.

    Returns
    -------
    dict
        ``{resource: {metric: value}}``; ``NaN`` where a metric does not apply or has no data.
    """
    length = window[1] - window[0]
    per_year = DAYS_PER_YEAR / length
    result = {}
    for resource, count in servers(capacity).items():
        request, start, end, served, waited_until = _intervals(use, enrol_day, resource)
        in_window = (request >= window[0]) & (request < window[1])
        waits = (waited_until - request)[in_window]
        busy_start, busy_end = start[served], end[served]
        busy = _time_in(busy_start, busy_end, window)
        holds = busy_end - busy_start
        is_server = resource != "donor_search"
        metrics = {
            "requests_per_year": in_window.sum() * per_year,
            "throughput_per_year": ((busy_start >= window[0]) & (busy_start < window[1])).sum() * per_year,
            "left_queue_per_year": (~served & (end >= window[0]) & (end < window[1])).sum() * per_year,
            "mean_wait_days": waits.mean() if waits.size else np.nan,
            "p95_wait_days": np.quantile(waits, WAIT_QUANTILE) if waits.size else np.nan,
            "mean_queue": _time_in(request, waited_until, window) / length,
            "max_queue": _peak(request, waited_until, window),
            "mean_in_use": busy / length if is_server else np.nan,
            "peak_in_use": _peak(busy_start, busy_end, window) if is_server else np.nan,
            "utilisation": busy / length / count if count else np.nan,
            "offered_load": in_window.sum() / length * holds.mean() / count if count and holds.size else np.nan,
            "bed_days_per_year": busy * per_year if is_server else np.nan,
        }
        result[resource] = {name: float(metrics[name]) for name in RESOURCE_METRICS}
    return result


def occupancy(use: ResourceUse, enrol_day: np.ndarray, days: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Servers in use and patients waiting for each resource on each of ``days`` (calendar).

    Returns
    -------
    dict
        ``{resource: (in_use, queue)}``.
    """
    result = {}
    for resource in RESOURCES:
        request, start, end, served, waited_until = _intervals(use, enrol_day, resource)
        result[resource] = (level(start[served], end[served], days), level(request, waited_until, days))
    return result


def summarise_resources(per_replication: pd.DataFrame, scenario: str, capacity: Capacity) -> pd.DataFrame:
    """``resources.csv``: each metric's mean over replications with its 95% confidence interval.

    Parameters
    ----------
    per_replication : pandas.DataFrame
        Columns ``strategy, replication, resource, metric, value``.
    scenario : str
    capacity : Capacity

    Returns
    -------
    pandas.DataFrame
        Columns ``sim.inputs.codes.RESOURCE_COLUMNS``, in strategy, resource and metric order (interval
        ``NaN`` with one replication).
    """
    labels = capacity_labels(capacity)
    rows = []
    groups = per_replication.groupby(["strategy", "resource", "metric"], sort=False, observed=True)["value"]
    for (strategy, resource, metric), values in groups:
        rows.append((scenario, strategy, resource, labels[str(resource)], metric, *replication_interval(values.to_numpy())))
    return pd.DataFrame(rows, columns=list(RESOURCE_COLUMNS))


def overload_warnings(resources: pd.DataFrame) -> list[str]:
    """One sentence per strategy and resource whose offered load is 1 or more.

    Parameters
    ----------
    resources : pandas.DataFrame
        ``resources.csv``.
    """
    load = resources[(resources["metric"] == "offered_load") & (resources["estimate"] >= 1.0)]
    return [
        f"{row.resource} ({row.capacity}) under {row.strategy}: offered load {row.estimate:.2f} >= 1, so the queue "
        "grows without bound; waits depend on the run length, not on a steady state"
        for row in load.itertuples()
    ]


