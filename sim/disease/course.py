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

Between the two, an engine decides the waits with the interaction helpers (:func:`ready_day`,
:func:`pre_hsct_exit_day`, :func:`icu_request_day` and the bed-holding rules), which the
no-queue case (:func:`unqueued_services`, :func:`unqueued_resource_use`) uses too. Waiting
lengthens exposure to the latent times already drawn; it never redraws them (DESIGN.md section 4).

What a new pathway step touches, and nothing else:

- its rule: a pure function of draws and parameters in a rules module (:mod:`sim.disease.cart`,
  :mod:`~sim.disease.transplant`, :mod:`~sim.disease.survival`, :mod:`~sim.disease.care`), with its
  draw named in ``sim.disease.draws.DRAW_NAMES`` and its parameters in ``calibration/parameters.yaml``
  (a parameter that depends on the transplant platform: a field of
  ``sim.inputs.strategies.TransplantParameters``);
- its step function and record in :mod:`sim.disease.steps`, a field of :class:`Plan` here and its
  call in :func:`plan_course`; a new way to die is a named risk in :func:`resolve_course`, and a new
  event day is a column of :func:`resolve_course` or a day of :meth:`Course.log_days`;
- its columns and events: ``sim.simulation.tables`` (event log rows) and ``sim.inputs.codes``
  (column contracts, categories such as ``DEATH_CAUSES``; a new resource in ``RESOURCES``, its
  request and hold in :func:`unqueued_resource_use` and the SimPy engine).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from sim.disease import survival
from sim.disease.draws import PatientDraws
from sim.disease.patients import PatientAttributes
from sim.disease.settlement import RISK_CODE, RISKS, settle
from sim.disease.steps import (
    DEATH_CODE,
    AfterTransplant,
    BeforeInfusion,
    Care,
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
from sim.disease.steps import first_event as first_event  # re-exported for its unit test
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
        return earliest(self.toxicity.early_death_after_infusion, self.toxicity.late_death_after_infusion,
                        self.response.relapse_after_infusion)

    @cached_property
    def post_hsct_death_after_hsct(self) -> np.ndarray:
        """Days from HSCT to death from the transplant (only before a relapse) or from its relapse
        (background and the CAR-T aplasia's infections excluded)."""
        after = self.after_transplant
        relapse = after.relapse_after_hsct
        non_relapse = earliest(after.nrm_after_hsct, self.transplant.graft_failure_death_after_hsct, after.late_effects_death_after_hsct)
        return np.minimum(before_relapse(non_relapse, relapse), relapse + after.survival_after_hsct_relapse)

    def toxicity_death_day(self, infused_day: np.ndarray, hsct_day: np.ndarray) -> np.ndarray:
        """Day of death from the CAR-T aplasia's toxicity or infection of transplanted patients, if it
        comes before a relapse (``inf`` otherwise); days from enrolment."""
        return before_relapse(infused_day + self.toxicity.early_death_after_infusion,
                              hsct_day + self.after_transplant.relapse_after_hsct)

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


def before_relapse(death_day, relapse_day):
    """A non-relapse death counts only before a relapse (after it, death is from the disease): the day,
    or ``inf`` (also for ``NaN``, a death that does not happen; scalars or arrays, same origin)."""
    if isinstance(death_day, np.ndarray) or isinstance(relapse_day, np.ndarray):
        return np.where(death_day < relapse_day, death_day, np.inf)
    return death_day if death_day < relapse_day else math.inf


def ready_day(start_day: np.ndarray | float, slot_days: np.ndarray | float, release_to_infusion_days: np.ndarray | float):
    """Day a patient is ready for infusion (product released, lymphodepletion given), or starts
    chemotherapy, for manufacturing started on ``start_day``. Infusion needs a CAR-T bed as well."""
    return start_day + slot_days + release_to_infusion_days


def pre_hsct_exit_day(infused_day: np.ndarray | float, exit_after_infusion: np.ndarray | float, background_day: np.ndarray | float):
    """Day after which a planned HSCT can no longer happen (relapse, early or background death)."""
    return np.minimum(infused_day + exit_after_infusion, background_day)


def earliest(*days):
    """The earliest of several days, elementwise when the first or last is an array (``min`` for
    plain numbers, much faster for the SimPy engine's one-patient-at-a-time calls)."""
    if isinstance(days[0], np.ndarray) or isinstance(days[-1], np.ndarray):
        return functools.reduce(np.minimum, days)
    return min(days)


def cart_bed_days(stay_days, early_death_after_infusion, background_day, infused_day):
    """Days a CAR-T bed is held from infusion: the stay, cut short by death (scalars or arrays)."""
    return earliest(stay_days, early_death_after_infusion, background_day - infused_day)


def icu_bed_days(stay_days, death_day, admission_day):
    """Days an ICU bed is held from admission: the stay, cut short by death (scalars or arrays)."""
    return earliest(stay_days, death_day - admission_day)


def transplant_bed_days(stay_days, death_after_hsct, background_day, hsct_day, toxicity_death_day):
    """Days a transplant bed is held: the stay, cut short by death from the transplant, background or a
    fatal infection of the CAR-T aplasia (``toxicity_death_day``, days from enrolment) (scalars or arrays)."""
    return earliest(stay_days, death_after_hsct, background_day - hsct_day, toxicity_death_day - hsct_day)


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
    def once(rule, *args):
        """``rule(*args)``, computed once per set of patients and arguments when ``shared`` is given."""
        if shared is None:
            return rule(*args)
        key = (rule.__module__, rule.__qualname__, *(a if isinstance(a, float) else id(a) for a in args))
        if key not in shared:
            shared[key] = rule(*args)
        return shared[key]

    p = params
    source = product_source(strategy, attributes)
    toxicity = plan_toxicity(p, strategy, draws, source, once)
    hsct_interval = planned_hsct_interval(p, strategy, draws)
    response = plan_response(p, strategy, attributes, draws, hsct_interval, once)
    graft = plan_transplant(p, strategy, draws)
    return Plan(
        strategy=strategy, attributes=attributes, cart_source=source,
        before=plan_before_infusion(p, strategy, attributes, draws, source, once),
        toxicity=toxicity,
        response=response,
        decision=plan_transplant_decision(p, strategy, attributes, draws, response, hsct_interval),
        transplant=graft,
        after_transplant=plan_after_transplant(p, strategy, attributes, draws, graft, response, once),
        care=plan_care(p, strategy, draws, toxicity, once),
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
    start = use.start[bed]
    return np.where(start < last_day, np.minimum(use.end[bed], last_day) - start, np.nan)


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
    each patient's requests for the scarce resources (the engine's, or derived when nobody queued).
    """

    columns: dict[str, np.ndarray]
    plan: Plan
    services: Services
    resource_use: ResourceUse
    latent_death_day: np.ndarray
    early_death_first: np.ndarray
    car_t_gvhd_day: np.ndarray
    agvhd_day: np.ndarray
    cgvhd_day: np.ndarray

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

    def wait_columns(self) -> dict[str, np.ndarray]:
        """The patients-table columns on waiting, observed up to each patient's last day.

        Returns
        -------
        dict
            ``wait_<resource>_days`` (days from asking to service, or to leaving the queue, cut at
            the end of follow-up; ``NaN`` if the patient did not ask by then), ``waiting_for`` and
            ``waiting_exit`` (codes into ``WAITING_FOR`` and ``WAITING_EXITS``; 0 unless the patient
            left the pathway from a queue by the end of follow-up).
        """
        use, last_day = self.resource_use, self.columns["last_day"]
        columns = {}
        for resource in RESOURCES:
            request = use.request[resource]
            if use.start[resource] is request:  # served on asking (no queue): a wait of 0 days
                columns[f"wait_{resource}_days"] = np.where(request <= last_day, 0.0, np.nan)
                continue
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
    """What happens when nobody waits: every resource is free the day it is asked for."""
    before = plan.before
    start = np.where(before.request_day < before.exit_day, before.request_day, np.nan)
    t0 = ready_day(start, before.slot_days, before.release_to_infusion_days)
    t0 = np.where(~before.manufacturing_failed & (t0 < before.exit_day), t0, np.nan)
    no_hsct = np.full(t0.shape, np.nan)  # only ICU stays begun before the planned day delay it
    icu = icu_request_day(plan, t0, no_hsct)
    death = infused_death_day(plan.toxicity.early_death_after_infusion, before.background_death_day, plan.post_hsct_death_after_hsct,
                              t0, no_hsct)
    icu_end = icu + icu_bed_days(plan.care.icu_stay_days, death, icu)
    planned = hsct_ready_day(t0 + plan.decision.interval, icu, icu_end)
    exit_day = pre_hsct_exit_day(t0, plan.pre_hsct_exit_after_infusion, before.background_death_day)
    hsct_day = np.where(plan.decision.candidate & (planned < exit_day), planned, np.nan)
    return Services(manufacturing_start=start, infusion_day=t0, hsct_day=hsct_day,
                    icu_wait_death_day=np.full(t0.shape, np.nan))


def icu_request_day(plan: Plan, infused_day: np.ndarray, hsct_day: np.ndarray) -> np.ndarray:
    """Day an infused patient asks for an ICU bed: the first need, if alive (``NaN`` otherwise). A need
    after an early transplant (a severe infection while the aplasia lasts) is met too: the patient goes
    from the transplant ward to intensive care.

    Parameters
    ----------
    plan : Plan
    infused_day, hsct_day : ndarray
        Days from enrolment (``NaN``: not infused, not transplanted).
    """
    need = infused_day + plan.care.icu_need_after_infusion
    death = infused_death_day(plan.toxicity.early_death_after_infusion, plan.before.background_death_day,
                              plan.post_hsct_death_after_hsct, infused_day, np.where(hsct_day <= need, hsct_day, np.nan))
    return np.where(need < death, need, np.nan)


def infused_death_day(early_death_after_infusion, background_day, post_hsct_death_after_hsct, infused_day, hsct_day):
    """Latent day of death of an infused patient from toxicity, background, or the transplant if
    transplanted (``hsct_day`` ``NaN`` when not); relapse deaths excluded (scalars or arrays, days)."""
    after_hsct = hsct_day + post_hsct_death_after_hsct
    if isinstance(after_hsct, np.ndarray):
        after_hsct = np.where(np.isnan(after_hsct), np.inf, after_hsct)
    elif math.isnan(after_hsct):
        after_hsct = math.inf
    return earliest(infused_day + early_death_after_infusion, background_day, after_hsct)


def hsct_ready_day(planned_day, icu_day, icu_end_day):
    """The day a planned transplant can go ahead: not during an ICU stay (nor while waiting for an ICU
    bed) that began on or before the planned day; then it waits for the discharge, with its relapse and
    death risks running on (scalars or arrays; ``NaN`` ICU days: no ICU stay)."""
    during = (icu_day <= planned_day) & (planned_day < icu_end_day)
    if isinstance(during, np.ndarray):
        return np.where(during, icu_end_day, planned_day)
    return icu_end_day if during else planned_day


def unqueued_resource_use(plan: Plan, services: Services) -> ResourceUse:
    """Resource records when nobody waits: each request served on the day it is made."""
    t0, hsct_day, start = services.infusion_day, services.hsct_day, services.manufacturing_start
    never = np.full(t0.shape, np.nan)
    aphereses = np.where(plan.before.needs_slot, start, np.nan)
    cart_bed = t0 if plan.care.needs_cart_bed else never
    icu = icu_request_day(plan, t0, hsct_day)
    requests = {"apheresis": aphereses, "manufacturing": aphereses, "cart_bed": cart_bed, "icu_bed": icu,
                "transplant_bed": hsct_day, "donor_search": never}
    early_death, background_day, care = plan.toxicity.early_death_after_infusion, plan.before.background_death_day, plan.care
    ends = {
        "apheresis": aphereses,
        "manufacturing": aphereses + plan.before.slot_days,
        "cart_bed": cart_bed + cart_bed_days(care.cart_stay_days, early_death, background_day, cart_bed),
        "icu_bed": icu + icu_bed_days(care.icu_stay_days, infused_death_day(early_death, background_day, plan.post_hsct_death_after_hsct,
                                                                            t0, np.where(hsct_day <= icu, hsct_day, np.nan)), icu),
        "transplant_bed": hsct_day + transplant_bed_days(care.hsct_stay_days, plan.post_hsct_death_after_hsct, background_day, hsct_day,
                                                         plan.toxicity_death_day(t0, hsct_day)),
        "donor_search": never,
    }
    none = np.zeros(t0.shape, dtype=np.int8)
    return ResourceUse(request=requests, start=requests, end=ends, left_queue=none, left_reason=none)


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
    toxicity, after = plan.toxicity, plan.after_transplant
    t0, first = services.infusion_day, settled.first
    causes = {
        "refractory_disease": DEATH_CODE["disease"],
        "relapse": DEATH_CODE["disease"],
        "early_toxicity": toxicity.early_death_cause,
        "late_non_relapse": survival.non_relapse_cause(toxicity.late_death_cause_draw, np.zeros(t0.shape, dtype=bool),
                                                       after.nrm_gvhd_share_if_gvhd, after.nrm_infection_share),
        "non_relapse": survival.non_relapse_cause(after.nrm_cause_draw, settled.severe_gvhd, after.nrm_gvhd_share_if_gvhd,
                                                  after.nrm_infection_share),
        "graft_failure": DEATH_CODE["infection"],
        "late_effects": DEATH_CODE["other_nrm"],
        "background": DEATH_CODE["background"],
        "icu_wait": plan.care.icu_cause,
    }
    # The winning risk's cause: looked up where it is one cause, copied where it is per patient.
    cause = np.array([code if isinstance(code, int) else DEATH_CODE["none"] for code in (causes[risk] for risk in RISKS)],
                     dtype=np.int8)[first]
    for risk, code in causes.items():
        if isinstance(code, np.ndarray):
            np.copyto(cause, code, where=first == RISK_CODE[risk])

    use = services.resource_use or unqueued_resource_use(plan, services)
    columns = settled.columns
    died, last_day, transplanted = columns["death"], columns["last_day"], columns["hsct"]
    death_cause = np.where(died, cause, DEATH_CODE["none"]).astype(np.int8)
    columns = {
        **{name: values for name, values in columns.items() if name not in ("last_day", "chimerism", "cart_source")},
        "death_cause": death_cause,
        **{name: columns[name] for name in ("last_day", "chimerism", "cart_source")},
        "cart_stay_days": stay_days(use, "cart_bed", last_day),
        "icu_days": np.nan_to_num(stay_days(use, "icu_bed", last_day), nan=0.0),
        "hsct_stay_days": stay_days(use, "transplant_bed", last_day),
    }
    return Course(
        columns=columns, plan=plan, services=services, resource_use=use, latent_death_day=settled.death_day,
        early_death_first=first == RISK_CODE["early_toxicity"], car_t_gvhd_day=settled.car_t_gvhd_day,
        agvhd_day=np.where(transplanted, settled.agvhd_day, np.nan), cgvhd_day=np.where(transplanted, settled.cgvhd_day, np.nan),
    )
