"""Hand-made courses for the plausibility rules: a patients table and its event log, written as a clinician
would describe a few patients.

`course(**changes)` is one patient row; by default a clean course — autologous CD7 CAR-T on day 50, MRD-negative
CR on day 78, conventional allo-HSCT on day 108, alive at the five-year horizon — that every rule accepts.
`tables(*courses)` builds both tables: the events follow from each row's columns (enrolment, apheresis,
infusion or chemotherapy start, CRS and ICANS, response, HSCT, GVHD, relapse, death or censoring), plus the
events a course adds (``add=[(event, day, detail), ...]``), less those it drops (``drop=[event, ...]``).
"""

from __future__ import annotations

import math

import pandas as pd

from sim.inputs.codes import DAYS_PER_YEAR, EVENT_COLUMNS, PATIENT_COLUMNS, WAIT_COLUMNS

HORIZON = 5 * DAYS_PER_YEAR
NAN = math.nan
INFUSION, RESPONSE, HSCT = 50.0, 78.0, 108.0
CGVHD_AFTER_HSCT = 150.0

CLEAN: dict[str, object] = {
    "scenario": "test", "strategy": "cart_bridge_allo", "replication": 0, "disease": "T-ALL", "age": 30.0,
    "enrol_day": 0.0, "infused": True, "infusion_day": INFUSION, "crs_grade": 1, "icans_grade": 0,
    "response": "cr_mrd_neg", "response_day": RESPONSE, "hsct": True, "hsct_day": HSCT, "agvhd_grade": 0,
    "cgvhd": False, "relapse": False, "relapse_day": NAN, "relapse_cd7_negative": False, "death": False,
    "death_day": NAN, "death_cause": "none", "last_day": HORIZON, "chimerism": "full_donor",
    **{name: NAN for name in WAIT_COLUMNS}, "waiting_for": "none", "waiting_exit": "none",
    "cart_source": "autologous", "donor_available": True, "prior_hsct": False, "primary_refractory": False,
    "marrow_blasts": 30.0, "cart_stay_days": 7.0, "icu_days": 0.0, "hsct_stay_days": 28.0,
}
assert set(CLEAN) == set(PATIENT_COLUMNS) - {"patient_id"}


def course(add: list[tuple[str, float, str]] | None = None, drop: list[str] | None = None, **changes: object) -> dict:
    """One patient row: the clean course with ``changes``; ``add`` and ``drop`` change its event log."""
    unknown = set(changes) - set(CLEAN)
    assert not unknown, unknown
    return {**CLEAN, **changes, "_add": add or [], "_drop": drop or []}


def not_transplanted(**changes: object) -> dict:
    """A clean course without a transplant (no HSCT day, chimerism or transplant stay)."""
    return course(**{"hsct": False, "hsct_day": NAN, "chimerism": "none", "hsct_stay_days": NAN, **changes})


def chemotherapy(**changes: object) -> dict:
    """A clean course under salvage chemotherapy: no CAR-T product, toxicity or ward stay; CR and transplant."""
    return course(**{"strategy": "chemo_allo", "cart_source": "none", "crs_grade": 0, "cart_stay_days": NAN, **changes})


def dead(day: float, cause: str, **changes: object) -> dict:
    """A clean course (with ``changes``) ending in death on ``day`` from ``cause``."""
    return {"death": True, "death_day": day, "death_cause": cause, "last_day": day, **changes}


def _events(row: dict) -> list[tuple[str, float, str]]:
    """The event log a patient row implies."""
    def happened(day: object) -> bool:
        return isinstance(day, float) and not math.isnan(day)

    events = [("enrolment", 0.0, "")]
    infusion = row["infusion_day"]
    if row["cart_source"] != "none":
        events.append(("apheresis", 5.0, ""))
    if happened(infusion):
        events.append(("chemotherapy_start", infusion, "") if row["cart_source"] == "none" else ("infusion", infusion, "CD7 CAR-T"))
        for toxicity in ("crs", "icans"):
            if row[f"{toxicity}_grade"] > 0:
                events.append((toxicity, infusion + 2, f"grade {row[f'{toxicity}_grade']}"))
    if happened(row["response_day"]):
        events.append(("response", row["response_day"], row["response"]))
    hsct = row["hsct_day"]
    if happened(hsct):
        events.append(("hsct", hsct, row["chimerism"]))
    if row["agvhd_grade"] > 0:
        events.append(("agvhd", hsct + 20, f"grade {row['agvhd_grade']}, HSCT-related") if happened(hsct)
                      else ("agvhd", infusion + 14, "grade 2, CAR-T-related"))
    if row["cgvhd"]:
        events.append(("cgvhd", hsct + CGVHD_AFTER_HSCT, ""))
    if happened(row["relapse_day"]):
        events.append(("relapse", row["relapse_day"], "CD7-negative" if row["relapse_cd7_negative"] else "CD7-positive"))
    events.append(("death", row["death_day"], row["death_cause"]) if row["death"] else ("censored", row["last_day"], "end of follow-up"))
    return [event for event in events if event[0] not in row["_drop"]] + row["_add"]


def tables(*courses: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The patients table and event log of ``courses`` (patient ids 0, 1, ... in order)."""
    rows, log = [], []
    for patient_id, row in enumerate(courses):
        rows.append({**{k: v for k, v in row.items() if not k.startswith("_")}, "patient_id": patient_id})
        log += [(row["scenario"], row["strategy"], row["replication"], patient_id, day, event, detail)
                for event, day, detail in _events(row)]
    patients = pd.DataFrame(rows)[list(PATIENT_COLUMNS)]
    events = pd.DataFrame(log, columns=list(EVENT_COLUMNS)).sort_values(["patient_id", "day"], kind="stable")
    return patients, events.reset_index(drop=True)
