"""sim.outcomes.subgroups: the levels of each dimension at their boundaries, and the headline endpoints by
subgroup, checked against the summary computed directly on each subgroup's patients."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.inputs.codes import DISEASES, SUBGROUP_COLUMNS, SUBGROUPS
from sim.outcomes.endpoints import HEADLINE_METRICS, summarise
from sim.outcomes.subgroups import DIMENSIONS, NO_LEVEL, summarise_subgroups
from tests.unit.test_outcomes import not_infused, patient, table


def level_labels(name: str, **column: list) -> list[str | None]:
    """The level of each value of the dimension's column (``None`` for no level)."""
    dimension = DIMENSIONS[name]
    codes = dimension.codes(pd.DataFrame(column))
    return [None if code == NO_LEVEL else dimension.levels[code] for code in codes]


def quiet_subgroups(patients: pd.DataFrame) -> pd.DataFrame:
    """`summarise_subgroups` with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return summarise_subgroups(patients)


def test_every_dimension_of_the_contract_is_defined_in_its_order():
    assert tuple(DIMENSIONS) == SUBGROUPS


def test_age_bands_start_at_15_40_and_60_years():
    ages = [0.5, 14.0, 14.99, 15.0, 39.99, 40.0, 59.999, 60.0, 75.0, np.nan]
    assert level_labels("age_band", age=ages) == [
        "≤ 14", "≤ 14", "≤ 14", "15–39", "15–39", "40–59", "40–59", "≥ 60", "≥ 60", None,
    ]


def test_twenty_percent_blasts_is_in_the_lower_level():
    blasts = [0.0, 19.9, 20.0, 20.001, 100.0, np.nan]
    assert level_labels("blasts", marrow_blasts=blasts) == ["≤ 20%", "≤ 20%", "≤ 20%", "> 20%", "> 20%", None]


def test_disease_and_status_levels():
    assert level_labels("disease", disease=["T-LBL", "AML", "T-ALL", "B-ALL"]) == ["T-LBL", "AML", "T-ALL", None]
    assert DIMENSIONS["disease"].levels == DISEASES
    assert level_labels("status", primary_refractory=[True, False]) == ["primary refractory", "relapsed"]


def test_columns_rows_and_nan_for_an_empty_level_without_warnings():
    patients = table(
        patient(age=10.0, marrow_blasts=20.0, primary_refractory=True),
        patient(age=30.0, marrow_blasts=50.0, disease="AML", response="no_response"),
        not_infused(age=45.0, marrow_blasts=5.0),
    )
    subgroups = quiet_subgroups(patients)
    assert tuple(subgroups.columns) == SUBGROUP_COLUMNS
    levels = sum(len(DIMENSIONS[name].levels) for name in SUBGROUPS)
    assert len(subgroups) == levels * len(HEADLINE_METRICS)
    assert list(subgroups["metric"][:len(HEADLINE_METRICS)]) == list(HEADLINE_METRICS)

    oldest = subgroups[(subgroups.subgroup == "age_band") & (subgroups.level == "≥ 60")]
    assert (oldest.patients == 0).all() and len(oldest) == len(HEADLINE_METRICS)
    assert oldest[["estimate", "lower", "upper"]].isna().all().all()
    t_lbl = subgroups[(subgroups.subgroup == "disease") & (subgroups.level == "T-LBL")]
    assert (t_lbl.patients == 0).all() and t_lbl.estimate.isna().all()

    # One infused patient in CR and no transplant: CR 1 of 1 with its Wilson interval, HSCT 0 of 1,
    # nothing after HSCT to estimate.
    youngest = subgroups[(subgroups.subgroup == "age_band") & (subgroups.level == "≤ 14")].set_index("metric")
    assert (youngest.patients == 1).all()
    assert youngest.loc["cr_rate", "estimate"] == 1.0 and 0 < youngest.loc["cr_rate", "lower"] < 1
    assert youngest.loc["hsct_rate", "estimate"] == 0.0
    assert np.isnan(youngest.loc["nrm_post_hsct_2y", "estimate"])

    low_blasts = subgroups[(subgroups.subgroup == "blasts") & (subgroups.level == "≤ 20%")]
    assert (low_blasts.patients == 2).all()


def test_a_level_empty_in_one_replication_keeps_the_other_without_an_interval():
    patients = table(patient(replication=0, age=70.0), patient(replication=0, age=30.0),
                     patient(replication=1, age=30.0, response="no_response"))
    subgroups = quiet_subgroups(patients).set_index(["subgroup", "level", "metric"])
    oldest = subgroups.loc[("age_band", "≥ 60", "cr_rate")]
    assert oldest.patients == 1 and oldest.estimate == 1.0 and np.isnan(oldest.lower)
    adults = subgroups.loc[("age_band", "15–39", "cr_rate")]
    assert adults.patients == 2 and adults.estimate == 0.5 and adults.lower < 0.5 < adults.upper


@pytest.fixture(scope="module", params=[1, 2], ids=["one replication", "two replications"])
def simulated(request) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small base-case run: its patients table and its subgroups."""
    patients = api.run("base", patients=300, replications=request.param, seed=11, workers=1).patients
    return patients, quiet_subgroups(patients)


def test_patients_of_the_levels_add_up_to_each_strategy(simulated):
    patients, subgroups = simulated
    per_strategy = patients.groupby("strategy", observed=True).size()
    one_metric = subgroups[subgroups.metric == HEADLINE_METRICS[0]]
    added = one_metric.groupby(["subgroup", "strategy"]).patients.sum()
    for name in SUBGROUPS:
        assert added[name].to_dict() == per_strategy.to_dict(), name


@pytest.mark.parametrize("name", SUBGROUPS)
def test_each_level_is_the_summary_of_its_patients(simulated, name):
    """Every estimate and interval is what `summarise` gives on the subset of the patients table in that
    level (one replication: the estimators' own intervals; two: Monte Carlo)."""
    patients, subgroups = simulated
    dimension = DIMENSIONS[name]
    codes = dimension.codes(patients)
    for code, level in enumerate(dimension.levels):
        members = patients[codes == code]
        assert members.replication.nunique() == patients.replication.nunique(), "every level in every replication"
        direct = summarise(members)
        direct = direct[direct.metric.isin(HEADLINE_METRICS)].set_index(["strategy", "metric"])
        ours = subgroups[(subgroups.subgroup == name) & (subgroups.level == level)].set_index(["strategy", "metric"])
        assert len(ours) == len(direct) > 0
        for column in ("estimate", "lower", "upper"):
            np.testing.assert_array_equal(ours[column], direct.loc[ours.index, column], err_msg=f"{level} {column}")
        counts = members.groupby("strategy", observed=True).size()
        assert ours.patients.groupby(level="strategy").first().to_dict() == counts.to_dict()
