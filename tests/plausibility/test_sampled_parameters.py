"""No impossible course anywhere in the parameters' uncertainty: hypothesis draws a quantile of every uncertain
parameter's distribution (its ``ppf``), simulates a small base-case cohort under every strategy and checks
every impossible rule (implausible shares are bounds for the calibrated model, not for every corner of the
priors)."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sim.inputs.parameters import FixedDist, ParameterSet
from sim.outcomes.plausibility import IMPOSSIBLE, RULES, check
from sim.report.plausibility import format_check
from sim.simulation.runner import simulate

QUANTILE = st.floats(min_value=0.001, max_value=0.999)
"""Quantiles of each distribution: the open interval, so that no draw is an unbounded tail."""


def uncertain(params: ParameterSet) -> list[str]:
    return [name for name, parameter in params.registry.items() if not isinstance(parameter.distribution, FixedDist)]


def drawn(params: ParameterSet, quantiles: list[float]) -> ParameterSet:
    """``params`` with every uncertain parameter at the given quantile of its distribution."""
    names = uncertain(params)
    return params.with_values({name: float(params.registry[name].distribution.ppf(q))
                               for name, q in zip(names, quantiles)})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: the report names the rule and patients
@given(data=st.data(), seed=st.integers(0, 2**31 - 1), patients=st.integers(1, 60))
def test_no_impossible_course_for_parameters_drawn_within_their_uncertainty(base_scenario, params, data, seed, patients):
    quantiles = data.draw(st.lists(QUANTILE, min_size=len(uncertain(params)), max_size=len(uncertain(params))), label="quantiles")
    sampled = drawn(params, quantiles)
    scenario = base_scenario.model_copy(update={"patients": patients, "seed": seed})
    simulation = simulate(scenario, sampled, "des", with_resources=False)
    report = check(simulation.patients, simulation.events, [rule for rule in RULES if rule.kind == IMPOSSIBLE])
    assert [result.rule.name for result in report.failed] == [], format_check(report)
