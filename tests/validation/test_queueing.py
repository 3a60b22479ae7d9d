"""Queueing theory checks of the SimPy engine: the manufacturing slots as an M/M/c queue.

With the clinical events that end a wait switched off (no progression before infusion, no
background death), every product autologous (every patient needs a manufacturing slot), Poisson
referrals and exponential slot times, the manufacturing slots are an M/M/c queue: each referral
asks for a slot a fixed apheresis delay after referral (a shifted Poisson process is Poisson with
the same rate λ), holds it for an exponential time of mean 1/μ, and nobody leaves the queue.
Steady-state theory then gives the mean wait (Erlang C), the utilisation (λ / cμ) and Little's law.

Only the slot times are replaced; the scenario, referrals, patients, plan, queue and resource
metrics are the real pipeline. Every product fails manufacturing: a failed product holds its slot
for the whole manufacturing time, so the slot queue is the same, but the pathway ends at release,
so there are no CAR-T bed or infusion events to simulate (half the run time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest

from sim.disease.course import plan_course
from sim.disease.draws import PatientDraws
from sim.disease.patients import build_cohort
from sim.engines.arrivals import referral_days
from sim.engines.des import simulate_services
from sim.inputs.codes import DAYS_PER_YEAR
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Arrivals, Capacity, Scenario
from sim.inputs.strategies import BUILTIN_STRATEGIES
from sim.outcomes.resources import resource_metrics

QUEUE_ONLY = {"dropout_60d": 0.0, "background_gompertz_rate_at_40": 0.0, "manufacturing_failure": 1.0}
"""No exit while waiting (never drop out, never die of background causes); the pathway ends at release."""
AUTOLOGOUS_ONLY = {"autologous": 1.0, "donor_derived": 0.0, "universal": 0.0}
WARM_UP_SERVICES = 200.0
"""Warm-up in mean service times: far longer than the queues' relaxation times (under 50 here)."""
REPLICATION = 0
WAIT_TOLERANCE = 0.05
UTILISATION_TOLERANCE = 0.03
LITTLE_TOLERANCE = 0.05


@dataclass(frozen=True)
class Setting:
    """An M/M/c queue: ``servers`` slots at utilisation ``load`` = λ / cμ, observed over
    ``customers`` expected referrals after the warm-up.

    The relative standard error of a mean wait over n customers is about sqrt(K / n), with K
    about 50 (c = 1, ρ = 0.7), 130 (2, 0.8), 70 (3, 0.6) and 130 (5, 0.6), measured on long
    M/M/c runs; ``customers`` keeps it near 1.4%, so the 5% tolerance is over 3.5 standard errors.
    """

    servers: int
    load: float
    mean_service_days: float
    customers: int

    @property
    def arrival_rate(self) -> float:
        """λ, referrals a day."""
        return self.load * self.servers / self.mean_service_days

    @property
    def service_rate(self) -> float:
        """μ, services a day per slot."""
        return 1.0 / self.mean_service_days


SETTINGS = (
    Setting(servers=1, load=0.7, mean_service_days=30.0, customers=300_000),
    Setting(servers=2, load=0.8, mean_service_days=40.0, customers=650_000),
    Setting(servers=3, load=0.6, mean_service_days=25.0, customers=350_000),
    Setting(servers=5, load=0.6, mean_service_days=45.0, customers=700_000),
)


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival to an M/M/c queue waits (Erlang C), for offered load a = λ/μ < c.

    From the Erlang B recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)), and
    C = B(c) / (1 - ρ (1 - B(c))) with ρ = a / c.
    """
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    load = offered_load / servers
    return blocking / (1.0 - load * (1.0 - blocking))


def erlang_c_mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean wait in the queue of an M/M/c queue, Wq = C(c, λ/μ) / (cμ - λ) (days)."""
    return erlang_c(servers, arrival_rate / service_rate) / (servers * service_rate - arrival_rate)


def manufacturing_metrics(
    base: Scenario, params: ParameterSet, servers: int | None, arrival_rate: float, mean_service_days: float, customers: int,
) -> dict[str, float]:
    """Run the real pipeline with exponential slot times; the manufacturing metrics over the window.

    The referrals are built without the schema's checks (``model_construct``): a synthetic M/M/c queue
    needs centuries of referrals, beyond the 100-year bound that guards clinical scenarios.

    Parameters
    ----------
    base : Scenario
        The base scenario, made an open cohort of autologous products under ``cart_alone``.
    params : ParameterSet
        Parameter values; the clinical events of :data:`QUEUE_ONLY` are set on top.
    servers : int or None
        Manufacturing slots (``None``: unlimited).
    arrival_rate : float
        Referrals a day.
    mean_service_days : float
        Mean of the exponential slot times.
    customers : int
        Expected referrals after the warm-up.
    """
    arrivals = Arrivals.model_construct(
        rate_per_year=arrival_rate * DAYS_PER_YEAR, monthly_profile=None,
        warm_up_days=WARM_UP_SERVICES * mean_service_days, run_length_days=customers / arrival_rate,
    )
    scenario = base.model_copy(update={
        "patients": None, "arrivals": arrivals, "capacity": Capacity(manufacturing_slots=servers),
        "case_mix": base.case_mix.model_copy(update={"cart_source": AUTOLOGOUS_ONLY}),
    })
    enrol = referral_days(scenario.arrivals, scenario.seed, REPLICATION)
    draws = PatientDraws(scenario.seed, REPLICATION, enrol.size)
    attributes = build_cohort(scenario.case_mix, draws)
    plan = plan_course(params.with_overrides(QUEUE_ONLY), BUILTIN_STRATEGIES["cart_alone"], attributes, draws)
    assert plan.needs_slot.all() and np.isinf(plan.pre_infusion_exit_day).all()
    slot_days = np.random.default_rng(scenario.seed).exponential(mean_service_days, enrol.size)
    services = simulate_services(replace(plan, slot_days=slot_days), scenario.capacity, enrol)
    return resource_metrics(services.resource_use, enrol, scenario.capacity, scenario.observation_window)["manufacturing"]


@pytest.fixture(scope="module", params=SETTINGS, ids=lambda s: f"c{s.servers}-rho{s.load}")
def queue(request: pytest.FixtureRequest, base_scenario: Scenario, params: ParameterSet) -> tuple[Setting, dict[str, float]]:
    """One M/M/c setting and the engine's manufacturing metrics (simulated once for all its tests)."""
    setting: Setting = request.param
    return setting, manufacturing_metrics(base_scenario, params, setting.servers, setting.arrival_rate,
                                          setting.mean_service_days, setting.customers)


@pytest.mark.parametrize("servers, offered_load", [(1, 0.7), (2, 1.6), (3, 2.25), (5, 3.5), (8, 7.9)])
def test_erlang_c_matches_the_closed_form(servers: int, offered_load: float) -> None:
    """The theory the engine is held to: the Erlang B recursion gives the textbook Erlang C,
    a^c / c! · c/(c - a) over Σ_{k<c} a^k / k! + a^c / c! · c/(c - a)."""
    last = offered_load**servers / math.factorial(servers) * servers / (servers - offered_load)
    closed_form = last / (sum(offered_load**k / math.factorial(k) for k in range(servers)) + last)
    assert erlang_c(servers, offered_load) == pytest.approx(closed_form, rel=1e-12)


@pytest.mark.slow
def test_mean_wait_matches_erlang_c(queue: tuple[Setting, dict[str, float]]) -> None:
    """The mean wait for a slot is the M/M/c steady-state mean wait Wq = C(c, λ/μ) / (cμ - λ),
    within 5%: the FIFO pool, the calendar and the wait measurement together are a correct
    c-server first-come-first-served queue."""
    setting, metrics = queue
    expected = erlang_c_mean_wait(setting.servers, setting.arrival_rate, setting.service_rate)
    assert metrics["mean_wait_days"] == pytest.approx(expected, rel=WAIT_TOLERANCE)


@pytest.mark.slow
def test_utilisation_is_offered_load_per_server(queue: tuple[Setting, dict[str, float]]) -> None:
    """The share of slot time in use is ρ = λ E[S] / c: in steady state the slots serve all the
    work that arrives (nobody leaves the queue), λ E[S] slot-days a day spread over c slots."""
    setting, metrics = queue
    assert metrics["utilisation"] == pytest.approx(setting.load, rel=UTILISATION_TOLERANCE)


@pytest.mark.slow
def test_littles_law_holds_for_the_queue(queue: tuple[Setting, dict[str, float]]) -> None:
    """Little's law L = λW for the queue: the time-average number waiting equals the rate of
    requests in the window times their mean wait (a sample-path identity, up to the requests
    still waiting at the edges of the window), so the queue length and the waits are counted
    consistently."""
    _, metrics = queue
    requests_per_day = metrics["requests_per_year"] / DAYS_PER_YEAR
    assert metrics["mean_queue"] == pytest.approx(requests_per_day * metrics["mean_wait_days"], rel=LITTLE_TOLERANCE)


@pytest.mark.slow
def test_unlimited_capacity_is_an_infinite_server_queue(base_scenario: Scenario, params: ParameterSet) -> None:
    """With unlimited slots (M/M/∞) nobody waits and the mean number of slots in use is the
    offered load λ/μ (the mean of its Poisson steady state); 100 000 customers make the
    standard error about 0.5%, so 5% is a firm bound."""
    arrival_rate, mean_service_days = 0.2, 30.0
    metrics = manufacturing_metrics(base_scenario, params, None, arrival_rate, mean_service_days, 100_000)
    assert metrics["mean_wait_days"] == 0.0
    assert metrics["mean_queue"] == 0.0
    assert metrics["mean_in_use"] == pytest.approx(arrival_rate * mean_service_days, rel=0.05)
