"""Kaplan–Meier and Aalen–Johansen estimates of many rows of follow-up data at once equal the estimators
of one row at a time (sim.outcomes.estimators)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.outcomes.estimators import cumulative_incidence, incidence_at_batch, kaplan_meier, survival_at_batch


def batch(seed: int, rows: int = 60, subjects: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random rows with ties (whole days), censoring, two competing causes, excluded subjects, an empty row
    and a row that all die."""
    rng = np.random.default_rng(seed)
    time = np.floor(rng.exponential(200.0, (rows, subjects)))
    cause = rng.choice([0, 1, 2], size=(rows, subjects), p=[0.4, 0.35, 0.25])
    included = rng.random((rows, subjects)) < rng.uniform(0.1, 1.0, (rows, 1))
    included[0] = False
    cause[1], included[1] = 1, True
    time[2, :] = 5.0
    return time, cause, included


TIMES = [0.0, 3.0, 30.0, 100.0, 182.5, 365.25, 730.5, 5000.0, np.nan]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_survival_of_many_rows_at_once_is_the_kaplan_meier_of_each(seed):
    time, cause, included = batch(seed)
    event = cause == 1
    for t in TIMES:
        together = survival_at_batch(time, event, t, included)
        one_by_one = [kaplan_meier(time[b][included[b]], event[b][included[b]]).survival_at(t) for b in range(len(time))]
        np.testing.assert_array_equal(together, one_by_one)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incidence_of_many_rows_at_once_is_the_aalen_johansen_of_each(seed):
    time, cause, included = batch(seed)
    for cause_of_interest in (1, 2):
        for t in TIMES:
            together = incidence_at_batch(time, cause, cause_of_interest, t, included)
            one_by_one = [cumulative_incidence(time[b][included[b]], cause[b][included[b]], cause_of_interest).incidence_at(t)
                          for b in range(len(time))]
            np.testing.assert_array_equal(together, one_by_one)


def test_every_subject_is_included_by_default():
    time, cause, _ = batch(4)
    np.testing.assert_array_equal(survival_at_batch(time, cause == 1, 100.0),
                                  survival_at_batch(time, cause == 1, 100.0, np.ones(time.shape, bool)))
    np.testing.assert_array_equal(incidence_at_batch(time, cause, 2, 100.0),
                                  [cumulative_incidence(row, marks, 2).incidence_at(100.0) for row, marks in zip(time, cause)])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2-d"):
        survival_at_batch(np.zeros(3), np.zeros(3, bool), 1.0)
    with pytest.raises(ValueError, match="finite"):
        survival_at_batch(np.array([[np.nan, 1.0]]), np.array([[True, False]]), 1.0)
    with pytest.raises(ValueError, match="must not be 0"):
        incidence_at_batch(np.ones((1, 2)), np.ones((1, 2), int), 0, 1.0)
