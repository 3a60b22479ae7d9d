"""Whole-pathway properties: conservation, common random numbers, direction of effect."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.inputs.strategies import Strategy
from sim.outcomes.endpoints import summarise
from sim.simulation.runner import simulate


@pytest.fixture(scope="module")
def run(base_scenario, params):
    scenario = base_scenario.model_copy(update={"patients": 1500, "seed": 11})
    return simulate(scenario, params, "des")


def test_every_patient_ends_in_exactly_one_terminal_state(run):
    p, e = run.patients, run.events
    terminal = e[e.event.isin(["death", "censored"])].groupby(["strategy", "patient_id"], observed=True).size()
    assert len(terminal) == len(p) and (terminal == 1).all()
    assert (p.death == (p.death_cause != "none")).all()
    assert (p.death_day[p.death] == p.last_day[p.death]).all()
    assert p.death_day[~p.death].isna().all()
    assert e.detail.notna().all() and e.event.notna().all()


def test_event_times_are_monotone_and_none_follows_death_or_censoring(run):
    e = run.events.copy()
    last = e.groupby(["strategy", "patient_id"], observed=True).day.transform("max")
    terminal = e.event.isin(["death", "censored"])
    assert (e.day[terminal] == last[terminal]).all()
    assert (e.day >= 0).all()
    ordered = e.groupby(["strategy", "patient_id"], observed=True).day.apply(lambda d: d.is_monotonic_increasing)
    assert ordered.all()
    p = run.patients
    assert (e.merge(p[["strategy", "patient_id", "last_day"]], on=["strategy", "patient_id"]).eval("day <= last_day")).all()


def test_columns_are_consistent(run):
    p = run.patients
    assert (p.hsct <= p.infused).all()
    assert p.response[p.hsct].isin(["cr_mrd_neg", "cr_mrd_pos"]).all()
    assert (p.hsct_day[p.hsct] > p.infusion_day[p.hsct]).all()
    assert (p.relapse_day[p.relapse] > p.infusion_day[p.relapse]).all()
    assert (p.relapse_day[p.relapse] < p.last_day[p.relapse]).all()
    assert (p.response[~p.infused] == "not_assessed").all()
    assert (p.crs_grade[~p.infused] == 0).all()
    assert p.crs_grade.between(0, 5).all() and p.icans_grade.between(0, 5).all() and p.agvhd_grade.between(0, 4).all()
    assert (p.relapse_cd7_negative <= p.relapse).all()
    assert (p.last_day <= 1826.25).all()
    chemo = p[p.strategy == "chemo_allo"]
    assert (chemo.crs_grade == 0).all() and (chemo.icans_grade == 0).all()
    assert (p.cgvhd <= p.hsct).all()


def test_crs_death_is_grade_5_and_gvhd_deaths_follow_transplant(run):
    p = run.patients
    assert (p.crs_grade[p.death_cause == "crs"] == 5).all()
    assert p.hsct[p.death_cause == "gvhd"].all()


def test_same_patients_under_every_strategy(run):
    p = run.patients
    by = {name: g.reset_index(drop=True) for name, g in p.groupby("strategy", observed=True)}
    first = next(iter(by.values()))
    for g in by.values():
        pd.testing.assert_series_equal(g.age, first.age)
        pd.testing.assert_series_equal(g.disease, first.disease)


def test_same_course_until_the_strategies_diverge(run):
    """cart_alone and cart_bridge_allo share product, toxicity and response; a patient who is
    never transplanted under cart_bridge_allo has the same whole course under cart_alone."""
    p = run.patients
    alone = p[p.strategy == "cart_alone"].reset_index(drop=True)
    bridge = p[p.strategy == "cart_bridge_allo"].reset_index(drop=True)
    shared = ["infused", "infusion_day", "crs_grade", "icans_grade", "response", "response_day"]
    pd.testing.assert_frame_equal(alone[shared], bridge[shared])
    untransplanted = ~bridge.hsct.to_numpy()
    columns = [c for c in p.columns if c != "strategy"]
    pd.testing.assert_frame_equal(alone.loc[untransplanted, columns], bridge.loc[untransplanted, columns])


def metric(summary: pd.DataFrame, strategy: str, name: str) -> float:
    row = summary[(summary.strategy == strategy) & (summary.metric == name)]
    return float(row.estimate.iloc[0])


def test_no_consolidation_gives_worse_pfs(run):
    summary = summarise(run.patients)
    assert metric(summary, "cart_alone", "pfs_1y") < metric(summary, "cart_bridge_allo", "pfs_1y")
    assert metric(summary, "cart_alone", "dfs_1y") < metric(summary, "cart_haplo_no_prophylaxis", "dfs_1y")


def test_later_transplant_means_more_relapse_before_transplant(base_scenario, params):
    early = Strategy(name="allo_day45", index_therapy="cart", hsct_platform="conventional", hsct_interval_days=45, hsct_uptake=1.0)
    late = Strategy(name="allo_day120", index_therapy="cart", hsct_platform="conventional", hsct_interval_days=120, hsct_uptake=1.0)
    scenario = base_scenario.model_copy(update={"patients": 1500, "strategies": [early, late]})
    p = simulate(scenario, params, "cohort").patients
    in_cr = p.response.isin(["cr_mrd_neg", "cr_mrd_pos"])
    relapse_before = p.relapse & ~p.hsct & in_cr
    by_strategy = relapse_before.groupby(p.strategy, observed=True).sum()
    assert by_strategy["allo_day120"] > by_strategy["allo_day45"]
    transplanted = p.hsct.groupby(p.strategy, observed=True).sum()
    assert transplanted["allo_day120"] < transplanted["allo_day45"]


def test_dual_target_product_lowers_cd7_negative_relapse(base_scenario, params):
    single = Strategy(name="cd7", index_therapy="cart", hsct_platform="none")
    dual = Strategy(name="dual", index_therapy="cart", hsct_platform="none", cd7_negative_multiplier=0.0)
    scenario = base_scenario.model_copy(update={"patients": 1500, "strategies": [single, dual]})
    p = simulate(scenario, params, "cohort").patients
    negative = p.relapse_cd7_negative.groupby(p.strategy, observed=True).sum()
    assert negative["dual"] == 0 and negative["cd7"] > 0
    cr = p.response.isin(["cr_mrd_neg", "cr_mrd_pos"]).groupby(p.strategy, observed=True).mean()
    assert cr["dual"] > cr["cd7"]


def test_fewer_manufacturing_slots_mean_later_infusion_and_more_dropout(base_scenario, params):
    strategies = [s for s in base_scenario.strategies if s.name == "cart_alone"]
    unlimited = base_scenario.model_copy(update={"patients": 300, "strategies": strategies})
    scarce = unlimited.model_copy(update={"capacity": unlimited.capacity.model_copy(update={"manufacturing_slots": 20})})
    free, queued = (simulate(s, params, "des").patients for s in (unlimited, scarce))
    assert queued.infusion_day.mean() > free.infusion_day.mean() + 30
    assert queued.infused.sum() < free.infused.sum()
    # Waiting never changes anyone's luck: the same patients respond or not when infused in both.
    both = free.infused & queued.infused
    assert (free.response[both] == queued.response[both]).all()


def test_fewer_transplant_beds_delay_transplant(base_scenario, params):
    strategies = [s for s in base_scenario.strategies if s.name == "cart_haplo_no_prophylaxis"]
    unlimited = base_scenario.model_copy(update={"patients": 400, "strategies": strategies})
    scarce = unlimited.model_copy(update={"capacity": unlimited.capacity.model_copy(update={"transplant_beds": 2})})
    free, queued = (simulate(s, params, "des").patients for s in (unlimited, scarce))
    delay = lambda p: (p.hsct_day - p.infusion_day)[p.hsct].mean()  # noqa: E731
    assert delay(queued) > delay(free) + 7
    assert queued.hsct.sum() <= free.hsct.sum()
