"""The patient pathway: the clinical rules put in order for one strategy.

The pathway is computed in two steps so that both engines share every line of clinical logic:

1. :func:`plan_course` applies the clinical rules to all patients at once and returns a
   :class:`Plan`: everything that does not depend on waiting (grades, response, latent event
   times measured from infusion or from HSCT).
2. :func:`resolve_course` takes the :class:`Services` an engine decided — the days on which each
   patient actually started manufacturing, was infused and was transplanted, with or without
   queues, and any death while waiting for an ICU bed — and settles what happened: who was
   infused, who died of what and when, censoring at the horizon.

Between the two, an engine decides the waits with the interaction helpers (:func:`ready_day`,
:func:`pre_hsct_exit_day`, :func:`icu_request_day` and the bed-holding rules), which the
no-queue case (:func:`unqueued_services`, :func:`unqueued_resource_use`) uses too. Waiting
lengthens exposure to the latent times already drawn; it never redraws them (DESIGN.md section 4).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.disease import care, cart, survival, transplant
from sim.disease.draws import PatientDraws, weibull_time
from sim.disease.patients import AML, DONOR_DERIVED, UNIVERSAL, PatientAttributes
from sim.inputs.codes import CART_PRODUCTS, DEATH_CAUSES, RESOURCES, WAITING_FOR
from sim.inputs.parameters import ParameterSet
from sim.inputs.strategies import Strategy

HIGH_BLASTS_PERCENT = 20.0  # CAO-BLASTS: threshold for the relapse multiplier
DEATH_CODE = {cause: code for code, cause in enumerate(DEATH_CAUSES)}


@dataclass(frozen=True)
class Plan:
    """Wait-independent course of ``n`` patients under one strategy (arrays of length ``n``).

    Days before infusion count from enrolment; ``*_after_infusion`` from infusion;
    ``*_after_hsct`` from HSCT. ``inf`` marks a latent event that never happens.
    ``cart_source`` is the product the strategy gives each patient (index into
    ``sim.inputs.codes.CART_PRODUCTS``; ``none`` under chemotherapy).
    """

    strategy: Strategy
    attributes: PatientAttributes
    cart_source: np.ndarray
    # before infusion (days from enrolment)
    needs_slot: np.ndarray
    request_day: np.ndarray
    slot_days: np.ndarray
    release_to_infusion_days: np.ndarray
    manufacturing_failed: np.ndarray
    dropout_day: np.ndarray
    background_death_day: np.ndarray
    # after infusion (days from infusion)
    crs_grade: np.ndarray
    crs_onset_after_infusion: float
    icans_grade: np.ndarray
    icans_onset_after_infusion: float
    severe_infection: np.ndarray
    infection_after_infusion: np.ndarray
    early_death_after_infusion: np.ndarray
    early_death_cause: np.ndarray
    response_after_infusion: np.ndarray
    response_code: np.ndarray
    cd7_negative_escape: np.ndarray
    relapse_pre_after_infusion: np.ndarray
    relapse_pre_cd7_negative: np.ndarray
    hsct_candidate: np.ndarray
    hsct_interval: np.ndarray
    car_t_gvhd: np.ndarray
    car_t_gvhd_after_infusion: float
    survival_with_refractory_disease: np.ndarray
    survival_after_relapse: np.ndarray
    # hospital care after infusion (days from infusion; capacity planning)
    cart_stay_days: np.ndarray
    icu_need_after_infusion: np.ndarray
    icu_cause: np.ndarray
    icu_stay_days: float
    icu_wait_death_after_request: np.ndarray
    # after HSCT (days from HSCT)
    chimerism: np.ndarray
    agvhd_grade: np.ndarray
    agvhd_after_hsct: float
    cgvhd: np.ndarray
    cgvhd_after_hsct: float
    nrm_after_hsct: np.ndarray
    nrm_cause_draw: np.ndarray
    graft_failure_death_after_hsct: np.ndarray
    relapse_post_after_hsct: np.ndarray
    relapse_post_cd7_negative: np.ndarray
    hsct_stay_days: float
    nrm_gvhd_share_if_gvhd: float
    nrm_infection_share: float

    @cached_property
    def pre_infusion_exit_day(self) -> np.ndarray:
        """Day the patient leaves the path to infusion (drop-out or background death)."""
        return np.minimum(self.dropout_day, self.background_death_day)

    @cached_property
    def pre_hsct_exit_after_infusion(self) -> np.ndarray:
        """Days after infusion at which the patient can no longer be transplanted
        (early death, relapse while waiting); background death is added by :func:`pre_hsct_exit_day`."""
        return np.minimum(self.early_death_after_infusion, self.relapse_pre_after_infusion)

    @cached_property
    def needs_cart_bed(self) -> bool:
        """Whether the index treatment is given on a CAR-T ward (every CAR-T strategy)."""
        return self.strategy.index_therapy == "cart"

    @cached_property
    def post_hsct_death_after_hsct(self) -> np.ndarray:
        """Days from HSCT to death from the transplant or its relapse (background excluded)."""
        return np.minimum(
            np.minimum(self.nrm_after_hsct, self.graft_failure_death_after_hsct),
            self.relapse_post_after_hsct + self.survival_after_relapse,
        )


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


def transplant_bed_days(stay_days, death_after_hsct, background_day, hsct_day):
    """Days a transplant bed is held: the stay, cut short by death (scalars or arrays)."""
    return earliest(stay_days, death_after_hsct, background_day - hsct_day)


def first_event(candidates: list[tuple[np.ndarray, np.ndarray | int]]) -> tuple[np.ndarray, np.ndarray]:
    """The earliest of competing latent times, and the label of the one that came first.

    Parameters
    ----------
    candidates : list of (days, label)
        Latent days (``inf`` or NaN = never) and their label (an int, or an int array per patient);
        on ties the earlier candidate in the list wins.

    Returns
    -------
    days, label : ndarray
        ``inf`` and the first label where nothing happens.
    """
    days = np.full(candidates[0][0].shape, np.inf)
    label = np.zeros(days.shape, dtype=np.int8)
    for candidate, code in candidates:
        earlier = candidate < days
        days = np.where(earlier, candidate, days)
        label = np.where(earlier, np.int8(code) if np.isscalar(code) else code.astype(np.int8), label)
    return days, label


def product_source(strategy: Strategy, attributes: PatientAttributes) -> np.ndarray:
    """The CAR-T product each patient gets under ``strategy``.

    Returns
    -------
    ndarray of int8
        Index into ``sim.inputs.codes.CART_PRODUCTS``: the patient's source from the case mix when the
        strategy's ``cart_source`` is ``case_mix``, the strategy's source otherwise, ``none`` under
        chemotherapy.
    """
    if strategy.index_therapy != "cart":
        return np.full(attributes.n, CART_PRODUCTS.index("none"), dtype=np.int8)
    if strategy.cart_source == "case_mix":
        return attributes.cart_source
    return np.full(attributes.n, CART_PRODUCTS.index(strategy.cart_source), dtype=np.int8)


def plan_course(
    params: ParameterSet,
    strategy: Strategy,
    attributes: PatientAttributes,
    draws: PatientDraws,
    shared: dict[tuple, np.ndarray] | None = None,
) -> Plan:
    """Apply every clinical rule of ``strategy`` to all patients at once.

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
    p = params

    def once(rule, *args):
        """``rule(*args)``, computed once per set of patients and arguments when ``shared`` is given."""
        if shared is None:
            return rule(*args)
        key = (rule.__module__, rule.__qualname__, *(a if isinstance(a, float) else id(a) for a in args))
        if key not in shared:
            shared[key] = rule(*args)
        return shared[key]

    n = attributes.n
    uses_cart = strategy.index_therapy == "cart"
    has_hsct = strategy.hsct_platform != "none"
    source = product_source(strategy, attributes)
    universal = source == UNIVERSAL
    needs_slot = np.full(n, uses_cart) & ~universal

    if uses_cart:
        request_day = np.where(universal, p["universal_product_days"], p["apheresis_delay_days"])
        manufacturing = once(cart.manufacturing_days, draws.normal("u_manufacturing_time"), p["manufacturing_days"],
                         p["manufacturing_days_sigma"])
        slot_days = np.where(needs_slot, manufacturing, 0.0)
        release_to_infusion = np.full(n, p["lymphodepletion_days"])
        failed = needs_slot & cart.manufacturing_failed(draws["u_manufacturing_failure"], p["manufacturing_failure"])
    else:
        request_day = np.full(n, p["chemo_start_days"])
        slot_days = np.zeros(n)
        release_to_infusion = np.zeros(n)
        failed = np.zeros(n, dtype=bool)

    crs = once(cart.crs_grade, draws["u_crs_grade"], p["crs_any"], p["crs_grade3plus_given_any"], p["crs_grade2_given_mild"],
                         p["crs_grade4plus_given_3plus"], p["crs_grade5_given_4plus"])
    icans = once(cart.icans_grade, draws["u_icans_grade"], p["icans_any"], p["icans_grade3plus_given_any"], p["icans_grade5_given_3plus"])
    if not uses_cart:
        crs, icans = np.zeros(n, np.int8), np.zeros(n, np.int8)
    infected, infection_day, infection_fatal = cart.severe_infection(
        draws["u_infection"], draws["u_infection_death"], draws["u_infection_time"],
        p["severe_infection_cart" if uses_cart else "severe_infection_chemo"], p["infection_death_given_severe"],
        p["aplasia_window_days"],
    )
    early_death, early_cause = first_event([
        (np.where(crs == 5, p["crs_death_days"], np.inf), DEATH_CODE["crs"]),
        (np.where(icans == 5, p["icans_death_days"], np.inf), DEATH_CODE["icans"]),
        (np.where(infection_fatal, infection_day, np.inf), DEATH_CODE["infection"]),
    ])

    if uses_cart:
        p_cr = np.where(attributes.disease == AML, p["cr_cart_aml"], p["cr_cart_tcell"])
        escape_share, p_mrd_neg = p["cd7_negative_share_of_nonresponse"], p["mrd_negative_given_cr"]
        relapse_cd7_share = p["cd7_negative_share_of_relapse_after_cart"]
    else:
        p_cr = p["cr_chemo"] * np.where(attributes.primary_refractory, p["cr_chemo_primary_refractory_multiplier"], 1.0)
        escape_share, p_mrd_neg = 0.0, p["mrd_negative_given_cr_chemo"]
        relapse_cd7_share = p["cd7_negative_share_of_relapse_after_chemo"]
    multiplier = strategy.cd7_negative_multiplier
    code, escape = cart.response(draws["u_response"], draws["u_mrd"], p_cr, escape_share, multiplier, p_mrd_neg)

    interval_median = strategy.hsct_interval_days or (p[strategy.interval_parameter] if has_hsct else np.inf)
    interval = (transplant.hsct_interval_days(draws.normal("u_hsct_interval"), interval_median, p["hsct_interval_sigma"])
                if has_hsct else np.full(n, np.inf))
    response_after = np.minimum(p["response_assessment_days"], interval)
    in_cr = code != cart.RESPONSE_NONE

    pre_positive, pre_negative = survival.split_by_cd7(p["relapse_no_consolidation"], relapse_cd7_share, multiplier)
    relapse_pre_days, relapse_pre_negative = survival.relapse(
        draws["u_relapse_pre"], draws["u_relapse_pre_time"], pre_positive, pre_negative,
        p["relapse_no_consolidation_median_days"], p["relapse_time_shape"],
    )
    default_uptake = p[f"hsct_uptake_{strategy.parameter_suffix}"] if has_hsct else 0.0
    uptake = strategy.hsct_uptake if strategy.hsct_uptake is not None else default_uptake
    candidate = has_hsct & transplant.hsct_candidate(
        in_cr, attributes.donor_available, attributes.prior_hsct, draws["u_hsct_fit"], p["fit_after_prior_hsct"],
        draws["u_hsct_uptake"], uptake,
    )

    icu_need, icu_cause = first_event([
        (np.where(crs >= care.SEVERE_GRADE, p["crs_onset_days"], np.inf), DEATH_CODE["crs"]),
        (np.where(icans >= care.SEVERE_GRADE, p["icans_onset_days"], np.inf), DEATH_CODE["icans"]),
        (np.where(infected, infection_day, np.inf), DEATH_CODE["infection"]),
    ])
    post = _post_hsct(p, strategy, attributes, draws, relapse_cd7_share) if has_hsct else _no_hsct(n)
    return Plan(
        strategy=strategy, attributes=attributes, cart_source=source,
        needs_slot=needs_slot, request_day=request_day, slot_days=slot_days,
        release_to_infusion_days=release_to_infusion, manufacturing_failed=failed,
        dropout_day=once(survival.dropout_day, draws["u_dropout"], p["dropout_60d"]),
        background_death_day=once(
            survival.background_death_day, draws["u_background"], attributes.age, p["background_gompertz_rate_at_40"],
            p["background_gompertz_slope"]),
        crs_grade=crs, crs_onset_after_infusion=p["crs_onset_days"],
        icans_grade=icans, icans_onset_after_infusion=p["icans_onset_days"],
        severe_infection=infected, infection_after_infusion=infection_day,
        early_death_after_infusion=early_death, early_death_cause=early_cause,
        response_after_infusion=response_after, response_code=code, cd7_negative_escape=escape,
        relapse_pre_after_infusion=response_after + relapse_pre_days, relapse_pre_cd7_negative=relapse_pre_negative,
        hsct_candidate=candidate, hsct_interval=interval,
        car_t_gvhd=uses_cart & transplant.car_t_gvhd(draws["u_cart_gvhd"], p["cart_gvhd_donor_derived"], source == DONOR_DERIVED),
        car_t_gvhd_after_infusion=p["cart_gvhd_onset_days"],
        survival_with_refractory_disease=once(survival.survival_with_disease, draws.normal("u_refractory"),
                                              p["post_relapse_median_days"], p["post_relapse_sigma"]),
        survival_after_relapse=once(survival.survival_with_disease, draws.normal("u_post_relapse"),
                                    p["post_relapse_median_days"], p["post_relapse_sigma"]),
        cart_stay_days=care.cart_stay_days(crs, icans, p["cart_stay_days"], p["cart_stay_extra_days_per_grade"]),
        icu_need_after_infusion=icu_need, icu_cause=icu_cause, icu_stay_days=p["icu_stay_days"],
        icu_wait_death_after_request=once(care.icu_wait_death_days, draws["u_icu_wait_death"], p["icu_wait_death_hazard_per_day"]),
        hsct_stay_days=p["hsct_stay_days"],
        nrm_gvhd_share_if_gvhd=p["nrm_gvhd_share_if_gvhd"], nrm_infection_share=p["nrm_infection_share"],
        agvhd_after_hsct=p["agvhd_onset_days"], cgvhd_after_hsct=p["cgvhd_onset_days"],
        **post,
    )


def _no_hsct(n: int) -> dict[str, np.ndarray]:
    never = np.full(n, np.inf)
    return dict(
        chimerism=np.zeros(n, np.int8), agvhd_grade=np.zeros(n, np.int8), cgvhd=np.zeros(n, bool),
        nrm_after_hsct=never, nrm_cause_draw=np.zeros(n), graft_failure_death_after_hsct=never,
        relapse_post_after_hsct=never, relapse_post_cd7_negative=np.zeros(n, bool),
    )


def _post_hsct(p: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws,
               relapse_cd7_share: float) -> dict[str, np.ndarray]:
    """Transplant outcomes measured from the day of HSCT."""
    platform, suffix = strategy.hsct_platform, strategy.parameter_suffix
    chimerism_key = "haplo" if platform == "haplo_no_prophylaxis" else "conventional"
    chim = transplant.chimerism(draws["u_chimerism"], p[f"autologous_recovery_{chimerism_key}"], p[f"graft_failure_{chimerism_key}"])
    full_donor = chim == transplant.CHIMERISM_FULL_DONOR
    agvhd = transplant.acute_gvhd_grade(
        draws["u_agvhd_grade"], p[f"agvhd2plus_{platform}"], p[f"agvhd3plus_given_2plus_{platform}"],
        p["agvhd_grade1_given_below2"], p["agvhd_grade4_given_3plus"],
    )
    cgvhd = transplant.chronic_gvhd(draws["u_cgvhd"], p[f"cgvhd_{platform}"])
    graft_failure_fatal = (chim == transplant.CHIMERISM_GRAFT_FAILURE) & (draws["u_graft_failure_death"] < p["graft_failure_mortality"])

    high_blasts = attributes.marrow_blasts > HIGH_BLASTS_PERCENT
    p_relapse_graft = np.minimum(p[f"relapse_{suffix}"] * np.where(high_blasts, p["relapse_high_blasts_multiplier"], 1.0), 1.0)
    p_relapse = np.where(full_donor, p_relapse_graft, p["relapse_no_consolidation"])
    positive, negative = survival.split_by_cd7(p_relapse, relapse_cd7_share, strategy.cd7_negative_multiplier)
    relapse_days, relapse_negative = survival.relapse(
        draws["u_relapse_post"], draws["u_relapse_post_time"], positive, negative, p["relapse_post_hsct_median_days"], 1.0,
    )
    without_graft_time = weibull_time(draws["u_relapse_post_time"], p["relapse_no_consolidation_median_days"], p["relapse_time_shape"])
    relapse_days = np.where(full_donor | np.isinf(relapse_days), relapse_days, without_graft_time)
    return dict(
        chimerism=chim,
        agvhd_grade=np.where(full_donor, agvhd, 0).astype(np.int8),
        cgvhd=full_donor & cgvhd,
        nrm_after_hsct=survival.non_relapse_death(draws["u_nrm"], draws["u_nrm_time"], p[f"nrm_{suffix}"], p["nrm_median_days"]),
        nrm_cause_draw=draws["u_nrm_cause"],
        graft_failure_death_after_hsct=np.where(graft_failure_fatal, p["graft_failure_death_days"], np.inf),
        relapse_post_after_hsct=relapse_days, relapse_post_cd7_negative=relapse_negative,
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
            icu_admission, icu_discharge, cart_ward_discharge, transplant_discharge`` (days) and
            ``infection_fatal`` (bool). Apheresis is dated on the appointment the engine granted,
            which is later than the request when appointments are scarce; admissions and discharges
            are those of the patients-table hospital days (no discharge from a stay ended by death).
        """
        plan, c = self.plan, self.columns
        last_day, t0, infused = c["last_day"], c["infusion_day"], c["infused"]
        release_day = self.services.manufacturing_start + plan.slot_days
        failed_in_time = plan.manufacturing_failed & (release_day < plan.pre_infusion_exit_day)
        infection_day = t0 + plan.infection_after_infusion
        return {
            "apheresis": _observed(self.resource_use.start["apheresis"], last_day),
            "manufacturing_start": _observed(np.where(plan.needs_slot, self.services.manufacturing_start, np.nan), last_day),
            "product_release": _observed(np.where(plan.needs_slot, release_day, np.nan), last_day),
            "dropout": _observed(np.where(~infused & ~failed_in_time & (plan.dropout_day <= plan.background_death_day),
                                          plan.dropout_day, np.nan), last_day),
            "crs": _observed(np.where(c["crs_grade"] > 0, t0 + plan.crs_onset_after_infusion, np.nan), last_day),
            "icans": _observed(np.where(c["icans_grade"] > 0, t0 + plan.icans_onset_after_infusion, np.nan), last_day),
            "severe_infection": _observed(np.where(infused & plan.severe_infection & (infection_day <= self.latent_death_day)
                                                   & ~(infection_day > c["hsct_day"]), infection_day, np.nan), last_day),
            "infection_fatal": (c["death_cause"] == DEATH_CODE["infection"]) & self.early_death_first,
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
            waited_until = np.where(np.isnan(use.start[resource]), use.end[resource], use.start[resource])
            columns[f"wait_{resource}_days"] = np.where(request <= last_day, np.minimum(waited_until, last_day) - request, np.nan)
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
    start = np.where(plan.request_day < plan.pre_infusion_exit_day, plan.request_day, np.nan)
    t0 = ready_day(start, plan.slot_days, plan.release_to_infusion_days)
    t0 = np.where(~plan.manufacturing_failed & (t0 < plan.pre_infusion_exit_day), t0, np.nan)
    planned = t0 + plan.hsct_interval
    exit_day = pre_hsct_exit_day(t0, plan.pre_hsct_exit_after_infusion, plan.background_death_day)
    hsct_day = np.where(plan.hsct_candidate & (planned < exit_day), planned, np.nan)
    return Services(manufacturing_start=start, infusion_day=t0, hsct_day=hsct_day,
                    icu_wait_death_day=np.full(t0.shape, np.nan))


def icu_request_day(plan: Plan, infused_day: np.ndarray, hsct_day: np.ndarray) -> np.ndarray:
    """Day an infused patient asks for an ICU bed: the first need, if alive and not yet transplanted
    (``NaN`` otherwise)."""
    need = infused_day + plan.icu_need_after_infusion
    alive = need < np.minimum(infused_day + plan.early_death_after_infusion, plan.background_death_day)
    return np.where(alive & ~(hsct_day <= need), need, np.nan)


def unqueued_resource_use(plan: Plan, services: Services) -> ResourceUse:
    """Resource records when nobody waits: each request served on the day it is made."""
    t0, hsct_day, start = services.infusion_day, services.hsct_day, services.manufacturing_start
    never = np.full(t0.shape, np.nan)
    aphereses = np.where(plan.needs_slot, start, np.nan)
    cart_bed = t0 if plan.needs_cart_bed else never
    icu = icu_request_day(plan, t0, hsct_day)
    requests = {"apheresis": aphereses, "manufacturing": aphereses, "cart_bed": cart_bed, "icu_bed": icu,
                "transplant_bed": hsct_day, "donor_search": never}
    ends = {
        "apheresis": aphereses,
        "manufacturing": aphereses + plan.slot_days,
        "cart_bed": cart_bed + cart_bed_days(plan.cart_stay_days, plan.early_death_after_infusion, plan.background_death_day, cart_bed),
        "icu_bed": icu + icu_bed_days(plan.icu_stay_days, np.minimum(t0 + plan.early_death_after_infusion, plan.background_death_day), icu),
        "transplant_bed": hsct_day + transplant_bed_days(plan.hsct_stay_days, plan.post_hsct_death_after_hsct,
                                                         plan.background_death_day, hsct_day),
        "donor_search": never,
    }
    none = np.zeros(t0.shape, dtype=np.int8)
    return ResourceUse(request=requests, start=requests, end=ends, left_queue=none, left_reason=none)


def resolve_course(plan: Plan, services: Services, horizon_days: float) -> Course:
    """Settle each patient's course given what the engine decided.

    Parameters
    ----------
    plan : Plan
        The wait-independent course.
    services : Services
        When manufacturing started, infusion and HSCT happened, and deaths while waiting for an
        ICU bed (days from enrolment, ``NaN`` where they did not happen).
    horizon_days : float
        End of follow-up from enrolment; later events are censored.
    """
    release_day = services.manufacturing_start + plan.slot_days
    t0 = services.infusion_day
    infused = ~np.isnan(t0)
    hsct_day = services.hsct_day
    transplanted = ~np.isnan(hsct_day)

    assessed = infused & (plan.early_death_after_infusion > plan.response_after_infusion) & (
        plan.background_death_day > t0 + plan.response_after_infusion) & ~(services.icu_wait_death_day <= t0 + plan.response_after_infusion)
    response_code = np.where(assessed, plan.response_code, cart.RESPONSE_NOT_ASSESSED).astype(np.int8)
    response_day = np.where(assessed, t0 + plan.response_after_infusion, np.nan)
    in_cr = assessed & (plan.response_code != cart.RESPONSE_NONE)
    no_response = assessed & (plan.response_code == cart.RESPONSE_NONE)

    # Progression before infusion: manufacturing failure (at release) or drop-out.
    failed_in_time = plan.manufacturing_failed & (release_day < plan.pre_infusion_exit_day)
    progression_day = np.where(~infused, np.where(failed_in_time, release_day, plan.dropout_day), np.nan)
    progression_day = np.where(no_response, response_day, progression_day)

    relapse_day = np.where(transplanted, hsct_day + plan.relapse_post_after_hsct,
                           np.where(in_cr, t0 + plan.relapse_pre_after_infusion, np.inf))
    relapse_negative = np.where(transplanted, plan.relapse_post_cd7_negative, plan.relapse_pre_cd7_negative)

    death_day, first = first_event([
        (progression_day + plan.survival_with_refractory_disease, 0),
        (relapse_day + plan.survival_after_relapse, 1),
        (np.where(transplanted, np.nan, t0 + plan.early_death_after_infusion), 2),
        (hsct_day + plan.nrm_after_hsct, 3),
        (hsct_day + plan.graft_failure_death_after_hsct, 4),
        (plan.background_death_day, 5),
        (services.icu_wait_death_day, 6),
    ])

    agvhd_day = np.where(transplanted & (plan.agvhd_grade > 0) & (hsct_day + plan.agvhd_after_hsct < death_day),
                         hsct_day + plan.agvhd_after_hsct, np.nan)
    cgvhd_day = np.where(transplanted & plan.cgvhd & (hsct_day + plan.cgvhd_after_hsct < death_day),
                         hsct_day + plan.cgvhd_after_hsct, np.nan)
    severe_gvhd = ((plan.agvhd_grade >= 3) & (agvhd_day < death_day)) | (cgvhd_day < death_day)
    nrm_code = survival.non_relapse_cause(plan.nrm_cause_draw, severe_gvhd, plan.nrm_gvhd_share_if_gvhd, plan.nrm_infection_share)
    cause = np.array([DEATH_CODE[c] for c in ("disease", "disease", "none", "none", "infection", "background", "none")],
                     dtype=np.int8)[first]
    np.copyto(cause, plan.early_death_cause, where=first == 2)
    np.copyto(cause, nrm_code, where=first == 3)
    np.copyto(cause, plan.icu_cause, where=first == 6)

    died = death_day <= horizon_days
    last_day = np.where(died, death_day, horizon_days)
    use = services.resource_use or unqueued_resource_use(plan, services)

    def observed(day: np.ndarray) -> np.ndarray:
        return _observed(day, last_day)

    relapse_day = observed(np.where(relapse_day < death_day, relapse_day, np.nan))
    hsct_day = observed(hsct_day)
    transplanted = ~np.isnan(hsct_day)
    car_t_gvhd_day = observed(np.where(infused & plan.car_t_gvhd & (t0 + plan.car_t_gvhd_after_infusion < death_day),
                                       t0 + plan.car_t_gvhd_after_infusion, np.nan))
    agvhd_day, cgvhd_day = observed(agvhd_day), observed(cgvhd_day)
    agvhd_grade = np.maximum(np.where(transplanted & ~np.isnan(agvhd_day), plan.agvhd_grade, 0),
                             np.where(np.isnan(car_t_gvhd_day), 0, 2)).astype(np.int8)
    crs_grade = np.where(infused, plan.crs_grade, 0).astype(np.int8)
    icans_grade = np.where(infused, plan.icans_grade, 0).astype(np.int8)

    columns = {
        "infused": infused,
        "infusion_day": t0,
        "crs_grade": crs_grade,
        "icans_grade": icans_grade,
        "response": response_code,
        "response_day": response_day,
        "hsct": transplanted,
        "hsct_day": hsct_day,
        "agvhd_grade": agvhd_grade,
        "cgvhd": ~np.isnan(cgvhd_day),
        "relapse": ~np.isnan(relapse_day),
        "relapse_day": relapse_day,
        "relapse_cd7_negative": ~np.isnan(relapse_day) & relapse_negative,
        "death": died,
        "death_day": np.where(died, death_day, np.nan),
        "death_cause": np.where(died, cause, DEATH_CODE["none"]).astype(np.int8),
        "last_day": last_day,
        "chimerism": np.where(transplanted, plan.chimerism, len(transplant.CHIMERISM_LABELS)).astype(np.int8),
        "cart_source": plan.cart_source,
        "cart_stay_days": stay_days(use, "cart_bed", last_day),
        "icu_days": np.nan_to_num(stay_days(use, "icu_bed", last_day), nan=0.0),
        "hsct_stay_days": stay_days(use, "transplant_bed", last_day),
    }
    return Course(
        columns=columns, plan=plan, services=services, resource_use=use, latent_death_day=death_day,
        early_death_first=first == 2, car_t_gvhd_day=car_t_gvhd_day,
        agvhd_day=np.where(transplanted, agvhd_day, np.nan), cgvhd_day=np.where(transplanted, cgvhd_day, np.nan),
    )
