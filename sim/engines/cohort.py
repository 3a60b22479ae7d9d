"""Cohort engine: the same plan, resolved for everyone at once with no queues (compiled passes over all patients)."""

from __future__ import annotations

import numpy as np

from sim.disease.course import Plan, Services, unqueued_services
from sim.inputs.errors import InputError
from sim.inputs.scenario import Capacity


def simulate_services(plan: Plan, capacity: Capacity, enrol_day: np.ndarray | None = None) -> Services:
    """Manufacturing, infusion and transplant days with no waiting.

    Parameters
    ----------
    plan : Plan
        The wait-independent course of every patient.
    capacity : Capacity
        Must be unlimited: this engine has no queues.
    enrol_day : ndarray, optional
        Referral days; without queues they do not change anyone's course (days from enrolment
        are returned).

    Raises
    ------
    InputError
        When the scenario limits a resource.
    """
    require_unlimited(capacity)
    return unqueued_services(plan)


def require_unlimited(capacity: Capacity) -> None:
    """Refuse a scenario that limits a resource: this engine has no queues.

    Raises
    ------
    InputError
        Naming the first limited setting.
    """
    limited = capacity.limited()
    if limited:
        field, value = next(iter(limited.items()))
        raise InputError(f"capacity.{field}", value, "the cohort engine needs unlimited capacity; use --engine des for queues")
