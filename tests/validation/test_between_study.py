"""The posterior predictive check as a new cohort (between-study variation) and leave-one-study-out validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.calibration.heterogeneity import ICC_COLUMN, ICC_PRIOR
from sim.calibration.leave_one_out import Budget, folds, format_leave_one_out, leave_one_out, progress_blocks
from sim.calibration.predictive import draw_iccs, posterior_predictive
from sim.calibration.studies import StudyCohort, Target, load_studies, load_targets, study_estimate
from sim.inputs.errors import InputError
from sim.simulation.parallel import LocalExecutor

CALIBRATED = ("cr_cart_aml", "crs_any")


def small_studies(*names: str, patients: int = 250) -> dict:
    return {name: s.model_copy(update={"patients": patients}) for name, s in load_studies(list(names)).items()}


def posterior(params, rows: int, icc: float | None, seed: int = 1) -> pd.DataFrame:
    """A synthetic posterior: ``rows`` prior draws of two calibrated parameters, with a constant ICC column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: [params.registry[name].distribution.draw(rng) for _ in range(rows)] for name in CALIBRATED})
    if icc is not None:
        frame[ICC_COLUMN] = icc
    return frame


def test_without_between_study_variation_the_check_replays_the_study_as_before(params):
    """At ICC 0 a new cohort has the model's own rate: each predicted value is the study estimate itself."""
    studies = small_studies("ns7_aml")
    targets = [t for t in load_targets() if t.study == "ns7_aml"]
    draws = posterior(params, 4, icc=0.0)
    table = posterior_predictive(draws, params, studies, targets, draws=4)
    scenario = studies["ns7_aml"]
    by_hand = np.empty((4, len(targets)))
    for i in range(4):
        cohort = StudyCohort.draw(scenario, replication=1 + i, patients=250)
        columns = cohort.simulate(params.with_values(draws.iloc[i][list(CALIBRATED)].to_dict()))
        end = cohort.follow_up_end(columns)
        by_hand[i] = [study_estimate(columns, end, t, scenario.study.size) for t in targets]
    np.testing.assert_allclose(table.predicted_mean, by_hand.mean(axis=0))


def test_between_study_variation_widens_the_interval_of_a_new_cohort(params):
    studies = small_studies("ns7_aml")
    targets = [t for t in load_targets() if t.study == "ns7_aml" and t.metric in ("cr", "crs_mild")]
    same = posterior(params, 1, icc=None).loc[[0] * 80].reset_index(drop=True)
    narrow = posterior_predictive(same.assign(**{ICC_COLUMN: 0.0}), params, studies, targets, draws=80)
    wide = posterior_predictive(same.assign(**{ICC_COLUMN: 0.3}), params, studies, targets, draws=80)
    assert ((wide.predicted_upper - wide.predicted_lower) > (narrow.predicted_upper - narrow.predicted_lower) + 0.1).all()


def test_a_posterior_without_an_icc_column_draws_it_from_the_prior():
    frame = pd.DataFrame({"x": np.zeros(5000)})
    iccs = draw_iccs(frame, np.arange(5000))
    np.testing.assert_array_equal(iccs, draw_iccs(frame, np.arange(5000)))
    assert iccs.mean() == pytest.approx(stats.beta(ICC_PRIOR.alpha, ICC_PRIOR.beta).mean(), abs=0.003)
    np.testing.assert_array_equal(draw_iccs(frame.assign(**{ICC_COLUMN: 0.02}), np.array([3, 7])), [0.02, 0.02])


def test_the_check_is_the_same_serial_or_parallel(params):
    studies = small_studies("ns7_aml", "cao2024")
    targets = [t for t in load_targets() if t.study in studies]
    draws = posterior(params, 12, icc=0.1)
    serial = posterior_predictive(draws, params, studies, targets, draws=12)
    parallel = posterior_predictive(draws, params, studies, targets, draws=12, executor=LocalExecutor(2))
    pd.testing.assert_frame_equal(serial, parallel)
    assert (serial.subgroup != "").sum() == 3  # CAO-CHILD (OS, LFS) and CAO-BLASTS


def test_folds_hold_out_each_publication():
    shipped = [fold.studies for fold in folds(load_targets())]
    assert shipped == [("hu2024",), ("cao2024", "cao2024_chemo"), ("ns7_aml",), ("xiao2025",)]

    def t(study: str, evidence: str) -> Target:
        return Target(study=study, metric="cr", value=0.5, n=4, events=2, origin="infusion", evidence_id=evidence,
                      likelihood="binomial")

    linked = [t("s1", "A-1"), t("s3", "C-1"), t("s2", "A-2"), t("s2", "B-1"), t("s4", "B-2")]
    assert [fold.studies for fold in folds(linked)] == [("s1", "s2", "s4"), ("s3",)]
    with pytest.raises(InputError, match=r"^--leave-one-out: got true; targets from at least two studies"):
        folds(linked[:1])


def test_leave_one_out_calibrates_without_each_study_and_predicts_it(params):
    studies = small_studies("ns7_aml", "xiao2025", patients=200)
    targets = [t for t in load_targets() if t.study in studies and t.metric in ("cr", "crs_any", "crs_grade3plus", "icans_any")]
    budget = Budget(prior_draws=40, stages=1, stage_draws=20, posterior_draws=50, seed=4)
    calls: list[int] = []
    result = leave_one_out(params, studies, targets, budget, draws=6, on_done=lambda: calls.append(1))
    assert len(calls) == progress_blocks(targets, budget, 6)
    assert list(result.table.held_out) == [t.study for t in targets]
    assert result.table.predicted_lower.le(result.table.predicted_upper).all()
    summary = result.studies.set_index("held_out")
    assert list(summary.index) == ["ns7_aml", "xiao2025", "all studies"]
    assert summary.loc["ns7_aml", "training_targets"] == summary.loc["xiao2025", "targets"] == 4
    assert summary.loc["all studies", "inside"] == result.table.inside.sum() == summary.inside.iloc[:2].sum()
    assert summary.icc_lower.iloc[:2].between(0, 1).all()
    printed = format_leave_one_out(result)
    assert printed.splitlines()[-1].startswith(f"{result.table.inside.sum()} of {len(targets)} held-out targets inside")
    parallel = leave_one_out(params, studies, targets, budget, draws=6, executor=LocalExecutor(2))
    pd.testing.assert_frame_equal(result.table, parallel.table)
    pd.testing.assert_frame_equal(result.studies, parallel.studies)
