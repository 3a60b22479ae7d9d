"""Codes: every category, unit and column contract, defined once (DESIGN.md section 7).

The names and categories here are contracts: scripts and users rely on them.
Days count from each patient's enrolment; ``NaN`` marks an event that did not happen.
"""

from __future__ import annotations

DAYS_PER_YEAR = 365.25
"""Days in a year (Julian), for every conversion between days and years."""

DISEASES: tuple[str, ...] = ("AML", "T-ALL", "T-LBL")
RESPONSES: tuple[str, ...] = ("cr_mrd_neg", "cr_mrd_pos", "no_response", "not_assessed")
DEATH_CAUSES: tuple[str, ...] = (
    "disease", "infection", "crs", "icans", "gvhd", "other_nrm", "background", "none",
)
CR_RESPONSES: tuple[str, ...] = ("cr_mrd_neg", "cr_mrd_pos")

CHIMERISM: tuple[str, ...] = ("full_donor", "autologous_recovery", "graft_failure", "none")

CART_SOURCES: tuple[str, ...] = ("autologous", "donor_derived", "universal")
"""Where a CAR-T product comes from (the case mix's ``cart_source`` shares, a strategy's ``cart_source``)."""
CART_PRODUCTS: tuple[str, ...] = (*CART_SOURCES, "none")
"""Categories of ``cart_source`` in ``patients.parquet``: the product a strategy gives the patient,
``none`` under chemotherapy."""

RESOURCES: tuple[str, ...] = ("apheresis", "manufacturing", "cart_bed", "icu_bed", "transplant_bed", "donor_search")
"""Scarce resources a patient may wait for, in pathway order (``resources.csv``, ``wait_*`` columns)."""
WAITING_FOR: tuple[str, ...] = ("none", *RESOURCES)
"""Categories of ``waiting_for``: the queue a patient left the pathway from, if any."""
WAITING_EXITS: tuple[str, ...] = ("none", "dropout", "relapse", "death")
"""Categories of ``waiting_exit``: why (progression before infusion, relapse before HSCT, death)."""
WAIT_COLUMNS: tuple[str, ...] = tuple(f"wait_{resource}_days" for resource in RESOURCES)

ATTRIBUTE_COLUMNS: tuple[str, ...] = ("cart_source", "donor_available", "prior_hsct", "primary_refractory", "marrow_blasts")
"""The patient attributes that drive outcomes: the CAR-T product used (``CART_PRODUCTS``), a donor
available, a prior allo-HSCT, primary refractory disease (bool) and the marrow blast percentage
before treatment (float). All but ``cart_source`` are the same under every strategy."""
HOSPITAL_DAY_COLUMNS: tuple[str, ...] = ("cart_stay_days", "icu_days", "hsct_stay_days")
"""Days in hospital, as the beds were held for capacity planning, up to death or the end of
follow-up: on the CAR-T ward from infusion (the ward bed is kept during an ICU stay; ``NaN`` if not
infused, and under chemotherapy, which has no hospital-stay rule), in intensive care (0 if never),
and for the transplant (``NaN`` if not transplanted)."""

PATIENT_KEY: tuple[str, ...] = ("scenario", "strategy", "replication", "patient_id")
"""The columns that name one patient row (one patient under one strategy in one replication): the first
four of both ``PATIENT_COLUMNS`` and ``EVENT_COLUMNS``."""
PATIENT_COLUMNS: tuple[str, ...] = (
    *PATIENT_KEY, "disease", "age", "enrol_day",
    "infused", "infusion_day", "crs_grade", "icans_grade", "response", "response_day",
    "hsct", "hsct_day", "agvhd_grade", "cgvhd", "relapse", "relapse_day",
    "relapse_cd7_negative", "death", "death_day", "death_cause", "last_day", "chimerism",
    *WAIT_COLUMNS, "waiting_for", "waiting_exit", *ATTRIBUTE_COLUMNS, *HOSPITAL_DAY_COLUMNS,
)
"""Columns of ``patients.parquet``. Additions to DESIGN.md's list: ``response_day`` (day of the
response assessment, NaN when not assessed), needed to date progression for non-responders in
PFS; ``chimerism`` after HSCT (a calibration target, HU-CHIMERISM); and the waiting columns of
capacity planning: ``wait_<resource>_days`` (days from asking for the resource to getting it, or
to leaving the queue; NaN if never asked), ``waiting_for`` (the queue the patient left the
pathway from, ``none`` otherwise) and ``waiting_exit`` (why: ``dropout``, ``relapse``, ``death``).
The attribute and hospital-day columns (``ATTRIBUTE_COLUMNS``, ``HOSPITAL_DAY_COLUMNS``) are
DESIGN.md's wave-2 additions. MRD has no column of its own: ``response`` records it at the response
assessment (``cr_mrd_neg``, ``cr_mrd_pos``), the only MRD assessment the model makes, so it is also the
MRD status before HSCT (``mrd_before_hsct`` of issue 11) that raises relapse after transplant. The
context of a relapse needs no column either: a relapse of a transplanted patient (``relapse & hsct``)
is always after HSCT (a relapse before the planned day cancels the transplant), otherwise it is a
relapse from a remission without transplant."""
EVENT_COLUMNS: tuple[str, ...] = (*PATIENT_KEY, "day", "event", "detail")
EVENTS: tuple[str, ...] = (
    "enrolment", "apheresis", "manufacturing_start", "product_release", "dropout", "infusion",
    "chemotherapy_start", "crs", "icans", "severe_infection", "icu_admission", "agvhd", "response",
    "icu_discharge", "discharge", "hsct", "cgvhd", "relapse", "salvage", "death", "censored",
)
"""Categories of ``event`` in ``events.parquet``, in pathway order: events on the same day are logged in
this order."""
SALVAGE_LABELS: dict[str, str] = {"dli": "dli", "second_cart": "second CAR-T"}
"""How the event log names each salvage treatment of a relapse after HSCT (a strategy's
``salvage_after_hsct_relapse``)."""
EVENT_GRADES: tuple[str, ...] = tuple(f"grade {g}" for g in range(6))
"""The ``detail`` of a ``crs`` or ``icans`` event (grade 0-5), and the grade part of an ``agvhd`` event's."""
EVENT_DETAILS: tuple[str, ...] = (
    "", "released", "manufacturing failed", "progression before infusion", "CD7 CAR-T", *EVENT_GRADES,
    "fatal", "non-fatal", "grade 2, CAR-T-related", *(f"{g}, HSCT-related" for g in EVENT_GRADES[1:5]),
    *RESPONSES, *(c for c in CHIMERISM if c != "none"), "CD7-negative", "CD7-positive", *DEATH_CAUSES, "end of follow-up",
    "cart_ward", "transplant", *(f"{label}, {outcome}" for label in SALVAGE_LABELS.values() for outcome in ("responded", "no response")),
)
"""Categories of ``detail`` in ``events.parquet``: the grade, the response, the chimerism, the relapse's CD7
status, the cause of death, the reason for intensive care (a cause of death's label: ``crs``, ``icans``,
``infection``), the stay left (``cart_ward``, ``transplant``), whether a severe infection was fatal, whether
manufacturing failed, the salvage treatment of a relapse after HSCT and whether it worked; ``""`` where an
event has none."""

SUMMARY_COLUMNS: tuple[str, ...] = ("scenario", "strategy", "metric", "estimate", "lower", "upper")
OUTCOME_METRICS: tuple[str, ...] = ("os_1y", "os_2y", "itt_os_2y", "hsct_rate", "cr_rate")
"""Clinical outcomes of each PSA draw and strategy (fractions 0–1, as in ``summary.csv``)."""
VALUE_COLUMNS: dict[str, str] = {"cost": "cost_total", "qalys": "qalys", "life_years": "life_years"}
"""The PSA table's economic columns and the per-patient values they average."""
COMPARED_OUTCOMES: tuple[str, ...] = ("nmb", *VALUE_COLUMNS, *OUTCOME_METRICS)
"""Outcomes a DSA or GSA can compare; ``nmb`` is λ·QALYs − cost at the willingness to pay λ."""

SUBGROUPS: tuple[str, ...] = ("disease", "age_band", "status", "blasts")
"""Subgroup dimensions (the ``subgroup`` column of ``subgroups.csv``, ``cd7sim run --by``): disease,
age band at enrolment, primary refractory or relapsed disease, marrow blasts; each is defined, with its
levels, in `sim.outcomes.subgroups`."""
SUBGROUP_COLUMNS: tuple[str, ...] = (
    "scenario", "strategy", "subgroup", "level", "patients", "metric", "estimate", "lower", "upper",
)
"""Columns of ``subgroups.csv``: one row per strategy, subgroup dimension (``SUBGROUPS``), level and
headline metric. ``patients`` counts the patients of the level under that strategy, every replication
together; ``estimate, lower, upper`` are as in ``summary.csv`` (fractions 0-1), computed on those
patients only."""

RESOURCE_COLUMNS: tuple[str, ...] = ("scenario", "strategy", "resource", "capacity", "metric", "estimate", "lower", "upper")
"""Columns of ``resources.csv``: one row per strategy, resource and metric (95% interval across
replications; ``capacity`` is the scenario's setting, empty when unlimited)."""
