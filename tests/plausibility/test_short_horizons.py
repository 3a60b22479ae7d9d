"""A follow-up shorter than the pathway: a horizon that ends before the infusion, the response assessment
or the transplant of many patients still gives only possible courses, with either engine, closed or open
cohort (nothing is recorded after ``last_day``)."""

from __future__ import annotations

import pytest

from sim import api
from sim.inputs.scenario import builtin_scenarios, load_scenario
from sim.report.plausibility import format_check

HORIZONS = (10.0, 30.0, 60.0, 120.0, 365.0)


@pytest.mark.parametrize("engine", ["des", "cohort"])
@pytest.mark.parametrize("horizon", HORIZONS)
def test_base_courses_are_plausible_at_a_short_horizon(base_scenario, horizon, engine):
    scenario = base_scenario.model_copy(update={"horizon_days": horizon})
    report = api.run(scenario, patients=300, replications=1, engine=engine, workers=1, economics=False).check()
    assert [result.rule.name for result in report.failed] == [], f"horizon {horizon:g} days, {engine}:\n{format_check(report)}"


@pytest.mark.parametrize("horizon", [30.0, 120.0])
def test_capacity_courses_are_plausible_at_a_short_horizon(horizon):
    """Queues push infusions and transplants later still: a short follow-up of a short run of referrals."""
    scenario = load_scenario(builtin_scenarios()["regional_centre"])
    arrivals = scenario.arrivals.model_copy(update={"run_length_days": 365.25})
    scenario = scenario.model_copy(update={"horizon_days": horizon, "arrivals": arrivals})
    report = api.run(scenario, replications=1, workers=1, economics=False).check()
    assert [result.rule.name for result in report.failed] == [], f"horizon {horizon:g} days:\n{format_check(report)}"
