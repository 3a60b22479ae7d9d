"""The `cd7sim run` command: files, reproducibility, and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim.calibration.studies import load_targets
from sim.cli import main
from sim.economics.evaluation import ICER_COLUMNS
from sim.economics.value_models import COST_CATEGORIES
from sim.inputs.codes import DISEASES, PATIENT_COLUMNS, SUBGROUP_COLUMNS, SUBGROUPS, SUMMARY_COLUMNS
from sim.io.files import MARKER
from sim.outcomes.endpoints import HEADLINE_METRICS
from sim.report.folders import ECONOMIC_FIGURES, ECONOMIC_FILES, PATIENT_FIGURES, TABLE_FILES
from tests.conftest import BASE_SCENARIO

FILES = (*TABLE_FILES, *ECONOMIC_FILES, *PATIENT_FIGURES, *ECONOMIC_FIGURES)
"""What a run of the base scenario (closed cohort, unlimited capacity) writes."""

REQUIRED_METRICS = (
    "cr_rate mrd_neg_cr_rate crs_any crs_grade3plus icans_any hsct_rate median_days_infusion_to_hsct "
    "agvhd_grade2plus agvhd_grade3plus cgvhd os_6m os_1y os_2y pfs_6m pfs_1y dfs_1y median_os_days "
    "median_pfs_days os_post_hsct_2y lfs_post_hsct_2y nrm_post_hsct_2y cir_post_hsct_2y itt_os_1y itt_os_2y "
    "relapse_cd7_negative_share"
).split()


def run_cli(tmp_path, *extra: str, name: str = "out") -> tuple[int, object]:
    out = tmp_path / name
    status = main(["run", str(BASE_SCENARIO), "--patients", "300", "--seed", "5", "--out", str(out), *extra])
    return status, out


def test_run_writes_every_file_and_column(tmp_path, capsys):
    status, out = run_cli(tmp_path)
    assert status == 0
    assert sorted(f.name for f in out.iterdir()) == sorted([*FILES, MARKER])
    patients = pd.read_parquet(out / "patients.parquet")
    assert tuple(patients.columns) == PATIENT_COLUMNS
    assert set(patients.strategy) == {"cart_haplo_no_prophylaxis", "cart_bridge_allo", "cart_alone", "chemo_allo"}
    assert len(patients) == 4 * 300
    summary = pd.read_csv(out / "summary.csv")
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    for strategy in patients.strategy.unique():
        assert set(REQUIRED_METRICS) <= set(summary.metric[summary.strategy == strategy])
    subgroups = pd.read_csv(out / "subgroups.csv")
    assert tuple(subgroups.columns) == SUBGROUP_COLUMNS
    assert set(subgroups.strategy) == set(patients.strategy) and set(subgroups.subgroup) == set(SUBGROUPS)
    assert set(subgroups.metric) == set(HEADLINE_METRICS)
    per_dimension = subgroups[subgroups.metric == "os_1y"].groupby(["strategy", "subgroup"]).patients.sum()
    assert (per_dimension == 300).all()
    info = json.loads((out / "run.json").read_text())
    assert {"version", "scenario", "seed", "engine", "patients", "replications", "wall_seconds"} <= set(info)
    assert info["seed"] == 5 and info["patients"] == 300
    for png in ("survival.png", "flow.png", "ce_plane.png", "costs.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "cart_haplo_no_prophylaxis" in printed and "OS 1y" in printed


def test_run_writes_and_prints_the_economic_evaluation(tmp_path, capsys):
    status, out = run_cli(tmp_path)
    assert status == 0
    economics = pd.read_csv(out / "economics.csv")
    assert tuple(economics.columns) == SUMMARY_COLUMNS
    metrics = {"cost_total", *(f"cost_{c}" for c in COST_CATEGORIES), "qalys", "qalys_undiscounted", "life_years",
               "life_years_undiscounted"}
    assert economics.groupby("strategy").metric.apply(set).map(lambda m: metrics <= m).all()
    icers = pd.read_csv(out / "icers.csv")
    assert tuple(icers.columns) == (*ICER_COLUMNS, "nmb_100000", "nmb_150000")
    assert set(icers.status) <= {"ND", "D", "ED"} and (icers.status == "ND").any()
    assert icers.cost.is_monotonic_increasing
    info = json.loads((out / "run.json").read_text())["economics"]
    assert info["currency"] == "USD" and info["time_horizon"].startswith("lifetime")
    assert {"perspective", "price_year", "discount_rate_costs_per_year", "discount_rate_outcomes_per_year"} <= set(info)
    printed = capsys.readouterr().out
    assert "Economics: us_payer (USD 2024), lifetime" in printed and "ICER USD/QALY" in printed
    assert "Highest net monetary benefit:" in printed


def test_the_cost_setting_is_chosen_on_the_command_line(tmp_path, capsys):
    us, china = (pd.read_csv(run_cli(tmp_path, *extra, name=name)[1] / "icers.csv")
                 for name, extra in (("us", ()), ("cn", ("--cost-setting", "china_payer"))))
    assert list(china.columns[-2:]) == ["nmb_95749", "nmb_287247"]
    # the same patients: QALYs equal, costs differ
    by_strategy = us.set_index("strategy").qalys, china.set_index("strategy").qalys
    assert by_strategy[0].sort_index().to_numpy() == pytest.approx(by_strategy[1].sort_index().to_numpy())
    assert not np.allclose(us.set_index("strategy").cost.sort_index(), china.set_index("strategy").cost.sort_index())
    assert "Economics: china_payer (CNY 2024)" in capsys.readouterr().out
    assert main(["run", str(BASE_SCENARIO), "--out", str(tmp_path / "x"), "--cost-setting", "nhs"]) == 2
    assert capsys.readouterr().err.strip() == "cd7sim: error: --cost-setting: got 'nhs'; one of us_payer, china_payer is required"
    assert not (tmp_path / "x").exists()


def test_same_seed_gives_identical_files(tmp_path):
    run_cli(tmp_path, name="a")
    run_cli(tmp_path, name="b")
    for name in ("patients.parquet", "events.parquet", "summary.csv", "subgroups.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a, b = (json.loads((tmp_path / n / "run.json").read_text()) for n in "ab")
    a.pop("wall_seconds"), b.pop("wall_seconds")
    assert a == b


def test_different_seed_changes_the_patients(tmp_path):
    run_cli(tmp_path, name="a")
    main(["run", str(BASE_SCENARIO), "--patients", "300", "--seed", "6", "--out", str(tmp_path / "b")])
    assert (tmp_path / "a" / "patients.parquet").read_bytes() != (tmp_path / "b" / "patients.parquet").read_bytes()


def test_rerun_replaces_the_folder_whole(tmp_path):
    run_cli(tmp_path)
    first = (tmp_path / "out" / "patients.parquet").read_bytes()
    main(["run", str(BASE_SCENARIO), "--patients", "200", "--seed", "5", "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "patients.parquet").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_by_disease_prints_the_table_by_subgroup_after_the_unchanged_output(tmp_path, capsys):
    """`--by disease` adds one table after the headline (the rest of the output is what a run without
    `--by` prints): a row per strategy and disease with the patients of subgroups.csv and its estimates."""
    status, _ = run_cli(tmp_path, name="plain")
    plain = capsys.readouterr().out.splitlines()
    status_by, out = run_cli(tmp_path, "--by", "disease", name="by")
    printed = capsys.readouterr().out.splitlines()
    assert status == status_by == 0

    start = next(i for i, line in enumerate(printed) if line.split()[:3] == ["strategy", "disease", "patients"])
    assert printed[start - 1] == "" and printed[start + 14] == ""
    table, footnote = printed[start + 1:start + 13], printed[start + 13]
    assert footnote.startswith("The endpoints above, estimated on each subgroup's patients alone")
    masked = [re.sub(r"(Simulated in |Whole command: )[\d.]+ s|/by/?|/plain/?", "", line) for line in (*plain, *printed)]
    assert masked[len(plain):][:start - 1] + masked[len(plain):][start + 14:] == masked[:len(plain)]

    subgroups = pd.read_csv(out / "subgroups.csv")
    os_1y = subgroups[(subgroups.subgroup == "disease") & (subgroups.metric == "os_1y")]
    expected = [(r.strategy, r.level, str(r.patients), f"{100 * r.estimate:.0f}% ({100 * r.lower:.0f}–{100 * r.upper:.0f})")
                for r in os_1y.itertuples()]
    cells = [re.split(r"\s{2,}", line) for line in table]
    assert [(c[0], c[1], c[2], c[5]) for c in cells] == expected
    assert [c[1] for c in cells] == list(DISEASES) * 4


BAD = [
    (["--patients", "0"], r"^cd7sim: error: --patients: got 0; a whole number of at least 1 is required$"),
    (["--by", "sex"], r"^cd7sim: error: command line: .*invalid choice: 'sex' \(choose from .*disease.*age_band.*status.*blasts.*\)$"),
    (["--patients", "many"], r"^cd7sim: error: --patients: got 'many'; a whole number"),
    (["--seed", "-1"], r"^cd7sim: error: --seed: got -1; a whole number of at least 0"),
    (["--engine", "fast"], r"^cd7sim: error: command line: .*invalid choice: 'fast'"),
]


@pytest.mark.parametrize("extra, message", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, extra, message):
    status, out = run_cli(tmp_path, *extra)
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert re.match(message, err.strip())
    assert not out.exists()


def test_bad_scenario_exits_2_and_writes_nothing(tmp_path, capsys):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(BASE_SCENARIO.read_text().replace("primary_refractory: 0.471", "primary_refractory: 1.3"))
    status = main(["run", str(scenario), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == "cd7sim: error: case_mix.primary_refractory: got 1.3; Input should be less than or equal to 1"
    assert not (tmp_path / "out").exists()


def test_missing_scenario_file_from_the_shell_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(tmp_path / "missing.yaml")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"cd7sim: error: scenario file: got '{tmp_path / 'missing.yaml'}'; a readable YAML file is required (no such file)"]
    assert not (tmp_path / "results").exists()


def test_calibrate_and_validate_commands_write_their_files(tmp_path, capsys):
    out = tmp_path / "cal"
    status = main(["calibrate", "--prior-draws", "60", "--stages", "1", "--stage-draws", "40", "--workers", "1",
                   "--out", str(out)])
    assert status == 0
    assert {"posterior.parquet", "fit.csv", "identifiability.csv", "fit.png"} <= {p.name for p in out.iterdir()}
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert len(posterior) == 1000
    assert posterior["between_study_icc"].between(0, 1).all() and posterior["between_study_icc"].nunique() > 10
    status = main(["validate", "--posterior", str(out / "posterior.parquet"), "--draws", "3", "--workers", "1",
                   "--out", str(tmp_path / "val")])
    printed = capsys.readouterr().out
    assert status == 0
    shipped = len(load_targets())
    assert re.search(rf"^\d+ of {shipped} targets inside$", printed, flags=re.M)
    assert len(pd.read_csv(tmp_path / "val" / "validation.csv")) == shipped


def test_validate_without_a_posterior_is_a_clear_error(tmp_path, capsys):
    status = main(["validate", "--posterior", str(tmp_path / "none.parquet")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("cd7sim: error: --posterior: got '") and "run `cd7sim calibrate` first" in err


@pytest.mark.slow
def test_the_first_run_of_an_installation_says_it_compiles_and_later_runs_load(tmp_path):
    """With an empty compiled cache (NUMBA_CACHE_DIR, as in a fresh installation) the first run says on stderr that it
    compiles the clinical logic, and writes the cache; the next run loads it without a word, with the same table."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "compiled")}

    def run(folder: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sim.cli", "run", "base", "--patients", "60", "--engine", "cohort",
                               "--out", str(tmp_path / folder)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)

    first, second = run("first"), run("second")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "compiling the clinical logic" in first.stderr
    assert "compiling" not in second.stderr
    assert any((tmp_path / "compiled").rglob("*.nbi"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "first" / "patients.parquet"),
                                  pd.read_parquet(tmp_path / "second" / "patients.parquet"))
