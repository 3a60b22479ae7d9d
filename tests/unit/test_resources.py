"""Resource measures on a hand-worked case: four requests for one manufacturing slot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.disease.course import ResourceUse
from sim.inputs.codes import DAYS_PER_YEAR, RESOURCES
from sim.inputs.scenario import Capacity
from sim.outcomes.resources import (
    RESOURCE_METRICS,
    level,
    occupancy,
    overload_warnings,
    resource_metrics,
    summarise_resources,
)
from sim.report.text import format_resources

NAN = np.nan


def manufacturing_use(offset: float = 0.0) -> ResourceUse:
    """A served at once (days 0-4); B waits 3 days (1 -> 4-8); C waits and leaves the queue on day 5;
    D is served on day 9 until day 14, past the end of the window."""
    nothing = np.full(4, NAN)
    request = {r: nothing for r in RESOURCES} | {"manufacturing": np.array([0.0, 1.0, 2.0, 9.0]) + offset}
    start = {r: nothing for r in RESOURCES} | {"manufacturing": np.array([0.0, 4.0, NAN, 9.0]) + offset}
    end = {r: nothing for r in RESOURCES} | {"manufacturing": np.array([4.0, 8.0, 5.0, 14.0]) + offset}
    left = np.array([0, 0, 2, 0], dtype=np.int8)
    return ResourceUse(request, start, end, left, np.array([0, 0, 1, 0], dtype=np.int8))


PER_YEAR = DAYS_PER_YEAR / 10


def test_hand_worked_measures():
    metrics = resource_metrics(manufacturing_use(), np.zeros(4), Capacity(manufacturing_slots=1), (0.0, 10.0))
    m = metrics["manufacturing"]
    assert list(m) == list(RESOURCE_METRICS)
    expected = {
        "requests_per_year": 4 * PER_YEAR, "throughput_per_year": 3 * PER_YEAR, "left_queue_per_year": 1 * PER_YEAR,
        "mean_wait_days": 1.5, "p95_wait_days": 3.0,
        "mean_queue": 0.6, "max_queue": 2.0,           # B waits days 1-4, C days 2-5
        "mean_in_use": 0.9, "peak_in_use": 1.0,         # busy 4 + 4 + 1 of the 10 days
        "utilisation": 0.9, "offered_load": 0.4 * 13 / 3, "bed_days_per_year": 9 * PER_YEAR,
    }
    assert m == pytest.approx(expected)
    assert np.isnan(metrics["cart_bed"]["mean_wait_days"]) and metrics["cart_bed"]["requests_per_year"] == 0


def test_measures_use_the_calendar_not_days_from_enrolment():
    capacity, window = Capacity(manufacturing_slots=1), (0.0, 10.0)
    shifted = resource_metrics(manufacturing_use(-100.0), np.full(4, 100.0), capacity, window)["manufacturing"]
    assert shifted == pytest.approx(resource_metrics(manufacturing_use(), np.zeros(4), capacity, window)["manufacturing"])


def test_unlimited_resources_have_no_utilisation_but_count_beds_in_use():
    m = resource_metrics(manufacturing_use(), np.zeros(4), Capacity(), (0.0, 10.0))["manufacturing"]
    assert np.isnan(m["utilisation"]) and np.isnan(m["offered_load"])
    assert m["mean_in_use"] == pytest.approx(0.9)


def test_level_counts_open_intervals_with_ends_excluded():
    assert level(np.array([0.0, 4.0]), np.array([4.0, 8.0]), np.array([0.0, 3.9, 4.0, 8.0])).tolist() == [1, 1, 1, 0]


def test_occupancy_on_a_grid():
    in_use, queue = occupancy(manufacturing_use(), np.zeros(4), np.array([0.5, 2.5, 4.5, 9.5]))["manufacturing"]
    assert in_use.tolist() == [1, 1, 1, 1]
    assert queue.tolist() == [0, 2, 1, 0]


def test_summary_over_replications_and_the_overload_warning():
    rows = [("s", r, "manufacturing", metric, value) for r, value in ((0, 0.9), (1, 1.3))
            for metric in ("offered_load", "requests_per_year")]
    table = summarise_resources(pd.DataFrame(rows, columns=["strategy", "replication", "resource", "metric", "value"]),
                                "x", Capacity(manufacturing_slots=3))
    load = table[table.metric == "offered_load"].iloc[0]
    assert load.capacity == "3" and load.estimate == pytest.approx(1.1) and load.lower < 1.1 < load.upper
    warnings = overload_warnings(table)
    assert len(warnings) == 1 and "manufacturing (3) under s: offered load 1.10 >= 1" in warnings[0]
    assert "manufacturing" in format_resources(table)
