"""The memory a run would hold, checked against the machine before anything runs."""

from __future__ import annotations

import os
from pathlib import Path

from sim.inputs.errors import InputError
from sim.inputs.scenario import Scenario
from sim.simulation.runner import OCCUPANCY_STEP_DAYS

BYTES_PER_TRAJECTORY: dict[str, float] = {"des": 2050.0, "cohort": 2050.0}
"""Peak memory per patient trajectory (one patient through one strategy in one replication), bytes.

Measured with ``cd7sim run scenarios/base.yaml --workers 1`` (4 strategies, one replication, with its economic
evaluation over a lifetime horizon): the process's peak resident memory (``ru_maxrss``) grew by 375 MiB (des) and
375 MiB (cohort) from ``--patients 2000`` to ``--patients 50000``, i.e. 192,000 more trajectories: about 2,050
bytes each. The patients and events tables alone take 323 bytes a trajectory (pandas ``memory_usage``, deep); the
rest is the engines' working arrays, the summaries built from the tables, and the lifetime tables of one strategy
at a time that the value model reads (without an economic evaluation a run needs about 1,300 bytes a trajectory)."""
BYTES_PER_STRATEGY_WEEK = 1100.0
"""Peak memory of the weekly resource record, bytes per strategy, replication and week observed.

Measured like :data:`BYTES_PER_TRAJECTORY`, with one patient and a 100-year horizon: peak resident
memory grew by 2,118 MiB from 2 to 100 replications, i.e. 4 strategies x 98 replications x 5,218
weeks: 1,086 bytes each (five resources a week)."""
MEMINFO = Path("/proc/meminfo")


def available_memory() -> float | None:
    """Memory available to a new run now, bytes; ``None`` where the system does not say.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free memory plus what the kernel can reclaim), else
    the free physical pages of ``os.sysconf``.
    """
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def run_trajectories(scenario: Scenario) -> float:
    """Patient trajectories a run holds: patients x strategies x replications.

    For an open cohort the patients are the expected referrals over the warm-up and the run length,
    ``rate_per_year x (warm_up_days + run_length_days) / 365.25`` (warm-up patients are simulated too).
    """
    if scenario.arrivals is None:
        assert scenario.patients is not None, "a closed cohort has its patients (Scenario._one_cohort)"
        per_replication = float(scenario.patients)
    else:
        per_replication = scenario.arrivals.expected_referrals(scenario.arrivals.end_day)
    return per_replication * len(scenario.strategies) * scenario.replications


def run_bytes(scenario: Scenario, engine: str) -> float:
    """Estimated peak memory of a run, bytes: its trajectories and its weekly resource record.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario (with the command line's overrides applied).
    engine : {"des", "cohort"}
    """
    weeks = scenario.observation_window[1] / OCCUPANCY_STEP_DAYS + 1.0
    strategy_weeks = len(scenario.strategies) * scenario.replications * weeks
    return run_trajectories(scenario) * BYTES_PER_TRAJECTORY[engine] + strategy_weeks * BYTES_PER_STRATEGY_WEEK


def check_run_size(scenario: Scenario, engine: str, available: float | None = None) -> None:
    """Refuse, before anything runs, a run that would not fit in the memory available.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario (with the command line's overrides applied).
    engine : {"des", "cohort"}
    available : float, optional
        Memory available, bytes (default: :func:`available_memory`; no check where unknown).

    Raises
    ------
    InputError
        Naming ``patients`` (closed cohort) or ``arrivals.rate_per_year`` (open cohort), with the
        trajectories and memory the run would need and the memory available.
    """
    available = available_memory() if available is None else available
    needed = run_bytes(scenario, engine)
    if available is None or needed <= available:
        return
    value: float | None
    if scenario.arrivals is None:
        field, value, cohort = "patients", scenario.patients, f"{scenario.patients} patients"
    else:
        field, value = "arrivals.rate_per_year", scenario.arrivals.rate_per_year
        cohort = f"{run_trajectories(scenario) / len(scenario.strategies) / scenario.replications:,.0f} referrals expected"
    raise InputError(field, value, (
        f"this run would hold {run_trajectories(scenario):,.0f} patient trajectories ({cohort} x "
        f"{len(scenario.strategies)} strategies x {scenario.replications} replications), about "
        f"{_gib(needed)} of memory, but {_gib(available)} is available; ask for fewer patients, strategies or replications"
    ))


def _gib(size: float) -> str:
    return f"{size / 2**30:.1f} GiB"
