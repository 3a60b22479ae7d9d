"""``cd7sim report``: one self-contained HTML document from a run folder (and optionally a PSA folder).

The report reads what ``cd7sim run`` wrote (README, "Output files"), the package's parameter registry, value
inputs and calibration files, EVIDENCE.md when at hand, and a PSA folder (``psa.parquet``,
``parameters.parquet``) or the folder ``cd7sim cea`` wrote (``icers.csv``, ``ceac.csv``, ``evpi.csv``,
``evppi.csv``), whichever files exist; what is missing is said in the report. Figures are drawn with the
library's own functions and embedded as PNG (base64); the pathway diagram is inline SVG. Nothing is fetched
when the report is read: no scripts, fonts or images from elsewhere.

The same inputs give the same bytes: no clock time is written, PNGs carry no metadata, every table is in a
fixed order and every id is fixed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from matplotlib.figure import Figure

from sim import __version__
from sim.economics.evaluation import Evaluation
from sim.inputs.errors import MISSING, InputError
from sim.inputs.parameters import BetaCounts, FixedDist, GammaDist, LogNormalDist, Parameter, UniformDist, load_parameters
from sim.inputs.paths import CALIBRATION_DIR
from sim.inputs.scenario import Scenario, builtin_scenarios
from sim.inputs.values import BetaMeanSd, Entry
from sim.outcomes.endpoints import HEADLINE_METRICS
from sim.report.checklists import RunFacts, cheers, stress_des
from sim.report.decision_plots import plot_ce_plane as plot_psa_plane
from sim.report.decision_plots import plot_ceac, plot_evpi, plot_evppi, plot_expected_loss
from sim.report.economics_plots import plot_ce_plane, plot_costs
from sim.report.evidence import Source, read_evidence, shown_path
from sim.report.pathway import pathway_svg
from sim.report.plots import plot_fit, plot_flow, plot_survival, plot_waits
from sim.report.text import HEADLINE_TITLES, SUBGROUP_TITLES
from sim.uncertainty.decision import PSA, acceptability, default_wtp_grid, evpi_table, incremental_table
from sim.uncertainty.psa_folder import PARAMETERS_FILE, PSA_FILE, read_psa_folder

TEMPLATE = "report.html.j2"
"""The report's template, in ``sim/report/templates``."""
GENERATOR = f"cd7sim {__version__} report"
"""The ``generator`` meta tag: marks a file as a report (only such a file is overwritten)."""
RUN_JSON = "run.json"
NO_COMMIT = "not recorded in run.json (an installed package, or a run.json from before it was recorded)"
"""What the report says of a run without its code's commit."""
CEA_FILES: tuple[str, ...] = ("icers.csv", "ceac.csv", "evpi.csv", "evppi.csv")
"""What ``cd7sim cea`` writes that the report reads."""
SENSITIVITY_FIGURES: dict[str, str] = {"tornado.png": "One-way sensitivity: the inputs that move the decision most (cd7sim dsa)",
                                       "two_way.png": "Two-way sensitivity: the best strategy over two inputs (cd7sim dsa)"}
"""Figures of ``cd7sim dsa`` embedded as they are, with their captions."""
SENSITIVITY_FILES: dict[str, str] = {"tornado.csv": "One-way sensitivity analysis (tornado, cd7sim dsa)",
                                     "morris.csv": "Morris screening (elementary effects, cd7sim gsa)",
                                     "sobol.csv": "Sobol sensitivity indices (cd7sim gsa --method sobol)"}
"""Sensitivity tables a PSA folder may hold, shown as tables when present."""
CALIBRATION_FILES: tuple[str, ...] = ("fit.csv", "validation.csv", "known_misfits.csv", "identifiability.csv")
"""The committed calibration files the report reads."""
FIGURE_DPI = 100
"""Resolution of the embedded figures, dots per inch."""
SHOWN_SENSITIVITY_ROWS = 30
"""Rows of a sensitivity table shown (the first, in the file's order)."""

SUMMARY_LABELS: dict[str, str] = {
    "n_patients": "Patients", "infused_rate": "Infused (of enrolled)", "cr_rate": "Complete remission (of infused)",
    "mrd_neg_cr_rate": "MRD-negative CR (of infused)", "crs_any": "CRS, any grade", "crs_grade3plus": "CRS grade ≥ 3",
    "icans_any": "ICANS, any grade", "hsct_rate": "Transplanted (of infused)",
    "median_days_infusion_to_hsct": "Median days infusion → HSCT", "agvhd_grade2plus": "Acute GVHD grade ≥ 2 (of transplanted)",
    "agvhd_grade3plus": "Acute GVHD grade ≥ 3 (of transplanted)", "cgvhd": "Chronic GVHD (of transplanted)",
    "os_6m": "Overall survival 6 months", "os_1y": "Overall survival 1 year", "os_2y": "Overall survival 2 years",
    "pfs_6m": "Progression-free survival 6 months", "pfs_1y": "Progression-free survival 1 year",
    "median_os_days": "Median overall survival, days", "median_pfs_days": "Median progression-free survival, days",
    "dfs_1y": "Disease-free survival 1 year (in CR)", "os_post_hsct_2y": "Survival 2 years after HSCT",
    "lfs_post_hsct_2y": "Leukaemia-free survival 2 years after HSCT", "nrm_post_hsct_2y": "Non-relapse mortality 2 years after HSCT",
    "cir_post_hsct_2y": "Relapse 2 years after HSCT (cumulative incidence)", "itt_os_1y": "Survival 1 year from referral",
    "itt_os_2y": "Survival 2 years from referral", "relapse_cd7_negative_share": "CD7-negative share of relapses",
    "dropout_while_waiting": "Progressed before infusion while waiting", "relapse_while_waiting": "Relapsed while waiting",
    "death_while_waiting": "Died while waiting",
}
"""Row label of each metric of ``summary.csv``, in the order shown."""
NOT_SHARES = frozenset({"n_patients", "median_days_infusion_to_hsct", "median_os_days", "median_pfs_days"})
"""Metrics of ``summary.csv`` that are counts or days, not fractions."""
RESOURCE_METRICS: dict[str, str] = {
    "requests_per_year": "Requests / year", "mean_wait_days": "Mean wait, days", "p95_wait_days": "95th centile wait, days",
    "mean_in_use": "Mean in use", "peak_in_use": "Peak in use", "utilisation": "Utilisation",
    "bed_days_per_year": "Bed-days / year",
}
"""Columns of the resource table: metrics of ``resources.csv``."""
ECONOMIC_METRICS: dict[str, str] = {
    "cost_total": "Cost", "qalys": "QALYs", "life_years": "Life-years", "cost_total_undiscounted": "Cost, undiscounted",
    "qalys_undiscounted": "QALYs, undiscounted", "life_years_undiscounted": "Life-years, undiscounted",
}
"""Columns of the economic table: metrics of ``economics.csv``."""


# --- reading ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunFolder:
    """What a run folder holds.

    Attributes
    ----------
    path : Path
        The folder, as given.
    info : dict
        ``run.json``.
    scenario : Scenario
        The scenario as loaded (from ``run.json``).
    tables : dict of str to DataFrame
        The CSV and Parquet tables found, by file name.
    missing : tuple of str
        Files of a run folder that are not there.
    """

    path: Path
    info: dict[str, Any]
    scenario: Scenario
    tables: dict[str, pd.DataFrame]
    missing: tuple[str, ...]


RUN_TABLES: tuple[str, ...] = ("summary.csv", "subgroups.csv", "resources.csv", "economics.csv", "icers.csv",
                               "patients.parquet")
"""The tables of a run folder the report reads (``events.parquet`` is hashed, not read)."""


def read_run_folder(folder: Path) -> RunFolder:
    """The run folder ``folder`` as the report reads it.

    Raises
    ------
    InputError
        Naming ``RESULTS_DIR`` when the folder or its ``run.json`` is missing or unreadable, or when ``run.json``
        does not hold a scenario and the parameter values.
    """
    if not folder.is_dir():
        raise InputError("RESULTS_DIR", str(folder), "a folder written by cd7sim run is required")
    try:
        info = json.loads((folder / RUN_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("RESULTS_DIR", str(folder), f"a folder written by cd7sim run is required (it has no {RUN_JSON})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(str(folder / RUN_JSON), "an unreadable file",
                         f"the run's JSON record is required ({type(error).__name__})") from None
    if not isinstance(info, dict) or not isinstance(info.get("scenario"), dict) or not isinstance(info.get("parameters"), dict):
        raise InputError(str(folder / RUN_JSON), MISSING, "a run record with the scenario and the parameters is required")
    try:
        scenario = Scenario.model_validate(info["scenario"])
    except ValueError as error:
        raise InputError(str(folder / RUN_JSON), "scenario", f"a valid scenario is required ({type(error).__name__})") from None
    tables: dict[str, pd.DataFrame] = {}
    missing: list[str] = []
    for name in RUN_TABLES:
        path = folder / name
        if not path.is_file():
            missing.append(name)
            continue
        try:
            tables[name] = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
        except Exception as error:  # noqa: BLE001 - any reader failure is the file's fault, reported in one line
            raise InputError(str(path), "an unreadable file", f"the table cd7sim run wrote is required ({type(error).__name__})") from None
    if "summary.csv" not in tables:
        raise InputError("RESULTS_DIR", str(folder), "a folder written by cd7sim run is required (it has no summary.csv)")
    return RunFolder(folder, info, scenario, tables, tuple(missing))


@dataclass(frozen=True)
class PsaInputs:
    """What a PSA folder (or the folder ``cd7sim cea`` wrote) holds.

    Attributes
    ----------
    path : Path
    psa : PSA, optional
        The draws, when ``psa.parquet`` and ``parameters.parquet`` are there.
    tables : dict of str to DataFrame
        ``cd7sim cea``'s tables and the sensitivity tables found, by file name.
    computed : tuple of str
        ``cd7sim cea`` tables the report computed from the draws because the folder lacked them.
    missing : tuple of str
        Files looked for and not found (and not computed).
    figures : dict of str to Path
        The figures of ``cd7sim dsa`` found in the sensitivity folders (:data:`SENSITIVITY_FIGURES`), by file name.
    """

    path: Path
    psa: PSA | None
    tables: dict[str, pd.DataFrame]
    computed: tuple[str, ...]
    missing: tuple[str, ...]
    figures: dict[str, Path] = field(default_factory=dict)


def read_psa_inputs(folder: Path, wtps: Sequence[float], sensitivity: Sequence[Path] = ()) -> PsaInputs:
    """The uncertainty inputs of ``folder``: the draws, ``cd7sim cea``'s tables, the sensitivity tables.

    The incremental table, the acceptability curves and the EVPI are computed from the draws when the folder
    has the draws but not those tables (the EVPPI is not: it takes a regression per parameter; run
    ``cd7sim cea``). The sensitivity tables are looked for in ``folder`` and in the ``sensitivity`` folders (written
    by ``cd7sim dsa`` and ``cd7sim gsa``), the first found of each name kept.

    Raises
    ------
    InputError
        Naming ``--psa`` for a folder that is missing or holds none of the files; a malformed PSA table (see
        :func:`sim.uncertainty.psa_folder.read_psa_folder`).
    """
    if not folder.is_dir():
        raise InputError("--psa", str(folder), "a PSA folder (psa.parquet, parameters.parquet) or a cd7sim cea folder is required")
    known = (PSA_FILE, PARAMETERS_FILE, *CEA_FILES, *SENSITIVITY_FILES)
    if not any((folder / name).is_file() for name in known):
        raise InputError("--psa", str(folder), "a folder holding one of " + ", ".join(known) + " is required")
    psa = read_psa_folder(folder) if (folder / PSA_FILE).is_file() else None
    tables: dict[str, pd.DataFrame] = {}
    for name in (*CEA_FILES, *SENSITIVITY_FILES):
        where = [folder, *sensitivity] if name in SENSITIVITY_FILES else [folder]
        found = next((place / name for place in where if (place / name).is_file()), None)
        if found is not None:
            try:
                tables[name] = pd.read_csv(found)
            except Exception as error:  # noqa: BLE001 - any reader failure is the file's fault, reported in one line
                raise InputError(str(found), "an unreadable file", f"a CSV table is required ({type(error).__name__})") from None
    computed: list[str] = []
    if psa is not None:
        grid = sorted(set(default_wtp_grid(psa).tolist()) | set(wtps))
        derived: dict[str, Callable[[], pd.DataFrame]] = {
            "icers.csv": lambda: incremental_table(psa, list(wtps)), "ceac.csv": lambda: acceptability(psa, grid),
            "evpi.csv": lambda: evpi_table(psa, grid)}
        for name, compute in derived.items():
            if name not in tables:
                tables[name] = compute()
                computed.append(name)
    missing = [name for name in known if name not in tables and not (folder / name).is_file()]
    for place in sensitivity:
        if not place.is_dir():
            raise InputError("--sensitivity", str(place), "a folder written by cd7sim dsa or cd7sim gsa is required")
    figures = {name: place / name for name in reversed(SENSITIVITY_FIGURES) for place in reversed(sensitivity)
               if (place / name).is_file()}
    return PsaInputs(folder, psa, tables, tuple(computed), tuple(missing), dict(sorted(figures.items())))


# --- formatting -----------------------------------------------------------------------------------------------

def _finite(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(float(value))


def number(value: object, digits: int = 0) -> str:
    """``value`` with thousands separators and ``digits`` decimals; ``–`` when missing or not finite."""
    return f"{float(value):,.{digits}f}" if _finite(value) else "–"  # type: ignore[arg-type]


def significant(value: object) -> str:
    """``value`` to 4 significant digits (``–`` when missing)."""
    return f"{float(value):.4g}" if _finite(value) else "–"  # type: ignore[arg-type]


def with_interval(estimate: object, lower: object, upper: object, share: bool, digits: int = 0) -> str:
    """``72% (68–76)`` for a share, ``1,234 (1,100–1,400)`` otherwise; ``n/a`` without an estimate."""
    if not _finite(estimate):
        return "n/a"
    scale, unit = (100.0, "%") if share else (1.0, "")
    interval = (f" ({number(scale * float(lower), digits)}–{number(scale * float(upper), digits)})"  # type: ignore[arg-type]
                if _finite(lower) and _finite(upper) else "")
    return f"{number(scale * float(estimate), digits)}{unit}{interval}"  # type: ignore[arg-type]


def distribution_text(distribution: object) -> str:
    """A parameter's or value input's uncertainty distribution in words."""
    if isinstance(distribution, BetaCounts):
        events, n = distribution.events, distribution.n
        return f"Beta({events:g} + ½, {n - events:g} + ½) from {events:g}/{n:g}"
    if isinstance(distribution, BetaMeanSd):
        return f"Beta, mean {distribution.mean:g}, sd {distribution.sd:g}"
    if isinstance(distribution, GammaDist):
        return f"Gamma, mean {distribution.mean:g}, sd {distribution.sd:g}"
    if isinstance(distribution, LogNormalDist):
        return f"LogNormal, median {distribution.median:g}, σ {distribution.sigma:g}"
    if isinstance(distribution, UniformDist):
        return f"Uniform({distribution.low:g}, {distribution.high:g})"
    if isinstance(distribution, FixedDist):
        return "fixed"
    return str(distribution)


def png(figure: Figure) -> str:
    """``figure`` as a ``data:`` URI of a PNG without metadata (the same figure gives the same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hexadecimal."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- sections -------------------------------------------------------------------------------------------------

@dataclass
class FigureItem:
    """An embedded figure: its anchor id, caption and ``data:`` URI (or ``None``, with why, when it cannot be drawn)."""

    id: str
    caption: str
    uri: str | None
    absent: str = ""


@dataclass
class Table:
    """A table: header cells and rows of cells (text, escaped by the template)."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    note: str = ""


def _scenario_facts(scenario: Scenario, info: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The scenario in plain words, one (label, text) pair per line."""
    mix = scenario.case_mix
    facts = [("Scenario", f"{scenario.name}: {scenario.description}" if scenario.description else scenario.name)]
    if scenario.arrivals is None:
        facts.append(("Cohort", f"closed: {scenario.patients:,} patients per strategy, every one enrolled on day 0, "
                                f"the same patients under every strategy"))
    else:
        a = scenario.arrivals
        facts.append(("Cohort", f"open: {a.rate_per_year:g} referrals a year over {a.run_length_days:g} days after a warm-up of "
                                f"{a.warm_up_days:g} days"))
    facts += [
        ("Replications", f"{scenario.replications} (seed {scenario.seed}, engine {info.get('engine', 'des')})"),
        ("Horizon", f"{scenario.horizon_days:g} days ({scenario.horizon_days / 365.25:.3g} years) of follow-up"),
        ("Disease", ", ".join(f"{name} {100 * share:.1f}%" for name, share in mix.disease.items())),
        ("Age", _dump_text(mix.age.model_dump())),
        ("Primary refractory", f"{100 * mix.primary_refractory:.1f}%"),
        ("Prior allo-HSCT", f"{100 * mix.prior_hsct:.1f}%"),
        ("Marrow blasts (%)", _dump_text(mix.marrow_blasts.model_dump())),
        ("CAR-T product source", ", ".join(f"{name.replace('_', '-')} {100 * share:.1f}%" for name, share in mix.cart_source.items())),
        ("Donor available", f"{100 * mix.donor_available:.1f}%"),
        ("Capacity", ", ".join(f"{name.replace('_', ' ')} {'unlimited' if value is None else f'{value:g}'}"
                               for name, value in scenario.capacity.model_dump().items())),
        ("Parameters", "posterior means of the calibration (calibration/posterior.parquet)" if scenario.parameter_source == "posterior"
         else "prior values of calibration/parameters.yaml"),
        ("Parameter overrides", ", ".join(f"{k} = {v:g}" for k, v in sorted(scenario.parameters.items())) or "none"),
    ]
    return facts


def _dump_text(dump: Mapping[str, Any]) -> str:
    """A distribution of the case mix in words: ``truncnorm, mean 40, sd 18, low 3, high 75``."""
    kind = dump.get("distribution", "")
    rest = ", ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}" for key, value in dump.items()
                     if key != "distribution")
    return f"{kind}, {rest}" if kind else rest


def _strategy_table(scenario: Scenario, parameters: Mapping[str, float]) -> Table:
    rows = []
    for strategy in scenario.strategies:
        if strategy.hsct_platform == "none":
            uptake = interval = "–"
        else:
            names = strategy.transplant_parameters
            used_uptake = strategy.hsct_uptake if strategy.hsct_uptake is not None else parameters[names.uptake]
            used_interval = strategy.hsct_interval_days if strategy.hsct_interval_days is not None else parameters[names.interval_days]
            uptake, interval = f"{100 * used_uptake:.0f}%", f"{used_interval:.0f}"
        rows.append([strategy.name, strategy.description, strategy.index_therapy, strategy.cart_source, strategy.hsct_platform,
                     strategy.hsct_for, uptake, interval, f"{strategy.cd7_negative_multiplier:g}", strategy.salvage_after_hsct_relapse])
    return Table(["strategy", "description", "index therapy", "product source", "transplant", "who is transplanted",
                  "uptake", "days to HSCT", "CD7-negative multiplier", "salvage after HSCT relapse"], rows,
                 caption="The strategies compared, as the scenario defines them (uptake and interval: the strategy's own "
                         "or the parameter value used)")


def _evidence_cells(ids: Sequence[str], sources: Mapping[str, Source] | None) -> list[dict[str, str]]:
    """One entry per evidence id: the id and its source row (when EVIDENCE.md was read)."""
    cells = []
    for identifier in ids:
        source = sources.get(identifier) if sources is not None else None
        text = "" if identifier == "assumption" else (
            f"{source.section}: {source.text}" if source is not None else ("not found in EVIDENCE.md" if sources is not None else ""))
        cells.append({"id": identifier, "text": text})
    return cells


def _parameter_rows(info: Mapping[str, Any], registry: Mapping[str, Parameter],
                    sources: Mapping[str, Source] | None) -> list[dict[str, Any]]:
    """Every parameter value the run used, with its definition from the registry."""
    rows = []
    for name, value in info["parameters"].items():
        spec = registry.get(name)
        if spec is None:
            rows.append({"name": name, "value": significant(value), "changed": "", "unit": "", "distribution": "",
                         "evidence": [{"id": "not in parameters.yaml", "text": ""}], "assumption": "", "description": ""})
            continue
        prior = float(spec.value) if spec.value is not None else math.nan
        changed = "" if math.isclose(float(value), prior, rel_tol=1e-12, abs_tol=1e-15) else f"file: {significant(prior)}"
        assumption = (f"{spec.reason} Range {spec.range[0]:g}–{spec.range[1]:g}." if spec.is_assumption and spec.reason and spec.range
                      else "")
        rows.append({"name": name, "value": significant(value), "changed": changed, "unit": spec.unit,
                     "distribution": distribution_text(spec.distribution), "evidence": _evidence_cells(spec.evidence, sources),
                     "assumption": assumption, "description": " ".join(spec.description.split())})
    return rows


def _value_rows(scenario: Scenario, sources: Mapping[str, Source] | None) -> list[dict[str, Any]]:
    """The value inputs of the run's cost setting and utility set, and the discount rates, as used."""
    values = scenario.economics.value_set()
    prefixes = (f"cost_settings.{scenario.economics.cost_setting}.", f"utility_sets.{scenario.economics.utility_set}.", "discount_")
    rows = []
    for name, entry in values.entries.items():
        if not name.startswith(prefixes):
            continue
        rows.append(_value_row(name, entry, values[name], sources))
    return rows


def _value_row(name: str, entry: Entry, used: float, sources: Mapping[str, Source] | None) -> dict[str, Any]:
    changed = "" if used == entry.value else f"file: {significant(entry.value)}"
    assumption = (f"{entry.reason} Range {entry.range[0]:g}–{entry.range[1]:g}." if entry.is_assumption and entry.reason and entry.range
                  else "")
    return {"name": name, "value": significant(used), "changed": changed, "unit": entry.unit,
            "distribution": distribution_text(entry.distribution),
            "evidence": _evidence_cells(entry.evidence, sources), "assumption": assumption,
            "description": " ".join(entry.description.split())}


def _summary_table(summary: pd.DataFrame, strategies: Sequence[str]) -> Table:
    estimates = {(row.strategy, row.metric): (row.estimate, row.lower, row.upper) for row in summary.itertuples()}
    rows = []
    for metric, label in SUMMARY_LABELS.items():
        if not any((strategy, metric) in estimates for strategy in strategies):
            continue
        share = metric not in NOT_SHARES
        rows.append([label, *(with_interval(*estimates.get((s, metric), (math.nan,) * 3), share=share) for s in strategies)])
    return Table(["endpoint", *strategies], rows, caption="Clinical results by strategy: estimate (95% interval)",
                 note="Intervals: the estimator's own for one replication (Wilson; Kaplan–Meier log-log; Aalen–Johansen), "
                      "Monte Carlo across replications. OS and PFS from infusion; NRM and relapse from HSCT among transplanted patients.")


def _subgroup_tables(subgroups: pd.DataFrame) -> list[Table]:
    tables = []
    metrics = [metric for metric in HEADLINE_METRICS]
    for dimension, title in SUBGROUP_TITLES.items():
        rows_of = subgroups[subgroups["subgroup"] == dimension]
        if rows_of.empty:
            continue
        estimates = {(r.strategy, str(r.level), r.metric): (r.estimate, r.lower, r.upper, r.patients) for r in rows_of.itertuples()}
        keys = list(dict.fromkeys((str(r.strategy), str(r.level)) for r in rows_of.itertuples()))
        rows = []
        for strategy, level in keys:
            counts = [estimates[strategy, level, m][3] for m in metrics if (strategy, level, m) in estimates]
            cells = [with_interval(*estimates.get((strategy, level, m), (math.nan,) * 4)[:3], share=True) for m in metrics]
            rows.append([strategy, level, number(counts[0]) if counts else "–", *cells])
        tables.append(Table(["strategy", title, "patients", *(HEADLINE_TITLES[m] for m in metrics)], rows,
                            caption=f"Headline endpoints by {title}"))
    return tables


def _resource_table(resources: pd.DataFrame) -> Table | None:
    if resources.empty:
        return None
    estimates = {(str(r.strategy), str(r.resource), r.metric): (r.estimate, r.lower, r.upper) for r in resources.itertuples()}
    capacity = {(str(r.strategy), str(r.resource)): r.capacity for r in resources.itertuples()}
    rows = []
    for strategy, resource in dict.fromkeys((str(r.strategy), str(r.resource)) for r in resources.itertuples()):
        cap = capacity[strategy, resource]
        cells = []
        for metric in RESOURCE_METRICS:
            estimate = estimates.get((strategy, resource, metric), (math.nan,) * 3)
            cells.append(with_interval(*estimate, share=metric == "utilisation", digits=0 if metric == "utilisation" else 1))
        rows.append([strategy, resource.replace("_", " "), "unlimited" if not _finite(cap) else number(cap), *cells])
    return Table(["strategy", "resource", "capacity", *RESOURCE_METRICS.values()], rows,
                 caption="Resource use over the observation window: estimate (95% interval)",
                 note="Unlimited resources have no utilisation; their beds in use say what the load would occupy.")


def _economic_tables(economics: pd.DataFrame, icers: pd.DataFrame, currency: str) -> list[Table]:
    order = icers["strategy"].astype(str).tolist()
    estimates = {(str(r.strategy), r.metric): (r.estimate, r.lower, r.upper) for r in economics.itertuples()}
    rows = []
    for strategy in order:
        rows.append([strategy, *(with_interval(*estimates.get((strategy, m), (math.nan,) * 3), share=False,
                                               digits=0 if m.startswith("cost") else 2) for m in ECONOMIC_METRICS)])
    means = Table(["strategy", *(f"{label} ({currency})" if m.startswith("cost") else label for m, label in ECONOMIC_METRICS.items())],
                  rows, caption="Mean per patient (95% interval), in order of cost; costs and outcomes discounted unless said")
    nmb = [column for column in icers.columns if str(column).startswith("nmb_")]
    incremental = Table(["strategy", f"cost ({currency})", "QALYs", "inc. cost", "inc. QALYs", f"ICER ({currency}/QALY)", "status",
                         *(f"NMB at {number(float(c[4:]))}" for c in nmb)],
                        [[str(r["strategy"]), number(r["cost"]), number(r["qalys"], 3), number(r["inc_cost"]), number(r["inc_qalys"], 3),
                          number(r["icer"]), str(r["status"]), *(number(r[c]) for c in nmb)] for _, r in icers.iterrows()],
                        caption="Incremental analysis on the mean discounted costs and QALYs",
                        note="ND on the efficient frontier, D dominated, ED extendedly dominated; increments against the previous "
                             "frontier strategy; NMB = willingness to pay × QALYs − cost.")
    categories = [m for m in dict.fromkeys(economics["metric"].astype(str))
                  if m.startswith("cost_") and m not in ("cost_total", "cost_total_undiscounted")]
    by_category = Table(["category", *order], [[c[5:].replace("_", " "), *(number(estimates.get((s, c), (math.nan,))[0]) for s in order)]
                                              for c in categories],
                        caption=f"Mean discounted cost per patient by category ({currency})")
    return [means, incremental, by_category]


def _evaluation(run: RunFolder) -> Evaluation | None:
    """The run's economic evaluation, rebuilt from ``economics.csv``, ``icers.csv`` and ``run.json`` (for its figures)."""
    record = run.info.get("economics")
    if not isinstance(record, dict) or "economics.csv" not in run.tables or "icers.csv" not in run.tables:
        return None
    economics = run.scenario.economics
    return Evaluation(
        summary=run.tables["economics.csv"].astype({"strategy": str}), icers=run.tables["icers.csv"].astype({"strategy": str}),
        setting=str(record["cost_setting"]), perspective=str(record["perspective"]), currency=str(record["currency"]),
        price_year=int(record["price_year"]), utility_set=str(record["utility_set"]), horizon=economics.horizon,
        horizon_days=math.inf if economics.horizon == "lifetime" else run.scenario.horizon_days,
        discount_costs=float(record["discount_rate_costs_per_year"]), discount_outcomes=float(record["discount_rate_outcomes_per_year"]),
        product_charged_on=str(record["product_charged_on"]), wtp=tuple(float(v) for v in record["willingness_to_pay_per_qaly"]))


def _calibration(scenario: Scenario) -> dict[str, Any]:
    """The calibration section: the fit (figure and table), validation and known misfits, from the committed files."""
    found = {name: pd.read_csv(CALIBRATION_DIR / name) for name in CALIBRATION_FILES if (CALIBRATION_DIR / name).is_file()}
    section: dict[str, Any] = {"missing": [name for name in CALIBRATION_FILES if name not in found],
                               "used": scenario.parameter_source == "posterior", "figure": None, "tables": []}
    if "fit.csv" in found:
        fit = found["fit.csv"]
        section["figure"] = FigureItem("figure-fit", "Calibration targets (reported value, 95% CI where given) beside the model's "
                                       "prior mean and posterior 95% interval of its expected value", png(plot_fit(fit)))
        inside = ((fit["posterior_lower"] <= fit["reported"]) & (fit["reported"] <= fit["posterior_upper"])).sum()
        section["fit_summary"] = (f"{inside} of {len(fit)} reported values lie inside the posterior 95% interval of the model's "
                                  "expected value.")
    if "validation.csv" in found:
        validation = found["validation.csv"]
        rows = [[str(r["study"]), str(r["metric"]) + (f" ({r['subgroup']})" if isinstance(r["subgroup"], str) else ""),
                 str(r["evidence_id"]),
                 number(r["n"]), significant(r["reported"]), f"{significant(r['predicted_mean'])} ({significant(r['predicted_lower'])}–"
                 f"{significant(r['predicted_upper'])})", "yes" if bool(r["inside"]) else "NO"] for _, r in validation.iterrows()]
        inside = int(validation["inside"].astype(bool).sum())
        section["tables"].append(Table(["study", "target", "evidence", "n", "reported", "predicted mean (95% interval)", "inside"], rows,
                                       caption="Posterior predictive check: each study replayed at its own size",
                                       note=f"{inside} of {len(validation)} targets inside the model's 95% predictive interval."))
    if "known_misfits.csv" in found:
        misfits = found["known_misfits.csv"]
        section["tables"].append(Table(["study", "target", "why the model misses it"],
                                       [[str(r["study"]), str(r["metric"]), str(r["reason"])] for _, r in misfits.iterrows()],
                                       caption="Known misfits"))
    if "identifiability.csv" in found:
        informed = found["identifiability.csv"]
        count = int(informed["informed"].astype(bool).sum())
        section["identifiability"] = (f"{count} of {len(informed)} calibrated parameters are informed "
                                      "by the targets (posterior sd below 0.8 × prior sd); the rest stay near their priors.")
    return section


def _uncertainty(psa: PsaInputs | None, currency: str) -> dict[str, Any]:
    """The uncertainty section: figures and tables of what the PSA folder holds, and what it lacks."""
    if psa is None:
        return {"given": False}
    tables = psa.tables
    figures: list[FigureItem] = []
    if psa.psa is not None and "icers.csv" in tables:
        figures.append(FigureItem("figure-psa-plane", "Cost-effectiveness plane of the PSA draws and their means",
                                  png(plot_psa_plane(psa.psa, tables["icers.csv"], currency))))
    else:
        figures.append(FigureItem("figure-psa-plane", "Cost-effectiveness plane of the PSA draws", None,
                                  f"needs {PSA_FILE} and {PARAMETERS_FILE}"))
    if "ceac.csv" in tables:
        figures.append(FigureItem("figure-ceac", "Cost-effectiveness acceptability curves and frontier",
                                  png(plot_ceac(tables["ceac.csv"], currency))))
        if "expected_loss" in tables["ceac.csv"].columns:
            figures.append(FigureItem("figure-loss", "Expected loss of each strategy",
                                      png(plot_expected_loss(tables["ceac.csv"], currency))))
    else:
        figures.append(FigureItem("figure-ceac", "Cost-effectiveness acceptability curves", None, "needs ceac.csv or the PSA draws"))
    if "evpi.csv" in tables:
        figures.append(FigureItem("figure-evpi", "Expected value of perfect information per person",
                                  png(plot_evpi(tables["evpi.csv"], currency))))
    else:
        figures.append(FigureItem("figure-evpi", "Expected value of perfect information", None, "needs evpi.csv or the PSA draws"))
    if "evppi.csv" in tables:
        evppi = tables["evppi.csv"].astype({"parameters": str})
        figures.append(FigureItem("figure-evppi", "Expected value of partial perfect information per parameter group",
                                  png(plot_evppi(evppi, currency, tables.get("evpi.csv")))))
    else:
        figures.append(FigureItem("figure-evppi", "Expected value of partial perfect information", None,
                                  f"needs evppi.csv: run cd7sim cea {psa.path}"))
    for name, path in psa.figures.items():
        figures.append(FigureItem(f"figure-{name.removesuffix('.png').replace('_', '-')}", SENSITIVITY_FIGURES[name],
                                  "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")))
    extra = []
    for name, title in SENSITIVITY_FILES.items():
        if name in tables:
            table = tables[name]
            extra.append(Table([str(c) for c in table.columns],
                               [[significant(v) if _finite(v) else str(v) for v in row]
                                for row in table.head(SHOWN_SENSITIVITY_ROWS).itertuples(index=False)],
                               caption=f"{title} ({name}; first {min(len(table), SHOWN_SENSITIVITY_ROWS)} of {len(table)} rows)"))
    icers = tables.get("icers.csv")
    summary = None
    if icers is not None and {"cost_lower", "cost_upper", "qalys_lower", "qalys_upper"} <= set(icers.columns):
        summary = Table(["strategy", f"cost ({currency})", "QALYs", f"ICER ({currency}/QALY)", "status"],
                        [[str(r["strategy"]), with_interval(r["cost"], r["cost_lower"], r["cost_upper"], share=False),
                          with_interval(r["qalys"], r["qalys_lower"], r["qalys_upper"], share=False, digits=3), number(r["icer"]),
                          str(r["status"])]
                         for _, r in icers.iterrows()],
                        caption="Incremental analysis over the PSA draws: means (95% percentile intervals)")
    draws = "" if psa.psa is None else (f"{psa.psa.draws.size:,} draws of {len(psa.psa.strategies)} strategies and "
                                        f"{psa.psa.parameters.shape[1]} parameters")
    return {"given": True, "path": str(psa.path), "draws": draws, "figures": figures, "tables": extra, "summary": summary,
            "computed": list(psa.computed), "missing": list(psa.missing)}


def _limitations(scenario: Scenario, registry: Mapping[str, Parameter], info: Mapping[str, Any], has_psa: bool) -> list[str]:
    """The main assumptions and limitations, from the run's own inputs."""
    used = [name for name in info["parameters"] if name in registry and registry[name].is_assumption]
    items = [
        "The clinical evidence is a handful of small single-centre CD7 CAR-T studies, mostly from China (the n of each target is "
        "under Calibration); the model carries their selection and follow-up, and comparisons between strategies rest on separate "
        "studies, not on randomised arms.",
        f"{len(used)} of {len(info['parameters'])} parameters have no direct evidence and are labelled assumptions, each with a "
        f"reason and a range (see Parameters): {', '.join(used)}.",
        "Strategies are compared on the same virtual patients (common random numbers): differences between strategies are the "
        "model's, not a trial's; the case mix is the scenario's, not a real referral population.",
        "The intervals of the results are Monte Carlo and estimator intervals for this cohort; they do not carry the uncertainty "
        "of the parameters" + ("." if has_psa else ", which only a probabilistic sensitivity analysis shows (none was given)."),
        "Calibration fits the parameters to the studies' reported figures; targets the model misses are listed with their reasons "
        "(see Calibration).",
    ]
    if scenario.arrivals is None and all(value is None for value in scenario.capacity.model_dump().values()):
        items.append("Every resource is unlimited: no patient waits, so the results show what the pathway does when capacity "
                     "never binds; the capacity scenarios measure waiting.")
    if isinstance(info.get("economics"), dict):
        economics = info["economics"]
        items.append(f"Costs are {economics['currency']} {economics['price_year']} for the {economics['cost_setting']} setting; "
                     f"the product is charged on {economics['product_charged_on']}; many hospital costs are inpatient-day "
                     "equivalents (see Value inputs); utilities come from AML and transplant-survivor studies, not from CD7 CAR-T "
                     "patients.")
    return items


def _files(run: RunFolder, psa: PsaInputs | None, evidence: Path | None) -> list[list[str]]:
    """Every input file and its SHA-256, run folder first, in name order."""
    rows = []
    for folder, label in ((run.path, str(run.path)), *(((psa.path, str(psa.path)),) if psa is not None else ())):
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            rows.append([f"{label}/{path.name}", number(path.stat().st_size), sha256(path)])
    for name in ("parameters.yaml", "values.yaml", "posterior.parquet", *CALIBRATION_FILES):
        path = CALIBRATION_DIR / name
        if path.is_file():
            rows.append([f"calibration/{name} (the package's)", number(path.stat().st_size), sha256(path)])
    if evidence is not None:
        rows.append([shown_path(evidence), number(evidence.stat().st_size), sha256(evidence)])
    return rows


def _run_command(run: RunFolder) -> tuple[str, str]:
    """The command that makes the run again, and a note on its scenario argument."""
    scenario = run.scenario
    builtin = scenario.name in builtin_scenarios()
    options = [f"--seed {scenario.seed}", f"--replications {scenario.replications}", f"--engine {run.info.get('engine', 'des')}"]
    if scenario.arrivals is None:
        options.insert(0, f"--patients {scenario.patients}")
    if isinstance(run.info.get("economics"), dict):
        options.append(f"--cost-setting {run.info['economics']['cost_setting']}")
    command = f"cd7sim run {scenario.name if builtin else 'SCENARIO.yaml'} {' '.join(options)} --out {run.path}"
    note = ("the built-in scenario of that name; " if builtin else "SCENARIO.yaml: ") + \
        "run.json's scenario entry holds the scenario exactly as it was loaded"
    return command, note


def _facts(run: RunFolder, has_economics: bool, has_psa: bool) -> RunFacts:
    scenario = run.scenario
    arrivals = scenario.arrivals
    return RunFacts(open_cohort=arrivals is not None, warm_up_days=arrivals.warm_up_days if arrivals else 0.0,
                    run_length_days=arrivals.run_length_days if arrivals else 0.0, replications=scenario.replications,
                    engine=str(run.info.get("engine", "des")),
                    capacity_limited=any(value is not None for value in scenario.capacity.model_dump().values()),
                    has_economics=has_economics, has_psa=has_psa)


def _question(scenario: Scenario, has_economics: bool) -> str:
    """The decision question in one paragraph."""
    diseases = ", ".join(scenario.case_mix.disease)
    strategies = "; ".join(f"{s.name} ({s.description})" if s.description else s.name for s in scenario.strategies)
    economic = " and what each costs per quality-adjusted life-year gained" if has_economics else ""
    return (f"For patients with relapsed or refractory CD7-positive leukaemia or lymphoma ({diseases}), which treatment "
            f"pathway gives the most remissions, survival and transplants{economic}, and what does each need from the service? "
            f"The model compares {len(scenario.strategies)} strategies on the same virtual patients: {strategies}.")


# --- the document ---------------------------------------------------------------------------------------------

def build_report(results_dir: Path, psa_dir: Path | None = None, evidence: Path | None = None,
                 command: str = "", sensitivity: Sequence[Path] = ()) -> str:
    """The HTML report of a run folder (and a PSA folder).

    Parameters
    ----------
    results_dir : Path
        A folder written by ``cd7sim run``.
    psa_dir : Path, optional
        A PSA folder (``psa.parquet``, ``parameters.parquet``) or the folder ``cd7sim cea`` wrote.
    evidence : Path, optional
        EVIDENCE.md, for the source text of each evidence id; without it, the ids alone.
    command : str
        The command line that made the report, shown under Reproducibility.
    sensitivity : sequence of Path
        Folders written by ``cd7sim dsa`` and ``cd7sim gsa`` (with a PSA folder): their tables join the uncertainty section.

    Returns
    -------
    str
        The document; the same inputs give the same text.

    Raises
    ------
    InputError
        For a folder or file that cannot be read (one line naming it).
    """
    run = read_run_folder(results_dir)
    evaluation = _evaluation(run)
    currency = evaluation.currency if evaluation is not None else "currency units"
    wtps = evaluation.wtp if evaluation is not None else ()
    if sensitivity and psa_dir is None:
        raise InputError("--sensitivity", str(sensitivity[0]), "a PSA folder (--psa) is required with it")
    psa = read_psa_inputs(psa_dir, wtps, sensitivity) if psa_dir is not None else None
    sources = read_evidence(evidence) if evidence is not None else None
    registry = load_parameters().registry
    scenario = run.scenario
    parameters = {str(k): float(v) for k, v in run.info["parameters"].items()}
    strategies = [s.name for s in scenario.strategies]
    patients = run.tables.get("patients.parquet")
    figures = []
    if patients is not None:
        figures += [FigureItem("figure-survival", "Overall and disease-free survival by strategy (Kaplan–Meier, 95% bands)",
                               png(plot_survival(patients))),
                    FigureItem("figure-flow", "How many patients reach each step of the pathway", png(plot_flow(patients)))]
        if scenario.arrivals is not None or any(v is not None for v in scenario.capacity.model_dump().values()):
            figures.append(FigureItem("figure-waits", "The distribution of each wait", png(plot_waits(patients))))
    utilisation = results_dir / "utilisation.png"
    if utilisation.is_file():
        figures.append(FigureItem("figure-utilisation",
                                  "Servers in use and patients waiting, week by week (utilisation.png of the run folder)",
                                  "data:image/png;base64," + base64.b64encode(utilisation.read_bytes()).decode("ascii")))
    economic_figures = [] if evaluation is None else [
        FigureItem("figure-ce-plane", "Cost-effectiveness plane: means with 95% intervals, frontier and willingness-to-pay lines",
                   png(plot_ce_plane(evaluation))),
        FigureItem("figure-costs", "Mean discounted cost per patient by category", png(plot_costs(evaluation)))]
    facts = _facts(run, evaluation is not None, psa is not None)
    machine = run.info.get("machine")
    context = {
        "generator": GENERATOR,
        "title": f"cd7sim report: scenario '{scenario.name}'",
        "question": _question(scenario, evaluation is not None),
        "scenario_facts": _scenario_facts(scenario, run.info),
        "economics_record": run.info.get("economics") if isinstance(run.info.get("economics"), dict) else None,
        "strategy_table": _strategy_table(scenario, parameters),
        "pathway": Markup(pathway_svg(scenario.strategies, parameters)),
        "parameters": _parameter_rows(run.info, registry, sources),
        "values": _value_rows(scenario, sources) if evaluation is not None else [],
        "evidence": shown_path(evidence) if evidence is not None else None,
        "calibration": _calibration(scenario),
        "summary_table": _summary_table(run.tables["summary.csv"].astype({"strategy": str}), strategies),
        "subgroup_tables": _subgroup_tables(run.tables["subgroups.csv"]) if "subgroups.csv" in run.tables else [],
        "resource_table": _resource_table(run.tables["resources.csv"]) if "resources.csv" in run.tables else None,
        "figures": figures,
        "economic_tables": _economic_tables(run.tables["economics.csv"], run.tables["icers.csv"].astype({"strategy": str}), currency)
        if evaluation is not None else [],
        "economic_figures": economic_figures,
        "uncertainty": _uncertainty(psa, currency),
        "limitations": _limitations(scenario, registry, run.info, psa is not None),
        "reproducibility": {
            "run_version": str(run.info.get("version", "not recorded")), "report_version": __version__,
            "git_commit": run.info.get("git_commit") or NO_COMMIT,
            "seed": scenario.seed, "engine": str(run.info.get("engine", "des")), "replications": scenario.replications,
            "patients": run.info.get("patients_per_replication"), "wall_seconds": run.info.get("wall_seconds"),
            "machine": [(str(k), str(v)) for k, v in machine.items()] if isinstance(machine, dict) else [],
            "run_command": _run_command(run), "report_command": command, "files": _files(run, psa, evidence),
            "missing": list(run.missing),
        },
        "stress": stress_des(facts),
        "cheers": cheers(facts),
    }
    return _environment().get_template(TEMPLATE).render(**context)


def _environment() -> Environment:
    return Environment(loader=PackageLoader("sim.report", "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def check_report_path(out: Path, inputs: Iterable[Path]) -> Path:
    """Refuse an output file the report may not write: inside an input folder (``cd7sim run`` replaces a run folder
    whole), a folder, or an existing file that is not a cd7sim report.

    Raises
    ------
    InputError
        Naming ``--out``.
    """
    target = out.resolve()
    for folder in inputs:
        if folder.resolve() in target.parents:
            raise InputError("--out", str(out), f"a file outside {folder} is required (cd7sim replaces that folder whole)")
    if target.is_dir():
        raise InputError("--out", str(out), "a file name is required, not a folder")
    if target.exists():
        with target.open("rb") as handle:
            head = handle.read(4096)
        if b'<meta name="generator" content="cd7sim' not in head:
            raise InputError("--out", str(out), "a new file or a report cd7sim wrote is required (the file exists and is not one)")
    return out
