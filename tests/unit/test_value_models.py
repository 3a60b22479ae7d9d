"""Value models (sim.economics.value_models) against hand-worked patients, and properties on a small real run.

Hand-worked values use the us_payer costs and the default utilities of ``calibration/values.yaml`` at 3% a
year, with no age decline unless said: d(t) = 1.03 ** −(t / 365.25) is the factor of day t, and
y(a, b) = (d(a) − d(b)) / ln 1.03 the discounted years of days [a, b).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from sim import api
from sim.economics.value_models import (
    COST_CATEGORIES,
    ITEM_CATEGORY,
    discounted_age_years,
    patient_costs,
    patient_qalys,
    summarise_values,
)
from sim.inputs.codes import DAYS_PER_YEAR, EVENT_COLUMNS, PATIENT_COLUMNS, PATIENT_KEY, SUMMARY_COLUMNS
from sim.inputs.values import COST_ITEMS, DEFAULT_VALUES_PATH, load_values

YEAR = DAYS_PER_YEAR
RATE = 0.03


def d(day: float) -> float:
    return (1 + RATE) ** -(day / YEAR)


def y(start: float, end: float) -> float:
    return (d(start) - d(end)) / math.log1p(RATE)


def _patient(patient_id: int, **fields: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(PATIENT_COLUMNS, np.nan)
    row.update(
        scenario="hand", strategy="s", replication=0, patient_id=patient_id, enrol_day=0.0, age=40.0, infused=False,
        response="not_assessed", hsct=False, relapse=False, cgvhd=False, death=False, death_cause="none", icu_days=0.0,
    )
    row.update(fields)
    return row


PATIENTS = pd.DataFrame([
    # A: CAR-T on day 40, CR and HSCT on day 70 (30 days in hospital), alive at day 800.
    _patient(0, infused=True, infusion_day=40.0, crs_grade=1, response="cr_mrd_neg", response_day=70.0, hsct=True,
             hsct_day=70.0, last_day=800.0, chimerism="full_donor", cart_stay_days=10.0, hsct_stay_days=30.0),
    # B: chemotherapy on day 5, severe infection with 4 ICU days on day 10, no response on day 33, dies of disease on day 400.
    _patient(1, response="no_response", response_day=33.0, death=True, death_day=400.0, death_cause="disease",
             last_day=400.0, icu_days=4.0),
    # C: never infused: manufacturing fails (day 60) after progression (day 50); dies of disease on day 120.
    _patient(2, death=True, death_day=120.0, death_cause="disease", last_day=120.0),
])
EVENTS = pd.DataFrame(
    [("hand", "s", 0, patient, day, event, detail) for patient, day, event, detail in (
        (0, 0.0, "enrolment", ""), (0, 10.0, "apheresis", ""), (0, 34.0, "product_release", "released"),
        (0, 40.0, "infusion", "CD7 CAR-T"), (0, 42.0, "crs", "grade 1"), (0, 50.0, "discharge", "cart_ward"),
        (0, 70.0, "response", "cr_mrd_neg"), (0, 70.0, "hsct", "full_donor"), (0, 800.0, "censored", "end of follow-up"),
        (1, 0.0, "enrolment", ""), (1, 5.0, "chemotherapy_start", ""), (1, 10.0, "severe_infection", "non-fatal"),
        (1, 10.0, "icu_admission", "infection"), (1, 14.0, "icu_discharge", ""), (1, 33.0, "response", "no_response"),
        (1, 400.0, "death", "disease"),
        (2, 0.0, "enrolment", ""), (2, 10.0, "apheresis", ""), (2, 50.0, "dropout", "progression before infusion"),
        (2, 60.0, "product_release", "manufacturing failed"), (2, 120.0, "death", "disease"),
    )],
    columns=list(EVENT_COLUMNS),
)


@pytest.fixture(scope="module")
def values():
    return load_values().with_overrides({"utility_sets.default.age_decline_per_year": 0.0})


@pytest.fixture(scope="module")
def manufacturing_values(tmp_path_factory):
    """The packaged values with every setting charging the product at manufacturing."""
    text = DEFAULT_VALUES_PATH.read_text(encoding="utf-8")
    assert text.count("product_charged_on:\n      value: infusion") == 2
    path = Path(tmp_path_factory.mktemp("values")) / "values.yaml"
    path.write_text(text.replace("product_charged_on:\n      value: infusion", "product_charged_on:\n      value: manufacturing"))
    return load_values(path)


def test_every_cost_item_has_one_category():
    assert set(ITEM_CATEGORY) == set(COST_ITEMS)
    assert set(ITEM_CATEGORY.values()) == set(COST_CATEGORIES)


def test_car_t_and_transplant_patient_costs_by_hand(values):
    """Patient A (us_payer, product charged at infusion), discounted:

    product: apheresis 7,420 d(10) + product 475,000 d(40) = 7,414.00 + 473,464.86 = 480,878.86;
    hospital: lymphodepletion 7,420 d(40) + ward 3,710 × 365.25 × y(40, 50) = 7,396.02 + 36,965.14 = 44,361.16;
    toxicity: CRS grade 1 7,420 d(42) = 7,394.82;
    transplant: episode 331,827 d(70) + 2 extra days (28 included) 3,710 × 365.25 × y(98, 100) = 329,952.54 + 7,360.79;
    follow-up: the hsct_episode window ends on day 170 (70 + 100), so year 1 is [170, 435.25) at 37,100 a year
    (y = 0.70866) and later years [435.25, 800) at 7,420 (y = 0.94998), across the year boundaries at days
    365.25 and 730.5: 26,291.25 + 7,048.84 = 33,340.09. Undiscounted: 7,420 + 475,000; 7,420 + 37,100; 7,420;
    331,827 + 7,420; 37,100 × 265.25 / 365.25 + 7,420 × 364.75 / 365.25 = 26,942.57 + 7,409.84.
    """
    costs = patient_costs(PATIENTS, EVENTS, values, "us_payer").iloc[0]
    assert costs["cost_product"] == pytest.approx(7420 * d(10) + 475000 * d(40))
    assert costs["cost_product"] == pytest.approx(480878.86, abs=0.01)
    assert costs["cost_hospital"] == pytest.approx(7420 * d(40) + 3710 * YEAR * y(40, 50))
    assert costs["cost_hospital"] == pytest.approx(44361.16, abs=0.01)
    assert costs["cost_toxicity"] == pytest.approx(7394.82, abs=0.01)
    assert costs["cost_transplant"] == pytest.approx(331827 * d(70) + 3710 * YEAR * y(98, 100))
    assert costs["cost_transplant"] == pytest.approx(329952.54 + 7360.79, abs=0.02)
    assert costs["cost_follow_up"] == pytest.approx(37100 * y(170, 70 + YEAR) + 7420 * y(70 + YEAR, 800))
    assert costs["cost_follow_up"] == pytest.approx(33340.09, abs=0.01)
    assert costs[["cost_gvhd", "cost_disease", "cost_end_of_life"]].to_list() == [0, 0, 0]
    assert costs["cost_total"] == pytest.approx(sum(costs[f"cost_{category}"] for category in COST_CATEGORIES))
    assert costs["cost_follow_up_undiscounted"] == pytest.approx(37100 * 265.25 / YEAR + 7420 * 364.75 / YEAR)
    assert costs["cost_total_undiscounted"] == pytest.approx(
        7420 + 475000 + 7420 + 37100 + 7420 + 331827 + 7420 + 37100 * 265.25 / YEAR + 7420 * 364.75 / YEAR)


def test_patient_dying_of_disease_costs_by_hand(values):
    """Patient B: salvage chemotherapy 77,910 d(5) = 77,878.48 and 4 ICU days 7,420 × 365.25 × y(10, 14)
    = 29,651.19 (hospital); relapse treatment at non-response 77,910 d(33) = 77,702.21 and relapsed disease
    111,300 a year over [33, 400), across the year boundary: 111,300 × y(33, 400) = 109,894.96 (disease);
    end of life 51,940 d(400) = 50,285.57."""
    costs = patient_costs(PATIENTS, EVENTS, values, "us_payer").iloc[1]
    assert costs["cost_hospital"] == pytest.approx(77910 * d(5) + 7420 * YEAR * y(10, 14))
    assert costs["cost_hospital"] == pytest.approx(77878.48 + 29651.19, abs=0.02)
    assert costs["cost_disease"] == pytest.approx(77910 * d(33) + 111300 * y(33, 400))
    assert costs["cost_disease"] == pytest.approx(77702.21 + 109894.96, abs=0.02)
    assert costs["cost_end_of_life"] == pytest.approx(50285.57, abs=0.01)
    assert costs["cost_disease_undiscounted"] == pytest.approx(77910 + 111300 * 367 / YEAR)
    assert costs[["cost_product", "cost_transplant", "cost_toxicity", "cost_gvhd", "cost_follow_up"]].to_list() == [0] * 5


def test_failed_product_costs_only_when_charged_on_manufacturing(values, manufacturing_values):
    """Patient C: apheresis 7,420 d(10) = 7,414.00; relapsed disease from progression 111,300 × y(50, 120)
    = 21,184.40; end of life 51,940 d(120) = 51,438.04. Charged on manufacturing, the failed product adds
    475,000 d(60) = 472,699.15; patient A's product is then charged at release (day 34), not infusion."""
    on_infusion = patient_costs(PATIENTS, EVENTS, values, "us_payer")
    on_manufacturing = patient_costs(PATIENTS, EVENTS, manufacturing_values, "us_payer")
    assert on_infusion.loc[2, "cost_product"] == pytest.approx(7414.00, abs=0.01)
    assert on_infusion.loc[2, "cost_disease"] == pytest.approx(111300 * y(50, 120))
    assert on_infusion.loc[2, "cost_disease"] == pytest.approx(21184.40, abs=0.01)
    assert on_infusion.loc[2, "cost_end_of_life"] == pytest.approx(51438.04, abs=0.01)
    assert on_manufacturing.loc[2, "cost_product"] == pytest.approx(7414.00 + 472699.15, abs=0.01)
    assert on_manufacturing.loc[0, "cost_product"] == pytest.approx(7420 * d(10) + 475000 * d(34))
    assert on_manufacturing.loc[1, "cost_product"] == 0


def test_qalys_by_hand(values):
    """Discounted QALYs, no age decline.

    A: before_treatment 0.355 × y(0, 40) + aplasia 0.158 × y(40, 100) (CAR-T then the 30-day transplant stay)
    + hsct_first_year 0.398 × y(100, 435.25) + long_term_remission 0.9 × y(435.25, 800), across the year
    boundaries at 365.25 and 730.5 = 0.03881 + 0.02581 + 0.35749 + 0.85498 = 1.27710.
    B: 0.355 × y(0, 5) + 0.158 × y(5, 33) + 0.262 × y(33, 400) − severe infection 0.218 × y(10, 24) − ICU
    0.30 × y(10, 14) = 0.004859 + 0.012094 + 0.258693 − 0.008344 − 0.003282 = 0.264018.
    C: 0.355 × y(0, 120) = 0.116068. Life-years: y(0, 800) = 2.12088, y(0, 400) = 1.07760, y(0, 120) = 0.32695.
    """
    qalys = patient_qalys(PATIENTS, EVENTS, values)
    a = 0.355 * y(0, 40) + 0.158 * y(40, 100) + 0.398 * y(100, 70 + YEAR) + 0.9 * y(70 + YEAR, 800)
    b = 0.355 * y(0, 5) + 0.158 * y(5, 33) + 0.262 * y(33, 400) - 0.218 * y(10, 24) - 0.30 * y(10, 14)
    c = 0.355 * y(0, 120)
    assert qalys["qalys"].to_numpy() == pytest.approx([a, b, c])
    assert qalys["qalys"].to_numpy() == pytest.approx([1.27710, 0.264018, 0.116068], abs=5e-6)
    assert qalys["life_years"].to_numpy() == pytest.approx([y(0, 800), y(0, 400), y(0, 120)])
    assert qalys["life_years_undiscounted"].to_numpy() == pytest.approx(np.array([800, 400, 120]) / YEAR)
    assert qalys.loc[2, "qalys_undiscounted"] == pytest.approx(0.355 * 120 / YEAR)


def test_values_do_not_depend_on_the_calendar_day_of_referral(values):
    """Every day of the tables counts from enrolment: referring the same patients later (an open cohort's enrol_day)
    changes nothing, and discounting starts at each patient's own enrolment."""
    later = PATIENTS.assign(enrol_day=[0.0, 365.0, 4000.0])
    for model in (patient_costs, patient_qalys):
        arguments = ("us_payer",) if model is patient_costs else ()
        pd.testing.assert_frame_equal(model(later, EVENTS, values, *arguments), model(PATIENTS, EVENTS, values, *arguments))


def test_age_decline_by_hand_and_against_quadrature():
    """Undiscounted, ∫ t dt over [0, 2 years) is 2 years²; discounted at 3% it is ∫_0^2 t 1.03^−t dt = 1.92290."""
    assert discounted_age_years(0.0, 2 * YEAR, 0.0) == pytest.approx(2.0)
    for start, end, rate in ((0.0, 2 * YEAR, RATE), (100.0, 1000.0, 0.05), (10.0, 10.001, 0.03), (5.0, 6.0, 1e-9)):
        expected, _ = integrate.quad(lambda t, s=start, r=rate: (t - s / YEAR) * (1 + r) ** -t, start / YEAR, end / YEAR)
        assert discounted_age_years(start, end, rate) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert discounted_age_years(0.0, 2 * YEAR, RATE) == pytest.approx(1.92290, abs=5e-6)


def test_age_decline_lowers_qalys(values):
    """Patient C with 0.003 a year of decline loses 0.003 × (120 / 365.25)² / 2 undiscounted QALYs."""
    declining = values.with_overrides({"utility_sets.default.age_decline_per_year": 0.003})
    drop = patient_qalys(PATIENTS, EVENTS, values)["qalys_undiscounted"] - patient_qalys(PATIENTS, EVENTS, declining)["qalys_undiscounted"]
    assert drop[2] == pytest.approx(0.003 * (120 / YEAR) ** 2 / 2)


@pytest.fixture(scope="module")
def run():
    return api.run("base", patients=300, workers=1, seed=5)


@pytest.fixture(scope="module")
def run_values(run):
    values = load_values()
    costs = patient_costs(run.patients, run.events, values, "us_payer")
    return costs.merge(patient_qalys(run.patients, run.events, values), on=list(PATIENT_KEY))


def test_properties_on_a_real_run(run_values):
    table = run_values
    assert len(table) == 1200
    costs = [f"cost_{category}" for category in (*COST_CATEGORIES, "total")]
    assert (table[costs] >= 0).all().all()
    for metric in (*costs, "life_years"):  # not QALYs: a disutility discounted less than a state can lift them
        assert (table[metric] <= table[f"{metric}_undiscounted"] + 1e-9).all()
    assert (table["qalys"] <= table["life_years"]).all()
    assert (table["qalys_undiscounted"] <= table["life_years_undiscounted"]).all()
    assert table["cost_total"].to_numpy() == pytest.approx(table[costs[:-1]].sum(axis=1).to_numpy())


def test_zero_discount_equals_undiscounted(run):
    values = load_values().with_overrides({"discount_costs": 0.0, "discount_outcomes": 0.0})
    costs = patient_costs(run.patients, run.events, values, "china_payer")
    qalys = patient_qalys(run.patients, run.events, values)
    for table, metrics in ((costs, [f"cost_{c}" for c in (*COST_CATEGORIES, "total")]), (qalys, ["qalys", "life_years"])):
        for metric in metrics:
            assert table[metric].to_numpy() == pytest.approx(table[f"{metric}_undiscounted"].to_numpy(), rel=1e-12, abs=1e-9)


def test_states_partition_the_time_alive(run):
    """With every utility 1, no disutilities and no age decline, QALYs are life-years: the states never overlap
    and leave no gap."""
    base = load_values()
    ones = base.with_overrides({
        **{f"utility_sets.default.states.{state}": 1.0 for state in base.utilities("default")},
        **{f"utility_sets.default.disutilities.{event}": 0.0 for event in base.disutilities("default")},
        "utility_sets.default.age_decline_per_year": 0.0,
    })
    qalys = patient_qalys(run.patients, run.events, ones)
    assert qalys["qalys"].to_numpy() == pytest.approx(qalys["life_years"].to_numpy(), rel=1e-12)


def test_manufacturing_charge_costs_at_least_infusion_charge(run, manufacturing_values):
    on_infusion = patient_costs(run.patients, run.events, load_values(), "us_payer")
    on_manufacturing = patient_costs(run.patients, run.events, manufacturing_values, "us_payer")
    undiscounted = on_manufacturing["cost_product_undiscounted"] - on_infusion["cost_product_undiscounted"]
    assert (undiscounted >= -1e-6).all()
    assert undiscounted.sum() > 0  # some products fail, or are made for patients never infused
    assert on_manufacturing["cost_total_undiscounted"].sum() > on_infusion["cost_total_undiscounted"].sum()


def test_summary_columns_metrics_and_intervals(run_values):
    summary = summarise_values(run_values)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    metrics = set(summary["metric"])
    assert {"cost_total", "qalys", "qalys_undiscounted", "life_years", "life_years_undiscounted"} <= metrics
    assert {f"cost_{category}" for category in COST_CATEGORIES} <= metrics
    assert summary.groupby("strategy").size().nunique() == 1
    assert (summary["lower"] <= summary["estimate"]).all() and (summary["estimate"] <= summary["upper"]).all()
    costs = summary[summary["metric"].str.startswith("cost") | summary["metric"].str.startswith("life")]
    assert (costs["lower"] >= 0).all()
    chemo = summary[(summary["strategy"] == "chemo_allo") & (summary["metric"] == "cost_product")].iloc[0]
    assert (chemo["estimate"], chemo["lower"], chemo["upper"]) == (0, 0, 0)
    mean = run_values.groupby("strategy", observed=True)["qalys"].mean()
    by_strategy = summary[summary["metric"] == "qalys"].set_index("strategy")["estimate"]
    assert by_strategy.to_dict() == pytest.approx(mean.to_dict())


def test_summary_across_replications_uses_replication_means(run_values):
    """Two copies of the run as replications 0 and 1 with identical means: the interval shrinks to the mean."""
    doubled = pd.concat([run_values, run_values.assign(replication=1)], ignore_index=True)
    summary = summarise_values(doubled)
    row = summary[(summary["strategy"] == "cart_alone") & (summary["metric"] == "life_years")].iloc[0]
    assert row["lower"] == pytest.approx(row["estimate"]) and row["upper"] == pytest.approx(row["estimate"])
