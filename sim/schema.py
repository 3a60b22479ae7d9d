"""Column contracts of the tables that `cd7sim run` writes (DESIGN.md section 7).

The names and categories here are contracts: scripts and users rely on them.
Days count from each patient's enrolment; ``NaN`` marks an event that did not happen.
"""

from __future__ import annotations

DISEASES: tuple[str, ...] = ("AML", "T-ALL", "T-LBL")
RESPONSES: tuple[str, ...] = ("cr_mrd_neg", "cr_mrd_pos", "no_response", "not_assessed")
DEATH_CAUSES: tuple[str, ...] = (
    "disease", "infection", "crs", "icans", "gvhd", "other_nrm", "background", "none",
)
CR_RESPONSES: tuple[str, ...] = ("cr_mrd_neg", "cr_mrd_pos")

PATIENT_COLUMNS: tuple[str, ...] = (
    "scenario", "strategy", "replication", "patient_id", "disease", "age", "enrol_day",
    "infused", "infusion_day", "crs_grade", "icans_grade", "response", "response_day",
    "hsct", "hsct_day", "agvhd_grade", "cgvhd", "relapse", "relapse_day",
    "relapse_cd7_negative", "death", "death_day", "death_cause", "last_day", "chimerism",
)
"""Columns of ``patients.parquet``. Two are additions to DESIGN.md's list: ``response_day``
(day of the response assessment, NaN when not assessed), needed to date progression for
non-responders in PFS, and ``chimerism`` after HSCT (a calibration target, HU-CHIMERISM)."""
CHIMERISM: tuple[str, ...] = ("full_donor", "autologous_recovery", "graft_failure", "none")

EVENT_COLUMNS: tuple[str, ...] = (
    "scenario", "strategy", "replication", "patient_id", "day", "event", "detail",
)

SUMMARY_COLUMNS: tuple[str, ...] = ("scenario", "strategy", "metric", "estimate", "lower", "upper")
