"""SimPy engine: patients competing for apheresis, manufacturing, CAR-T, ICU and transplant beds.

The engine yields to the scheduler only where patients interact: on the calendar day a patient
asks for a scarce resource. SimPy's calendar puts those requests in time order; light FIFO pools
(:class:`sim.engines.pool.ServerPool`) answer each one at once with the day service starts, and
the patient is scheduled to ask for the next resource on the day it will need it. A request for
an unlimited resource needs no ordering and is answered on the spot, without the calendar.

Everything between requests is computed by the clinical rules (:mod:`sim.disease.course`). A
patient waiting in a queue keeps living: the latent drop-out, relapse and death times already
drawn run on, and a patient who reaches one of them before being served leaves the queue. A
patient waiting for an ICU bed also faces the extra hazard of death of that wait (an assumption,
``icu_wait_death_hazard_per_day``).

The pathway of one patient (days on the calendar: enrolment day + days from enrolment):

1. apheresis (autologous and donor-derived products), then a manufacturing slot from the day of
   apheresis until the product is released;
2. after lymphodepletion, a CAR-T bed: infusion happens the day a bed is free;
3. an ICU bed from the first severe toxicity or severe infection, if any, before any HSCT;
4. for HSCT candidates, the planned transplant day, a donor (``donor_search_days`` from
   enrolment) and a transplant bed.

With unlimited capacity nobody waits and the result equals the cohort engine's.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager

import numpy as np
import simpy

from sim.disease.course import Plan, ResourceUse, Services
from sim.disease.timing import (
    before_relapse,
    cart_bed_days,
    hsct_ready_day,
    icu_bed_days,
    infused_death_day,
    ready_day,
    transplant_bed_days,
)
from sim.engines.pool import ServerPool
from sim.inputs.codes import RESOURCES, WAITING_EXITS, WAITING_FOR
from sim.inputs.scenario import Capacity
from sim.outcomes.resources import servers

DAYS_PER_WEEK = 7.0
QUEUED = tuple(r for r in RESOURCES if r != "donor_search")
"""Resources with servers (the donor search is a delay, not a queue)."""
BEFORE_INFUSION = ("apheresis", "manufacturing", "cart_bed")
BEFORE_HSCT = ("donor_search", "transplant_bed")


def simulate_services(plan: Plan, capacity: Capacity, enrol_day: np.ndarray | None = None) -> Services:
    """Run the discrete-event simulation of one strategy's patients.

    Parameters
    ----------
    plan : Plan
        The wait-independent course of every patient.
    capacity : Capacity
        The service's resources (``None`` = unlimited).
    enrol_day : ndarray, optional
        Calendar day each patient was referred (default: everyone on day 0).

    Returns
    -------
    Services
        Days from enrolment of manufacturing, infusion and HSCT, deaths while waiting for an ICU
        bed, and every request for a resource.
    """
    return _Simulation(plan, capacity, enrol_day).run()


class _Simulation:
    """One strategy's patients on one calendar. Arrays are indexed by patient; a patient's days count
    from its enrolment (as in the plan), and only the calendar and the pools see calendar days."""

    def __init__(self, plan: Plan, capacity: Capacity, enrol_day: np.ndarray | None) -> None:
        n = plan.attributes.n
        self.plan = plan
        self.env = simpy.Environment()
        self.enrol = np.zeros(n) if enrol_day is None else np.asarray(enrol_day, dtype=float)
        slots = capacity.apheresis_slots_per_week
        self.appointment_days = DAYS_PER_WEEK / slots if slots else 0.0
        self.pools = {resource: ServerPool(servers(capacity)[resource]) for resource in QUEUED}
        # With every resource unlimited, no request depends on another patient's or on a later
        # event, so requests are answered on the spot; otherwise all go through the calendar.
        self.on_the_spot = all(pool.capacity is None for pool in self.pools.values())
        self.donor_search_days = capacity.donor_search_days
        # Plain lists while the calendar runs (much faster to set one value at a time than arrays).
        self.request = {r: [math.nan] * n for r in RESOURCES}
        self.start = {r: [math.nan] * n for r in RESOURCES}
        self.end = {r: [math.nan] * n for r in RESOURCES}
        self.left_queue = [0] * n
        self.left_reason = [0] * n
        self.manufacturing_start = [math.nan] * n
        self.infusion = [math.nan] * n
        self.hsct = [math.nan] * n
        self.icu_death = [math.inf] * n
        self.offset = self.enrol.tolist()
        self.p = _PatientRecords(plan)

    def run(self) -> Services:
        """Simulate until the last patient's last request; return the days from enrolment."""
        self.env.process(self._referrals())
        with _garbage_collector_paused():
            self.env.run()
        def arrays(records: dict[str, list[float]]) -> dict[str, np.ndarray]:
            return {r: np.array(days) for r, days in records.items()}

        use = ResourceUse(request=arrays(self.request), start=arrays(self.start), end=arrays(self.end),
                          left_queue=np.array(self.left_queue, dtype=np.int8),
                          left_reason=np.array(self.left_reason, dtype=np.int8))
        icu_death = np.array(self.icu_death)
        return Services(
            manufacturing_start=np.array(self.manufacturing_start), infusion_day=np.array(self.infusion),
            hsct_day=np.array(self.hsct), icu_wait_death_day=np.where(np.isinf(icu_death), np.nan, icu_death),
            resource_use=use,
        )

    # --- the calendar -------------------------------------------------------------------

    def _at(self, i: int, day: float, action: Callable[..., None], *args: float) -> None:
        """Do ``action(i, *args)`` (a request of patient ``i``) on ``day`` of the patient's pathway:
        through the calendar, so that requests reach the pools in time order and a patient's later
        requests see what happened before, or at once when nothing is limited."""
        if self.on_the_spot:
            action(i, *args)
            return
        calendar_day = self.offset[i] + day
        if calendar_day <= self.env.now:
            action(i, *args)
        else:
            self.env.timeout(calendar_day - self.env.now).callbacks.append(lambda _event: action(i, *args))

    def _referrals(self) -> Generator[simpy.Event, object, None]:
        """Bring patients to their first request in order of its calendar day (ties together)."""
        p = self.p
        before = self.plan.before
        first = self.enrol + before.request_day
        reaching = np.flatnonzero(before.request_day < before.exit_day)
        order = reaching[np.argsort(first[reaching], kind="stable")]
        boundaries = np.flatnonzero(np.diff(first[order])) + 1
        for group in np.split(order, boundaries) if order.size else []:
            calendar_day = float(first[group[0]])
            if calendar_day > self.env.now:
                yield self.env.timeout(calendar_day - self.env.now)
            for i in group.tolist():
                day = p.request_day[i]
                if p.needs_slot[i]:
                    self._apheresis(i, day)
                else:
                    self.manufacturing_start[i] = day
                    self._ready(i, ready_day(day, 0.0, p.release_to_infusion[i]))

    def _queue(self, resource: str, i: int, day: float, leave_day: float) -> float | None:
        """Patient ``i`` asks for ``resource`` on ``day`` (now); returns the day service starts, or
        ``None`` when the patient leaves the queue first, on ``leave_day``. Days count from the
        patient's enrolment; the pools work on the calendar. The caller has checked ``day < leave_day``
        and, when service starts, calls :meth:`_hold`."""
        pool = self.pools[resource]
        self.request[resource][i] = day
        if pool.capacity is None:
            return day
        calendar_day = self.offset[i] + day
        start = day + (pool.start_day(calendar_day) - calendar_day)
        if start < leave_day:
            return start
        self._leave(resource, i, leave_day)
        return None

    def _hold(self, resource: str, i: int, start: float, days: float) -> None:
        """Patient ``i`` holds a server of ``resource`` from ``start`` for ``days``."""
        until = start + days
        pool = self.pools[resource]
        if pool.capacity is not None:
            pool.occupy(self.offset[i] + until)
        self.start[resource][i] = start
        self.end[resource][i] = until

    def _leave(self, resource: str, i: int, leave_day: float) -> None:
        """Patient ``i`` leaves the pathway from the queue for ``resource`` on ``leave_day``."""
        self.end[resource][i] = leave_day
        self.left_queue[i] = WAITING_FOR.index(resource)
        self.left_reason[i] = WAITING_EXITS.index(self._exit_reason(resource, i, leave_day))

    def _exit_reason(self, resource: str, i: int, leave_day: float) -> str:
        """Why patient ``i`` left the queue for ``resource`` on ``leave_day``."""
        p = self.p
        if resource in BEFORE_INFUSION:
            return "dropout" if p.dropout[i] <= p.background[i] else "death"
        if resource in BEFORE_HSCT and leave_day == self.infusion[i] + p.relapse_pre[i]:
            return "relapse"
        return "death"

    # --- before infusion ----------------------------------------------------------------

    def _apheresis(self, i: int, day: float) -> None:
        start = self._queue("apheresis", i, day, self.p.pre_infusion_exit[i])
        if start is not None:
            self._hold("apheresis", i, start, self.appointment_days)
            self._at(i, start, self._manufacturing, start)

    def _manufacturing(self, i: int, day: float) -> None:
        p = self.p
        start = self._queue("manufacturing", i, day, p.pre_infusion_exit[i])
        if start is None:
            return
        self._hold("manufacturing", i, start, p.slot_days[i])
        self.manufacturing_start[i] = start
        if not p.failed[i]:
            self._ready(i, ready_day(start, p.slot_days[i], p.release_to_infusion[i]))

    def _ready(self, i: int, day: float) -> None:
        """The product is released and lymphodepletion given (or chemotherapy is due) on ``day``."""
        if not day < self.p.pre_infusion_exit[i]:
            return
        if self.plan.care.needs_cart_bed:
            self._at(i, day, self._cart_bed, day)
        else:
            self._infused(i, day)

    def _cart_bed(self, i: int, day: float) -> None:
        p = self.p
        t0 = self._queue("cart_bed", i, day, p.pre_infusion_exit[i])
        if t0 is not None:
            self._hold("cart_bed", i, t0, cart_bed_days(p.cart_stay[i], p.early_death[i], p.background[i], t0))
            self._infused(i, t0)

    # --- after infusion -----------------------------------------------------------------

    def _infused(self, i: int, t0: float) -> None:
        p = self.p
        self.infusion[i] = t0
        need = t0 + p.icu_need[i]
        planned = t0 + p.interval[i]
        # the ICU need first: on the same day it comes before the transplant, which waits for the discharge
        if need < min(t0 + p.early_death[i], p.background[i]):
            self._at(i, need, self._icu_bed, need)
        if p.candidate[i] and planned < self._pre_hsct_exit(i):
            self._at(i, planned, self._hsct_due, planned)

    def _icu_bed(self, i: int, day: float) -> None:
        p = self.p
        death = infused_death_day(p.early_death[i], p.background[i], p.post_hsct_death[i], self.infusion[i],
                                  self.hsct[i] if self.hsct[i] <= day else math.nan)
        if not day < death:
            return
        waiting_death = day + p.icu_wait_death[i]
        admitted = self._queue("icu_bed", i, day, min(death, waiting_death))
        if admitted is not None:
            self._hold("icu_bed", i, admitted, icu_bed_days(p.icu_stay, death, admitted))
        elif waiting_death < death:
            self.icu_death[i] = waiting_death

    def _pre_hsct_exit(self, i: int) -> float:
        """Day after which patient ``i`` can no longer be transplanted (relapse or death)."""
        p = self.p
        t0 = self.infusion[i]
        return min(t0 + p.pre_hsct_exit[i], p.background[i], self.icu_death[i])

    def _hsct_due(self, i: int, planned: float) -> None:
        """The planned transplant day: wait for the end of an ICU stay (or of the wait for an ICU bed),
        and for a donor if the search is still going, then a bed."""
        leave_day = self._pre_hsct_exit(i)
        if not planned < leave_day:
            return
        ready = hsct_ready_day(planned, self.request["icu_bed"][i], self.end["icu_bed"][i])
        if ready != planned:
            self._at(i, ready, self._hsct_due, ready)
            return
        bed_day = planned
        if self.donor_search_days is not None:
            ready = max(planned, self.donor_search_days)
            self.request["donor_search"][i] = planned
            if not ready < leave_day:
                self._leave("donor_search", i, leave_day)
                return
            self.start["donor_search"][i] = self.end["donor_search"][i] = bed_day = ready
        self._at(i, bed_day, self._transplant_bed, bed_day)

    def _transplant_bed(self, i: int, day: float) -> None:
        """Ask for a transplant bed; not while in intensive care, and again if an ICU need arises while waiting."""
        p = self.p
        leave_day = self._pre_hsct_exit(i)
        if not day < leave_day:
            return
        ready = hsct_ready_day(day, self.request["icu_bed"][i], self.end["icu_bed"][i])
        if ready != day:
            self._at(i, ready, self._transplant_bed, ready)
            return
        hsct = self._queue("transplant_bed", i, day, leave_day)
        icu_need = self.infusion[i] + p.icu_need[i]
        if hsct is not None and day < icu_need <= hsct:
            self._at(i, icu_need, self._transplant_bed, icu_need)
            return
        if hsct is not None:
            toxicity_death = before_relapse(self.infusion[i] + p.early_death[i], hsct + p.relapse_post[i])
            self._hold("transplant_bed", i, hsct, transplant_bed_days(p.hsct_stay, p.post_hsct_death[i], p.background[i], hsct,
                                                                      toxicity_death))
            self.hsct[i] = hsct


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
        before, toxicity, care = plan.before, plan.toxicity, plan.care
        self.request_day = before.request_day.tolist()
        self.pre_infusion_exit = before.exit_day.tolist()
        self.dropout = before.dropout_day.tolist()
        self.background = before.background_death_day.tolist()
        self.needs_slot = before.needs_slot.tolist()
        self.slot_days = before.slot_days.tolist()
        self.release_to_infusion = before.release_to_infusion_days.tolist()
        self.failed = before.manufacturing_failed.tolist()
        self.cart_stay = care.cart_stay_days.tolist()
        self.early_death = toxicity.early_death_after_infusion.tolist()
        self.icu_need = care.icu_need_after_infusion.tolist()
        self.icu_wait_death = care.icu_wait_death_after_request.tolist()
        self.icu_stay = care.icu_stay_days
        self.candidate = plan.decision.candidate.tolist()
        self.interval = plan.decision.interval.tolist()
        self.relapse_pre = plan.response.relapse_after_infusion.tolist()
        self.pre_hsct_exit = plan.pre_hsct_exit_after_infusion.tolist()
        self.post_hsct_death = plan.post_hsct_death_after_hsct.tolist()
        self.relapse_post = plan.after_transplant.relapse_after_hsct.tolist()
        self.hsct_stay = care.hsct_stay_days
