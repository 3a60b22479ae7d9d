"""SimPy engine: patient processes competing for manufacturing slots and transplant beds.

The engine yields to the scheduler only where patients interact: on the day a patient asks for
a manufacturing slot (an arrivals process walks the cohort in order of request day) and on the
day it asks for a transplant bed (a SimPy timeout whose callback serves the request). SimPy's
calendar puts those requests in time order; light FIFO pools
(:class:`sim.engines.pool.ServerPool`) answer each one at once with the day service starts. Everything between is computed by the clinical rules
(:mod:`sim.clinical.pathway`). A patient waiting in a queue keeps living: the latent drop-out,
relapse and death times already drawn run on, and a patient who reaches one of them before
being served leaves the queue.

With unlimited capacity nobody waits and the result equals the cohort engine's.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from functools import partial

import numpy as np
import simpy

from sim.clinical.pathway import (
    Plan,
    infusion_day,
    pre_hsct_exit_day,
    transplant_bed_days,
)
from sim.engines.pool import ServerPool
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
    slots = ServerPool(capacity.manufacturing_slots)
    beds = ServerPool(capacity.transplant_beds)
    n = plan.attributes.n
    manufacturing_start = np.full(n, np.nan)
    hsct_day = np.full(n, np.nan)
    p = _PatientRecords(plan)

    def request_manufacturing(i: int) -> None:
        """Patient ``i`` arrives for apheresis (or the index treatment) on its request day."""
        exit_day = p.pre_infusion_exit[i]
        start = slots.start_day(p.request_day[i]) if p.needs_slot[i] else p.request_day[i]
        if not start < exit_day:
            return
        if p.needs_slot[i]:
            slots.occupy(start + p.slot_days[i])
        manufacturing_start[i] = start
        t0 = infusion_day(start, p.slot_days[i], p.release_to_infusion[i])
        if p.failed[i] or not t0 < exit_day or not p.candidate[i]:
            return
        planned = t0 + p.interval[i]
        leave_day = float(pre_hsct_exit_day(t0, p.pre_hsct_exit[i], p.background[i]))
        if planned < leave_day:
            env.timeout(planned - env.now).callbacks.append(partial(request_bed, i, planned, leave_day))

    def request_bed(i: int, planned: float, leave_day: float, _event: simpy.Event) -> None:
        """Patient ``i`` asks for a transplant bed on the planned day; transplanted when one is free."""
        start = beds.start_day(planned)
        if not start < leave_day:
            return
        hsct_day[i] = start
        beds.occupy(start + max(transplant_bed_days(plan.hsct_stay_days, p.post_hsct_death[i], p.background[i], start), 0.0))

    def arrivals() -> Generator[simpy.Event, object, None]:
        """Walk the cohort in order of request day; patients with the same day arrive together."""
        reaching = np.flatnonzero(plan.request_day < plan.pre_infusion_exit_day)
        order = reaching[np.argsort(plan.request_day[reaching], kind="stable")]
        days = plan.request_day[order]
        boundaries = np.flatnonzero(np.diff(days)) + 1
        for group in np.split(order, boundaries) if order.size else []:
            day = p.request_day[group[0]]
            if day > env.now:
                yield env.timeout(day - env.now)
            for i in group.tolist():
                request_manufacturing(i)

    env.process(arrivals())
    with _garbage_collector_paused():
        env.run()
    return manufacturing_start, hsct_day


@contextmanager
def _garbage_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the calendar runs.

    A run allocates many short-lived SimPy events; the collector would otherwise scan them again
    and again (about a third of the run time). Nothing is lost: cycles are collected once it resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
