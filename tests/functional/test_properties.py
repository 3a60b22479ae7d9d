"""Property tests: invariants hold for any parameter set in the priors' support and any seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.simulation.runner import simulate


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parameter_seed=st.integers(0, 2**32 - 1), run_seed=st.integers(0, 2**31 - 1), patients=st.integers(1, 60))
def test_invariants_and_engine_agreement_for_sampled_parameters(base_scenario, params, parameter_seed, run_seed, patients):
    sampled = params.sample(np.random.default_rng(parameter_seed))
    scenario = base_scenario.model_copy(update={"patients": patients, "seed": run_seed})
    des = simulate(scenario, sampled, "des")
    p = des.patients
    assert len(p) == 4 * patients
    assert (p.last_day <= scenario.horizon_days).all()
    assert (p.death == p.death_day.notna()).all()
    assert (p.hsct <= p.infused).all() and (p.relapse <= p.infused).all()
    for before, after in (("infusion_day", "response_day"), ("infusion_day", "hsct_day"), ("infusion_day", "relapse_day")):
        both = p[before].notna() & p[after].notna()
        assert (p.loc[both, before] <= p.loc[both, after]).all()
    for column in ("infusion_day", "hsct_day", "relapse_day", "response_day"):
        assert (p[column].isna() | (p[column] <= p.last_day)).all()
    cohort = simulate(scenario, sampled, "cohort")
    pd.testing.assert_frame_equal(des.patients, cohort.patients, rtol=0, atol=1e-9)
