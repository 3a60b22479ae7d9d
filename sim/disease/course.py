"""The patient pathway: the clinical rules put in order for one strategy.

The pathway is computed in two steps so that both engines share every line of clinical logic:

1. :func:`plan_course` takes all patients through the steps of the pathway at once
   (:mod:`sim.disease.steps`: before infusion, toxicity, response, transplant decision, transplant,
   after transplant, hospital care) and composes their records into a :class:`Plan`: everything
   that does not depend on waiting (grades, response, latent event times measured from infusion or
   from HSCT).
2. :func:`resolve_course` takes the :class:`Services` an engine decided — the days on which each
   patient actually started manufacturing, was infused and was transplanted, with or without
   queues, and any death while waiting for an ICU bed — and settles what happened: who was
   infused, who died of what (the first of the named competing risks of death) and when,
   censoring at the horizon.

Between the two, an engine decides the waits with the helpers of :mod:`sim.disease.timing` (ready
day, exits, ICU requests, bed holds: compiled, called by the SimPy engine patient by patient and by
the no-queue passes :func:`unqueued_services`, :func:`unqueued_table_columns` and :func:`unqueued_resource_use`). Waiting
lengthens exposure to the latent times already drawn; it never redraws them (DESIGN.md section 4).

What a new pathway step touches, and nothing else:

- its rule: a pure function of draws and parameters in a rules module (:mod:`sim.disease.cart`,
  :mod:`~sim.disease.transplant`, :mod:`~sim.disease.survival`, :mod:`~sim.disease.care`), with its
  draw named in ``sim.disease.draws.DRAW_NAMES`` and its parameters in ``calibration/parameters.yaml``
  (a parameter that depends on the transplant platform: a field of
  ``sim.inputs.strategies.TransplantParameters``);
- its step function and record in :mod:`sim.disease.steps` (its per-patient function, called by the
  step's pass and by the one pass of :mod:`sim.disease.one_pass`), a field of :class:`Plan` here and its
  call in :func:`plan_course`; a new way to die is a named risk in :func:`resolve_course`, and a new
  event day is a column of :func:`resolve_course` or a day of :meth:`Course.log_days`;
- its columns and events: ``sim.simulation.tables`` (event log rows) and ``sim.inputs.codes``
  (column contracts, categories such as ``DEATH_CAUSES``; a new resource in ``RESOURCES``, its
  request and hold in :func:`unqueued_resource_use` and the SimPy engine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from sim.disease import timing
from sim.disease.draws import PatientDraws
from sim.disease.patients import PatientAttributes
from sim.disease.settlement import RISK_CODE, days_of, settle
from sim.disease.steps import (
    DEATH_CODE,
    AfterTransplant,
    BeforeInfusion,
    Care,
    Once,
    Response,
    Toxicity,
    Transplant,
    TransplantDecision,
    plan_after_transplant,
    plan_before_infusion,
    plan_care,
    plan_response,
    plan_toxicity,
    plan_transplant,
    plan_transplant_decision,
    planned_hsct_interval,
    product_source,
)
from sim.inputs.codes import RESOURCES, WAITING_FOR
from sim.inputs.parameters import ParameterSet
from sim.inputs.strategies import Strategy

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(frozen=True, init=False)
class Plan:
    """Wait-independent course of ``n`` patients under one strategy: the records of the pathway's
    steps (:mod:`sim.disease.steps`), arrays of length ``n``.

    Days before infusion count from enrolment; ``*_after_infusion`` from infusion;
    ``*_after_hsct`` from HSCT. ``inf`` marks a latent event that never happens.
    ``cart_source`` is the product the strategy gives each patient (index into
    ``sim.inputs.codes.CART_PRODUCTS``; ``none`` under chemotherapy). The properties named after a
    step's attribute (``request_day``, ``crs_grade``, ...) read it from that step (for the tables and tests).

    Keyword arguments named after a step's attribute replace it in that step's record, so that
    ``dataclasses.replace(plan, slot_days=days)`` studies one step with the rest of the plan unchanged.
    """

    strategy: Strategy
    attributes: PatientAttributes
    cart_source: np.ndarray
    before: BeforeInfusion
    toxicity: Toxicity
    response: Response
    decision: TransplantDecision
    transplant: Transplant
    after_transplant: AfterTransplant
    care: Care

    def __init__(
        self, strategy: Strategy, attributes: PatientAttributes, cart_source: np.ndarray, before: BeforeInfusion,
        toxicity: Toxicity, response: Response, decision: TransplantDecision, transplant: Transplant,
        after_transplant: AfterTransplant, care: Care, **step_attributes: np.ndarray | float,
    ) -> None:
        steps: dict[str, DataclassInstance] = {
            "before": before, "toxicity": toxicity, "response": response, "decision": decision, "transplant": transplant,
            "after_transplant": after_transplant, "care": care,
        }
        for name, value in step_attributes.items():
            owner = next((step for step, record in steps.items() if name in {f.name for f in fields(record)}), None)
            if owner is None:
                raise TypeError(f"no step of the pathway has an attribute {name!r}")
            steps[owner] = replace(steps[owner], **{name: value})
        for name, part in {"strategy": strategy, "attributes": attributes, "cart_source": cart_source, **steps}.items():
            object.__setattr__(self, name, part)

    @cached_property
    def pre_hsct_exit_after_infusion(self) -> np.ndarray:
        """Days after infusion at which the patient can no longer be transplanted (early death, a late
        non-relapse death, relapse while waiting); background death is added by :func:`pre_hsct_exit_day`."""
        return timing.pre_hsct_exit_after_infusion(
            self.toxicity.early_death_after_infusion, self.toxicity.late_death_after_infusion, self.response.relapse_after_infusion)

    @cached_property
    def post_hsct_death_after_hsct(self) -> np.ndarray:
        """Days from HSCT to death from the transplant (only before a relapse) or from its relapse
        (background and the CAR-T aplasia's infections excluded)."""
        after = self.after_transplant
        return timing.post_hsct_death_after_hsct(
            after.nrm_after_hsct, self.transplant.graft_failure_death_after_hsct, after.late_effects_death_after_hsct,
            after.relapse_after_hsct, after.survival_after_hsct_relapse)

    @property
    def needs_slot(self) -> np.ndarray:
        """:attr:`BeforeInfusion.needs_slot`."""
        return self.before.needs_slot

    @property
    def request_day(self) -> np.ndarray:
        """:attr:`BeforeInfusion.request_day`."""
        return self.before.request_day

    @property
    def manufacturing_failed(self) -> np.ndarray:
        """:attr:`BeforeInfusion.manufacturing_failed`."""
        return self.before.manufacturing_failed

    @property
    def pre_infusion_exit_day(self) -> np.ndarray:
        """:attr:`BeforeInfusion.exit_day`."""
        return self.before.exit_day

    @property
    def crs_grade(self) -> np.ndarray:
        """:attr:`Toxicity.crs_grade`."""
        return self.toxicity.crs_grade

    @property
    def icans_grade(self) -> np.ndarray:
        """:attr:`Toxicity.icans_grade`."""
        return self.toxicity.icans_grade

    @property
    def severe_infection(self) -> np.ndarray:
        """:attr:`Toxicity.severe_infection`."""
        return self.toxicity.severe_infection

    @property
    def infection_after_infusion(self) -> np.ndarray:
        """:attr:`Toxicity.infection_after_infusion`."""
        return self.toxicity.infection_after_infusion

    @property
    def chimerism(self) -> np.ndarray:
        """:attr:`Transplant.chimerism`."""
        return self.transplant.chimerism

    @property
    def agvhd_grade(self) -> np.ndarray:
        """:attr:`Transplant.agvhd_grade`."""
        return self.transplant.agvhd_grade

    @property
    def icu_need_after_infusion(self) -> np.ndarray:
        """:attr:`Care.icu_need_after_infusion`."""
        return self.care.icu_need_after_infusion

    @property
    def icu_cause(self) -> np.ndarray:
        """:attr:`Care.icu_cause`."""
        return self.care.icu_cause


def remembered(shared: dict[tuple, Any] | None) -> Once:
    """The ``once`` of the steps (:data:`sim.disease.steps.Once`): ``rule(*args)``, computed once per set of patients
    and arguments when ``shared`` is given (a memo keyed by the rule, its parameter values and the identity of the
    draw arrays, which live as long as the draws), else each time."""
    def once(rule, *args):
        if shared is None:
            return rule(*args)
        key = (rule.__module__, rule.__qualname__, *(a if isinstance(a, float) else id(a) for a in args))
        if key not in shared:
            shared[key] = rule(*args)
        return shared[key]
    return once


def plan_course(
    params: ParameterSet,
    strategy: Strategy,
    attributes: PatientAttributes,
    draws: PatientDraws,
    shared: dict[tuple, np.ndarray] | None = None,
) -> Plan:
    """Take all patients through the steps of ``strategy``'s pathway at once (:mod:`sim.disease.steps`).

    Parameters
    ----------
    params : ParameterSet
        Parameter values.
    strategy : Strategy
        The strategy followed.
    attributes : PatientAttributes
        The patients.
    draws : PatientDraws
        Their uniform draws (the same under every strategy).
    shared : dict, optional
        A memo of the quantities that do not depend on the strategy, to pass to every strategy of
        the same patients and draws (one dict per ``draws``): keyed by the rule, its parameter values
        and the identity of the draw arrays, which live as long as ``draws``.
    """
    once = remembered(shared)
    p = params
    source = product_source(strategy, attributes)
    toxicity = plan_toxicity(p, strategy, draws, source)
    hsct_interval = planned_hsct_interval(p, strategy, draws)
    response = plan_response(p, strategy, attributes, draws, hsct_interval)
    graft = plan_transplant(p, strategy, draws)
    decision = plan_transplant_decision(p, strategy, attributes, draws, response, hsct_interval)
    return Plan(
        strategy=strategy, attributes=attributes, cart_source=source,
        before=plan_before_infusion(p, strategy, attributes, draws, source, once),
        toxicity=toxicity,
        response=response,
        decision=decision,
        transplant=graft,
        after_transplant=plan_after_transplant(p, strategy, attributes, draws, graft, response, decision, once),
        care=plan_care(p, strategy, draws, toxicity),
    )


@dataclass(frozen=True)
class ResourceUse:
    """When each patient asked for each resource, was served and let go (days from enrolment).

    Every array has one value per patient; ``NaN`` where the patient never asked. Resources are
    those of ``sim.inputs.codes.RESOURCES``; each patient asks for each at most once.

    Attributes
    ----------
    request, start, end : dict of ndarray
        Day of asking, day service started (``NaN`` if the patient left the queue first) and day
        the resource was let go (for a patient who left the queue: the day they left).
    left_queue : ndarray of int8
        Index into ``WAITING_FOR`` of the queue the patient left the pathway from (0: none).
    left_reason : ndarray of int8
        Index into ``WAITING_EXITS``: why (progression before infusion, relapse, death).
    """

    request: dict[str, np.ndarray]
    start: dict[str, np.ndarray]
    end: dict[str, np.ndarray]
    left_queue: np.ndarray
    left_reason: np.ndarray


@dataclass(frozen=True)
class Services:
    """What an engine decides for each patient (days from enrolment, ``NaN`` = did not happen).

    Attributes
    ----------
    manufacturing_start : ndarray
        Manufacturing started (or the index treatment was released to the patient).
    infusion_day : ndarray
        Infusion (or chemotherapy start): the CAR-T bed was free and the product available.
    hsct_day : ndarray
        HSCT: donor ready and transplant bed free.
    icu_wait_death_day : ndarray
        Death while waiting for an ICU bed.
    resource_use : ResourceUse or None
        The queue records; ``None`` when nobody queued (the cohort engine), in which case
        :attr:`Course.resource_use` derives them.
    """

    manufacturing_start: np.ndarray
    infusion_day: np.ndarray
    hsct_day: np.ndarray
    icu_wait_death_day: np.ndarray
    resource_use: ResourceUse | None = None


def stay_days(use: ResourceUse, bed: str, last_day: np.ndarray) -> np.ndarray:
    """Days each patient spent in ``bed`` (a resource of ``sim.inputs.codes.RESOURCES``), up to the end
    of follow-up.

    The stay is the time the engine held the bed, which the bed-holding rules already end at death;
    ``last_day`` cuts it at the end of follow-up, and at a death the bed records do not know of.

    Parameters
    ----------
    use : ResourceUse
        When each patient held each resource (days from enrolment).
    bed : str
        The resource.
    last_day : ndarray
        Day of death or of the end of follow-up.

    Returns
    -------
    ndarray
        Days; ``NaN`` where no stay began before ``last_day``.
    """
    return timing.held_days(use.start[bed], use.end[bed], last_day)


def admission_day(use: ResourceUse, bed: str, last_day: np.ndarray) -> np.ndarray:
    """Day each patient took ``bed``, alive and before the end of follow-up (``NaN`` otherwise)."""
    start = use.start[bed]
    return np.where(start < last_day, start, np.nan)


def discharge_day(use: ResourceUse, bed: str, last_day: np.ndarray) -> np.ndarray:
    """Day each patient left ``bed`` alive, before the end of follow-up (``NaN`` for a stay ended
    by death or still going at the end of follow-up, and without a stay)."""
    start, end = use.start[bed], use.end[bed]
    return np.where((start < last_day) & (end < last_day), end, np.nan)


@dataclass(frozen=True)
class Course:
    """Resolved course of every patient: the patients-table columns, and what the event log needs.

    All days count from enrolment; ``NaN`` where the event did not happen (or fell after the
    end of follow-up). Days that only the event log uses are computed on demand by
    :meth:`log_days`, so runs without an event log do not pay for them. ``resource_use`` holds
    each patient's requests for the scarce resources (the engine's, or derived on demand when nobody queued).
    """

    columns: dict[str, np.ndarray]
    plan: Plan
    services: Services
    latent_death_day: np.ndarray
    early_death_first: np.ndarray
    car_t_gvhd_day: np.ndarray
    agvhd_day: np.ndarray
    cgvhd_day: np.ndarray

    @cached_property
    def resource_use(self) -> ResourceUse:
        """When each patient asked for each resource, was served and let it go: the engine's records, or those
        of :func:`unqueued_resource_use` when nobody queued."""
        return self.services.resource_use or unqueued_resource_use(self.plan, self.services)

    def log_days(self) -> dict[str, np.ndarray]:
        """Days of the events that appear only in the event log.

        Returns
        -------
        dict
            ``apheresis, manufacturing_start, product_release, dropout, crs, icans, severe_infection,
            icu_admission, icu_discharge, cart_ward_discharge, transplant_discharge, other_fatal_infection``
            (days) and ``infection_fatal`` (bool). Apheresis is dated on the appointment the engine granted,
            which is later than the request when appointments are scarce; admissions and discharges
            are those of the patients-table hospital days (no discharge from a stay ended by death).
        """
        plan, c = self.plan, self.columns
        last_day, t0, infused = c["last_day"], c["infusion_day"], c["infused"]
        release_day = self.services.manufacturing_start + plan.before.slot_days
        failed_in_time = plan.before.manufacturing_failed & (release_day < plan.before.exit_day)
        infection_day = t0 + plan.toxicity.infection_after_infusion
        return {
            "apheresis": _observed(self.resource_use.start["apheresis"], last_day),
            "manufacturing_start": _observed(np.where(plan.before.needs_slot, self.services.manufacturing_start, np.nan), last_day),
            "product_release": _observed(np.where(plan.before.needs_slot, release_day, np.nan), last_day),
            "dropout": _observed(np.where(~infused & ~failed_in_time & (plan.before.dropout_day <= plan.before.background_death_day),
                                          plan.before.dropout_day, np.nan), last_day),
            "crs": _observed(np.where(c["crs_grade"] > 0, t0 + plan.toxicity.crs_onset_after_infusion, np.nan), last_day),
            "icans": _observed(np.where(c["icans_grade"] > 0, t0 + plan.toxicity.icans_onset_after_infusion, np.nan), last_day),
            "severe_infection": _observed(np.where(infused & plan.toxicity.severe_infection & (infection_day <= self.latent_death_day),
                                                   infection_day, np.nan), last_day),
            "infection_fatal": (c["death_cause"] == DEATH_CODE["infection"]) & self.early_death_first,
            # an infection death other than the aplasia's (after HSCT, or late without transplant) is logged on its day
            "other_fatal_infection": np.where((c["death_cause"] == DEATH_CODE["infection"]) & ~self.early_death_first,
                                              c["death_day"], np.nan),
            "icu_admission": admission_day(self.resource_use, "icu_bed", last_day),
            "icu_discharge": discharge_day(self.resource_use, "icu_bed", last_day),
            "cart_ward_discharge": discharge_day(self.resource_use, "cart_bed", last_day),
            "transplant_discharge": discharge_day(self.resource_use, "transplant_bed", last_day),
        }


def wait_columns(use: ResourceUse, last_day: np.ndarray) -> dict[str, np.ndarray]:
    """The patients-table columns on waiting from the resource records ``use``, observed up to each patient's
    ``last_day`` (:func:`unqueued_table_columns` gives the same numbers for a course in which nobody queued).

    Returns
    -------
    dict
        ``wait_<resource>_days`` (days from asking to service, or to leaving the queue, cut at
        the end of follow-up; ``NaN`` if the patient did not ask by then), ``waiting_for`` and
        ``waiting_exit`` (codes into ``WAITING_FOR`` and ``WAITING_EXITS``; 0 unless the patient
        left the pathway from a queue by the end of follow-up).
    """
    columns = {}
    for resource in RESOURCES:
        request = use.request[resource]
        waited_until = np.where(np.isnan(use.start[resource]), use.end[resource], use.start[resource])
        columns[f"wait_{resource}_days"] = np.where(request <= last_day, np.minimum(waited_until, last_day) - request, np.nan)
    if not use.left_queue.any():  # nobody left the pathway from a queue
        columns["waiting_for"], columns["waiting_exit"] = np.zeros(last_day.shape, np.int8), np.zeros(last_day.shape, np.int8)
        return columns
    left_in_time = np.zeros(last_day.shape, dtype=bool)
    for code, resource in enumerate(WAITING_FOR[1:], start=1):
        left_in_time |= (use.left_queue == code) & (use.end[resource] <= last_day)
    columns["waiting_for"] = np.where(left_in_time, use.left_queue, 0).astype(np.int8)
    columns["waiting_exit"] = np.where(left_in_time, use.left_reason, 0).astype(np.int8)
    return columns


def _observed(day: np.ndarray, last_day: np.ndarray) -> np.ndarray:
    """Keep an event day only if it happened by the end of follow-up."""
    return np.where(day <= last_day, day, np.nan)


def unqueued_services(plan: Plan) -> Services:
    """What happens when nobody waits: every resource is free the day it is asked for (one compiled
    pass, :func:`_unqueued_patients`, with the helpers of :mod:`sim.disease.timing`)."""
    n = plan.attributes.n
    out = (np.empty(n), np.empty(n), np.empty(n))
    _unqueued_patients(_patient_arrays(plan), (plan.care.icu_stay_days,), out)
    start, t0, hsct_day = out
    return Services(manufacturing_start=start, infusion_day=t0, hsct_day=hsct_day, icu_wait_death_day=np.full(n, np.nan))


def unqueued_resource_use(plan: Plan, services: Services) -> ResourceUse:
    """Resource records when nobody waits: each request served on the day it is made (one compiled pass,
    :func:`_unqueued_resource_patients`)."""
    n = plan.attributes.n
    days = _service_days(services, n)
    out = tuple(np.empty(n) for _ in range(7))
    _unqueued_resource_patients(_patient_arrays(plan), days, _care_values(plan), out)
    aphereses, manufacturing_end, cart_bed, cart_bed_end, icu, icu_end, transplant_end = out
    hsct_day, never = days[2], np.full(n, np.nan)
    requests = {"apheresis": aphereses, "manufacturing": aphereses, "cart_bed": cart_bed, "icu_bed": icu,
                "transplant_bed": hsct_day, "donor_search": never}
    ends = {"apheresis": aphereses, "manufacturing": manufacturing_end, "cart_bed": cart_bed_end, "icu_bed": icu_end,
            "transplant_bed": transplant_end, "donor_search": never}
    none = np.zeros(n, dtype=np.int8)
    return ResourceUse(request=requests, start=requests, end=ends, left_queue=none, left_reason=none)


def unqueued_table_columns(plan: Plan, services: Services, last_day: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The hospital-day and the waiting columns of a course in which nobody waited, in one compiled pass
    (:func:`_unqueued_table_patients`): the numbers :func:`stay_days` and :func:`wait_columns` give from
    :func:`unqueued_resource_use`, without building the records.

    Returns
    -------
    hospital, waits : dict of ndarray
        ``cart_stay_days``, ``icu_days``, ``hsct_stay_days`` (days), and ``wait_<resource>_days`` (0 where the
        patient asked by ``last_day``, ``NaN`` otherwise), ``waiting_for`` and ``waiting_exit`` (all 0).
    """
    n = plan.attributes.n
    hospital = {name: np.empty(n) for name in ("cart_stay_days", "icu_days", "hsct_stay_days")}
    waits = {f"wait_{resource}_days": np.empty(n) for resource in RESOURCES}
    _unqueued_table_patients(_patient_arrays(plan), _service_days(services, n), _care_values(plan), days_of(last_day, n),
                             (*hospital.values(), *waits.values()))
    none = np.zeros(n, dtype=np.int8)
    return hospital, {**waits, "waiting_for": none, "waiting_exit": none}


def _service_days(services: Services, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Manufacturing start, infusion and HSCT days, in the form the compiled passes take."""
    return days_of(services.manufacturing_start, n), days_of(services.infusion_day, n), days_of(services.hsct_day, n)


def _care_values(plan: Plan) -> tuple[float, float, float]:
    """Whether the strategy uses a CAR-T bed, and the ICU and transplant stays (days)."""
    care = plan.care
    return float(care.needs_cart_bed), float(care.icu_stay_days), float(care.hsct_stay_days)


def _patient_arrays(plan: Plan) -> tuple[np.ndarray, ...]:
    """The plan's per-patient arrays the compiled passes over waiting read, in their order."""
    n, before, toxicity, care = plan.attributes.n, plan.before, plan.toxicity, plan.care
    return (
        days_of(before.request_day, n), days_of(before.exit_day, n), days_of(before.slot_days, n),
        days_of(before.release_to_infusion_days, n),
        np.ascontiguousarray(before.manufacturing_failed, dtype=np.bool_), np.ascontiguousarray(before.needs_slot, dtype=np.bool_),
        days_of(before.background_death_day, n), days_of(toxicity.early_death_after_infusion, n), days_of(care.icu_need_after_infusion, n),
        days_of(plan.post_hsct_death_after_hsct, n), days_of(plan.decision.interval, n),
        np.ascontiguousarray(plan.decision.candidate, dtype=np.bool_), days_of(plan.pre_hsct_exit_after_infusion, n),
        days_of(care.cart_stay_days, n), days_of(plan.after_transplant.relapse_after_hsct, n),
    )


@njit(cache=True, error_model="numpy", inline="always")
def unqueued_patient(request_day, exit_day, slot_days, release_days, failed, background, early_death, icu_need, interval,
                     candidate, pre_hsct_exit_after, icu_stay):
    """Manufacturing start, infusion and HSCT days of one patient when nobody waits (:func:`unqueued_services`;
    ``NaN`` where they did not happen). The transplant's own risks do not come into it: only ICU stays begun before
    the transplant delay it, so the patient is not yet transplanted (``NaN``) when the ICU need is asked about."""
    start = request_day if request_day < exit_day else math.nan
    t0 = timing.ready_day(start, slot_days, release_days)
    t0 = t0 if not failed and t0 < exit_day else math.nan
    # only ICU stays begun before the planned day delay the transplant
    icu = timing.icu_request_day(icu_need, early_death, background, math.inf, t0, math.nan)
    death = timing.infused_death_day(early_death, background, math.inf, t0, math.nan)
    icu_end = icu + timing.icu_bed_days(icu_stay, death, icu)
    planned = timing.hsct_ready_day(t0 + interval, icu, icu_end)
    hsct_exit = timing.pre_hsct_exit_day(t0, pre_hsct_exit_after, background)
    return start, t0, planned if candidate and planned < hsct_exit else math.nan


@njit(cache=True, error_model="numpy")
def _unqueued_patients(patients, values, out):
    """:func:`unqueued_patient` of one patient after another (:func:`unqueued_services`)."""
    (request_day, exit_day, slot_days, release_days, failed, _needs_slot, background, early_death, icu_need, _post_hsct_death,
     interval, candidate, pre_hsct_exit_after, _cart_stay, _relapse_after_hsct) = patients
    (icu_stay,) = values
    start_out, infusion_out, hsct_out = out
    for i in range(request_day.shape[0]):
        start_out[i], infusion_out[i], hsct_out[i] = unqueued_patient(
            request_day[i], exit_day[i], slot_days[i], release_days[i], failed[i], background[i], early_death[i], icu_need[i],
            interval[i], candidate[i], pre_hsct_exit_after[i], icu_stay)


@njit(cache=True, error_model="numpy", inline="always")
def _unqueued_holds(t0, hsct, needs_slot, manufacturing_start, slot_days, cart_stay, background, early_death, icu_need,
                    post_hsct_death, relapse_after_hsct, needs_cart_bed, icu_stay, hsct_stay):
    """Apheresis and the end of manufacturing, the CAR-T bed, the ICU bed and their ends, and the end of the transplant
    bed of one patient when nobody waits (days from enrolment; ``NaN`` where the patient never asks)."""
    aphereses = manufacturing_start if needs_slot else math.nan
    cart_bed = t0 if needs_cart_bed else math.nan
    icu = timing.icu_request_day(icu_need, early_death, background, post_hsct_death, t0, hsct)
    death = timing.infused_death_day(early_death, background, post_hsct_death, t0, hsct if hsct <= icu else math.nan)
    toxicity_death = timing.before_relapse(t0 + early_death, hsct + relapse_after_hsct)
    return (aphereses, aphereses + slot_days, cart_bed, cart_bed + timing.cart_bed_days(cart_stay, early_death, background, cart_bed),
            icu, icu + timing.icu_bed_days(icu_stay, death, icu),
            hsct + timing.transplant_bed_days(hsct_stay, post_hsct_death, background, hsct, toxicity_death))


@njit(cache=True, error_model="numpy")
def _unqueued_resource_patients(patients, days, values, out):
    """Requests and ends of apheresis, manufacturing, the CAR-T, ICU and transplant beds of each patient when
    nobody waits (:func:`unqueued_resource_use`)."""
    (_request_day, _exit_day, slot_days, _release_days, _failed, needs_slot, background, early_death, icu_need, post_hsct_death,
     _interval, _candidate, _pre_hsct_exit_after, cart_stay, relapse_after_hsct) = patients
    manufacturing_start, infusion_day, hsct_day = days
    needs_cart_bed, icu_stay, hsct_stay = values
    aphereses_out, manufacturing_end_out, cart_bed_out, cart_bed_end_out, icu_out, icu_end_out, transplant_end_out = out
    for i in range(infusion_day.shape[0]):
        (aphereses_out[i], manufacturing_end_out[i], cart_bed_out[i], cart_bed_end_out[i], icu_out[i], icu_end_out[i],
         transplant_end_out[i]) = _unqueued_holds(
            infusion_day[i], hsct_day[i], needs_slot[i], manufacturing_start[i], slot_days[i], cart_stay[i], background[i],
            early_death[i], icu_need[i], post_hsct_death[i], relapse_after_hsct[i], needs_cart_bed, icu_stay, hsct_stay)


@njit(cache=True, error_model="numpy", inline="always")
def unqueued_table_patient(t0, hsct, needs_slot, manufacturing_start, slot_days, cart_stay, background, early_death, icu_need,
                           post_hsct_death, relapse_after_hsct, needs_cart_bed, icu_stay, hsct_stay, last):
    """Hospital days and waits of one patient when nobody waits (:func:`unqueued_table_columns`): the CAR-T, ICU and
    transplant bed days held by the last day, and the waits for apheresis, manufacturing, the CAR-T, ICU and
    transplant beds and a donor search (each request served on asking: 0 days where the patient asked by the last
    day, ``NaN`` otherwise; no donor search)."""
    aphereses, _manufacturing_end, cart_bed, cart_bed_end, icu, icu_end, transplant_end = _unqueued_holds(
        t0, hsct, needs_slot, manufacturing_start, slot_days, cart_stay, background, early_death, icu_need, post_hsct_death,
        relapse_after_hsct, needs_cart_bed, icu_stay, hsct_stay)
    icu_days = timing.held(icu, icu_end, last)
    asked = 0.0 if aphereses <= last else math.nan
    return (timing.held(cart_bed, cart_bed_end, last), 0.0 if math.isnan(icu_days) else icu_days, timing.held(hsct, transplant_end, last),
            asked, asked, 0.0 if cart_bed <= last else math.nan, 0.0 if icu <= last else math.nan, 0.0 if hsct <= last else math.nan,
            math.nan)


@njit(cache=True, error_model="numpy")
def _unqueued_table_patients(patients, days, values, last_day, out):
    """:func:`unqueued_table_patient` of one patient after another (:func:`unqueued_table_columns`)."""
    (_request_day, _exit_day, slot_days, _release_days, _failed, needs_slot, background, early_death, icu_need, post_hsct_death,
     _interval, _candidate, _pre_hsct_exit_after, cart_stay, relapse_after_hsct) = patients
    manufacturing_start, infusion_day, hsct_day = days
    needs_cart_bed, icu_stay, hsct_stay = values
    cart_out, icu_days_out, hsct_out, apheresis_out, manufacturing_out, cart_bed_out, icu_bed_out, transplant_bed_out, donor_out = out
    for i in range(infusion_day.shape[0]):
        (cart_out[i], icu_days_out[i], hsct_out[i], apheresis_out[i], manufacturing_out[i], cart_bed_out[i], icu_bed_out[i],
         transplant_bed_out[i], donor_out[i]) = unqueued_table_patient(
            infusion_day[i], hsct_day[i], needs_slot[i], manufacturing_start[i], slot_days[i], cart_stay[i], background[i],
            early_death[i], icu_need[i], post_hsct_death[i], relapse_after_hsct[i], needs_cart_bed, icu_stay, hsct_stay, last_day[i])


def outcome_columns(plan: Plan, services: Services, horizon_days: float | np.ndarray) -> dict[str, np.ndarray]:
    """The columns of :func:`resolve_course` that the endpoints read (``sim.outcomes.endpoints.Columns``),
    settled exactly as there, without the causes of death and the hospital days: the part a study
    replay needs, at a fraction of the cost (parameters as for :func:`resolve_course`)."""
    return settle(plan, services, horizon_days).columns


def resolve_course(plan: Plan, services: Services, horizon_days: float | np.ndarray) -> Course:
    """Settle each patient's course given what the engine decided.

    Parameters
    ----------
    plan : Plan
        The wait-independent course.
    services : Services
        When manufacturing started, infusion and HSCT happened, and deaths while waiting for an
        ICU bed (days from enrolment, ``NaN`` where they did not happen).
    horizon_days : float or ndarray
        End of follow-up from enrolment, days, for everyone or per patient; later events are censored.
    """
    settled = settle(plan, services, horizon_days)
    first = settled.first
    columns = settled.columns
    last_day, transplanted = columns["last_day"], columns["hsct"]
    if services.resource_use is None:  # nobody queued: the hospital days and waits in one pass
        hospital, waits = unqueued_table_columns(plan, services, last_day)
    else:
        use = services.resource_use
        icu_days = stay_days(use, "icu_bed", last_day)
        hospital = {"cart_stay_days": stay_days(use, "cart_bed", last_day), "icu_days": np.where(np.isnan(icu_days), 0.0, icu_days),
                    "hsct_stay_days": stay_days(use, "transplant_bed", last_day)}
        waits = wait_columns(use, last_day)
    columns = {
        **{name: values for name, values in columns.items() if name not in ("last_day", "chimerism", "cart_source")},
        "death_cause": settled.death_cause,
        **{name: columns[name] for name in ("last_day", "chimerism", "cart_source")},
        **hospital,
        **waits,
    }
    return Course(
        columns=columns, plan=plan, services=services, latent_death_day=settled.death_day,
        early_death_first=first == RISK_CODE["early_toxicity"], car_t_gvhd_day=settled.car_t_gvhd_day,
        agvhd_day=np.where(transplanted, settled.agvhd_day, np.nan), cgvhd_day=np.where(transplanted, settled.cgvhd_day, np.nan),
    )
