"""``cd7sim bench``: speed and memory of both engines on the base scenario.

Each (engine, cohort size) is measured in a fresh process, so that its peak memory is its own:
the process simulates every strategy of ``scenarios/base.yaml`` (patients table, no event log)
several times, and reports the wall time of each repeat and its peak resident memory. Speed is
counted in patient-strategy trajectories per second, on one core (each measurement is one
process). The PSA-sized workload — parameter sets x patients x strategies through the cohort
engine — runs on every local core.

The SimPy engine is measured as planners use it, with its calendar and server pools running: every
slot and bed is finite, one per patient (so that, in a cohort enrolled on one day, none binds and the
course is the cohort engine's). The yardstick is :mod:`sim.engines.reference`, the same pathway written
as a newcomer to SimPy would (a process per patient, a ``simpy.Resource`` per slot and bed, a numpy
draw per step), measured in the same run on the same capacity; the engines' speeds are also given as
multiples of its speed.
"""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Literal

import numpy as np

from sim import __version__
from sim.engines.reference import simulate_reference
from sim.inputs.errors import InputError
from sim.inputs.limits import DEFAULT_CALIBRATION_DRAWS, simulated_draws
from sim.inputs.paths import SCENARIOS_DIR
from sim.inputs.scenario import Scenario, load_scenario
from sim.io.files import atomic_path, real_path
from sim.simulation.allocator import tune_memory
from sim.simulation.parallel import LocalExecutor, local_cores
from sim.simulation.runner import simulate, simulate_parameter_sets

BASE_SCENARIO = SCENARIOS_DIR / "base.yaml"
PSA_SETS, PSA_PATIENTS = 1000, 10_000
ECONOMIC_PSA_DRAWS, ECONOMIC_PSA_PATIENTS = 1000, 5000
"""Issue 13's economic PSA workload: ``cd7sim psa base`` with this many draws and patients (costs and QALYs)."""


@dataclass(frozen=True)
class BenchPlan:
    """What a benchmark run measures: repeats per (engine, patients), PSA parameter sets, and repeats of
    the default command."""

    sizes: tuple[tuple[Measured, int, int], ...]
    psa_sets: int
    command_repeats: int
    economic_psa_draws: tuple[int, ...]
    calibration_budgets: tuple[tuple[str, ...], ...]


Measured = Literal["des", "cohort", "reference"]
"""What a measurement runs: one of the engines, or the SimPy reference model."""
REFERENCE_PATIENTS = 10_000
"""Cohort size of the reference model's measurement, and of the SimPy engine's it is compared with."""

FULL = BenchPlan(sizes=(("reference", REFERENCE_PATIENTS, 3), ("des", 10_000, 5), ("des", 100_000, 3), ("cohort", 10_000, 5),
                        ("cohort", 100_000, 5), ("cohort", 1_000_000, 5)), psa_sets=PSA_SETS, command_repeats=5,
                economic_psa_draws=(ECONOMIC_PSA_DRAWS,), calibration_budgets=((),))
QUICK = BenchPlan(sizes=(("reference", REFERENCE_PATIENTS, 1), ("des", 10_000, 3), ("des", 100_000, 1), ("cohort", 10_000, 3),
                         ("cohort", 100_000, 3), ("cohort", 1_000_000, 1)), psa_sets=50, command_repeats=3,
                 economic_psa_draws=(20, 60), calibration_budgets=(("--prior-draws", "500", "--stages", "1", "--stage-draws", "500"),
                                                                  ("--prior-draws", "1500", "--stages", "1", "--stage-draws", "1500")))

DEFAULT_COMMAND: tuple[str, ...] = ("run", "base")
"""The command users wait for most: the base-case comparison as the README's quick start runs it."""
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("des_patients_per_second", "SimPy engine with capacity, trajectories/s per core (100k)", ">=", 100_000),
    ("cohort_patients_per_second", "cohort engine, trajectories/s per core (1M)", ">=", 4_000_000),
    ("cohort_over_reference", "cohort engine (1M) over the SimPy reference model, x", ">=", 100),
    ("des_over_reference", "SimPy engine with capacity (10k) over the reference, x", ">=", 10),
    ("cohort_1m_over_100k_time", "cohort engine, time of 1M over 100k", "<=", 12),
    ("peak_memory_mb_1m", "peak memory, 1M patients x 4 strategies, MB", "<=", 1024),
    ("psa_workload_seconds", "PSA workload on every core, s", "<=", 60),
    ("economic_psa_seconds", "`cd7sim psa`, 1,000 draws x 5,000 patients x 4 strategies with costs and QALYs, every core, s",
     "<=", 60),
    ("run_base_median_seconds", "`cd7sim run base`, whole command, median s", "<=", 2),
    ("calibration_seconds", "`cd7sim calibrate`, default budget (35,000 draws), whole command, every core, s", "<=", 90),
)
"""The project's performance targets: result key, what it measures, direction and bound."""


@dataclass(frozen=True)
class Measurement:
    """One engine at one cohort size.

    Attributes
    ----------
    engine : str
    patients : int
        Patients per strategy.
    trajectories : int
        Patient-strategy trajectories per repeat (patients x strategies).
    seconds : list of float
        Wall time of each repeat.
    peak_memory_mb : float
        Peak resident memory of the measuring process, MB.
    table_seconds : list of float
        Of each repeat, the seconds spent building the patients table.
    """

    engine: str
    patients: int
    trajectories: int
    seconds: list[float]
    peak_memory_mb: float
    table_seconds: list[float]

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def per_second(self) -> float:
        """Median trajectories per second on one core."""
        return self.trajectories / self.median_seconds

    @property
    def best_per_second(self) -> float:
        """Trajectories per second on one core in the fastest repeat (the least disturbed by other work on
        a shared machine: the engines are compared with the reference model by their fastest repeats)."""
        return self.trajectories / min(self.seconds)


def with_capacity(scenario: Scenario, patients: int) -> Scenario:
    """``scenario`` with ``patients`` manufacturing slots, CAR-T, ICU and transplant beds: finite (the SimPy
    engine's calendar and server pools run) but never binding for a cohort of that size (apheresis, one
    chair booked by appointment, stays unlimited)."""
    roomy = scenario.capacity.model_copy(update={
        "manufacturing_slots": patients, "cart_beds": patients, "icu_beds": patients, "transplant_beds": patients})
    return scenario.model_copy(update={"capacity": roomy})


def _measure(task: tuple[str, Measured, int, int]) -> tuple[list[float], float, int, list[float]]:
    """In a fresh process: simulate the scenario ``repeats`` times; times, peak MB, strategies, and the
    time of building the patients table in each repeat (0 for the reference model)."""
    scenario_path, engine, patients, repeats = task
    tune_memory()  # as in the command line's processes
    scenario = load_scenario(scenario_path)
    scenario = scenario.model_copy(update={"patients": patients, "replications": 1})
    if engine != "cohort":
        scenario = with_capacity(scenario, patients)
    params = scenario.parameter_set()
    seconds, table_seconds = [], []
    for repeat in range(repeats):
        started = time.perf_counter()
        if engine == "reference":
            simulate_reference(scenario, params, seed=repeat)
            table_seconds.append(0.0)
        else:
            table_seconds.append(simulate(scenario, params, engine, with_events=False, with_resources=False).table_seconds)
        seconds.append(time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return seconds, peak_mb, len(scenario.strategies), table_seconds


def measure(engine: Measured, patients: int, repeats: int, scenario_path: Path = BASE_SCENARIO) -> Measurement:
    """Measure one engine (or the reference model) at one size in a fresh process; the SimPy engine and
    the reference model with finite capacity (:func:`with_capacity`)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        seconds, peak_mb, strategies, tables = pool.submit(_measure, (str(scenario_path), engine, patients, repeats)).result()
    return Measurement(engine, patients, patients * strategies, seconds, round(peak_mb, 1), tables)


def psa_workload(parameter_sets: int, scenario_path: Path = BASE_SCENARIO) -> tuple[float, int]:
    """Wall time of ``parameter_sets`` x 10,000 patients x every strategy, cohort engine, all cores.

    Returns
    -------
    seconds, workers : float, int
    """
    scenario = load_scenario(scenario_path).model_copy(update={"patients": PSA_PATIENTS})
    base = scenario.parameter_set()
    rng = np.random.default_rng(scenario.seed)
    sets = [base.sample(rng) for _ in range(parameter_sets)]
    workers = local_cores()
    started = time.perf_counter()
    simulate_parameter_sets(scenario, sets, LocalExecutor(workers), sets_per_task=max(1, parameter_sets // (4 * workers)))
    return time.perf_counter() - started, workers


def command_seconds(arguments: Sequence[str], repeats: int) -> list[float]:
    """Whole-process wall time of ``cd7sim ARGUMENTS`` (interpreter start, imports, simulation, files),
    each repeat in a fresh process and a fresh temporary folder.

    Parameters
    ----------
    arguments : sequence of str
        The command's arguments, e.g. ``("run", "base")``.
    repeats : int
    """
    seconds = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="cd7sim-bench-") as folder:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sim.cli", *arguments], cwd=folder, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - started)
    return seconds


def calibration_draws(budget: Sequence[str]) -> int:
    """Parameter draws ``cd7sim calibrate`` simulates with the options ``budget``: prior draws plus stages x draws per
    stage when the three are given, the default budget's when none is."""
    given = dict(zip(budget[::2], (int(value) for value in budget[1::2]), strict=True))
    if not given:
        return DEFAULT_CALIBRATION_DRAWS
    return simulated_draws(given["--prior-draws"], given["--stages"], given["--stage-draws"])


def seconds_at(points: Sequence[tuple[int, float]], draws: int) -> float:
    """A whole command's seconds at ``draws`` from its measurements ``(draws, seconds)``: the measurement itself
    when it was made at ``draws``, otherwise the straight line through the smallest and the largest measurement
    (fixed costs once, the rest per draw).

    Raises
    ------
    ValueError
        For one measurement at other than ``draws`` (a line needs two).
    """
    if len(points) == 1 and points[0][0] == draws:
        return points[0][1]
    (low_draws, low), (high_draws, high) = min(points), max(points)
    if high_draws == low_draws:
        raise ValueError("extrapolating a command's time needs measurements at two numbers of draws")
    per_draw = (high - low) / (high_draws - low_draws)
    return low + per_draw * (draws - low_draws)


def measured_points(points: Sequence[tuple[int, float]]) -> dict[str, list]:
    """The draws and seconds of a command's measurements, for the JSON file."""
    return {"measured_draws": [draws for draws, _ in points], "measured_seconds": [round(seconds, 2) for _, seconds in points]}


def target_records(result: dict) -> list[dict]:
    """Each target of :data:`TARGETS` measured in ``result``, for the JSON file: its key, what it measures,
    direction, bound, the value measured and whether it is met."""
    records = []
    for key, what, direction, bound in TARGETS:
        if key in result:
            value = result[key]
            records.append({"key": key, "what": what, "direction": direction, "bound": bound, "value": value,
                            "met": bool(value >= bound if direction == ">=" else value <= bound)})
    return records


def target_rows(result: dict) -> list[tuple[str, str, str]]:
    """Each target of :data:`TARGETS` with the value measured and ``met`` or ``missed``, as printed."""
    return [(f"{r['what']} {r['direction']} {_number(r['bound'])}", _number(r["value"]), "met" if r["met"] else "missed")
            for r in target_records(result)]


def find_median(result: dict, engine: str, patients: int) -> float:
    """The median seconds of one measurement of a result."""
    return next(m["median_seconds"] for m in result["measurements"] if m["engine"] == engine and m["patients"] == patients)


def _number(value: float) -> str:
    """``1,019,996`` for large or whole values, ``8.98`` for small ones."""
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.2f}"


def run_benchmark(quick: bool = False, scenario_path: Path = BASE_SCENARIO, progress=print) -> dict:
    """Run every measurement; return the results as a JSON-ready dictionary."""
    plan = QUICK if quick else FULL
    measurements = []
    for engine, patients, repeats in plan.sizes:
        progress(f"  {engine} engine, {patients:,} patients x {repeats} repeat(s) ...")
        measurements.append(measure(engine, patients, repeats, scenario_path))
    progress(f"  PSA workload: {plan.psa_sets} parameter sets x {PSA_PATIENTS:,} patients, cohort engine, all cores ...")
    psa_seconds, workers = psa_workload(plan.psa_sets, scenario_path)
    scale = PSA_SETS / plan.psa_sets
    economic_psa = []
    for psa_draws in plan.economic_psa_draws:
        progress(f"  cd7sim psa base: {psa_draws:,} draws x {ECONOMIC_PSA_PATIENTS:,} patients, whole command, all cores ...")
        economic_psa.append((psa_draws, command_seconds(("psa", "base", "--draws", str(psa_draws), "--patients",
                                                         str(ECONOMIC_PSA_PATIENTS), "--out", "psa"), 1)[0]))
    progress(f"  cd7sim {' '.join(DEFAULT_COMMAND)}, whole command x {plan.command_repeats} ...")
    command = command_seconds(DEFAULT_COMMAND, plan.command_repeats)
    calibration = []
    for budget in plan.calibration_budgets:
        draws = calibration_draws(budget)
        progress(f"  cd7sim calibrate: {draws:,} parameter draws, whole command, all cores ...")
        calibration.append((draws, command_seconds(("calibrate", *budget, "--out", "calibration"), 1)[0]))

    def find(engine: str, patients: int) -> Measurement:
        return next(m for m in measurements if m.engine == engine and m.patients == patients)

    des, cohort = find("des", 100_000), find("cohort", 1_000_000)
    reference, des_small = find("reference", REFERENCE_PATIENTS), find("des", REFERENCE_PATIENTS)
    result = {
        "version": __version__,
        "quick": quick,
        "machine": {"cores": local_cores(), "python": platform.python_version(), "system": platform.platform()},
        "des_patients_per_second": round(des.per_second),
        "cohort_patients_per_second": round(cohort.per_second),
        "engine_ratio_at_100k": round(find("cohort", 100_000).per_second / des.per_second, 1),
        "reference_patients_per_second": round(reference.per_second),
        "cohort_over_reference": round(cohort.best_per_second / reference.best_per_second, 1),
        "des_over_reference": round(des_small.best_per_second / reference.best_per_second, 1),
        "over_reference_by_medians": {"cohort": round(cohort.per_second / reference.per_second, 1),
                                      "des": round(des_small.per_second / reference.per_second, 1)},
        "cohort_1m_over_100k_time": round(cohort.median_seconds / find("cohort", 100_000).median_seconds, 2),
        "des_100k_over_10k_time": round(des.median_seconds / find("des", 10_000).median_seconds, 2),
        "psa_workload_seconds": round(psa_seconds * scale, 2),
        "psa_workload": {
            "parameter_sets": PSA_SETS, "patients": PSA_PATIENTS, "workers": workers,
            "measured_parameter_sets": plan.psa_sets, "measured_seconds": round(psa_seconds, 2),
            "scaled": scale != 1.0,
        },
        "economic_psa_seconds": round(seconds_at(economic_psa, ECONOMIC_PSA_DRAWS), 1),
        "economic_psa": {"draws": ECONOMIC_PSA_DRAWS, "patients": ECONOMIC_PSA_PATIENTS, "workers": local_cores(),
                         **measured_points(economic_psa)},
        "calibration_seconds": round(seconds_at(calibration, DEFAULT_CALIBRATION_DRAWS), 1),
        "calibration": {"draws": DEFAULT_CALIBRATION_DRAWS, "workers": local_cores(), **measured_points(calibration)},
        "peak_memory_mb_1m": cohort.peak_memory_mb,
        "table_seconds_1m": round(statistics.median(cohort.table_seconds), 3),
        "run_base_median_seconds": round(statistics.median(command), 2),
        "run_base_seconds": {"min": round(min(command), 2), "median": round(statistics.median(command), 2),
                             "max": round(max(command), 2), "repeats": len(command)},
        "measurements": [
            {**asdict(m), "median_seconds": round(m.median_seconds, 4), "per_second": round(m.per_second)}
            for m in measurements
        ],
    }
    return {**result, "targets": target_records(result)}


def format_report(result: dict) -> str:
    """The printed benchmark table and its headline lines."""
    lines = [f"{'engine':<10}{'patients':>11}{'repeats':>9}{'min s':>9}{'median s':>10}{'max s':>9}{'trajectories/s/core':>21}"
             f"{'peak MB':>10}"]
    for m in result["measurements"]:
        lines.append(f"{m['engine']:<10}{m['patients']:>11,}{len(m['seconds']):>9}{min(m['seconds']):>9.3f}{m['median_seconds']:>10.3f}"
                     f"{max(m['seconds']):>9.3f}{m['per_second']:>21,}{m['peak_memory_mb']:>10,.0f}")
    psa, medians = result["psa_workload"], result["over_reference_by_medians"]
    how = (f"measured {psa['measured_parameter_sets']} sets in {psa['measured_seconds']} s and scaled x"
           f"{psa['parameter_sets'] // psa['measured_parameter_sets']}") if psa["scaled"] else "measured"
    lines += [
        "",
        f"SimPy reference model: {result['reference_patients_per_second']:,} trajectories/s per core "
        f"({REFERENCE_PATIENTS // 1000}k patients, capacity finite, not binding)",
        f"SimPy engine:  {result['des_patients_per_second']:,} trajectories/s per core (100k patients, capacity finite, "
        f"not binding); {result['des_over_reference']}x the reference model at {REFERENCE_PATIENTS // 1000}k",
        f"cohort engine: {result['cohort_patients_per_second']:,} trajectories/s per core (1M patients); "
        f"{result['engine_ratio_at_100k']}x the SimPy engine at 100k; {result['cohort_over_reference']}x the reference model",
        f"(over the reference model: fastest repeat over fastest repeat; by medians {medians['des']}x and {medians['cohort']}x)",
        f"linearity: 1M takes {result['cohort_1m_over_100k_time']}x the time of 100k (cohort); "
        f"100k takes {result['des_100k_over_10k_time']}x the time of 10k (SimPy)",
        f"peak memory, 1M patients x 4 strategies (cohort): {result['peak_memory_mb_1m']:,.0f} MB",
        f"PSA workload ({psa['parameter_sets']:,} sets x {psa['patients']:,} patients x 4 strategies, cohort, "
        f"{psa['workers']} cores): {result['psa_workload_seconds']} s ({how})",
    ]
    economic = result.get("economic_psa")
    if economic is not None:
        lines.append(f"cd7sim psa base ({economic['draws']:,} draws x {economic['patients']:,} patients x 4 strategies with "
                     f"costs and QALYs, whole command, {economic['workers']} cores): {result['economic_psa_seconds']} s "
                     f"({_how_measured(economic)})")
    calibration = result.get("calibration")
    if calibration is not None:
        lines.append(f"cd7sim calibrate ({calibration['draws']:,} draws, default budget, whole command, {calibration['workers']} "
                     f"cores): {result['calibration_seconds']} s ({_how_measured(calibration)})")
    table, whole = result["table_seconds_1m"], find_median(result, "cohort", 1_000_000)
    lines.append(f"patients table, 1M patients x 4 strategies (cohort): built in {table:.2f} s of {whole:.2f} s "
                 f"({100 * table / whole:.0f}%)")
    command = result["run_base_seconds"]
    lines.append(f"cd7sim {' '.join(DEFAULT_COMMAND)} (whole command, {command['repeats']} fresh processes): median "
                 f"{command['median']} s (min {command['min']}, max {command['max']})")
    rows = target_rows(result)
    width = max(len(target) for target, _, _ in rows)
    lines += ["", "targets:", *(f"  {target:<{width}}  {value:>12}  {verdict}" for target, value, verdict in rows)]
    return "\n".join(lines)


def _how_measured(command: dict) -> str:
    """``measured``, or from which measurements at fewer draws a whole command's time at its ``draws`` was extrapolated."""
    if command["measured_draws"] == [command["draws"]]:
        return "measured"
    points = " and ".join(f"{draws:,} draws in {seconds} s" for draws, seconds in zip(command["measured_draws"],
                                                                                      command["measured_seconds"], strict=True))
    return f"measured {points}, extrapolated along the line through them"


def check_bench_json(path: Path) -> None:
    """Refuse a ``--json`` path that would overwrite a file ``cd7sim bench`` did not write.

    Raises
    ------
    InputError
        When the path is a folder, lies below a file, or is a file that is not a benchmark result.
    """
    if path.is_dir() or not str(path).strip():
        raise InputError("--json", str(path), "a file path is required")
    real_path(path, "--json")  # a loop of symbolic links is refused; a link is followed to the file it names
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError("--json", str(path), f"a file path is required ({parent} is a file)")
    if path.exists() and not _bench_result(path):
        raise InputError("--json", str(path), "a new file, or one cd7sim bench wrote, is required")


def _bench_result(path: Path) -> bool:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and "cohort_patients_per_second" in content


def write_json(result: dict, path: Path) -> None:
    """Write ``result`` to ``path`` atomically (checked by :func:`check_bench_json` first)."""
    check_bench_json(path)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
