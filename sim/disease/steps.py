"""The steps of the patient pathway (DESIGN.md section 3), one function and one record each.

Each step applies its clinical rules (:mod:`sim.disease.cart`, :mod:`sim.disease.transplant`,
:mod:`sim.disease.survival`, :mod:`sim.disease.care`) to all patients and returns a frozen record of
numpy arrays (one value per patient) or of constants: what the step decided, before any waiting.
:func:`sim.disease.course.plan_course` calls them in order and composes the records into a
:class:`sim.disease.course.Plan`. A step's rules for one patient, in pathway order, are one compiled function
(``<step>_patient``: numbers in, numbers out), and the step takes the patients through it one after another in
one compiled pass (a numba kernel ``_<step>_patients`` writing into the record's arrays); the same functions are
inlined into :mod:`sim.disease.one_pass`, which takes each patient through all the steps at once. What a step
reads besides the patients' own arrays — its parameter values, and the arrays numpy computes — is gathered by one
function (``<step>_inputs``) for both. The rules are compiled scalar functions, most of them ufuncs too. The rules
that use numpy's exp and log (the LogNormal manufacturing time and HSCT interval, the drop-out median, background
death, the Weibull scores of the draws) stay numpy computations whose arrays the kernels take: the compiled
functions differ from numpy's in the last bit.

=======================  ================================  ===========================
step                     function                          record
=======================  ================================  ===========================
before infusion (1-2)    :func:`plan_before_infusion`      :class:`BeforeInfusion`
toxicity (3-5)           :func:`plan_toxicity`             :class:`Toxicity`
response (6, 9-10)       :func:`plan_response`             :class:`Response`
transplant decision (7)  :func:`plan_transplant_decision`  :class:`TransplantDecision`
transplant (8)           :func:`plan_transplant`           :class:`Transplant`
after transplant (9)     :func:`plan_after_transplant`     :class:`AfterTransplant`
hospital care            :func:`plan_care`                 :class:`Care`
=======================  ================================  ===========================

Competing latent times are taken in their order of precedence on ties: :func:`earlier` keeps the first
of an event so far and a candidate, with the code of its cause (``DEATH_CODE``).

The steps with costly rules that do not depend on the strategy (before infusion, after transplant,
hospital care) take ``once``, which computes such a rule once per set of patients when
:func:`sim.disease.course.plan_course` is given a memo (by default it just calls the rule).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numba import njit

from sim.disease import care, cart, survival, timing, transplant
from sim.disease.draws import PatientDraws, weibull_scale
from sim.disease.patients import AML, AUTOLOGOUS, DONOR_DERIVED, UNIVERSAL, PatientAttributes
from sim.inputs.codes import CART_PRODUCTS, DEATH_CAUSES
from sim.inputs.parameters import ParameterSet
from sim.inputs.strategies import Strategy

HIGH_BLASTS_PERCENT = 20.0  # CAO-BLASTS: threshold for the relapse multiplier
ADULT_AGE_YEARS, OLDER_AGE_YEARS = 18.0, 46.0
"""Age bands of the transplant NRM hazard ratios (HSCT-LATE-BMTSS: under 18, 18-45, 46 and over), years."""
DEATH_CODE = {cause: code for code, cause in enumerate(DEATH_CAUSES)}
"""Code of each death cause of ``sim.inputs.codes.DEATH_CAUSES``."""

Once = Callable[..., Any]
"""``once(rule, *args)``: ``rule(*args)``, possibly remembered for the same patients and arguments."""


def _floats(values: tuple[Any, ...]) -> tuple[float, ...]:
    """A step's parameter values as the tuple of floats its compiled pass takes (one type, whatever the values came as)."""
    return tuple(float(value) for value in values)


def _call(rule: Callable[..., Any], *args: Any) -> Any:
    """``rule(*args)``: the default ``once`` (nothing remembered)."""
    return rule(*args)


_CRS, _ICANS, _INFECTION = DEATH_CODE["crs"], DEATH_CODE["icans"], DEATH_CODE["infection"]
"""The codes of the early deaths and of the ICU needs (toxicity and infection)."""


@njit(cache=True, error_model="numpy")
def earlier(day: float, code: int, candidate_day: float, candidate_code: int) -> tuple[float, int]:
    """The first of an event so far (``day``, ``code``) and a competing candidate: the candidate only if
    strictly earlier (on a tie the event so far wins; a ``NaN`` or ``inf`` candidate never comes)."""
    return (candidate_day, candidate_code) if candidate_day < day else (day, code)


def product_source(strategy: Strategy, attributes: PatientAttributes) -> np.ndarray:
    """The CAR-T product each patient gets under ``strategy``.

    A donor-derived product needs a donor: a patient without one gets an autologous product instead
    (assumption: the usual alternative when no related donor can give cells; Hu's donor-derived
    products came from the haploidentical transplant donor, HU-DOSE).

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
        wanted = attributes.cart_source
    else:
        wanted = np.full(attributes.n, CART_PRODUCTS.index(strategy.cart_source), dtype=np.int8)
    return np.where((wanted == DONOR_DERIVED) & ~attributes.donor_available, AUTOLOGOUS, wanted).astype(np.int8)


# --- 1-2. before infusion -------------------------------------------------------------------


@dataclass(frozen=True)
class BeforeInfusion:
    """From enrolment to infusion (or chemotherapy start); days from enrolment.

    Attributes
    ----------
    needs_slot : ndarray of bool
        The product is manufactured for the patient (apheresis and a manufacturing slot).
    request_day : ndarray
        Day of asking for apheresis (or of the universal product's or chemotherapy's availability).
    slot_days : ndarray
        Days a manufacturing slot is held (0 without manufacturing).
    release_to_infusion_days : ndarray
        Days from product release to readiness for infusion (lymphodepletion).
    manufacturing_failed : ndarray of bool
        The product fails at release.
    dropout_day, background_death_day : ndarray
        Latent days of progression or death before infusion, and of background death.
    """

    needs_slot: np.ndarray
    request_day: np.ndarray
    slot_days: np.ndarray
    release_to_infusion_days: np.ndarray
    manufacturing_failed: np.ndarray
    dropout_day: np.ndarray
    background_death_day: np.ndarray

    @cached_property
    def exit_day(self) -> np.ndarray:
        """Day the patient leaves the path to infusion (drop-out or background death)."""
        return np.minimum(self.dropout_day, self.background_death_day)


def plan_before_infusion(
    p: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws, source: np.ndarray,
    once: Once = _call,
) -> BeforeInfusion:
    """Apheresis and manufacturing (duration, failure), and the competing times before infusion.

    Parameters
    ----------
    p : ParameterSet
        Parameter values.
    strategy : Strategy
        The strategy followed.
    attributes : PatientAttributes
        The patients.
    draws : PatientDraws
        Their uniform draws.
    source : ndarray of int8
        The product each patient gets (:func:`product_source`).
    once : callable
        Computes the rules that do not depend on the strategy (see the module docstring).
    """
    n = attributes.n
    uses_cart = strategy.index_therapy == "cart"
    (manufacturing, u_failure), values, dropout_day, background_death_day = before_infusion_inputs(p, strategy, attributes, draws, once)
    out = (np.empty(n, bool), np.empty(n), np.empty(n), np.empty(n), np.empty(n, bool))
    _before_infusion_patients((source, manufacturing, u_failure), values, uses_cart, out)
    needs_slot, request_day, slot_days, release_to_infusion, failed = out
    return BeforeInfusion(
        needs_slot=needs_slot, request_day=request_day, slot_days=slot_days, release_to_infusion_days=release_to_infusion,
        manufacturing_failed=failed, dropout_day=dropout_day, background_death_day=background_death_day,
    )


def before_infusion_inputs(
    p: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws, once: Once = _call,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[float, ...], np.ndarray, np.ndarray]:
    """What the before-infusion step reads besides the product: the manufacturing days and failure draws of each
    patient, the parameter values of :func:`before_infusion_patient`, and the latent drop-out and background death days
    (days from enrolment). The manufacturing time and the competing exits use numpy's exp and log: computed as
    arrays, once (parameters as for :func:`plan_before_infusion`)."""
    uses_cart = strategy.index_therapy == "cart"
    manufacturing = (once(cart.manufacturing_days, draws.normal("u_manufacturing_time"), p["manufacturing_days"],
                          p["manufacturing_days_sigma"]) if uses_cart else np.zeros(attributes.n))
    values = (p["universal_product_days"], p["apheresis_delay_days"], p["lymphodepletion_days"], p["chemo_start_days"],
              p["manufacturing_failure"])
    return (
        (manufacturing, draws["u_manufacturing_failure"]), _floats(values),
        once(survival.dropout_day, draws.exponential_time_scores("u_dropout"), p["dropout_60d"]),
        once(survival.background_death_day, draws.exponential("u_background"), attributes.age, p["background_gompertz_rate_at_40"],
             p["background_gompertz_slope"]),
    )


@njit(cache=True, error_model="numpy", inline="always")
def before_infusion_patient(source, manufacturing_days, u_failure, values, uses_cart):
    """Apheresis, manufacturing and the way to infusion of one patient (:func:`plan_before_infusion`): whether a slot
    is needed, the request day, the slot's days, the days from release to infusion, and whether manufacturing fails.

    ``values`` are the parameter values in the order :func:`before_infusion_values` gives them.
    """
    universal_days, apheresis_days, lymphodepletion_days, chemo_start_days, p_failure = values
    universal = source == UNIVERSAL
    needs_slot = uses_cart and not universal  # apheresis and a manufacturing slot
    if uses_cart:  # a universal product is available off the shelf
        request, release = (universal_days if universal else apheresis_days), lymphodepletion_days
    else:
        request, release = chemo_start_days, 0.0
    return (needs_slot, request, manufacturing_days if needs_slot else 0.0, release,
            needs_slot and cart.manufacturing_failed(u_failure, p_failure))


@njit(cache=True, error_model="numpy")
def _before_infusion_patients(patients, values, uses_cart, out):
    """:func:`before_infusion_patient` of one patient after another (:func:`plan_before_infusion`).

    ``patients`` are the per-patient arrays in the order :func:`plan_before_infusion` builds them; ``out`` receives
    the flags and days of :class:`BeforeInfusion`.
    """
    source, manufacturing_days, u_failure = patients
    needs_slot_out, request_out, slot_out, release_out, failed_out = out
    for i in range(source.shape[0]):
        needs_slot_out[i], request_out[i], slot_out[i], release_out[i], failed_out[i] = before_infusion_patient(
            source[i], manufacturing_days[i], u_failure[i], values, uses_cart)


# --- 3-5. toxicity --------------------------------------------------------------------------


@dataclass(frozen=True)
class Toxicity:
    """CRS, ICANS, CAR-T GVHD and infection during aplasia; days from infusion.

    Attributes
    ----------
    crs_grade, icans_grade : ndarray of int8
        Grades 0-5 (0 under chemotherapy).
    crs_onset_after_infusion, icans_onset_after_infusion : float
        Onset days.
    severe_infection : ndarray of bool
    infection_after_infusion : ndarray
        Day of the severe infection (defined for everyone).
    early_death_after_infusion : ndarray
        Latent day of death from toxicity or infection (``inf``: none).
    early_death_cause : ndarray of int8
        Its cause (``DEATH_CODE`` of ``crs``, ``icans`` or ``infection``).
    car_t_gvhd : ndarray of bool
        Acute GVHD from a donor-derived product, before any transplant.
    car_t_gvhd_after_infusion : float
        Its onset day.
    late_death_after_infusion : ndarray
        Latent day of a non-relapse death after day 30 without transplant (prolonged cytopenia, late
        infection; ``inf``: none); a transplant before it cancels it.
    late_death_cause_draw : ndarray
        The uniform draw that picks its cause (:func:`survival.non_relapse_cause`, without GVHD).
    """

    crs_grade: np.ndarray
    crs_onset_after_infusion: float
    icans_grade: np.ndarray
    icans_onset_after_infusion: float
    severe_infection: np.ndarray
    infection_after_infusion: np.ndarray
    early_death_after_infusion: np.ndarray
    early_death_cause: np.ndarray
    car_t_gvhd: np.ndarray
    car_t_gvhd_after_infusion: float
    late_death_after_infusion: np.ndarray
    late_death_cause_draw: np.ndarray


LATE_NRM_FROM_DAYS = 30.0
"""Days from the index treatment after which a non-relapse death without transplant counts as late.
Assumption: the end of the first month, the base-case aplasia window (``aplasia_window_days`` 30 d, range
21-45 d, SVC-NEUT) after which the early infection rule stops; the issue's "after day 30". A series of
non-transplanted CD7 CAR-T recipients with dated late deaths would settle it."""


def plan_toxicity(p: ParameterSet, strategy: Strategy, draws: PatientDraws, source: np.ndarray) -> Toxicity:
    """CRS and ICANS grades (none under chemotherapy), severe infection, early death (the first of fatal
    CRS, fatal ICANS and fatal infection), CAR-T GVHD and the late non-relapse death without transplant
    (parameters as for :func:`plan_before_infusion`)."""
    n = source.shape[0]
    uses_cart = strategy.index_therapy == "cart"
    own, values = toxicity_inputs(p, strategy, draws)
    out = (np.empty(n, np.int8), np.empty(n, np.int8), np.empty(n, bool), np.empty(n), np.empty(n), np.empty(n, np.int8),
           np.empty(n, bool), np.empty(n))
    _toxicity_patients((*own, source), values, uses_cart, out)
    crs, icans, infected, infection_day, early_death, early_cause, car_t_gvhd, late_death = out
    return Toxicity(
        crs_grade=crs, crs_onset_after_infusion=p["crs_onset_days"],
        icans_grade=icans, icans_onset_after_infusion=p["icans_onset_days"],
        severe_infection=infected, infection_after_infusion=infection_day,
        early_death_after_infusion=early_death, early_death_cause=early_cause,
        car_t_gvhd=car_t_gvhd, car_t_gvhd_after_infusion=p["cart_gvhd_onset_days"],
        late_death_after_infusion=late_death, late_death_cause_draw=draws["u_nrm_cause"],
    )


def toxicity_inputs(p: ParameterSet, strategy: Strategy, draws: PatientDraws) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
    """The draws of each patient that :func:`toxicity_patient` reads, and its parameter values, in its order
    (parameters as for :func:`plan_toxicity`)."""
    uses_cart = strategy.index_therapy == "cart"
    own = (
        draws["u_crs_grade"], draws["u_icans_grade"], draws["u_infection"], draws["u_infection_death"], draws["u_infection_time"],
        draws["u_cart_gvhd"], draws["u_late_nrm"], draws["u_late_nrm_time"],
    )
    values = (
        p["crs_any"], p["crs_grade3plus_given_any"], p["crs_grade2_given_mild"], p["crs_grade4plus_given_3plus"],
        p["crs_grade5_given_4plus"],
        p["icans_any"], p["icans_grade3plus_given_any"], p["icans_grade5_given_3plus"],
        p["severe_infection_cart" if uses_cart else "severe_infection_chemo"], p["infection_death_given_severe"], p["aplasia_window_days"],
        p["crs_death_days"], p["icans_death_days"], p["cart_gvhd_donor_derived"],
        p["late_nrm_no_hsct"], LATE_NRM_FROM_DAYS, p["late_nrm_no_hsct_median_days"],
    )
    return own, _floats(values)


FATAL_GRADE = 5
"""The CRS or ICANS grade that kills."""


@njit(cache=True, error_model="numpy", inline="always")
def toxicity_patient(u_crs, u_icans, u_infection, u_infection_death, u_infection_time, u_cart_gvhd, u_late, u_late_time, source,
                     values, uses_cart):
    """Toxicity, infection and the deaths they bring for one patient (:func:`plan_toxicity`): the CRS and ICANS grades,
    severe infection and its day, the early death day and cause, CAR-T GVHD, and the late non-relapse death day.

    ``values`` are the parameter values in the order :func:`toxicity_inputs` gives them.
    """
    (crs_any, crs_3plus, crs_2_given_mild, crs_4plus_given_3plus, crs_5_given_4plus, icans_any, icans_3plus, icans_5_given_3plus,
     p_infection, p_infection_death, window_days, crs_death_days, icans_death_days, p_cart_gvhd, p_late, late_from_days,
     late_median) = values
    crs = icans = np.int8(0)  # no CAR-T toxicity under chemotherapy
    if uses_cart:
        crs = cart.crs_grade(u_crs, crs_any, crs_3plus, crs_2_given_mild, crs_4plus_given_3plus, crs_5_given_4plus)
        icans = cart.icans_grade(u_icans, icans_any, icans_3plus, icans_5_given_3plus)
    infected = cart.severe_infection(u_infection, p_infection)
    day = cart.infection_day(u_infection_time, window_days)
    # early death: the first of fatal CRS, fatal ICANS and fatal infection (in that order on ties)
    early, cause = earlier(math.inf, 0, crs_death_days if crs == FATAL_GRADE else math.inf, _CRS)
    early, cause = earlier(early, cause, icans_death_days if icans == FATAL_GRADE else math.inf, _ICANS)
    early, cause = earlier(early, cause, day if cart.fatal_infection(infected, u_infection_death, p_infection_death) else math.inf,
                           _INFECTION)
    gvhd = uses_cart and transplant.car_t_gvhd(u_cart_gvhd, p_cart_gvhd, source == DONOR_DERIVED)
    return (crs, icans, infected, day, early, cause, gvhd,
            survival.late_non_relapse_death(u_late, u_late_time, p_late, late_from_days, late_median))


@njit(cache=True, error_model="numpy")
def _toxicity_patients(patients, values, uses_cart, out):
    """:func:`toxicity_patient` of one patient after another (:func:`plan_toxicity`).

    ``patients`` are the per-patient arrays in the order :func:`plan_toxicity` builds them; ``out`` receives the
    grades, days, causes and flags of :class:`Toxicity`.
    """
    u_crs, u_icans, u_infection, u_infection_death, u_infection_time, u_cart_gvhd, u_late, u_late_time, source = patients
    crs_out, icans_out, infected_out, infection_out, early_out, cause_out, gvhd_out, late_out = out
    for i in range(source.shape[0]):
        (crs_out[i], icans_out[i], infected_out[i], infection_out[i], early_out[i], cause_out[i], gvhd_out[i],
         late_out[i]) = toxicity_patient(u_crs[i], u_icans[i], u_infection[i], u_infection_death[i], u_infection_time[i],
                                         u_cart_gvhd[i], u_late[i], u_late_time[i], source[i], values, uses_cart)


# --- 6, 9-10. response, relapse without transplant, survival with disease -------------------


@dataclass(frozen=True)
class Response:
    """Response at assessment, relapse from remission without transplant, and survival with disease.

    Attributes
    ----------
    response_after_infusion : ndarray
        Day of the assessment: day 28, or the planned HSCT if earlier.
    response_code : ndarray of int8
        ``cart.RESPONSE_CR_MRD_NEG``, ``RESPONSE_CR_MRD_POS`` or ``RESPONSE_NONE``.
    cd7_negative_escape : ndarray of bool
        Non-response through CD7-negative escape.
    relapse_after_infusion : ndarray
        Latent day of relapse from remission without transplant (``inf``: never).
    relapse_cd7_negative : ndarray of bool
        That relapse is CD7-negative.
    relapse_cd7_share : float
        Share of relapses that are CD7-negative after this index therapy (before the strategy's multiplier).
    relapse_probability : ndarray
        Probability of relapse from this remission without a graft (MRD-positive CRs raised by the
        hazard ratio), used again after HSCT without a full-donor graft.
    relapse_median_days : float
        Median days from the assessment to that relapse.
    survival_with_refractory_disease : ndarray
        Days from primary non-response, drop-out or manufacturing failure to death from disease.
    survival_after_relapse : ndarray
        Days from a relapse without transplant to death from disease.
    survival_after_hsct_relapse : ndarray
        Days from a relapse after HSCT to death from disease.
    """

    response_after_infusion: np.ndarray
    response_code: np.ndarray
    cd7_negative_escape: np.ndarray
    relapse_after_infusion: np.ndarray
    relapse_cd7_negative: np.ndarray
    relapse_cd7_share: float
    relapse_probability: np.ndarray
    relapse_median_days: float
    survival_with_refractory_disease: np.ndarray
    survival_after_relapse: np.ndarray
    survival_after_hsct_relapse: np.ndarray


def plan_response(
    p: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws, hsct_interval: np.ndarray,
) -> Response:
    """Response (CR rates by index therapy and disease), relapse from remission counted from the
    assessment, and survival with disease.

    Parameters
    ----------
    hsct_interval : ndarray
        Planned days from infusion to HSCT (:func:`planned_hsct_interval`): an earlier transplant
        brings the assessment forward.

    Other parameters are as for :func:`plan_before_infusion`.
    """
    uses_cart = strategy.index_therapy == "cart"
    own, values = response_inputs(p, strategy, draws)
    _, relapse_median, relapse_cd7_share = relapse_without_transplant(p, uses_cart)
    n = attributes.n
    out = (np.empty(n), np.empty(n, np.int8), np.empty(n, bool), np.empty(n), np.empty(n, bool), np.empty(n), np.empty(n), np.empty(n),
           np.empty(n))
    _response_patients((attributes.disease, attributes.primary_refractory, hsct_interval, *own), values, uses_cart, out)
    (response_after, code, escape, relapse_after, relapse_negative, p_relapse, refractory_survival, relapse_survival,
     hsct_relapse_survival) = out
    return Response(
        response_after_infusion=response_after, response_code=code, cd7_negative_escape=escape,
        relapse_after_infusion=relapse_after, relapse_cd7_negative=relapse_negative,
        relapse_cd7_share=relapse_cd7_share, relapse_probability=p_relapse, relapse_median_days=relapse_median,
        survival_with_refractory_disease=refractory_survival, survival_after_relapse=relapse_survival,
        survival_after_hsct_relapse=hsct_relapse_survival,
    )


def relapse_without_transplant(p: ParameterSet, uses_cart: bool) -> tuple[float, float, float]:
    """The probability of a relapse from an MRD-negative remission without transplant, the median days from the response
    assessment to it, and the share of such relapses that are CD7-negative (before the strategy's multiplier), after
    CAR-T (``uses_cart``) or chemotherapy."""
    if uses_cart:
        return (p["relapse_no_consolidation"], p["relapse_no_consolidation_median_days"],
                p["cd7_negative_share_of_relapse_after_cart"])
    return p["relapse_after_chemo_no_hsct"], p["relapse_after_chemo_no_hsct_median_days"], p["cd7_negative_share_of_relapse_after_chemo"]


def response_inputs(p: ParameterSet, strategy: Strategy, draws: PatientDraws) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
    """The draws and Weibull scores of each patient that :func:`response_patient` reads, and its parameter values, in
    its order (parameters as for :func:`plan_response`)."""
    uses_cart = strategy.index_therapy == "cart"
    escape_share, p_mrd_neg = ((p["cd7_negative_share_of_nonresponse"], p["mrd_negative_given_cr"]) if uses_cart
                               else (0.0, p["mrd_negative_given_cr_chemo"]))
    p_relapse_mrd_negative, relapse_median, relapse_cd7_share = relapse_without_transplant(p, uses_cart)
    shape, relapse_shape = p["disease_survival_shape"], p["relapse_time_shape"]
    own = (
        draws["u_response"], draws["u_mrd"], draws["u_relapse_pre"], draws.weibull("u_relapse_pre_time", relapse_shape),
        draws.weibull("u_refractory", shape), draws.weibull("u_post_relapse", shape),
    )
    values = (
        p["cr_cart_aml"], p["cr_cart_tcell"], p["cr_chemo"], p["cr_chemo_primary_refractory_multiplier"], escape_share,
        strategy.cd7_negative_multiplier, p_mrd_neg, strategy.prevented_escape_to_cd7_positive, p["response_assessment_days"],
        p_relapse_mrd_negative, survival.with_hazard_ratio(p_relapse_mrd_negative, p["relapse_mrd_positive_hr"]), relapse_cd7_share,
        weibull_scale(relapse_median, relapse_shape), weibull_scale(p["refractory_survival_median_days"], shape),
        weibull_scale(p["post_relapse_median_days"], shape), weibull_scale(p["post_hsct_relapse_median_days"], shape),
    )
    return own, _floats(values)


@njit(cache=True, error_model="numpy", inline="always")
def response_patient(disease, primary_refractory, hsct_interval, u_response, u_mrd, u_relapse, w_relapse, w_refractory, w_post_relapse,
                     values, uses_cart):
    """Response, relapse from remission and survival with disease of one patient (:func:`plan_response`): the
    assessment day, the response code, CD7-negative escape, the relapse day and whether it is CD7-negative, the
    relapse probability, and survival with refractory disease, after a relapse and after a relapse after HSCT.

    ``values`` are the parameter values in the order :func:`response_inputs` gives them.
    """
    (cr_cart_aml, cr_cart_tcell, cr_chemo, cr_chemo_refractory_multiplier, escape_share, multiplier, p_mrd_negative, to_positive,
     assessment_days, p_relapse_mrd_negative, p_relapse_mrd_positive, relapse_cd7_share, relapse_scale, refractory_scale,
     post_relapse_scale, post_hsct_relapse_scale) = values
    if uses_cart:  # the CR rate by disease
        p_cr = cr_cart_aml if disease == AML else cr_cart_tcell
    else:  # the CR rate of chemotherapy, lower in primary refractory disease
        p_cr = cr_chemo * (cr_chemo_refractory_multiplier if primary_refractory else 1.0)
    code = cart.response(u_response, u_mrd, p_cr, escape_share, multiplier, p_mrd_negative, to_positive)
    escape = cart.cd7_negative_escape(u_response, p_cr, escape_share, multiplier, to_positive)
    assessed = timing.minimum(assessment_days, hsct_interval)
    # relapse from remission without transplant, counted from the assessment
    p_relapse = p_relapse_mrd_positive if code == cart.RESPONSE_CR_MRD_POS else p_relapse_mrd_negative
    positive, negative = survival.split_by_cd7(p_relapse, relapse_cd7_share, multiplier, to_positive)
    # survival with disease: refractory, after a relapse without, and after a relapse after transplant
    return (assessed, code, escape, assessed + survival.relapse_day(u_relapse, w_relapse, positive, negative, relapse_scale),
            survival.relapses_cd7_negative(u_relapse, positive, negative), p_relapse, refractory_scale * w_refractory,
            post_relapse_scale * w_post_relapse, post_hsct_relapse_scale * w_post_relapse)


@njit(cache=True, error_model="numpy")
def _response_patients(patients, values, uses_cart, out):
    """:func:`response_patient` of one patient after another (:func:`plan_response`).

    ``patients`` are the per-patient arrays in the order :func:`plan_response` builds them; ``out`` receives the
    days, codes, flags and probabilities of :class:`Response`.
    """
    disease, primary_refractory, hsct_interval, u_response, u_mrd, u_relapse, w_relapse, w_refractory, w_post_relapse = patients
    (response_out, code_out, escape_out, relapse_out, negative_out, probability_out, refractory_out, post_relapse_out,
     post_hsct_relapse_out) = out
    for i in range(disease.shape[0]):
        (response_out[i], code_out[i], escape_out[i], relapse_out[i], negative_out[i], probability_out[i], refractory_out[i],
         post_relapse_out[i], post_hsct_relapse_out[i]) = response_patient(
            disease[i], primary_refractory[i], hsct_interval[i], u_response[i], u_mrd[i], u_relapse[i], w_relapse[i],
            w_refractory[i], w_post_relapse[i], values, uses_cart)


# --- 7. transplant decision -----------------------------------------------------------------


@dataclass(frozen=True)
class TransplantDecision:
    """Who is planned for HSCT, and when.

    Attributes
    ----------
    candidate : ndarray of bool
        Eligible (in CR, donor, fit) and taking up transplant; being alive and in remission on the
        day is checked when the course is resolved.
    interval : ndarray
        Planned days from infusion (or chemotherapy start) to HSCT (``inf`` without transplant).
    """

    candidate: np.ndarray
    interval: np.ndarray


def planned_hsct_interval(p: ParameterSet, strategy: Strategy, draws: PatientDraws) -> np.ndarray:
    """Planned days from infusion to HSCT around the strategy's median (its own, or the platform's
    parameter); ``inf`` for a strategy without transplant."""
    if strategy.hsct_platform == "none":
        return np.full(draws.n_patients, np.inf)
    median = strategy.hsct_interval_days or p[strategy.transplant_parameters.interval_days]
    return transplant.hsct_interval_days(draws.normal("u_hsct_interval"), median, p["hsct_interval_sigma"])


def plan_transplant_decision(
    p: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws, response: Response,
    hsct_interval: np.ndarray,
) -> TransplantDecision:
    """Eligibility (in CR, or in MRD-positive CR for an MRD-guided strategy; donor; fit after a prior
    HSCT) and uptake (the strategy's, or the platform's parameter), with the planned interval
    (:func:`planned_hsct_interval`)."""
    if strategy.hsct_platform == "none":
        return TransplantDecision(candidate=np.zeros(attributes.n, dtype=bool), interval=hsct_interval)
    own, values = decision_inputs(p, strategy, draws)
    candidate = _candidate_patients((response.response_code, attributes.donor_available, attributes.prior_hsct, *own), values)
    return TransplantDecision(candidate=candidate, interval=hsct_interval)


def decision_inputs(p: ParameterSet, strategy: Strategy, draws: PatientDraws) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
    """The draws of each patient that :func:`candidate_patient` reads, and its values: whether every CR is offered
    transplant (1; 0: MRD-positive CRs only), the probability of being fit after a prior HSCT, and the uptake
    (parameters as for :func:`plan_transplant_decision`, a strategy with a transplant platform)."""
    uptake = strategy.hsct_uptake if strategy.hsct_uptake is not None else p[strategy.transplant_parameters.uptake]
    return (draws["u_hsct_fit"], draws["u_hsct_uptake"]), _floats((strategy.hsct_for == "all_in_cr", p["fit_after_prior_hsct"], uptake))


@njit(cache=True, error_model="numpy", inline="always")
def candidate_patient(response_code, donor_available, prior_hsct, u_fit, u_uptake, values):
    """:func:`transplant.hsct_candidate` of one patient, offered transplant in CR (or in MRD-positive CR for an
    MRD-guided strategy); ``values`` as :func:`decision_inputs` gives them."""
    all_in_cr, p_fit_after_prior_hsct, p_uptake = values
    offered = response_code != cart.RESPONSE_NONE if all_in_cr else response_code == cart.RESPONSE_CR_MRD_POS
    return transplant.hsct_candidate(offered, donor_available, prior_hsct, u_fit, p_fit_after_prior_hsct, u_uptake, p_uptake)


@njit(cache=True, error_model="numpy")
def _candidate_patients(patients, values):
    """:func:`candidate_patient` of one patient after another (:func:`plan_transplant_decision`)."""
    response_code, donor_available, prior_hsct, u_fit, u_uptake = patients
    candidate = np.empty(response_code.shape[0], dtype=np.bool_)
    for i in range(response_code.shape[0]):
        candidate[i] = candidate_patient(response_code[i], donor_available[i], prior_hsct[i], u_fit[i], u_uptake[i], values)
    return candidate


# --- 8. transplant --------------------------------------------------------------------------


@dataclass(frozen=True)
class Transplant:
    """Engraftment and GVHD, should the patient be transplanted; days from HSCT.

    Attributes
    ----------
    chimerism : ndarray of int8
        ``transplant.CHIMERISM_FULL_DONOR``, ``CHIMERISM_AUTOLOGOUS`` or ``CHIMERISM_GRAFT_FAILURE``.
    graft_failure_death_after_hsct : ndarray
        Latent day of death from graft failure (``inf``: none).
    agvhd_grade : ndarray of int8
        Acute GVHD grade 0-4 (0 without a full-donor graft).
    agvhd_after_hsct : float
        Its onset day.
    cgvhd : ndarray of bool
        Chronic GVHD (full-donor graft only).
    cgvhd_after_hsct : float
        Its onset day.
    """

    chimerism: np.ndarray
    graft_failure_death_after_hsct: np.ndarray
    agvhd_grade: np.ndarray
    agvhd_after_hsct: float
    cgvhd: np.ndarray
    cgvhd_after_hsct: float


def plan_transplant(p: ParameterSet, strategy: Strategy, draws: PatientDraws) -> Transplant:
    """Chimerism (and death from graft failure), acute and chronic GVHD under the strategy's platform;
    nothing for a strategy without transplant (parameters as for :func:`plan_before_infusion`)."""
    n = draws.n_patients
    if strategy.hsct_platform == "none":
        return Transplant(chimerism=np.zeros(n, np.int8), graft_failure_death_after_hsct=np.full(n, np.inf),
                          agvhd_grade=np.zeros(n, np.int8), agvhd_after_hsct=p["agvhd_onset_days"],
                          cgvhd=np.zeros(n, bool), cgvhd_after_hsct=p["cgvhd_onset_days"])
    own, values = transplant_inputs(p, strategy, draws)
    out = (np.empty(n, np.int8), np.empty(n), np.empty(n, np.int8), np.empty(n, bool))
    _transplant_patients(own, values, out)
    chimerism, graft_failure_death, agvhd, cgvhd = out
    return Transplant(
        chimerism=chimerism, graft_failure_death_after_hsct=graft_failure_death,
        agvhd_grade=agvhd, agvhd_after_hsct=p["agvhd_onset_days"], cgvhd=cgvhd, cgvhd_after_hsct=p["cgvhd_onset_days"],
    )


def transplant_inputs(p: ParameterSet, strategy: Strategy, draws: PatientDraws) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
    """The draws of each patient that :func:`transplant_patient` reads, and its parameter values, in its order
    (parameters as for :func:`plan_transplant`, a strategy with a transplant platform)."""
    names = strategy.transplant_parameters
    own = (draws["u_chimerism"], draws["u_graft_failure_death"], draws["u_agvhd_grade"], draws["u_cgvhd"])
    values = (
        p[names.autologous_recovery], p[names.graft_failure], p["graft_failure_mortality"], p["graft_failure_death_days"],
        p[names.agvhd2plus], p[names.agvhd3plus_given_2plus], p["agvhd_grade1_given_below2"], p["agvhd_grade4_given_3plus"], p[names.cgvhd],
    )
    return own, _floats(values)


@njit(cache=True, error_model="numpy", inline="always")
def transplant_patient(u_chimerism, u_graft_failure_death, u_agvhd, u_cgvhd, values):
    """Engraftment, death from graft failure and GVHD of one patient, should they be transplanted (:func:`plan_transplant`):
    the chimerism code, the day of death from graft failure, the acute GVHD grade and chronic GVHD.

    ``values`` are the parameter values in the order :func:`transplant_inputs` gives them.
    """
    (p_autologous, p_graft_failure, graft_failure_mortality, graft_failure_death_days, p_agvhd2plus, p_agvhd3plus_given_2plus,
     p_agvhd1_given_below2, p_agvhd4_given_3plus, p_cgvhd) = values
    chimerism = transplant.chimerism(u_chimerism, p_autologous, p_graft_failure)
    fatal_failure = chimerism == transplant.CHIMERISM_GRAFT_FAILURE and u_graft_failure_death < graft_failure_mortality
    # GVHD needs the donor's graft
    full_donor = chimerism == transplant.CHIMERISM_FULL_DONOR
    agvhd = transplant.acute_gvhd_grade(u_agvhd, p_agvhd2plus, p_agvhd3plus_given_2plus, p_agvhd1_given_below2,
                                        p_agvhd4_given_3plus) if full_donor else 0
    cgvhd = full_donor and transplant.chronic_gvhd(u_cgvhd, p_cgvhd)
    return chimerism, graft_failure_death_days if fatal_failure else math.inf, agvhd, cgvhd


@njit(cache=True, error_model="numpy")
def _transplant_patients(patients, values, out):
    """:func:`transplant_patient` of one patient after another (:func:`plan_transplant`); ``out`` receives the codes,
    days, grades and flags of :class:`Transplant`."""
    u_chimerism, u_graft_failure_death, u_agvhd, u_cgvhd = patients
    chimerism_out, graft_failure_out, agvhd_out, cgvhd_out = out
    for i in range(u_chimerism.shape[0]):
        chimerism_out[i], graft_failure_out[i], agvhd_out[i], cgvhd_out[i] = transplant_patient(
            u_chimerism[i], u_graft_failure_death[i], u_agvhd[i], u_cgvhd[i], values)


# --- 9. after transplant --------------------------------------------------------------------


@dataclass(frozen=True)
class AfterTransplant:
    """Relapse and non-relapse death after HSCT, as competing latent times; days from HSCT.

    Attributes
    ----------
    nrm_after_hsct : ndarray
        Latent day of non-relapse death (``inf``: never).
    nrm_cause_draw : ndarray
        The uniform draw that picks its cause (:func:`survival.non_relapse_cause`).
    nrm_gvhd_share_if_gvhd, nrm_infection_share : float
        Shares of non-relapse deaths from GVHD (with severe GVHD) and from infection.
    relapse_after_hsct : ndarray
        Latent day of relapse (``inf``: never).
    relapse_cd7_negative : ndarray of bool
        That relapse is CD7-negative.
    late_effects_death_after_hsct : ndarray
        Latent day of a late non-relapse death from the excess mortality of transplant survivors, from
        2 years after HSCT (``inf``: none).
    salvage_response : ndarray of bool
        A relapse after HSCT would respond to the strategy's salvage treatment (never without one).
    survival_after_hsct_relapse : ndarray
        Days from a relapse after HSCT to death from disease, with the salvage response.
    """

    nrm_after_hsct: np.ndarray
    nrm_cause_draw: np.ndarray
    nrm_gvhd_share_if_gvhd: float
    nrm_infection_share: float
    relapse_after_hsct: np.ndarray
    relapse_cd7_negative: np.ndarray
    late_effects_death_after_hsct: np.ndarray
    salvage_response: np.ndarray
    survival_after_hsct_relapse: np.ndarray


def plan_after_transplant(
    p: ParameterSet, strategy: Strategy, attributes: PatientAttributes, draws: PatientDraws, graft: Transplant,
    response: Response, decision: TransplantDecision, once: Once = _call,
) -> AfterTransplant:
    """Relapse after HSCT, non-relapse death and the late effects of transplant.

    Relapse: with a full-donor graft, the platform's rate (for an MRD-negative CR), raised by high
    marrow blasts and, for an MRD-positive CR, by the MRD hazard ratio, at the post-HSCT timing, with
    the platform's CD7-negative share; without one (autologous recovery, graft failure), the rate and
    timing of the remission without transplant. Non-relapse death: the platform's rate for ages 18-45,
    by the age hazard ratios. Late effects: :func:`survival.late_effects_death_days`, with the chronic
    GVHD multiplier, for the transplant candidates (``inf`` for the others, who are never transplanted).
    Salvage: the strategy's treatment of a relapse after HSCT and whether it works.

    Parameters
    ----------
    graft : Transplant
        Its chimerism decides the relapse risk; chronic GVHD raises the late mortality.
    response : Response
        The MRD status, and the relapse of the remission without a graft.
    decision : TransplantDecision
        Who may be transplanted (the late effects of the others are never needed).

    Other parameters are as for :func:`plan_before_infusion`.
    """
    n = attributes.n
    shares = {"nrm_gvhd_share_if_gvhd": p["nrm_gvhd_share_if_gvhd"], "nrm_infection_share": p["nrm_infection_share"]}
    if strategy.hsct_platform == "none":
        never = np.full(n, np.inf)
        return AfterTransplant(nrm_after_hsct=never, nrm_cause_draw=np.zeros(n), relapse_after_hsct=never,
                               relapse_cd7_negative=np.zeros(n, bool), late_effects_death_after_hsct=never,
                               salvage_response=np.zeros(n, bool), survival_after_hsct_relapse=response.survival_after_hsct_relapse,
                               **shares)
    own, values = after_transplant_inputs(p, strategy, draws, response.relapse_cd7_share, response.relapse_median_days, once)
    out = (np.empty(n), np.empty(n), np.empty(n, dtype=bool), np.empty(n, dtype=bool), np.empty(n))
    _after_transplant_patients((attributes.marrow_blasts, attributes.age, response.response_code, response.relapse_probability,
                                graft.chimerism, response.survival_after_hsct_relapse, *own), values,
                               survival.SALVAGE_CODE[strategy.salvage_after_hsct_relapse], out)
    nrm, relapse_days, relapse_cd7_negative, salvage, survival_after_relapse = out
    # late effects, raised by chronic GVHD, for those who may be transplanted (a multiplier of 0: never)
    late_effects_scores, late_values, tables = late_effects_inputs(p, draws, once)
    late_effects = np.empty(n)
    survival.late_effects_days_into(late_effects_scores, attributes.age,
                                    np.where(decision.candidate, np.where(graft.cgvhd, late_values[0], 1.0), 0.0),
                                    late_values[1], late_values[2], tables, late_effects)
    return AfterTransplant(
        nrm_after_hsct=nrm, nrm_cause_draw=draws["u_nrm_cause"], relapse_after_hsct=relapse_days,
        relapse_cd7_negative=relapse_cd7_negative, late_effects_death_after_hsct=late_effects, salvage_response=salvage,
        survival_after_hsct_relapse=survival_after_relapse, **shares,
    )


def after_transplant_inputs(p: ParameterSet, strategy: Strategy, draws: PatientDraws, relapse_cd7_share: float,
                            relapse_median_days: float, once: Once = _call) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
    """The draws, Weibull scores and survival with a salvaged relapse of each patient that
    :func:`after_transplant_patient` reads, and its parameter values, in its order (parameters as for
    :func:`plan_after_transplant`, a strategy with a transplant platform; ``relapse_cd7_share`` and
    ``relapse_median_days``: the remission's own relapse without a graft, :func:`relapse_without_transplant`)."""
    names = strategy.transplant_parameters
    salvaged: np.ndarray = once(survival.survival_with_disease, draws.weibull("u_post_relapse", p["disease_survival_shape"]),
                                p["salvage_response_survival_median_days"], p["disease_survival_shape"])
    own = (draws["u_relapse_post"], draws.weibull("u_relapse_post_time", 1.0),
           draws.weibull("u_relapse_post_time", p["relapse_time_shape"]), draws["u_nrm"], draws["u_nrm_time"], draws["u_salvage"],
           salvaged)
    p_nrm, rr_child, rr_older = p[names.nrm], p["nrm_age_rr_child"], p["nrm_age_rr_older"]
    values = (
        p[names.relapse], p["relapse_high_blasts_multiplier"], p["relapse_mrd_positive_hr"], p[names.relapse_cd7_negative_share],
        relapse_cd7_share, strategy.cd7_negative_multiplier, strategy.prevented_escape_to_cd7_positive,
        weibull_scale(p["relapse_post_hsct_median_days"], 1.0), weibull_scale(relapse_median_days, p["relapse_time_shape"]),
        # the non-relapse mortality of each age band (under 18, 18-45, 46 and over), by its hazard ratio
        survival.with_hazard_ratio(p_nrm, rr_child), survival.with_hazard_ratio(p_nrm, 1.0), survival.with_hazard_ratio(p_nrm, rr_older),
        p["nrm_median_days"], p["salvage_dli_response"], p["salvage_second_cart_response"],
    )
    return own, _floats(values)


def late_effects_inputs(p: ParameterSet, draws: PatientDraws, once: Once = _call,
                        ) -> tuple[np.ndarray, tuple[float, float, float], tuple[np.ndarray, ...]]:
    """The scores of the draws of the late effects of transplant (``-log(1 - u)``,
    :meth:`PatientDraws.exponential_time_scores`), the chronic GVHD multiplier with the background hazard at 40 (per
    year) and its slope, and the tables of :func:`survival.late_effects_tables`."""
    tables = once(survival.late_effects_tables, p["late_relative_mortality_2y"], p["late_relative_mortality_15y"],
                  p["background_gompertz_slope"])
    values = _floats((p["late_mortality_cgvhd_rr"], p["background_gompertz_rate_at_40"], p["background_gompertz_slope"]))
    return draws.exponential_time_scores("u_late_effects"), (values[0], values[1], values[2]), tables


@njit(cache=True, error_model="numpy", inline="always")
def after_transplant_patient(blasts, age, response_code, own_relapse_probability, chimerism, relapse_survival, u_relapse, w_graft,
                             w_own, u_nrm, u_nrm_time, u_salvage, salvaged_survival, values, salvage_code):
    """Relapse, non-relapse death and salvage of one patient after HSCT (:func:`plan_after_transplant`): the non-relapse
    death day, the relapse day and whether it is CD7-negative, whether salvage works, and survival after that relapse.

    ``values`` are the parameter values in the order :func:`after_transplant_inputs` gives them.
    """
    (p_relapse, high_blasts_multiplier, mrd_positive_hr, graft_cd7_share, own_cd7_share, multiplier, to_positive,
     graft_scale, own_scale, p_nrm_child, p_nrm_adult, p_nrm_older, nrm_median, p_dli, p_second_cart) = values
    if chimerism == transplant.CHIMERISM_FULL_DONOR:  # the platform's relapse risk, at the post-HSCT timing
        p_graft = min(p_relapse * (high_blasts_multiplier if blasts > HIGH_BLASTS_PERCENT else 1.0), 1.0)
        if response_code == cart.RESPONSE_CR_MRD_POS:
            p_graft = survival.with_hazard_ratio(p_graft, mrd_positive_hr)
        positive, negative = survival.split_by_cd7(p_graft, graft_cd7_share, multiplier, to_positive)
        w, scale = w_graft, graft_scale
    else:  # no donor graft: the remission's own relapse risk and timing
        positive, negative = survival.split_by_cd7(own_relapse_probability, own_cd7_share, multiplier, to_positive)
        w, scale = w_own, own_scale
    cd7_negative = survival.relapses_cd7_negative(u_relapse, positive, negative)
    salvage = survival.salvage_works(u_salvage, cd7_negative, salvage_code, p_dli, p_second_cart)
    p_nrm_age = p_nrm_child if age < ADULT_AGE_YEARS else p_nrm_older if age >= OLDER_AGE_YEARS else p_nrm_adult
    return (survival.non_relapse_death(u_nrm, u_nrm_time, p_nrm_age, nrm_median),
            survival.relapse_day(u_relapse, w, positive, negative, scale), cd7_negative, salvage,
            salvaged_survival if salvage else relapse_survival)


@njit(cache=True, error_model="numpy")
def _after_transplant_patients(patients, values, salvage_code, out):
    """:func:`after_transplant_patient` of one patient after another (:func:`plan_after_transplant`).

    ``patients`` are the per-patient arrays in the order :func:`plan_after_transplant` builds them; ``out`` receives
    the days and flags of :class:`AfterTransplant` but the late effects.
    """
    (blasts, age, response_code, own_relapse_probability, chimerism, relapse_survival, u_relapse, w_graft, w_own, u_nrm, u_nrm_time,
     u_salvage, salvaged_survival) = patients
    nrm_out, relapse_out, negative_out, salvage_out, survival_out = out
    for i in range(age.shape[0]):
        nrm_out[i], relapse_out[i], negative_out[i], salvage_out[i], survival_out[i] = after_transplant_patient(
            blasts[i], age[i], response_code[i], own_relapse_probability[i], chimerism[i], relapse_survival[i], u_relapse[i],
            w_graft[i], w_own[i], u_nrm[i], u_nrm_time[i], u_salvage[i], salvaged_survival[i], values, salvage_code)


# --- hospital care --------------------------------------------------------------------------


@dataclass(frozen=True)
class Care:
    """The beds the pathway needs (capacity planning); days from infusion, or from HSCT.

    Attributes
    ----------
    needs_cart_bed : bool
        The index treatment is given on a CAR-T ward (every CAR-T strategy).
    cart_stay_days : ndarray
        Days a CAR-T bed is held from infusion (before death cuts it short).
    icu_need_after_infusion : ndarray
        Day of the first severe toxicity or severe infection (``inf``: none).
    icu_cause : ndarray of int8
        What it is (``DEATH_CODE`` of ``crs``, ``icans`` or ``infection``).
    icu_stay_days : float
        Days an ICU bed is held.
    icu_wait_death_draw : ndarray
        The uniform draw ``u_icu_wait_death`` of each patient.
    icu_wait_death_hazard_per_day : float
        Hazard of death while waiting for an ICU bed, per day.
    hsct_stay_days : float
        Days a transplant bed is held.
    """

    needs_cart_bed: bool
    cart_stay_days: np.ndarray
    icu_need_after_infusion: np.ndarray
    icu_cause: np.ndarray
    icu_stay_days: float
    icu_wait_death_draw: np.ndarray
    icu_wait_death_hazard_per_day: float
    hsct_stay_days: float

    @cached_property
    def icu_wait_death_after_request(self) -> np.ndarray:
        """Latent days from asking for an ICU bed to death while still waiting: computed when an engine with
        ICU queues asks (a logarithm per patient that the cohort engine never needs)."""
        return _icu_wait_death_patients(self.icu_wait_death_draw, self.icu_wait_death_hazard_per_day)


def plan_care(p: ParameterSet, strategy: Strategy, draws: PatientDraws, toxicity: Toxicity) -> Care:
    """CAR-T bed stays by toxicity grade, and the ICU need: the first of severe CRS, severe ICANS and
    severe infection.

    Parameters
    ----------
    toxicity : Toxicity
        The grades and infections that drive the stays.

    Other parameters are as for :func:`plan_before_infusion`.
    """
    n = draws.n_patients
    patients = (toxicity.crs_grade, toxicity.icans_grade, toxicity.severe_infection, toxicity.infection_after_infusion)
    out = (np.empty(n), np.empty(n), np.empty(n, np.int8))
    _care_patients(patients, care_values(p), out)
    cart_stay, icu_need, icu_cause = out
    return Care(
        needs_cart_bed=strategy.index_therapy == "cart", cart_stay_days=cart_stay,
        icu_need_after_infusion=icu_need, icu_cause=icu_cause, icu_stay_days=p["icu_stay_days"],
        icu_wait_death_draw=draws["u_icu_wait_death"], icu_wait_death_hazard_per_day=float(p["icu_wait_death_hazard_per_day"]),
        hsct_stay_days=p["hsct_stay_days"],
    )


def care_values(p: ParameterSet) -> tuple[float, ...]:
    """The parameter values of :func:`care_patient`, in its order."""
    return _floats((p["crs_onset_days"], p["icans_onset_days"], p["cart_stay_days"], p["cart_stay_extra_days_per_grade"]))


@njit(cache=True, error_model="numpy", inline="always")
def care_patient(crs, icans, infected, infection_day, values):
    """Days a CAR-T bed is held, and the ICU need (day after infusion, cause) of one patient (:func:`plan_care`);
    ``values`` as :func:`care_values` gives them."""
    crs_onset, icans_onset, stay_days, extra_days_per_grade = values
    # the ICU need: the first of severe CRS, severe ICANS and severe infection (in that order on ties)
    need, cause = earlier(math.inf, 0, crs_onset if crs >= care.SEVERE_GRADE else math.inf, _CRS)
    need, cause = earlier(need, cause, icans_onset if icans >= care.SEVERE_GRADE else math.inf, _ICANS)
    need, cause = earlier(need, cause, infection_day if infected else math.inf, _INFECTION)
    return care.cart_stay_days(crs, icans, stay_days, extra_days_per_grade), need, cause


@njit(cache=True, error_model="numpy")
def _care_patients(patients, values, out):
    """:func:`care_patient` of one patient after another (:func:`plan_care`); ``out`` receives the days and causes of
    :class:`Care`."""
    crs, icans, infected, infection_day = patients
    stay_out, need_out, cause_out = out
    for i in range(crs.shape[0]):
        stay_out[i], need_out[i], cause_out[i] = care_patient(crs[i], icans[i], infected[i], infection_day[i], values)


@njit(cache=True, error_model="numpy")
def _icu_wait_death_patients(u, hazard_per_day):
    """:func:`care.icu_wait_death_days` of one patient after another (:func:`plan_care`)."""
    days = np.empty(u.shape[0])
    for i in range(u.shape[0]):
        days[i] = care.icu_wait_death_days(u[i], hazard_per_day)
    return days
