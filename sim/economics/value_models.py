"""Value models: costs and QALYs of each patient from the contract tables, and their means by strategy.

Pure functions of a run's patients table (``PATIENT_COLUMNS``), its event log (``EVENT_COLUMNS``) and a
`sim.inputs.values.ValueSet`; nothing here knows the model, the engines or the runner. Every result has one
row per patient, keyed by ``scenario, strategy, replication, patient_id``. Times are days since the patient's
enrolment (the origin of discounting, `sim.economics.discounting`); a year is ``DAYS_PER_YEAR`` days.

**Costs** (in the setting's currency, discounted at ``discount_costs`` and undiscounted), each item in one
category of :data:`COST_CATEGORIES` (:data:`ITEM_CATEGORY`):

- one-off, at the day of the event: ``apheresis`` (``product``) at each ``apheresis`` event; ``cart_product``
  (``product``) at each ``infusion``, or, when the setting's ``product_charged_on`` is ``manufacturing``, at
  each ``product_release`` (released or failed, so a failed product costs too) and at the infusion of a
  patient with no ``product_release`` (an off-the-shelf product); ``lymphodepletion`` (``hospital``) at each
  ``infusion``; ``salvage_chemotherapy`` (``hospital``) at ``chemotherapy_start``; ``crs_grade1_2`` or
  ``crs_grade3plus`` (``toxicity``) at a ``crs`` event by its grade (grade 5 counts as 3+); ``icans``
  (``toxicity``) at an ``icans`` event of any grade; ``hsct_episode`` (``transplant``) at ``hsct``;
  ``graft_failure`` (``transplant``) at an ``hsct`` event whose chimerism is ``graft_failure``;
  ``agvhd_grade2`` or ``agvhd_grade3plus`` (``gvhd``) at an ``agvhd`` event of grade 2 (HSCT- or
  CAR-T-related) or 3-4 (grade 1 costs nothing extra); ``relapse_treatment`` (``disease``) at each
  ``relapse`` and at a ``response`` of ``no_response`` (treatment started at non-response, as the item's
  description in ``values.yaml`` says); ``end_of_life`` (``end_of_life``) at a death from disease;
- per day, over the days in hospital: ``icu_day`` (``hospital``) from the first ``icu_admission`` for
  ``icu_days``; ``cart_ward_day`` (``hospital``) from ``infusion_day`` for ``cart_stay_days``;
  ``hsct_extra_day`` (``transplant``) for the transplant days beyond :data:`HSCT_EPISODE_DAYS` (from
  ``hsct_day + 28`` to ``hsct_day + hsct_stay_days``), the first 28 being in the one-off ``hsct_episode``;
- per year, while in a state: ``follow_up_year_1`` then ``follow_up_year_later`` (``follow_up``) in
  remission, from a complete response (``response_day``) for one year and after it, until relapse or
  ``last_day`` (death or end of follow-up), leaving out the window :data:`HSCT_EPISODE_WINDOW` around a
  transplant that ``hsct_episode`` pays for; ``cgvhd_year`` (``gvhd``) from the ``cgvhd`` event until relapse
  or ``last_day``; ``relapsed_disease_year`` (``disease``) from the first of relapse, a response of
  ``no_response`` and progression before infusion (``dropout``) until ``last_day``.

Salvage after a relapse (DLI, a second CAR-T) has no item of its own: ``relapse_treatment`` stands for it.

**Life-years** run from enrolment (day 0 of each patient's timeline; ``enrol_day`` is a calendar day and is not
used) to ``last_day``. **QALYs** integrate the utility of each patient's
state over that time (``utility_set`` of the `ValueSet`); the states do not overlap and follow one another:

1. ``before_treatment`` from enrolment to the index treatment (``infusion_day``, or ``chemotherapy_start``
   under chemotherapy); a patient never treated stays in it until ``last_day``;
2. ``aplasia`` from the index treatment to the response assessment (``response_day``), or to HSCT or
   relapse if earlier, or to ``last_day`` if never assessed; also during the transplant stay
   (``hsct_day`` to ``hsct_day + hsct_stay_days``, conditioning and count recovery);
3. after a complete response, ``remission`` for one year (:data:`REMISSION_DAYS_BEFORE_LONG_TERM`), then
   ``long_term_remission``, both until HSCT, chronic GVHD, relapse or ``last_day``;
4. after HSCT, ``hsct_first_year`` from the end of the transplant stay to one year after ``hsct_day``, then
   ``long_term_remission``, both until chronic GVHD, relapse or ``last_day`` (the values file's meaning:
   long-term remission from a year after HSCT, or a year after CAR-T alone);
5. ``gvhd`` from the ``cgvhd`` event until relapse or ``last_day`` (acute GVHD has its cost, not a state);
6. ``relapsed_refractory`` from relapse or a response of ``no_response`` until ``last_day`` (no return to
   remission is modelled).

Event disutilities (the `ValueSet`'s ``qaly_losses`` convention, decrement × days) are held from the event
for ``disutility_days`` and cut at ``last_day``: ``severe_infection`` (fatal or not), ``crs_grade3plus``
(``crs`` of grade ≥ 3), ``icans`` (any grade); ``icu_stay`` over the actual ``icu_days`` from the first
``icu_admission``. The age-related decline takes ``age_decline_per_year`` × the years since enrolment off
every state's utility (an assumption: utilities are measured without an age gradient), integrated exactly.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.economics.discounting import discount_factor, discounted_totals, discounted_years
from sim.inputs.codes import CR_RESPONSES, DAYS_PER_YEAR, PATIENT_KEY, SUMMARY_COLUMNS
from sim.inputs.values import ValueSet
from sim.outcomes.estimators import Estimate, replication_interval

COST_CATEGORIES: tuple[str, ...] = ("product", "hospital", "transplant", "toxicity", "gvhd", "follow_up", "disease", "end_of_life")
"""Categories costs are reported by, in this order (``cost_<category>`` columns and metrics)."""

ITEM_CATEGORY: dict[str, str] = {
    "apheresis": "product", "cart_product": "product",
    "lymphodepletion": "hospital", "salvage_chemotherapy": "hospital", "icu_day": "hospital", "cart_ward_day": "hospital",
    "hsct_episode": "transplant", "hsct_extra_day": "transplant", "graft_failure": "transplant",
    "crs_grade1_2": "toxicity", "crs_grade3plus": "toxicity", "icans": "toxicity",
    "agvhd_grade2": "gvhd", "agvhd_grade3plus": "gvhd", "cgvhd_year": "gvhd",
    "follow_up_year_1": "follow_up", "follow_up_year_later": "follow_up",
    "relapse_treatment": "disease", "relapsed_disease_year": "disease",
    "end_of_life": "end_of_life",
}
"""The category of each cost item of `sim.inputs.values.COST_ITEMS`."""

PER_DAY_ITEMS: frozenset[str] = frozenset({"icu_day", "cart_ward_day", "hsct_extra_day"})
"""Items priced per day (``currency_per_day``): multiplied by ``DAYS_PER_YEAR`` to a cost per year."""

HSCT_EPISODE_DAYS = 28.0
"""Transplant inpatient days (days) the one-off ``hsct_episode`` includes; ``hsct_extra_day`` prices the rest
(SVC-LOS-HSCT: allo-HSCT primary stay median 28 d, the stay COST-HSCT-US's episode cost was measured on)."""
HSCT_EPISODE_WINDOW: tuple[float, float] = (-14.0, 100.0)
"""Days around ``hsct_day`` that ``hsct_episode`` covers (day −14 to +100, COST-HSCT-US), left out of
follow-up costs."""
REMISSION_DAYS_BEFORE_LONG_TERM = DAYS_PER_YEAR
"""Days (one year) in ``remission`` after a complete response without HSCT before ``long_term_remission``
(after HSCT, the first year is by definition ``hsct_first_year``). Assumption (range 1-2 years): ``values.yaml`` defines long-term
remission from one year; no source dates the move from "remission" (UTIL-AML-US) to "functionally cured"
(UTIL-AML-UK); a utility study following CAR-T and HSCT survivors over time would settle it."""
HSCT_FIRST_YEAR_DAYS = DAYS_PER_YEAR
"""Days after ``hsct_day`` (one year) at the end of which ``hsct_first_year`` gives way to ``long_term_remission``."""
FOLLOW_UP_FIRST_YEAR_DAYS = DAYS_PER_YEAR
"""Days after a complete response (one year) priced at ``follow_up_year_1``, ``follow_up_year_later`` after."""

_NEVER = np.inf
_SERIES_BELOW = 1e-3
"""Below this ``x``, the age integral's ratio is taken from its series (error under x⁴/144)."""


class _Timeline:
    """Each patient's days of the events the value models use, as arrays aligned with the patients table.

    A day that did not happen is ``inf`` (``_NEVER``); ``end`` is ``last_day``.
    """

    def __init__(self, patients: pd.DataFrame, events: pd.DataFrame) -> None:
        self.n = len(patients)
        keys = list(PATIENT_KEY)
        row = _rows_of(patients[keys], events[keys])
        kept = row >= 0  # events of patients not in the table are ignored
        self.row = row[kept].astype(np.intp)
        self.day = events["day"].to_numpy(float)[kept]
        self.event, self.detail = (_Coded(events[column], kept) for column in ("event", "detail"))

        def days(column: str) -> np.ndarray:
            values = patients[column].to_numpy(float)
            return np.where(np.isfinite(values), values, _NEVER)

        def flag(column: str) -> np.ndarray:
            return patients[column].to_numpy(bool)

        self.enrol = np.zeros(self.n)  # every day of the tables counts from the patient's enrolment (not enrol_day, a calendar day)
        self.end = patients["last_day"].to_numpy(float)
        response = patients["response"].astype(str).to_numpy()
        response_day = days("response_day")
        self.cr = np.where(np.isin(response, CR_RESPONSES), response_day, _NEVER)
        self.no_response = np.where(response == "no_response", response_day, _NEVER)
        self.response = response_day
        self.infusion = np.where(flag("infused"), days("infusion_day"), _NEVER)
        self.treatment = np.fmin(self.infusion, self.first("chemotherapy_start"))
        self.hsct = np.where(flag("hsct"), days("hsct_day"), _NEVER)
        self.hsct_stay = np.nan_to_num(patients["hsct_stay_days"].to_numpy(float), nan=0.0)
        self.cart_stay = np.nan_to_num(patients["cart_stay_days"].to_numpy(float), nan=0.0)
        self.icu_stay = np.nan_to_num(patients["icu_days"].to_numpy(float), nan=0.0)
        self.relapse = np.where(flag("relapse"), days("relapse_day"), _NEVER)
        self.refractory = np.fmin(self.relapse, self.no_response)
        self.cgvhd = self.first("cgvhd")
        self.dropout = self.first("dropout")
        self.icu_admission = self.first("icu_admission")

    def first(self, event: str) -> np.ndarray:
        """Day of each patient's first ``event`` (``inf`` if none)."""
        out = np.full(self.n, _NEVER)
        chosen = self.event.of(event)
        np.minimum.at(out, self.row[chosen], self.day[chosen])
        return out

    def grade(self) -> np.ndarray:
        """Grade of each event from its detail (``grade N...``); 0 where the detail has none."""
        labels = pd.Series(self.detail.labels, dtype=object)
        grades = labels.str.extract(r"^grade (\d)", expand=False).fillna("0").astype(int).to_numpy()
        return grades[self.detail.codes]


def _rows_of(patients: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """The row of ``patients`` each event belongs to (``-1`` for none), matching every key column: each column is
    coded by the patients' values, and the codes combine into one whole number per row."""
    patient_key = np.zeros(len(patients), dtype=np.int64)
    event_key = np.zeros(len(events), dtype=np.int64)
    missing = np.zeros(len(events), dtype=bool)
    for column in patients.columns:
        levels = pd.Index(pd.unique(patients[column]))
        patient_codes, event_codes = levels.get_indexer(pd.Index(patients[column])), levels.get_indexer(pd.Index(events[column]))
        missing |= event_codes < 0
        patient_key = patient_key * len(levels) + patient_codes
        event_key = event_key * len(levels) + np.maximum(event_codes, 0)
    row = pd.Index(patient_key).get_indexer(pd.Index(event_key))
    row[missing] = -1
    return row


class _Coded:
    """A text column of the event log as codes into its labels, compared by code (one pass over whole numbers).

    Parameters
    ----------
    column : pandas.Series
        ``event`` or ``detail`` (categorical in the contract tables; any text is coded once).
    kept : numpy.ndarray
        The rows to keep (events of patients in the table).
    """

    def __init__(self, column: pd.Series, kept: np.ndarray) -> None:
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes, labels = column.cat.codes.to_numpy(), [str(label) for label in column.cat.categories]
        else:
            factorized, uniques = pd.factorize(column.astype(str))
            codes, labels = factorized, [str(label) for label in uniques]
        if "" not in labels:
            labels.append("")
        self.labels = labels
        self._index = {label: code for code, label in enumerate(labels)}
        self.codes = np.where(codes < 0, self._index[""], codes)[kept]  # a missing entry reads as ""

    def of(self, label: str) -> np.ndarray:
        """Whether each entry is ``label``."""
        code = self._index.get(label)
        return self.codes == code if code is not None else np.zeros(self.codes.size, dtype=bool)


class _Charges:
    """Charges of one patient set: one-off amounts at a day, and amounts per year over intervals, by category."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.once: list[tuple[str, np.ndarray, np.ndarray, float]] = []
        self.flows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]] = []

    def add_once(self, category: str, row: np.ndarray, day: np.ndarray, amount: float) -> None:
        """``amount`` (currency) for each ``row`` at ``day`` (days)."""
        self.once.append((category, row, day, amount))

    def add_flow(self, category: str, start: np.ndarray, end: np.ndarray, per_year: float) -> None:
        """``per_year`` (currency per year) for every patient over ``[start, end)`` (days; empty where ``end <= start``)."""
        row, first, last = _intervals(start, end)
        self.flows.append((category, row, first, last, per_year))

    def totals(self, rate: float) -> dict[str, np.ndarray]:
        """Total per patient and category (currency), discounted at the annual ``rate``."""
        out = {category: np.zeros(self.n) for category in COST_CATEGORIES}
        for category, row, day, amount in self.once:
            out[category] += np.bincount(row, weights=amount * discount_factor(day, rate), minlength=self.n)
        for category, row, first, last, per_year in self.flows:
            out[category] += discounted_totals(row, first, last, np.full(row.size, per_year), rate, self.n)
        return out


def _intervals(start: npt.ArrayLike, end: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-empty intervals ``[start, end)`` as (patient index, start, end), dropping empty or never-starting ones."""
    start, end = np.broadcast_arrays(np.asarray(start, dtype=float), np.asarray(end, dtype=float))
    keep = np.isfinite(start) & (end > start)
    return np.flatnonzero(keep), start[keep], end[keep]


def _without(start: np.ndarray, end: np.ndarray, gap_start: np.ndarray, gap_end: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[start, end)`` minus ``[gap_start, gap_end)``, as two interval sets (before and after the gap; either may be empty)."""
    return [(start, np.minimum(end, gap_start)), (np.maximum(start, gap_end), end)]


def _keys(patients: pd.DataFrame) -> pd.DataFrame:
    return patients[list(PATIENT_KEY)].reset_index(drop=True)


def patient_costs(patients: pd.DataFrame, events: pd.DataFrame, values: ValueSet, setting: str) -> pd.DataFrame:
    """Costs of each patient by category, discounted and undiscounted (the conventions of the module docstring).

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table of a run (``PATIENT_COLUMNS``).
    events : pandas.DataFrame
        The event log of the same run (``EVENT_COLUMNS``); events of patients not in ``patients`` are ignored.
    values : ValueSet
        Value inputs: the setting's costs and ``product_charged_on``, and ``discount_costs``.
    setting : str
        Cost setting, e.g. ``us_payer``; costs are in its currency.

    Returns
    -------
    pandas.DataFrame
        One row per patient (in the order of ``patients``): the ``PATIENT_KEY``, ``cost_total`` and ``cost_<category>``
        discounted at ``discount_costs`` (currency), and the same with the suffix ``_undiscounted``.
    """
    return _costs(_Timeline(patients, events), patients, values, setting)


def _costs(t: _Timeline, patients: pd.DataFrame, values: ValueSet, setting: str) -> pd.DataFrame:
    """`patient_costs` over a timeline already read."""
    costs = values.costs(setting)
    charges = _Charges(t.n)

    def once(item: str, chosen: np.ndarray) -> None:
        charges.add_once(ITEM_CATEGORY[item], t.row[chosen], t.day[chosen], costs[item])

    def flow(item: str, start: np.ndarray, end: np.ndarray) -> None:
        per_year = costs[item] * (DAYS_PER_YEAR if item in PER_DAY_ITEMS else 1.0)
        charges.add_flow(ITEM_CATEGORY[item], start, end, per_year)

    event, detail, grade = t.event, t.detail, t.grade()
    infusion = event.of("infusion")
    once("apheresis", event.of("apheresis"))
    if values.product_charged_on(setting) == "manufacturing":
        released = event.of("product_release")
        has_release = np.zeros(t.n, dtype=bool)
        has_release[t.row[released]] = True
        once("cart_product", released | (infusion & ~has_release[t.row]))
    else:
        once("cart_product", infusion)
    once("lymphodepletion", infusion)
    once("salvage_chemotherapy", event.of("chemotherapy_start"))
    once("crs_grade1_2", (event.of("crs")) & (grade >= 1) & (grade <= 2))
    once("crs_grade3plus", (event.of("crs")) & (grade >= 3))
    once("icans", event.of("icans"))
    once("hsct_episode", event.of("hsct"))
    once("graft_failure", (event.of("hsct")) & (detail.of("graft_failure")))
    once("agvhd_grade2", (event.of("agvhd")) & (grade == 2))
    once("agvhd_grade3plus", (event.of("agvhd")) & (grade >= 3))
    once("relapse_treatment", (event.of("relapse")) | ((event.of("response")) & (detail.of("no_response"))))
    once("end_of_life", (event.of("death")) & (detail.of("disease")))

    flow("icu_day", t.icu_admission, t.icu_admission + t.icu_stay)
    flow("cart_ward_day", t.infusion, t.infusion + t.cart_stay)
    flow("hsct_extra_day", t.hsct + HSCT_EPISODE_DAYS, t.hsct + t.hsct_stay)

    remission_end = np.fmin(t.relapse, t.end)
    year_1_end = np.fmin(t.cr + FOLLOW_UP_FIRST_YEAR_DAYS, remission_end)
    window_start, window_end = t.hsct + HSCT_EPISODE_WINDOW[0], t.hsct + HSCT_EPISODE_WINDOW[1]
    for start, end in _without(t.cr, year_1_end, window_start, window_end):
        flow("follow_up_year_1", start, end)
    for start, end in _without(t.cr + FOLLOW_UP_FIRST_YEAR_DAYS, remission_end, window_start, window_end):
        flow("follow_up_year_later", start, end)
    flow("cgvhd_year", t.cgvhd, remission_end)
    flow("relapsed_disease_year", np.fmin(t.refractory, t.dropout), t.end)

    table = _keys(patients)
    for suffix, rate in (("", values.discount_costs), ("_undiscounted", 0.0)):
        totals = charges.totals(rate)
        table[f"cost_total{suffix}"] = sum(totals.values())
        for category in COST_CATEGORIES:
            table[f"cost_{category}{suffix}"] = totals[category]
    return table


def _state_intervals(t: _Timeline) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Start and end (days) per patient of each health state (the sequence of the module docstring); empty
    where ``end <= start``."""
    transplant_end = t.hsct + t.hsct_stay
    after_cr = np.fmin.reduce([t.hsct, t.cgvhd, t.refractory, t.end])
    after_hsct = np.fmin.reduce([t.cgvhd, t.refractory, t.end])
    long_after_cr = t.cr + REMISSION_DAYS_BEFORE_LONG_TERM
    long_after_hsct = t.hsct + HSCT_FIRST_YEAR_DAYS
    return {
        "before_treatment": (t.enrol, np.fmin.reduce([t.treatment, t.refractory, t.end])),
        "aplasia": (t.treatment, np.fmin.reduce([t.response, t.hsct, t.refractory, t.end])),
        "aplasia_transplant": (t.hsct, np.fmin(transplant_end, after_hsct)),
        "remission": (t.cr, np.fmin(long_after_cr, after_cr)),
        "long_term_remission": (long_after_cr, after_cr),
        "hsct_first_year": (transplant_end, np.fmin(long_after_hsct, after_hsct)),
        "long_term_remission_hsct": (np.fmax(long_after_hsct, transplant_end), after_hsct),
        "gvhd": (t.cgvhd, np.fmin(t.refractory, t.end)),
        "relapsed_refractory": (t.refractory, t.end),
    }


_STATE_UTILITY = {"aplasia_transplant": "aplasia", "long_term_remission_hsct": "long_term_remission"}
"""Intervals of `_state_intervals` valued by another state's utility (the same state at a second time)."""


def discounted_age_years(start: npt.ArrayLike, end: npt.ArrayLike, rate: float) -> np.ndarray:
    """``∫ (t − start) · (1 + rate) ** −t dt`` over ``[start, end)``, t in years: the discounted years lived,
    each weighted by the years since ``start``, for a utility falling linearly with age.

    With ``δ = ln(1 + rate)``, ``L`` the length in years and ``x = δ L`` it is
    ``exp(−δ start) · L² · (1 − exp(−x) (1 + x)) / x²``, the ratio taken as ``1/2 − x/3 + x²/8 − x³/30`` for
    small ``x`` (it is ``L² / 2`` at rate 0).

    Parameters
    ----------
    start, end : array_like
        Interval bounds, days since the origin; finite, ``end >= start``.
    rate : float
        Annual discount rate, ``0 <= rate < 1``.

    Returns
    -------
    numpy.ndarray
        The integral, in years² (years lived × years since ``start``).
    """
    start, end = np.broadcast_arrays(np.asarray(start, dtype=float), np.asarray(end, dtype=float))
    discounted_years(start, end, rate)  # the same validation of the rate and bounds
    delta = math.log1p(rate)
    length = (end - start) / DAYS_PER_YEAR
    x = delta * length
    small = x < _SERIES_BELOW
    safe = np.where(small, 1.0, x)
    ratio = np.where(small, 0.5 - x / 3 + x**2 / 8 - x**3 / 30, (-np.expm1(-safe) - safe * np.exp(-safe)) / safe**2)
    return np.exp(-delta * start / DAYS_PER_YEAR) * length**2 * ratio


def patient_qalys(patients: pd.DataFrame, events: pd.DataFrame, values: ValueSet, utility_set: str = "default") -> pd.DataFrame:
    """QALYs and life-years of each patient, discounted and undiscounted (the conventions of the module docstring).

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table of a run (``PATIENT_COLUMNS``).
    events : pandas.DataFrame
        The event log of the same run (``EVENT_COLUMNS``).
    values : ValueSet
        Value inputs: the utility set's states, disutilities and age decline, and ``discount_outcomes``.
    utility_set : str
        Utility set, e.g. ``default``.

    Returns
    -------
    pandas.DataFrame
        One row per patient (in the order of ``patients``): the ``PATIENT_KEY``, ``qalys`` and ``life_years`` discounted
        at ``discount_outcomes`` (QALYs, years), and ``qalys_undiscounted`` and ``life_years_undiscounted``.
    """
    return _qalys(_Timeline(patients, events), patients, values, utility_set)


def patient_values(patients: pd.DataFrame, events: pd.DataFrame, values: ValueSet, setting: str, utility_set: str) -> pd.DataFrame:
    """Costs by category, QALYs and life-years of each patient (one row per row of ``patients``), the tables read once.

    Parameters
    ----------
    patients, events : pandas.DataFrame
        The contract tables of a run.
    values : ValueSet
        Value inputs.
    setting, utility_set : str
        The cost setting and the utility set.

    Returns
    -------
    pandas.DataFrame
        ``PATIENT_KEY``, the columns of `patient_costs` (currency) and of `patient_qalys` (QALYs, years).
    """
    t = _Timeline(patients, events)
    costs = _costs(t, patients, values, setting)
    qalys = _qalys(t, patients, values, utility_set)
    return pd.concat([costs, qalys.drop(columns=list(PATIENT_KEY))], axis=1)


def _qalys(t: _Timeline, patients: pd.DataFrame, values: ValueSet, utility_set: str) -> pd.DataFrame:
    """`patient_qalys` over a timeline already read."""
    utilities = values.utilities(utility_set)
    decrements = values.disutilities(utility_set)
    durations = values.disutility_days(utility_set)
    decline = values.age_decline_per_year(utility_set)

    rows, starts, ends, levels = [], [], [], []

    def hold(start: np.ndarray, end: np.ndarray, per_year: float) -> None:
        row, first, last = _intervals(start, end)
        rows.append(row)
        starts.append(first)
        ends.append(last)
        levels.append(np.full(row.size, per_year))

    for state, (start, end) in _state_intervals(t).items():
        hold(start, end, utilities[_STATE_UTILITY.get(state, state)])
    grade = t.grade()
    for name, chosen in (
        ("severe_infection", t.event.of("severe_infection")),
        ("crs_grade3plus", (t.event.of("crs")) & (grade >= 3)),
        ("icans", t.event.of("icans")),
    ):
        day = t.day[chosen]
        index, first, last = _intervals(day, np.fmin(day + durations[name], t.end[t.row[chosen]]))
        rows.append(t.row[chosen][index])
        starts.append(first)
        ends.append(last)
        levels.append(np.full(first.size, -decrements[name]))
    hold(t.icu_admission, np.fmin(t.icu_admission + t.icu_stay, t.end), -decrements["icu_stay"])

    row, start, end, level = (np.concatenate(parts) for parts in (rows, starts, ends, levels))
    table = _keys(patients)
    for suffix, rate in (("", values.discount_outcomes), ("_undiscounted", 0.0)):
        ageing = decline * discounted_age_years(t.enrol, t.end, rate)
        table[f"qalys{suffix}"] = discounted_totals(row, start, end, level, rate, t.n) - ageing
        table[f"life_years{suffix}"] = discounted_years(t.enrol, t.end, rate)
    return table


def summarise_values(values_by_patient: pd.DataFrame) -> pd.DataFrame:
    """Mean costs, QALYs and life-years per scenario and strategy, with 95% intervals.

    With one replication the interval is the mean's t interval over patients (mean ± t(0.975, n − 1) · sd / √n);
    with several, the Monte Carlo interval across the replications' means
    (`sim.outcomes.estimators.replication_interval`), as in the run summary. Intervals are cut at 0 for costs
    and life-years (never negative); QALYs, which event disutilities may take below 0, are not cut.

    Parameters
    ----------
    values_by_patient : pandas.DataFrame
        `patient_costs` and `patient_qalys` of the same patients, joined on ``PATIENT_KEY``.

    Returns
    -------
    pandas.DataFrame
        Columns ``SUMMARY_COLUMNS`` (``scenario, strategy, metric, estimate, lower, upper``), metrics ``cost_total``,
        ``cost_<category>`` (currency), ``cost_total_undiscounted``, ``qalys``, ``qalys_undiscounted`` (QALYs),
        ``life_years``, ``life_years_undiscounted`` (years).
    """
    metrics = (
        "cost_total", *(f"cost_{category}" for category in COST_CATEGORIES), "cost_total_undiscounted",
        "qalys", "qalys_undiscounted", "life_years", "life_years_undiscounted",
    )
    records = []
    for (scenario, strategy), group in values_by_patient.groupby(["scenario", "strategy"], observed=True, sort=False):
        replications = group.groupby("replication", sort=True)
        for metric in metrics:
            if replications.ngroups == 1:
                result = replication_interval(group[metric].to_numpy(float))
            else:
                result = replication_interval(replications[metric].mean().to_numpy(float))
            if not metric.startswith("qalys"):
                result = Estimate(result.estimate, max(result.lower, 0.0), result.upper)
            records.append((scenario, strategy, metric, *result))
    return pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS))
