"""The study replays' shortcuts give the numbers of the long way: the endpoint columns without the causes
of death and hospital days, the targets of a study computed together, the study estimates of many replays
computed together, and the kept Weibull scores."""

from __future__ import annotations

import numpy as np
import pytest

from sim.calibration import calibrate
from sim.calibration.calibrate import _values, uncertain_parameters
from sim.calibration.predictive import cohort_rate
from sim.calibration.studies import (
    CohortRate,
    StudyCohort,
    expected_probabilities,
    expected_probability,
    load_studies,
    load_targets,
    study_estimate,
    study_estimates,
)
from sim.disease.draws import PatientDraws, weibull_score
from sim.simulation.runner import follow_strategy


@pytest.fixture(scope="module")
def replays(params):
    """The shipped targets and study replays (600 patients each), and three parameter sets drawn from the prior."""
    targets = load_targets()
    studies = load_studies(sorted({t.study for t in targets}))
    names = uncertain_parameters(params)
    rows = _values(params, names, np.random.default_rng(5).random((3, len(names))))
    parameter_sets = [params.with_values(dict(zip(names, row.tolist()))) for row in rows]
    cohorts = {name: StudyCohort.draw(scenario, patients=600) for name, scenario in studies.items()}
    return targets, studies, cohorts, parameter_sets


def test_a_replay_has_the_columns_of_the_whole_course(replays):
    _, studies, cohorts, parameter_sets = replays
    for p in parameter_sets:
        for name, cohort in cohorts.items():
            scenario = studies[name]
            columns = cohort.simulate(p)
            overridden = p.with_overrides(scenario.parameters) if scenario.parameters else p
            _, course = follow_strategy(overridden, scenario.strategies[0], cohort.attributes, cohort.draws, scenario, "cohort")
            shared = set(columns) & set(course.columns)
            assert {"death_day", "hsct_day", "relapse_day", "response", "last_day", "agvhd_grade"} <= shared
            for column in shared:
                np.testing.assert_array_equal(columns[column], course.columns[column], err_msg=f"{name}: {column}")


def test_the_targets_of_a_study_computed_together_are_those_computed_one_by_one(replays):
    targets, _, cohorts, parameter_sets = replays
    for p in parameter_sets:
        for name, cohort in cohorts.items():
            own = [t for t in targets if t.study == name]
            columns = cohort.simulate(p)
            together = expected_probabilities(columns, own)
            np.testing.assert_array_equal(together, [expected_probability(columns, t) for t in own])


def test_an_empty_population_gives_nan_together_too(replays):
    targets, _, cohorts, parameter_sets = replays
    cohort = cohorts["cao2024"]
    columns = dict(cohort.simulate(parameter_sets[0]))
    columns["selected"] = np.zeros_like(columns["selected"])
    assert np.isnan(expected_probabilities(columns, [t for t in targets if t.study == "cao2024"])).all()


def test_kept_weibull_scores_are_the_scores_of_their_shape():
    draws = PatientDraws(3, 0, 200)
    for shape in (1.0, 1.7, 1.0, 2.3, 1.7, 1.0, 0.8):
        np.testing.assert_array_equal(draws.weibull("u_refractory", shape), weibull_score(draws["u_refractory"], shape))
    assert len(draws._weibull["u_refractory"]) <= 2


def test_the_estimates_of_many_replays_together_are_those_of_each(replays):
    """Several replays of a study (new patients each) with the cohort's own rate moved up, down or not: the
    study's estimators of all replays at once give each replay's own estimate."""
    targets, studies, _, parameter_sets = replays
    for name, scenario in studies.items():
        size = scenario.study.size
        runs = []
        for replication, p in enumerate(parameter_sets * 2, start=1):
            cohort = StudyCohort.draw(scenario, replication=replication, patients=25 * size)
            columns = cohort.simulate(p)
            runs.append((columns, cohort.follow_up_end(columns)))
        for target in (t for t in targets if t.study == name):
            rates = [None] + [CohortRate(0.5, 0.5 + shift, np.random.default_rng(r).random(len(columns["selected"])))
                              for r, (shift, (columns, _)) in enumerate(zip((0.0, 0.1, -0.2, 0.3, -0.05), runs[1:]))]
            together = study_estimates([(c, end, rate) for (c, end), rate in zip(runs, rates)], target, size)
            one_by_one = [study_estimate(c, end, target, size, rate) for (c, end), rate in zip(runs, rates)]
            np.testing.assert_array_equal(together, one_by_one, err_msg=target.label)


def test_the_likelihood_and_probabilities_of_draws_do_not_depend_on_the_blocks_or_the_kept_cohorts(params):
    """evaluate computes each block's likelihood in its task and reuses the study cohorts a process drew: the same
    numbers, to the bit, in blocks of any size, with or without kept cohorts, as the likelihood of all the draws'
    probabilities at once; and the probabilities are those of freshly drawn cohorts (two small studies)."""
    targets = [t for t in load_targets() if t.study in ("hu2024", "ns7_aml")]
    studies = {name: scenario.model_copy(update={"patients": 300})
               for name, scenario in load_studies(["hu2024", "ns7_aml"]).items()}
    names = uncertain_parameters(params)
    values = _values(params, names, np.random.default_rng(8).random((5, len(names))))
    calibrate._DRAWN.clear()
    loglik, expected = calibrate.evaluate(params, names, values, studies, targets, rows_per_task=2)
    assert len(calibrate._DRAWN) == 2
    again = calibrate.evaluate(params, names, values, studies, targets, rows_per_task=5)
    np.testing.assert_array_equal(again[0], loglik)
    np.testing.assert_array_equal(again[1], expected)
    np.testing.assert_array_equal(loglik, calibrate.marginal_log_likelihood(expected, targets))
    cohorts = {name: StudyCohort.draw(scenario) for name, scenario in studies.items()}
    for i, row in enumerate(values):
        p = params.with_values(dict(zip(names, row.tolist())))
        for name, cohort in cohorts.items():
            own = [j for j, t in enumerate(targets) if t.study == name]
            np.testing.assert_array_equal(expected[i, own], expected_probabilities(cohort.simulate(p), [targets[j] for j in own]))
    assert not np.isnan(loglik).any()


def test_a_cohort_rate_from_the_targets_computed_together_is_the_one_computed_alone(replays):
    """The validation gives cohort_rate the model's probability computed with the study's other targets: the same
    rate, shift and uniforms as cohort_rate computing it for the target alone."""
    targets, _, cohorts, parameter_sets = replays
    for name, cohort in cohorts.items():
        columns = cohort.simulate(parameter_sets[1])
        own = [t for t in targets if t.study == name]
        for target, expected in zip(own, expected_probabilities(columns, own)):
            alone = cohort_rate(columns, target, 0.1, cohort.scenario.seed, 3)
            given = cohort_rate(columns, target, 0.1, cohort.scenario.seed, 3, float(expected))
            np.testing.assert_array_equal([given.expected, given.rate], [alone.expected, alone.rate], err_msg=target.label)
            np.testing.assert_array_equal(given.uniforms, alone.uniforms)
