"""The mechanisms the evidence implies (issue 11), each shown on the contract tables of a run: MRD, age,
late effects of transplant, late deaths without transplant, survival with disease by context, CD7-negative
escape and what replaces it, MRD-guided transplant and salvage of a relapse after HSCT.

Each test switches one mechanism on or off through its parameter or strategy field and checks the
direction (or the absence) of its effect; the packaged prior means are used throughout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.inputs.codes import DAYS_PER_YEAR
from sim.inputs.strategies import resolve_strategy
from sim.simulation.runner import simulate

PATIENTS = 6000


def _run(base_scenario, params, *strategies, patients: int = PATIENTS, **overrides) -> pd.DataFrame:
    """The patients table of a cohort-engine run of the given strategies (names or mappings)."""
    chosen = [resolve_strategy(s, f"strategies[{i}]") for i, s in enumerate(strategies)]
    scenario = base_scenario.model_copy(update={"patients": patients, "strategies": chosen, "seed": 7})
    return simulate(scenario, params.with_overrides(overrides), "cohort").patients


def _share(mask: pd.Series) -> float:
    return float(mask.mean())


def test_mrd_positive_responders_relapse_more_after_hsct(base_scenario, params):
    """HSCT-MRD-AML: relapse HR 3.65 for MRD before HSCT; with HR 1 the difference disappears."""
    for hazard_ratio in (3.65, 1.0):
        p = _run(base_scenario, params, "cart_bridge_allo", patients=20000, relapse_mrd_positive_hr=hazard_ratio)
        t = p[p.hsct]
        positive, negative = t[t.response == "cr_mrd_pos"], t[t.response == "cr_mrd_neg"]
        assert len(positive) > 100 and len(negative) > 1000
        gap = _share(positive.relapse) - _share(negative.relapse)
        if hazard_ratio > 1:
            assert gap > 0.08
        else:
            assert abs(gap) < 0.05


def test_older_patients_die_more_often_without_relapse_after_hsct_and_children_less(base_scenario, params):
    """HSCT-LATE-BMTSS: NRM rises with age (RR against 18-45: 0.59 under 18, 2.18 at 46 and over)."""
    wide_ages = base_scenario.case_mix.model_copy(update={"age": base_scenario.case_mix.age.model_copy(update={"low": 2.0, "high": 75.0})})
    scenario = base_scenario.model_copy(update={"case_mix": wide_ages})
    p = _run(scenario, params, "cart_bridge_allo", patients=30000)
    t = p[p.hsct]
    non_relapse = t.death & ~t.relapse & (t.death_cause != "background")
    bands = pd.cut(t.age, [0, 18, 46, 200], right=False, labels=["child", "adult", "older"])
    share = non_relapse.groupby(bands, observed=True).mean()
    assert share["child"] < share["adult"] < share["older"]


def test_late_effects_kill_transplant_survivors_after_two_years_more_with_chronic_gvhd(base_scenario, params):
    """HSCT-LATE-BMTSS: 2-year survivors keep an excess mortality (RM 9.9 falling to 2.2), x2.7 with cGVHD."""
    p = _run(base_scenario, params, "cart_bridge_allo", patients=30000, late_relative_mortality_2y=30.0, late_relative_mortality_15y=10.0)
    two_years = p.hsct_day + 2 * DAYS_PER_YEAR
    survivors = p[p.hsct & (p.last_day > two_years) & ~(p.relapse & (p.relapse_day <= two_years))]
    late = survivors.death & (survivors.death_cause == "other_nrm") & ~survivors.relapse
    assert late.sum() > 50
    assert (survivors.death_day[late] >= survivors.hsct_day[late] + 2 * DAYS_PER_YEAR - 1e-9).all()
    assert _share(late[survivors.cgvhd]) > _share(late[~survivors.cgvhd])
    none = _run(base_scenario, params, "cart_bridge_allo", patients=30000, late_relative_mortality_2y=1.0, late_relative_mortality_15y=1.0)
    late_none = none.hsct & none.death & (none.death_cause == "other_nrm") & (none.death_day > none.hsct_day + 2 * DAYS_PER_YEAR)
    assert late_none.sum() < late.sum() / 5


def test_late_non_relapse_death_without_transplant_after_day_30(base_scenario, params):
    def late_deaths(p: pd.DataFrame) -> pd.Series:
        nrm = p.death_cause.isin(["infection", "other_nrm"]) & ~p.relapse & ~p.hsct
        return nrm & (p.death_day - p.infusion_day > 30.0)

    with_risk = _run(base_scenario, params, "cart_alone", late_nrm_no_hsct=0.15)
    without = _run(base_scenario, params, "cart_alone", late_nrm_no_hsct=0.0)
    assert late_deaths(without).sum() == 0
    assert late_deaths(with_risk).sum() > 0.02 * len(with_risk)


def test_survival_with_disease_depends_on_the_context(base_scenario, params):
    """Refractory disease, relapse without and after transplant each have their own median."""
    p = _run(base_scenario, params, "cart_bridge_allo", patients=20000, refractory_survival_median_days=30.0,
             post_relapse_median_days=60.0, post_hsct_relapse_median_days=200.0)
    disease = p[p.death & (p.death_cause == "disease")]
    refractory = disease[disease.response == "no_response"]
    after_hsct = disease[disease.relapse & disease.hsct]
    without_hsct = disease[disease.relapse & ~disease.hsct]
    assert np.median(refractory.death_day - refractory.response_day) == pytest.approx(30.0, rel=0.1)
    assert np.median(without_hsct.death_day - without_hsct.relapse_day) == pytest.approx(60.0, rel=0.15)
    assert np.median(after_hsct.death_day - after_hsct.relapse_day) == pytest.approx(200.0, rel=0.15)


def test_chemotherapy_responders_without_transplant_relapse_with_their_own_rate(base_scenario, params):
    no_hsct = {"name": "chemo_alone", "index_therapy": "chemo", "hsct_platform": "none"}
    p = _run(base_scenario, params, no_hsct, "cart_alone", relapse_after_chemo_no_hsct=0.0, relapse_mrd_positive_hr=1.0)
    chemo, cart = p[p.strategy == "chemo_alone"], p[p.strategy == "cart_alone"]
    assert not chemo.relapse.any()
    assert _share(cart.relapse[cart.response.isin(["cr_mrd_neg", "cr_mrd_pos"])]) > 0.5


def test_cd7_negative_share_after_conventional_hsct_is_its_own(base_scenario, params):
    p = _run(base_scenario, params, "cart_bridge_allo", "cart_haplo_no_prophylaxis", patients=20000,
             cd7_negative_share_of_relapse_after_conventional_hsct=0.0)
    bridge, haplo = p[p.strategy == "cart_bridge_allo"], p[p.strategy == "cart_haplo_no_prophylaxis"]
    full_donor_relapse = bridge.hsct & bridge.relapse & (bridge.chimerism == "full_donor")
    assert full_donor_relapse.sum() > 30 and not bridge.relapse_cd7_negative[full_donor_relapse].any()
    assert haplo.relapse_cd7_negative[haplo.hsct & haplo.relapse].any()


@pytest.mark.parametrize("to_positive", [0.0, 1.0])
def test_prevented_cd7_negative_escape_is_replaced_as_configured(base_scenario, params, to_positive):
    """A dual-target product (multiplier 0): with share 1 every prevented escape becomes a CD7-positive
    failure (non-response and relapse rates unchanged); with share 0 they all become remissions/cures."""
    dual = {"name": "dual", "base": "cart_alone", "cd7_negative_multiplier": 0.0, "prevented_escape_to_cd7_positive": to_positive}
    p = _run(base_scenario, params, "cart_alone", dual, patients=20000)
    single, double = p[p.strategy == "cart_alone"], p[p.strategy == "dual"]
    assert not double.relapse_cd7_negative.any()
    non_response = (_share(single.response == "no_response"), _share(double.response == "no_response"))
    relapse = (_share(single.relapse), _share(double.relapse))
    if to_positive == 1.0:
        assert non_response[1] == pytest.approx(non_response[0], abs=1e-12)
        assert relapse[1] == pytest.approx(relapse[0], abs=0.01)
    else:
        assert non_response[1] < non_response[0] - 0.05 and relapse[1] < relapse[0] - 0.2


def test_mrd_guided_strategy_transplants_only_mrd_positive_responders(base_scenario, params):
    guided = {"name": "guided", "base": "cart_bridge_allo", "hsct_for": "mrd_positive"}
    p = _run(base_scenario, params, guided, patients=20000)
    assert p.hsct.any() and (p.response[p.hsct] == "cr_mrd_pos").all()


def test_salvage_of_a_relapse_after_hsct(base_scenario, params):
    """A second CD7 CAR-T cannot work on a CD7-negative relapse; responders to DLI live longer after relapse."""
    strategies = [{"name": f"haplo_{k}", "base": "cart_haplo_no_prophylaxis", "salvage_after_hsct_relapse": k}
                  for k in ("none", "dli", "second_cart")]
    scenario_params = {"salvage_dli_response": 0.5, "salvage_second_cart_response": 1.0, "salvage_response_survival_median_days": 600.0}
    p = _run(base_scenario, params, *strategies, patients=20000, **scenario_params)
    relapsed = p[p.hsct & p.relapse]

    def median_after_relapse(name: str) -> float:
        rows = relapsed[relapsed.strategy == name]
        return float(np.median(rows.last_day - rows.relapse_day))

    assert median_after_relapse("haplo_dli") > median_after_relapse("haplo_none") * 1.5
    second = relapsed[relapsed.strategy == "haplo_second_cart"]
    none = relapsed[relapsed.strategy == "haplo_none"]
    merged = second.merge(none, on="patient_id", suffixes=("", "_none"))
    negative = merged[merged.relapse_cd7_negative]
    assert len(negative) > 10
    np.testing.assert_array_equal(negative.last_day, negative.last_day_none)  # no effect on CD7-negative relapses
    positive = merged[~merged.relapse_cd7_negative]
    assert len(positive) > 10 and (positive.last_day >= positive.last_day_none - 1e-9).all()


def test_salvage_needs_a_transplant():
    from sim.inputs.errors import InputError

    with pytest.raises(InputError, match="salvage_after_hsct_relapse needs a transplant"):
        resolve_strategy({"name": "x", "base": "cart_alone", "salvage_after_hsct_relapse": "dli"}, "strategies[0]")
