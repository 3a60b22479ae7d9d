"""SimPy engine: patient processes competing for manufacturing slots and transplant beds.

A patient process yields to the scheduler only where patients interact: when it asks for a
manufacturing slot or a transplant bed, while it holds one, and at the planned day of those
requests. Everything between is computed by the clinical rules (:mod:`sim.clinical.pathway`).
A patient waiting in a queue keeps living: the latent drop-out, relapse and death times
already drawn run on, and a patient who reaches one of them leaves the queue.

With unlimited capacity nobody waits and the result equals the cohort engine's.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from sim.clinical.pathway import Plan, infusion_day, pre_hsct_exit_day, transplant_bed_days
from sim.scenario import Capacity


def simulate_starts(plan: Plan, capacity: Capacity) -> tuple[np.ndarray, np.ndarray]:
    """Run the discrete-event simulation of one strategy's cohort.

    Parameters
    ----------
    plan : Plan
        The wait-independent course of every patient.
    capacity : Capacity
        Manufacturing slots and transplant beds (``None`` = unlimited).

    Returns
    -------
    manufacturing_start_day, hsct_day : ndarray
        Days from enrolment on which each patient's manufacturing started and HSCT happened;
        NaN where it did not.
    """
    env = simpy.Environment()
    slots = simpy.Resource(env, capacity.manufacturing_slots) if capacity.manufacturing_slots else None
    beds = simpy.Resource(env, capacity.transplant_beds) if capacity.transplant_beds else None
    n = plan.attributes.n
    manufacturing_start = np.full(n, np.nan)
    hsct_day = np.full(n, np.nan)
    patient = _PatientRecords(plan)

    def wait_for(resource: simpy.Resource | None, leave_day: float) -> Generator[simpy.Event, object, simpy.Request | None]:
        """Queue for a resource until granted (returns the request) or until ``leave_day`` (returns None)."""
        if resource is None:
            return None
        request = resource.request()
        outcome = yield request | env.timeout(max(leave_day - env.now, 0.0))
        if request not in outcome:
            request.cancel()
            raise _LeftQueue
        return request

    def pathway(i: int) -> Generator[simpy.Event, object, None]:
        exit_day = patient.pre_infusion_exit[i]
        if not patient.request_day[i] < exit_day:
            return
        yield env.timeout(patient.request_day[i])
        asked = env.now
        slot = None
        if patient.needs_slot[i]:
            try:
                slot = yield from wait_for(slots, exit_day)
            except _LeftQueue:
                return
        start = patient.request_day[i] + (env.now - asked)
        manufacturing_start[i] = start
        if slot is not None:
            yield env.timeout(patient.slot_days[i])
            slots.release(slot)
        t0 = infusion_day(start, patient.slot_days[i], patient.release_to_infusion[i])
        if patient.failed[i] or not t0 < exit_day or not patient.candidate[i]:
            return
        planned = t0 + patient.interval[i]
        leave_day = pre_hsct_exit_day(t0, patient.pre_hsct_exit[i], patient.background[i])
        if not planned < leave_day:
            return
        yield env.timeout(planned - env.now)
        asked = env.now
        try:
            bed = yield from wait_for(beds, leave_day)
        except _LeftQueue:
            return
        hsct_day[i] = planned + (env.now - asked)
        if bed is not None:
            yield env.timeout(max(transplant_bed_days(
                plan.hsct_stay_days, patient.post_hsct_death[i], patient.background[i], hsct_day[i]), 0.0))
            beds.release(bed)

    for i in range(n):
        env.process(pathway(i))
    env.run()
    return manufacturing_start, hsct_day


class _LeftQueue(Exception):
    """A waiting patient reached a latent event (drop-out, relapse, death) before being served."""


class _PatientRecords:
    """Per-patient scalars from a plan, as Python lists for fast access inside processes."""

    def __init__(self, plan: Plan) -> None:
        self.request_day = plan.request_day.tolist()
        self.pre_infusion_exit = plan.pre_infusion_exit_day.tolist()
        self.needs_slot = plan.needs_slot.tolist()
        self.slot_days = plan.slot_days.tolist()
        self.release_to_infusion = plan.release_to_infusion_days.tolist()
        self.failed = plan.manufacturing_failed.tolist()
        self.candidate = plan.hsct_candidate.tolist()
        self.interval = plan.hsct_interval.tolist()
        self.pre_hsct_exit = plan.pre_hsct_exit_after_infusion.tolist()
        self.background = plan.background_death_day.tolist()
        self.post_hsct_death = plan.post_hsct_death_after_hsct.tolist()
