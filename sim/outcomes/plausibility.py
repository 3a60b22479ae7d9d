"""Clinical plausibility: the contract tables read as a reviewing haematologist would.

Each rule (`Rule`) is a small function over the patients table and the event log (`Tables`) that returns,
for every patient row (one patient under one strategy in one replication), whether the course breaks it,
with a one-line clinical statement. There are two kinds:

- ``impossible`` — a course no haematologist would accept as possible (an event after death, a transplant
  in intensive care, a donor-derived product without a donor ...). Passes only with no violation at all.
- ``implausible`` — a course that can happen but only rarely (an untreated non-responder alive at two
  years ...). The rule states the population it judges, a bound on the share of that population that
  breaks it and the reason for the bound. It fails when the share is above the bound beyond sampling noise:
  when the share's 95% Wilson interval lies wholly above the bound (a small cohort cannot fail it by chance).

`check` applies every rule of `RULES` and returns a `Report`: per rule the count, the share, whether it
passes, and a few example patients with the columns that show the problem.

The rules read only the contract tables (DESIGN.md section 7; the columns and categories of
`sim.inputs.codes`) and the endpoints of `sim.outcomes.endpoints`, never the model: days count from each
patient's enrolment, ``NaN`` marks an event that did not happen. Two days closer than `TOLERANCE_DAYS` are
the same day. Follow-up at a time point is judged against the scenario's horizon, read from the tables as
the longest ``last_day`` of the scenario (every patient is followed that long from enrolment unless they
die), so that patients enrolled too late to reach the time point are left out rather than counted alive.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sim.inputs.codes import (
    CART_PRODUCTS,
    CHIMERISM,
    DAYS_PER_YEAR,
    DEATH_CAUSES,
    EVENT_COLUMNS,
    EVENT_DETAILS,
    EVENTS,
    PATIENT_COLUMNS,
    PATIENT_KEY,
)
from sim.outcomes.endpoints import (
    NO_RESPONSE_CODE,
    TWO_YEARS_DAYS,
    in_complete_response,
    patient_columns,
    response_assessed,
)
from sim.outcomes.estimators import proportion

Kind = Literal["impossible", "implausible"]
IMPOSSIBLE: Kind = "impossible"
IMPLAUSIBLE: Kind = "implausible"


TOLERANCE_DAYS = 1e-6
"""Two days closer than this (about 0.1 s) are the same day: the tables' days are sums of floats."""
EXAMPLES = 3
"""Example patients kept per rule."""

APLASIA_WINDOW_DAYS = 45.0
"""Days after infusion (or the start of chemotherapy) during which a patient is aplastic, for the
infection rules: the longest aplasia window the model's parameters allow (``aplasia_window_days``, uniform
21-45 d) — after CD7 CAR-T the aplasia lasts until transplant (HU-PANCYTO), and a transplant given during
it (the all-in-one strategy, about day 25) does not end it before engraftment. An infection that kills
within it is an infection of aplasia, which the event log records as a severe infection."""

NON_RELAPSE_DEATH_CAUSES: tuple[str, ...] = ("infection", "crs", "icans", "gvhd", "other_nrm")
"""Causes of death (of `DEATH_CAUSES`) that belong to treatment and remission, not to relapsed disease:
after a relapse a patient dies of the disease (or of age, ``background``)."""
assert set(NON_RELAPSE_DEATH_CAUSES) < set(DEATH_CAUSES)


def _known(labels: Sequence[str], among: Sequence[str], what: str) -> tuple[str, ...]:
    """``labels``, each checked to be a category of the contract (``among``), so that a renamed event or
    detail breaks this module at import rather than silently matching nothing."""
    unknown = [label for label in labels if label not in among]
    if unknown:
        raise ValueError(f"not {what} of sim.inputs.codes: {unknown}")
    return tuple(labels)


INDEX_EVENTS = _known(("infusion", "chemotherapy_start"), EVENTS, "events")
"""The start of the index treatment: CAR-T infusion, or salvage chemotherapy."""
FATAL = _known(("fatal",), EVENT_DETAILS, "event details")
"""The ``detail`` of a severe infection that killed the patient."""
CART_GVHD = tuple(detail for detail in EVENT_DETAILS if detail.endswith(", CAR-T-related"))
"""``detail``s of an ``agvhd`` event caused by a donor-derived CAR-T product, before any transplant."""
HSCT_GVHD = tuple(detail for detail in EVENT_DETAILS if detail.endswith(", HSCT-related"))
"""``detail``s of an ``agvhd`` event after a transplant."""
PROGRESSION_BEFORE_INFUSION = _known(("progression before infusion", "manufacturing failed"), EVENT_DETAILS, "event details")
"""``detail``s that date progression before infusion: a drop-out, or a failed product (the patient's disease
goes on untreated)."""
assert CART_GVHD and HSCT_GVHD


class Tables:
    """The patients table and the event log read together: columns per patient, events per patient.

    Parameters
    ----------
    patients : pandas.DataFrame
        ``patients.parquet`` (columns of `sim.inputs.codes.PATIENT_COLUMNS`), one row per patient,
        strategy and replication; categories as labels, plain or categorical.
    events : pandas.DataFrame
        ``events.parquet`` (columns of `sim.inputs.codes.EVENT_COLUMNS`) for the same patients.

    Attributes
    ----------
    patients : pandas.DataFrame
        The patients table, indexed 0..n-1 (the rows every mask refers to).
    c : dict of str to numpy.ndarray
        Its columns as arrays (`sim.outcomes.endpoints.patient_columns`, with every day as recorded even
        where its flag is False, and the columns the endpoints do not read).

    Raises
    ------
    ValueError
        When a table lacks a contract column, a patient appears twice, or the event log holds an event of
        no patient of the table or an event name the contract does not know.
    """

    def __init__(self, patients: pd.DataFrame, events: pd.DataFrame) -> None:
        for name, table, columns in (("patients", patients, PATIENT_COLUMNS), ("events", events, EVENT_COLUMNS)):
            missing = [column for column in columns if column not in table.columns]
            if missing:
                raise ValueError(f"{name} table lacks columns {missing}")
        self.patients = patients.reset_index(drop=True)
        self.n = len(self.patients)
        self.c = _columns(self.patients)
        self._row = _patient_rows(self.patients, events)
        self._day = events["day"].to_numpy(dtype=float, na_value=np.nan)
        self._event = _codes(events["event"], EVENTS)
        unknown = self._event < 0
        if unknown.any():
            raise ValueError(f"event log holds events the contract does not know: {sorted(set(events['event'][unknown]))}")
        self._detail = _codes(events["detail"], EVENT_DETAILS)
        self._cache: dict[tuple, np.ndarray] = {}

    def _selected(self, events: Sequence[str], details: Sequence[str] | None) -> np.ndarray:
        """Mask of the log's rows that are one of ``events`` (with one of ``details``, if given)."""
        chosen = np.isin(self._event, [EVENTS.index(event) for event in _known(events, EVENTS, "events")])
        if details is not None:
            chosen &= np.isin(self._detail, [EVENT_DETAILS.index(d) for d in _known(details, EVENT_DETAILS, "event details")])
        return chosen

    def _per_patient(self, how: str, events: Sequence[str], details: Sequence[str] | None) -> np.ndarray:
        key = (how, tuple(events), None if details is None else tuple(details))
        if key not in self._cache:
            chosen = self._selected(events, details) if events else np.ones(self._event.shape, dtype=bool)
            rows, days = self._row[chosen], self._day[chosen]
            if how == "count":
                self._cache[key] = np.bincount(rows, minlength=self.n)
            else:
                out = np.full(self.n, np.nan)
                (np.fmin if how == "first" else np.fmax).at(out, rows, days)
                self._cache[key] = out
        return self._cache[key]

    def first_day(self, *events: str, details: Sequence[str] | None = None) -> np.ndarray:
        """Day of each patient's first event among ``events`` (with one of ``details``); ``NaN`` if none."""
        return self._per_patient("first", events, details)

    def last_day_of(self, *events: str, details: Sequence[str] | None = None) -> np.ndarray:
        """Day of each patient's last event among ``events`` (every event if none named); ``NaN`` if none."""
        return self._per_patient("last", events, details)

    def count(self, *events: str, details: Sequence[str] | None = None) -> np.ndarray:
        """How many of ``events`` (with one of ``details``) each patient has in the log."""
        return self._per_patient("count", events, details)

    def logged(self, *events: str, details: Sequence[str] | None = None) -> np.ndarray:
        """Whether each patient has at least one of ``events`` (with one of ``details``) in the log."""
        return self.count(*events, details=details) > 0

    def event_rows(self, *events: str, details: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every logged event among ``events``: (patient row, day), in log order."""
        chosen = self._selected(events, details)
        return self._row[chosen], self._day[chosen]

    @functools.cached_property
    def horizon(self) -> np.ndarray:
        """Each patient's potential follow-up from enrolment (days): the longest ``last_day`` of their
        scenario — every patient is followed that long unless they die first."""
        longest = self.patients.groupby("scenario", observed=True, sort=False)["last_day"].transform("max")
        return longest.to_numpy(dtype=float, na_value=np.nan)


def _columns(patients: pd.DataFrame) -> dict[str, np.ndarray]:
    """The endpoints' columns, with every day as recorded (not cut by its flag), the cause of death and
    product as codes (of `DEATH_CAUSES`, `CART_PRODUCTS`), the donor and the hospital days."""
    c = patient_columns(patients)
    for name in ("infusion_day", "response_day", "hsct_day", "relapse_day", "death_day", "last_day",
                 "cart_stay_days", "icu_days", "hsct_stay_days"):
        c[name] = patients[name].to_numpy(dtype=float, na_value=np.nan)
    c["death_cause"] = _codes(patients["death_cause"], DEATH_CAUSES)
    c["cart_source"] = _codes(patients["cart_source"], CART_PRODUCTS)
    c["donor_available"] = patients["donor_available"].to_numpy(dtype=bool)
    return c


def _codes(values: pd.Series, labels: Sequence[object]) -> np.ndarray:
    """The position of each value among ``labels`` (-1 for a value not among them), plain or categorical."""
    index = pd.Index(list(labels))
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = np.append(index.get_indexer(values.cat.categories), -1)
        return lookup[values.cat.codes.to_numpy()]  # code -1 (missing) takes the appended -1
    return index.get_indexer(pd.Index(values))


def _patient_rows(patients: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """For each row of the event log, the row of its patient in ``patients``."""
    patient_key = np.zeros(len(patients), dtype=np.int64)
    event_key = np.zeros(len(events), dtype=np.int64)
    for name in PATIENT_KEY:
        codes, labels = pd.factorize(patients[name], sort=False)
        event_codes = _codes(events[name], list(labels)).astype(np.int64)
        event_key = np.where((event_key < 0) | (event_codes < 0), -1, event_key * len(labels) + event_codes)
        patient_key = patient_key * len(labels) + codes
    index = pd.Index(patient_key)
    if not index.is_unique:
        raise ValueError("patients table names a patient twice (the same scenario, strategy, replication and patient_id)")
    rows = np.where(event_key < 0, -1, index.get_indexer(pd.Index(event_key)))
    if (rows < 0).any():
        raise ValueError(f"event log holds {int((rows < 0).sum())} events of patients not in the patients table")
    return rows


# --- helpers over days: NaN (did not happen) compares False ------------------------------------------------

def _before(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Whether ``earlier`` is on a day before ``later`` (both happened)."""
    return earlier < later - TOLERANCE_DAYS


def _differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether two days differ: one happened and not the other, or both on different days."""
    return (np.isnan(a) != np.isnan(b)) | (np.abs(a - b) > TOLERANCE_DAYS)


def _is_cause(t: Tables, *causes: str) -> np.ndarray:
    return np.isin(t.c["death_cause"], [DEATH_CAUSES.index(cause) for cause in causes])


def _product(t: Tables, product: str) -> np.ndarray:
    return t.c["cart_source"] == CART_PRODUCTS.index(product)


def _under_chemotherapy(t: Tables) -> np.ndarray:
    """Patients whose index treatment is salvage chemotherapy (no CAR-T product, ``cart_source`` none)."""
    return _product(t, "none")


TABLE_DAYS: tuple[str, ...] = ("infusion_day", "response_day", "hsct_day", "relapse_day", "death_day")
"""Days of the patients table that mark a step of the pathway."""


def _latest_table_day(t: Tables) -> np.ndarray:
    return np.fmax.reduce([t.c[name] for name in TABLE_DAYS])


def _earliest_day(t: Tables) -> np.ndarray:
    days = [t.c[name] for name in (*TABLE_DAYS, "last_day")]
    return np.fmin.reduce([*days, t.first_day(*EVENTS)])


# --- impossible: the record ---------------------------------------------------------------------------------

def flags_disagree_with_days(t: Tables) -> np.ndarray:
    """A flag without its day or a day without its flag (infused, transplanted, relapsed, dead, response
    assessed), or a CD7 status of a relapse that did not happen."""
    c = t.c
    pairs = (("infused", "infusion_day"), ("hsct", "hsct_day"), ("relapse", "relapse_day"), ("death", "death_day"))
    wrong = np.logical_or.reduce([c[flag] != ~np.isnan(c[day]) for flag, day in pairs])
    return wrong | (response_assessed(c) != ~np.isnan(c["response_day"])) | (c["relapse_cd7_negative"] & ~c["relapse"])


def not_one_terminal_state(t: Tables) -> np.ndarray:
    """Not exactly one end: a dead patient's ``last_day`` is not the day of death, or the log does not hold
    exactly one ``death`` (for the dead) or ``censored`` (for the living) event, on ``last_day``."""
    c = t.c
    death_logged, censored_logged = t.count("death"), t.count("censored")
    terminal_day = t.first_day("death", "censored")
    return ((c["death"] & _differ(c["death_day"], c["last_day"]))
            | (death_logged + censored_logged != 1) | (c["death"] != (death_logged == 1))
            | _differ(terminal_day, c["last_day"]))


def day_before_enrolment(t: Tables) -> np.ndarray:
    """A day of the tables before enrolment (day 0 of the patient)."""
    return _earliest_day(t) < -TOLERANCE_DAYS


def event_after_death(t: Tables) -> np.ndarray:
    """A day of the tables after the day of death."""
    latest = np.fmax(_latest_table_day(t), t.last_day_of())
    return t.c["death"] & _before(t.c["death_day"], latest)


def event_after_last_day(t: Tables) -> np.ndarray:
    """A day of the tables after ``last_day`` (death or the end of follow-up)."""
    latest = np.fmax(_latest_table_day(t), t.last_day_of())
    return _before(t.c["last_day"], latest)


def table_disagrees_with_log(t: Tables) -> np.ndarray:
    """The patients table and the event log tell different courses: the day of the index treatment,
    response, transplant, relapse or death differs, or acute or chronic GVHD is in one and not the other."""
    c = t.c
    days = {"infusion_day": t.first_day(*INDEX_EVENTS), "response_day": t.first_day("response"),
            "hsct_day": t.first_day("hsct"), "relapse_day": t.first_day("relapse"), "death_day": t.first_day("death")}
    wrong = np.logical_or.reduce([_differ(c[name], logged) for name, logged in days.items()])
    return wrong | ((c["agvhd_grade"] > 0) != t.logged("agvhd")) | (c["cgvhd"] != t.logged("cgvhd"))


def death_cause_disagrees_with_death(t: Tables) -> np.ndarray:
    """A death without a cause (``none``), or a cause of death for a patient alive."""
    return t.c["death"] == _is_cause(t, "none")


# --- impossible: the order of the pathway -------------------------------------------------------------------

def response_before_infusion(t: Tables) -> np.ndarray:
    """A response assessed before the index treatment started, or without it."""
    c = t.c
    return _before(c["response_day"], c["infusion_day"]) | (~np.isnan(c["response_day"]) & np.isnan(c["infusion_day"]))


def hsct_before_infusion(t: Tables) -> np.ndarray:
    """A transplant before the index treatment started, or without it."""
    c = t.c
    return _before(c["hsct_day"], c["infusion_day"]) | (~np.isnan(c["hsct_day"]) & np.isnan(c["infusion_day"]))


def hsct_before_response(t: Tables) -> np.ndarray:
    """A transplant before the response assessment that qualified for it."""
    return _before(t.c["hsct_day"], t.c["response_day"])


def relapse_before_cr(t: Tables) -> np.ndarray:
    """A relapse dated before the remission it ends was assessed."""
    return _before(t.c["relapse_day"], t.c["response_day"])


def relapse_without_cr(t: Tables) -> np.ndarray:
    """A relapse without a complete remission at the response assessment."""
    return t.c["relapse"] & ~in_complete_response(t.c)


def hsct_without_cr(t: Tables) -> np.ndarray:
    """A transplant for a patient not in complete remission at the response assessment."""
    return t.c["hsct"] & ~in_complete_response(t.c)


def hsct_without_donor(t: Tables) -> np.ndarray:
    """An allogeneic transplant for a patient without a donor."""
    return t.c["hsct"] & ~t.c["donor_available"]


def hsct_during_icu_stay(t: Tables) -> np.ndarray:
    """A transplant on a day the patient is in intensive care (from admission to discharge; a stay without a
    discharge lasts to ``last_day``). Discharge and transplant on the same day is allowed: the log orders
    discharge first."""
    admission_rows, admission_days = t.event_rows("icu_admission")
    discharge_rows, discharge_days = t.event_rows("icu_discharge")
    admissions = pd.DataFrame({"row": admission_rows, "day": admission_days}).sort_values("day", kind="stable")
    discharges = pd.DataFrame({"row": discharge_rows, "day": discharge_days, "end": discharge_days}).sort_values("day", kind="stable")
    stays = pd.merge_asof(admissions, discharges, on="day", by="row", direction="forward")
    rows = stays["row"].to_numpy(dtype=np.int64)
    end = stays["end"].to_numpy(dtype=float, na_value=np.nan)
    end = np.where(np.isnan(end), t.c["last_day"][rows], end)
    hsct_day = t.c["hsct_day"][rows]
    during = (hsct_day >= stays["day"].to_numpy(dtype=float) - TOLERANCE_DAYS) & _before(hsct_day, end)
    violated = np.zeros(t.n, dtype=bool)
    violated[rows[during]] = True
    return violated


# --- impossible: products and toxicity ----------------------------------------------------------------------

def donor_product_without_donor(t: Tables) -> np.ndarray:
    """A donor-derived CAR-T product collected or given (apheresis, or infusion) for a patient without a donor."""
    c = t.c
    return _product(t, "donor_derived") & ~c["donor_available"] & (c["infused"] | t.logged("apheresis"))


def index_treatment_disagrees_with_product(t: Tables) -> np.ndarray:
    """A CAR-T infusion logged under chemotherapy, or a chemotherapy start with a CAR-T product."""
    chemotherapy = _under_chemotherapy(t)
    return (chemotherapy & t.logged("infusion")) | (~chemotherapy & t.logged("chemotherapy_start"))


def cart_toxicity_without_cart(t: Tables) -> np.ndarray:
    """CRS or ICANS (grade 1 or more, in the table or the log) without a CAR-T infusion: never infused, or
    under chemotherapy."""
    c = t.c
    toxicity = (c["crs_grade"] > 0) | (c["icans_grade"] > 0) | t.logged("crs", "icans")
    return toxicity & (~c["infused"] | _under_chemotherapy(t))


# --- impossible: transplant and GVHD ------------------------------------------------------------------------

def gvhd_without_hsct(t: Tables) -> np.ndarray:
    """Acute or chronic GVHD without a transplant, except acute GVHD after a donor-derived CAR-T product."""
    c = t.c
    cart_related_allowed = c["infused"] & _product(t, "donor_derived")
    return ~c["hsct"] & (c["cgvhd"] | ((c["agvhd_grade"] > 0) & ~cart_related_allowed))


def cart_gvhd_without_donor_product(t: Tables) -> np.ndarray:
    """CAR-T-related acute GVHD without a donor-derived product infused before it."""
    c = t.c
    day = t.first_day("agvhd", details=CART_GVHD)
    return ~np.isnan(day) & (~(c["infused"] & _product(t, "donor_derived")) | _before(day, c["infusion_day"]))


def hsct_gvhd_before_hsct(t: Tables) -> np.ndarray:
    """Transplant-related acute GVHD or chronic GVHD logged before the transplant, or without one."""
    day = t.first_day("agvhd", details=HSCT_GVHD)
    day = np.fmin(day, t.first_day("cgvhd"))
    hsct_day = t.c["hsct_day"]
    return _before(day, hsct_day) | (~np.isnan(day) & np.isnan(hsct_day))


def chimerism_without_hsct(t: Tables) -> np.ndarray:
    """A chimerism other than ``none`` without a transplant, or a transplant without one."""
    c = t.c
    return c["hsct"] == (c["chimerism"] == CHIMERISM.index("none"))


def cgvhd_after_relapse(t: Tables) -> np.ndarray:
    """Chronic GVHD starting after the relapse (event log ``cgvhd`` day after ``relapse_day``)."""
    return _before(t.c["relapse_day"], t.first_day("cgvhd"))


# --- impossible: deaths -------------------------------------------------------------------------------------

def non_relapse_death_after_relapse(t: Tables) -> np.ndarray:
    """A death from treatment or remission causes (infection, CRS, ICANS, GVHD, other non-relapse) after a
    relapse: after relapse the disease (or age) kills."""
    return t.c["relapse"] & _is_cause(t, *NON_RELAPSE_DEATH_CAUSES)


def disease_death_without_progression(t: Tables) -> np.ndarray:
    """Death from disease without evidence of active disease: no relapse, no non-response, and, for a
    patient never treated, no progression before infusion (drop-out or failed product) in the log."""
    c = t.c
    progression_before_infusion = ~c["infused"] & t.logged("dropout", "product_release", details=PROGRESSION_BEFORE_INFUSION)
    active = c["relapse"] | (c["response"] == NO_RESPONSE_CODE) | progression_before_infusion
    return _is_cause(t, "disease") & ~active


def fatal_infection_not_logged(t: Tables) -> np.ndarray:
    """Death from infection within the aplasia window (`APLASIA_WINDOW_DAYS` after infusion) without a
    severe infection logged as fatal on or before that day."""
    c = t.c
    early = _is_cause(t, "infection") & (c["death_day"] - c["infusion_day"] <= APLASIA_WINDOW_DAYS)
    logged = t.first_day("severe_infection", details=FATAL) <= c["death_day"] + TOLERANCE_DAYS
    return early & ~logged


def early_infection_death_without_infection(t: Tables) -> np.ndarray:
    """Death from infection before any transplant without any severe infection in the log before it."""
    c = t.c
    logged = t.first_day("severe_infection") <= c["death_day"] + TOLERANCE_DAYS
    return _is_cause(t, "infection") & ~_before(c["hsct_day"], c["death_day"]) & ~logged


def fatal_infection_survived(t: Tables) -> np.ndarray:
    """A severe infection logged as fatal, but the patient did not die of infection."""
    return t.logged("severe_infection", details=FATAL) & ~_is_cause(t, "infection")


# --- impossible: hospital days ------------------------------------------------------------------------------

def icu_days_without_admission(t: Tables) -> np.ndarray:
    """Days in intensive care (``icu_days`` > 0) without an ``icu_admission`` in the log."""
    return (t.c["icu_days"] > 0) & ~t.logged("icu_admission")


def icu_admission_without_icu_days(t: Tables) -> np.ndarray:
    """An ``icu_admission`` in the log without days in intensive care (``icu_days`` 0 or missing)."""
    return t.logged("icu_admission") & ~(t.c["icu_days"] > 0)


def hospital_days_out_of_range(t: Tables) -> np.ndarray:
    """Hospital days negative or longer than the follow-up from the stay's start (infusion for the CAR-T
    ward and intensive care, transplant for the transplant stay), or intensive-care days missing (0 if never)."""
    c = t.c
    start = {"cart_stay_days": c["infusion_day"], "icu_days": c["infusion_day"], "hsct_stay_days": c["hsct_day"]}
    wrong = np.isnan(c["icu_days"])
    for name, begins in start.items():
        days = c[name]
        wrong |= (days < -TOLERANCE_DAYS) | (days > c["last_day"] - np.nan_to_num(begins, nan=0.0) + TOLERANCE_DAYS)
    return wrong


def hospital_stay_without_its_treatment(t: Tables) -> np.ndarray:
    """Days on the CAR-T ward without a CAR-T infusion, or transplant-stay days without a transplant."""
    c = t.c
    cart_ward = ~np.isnan(c["cart_stay_days"]) & (~c["infused"] | _under_chemotherapy(t))
    return cart_ward | (~np.isnan(c["hsct_stay_days"]) & ~c["hsct"])


# --- implausible: survival without effective treatment ------------------------------------------------------

def _alive_at(t: Tables, origin: np.ndarray, days: float) -> np.ndarray:
    """Alive ``days`` after ``origin`` (a day from enrolment): no death by then."""
    return ~(t.c["death_day"] <= origin + days)


def _followed_for(t: Tables, origin: np.ndarray, days: float) -> np.ndarray:
    """Patients whose potential follow-up (the scenario's horizon) reaches ``days`` after ``origin``."""
    return origin + days <= t.horizon + TOLERANCE_DAYS


THREE_YEARS_DAYS = 3 * DAYS_PER_YEAR
FIVE_YEARS_DAYS = 5 * DAYS_PER_YEAR


def untreated_non_responders(t: Tables) -> np.ndarray:
    """Non-responders at the response assessment, never transplanted, followed two years from it."""
    c = t.c
    return (c["response"] == NO_RESPONSE_CODE) & ~c["hsct"] & _followed_for(t, c["response_day"], TWO_YEARS_DAYS)


def untreated_non_responder_alive_2y(t: Tables) -> np.ndarray:
    """Alive two years after the response assessment that found no response."""
    return untreated_non_responders(t) & _alive_at(t, t.c["response_day"], TWO_YEARS_DAYS)


def disease_deaths_after_relapse(t: Tables) -> np.ndarray:
    """Patients who relapsed and died of the disease."""
    return t.c["relapse"] & _is_cause(t, "disease")


def disease_death_within_7d_of_relapse(t: Tables) -> np.ndarray:
    """Death from disease within 7 days of the relapse."""
    c = t.c
    return disease_deaths_after_relapse(t) & (c["death_day"] - c["relapse_day"] <= 7.0)


def relapses_followed_3y(t: Tables) -> np.ndarray:
    """Relapsed patients followed three years from the relapse (the tables record no treatment after it)."""
    return t.c["relapse"] & _followed_for(t, t.c["relapse_day"], THREE_YEARS_DAYS)


def alive_3y_after_untreated_relapse(t: Tables) -> np.ndarray:
    """Alive three years after a relapse that no treatment followed."""
    return relapses_followed_3y(t) & _alive_at(t, t.c["relapse_day"], THREE_YEARS_DAYS)


def never_infused_followed_5y(t: Tables) -> np.ndarray:
    """Patients never given the index treatment, followed five years from enrolment."""
    return ~t.c["infused"] & _followed_for(t, np.zeros(t.n), FIVE_YEARS_DAYS)


def never_infused_alive_5y(t: Tables) -> np.ndarray:
    """Alive five years after enrolment without the index treatment."""
    return never_infused_followed_5y(t) & _alive_at(t, np.zeros(t.n), FIVE_YEARS_DAYS)


def without_transplant_strategy(t: Tables) -> np.ndarray:
    """Patients of a CAR-T strategy under which nobody was transplanted (CAR-T alone): every row of the
    scenario and strategy has a CAR-T product and none has ``hsct``. The tables do not name a strategy's
    transplant platform, so a strategy that transplants nobody in this run counts as CAR-T alone."""
    groups = t.patients.groupby(["scenario", "strategy"], observed=True, sort=False)
    nobody_transplanted = ~groups["hsct"].transform("any").to_numpy(dtype=bool)
    every_cart = ~pd.Series(_under_chemotherapy(t), index=t.patients.index).groupby(
        [t.patients["scenario"], t.patients["strategy"]], observed=True, sort=False).transform("any").to_numpy(dtype=bool)
    return nobody_transplanted & every_cart


def cart_alone_infused_followed_5y(t: Tables) -> np.ndarray:
    """Infused patients of a CAR-T-alone strategy (`without_transplant_strategy`), followed five years from
    enrolment."""
    return without_transplant_strategy(t) & t.c["infused"] & _followed_for(t, np.zeros(t.n), FIVE_YEARS_DAYS)


def cart_alone_alive_5y(t: Tables) -> np.ndarray:
    """Alive five years after enrolment after CAR-T without consolidation."""
    return cart_alone_infused_followed_5y(t) & _alive_at(t, np.zeros(t.n), FIVE_YEARS_DAYS)


# --- rules and the report -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A plausibility rule.

    Attributes
    ----------
    name : str
        Short name (snake case), as printed.
    kind : {"impossible", "implausible"}
    statement : str
        The clinical statement, one line: what a plausible course never (or rarely) does.
    violations : callable
        ``violations(tables) -> mask``: the patient rows whose course breaks the rule.
    shows : tuple of str
        Patients-table columns that show the problem in an example.
    logged : tuple of str
        Events whose first day in the log is shown in an example (as ``<event> (log)``).
    among : callable, optional
        For an implausible rule, ``among(tables) -> mask``: the population judged (its violations are a
        subset of it). Impossible rules judge every patient.
    bound : float
        Largest share of ``among`` allowed to break an implausible rule (0 for an impossible rule).
    reason : str
        Why the bound (implausible rules).
    """

    name: str
    kind: Kind
    statement: str
    violations: Callable[[Tables], np.ndarray]
    shows: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()
    among: Callable[[Tables], np.ndarray] | None = None
    bound: float = 0.0
    reason: str = ""

    def evaluate(self, tables: Tables) -> RuleResult:
        """Apply the rule to ``tables``: counts, share, pass or fail, examples."""
        judged = np.ones(tables.n, dtype=bool) if self.among is None else np.asarray(self.among(tables), dtype=bool)
        violated = np.asarray(self.violations(tables), dtype=bool) & judged  # a new array: the columns stay as read
        count, population = int(violated.sum()), int(judged.sum())
        share = proportion(count, population)
        if self.kind == IMPOSSIBLE:
            passed = count == 0
        else:
            passed = population == 0 or share.lower <= self.bound
        return RuleResult(self, count, population, share.estimate, share.lower, share.upper, passed,
                          _examples(tables, violated, self))


def _examples(t: Tables, violated: np.ndarray, rule: Rule) -> pd.DataFrame:
    """The first `EXAMPLES` violating patients: who they are and the columns that show the problem."""
    rows = np.flatnonzero(violated)[:EXAMPLES]
    columns = list(dict.fromkeys([*PATIENT_KEY, *rule.shows]))
    frame = t.patients.loc[rows, columns].reset_index(drop=True)
    for event in rule.logged:
        frame[f"{event} (log)"] = t.first_day(event)[rows]
    return frame


@dataclass(frozen=True)
class RuleResult:
    """What one rule found.

    Attributes
    ----------
    rule : Rule
    violations : int
        Patient rows that break the rule.
    judged : int
        Patient rows judged (every row for an impossible rule; the rule's population for an implausible one).
    share, lower, upper : float
        ``violations / judged`` (fraction 0-1) and its Wilson 95% interval; ``NaN`` when nobody was judged.
    passed : bool
        Impossible: no violation. Implausible: nobody judged, or the interval reaches down to the bound.
    examples : pandas.DataFrame
        Up to `EXAMPLES` violating patients (key columns, the rule's columns, logged event days).
    """

    rule: Rule
    violations: int
    judged: int
    share: float
    lower: float
    upper: float
    passed: bool
    examples: pd.DataFrame


@dataclass(frozen=True)
class Report:
    """The plausibility check of a pair of tables: one `RuleResult` per rule, in rule order.

    Attributes
    ----------
    results : tuple of RuleResult
    patients : int
        Patient rows checked (patients x strategies x replications).
    """

    results: tuple[RuleResult, ...]
    patients: int

    @property
    def passed(self) -> bool:
        """Every impossible rule without a violation and every implausible share within its bound."""
        return all(result.passed for result in self.results)

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        """The rules that failed."""
        return tuple(result for result in self.results if not result.passed)

    def frame(self) -> pd.DataFrame:
        """One row per rule: ``rule, kind, violations, judged, share, lower, upper, bound, passed, statement``."""
        return pd.DataFrame.from_records(
            [(r.rule.name, r.rule.kind, r.violations, r.judged, r.share, r.lower, r.upper, r.rule.bound, r.passed,
              r.rule.statement) for r in self.results],
            columns=["rule", "kind", "violations", "judged", "share", "lower", "upper", "bound", "passed", "statement"],
        )


RULES: tuple[Rule, ...] = (
    # The record.
    Rule("flags_disagree_with_days", IMPOSSIBLE,
         "Every flag has its day and every day its flag (infused, transplanted, relapsed, dead, response assessed).",
         flags_disagree_with_days, ("infused", "infusion_day", "response", "response_day", "hsct", "hsct_day", "relapse",
                                    "relapse_day", "relapse_cd7_negative", "death", "death_day")),
    Rule("not_one_terminal_state", IMPOSSIBLE,
         "Every patient ends once: dead on last_day with one death event, or alive and censored on last_day.",
         not_one_terminal_state, ("death", "death_day", "last_day"), ("death", "censored")),
    Rule("day_before_enrolment", IMPOSSIBLE, "Nothing happens before enrolment (day 0).",
         day_before_enrolment, ("infusion_day", "response_day", "hsct_day", "relapse_day", "death_day", "last_day"), ("enrolment",)),
    Rule("event_after_death", IMPOSSIBLE, "Nothing happens after death.",
         event_after_death, ("death_day", "infusion_day", "response_day", "hsct_day", "relapse_day")),
    Rule("event_after_last_day", IMPOSSIBLE, "Nothing is recorded after last_day (death or the end of follow-up).",
         event_after_last_day, ("last_day", "infusion_day", "response_day", "hsct_day", "relapse_day", "death_day")),
    Rule("table_disagrees_with_log", IMPOSSIBLE,
         "The patients table and the event log tell the same course (treatment, response, HSCT, GVHD, relapse, death).",
         table_disagrees_with_log, ("infusion_day", "response_day", "hsct_day", "agvhd_grade", "cgvhd", "relapse_day", "death_day"),
         ("infusion", "chemotherapy_start", "response", "hsct", "agvhd", "cgvhd", "relapse", "death")),
    Rule("death_cause_disagrees_with_death", IMPOSSIBLE, "A dead patient has a cause of death; a living one has none.",
         death_cause_disagrees_with_death, ("death", "death_day", "death_cause")),
    # The order of the pathway.
    Rule("response_before_infusion", IMPOSSIBLE, "A response is assessed only after the index treatment started.",
         response_before_infusion, ("infused", "infusion_day", "response", "response_day")),
    Rule("hsct_before_infusion", IMPOSSIBLE, "A transplant follows the index treatment (CAR-T or chemotherapy).",
         hsct_before_infusion, ("infused", "infusion_day", "hsct_day")),
    Rule("hsct_before_response", IMPOSSIBLE, "A transplant follows the response assessment that qualified for it.",
         hsct_before_response, ("response", "response_day", "hsct_day")),
    Rule("relapse_before_cr", IMPOSSIBLE, "A relapse comes after the remission it ends.",
         relapse_before_cr, ("response", "response_day", "relapse_day")),
    Rule("relapse_without_cr", IMPOSSIBLE, "Only a patient in complete remission can relapse.",
         relapse_without_cr, ("response", "relapse", "relapse_day")),
    Rule("hsct_without_cr", IMPOSSIBLE, "Only a patient in complete remission at assessment is transplanted.",
         hsct_without_cr, ("response", "hsct", "hsct_day")),
    Rule("hsct_without_donor", IMPOSSIBLE, "An allogeneic transplant needs a donor.",
         hsct_without_donor, ("donor_available", "hsct", "hsct_day")),
    Rule("hsct_during_icu_stay", IMPOSSIBLE, "Nobody is transplanted in intensive care.",
         hsct_during_icu_stay, ("hsct_day", "icu_days"), ("icu_admission", "icu_discharge")),
    # Products and toxicity.
    Rule("donor_product_without_donor", IMPOSSIBLE, "A donor-derived CAR-T product needs a donor.",
         donor_product_without_donor, ("cart_source", "donor_available", "infused", "infusion_day"), ("apheresis",)),
    Rule("index_treatment_disagrees_with_product", IMPOSSIBLE,
         "CAR-T patients are infused; chemotherapy patients (cart_source none) start chemotherapy.",
         index_treatment_disagrees_with_product, ("cart_source", "infusion_day"), ("infusion", "chemotherapy_start")),
    Rule("cart_toxicity_without_cart", IMPOSSIBLE, "CRS and ICANS follow a CAR-T infusion, never chemotherapy or nothing.",
         cart_toxicity_without_cart, ("cart_source", "infused", "crs_grade", "icans_grade"), ("crs", "icans")),
    # Transplant and GVHD.
    Rule("gvhd_without_hsct", IMPOSSIBLE,
         "GVHD needs a transplant, except acute GVHD after a donor-derived CAR-T product.",
         gvhd_without_hsct, ("hsct", "cart_source", "infused", "agvhd_grade", "cgvhd")),
    Rule("cart_gvhd_without_donor_product", IMPOSSIBLE, "CAR-T-related GVHD follows the infusion of a donor-derived product.",
         cart_gvhd_without_donor_product, ("cart_source", "infused", "infusion_day", "agvhd_grade"), ("agvhd",)),
    Rule("hsct_gvhd_before_hsct", IMPOSSIBLE, "Transplant-related acute and chronic GVHD follow the transplant.",
         hsct_gvhd_before_hsct, ("hsct", "hsct_day", "agvhd_grade", "cgvhd"), ("agvhd", "cgvhd")),
    Rule("chimerism_without_hsct", IMPOSSIBLE, "Chimerism is measured after a transplant, and only then.",
         chimerism_without_hsct, ("hsct", "hsct_day", "chimerism")),
    Rule("cgvhd_after_relapse", IMPOSSIBLE, "Chronic GVHD does not start after the relapse.",
         cgvhd_after_relapse, ("hsct_day", "relapse_day", "cgvhd"), ("cgvhd",)),
    # Deaths.
    Rule("non_relapse_death_after_relapse", IMPOSSIBLE,
         "After relapse nobody dies of infection, CRS, ICANS, GVHD or other non-relapse causes.",
         non_relapse_death_after_relapse, ("hsct_day", "relapse_day", "death_day", "death_cause")),
    Rule("disease_death_without_progression", IMPOSSIBLE,
         "Death from disease follows relapse, non-response, or progression before infusion.",
         disease_death_without_progression, ("infused", "response", "relapse", "death_day", "death_cause"),
         ("dropout", "product_release")),
    Rule("fatal_infection_not_logged", IMPOSSIBLE,
         f"An infection death within {APLASIA_WINDOW_DAYS:g} days of infusion is logged as a fatal severe infection.",
         fatal_infection_not_logged, ("infusion_day", "hsct_day", "death_day", "death_cause"), ("severe_infection",)),
    Rule("early_infection_death_without_infection", IMPOSSIBLE,
         "An infection death before transplant has a severe infection in the log.",
         early_infection_death_without_infection, ("infusion_day", "hsct_day", "death_day", "death_cause"), ("severe_infection",)),
    Rule("fatal_infection_survived", IMPOSSIBLE, "A severe infection logged as fatal ends in death from infection.",
         fatal_infection_survived, ("death", "death_day", "death_cause"), ("severe_infection",)),
    # Hospital days.
    Rule("icu_days_without_admission", IMPOSSIBLE, "Days in intensive care follow an ICU admission in the log.",
         icu_days_without_admission, ("icu_days",), ("icu_admission",)),
    Rule("icu_admission_without_icu_days", IMPOSSIBLE, "An ICU admission in the log is counted in icu_days.",
         icu_admission_without_icu_days, ("icu_days",), ("icu_admission", "icu_discharge")),
    Rule("hospital_days_out_of_range", IMPOSSIBLE,
         "Hospital days are not negative and fit in the follow-up from the stay's start (icu_days 0 if never).",
         hospital_days_out_of_range, ("infusion_day", "hsct_day", "last_day", "cart_stay_days", "icu_days", "hsct_stay_days")),
    Rule("hospital_stay_without_its_treatment", IMPOSSIBLE,
         "CAR-T ward days need a CAR-T infusion; transplant-stay days need a transplant.",
         hospital_stay_without_its_treatment, ("cart_source", "infused", "hsct", "cart_stay_days", "hsct_stay_days")),
    # Implausible: survival without effective treatment.
    Rule("untreated_non_responder_alive_2y", IMPLAUSIBLE,
         "Non-responders who are not transplanted are rarely alive 2 years after the response assessment.",
         untreated_non_responder_alive_2y, ("response", "response_day", "hsct", "death_day", "last_day"),
         among=untreated_non_responders, bound=0.05,
         reason="refractory R/R AML or T-ALL/LBL without further therapy: median survival weeks to months "
                "(Xiao: 53 days after progression); 5% leaves room for indolent T-LBL"),
    Rule("disease_death_within_7d_of_relapse", IMPLAUSIBLE,
         "Relapse is rarely found less than a week before death from it.",
         disease_death_within_7d_of_relapse, ("relapse_day", "death_day", "death_cause"),
         among=disease_deaths_after_relapse, bound=0.05,
         reason="relapse is diagnosed from counts, marrow or MRD weeks before it kills (median 53 days "
                "from relapse to death, Xiao); fulminant deaths within a week are a small minority"),
    Rule("alive_3y_after_untreated_relapse", IMPLAUSIBLE,
         "After a relapse with no further treatment (none is recorded), patients are rarely alive 3 years later.",
         alive_3y_after_untreated_relapse, ("relapse_day", "death_day", "last_day"),
         among=relapses_followed_3y, bound=0.02,
         reason="relapse after CD7 CAR-T or transplant without salvage is fatal within months (median 53 days, "
                "Xiao); 2% allows for rare indolent courses"),
    Rule("never_infused_alive_5y", IMPLAUSIBLE,
         "Patients who never receive the index treatment are rarely alive 5 years after enrolment.",
         never_infused_alive_5y, ("infused", "death_day", "last_day"), ("dropout", "product_release"),
         among=never_infused_followed_5y, bound=0.02,
         reason="relapsed/refractory leukaemia that is never treated progresses within months; "
                "2% allows for patients treated elsewhere, whom the tables cannot show"),
    Rule("cart_alone_alive_5y", IMPLAUSIBLE,
         "After CD7 CAR-T without consolidation (no patient of the strategy transplanted), few are alive at 5 years.",
         cart_alone_alive_5y, ("strategy", "response", "relapse_day", "death_day", "last_day"),
         among=cart_alone_infused_followed_5y, bound=0.15,
         reason="every responder left without transplant in Xiao relapsed by 6 months (3 of 3, XIAO-PFS6M) and "
                "durable remissions after CAR-T alone are case reports; 15% is about one in five remissions "
                "lasting, well above the evidence"),
)
"""Every rule, in the order `check` reports them: impossible first, then implausible."""


def check(patients: pd.DataFrame, events: pd.DataFrame, rules: Sequence[Rule] | None = None,
          on_rule: Callable[[], None] | None = None) -> Report:
    """Read a run's contract tables as a reviewing haematologist would.

    Parameters
    ----------
    patients : pandas.DataFrame
        ``patients.parquet`` (columns of `sim.inputs.codes.PATIENT_COLUMNS`).
    events : pandas.DataFrame
        ``events.parquet`` (columns of `sim.inputs.codes.EVENT_COLUMNS`) of the same patients.
    rules : sequence of Rule, optional
        The rules to apply (default: every rule of `RULES`).
    on_rule : callable, optional
        Called once after each rule (a progress bar).

    Returns
    -------
    Report
        One result per rule: violations, population judged, share, pass or fail, examples.

    Raises
    ------
    ValueError
        When the tables do not fit together (see `Tables`).
    """
    tables = Tables(patients, events)
    results = []
    for rule in RULES if rules is None else rules:
        results.append(rule.evaluate(tables))
        if on_rule is not None:
            on_rule()
    return Report(tuple(results), tables.n)
