"""The benchmark's yardstick: the pathway written as a newcomer to SimPy would write it.

One process per patient, ``yield env.timeout(...)`` for every step, a ``simpy.Resource`` for each
scarce resource (apheresis chair, manufacturing slots, CAR-T beds, ICU beds, transplant beds) and a
numpy random draw at each step. It is not the project's model and does not reproduce its outputs
(its draws are not common random numbers, and its rules are simplified); it does comparable work —
the same steps, the same parameters and the same resources for every patient of every strategy, and a
table of one row per patient — so that ``cd7sim bench`` can say how much faster the engines are than
the plain way of writing the model.
"""

from __future__ import annotations

import bisect
import itertools
import math

import numpy as np
import pandas as pd
import simpy

from sim.inputs.codes import DAYS_PER_YEAR
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Scenario
from sim.inputs.strategies import Strategy

UNLIMITED = 10**9
"""Servers of a resource the scenario leaves unlimited (a newcomer's "big enough")."""


def simulate_reference(scenario: Scenario, params: ParameterSet, seed: int = 0) -> pd.DataFrame:
    """Every strategy of ``scenario`` (one replication, closed cohort), one SimPy process per patient.

    Returns
    -------
    pandas.DataFrame
        One row per patient and strategy: strategy, patient, infusion, response, HSCT, relapse and
        death days (``NaN`` where they did not happen) and the cause of death.
    """
    assert scenario.patients is not None, "the reference model simulates a closed cohort"
    rows: list[dict] = []
    for strategy in scenario.strategies:
        rng = np.random.default_rng([seed, len(rows)])
        env = simpy.Environment()
        capacity = scenario.capacity
        slots = capacity.apheresis_slots_per_week
        beds = {
            "apheresis": simpy.Resource(env, capacity=1 if slots else UNLIMITED),
            "manufacturing": simpy.Resource(env, capacity=capacity.manufacturing_slots or UNLIMITED),
            "cart_bed": simpy.Resource(env, capacity=capacity.cart_beds or UNLIMITED),
            "icu_bed": simpy.Resource(env, capacity=capacity.icu_beds or UNLIMITED),
            "transplant_bed": simpy.Resource(env, capacity=capacity.transplant_beds or UNLIMITED),
        }
        appointment = 7.0 / slots if slots else 0.0
        grades = {"crs": _cumulative(_crs_probabilities(params)), "icans": _cumulative(_icans_probabilities(params))}
        for i in range(scenario.patients):
            env.process(_patient(env, i, strategy, scenario, params, rng, beds, appointment, grades, rows))
        env.run(until=scenario.horizon_days)
    return pd.DataFrame(rows)


def _patient(env, i, strategy: Strategy, scenario: Scenario, p: ParameterSet, rng, beds, appointment, grades, rows):
    """One patient through the pathway: waits for resources, a draw at each step."""
    mix, horizon = scenario.case_mix, scenario.horizon_days
    row = {"strategy": strategy.name, "patient_id": i, "infusion_day": math.nan, "response": "not_assessed",
           "hsct_day": math.nan, "agvhd": False, "cgvhd": False, "relapse_day": math.nan, "death_day": math.nan,
           "death_cause": "none"}
    rows.append(row)
    disease = _pick(rng, list(mix.disease), _cumulative(mix.disease.values()))
    age = min(max(rng.normal(40.0, 18.0), 3.0), 75.0)
    primary_refractory = rng.random() < mix.primary_refractory
    prior_hsct = rng.random() < mix.prior_hsct
    donor = rng.random() < mix.donor_available
    blasts = min(max(rng.normal(36.0, 25.0), 0.0), 100.0)
    slope = p["background_gompertz_slope"]
    hazard = p["background_gompertz_rate_at_40"] * math.exp(slope * (age - 40.0))
    background = math.log1p(rng.exponential() * slope / hazard) / slope * DAYS_PER_YEAR
    dropout = rng.exponential(60.0 / -math.log1p(-p["dropout_60d"]))

    def weibull(median, shape):
        return median / math.log(2.0) ** (1.0 / shape) * rng.weibull(shape)

    def live(days):
        """Wait ``days``, unless background death or the horizon comes first; then say if the patient is
        still alive and followed."""
        stop = min(env.now + days, background, horizon)
        if stop > env.now:
            yield env.timeout(stop - env.now)
        if background <= env.now and background < horizon:
            row["death_day"], row["death_cause"] = env.now, "background"
        return env.now < min(background, horizon)

    def die_within(days, cause):
        if (yield from live(days)):
            row["death_day"], row["death_cause"] = env.now, cause

    # 1. apheresis and manufacturing, or chemotherapy
    if strategy.index_therapy == "cart":
        source = _pick(rng, list(mix.cart_source), _cumulative(mix.cart_source.values()))
        yield env.timeout(p["apheresis_delay_days"])
        with beds["apheresis"].request() as request:
            yield request
            yield env.timeout(appointment)
        with beds["manufacturing"].request() as request:
            yield request
            yield env.timeout(rng.lognormal(math.log(p["manufacturing_days"]), p["manufacturing_days_sigma"]))
        failed = rng.random() < p["manufacturing_failure"]
        yield env.timeout(p["lymphodepletion_days"])
        if failed or env.now > min(dropout, background):
            yield from die_within(weibull(p["refractory_survival_median_days"], p["disease_survival_shape"]), "disease")
            return
        # 2-5. infusion on a CAR-T bed; CRS, ICANS, infection; intensive care
        with beds["cart_bed"].request() as request:
            yield request
            row["infusion_day"] = env.now
            crs = _pick(rng, range(6), grades["crs"])
            icans = _pick(rng, range(6), grades["icans"])
            infection = rng.random() < p["severe_infection_cart"]
            if crs >= 3 or icans >= 3 or infection:
                with beds["icu_bed"].request() as icu:
                    yield icu
                    yield env.timeout(p["icu_stay_days"])
            if crs == 5 or icans == 5 or (infection and rng.random() < p["infection_death_given_severe"]):
                row["death_day"], row["death_cause"] = env.now, "crs" if crs == 5 else "icans" if icans == 5 else "infection"
                return
            yield env.timeout(p["cart_stay_days"] + p["cart_stay_extra_days_per_grade"] * max(max(crs, icans) - 1, 0))
        p_cr = p["cr_cart_aml"] if disease == "AML" else p["cr_cart_tcell"]
        donor = donor or source == "donor_derived"
    else:
        yield env.timeout(p["chemo_start_days"])
        row["infusion_day"] = env.now
        if rng.random() < p["severe_infection_chemo"]:
            with beds["icu_bed"].request() as icu:
                yield icu
                yield env.timeout(p["icu_stay_days"])
        p_cr = p["cr_chemo"] * (p["cr_chemo_primary_refractory_multiplier"] if primary_refractory else 1.0)

    # 6. response
    if not (yield from live(max(row["infusion_day"] + p["response_assessment_days"] - env.now, 0.0))):
        return
    if rng.random() >= p_cr:
        row["response"] = "no_response"
        yield from die_within(weibull(p["refractory_survival_median_days"], p["disease_survival_shape"]), "disease")
        return
    row["response"] = "cr_mrd_neg" if rng.random() < p["mrd_negative_given_cr"] else "cr_mrd_pos"

    # 7-8. transplant decision, a transplant bed, engraftment and GVHD
    relapse_p, relapse_median = p["relapse_no_consolidation"], p["relapse_no_consolidation_median_days"]
    if strategy.hsct_platform != "none":
        names = strategy.transplant_parameters
        uptake = strategy.hsct_uptake if strategy.hsct_uptake is not None else p[names.uptake]
        fit = not prior_hsct or rng.random() < p["fit_after_prior_hsct"]
        if donor and fit and rng.random() < uptake:
            median = strategy.hsct_interval_days or p[names.interval_days]
            interval = rng.lognormal(math.log(median), p["hsct_interval_sigma"])
            if not (yield from live(max(row["infusion_day"] + interval - env.now, 0.0))):
                return
            with beds["transplant_bed"].request() as request:
                yield request
                row["hsct_day"] = env.now
                full_donor = rng.random() >= p[names.autologous_recovery] + p[names.graft_failure]
                row["agvhd"] = full_donor and rng.random() < p[names.agvhd2plus]
                row["cgvhd"] = full_donor and rng.random() < p[names.cgvhd]
                yield env.timeout(p["hsct_stay_days"])
            if rng.random() < p[names.nrm]:
                yield from die_within(rng.exponential(p["nrm_median_days"] / math.log(2.0)), "other_nrm")
                return
            if full_donor:
                relapse_p = p[names.relapse] * (p["relapse_high_blasts_multiplier"] if blasts > 20.0 else 1.0)
                relapse_median = p["relapse_post_hsct_median_days"]

    # 9-10. relapse, then death from the disease; censoring at the horizon
    if rng.random() >= relapse_p:
        yield from live(math.inf)
        return
    if not (yield from live(weibull(relapse_median, p["relapse_time_shape"]))):
        return
    row["relapse_day"] = env.now
    yield from die_within(weibull(p["post_relapse_median_days"], p["disease_survival_shape"]), "disease")


def _crs_probabilities(p: ParameterSet) -> list[float]:
    """Probabilities of CRS grades 0-5."""
    mild = p["crs_any"] * (1.0 - p["crs_grade3plus_given_any"])
    severe = p["crs_any"] * p["crs_grade3plus_given_any"]
    very = severe * p["crs_grade4plus_given_3plus"]
    return _normalised([1.0 - p["crs_any"], mild * (1.0 - p["crs_grade2_given_mild"]), mild * p["crs_grade2_given_mild"],
                        severe - very, very * (1.0 - p["crs_grade5_given_4plus"]), very * p["crs_grade5_given_4plus"]])


def _icans_probabilities(p: ParameterSet) -> list[float]:
    """Probabilities of ICANS grades 0-5."""
    mild = p["icans_any"] * (1.0 - p["icans_grade3plus_given_any"])
    severe = p["icans_any"] * p["icans_grade3plus_given_any"]
    fatal = severe * p["icans_grade5_given_3plus"]
    return _normalised([1.0 - p["icans_any"], mild / 2, mild / 2, (severe - fatal) / 2, (severe - fatal) / 2, fatal])


def _normalised(probabilities: list[float]) -> list[float]:
    total = sum(probabilities)
    return [max(x, 0.0) / total for x in probabilities]


def _cumulative(probabilities) -> list[float]:
    return list(itertools.accumulate(probabilities))


def _pick(rng, categories, cumulative: list[float]):
    """A category drawn with the given cumulative probabilities."""
    return categories[min(bisect.bisect(cumulative, rng.random()), len(cumulative) - 1)]
