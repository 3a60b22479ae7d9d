"""Resolved courses → the patients table and the event log (DESIGN.md section 7)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.disease.course import Course, Plan
from sim.disease.patients import PatientAttributes
from sim.inputs.codes import (
    ATTRIBUTE_COLUMNS,
    CART_PRODUCTS,
    CHIMERISM,
    DEATH_CAUSES,
    DISEASES,
    EVENT_COLUMNS,
    EVENT_DETAILS,
    EVENT_GRADES,
    EVENTS,
    HOSPITAL_DAY_COLUMNS,
    PATIENT_COLUMNS,
    RESPONSES,
    SALVAGE_LABELS,
    WAIT_COLUMNS,
    WAITING_EXITS,
    WAITING_FOR,
)


class PatientsTable:
    """The patients table of one replication, every strategy, filled a block of patients at a time.

    Each column is allocated once, whole (``n`` patients x the strategies, strategy after strategy),
    on the first block that brings it, and every block is copied into its place: the engine's columns
    of a block can be freed as soon as they are put, so that only the table is ever whole in memory.

    Parameters
    ----------
    scenario : str
        Scenario name.
    replication : int
        Replication index.
    strategies : list of str
        The strategies, in order.
    n : int
        Patients per strategy.
    enrol_day : ndarray, optional
        Calendar day of each patient's enrolment (default: day 0 for everyone).
    """

    def __init__(self, scenario: str, replication: int, strategies: list[str], n: int, enrol_day: np.ndarray | None = None) -> None:
        self.scenario, self.replication, self.strategies, self.n = scenario, replication, strategies, n
        self.enrol_day = enrol_day
        self._columns: dict[str, np.ndarray] = {}

    def put(self, strategy: int, part: slice, attributes: PatientAttributes, columns: dict[str, np.ndarray]) -> None:
        """Copy the resolved course columns of the patients ``part`` under the ``strategy``-th strategy
        (hospital days and waits included), and their attributes."""
        rows = slice(strategy * self.n + part.start, strategy * self.n + part.stop)
        own = {name: getattr(attributes, name) for name in ("disease", "age", *ATTRIBUTE_COLUMNS) if name != "cart_source"}
        for name, values in (*columns.items(), *own.items()):
            column = self._columns.get(name)
            if column is None:
                column = self._columns[name] = np.empty(self.n * len(self.strategies), dtype=values.dtype)
            if values.dtype != column.dtype:
                raise TypeError(f"column {name!r} is {values.dtype} in one block and {column.dtype} in another")
            column[rows] = values

    def frame(self) -> pd.DataFrame:
        """The table, with the contract's columns and types (the columns are not copied)."""
        n, k, c = self.n, len(self.strategies), self._columns
        frame = pd.DataFrame({
            "scenario": _constant(self.scenario, n * k),
            "strategy": _from_codes(np.repeat(np.arange(k, dtype=np.int16), n), categories=self.strategies),
            "replication": np.full(n * k, self.replication, dtype=np.int32),
            "patient_id": np.tile(np.arange(n, dtype=np.int64), k),
            "disease": _from_codes(c["disease"], categories=list(DISEASES)),
            "age": c["age"],
            "enrol_day": np.zeros(n * k) if self.enrol_day is None else np.tile(self.enrol_day, k),
            **{name: c[name] for name in ("infused", "infusion_day", "crs_grade", "icans_grade")},
            "response": _from_codes(c["response"], categories=list(RESPONSES)),
            **{name: c[name] for name in ("response_day", "hsct", "hsct_day", "agvhd_grade", "cgvhd", "relapse",
                                          "relapse_day", "relapse_cd7_negative", "death", "death_day")},
            "death_cause": _from_codes(c["death_cause"], categories=list(DEATH_CAUSES)),
            "last_day": c["last_day"],
            "chimerism": _from_codes(c["chimerism"], categories=list(CHIMERISM)),
            **{name: c[name] for name in WAIT_COLUMNS},
            "waiting_for": _from_codes(c["waiting_for"], categories=list(WAITING_FOR)),
            "waiting_exit": _from_codes(c["waiting_exit"], categories=list(WAITING_EXITS)),
            "cart_source": _from_codes(c["cart_source"], categories=list(CART_PRODUCTS)),
            **{name: c[name] for name in ATTRIBUTE_COLUMNS if name != "cart_source"},
            **{name: c[name] for name in HOSPITAL_DAY_COLUMNS},
        }, copy=False)  # the columns are the table's own: no consolidating copy
        return frame[list(PATIENT_COLUMNS)]


def events_frame(
    scenario: str, replication: int, plan: Plan, course: Course, strategies: list[str], first_patient: int = 0,
) -> pd.DataFrame:
    """The event log of one strategy and replication (or of a block of its patients starting at
    ``first_patient``), sorted by patient, day and pathway order."""
    c = course.columns
    n = plan.attributes.n
    is_cart = plan.strategy.index_therapy == "cart"
    code = DETAIL_CODE
    grade = _codes(EVENT_GRADES)
    hsct_detail = _codes(CHIMERISM)[plan.chimerism]
    log = course.log_days()
    salvage = plan.strategy.salvage_after_hsct_relapse
    salvage_detail = code[""] if salvage == "none" else np.where(
        plan.after_transplant.salvage_response, code[f"{SALVAGE_LABELS[salvage]}, responded"],
        code[f"{SALVAGE_LABELS[salvage]}, no response"])
    # each event's detail as its code among EVENT_DETAILS (one number, or one per patient)
    rows: list[tuple[str, np.ndarray, np.ndarray | int]] = [
        ("enrolment", np.zeros(n), code[""]),
        ("apheresis", log["apheresis"], code[""]),
        ("manufacturing_start", log["manufacturing_start"], code[""]),
        ("product_release", log["product_release"],
         np.where(plan.manufacturing_failed, code["manufacturing failed"], code["released"])),
        ("dropout", log["dropout"], code["progression before infusion"]),
        ("infusion" if is_cart else "chemotherapy_start", c["infusion_day"], code["CD7 CAR-T" if is_cart else ""]),
        ("crs", log["crs"], grade[c["crs_grade"]]),
        ("icans", log["icans"], grade[c["icans_grade"]]),
        ("severe_infection", log["severe_infection"], np.where(log["infection_fatal"], code["fatal"], code["non-fatal"])),
        ("severe_infection", log["other_fatal_infection"], code["fatal"]),
        ("icu_admission", log["icu_admission"], _codes(DEATH_CAUSES)[plan.icu_cause]),
        ("icu_discharge", log["icu_discharge"], code[""]),
        ("discharge", log["cart_ward_discharge"], code["cart_ward"]),
        ("agvhd", course.car_t_gvhd_day, code["grade 2, CAR-T-related"]),
        ("agvhd", course.agvhd_day, _codes([f"{label}, HSCT-related" for label in EVENT_GRADES])[plan.agvhd_grade]),
        ("response", c["response_day"], _codes(RESPONSES)[c["response"]]),
        ("hsct", c["hsct_day"], hsct_detail),
        ("discharge", log["transplant_discharge"], code["transplant"]),
        ("cgvhd", course.cgvhd_day, code[""]),
        ("relapse", c["relapse_day"], np.where(c["relapse_cd7_negative"], code["CD7-negative"], code["CD7-positive"])),
        ("salvage", np.where(c["hsct"], c["relapse_day"], np.nan) if salvage != "none" else np.full(n, np.nan), salvage_detail),
        ("death", c["death_day"], _codes(DEATH_CAUSES)[c["death_cause"]]),
        ("censored", np.where(c["death"], np.nan, c["last_day"]), code["end of follow-up"]),
    ]
    patient, day, event, detail = [], [], [], []
    for name, days, details in rows:
        keep = ~np.isnan(days)
        patient.append(np.flatnonzero(keep) + first_patient)
        day.append(days[keep])
        event.append(np.full(keep.sum(), EVENTS.index(name), dtype=np.int8))
        detail.append(np.broadcast_to(np.asarray(details, dtype=np.int16), (n,))[keep])
    patient_ids, days, events, details = (np.concatenate(a) for a in (patient, day, event, detail))
    order = np.lexsort((events, days, patient_ids))
    m = order.size
    frame = pd.DataFrame({
        "scenario": _constant(scenario, m),
        "strategy": _constant(plan.strategy.name, m, strategies),
        "replication": np.full(m, replication, dtype=np.int32),
        "patient_id": patient_ids[order].astype(np.int64),
        "day": days[order],
        "event": pd.Categorical.from_codes(events[order], dtype=EVENT_DTYPE),
        "detail": pd.Categorical.from_codes(details[order], dtype=DETAIL_DTYPE),
    })
    return frame[list(EVENT_COLUMNS)]


EVENT_DTYPE = pd.CategoricalDtype(list(EVENTS))
"""The type of ``events.parquet``'s ``event`` column (made once)."""
DETAIL_DTYPE = pd.CategoricalDtype(list(EVENT_DETAILS))
"""The type of ``events.parquet``'s ``detail`` column (made once)."""
DETAIL_CODE: dict[str, int] = {label: code for code, label in enumerate(EVENT_DETAILS)}
"""Each detail's code among :data:`EVENT_DETAILS`."""


def _codes(labels: Sequence[str]) -> np.ndarray:
    """The codes of ``labels`` among :data:`EVENT_DETAILS`, as an array to index by a column of codes (a label that is
    never a detail, such as the chimerism ``none`` of a patient never transplanted, reads as ``""``)."""
    return np.array([DETAIL_CODE.get(label, DETAIL_CODE[""]) for label in labels], dtype=np.int16)


def _from_codes(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical[str]:
    """``pandas.Categorical.from_codes`` with the categories given as the Index pandas makes of them."""
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories))


def _constant(label: str, n: int, categories: list[str] | None = None) -> pd.Categorical[str]:
    """A categorical column holding one label ``n`` times (among ``categories``, default just it)."""
    categories = categories or [label]
    return _from_codes(np.full(n, categories.index(label), dtype=np.int16), categories=categories)
