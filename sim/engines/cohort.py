"""Vectorised cohort engine: the same plan, resolved for everyone at once with no queues."""

from __future__ import annotations

import numpy as np

from sim.clinical.pathway import Plan, cohort_hsct_day, cohort_manufacturing_start
from sim.errors import InputError
from sim.scenario import Capacity


def simulate_starts(plan: Plan, capacity: Capacity) -> tuple[np.ndarray, np.ndarray]:
    """Manufacturing and transplant days with no waiting.

    Parameters
    ----------
    plan : Plan
        The wait-independent course of every patient.
    capacity : Capacity
        Must be unlimited: this engine has no queues.

    Raises
    ------
    InputError
        When the scenario sets a finite capacity.
    """
    limited = {k: v for k, v in capacity.model_dump().items() if v is not None}
    if limited:
        field, value = next(iter(limited.items()))
        raise InputError(f"capacity.{field}", value, "the cohort engine needs unlimited capacity; use --engine des for queues")
    start = cohort_manufacturing_start(plan)
    return start, cohort_hsct_day(plan, start)
