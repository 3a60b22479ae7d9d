"""Every shipped scenario produces only plausible courses: no impossible course, every implausible share
within its bound.

The fast loop runs each scenario modestly (closed cohorts 500 patients per strategy, open cohorts one
replication); the slow test runs about 100,000 trajectories (patients x strategies x replications) of
every scenario: closed cohorts by their patients, the capacity scenarios by their replications (their size
per replication is their referral rate and run length).
"""

from __future__ import annotations

import math

import pytest

from sim import api
from sim.inputs.scenario import builtin_scenarios, load_scenario
from sim.report.plausibility import format_check

SCENARIOS = sorted(builtin_scenarios())
FAST_PATIENTS = 500
SLOW_TRAJECTORIES = 100_000


def _check(name: str, patients: int | None, replications: int | None):
    run = api.run(name, patients=patients, replications=replications, workers=1)
    return run, run.check()


def test_every_kind_of_shipped_scenario_is_checked():
    """The base case, the capacity scenarios and the study replays are all here."""
    assert {"base", "regional_centre", "national_hub", "hu2024", "cao2024", "cao2024_chemo", "ns7_aml", "xiao2025"} <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_shipped_scenario_courses_are_plausible(name):
    open_cohort = load_scenario(builtin_scenarios()[name]).arrivals is not None
    run, report = _check(name, None if open_cohort else FAST_PATIENTS, 1)
    assert len(run.patients) > 0
    assert [result.rule.name for result in report.failed] == [], f"{name}:\n{format_check(report)}"


def slow_size(name: str) -> tuple[int | None, int | None]:
    """Patients and replications for about 100,000 trajectories: closed cohorts by their patients, open
    cohorts (whose size is their referral rate and run length) by their replications."""
    scenario = load_scenario(builtin_scenarios()[name])
    strategies = len(scenario.strategies)
    if scenario.arrivals is None:
        return SLOW_TRAJECTORIES // strategies // scenario.replications, None
    per_replication = scenario.arrivals.expected_referrals(scenario.arrivals.run_length_days) * strategies  # after the warm-up
    return None, max(scenario.replications, math.ceil(SLOW_TRAJECTORIES / per_replication))


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_shipped_scenario_courses_are_plausible_at_100k_trajectories(name):
    patients, replications = slow_size(name)
    run, report = _check(name, patients, replications)
    assert len(run.patients) >= 0.9 * SLOW_TRAJECTORIES
    assert [result.rule.name for result in report.failed] == [], f"{name}:\n{format_check(report)}"
