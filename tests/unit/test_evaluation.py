"""The economic evaluation of a run (issue 12): settings, the lifetime horizon, economics.csv and icers.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.economics.evaluation import ICER_COLUMNS, SERVICE_COST_METRIC, evaluate
from sim.economics.incremental import incremental_analysis
from sim.economics.value_models import COST_CATEGORIES
from sim.inputs.codes import DAYS_PER_YEAR, PATIENT_KEY, SUMMARY_COLUMNS
from sim.inputs.economic_settings import LIFETIME_AGE_YEARS, Economics
from sim.inputs.errors import InputError
from sim.inputs.values import load_values
from sim.simulation.runner import simulate

METRICS = ("cost_total", *(f"cost_{c}" for c in COST_CATEGORIES), "cost_total_undiscounted", "qalys", "qalys_undiscounted",
           "life_years", "life_years_undiscounted")


def _by_patient(costs: dict[str, list[float]], qalys: dict[str, list[float]], replication: int = 0) -> pd.DataFrame:
    """A hand-made table of patient values: the given costs and QALYs, the rest derived."""
    rows = []
    for strategy, amounts in costs.items():
        for patient, (cost, qaly) in enumerate(zip(amounts, qalys[strategy])):
            row = dict(zip(PATIENT_KEY, ("hand", strategy, replication, patient)))
            row.update(dict.fromkeys(METRICS, 0.0))
            row.update(cost_total=cost, cost_product=cost, cost_total_undiscounted=cost * 1.1, qalys=qaly,
                       qalys_undiscounted=qaly * 1.1, life_years=qaly * 1.5, life_years_undiscounted=qaly * 1.6)
            rows.append(row)
    return pd.DataFrame(rows)


HAND = _by_patient(
    costs={"a": [10_000.0, 30_000.0], "b": [50_000.0, 70_000.0], "c": [100_000.0, 140_000.0], "d": [200_000.0, 240_000.0]},
    qalys={"a": [1.0, 2.0], "b": [1.0, 1.5], "c": [3.0, 5.0], "d": [3.5, 4.5]},
)
"""Means: a 20k / 1.5 QALYs; b 60k / 1.25 (dominated by a); c 120k / 4 (ICER vs a 40k); d 220k / 4 (dominated by c)."""


def test_evaluation_of_hand_made_values_matches_the_incremental_analysis():
    economics = Economics(wtp=[30_000.0, 50_000.0])
    evaluation = evaluate(HAND, economics, load_values(), 1826.25)
    assert list(evaluation.summary.columns) == list(SUMMARY_COLUMNS)
    means = evaluation.summary.set_index(["strategy", "metric"])["estimate"]
    assert means[("c", "cost_total")] == 120_000.0 and means[("c", "qalys")] == 4.0
    icers = evaluation.icers.set_index("strategy")
    assert tuple(evaluation.icers.columns) == (*ICER_COLUMNS, "nmb_30000", "nmb_50000")
    assert icers["status"].to_dict() == {"a": "ND", "b": "D", "c": "ND", "d": "D"}
    assert icers.loc["c", "icer"] == pytest.approx(100_000 / 2.5)
    reference = incremental_analysis(["a", "b", "c", "d"], [20_000, 60_000, 120_000, 220_000], [1.5, 1.25, 4.0, 4.0], [30_000, 50_000])
    assert evaluation.icers["icer"].to_numpy() == pytest.approx(reference["icer"].to_numpy(), nan_ok=True)
    # below the ICER of c (40k) the cheaper a has the highest net benefit, above it c
    assert evaluation.best() == {30_000.0: "a", 50_000.0: "c"}


def test_t_interval_over_patients_with_one_replication():
    evaluation = evaluate(HAND, Economics(), load_values(), 1826.25)
    row = evaluation.summary[(evaluation.summary.strategy == "a") & (evaluation.summary.metric == "cost_total")].iloc[0]
    half = 12.706204736174707 * np.std([10_000.0, 30_000.0], ddof=1) / np.sqrt(2)  # t(0.975, 1)
    assert (row.lower, row.upper) == pytest.approx((max(20_000 - half, 0.0), 20_000 + half))


def test_service_cost_per_year_of_an_open_cohort():
    """Two replications of two referrals each over two years: the undiscounted total of each replication over
    two years, averaged."""
    values = pd.concat([HAND, _by_patient({"a": [50_000.0, 70_000.0]}, {"a": [1.0, 1.0]}, replication=1)], ignore_index=True)
    evaluation = evaluate(values, Economics(), load_values(), 1826.25, window_years=2.0)
    service = evaluation.summary[evaluation.summary.metric == SERVICE_COST_METRIC].set_index("strategy")
    replication_totals = np.array([10_000 + 30_000, 50_000 + 70_000]) * 1.1 / 2.0
    assert service.loc["a", "estimate"] == pytest.approx(replication_totals.mean())
    assert SERVICE_COST_METRIC not in set(evaluate(HAND, Economics(), load_values(), 1826.25).summary.metric)


def test_record_holds_the_cheers_items():
    evaluation = evaluate(HAND, Economics(cost_setting="china_payer"), Economics(cost_setting="china_payer").value_set(), 730.5)
    record = evaluation.record()
    assert record["currency"] == "CNY" and record["price_year"] == 2024
    assert "Chinese" in str(record["perspective"])
    assert record["time_horizon"] == f"lifetime (each patient to death or age {LIFETIME_AGE_YEARS:g})"
    assert record["discount_rate_costs_per_year"] == record["discount_rate_outcomes_per_year"] == 0.03
    assert record["willingness_to_pay_per_qaly"] == list(load_values().wtp("CNY"))
    follow_up = evaluate(HAND, Economics(horizon="follow_up"), load_values(), 730.5)
    assert follow_up.record()["time_horizon"] == "2 years from enrolment"


@pytest.mark.parametrize("settings, message", [
    ({"cost_setting": "uk_nhs"}, r"^economics\.cost_setting: got 'uk_nhs'; one of us_payer, china_payer is required$"),
    ({"utility_set": "eq5d"}, r"^economics\.utility_set: got 'eq5d'; one of default is required$"),
    ({"values": {"discount_costs": 1.5}}, r"^economics\.values\.discount_costs: got 1\.5; a value in per_year must be"),
    ({"values": {"cart_price": 3}}, r"^economics\.values\.cart_price: got 'cart_price'; not a value of values\.yaml"),
])
def test_bad_economic_settings_are_one_line(settings, message):
    with pytest.raises(InputError, match=message):
        Economics(**settings).value_set()


def test_scenario_files_check_their_economics(tmp_path):
    text = api.scenario_file("base").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "economics: {wtp: [150000, 100000]}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^economics\.wtp: got \[150000, 100000\]; .*distinct values, lowest first"):
        api.load(bad)
    bad.write_text(text + "economics: {cost_setting: nhs}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^economics\.cost_setting: got 'nhs'"):
        api.load(bad)
    with pytest.raises(InputError, match=r"^--cost-setting: got 'nhs'; one of us_payer, china_payer is required$"):
        api.load("base", cost_setting="nhs")


def test_a_cost_setting_in_another_currency_takes_its_thresholds():
    scenario = api.validated(api.load("base"), {"economics": {"wtp": [50_000.0]}})
    assert api.with_cost_setting(scenario, "us_payer").economics.wtp == [50_000.0]
    china = api.with_cost_setting(scenario, "china_payer").economics
    assert china.wtp is None and china.thresholds(china.value_set()) == load_values().wtp("CNY")


@pytest.fixture(scope="module")
def lifetime_tables():
    """The lifetime tables a run hands its value model (caught on their way), and the clinical ones."""
    scenario = api.load("base", patients=400, seed=11)
    caught: list[tuple[pd.DataFrame, pd.DataFrame]] = []

    def catch(patients: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
        caught.append((patients, events))
        return patients[list(PATIENT_KEY)]

    simulation = simulate(scenario, scenario.parameter_set(), "cohort", values_of=catch)
    assert len(caught) == len(scenario.strategies)  # one strategy's tables at a time
    patients, events = (pd.concat([tables[i] for tables in caught], ignore_index=True) for i in (0, 1))
    return scenario, simulation, (patients, events)


def test_the_lifetime_horizon_follows_everyone_to_death_or_age_100(lifetime_tables):
    scenario, simulation, (patients, events) = lifetime_tables
    clinical = simulation.patients
    limit = (LIFETIME_AGE_YEARS - patients["age"]) * DAYS_PER_YEAR
    assert ((patients["death"] & (patients["death_day"] <= limit + 1e-9)) | (patients["last_day"] == limit)).all()
    assert patients["death"].mean() > 0.95  # background mortality ends nearly every life before 100
    # the same courses: what happened within the clinical horizon is the same, later events only added
    within = clinical["last_day"].to_numpy()
    for column in ("infusion_day", "hsct_day", "relapse_day"):
        early = clinical[column].to_numpy()
        assert np.array_equal(early, np.where(patients[column].to_numpy() <= within, patients[column].to_numpy(), np.nan),
                              equal_nan=True)
    assert (patients["last_day"] >= clinical["last_day"]).all()
    assert set(events["event"]) >= {"death", "relapse"}
    assert len(simulation.values) == len(clinical)


def test_a_follow_up_horizon_values_the_clinical_tables():
    scenario = api.load("base", patients=200, seed=3)
    short = api.validated(scenario, {"economics": {"horizon": "follow_up"}})
    lifetime = api.run(scenario, engine="cohort").evaluation
    follow_up = api.run(short, engine="cohort").evaluation
    assert lifetime is not None and follow_up is not None
    longer = lifetime.summary.set_index(["strategy", "metric"])["estimate"]
    shorter = follow_up.summary.set_index(["strategy", "metric"])["estimate"]
    for strategy in ("cart_haplo_no_prophylaxis", "chemo_allo"):
        assert shorter[(strategy, "life_years_undiscounted")] <= scenario.horizon_days / DAYS_PER_YEAR + 1e-9
        assert longer[(strategy, "life_years_undiscounted")] > shorter[(strategy, "life_years_undiscounted")]
        assert longer[(strategy, "cost_total")] >= shorter[(strategy, "cost_total")]


def test_economic_results_are_the_same_serial_or_parallel_and_in_either_engine():
    serial = api.run("base", patients=300, seed=4, workers=1, replications=2)
    parallel = api.run("base", patients=300, seed=4, workers=2, replications=2)
    cohort = api.run("base", patients=300, seed=4, workers=1, replications=2, engine="cohort")
    pd.testing.assert_frame_equal(serial.values, parallel.values)
    pd.testing.assert_frame_equal(serial.economics, parallel.economics)
    pd.testing.assert_frame_equal(serial.economics, cohort.economics, rtol=1e-9)
    pd.testing.assert_frame_equal(serial.icers, cohort.icers, rtol=1e-9)


def test_a_run_without_economics_says_so():
    run = api.run("base", patients=50, economics=False)
    assert run.evaluation is None and "Economics" not in run.headline()
    with pytest.raises(InputError, match="^economics: got 'off'"):
        _ = run.icers


def test_nobody_referred_gives_empty_tables_and_says_so():
    from sim.report.economics_plots import plot_ce_plane, plot_costs
    from sim.report.text import format_economics

    evaluation = evaluate(HAND.iloc[0:0], Economics(), load_values(), 1826.25, window_years=0.5)
    assert evaluation.summary.empty and list(evaluation.summary.columns) == list(SUMMARY_COLUMNS)
    assert evaluation.icers.empty and tuple(evaluation.icers.columns) == (*ICER_COLUMNS, "nmb_100000", "nmb_150000")
    assert evaluation.best() == {}
    assert format_economics(evaluation).endswith("No patients were referred: nothing to evaluate.")
    for figure in (plot_ce_plane(evaluation), plot_costs(evaluation)):
        assert "nobody was referred" in figure.axes[0].texts[0].get_text()
