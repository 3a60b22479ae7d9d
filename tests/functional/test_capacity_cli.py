"""`cd7sim run` on an open cohort and `cd7sim sweep`: files, tables, warnings and bad input."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from sim.capacity.sweep import SWEEP_COLUMNS
from sim.cli import main
from sim.inputs.codes import RESOURCE_COLUMNS, RESOURCES, WAIT_COLUMNS
from tests.conftest import BASE_SCENARIO

REGIONAL = BASE_SCENARIO.parent / "capacity" / "regional_centre.yaml"


def small_regional(tmp_path, **capacity) -> str:
    """The regional centre with two years of referrals, two replications and ``capacity`` changes."""
    data = yaml.safe_load(REGIONAL.read_text())
    data["arrivals"].update(run_length_days=730, warm_up_days=180)
    data.update(replications=2)
    data["capacity"].update(capacity)
    path = tmp_path / "regional.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_run_writes_resources_and_wait_columns(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", small_regional(tmp_path), "--out", str(out)]) == 0
    resources = pd.read_csv(out / "resources.csv", keep_default_na=False, na_values=[""])
    assert tuple(resources.columns) == RESOURCE_COLUMNS
    assert set(resources.resource) == set(RESOURCES)
    assert resources.loc[resources.resource == "manufacturing", "capacity"].astype(str).unique().tolist() == ["6"]
    patients = pd.read_parquet(out / "patients.parquet")
    assert set(WAIT_COLUMNS) <= set(patients.columns)
    assert (patients.enrol_day >= 180).all()
    summary = pd.read_csv(out / "summary.csv")
    assert {"dropout_while_waiting", "relapse_while_waiting", "death_while_waiting"} <= set(summary.metric)
    for png in ("utilisation.png", "waits.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr()
    assert "served/y" in printed.out and "warning" not in printed.err
    economics = pd.read_csv(out / "economics.csv")
    service = economics[economics.metric == "service_cost_per_year"].set_index("strategy").estimate
    per_referral = economics[economics.metric == "cost_total_undiscounted"].set_index("strategy").estimate
    referrals_per_year = len(patients) / patients.strategy.nunique() / 2 / (730 / 365.25)
    assert service.to_numpy() == pytest.approx((per_referral * referrals_per_year).to_numpy(), rel=0.05)


def test_an_overloaded_resource_runs_but_warns(tmp_path, capsys):
    assert main(["run", small_regional(tmp_path, manufacturing_slots=2), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "cd7sim: warning: manufacturing (2) under cart_haplo_no_prophylaxis: offered load" in err
    assert "the queue grows without bound" in err


def test_sweep_writes_a_table_and_a_figure(tmp_path, capsys):
    out = tmp_path / "sweep"
    status = main(["sweep", small_regional(tmp_path), "--set", "capacity.manufacturing_slots=3,6,none",
                   "--set", "capacity.transplant_beds=1,2", "--replications", "1", "--out", str(out)])
    assert status == 0
    sweep = pd.read_csv(out / "sweep.csv", keep_default_na=False, na_values=[""])
    assert tuple(sweep.columns) == ("capacity.manufacturing_slots", "capacity.transplant_beds", *SWEEP_COLUMNS)
    assert len(sweep[["capacity.manufacturing_slots", "capacity.transplant_beds"]].drop_duplicates()) == 6
    wait = sweep[(sweep.metric == "mean_wait_days") & (sweep.resource == "manufacturing") & (sweep.strategy == "cart_alone")
                 & (sweep["capacity.transplant_beds"] == 2)]
    waits = wait.set_index(wait["capacity.manufacturing_slots"].fillna(0)).estimate
    assert waits[3] > waits[6] > waits[0] == 0
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "unlimited" in printed and "lost waiting" in printed
    assert "cost/referral USD" in printed and "QALYs/referral" in printed
    costs = sweep[(sweep.metric == "cost_total") & (sweep.resource.isna())]
    assert len(costs) == 6 * 4 and (costs.estimate > 0).all()
    assert len(sweep[sweep.metric == "qalys"]) == 6 * 4


@pytest.mark.parametrize("arguments, message", [
    (["--set", "capacity.manufacturing_slots=0,2"],
     r"--set capacity\.manufacturing_slots: got 0; Input should be greater than or equal to 1"),
    (["--set", "capacity.mri=2"], r"--set: got 'capacity\.mri'; one of capacity\.apheresis_slots_per_week"),
    (["--set", "capacity.cart_beds"], r"--set: got 'capacity\.cart_beds'; KEY=VALUE\[,VALUE\.\.\.\] is required"),
    (["--set", "arrivals.rate_per_year=-4"], r"--set arrivals\.rate_per_year: got -4; Input should be greater than 0"),
])
def test_bad_sweep_settings_exit_2_with_one_line(tmp_path, capsys, arguments, message):
    out = tmp_path / "sweep"
    status = main(["sweep", small_regional(tmp_path), *arguments, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err
    assert re.search(message, err), err
    assert not out.exists()


def test_patients_option_is_refused_for_an_open_cohort(tmp_path, capsys):
    status = main(["run", small_regional(tmp_path), "--patients", "10", "--out", str(tmp_path / "o")])
    assert status == 2
    assert "--patients: got 10; not allowed for an open cohort" in capsys.readouterr().err
