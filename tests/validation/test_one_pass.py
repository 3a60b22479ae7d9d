"""The whole course in one compiled pass (sim.disease.one_pass) gives the endpoint columns and the patients table of
the step-by-step passes to the bit: for every built-in strategy with a transplant, parameter sets drawn from the priors,
per-patient ends of follow-up, the cohort engine's blocks, and with the compiler switched off."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from sim.calibration.calibrate import _values, uncertain_parameters
from sim.calibration.studies import StudyCohort, load_studies
from sim.disease import one_pass
from sim.disease.course import outcome_columns, plan_course, resolve_course, unqueued_services
from sim.disease.draws import PatientDraws
from sim.disease.patients import build_cohort
from sim.inputs.strategies import BUILTIN_STRATEGIES
from sim.simulation.runner import simulate

TRANSPLANTING = [strategy for strategy in BUILTIN_STRATEGIES.values() if one_pass.covers(strategy)]


def step_by_step(params, strategy, attributes, draws, horizon):
    """The endpoint columns of the step-by-step passes (plan, no-queue services, settling)."""
    plan = plan_course(params, strategy, attributes, draws)
    return outcome_columns(plan, unqueued_services(plan), horizon)


def assert_same_columns(expected, got, label):
    assert set(expected) == set(got), label
    for name, values in expected.items():
        assert got[name].dtype == values.dtype, f"{label}: {name}"
        np.testing.assert_array_equal(got[name], values, err_msg=f"{label}: {name}")


def prior_draws(params, count, seed):
    names = uncertain_parameters(params)
    rows = _values(params, names, np.random.default_rng(seed).random((count, len(names))))
    return [params.with_values(dict(zip(names, row.tolist()))) for row in rows]


def test_every_transplanting_strategy_and_both_index_therapies_are_covered():
    assert {strategy.index_therapy for strategy in TRANSPLANTING} == {"cart", "chemo"}
    assert not all(one_pass.covers(strategy) for strategy in BUILTIN_STRATEGIES.values())  # CAR-T alone: step by step


@pytest.mark.parametrize("strategy", TRANSPLANTING, ids=lambda strategy: strategy.name)
def test_one_pass_gives_the_columns_of_the_steps(params, base_scenario, strategy):
    draws = PatientDraws(11, 0, 3000)
    attributes = build_cohort(base_scenario.case_mix, draws)
    horizon = np.random.default_rng(3).uniform(30.0, 1500.0, attributes.n)  # per-patient ends of follow-up, days
    for p in [params, *prior_draws(params, 4, seed=1)]:
        expected = step_by_step(p, strategy, attributes, draws, horizon)
        got = one_pass.outcome_columns(p, strategy, attributes, draws, horizon)
        assert_same_columns(expected, got, strategy.name)
        # not vacuous: patients are transplanted, relapse and die in these courses
        assert expected["hsct"].sum() > 100 and expected["relapse"].sum() > 30 and expected["death"].sum() > 100


def test_study_replays_take_the_one_pass_with_the_same_columns(params):
    studies = load_studies(["cao2024_chemo", "hu2024", "xiao2025"])
    for p in prior_draws(params, 3, seed=2):
        for name, scenario in studies.items():
            cohort = StudyCohort.draw(scenario, patients=1500)
            overridden = p.with_overrides(scenario.parameters) if scenario.parameters else p
            expected = step_by_step(overridden, scenario.strategies[0], cohort.attributes, cohort.draws, scenario.horizon_days)
            columns = cohort.simulate(p)
            assert_same_columns(expected, {column: columns[column] for column in expected}, name)


PLAIN = textwrap.dedent("""
    import pickle, sys
    from sim.calibration.studies import StudyCohort, load_studies
    from sim.inputs.parameters import load_parameters
    scenario = load_studies(["hu2024"])["hu2024"]
    sys.stdout.buffer.write(pickle.dumps(StudyCohort.draw(scenario, patients=300).simulate(load_parameters())))
""")


def test_the_plain_python_path_of_the_one_pass_gives_the_compiled_columns(params):
    plain = subprocess.run([sys.executable, "-c", PLAIN], capture_output=True, check=True, env={**os.environ, "NUMBA_DISABLE_JIT": "1"})
    columns = pickle.loads(plain.stdout)
    compiled = StudyCohort.draw(load_studies(["hu2024"])["hu2024"], patients=300).simulate(params)
    assert_same_columns(compiled, columns, "hu2024")


@pytest.mark.parametrize("slope", [0.0, 1e-9, 0.1])
def test_late_effects_beyond_follow_up_change_no_column(params, base_scenario, slope):
    """The pass skips the late effects of patients not followed two years after their transplant; with a flat, an
    almost flat and a steep Gompertz slope (per year) the columns are still those of the steps."""
    draws = PatientDraws(5, 0, 3000)
    attributes = build_cohort(base_scenario.case_mix, draws)
    horizon = np.random.default_rng(8).uniform(600.0, 1200.0, attributes.n)  # around HSCT + 2 years, days
    p = params.with_values({"background_gompertz_slope": slope, "late_relative_mortality_2y": 40.0, "late_relative_mortality_15y": 20.0})
    strategy = BUILTIN_STRATEGIES["cart_bridge_allo"]
    expected = step_by_step(p, strategy, attributes, draws, horizon)
    assert_same_columns(expected, one_pass.outcome_columns(p, strategy, attributes, draws, horizon), f"slope {slope}")
    plan = plan_course(p, strategy, attributes, draws)
    late = expected["hsct_day"] + plan.after_transplant.late_effects_death_after_hsct
    assert np.sum(late <= horizon) > 10  # not vacuous: late-effects deaths within follow-up


def test_one_pass_gives_the_table_columns_of_the_course(params, base_scenario):
    """``table_columns``: the columns of ``resolve_course`` (causes of death, hospital days and waits too), in their
    order and types, for every transplanting strategy."""
    draws = PatientDraws(3, 0, 3000)
    attributes = build_cohort(base_scenario.case_mix, draws)
    horizon = np.random.default_rng(1).uniform(30.0, 2000.0, attributes.n)
    for p in [params, *prior_draws(params, 2, seed=4)]:
        for strategy in TRANSPLANTING:
            plan = plan_course(p, strategy, attributes, draws)
            expected = resolve_course(plan, unqueued_services(plan), horizon).columns
            got = one_pass.table_columns(p, strategy, attributes, draws, horizon, {})
            assert list(got) == list(expected)
            assert_same_columns(expected, got, strategy.name)
            assert (expected["icu_days"] > 0).sum() > 50 and (expected["death_cause"] > 0).sum() > 500  # not vacuous


def test_the_cohort_engine_without_event_log_takes_the_one_pass_to_the_same_table(params, base_scenario, monkeypatch):
    """A cohort run that asks for the patients table only (no event log, resource measures or values) resolves every
    transplanting strategy in one pass; across two blocks of patients and two replications the table is the one the
    step-by-step passes give."""
    scenario = base_scenario.model_copy(update={"patients": 70_000, "replications": 2})
    p = prior_draws(params, 1, seed=6)[0]
    calls = []
    table_columns = one_pass.table_columns
    monkeypatch.setattr(one_pass, "table_columns", lambda *args: calls.append(args[1].name) or table_columns(*args))
    one_pass_table = simulate(scenario, p, "cohort", with_events=False, with_resources=False).patients
    assert len(calls) == 2 * 2 * len([s for s in scenario.strategies if one_pass.covers(s)]) > 0  # blocks x replications x strategies
    monkeypatch.setattr(one_pass, "covers", lambda strategy: False)
    pd.testing.assert_frame_equal(one_pass_table, simulate(scenario, p, "cohort", with_events=False, with_resources=False).patients,
                                  check_exact=True)
