"""`cd7sim psa`: the PSA folder, common random numbers, joint posterior draws, resume after SIGKILL, serial = parallel."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.cli import main
from sim.inputs.errors import InputError
from sim.inputs.parameters import DEFAULT_POSTERIOR_PATH
from sim.simulation.parallel import LocalExecutor
from sim.uncertainty.psa import (
    BLOCK_DRAWS,
    OUTCOME_METRICS,
    PROGRESS_SUFFIX,
    PSA_COLUMNS,
    Progress,
    draw_inputs,
    psa_plan,
    run_block,
    run_psa,
)
from sim.uncertainty.psa_folder import read_psa_folder

SMALL = ["--draws", "12", "--patients", "60", "--seed", "3"]
TINY = ["--draws", "10", "--patients", "20"]


@pytest.fixture(scope="module")
def psa_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("psa") / "out"
    assert main(["psa", "base", *SMALL, "--out", str(out), "--workers", "1"]) == 0
    return out


def test_the_psa_folder_contract(psa_folder):
    table = pd.read_parquet(psa_folder / "psa.parquet")
    assert tuple(table.columns) == PSA_COLUMNS
    strategies = [s.name for s in api.load("base").strategies]
    assert (table.groupby("draw")["strategy"].apply(list) == pd.Series([strategies] * 12, index=range(12))).all()
    assert np.isfinite(table[["cost", "qalys", "life_years"]].to_numpy()).all()
    assert (table["qalys"] <= table["life_years"]).all()
    assert table[list(OUTCOME_METRICS)].stack().between(0, 1).all()
    parameters = pd.read_parquet(psa_folder / "parameters.parquet")
    assert parameters["draw"].tolist() == list(range(12))
    assert "cr_cart_tcell" in parameters and "cost_settings.us_payer.costs.cart_product" in parameters
    assert parameters.drop(columns="draw").std().gt(0).all()  # every column varies between draws
    analysed = read_psa_folder(psa_folder)  # the folder `cd7sim cea` reads
    assert analysed.strategies == tuple(strategies) and analysed.parameters.shape == (12, parameters.shape[1] - 1)
    for name in ("icers.csv", "ceac.csv", "evpi.csv", "evppi.csv", "ce_plane.png", "ceac.png", "psa.json"):
        assert (psa_folder / name).is_file(), name
    assert not (psa_folder.parent / f".out{PROGRESS_SUFFIX}").exists()  # the progress folder is gone


def test_calibrated_parameters_come_from_one_joint_posterior_draw(psa_folder):
    posterior = pd.read_parquet(DEFAULT_POSTERIOR_PATH)
    parameters = pd.read_parquet(psa_folder / "parameters.parquet")
    calibrated = [c for c in ("cr_cart_tcell", "nrm_haplo_no_prophylaxis", "relapse_haplo_no_prophylaxis") if c in parameters]
    for _, row in parameters.iterrows():
        matches = (posterior[calibrated] == row[calibrated].to_numpy()).all(axis=1)
        assert matches.any(), "each draw's calibrated values are one row of the posterior"


def test_a_draw_depends_only_on_the_seed_and_its_number():
    """Draw 7 computed alone equals draw 7 computed in a block with others (so blocks, workers and resumed runs agree),
    and another seed gives other inputs."""
    scenario = api.load("base", patients=40, seed=6)
    plan = psa_plan(scenario, 10, None)
    alone = run_block((plan, [7]))
    together = run_block((plan, range(5, 9)))
    pd.testing.assert_frame_equal(alone[0], together[0][together[0]["draw"] == 7].reset_index(drop=True), check_exact=True)
    other = psa_plan(api.load("base", patients=40, seed=7), 10, None)
    assert draw_inputs(plan, 7)[0]["cr_cart_tcell"] != draw_inputs(other, 7)[0]["cr_cart_tcell"]


def test_serial_equals_parallel(tmp_path):
    scenario = api.load("base", patients=40, seed=8)
    plan = psa_plan(scenario, 2 * BLOCK_DRAWS, None)
    first, second = Progress(tmp_path / "a", plan), Progress(tmp_path / "b", plan)
    serial = run_psa(plan, first, first.start(False))
    parallel = run_psa(plan, second, second.start(False), LocalExecutor(2))
    for one, other in zip(serial, parallel):
        pd.testing.assert_frame_equal(one, other, check_exact=True)


def test_a_scenario_override_stays_fixed_in_every_draw(tmp_path):
    scenario = api.validated(api.load("base", patients=30, seed=2), {"parameters": {"cr_cart_tcell": 0.5}})
    plan = psa_plan(scenario, BLOCK_DRAWS, None)
    assert "cr_cart_tcell" not in plan.parameter_names
    progress = Progress(tmp_path / "o", plan)
    _, parameters = run_psa(plan, progress, progress.start(False))
    assert "cr_cart_tcell" not in parameters


def _wait_for_block(folder: Path, process: subprocess.Popen, timeout: float = 300.0) -> None:
    started = time.monotonic()
    while not list(folder.glob("psa-*.parquet")):
        assert process.poll() is None, "the PSA ended before a block was written"
        assert time.monotonic() - started < timeout
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("extra_wait", [0.0, 0.7])
def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path, extra_wait):
    """Kill the PSA with SIGKILL after its first block (and a little later), resume it, compare with a run never
    interrupted: the same tables, value for value."""
    arguments = ["psa", "base", "--draws", "30", "--patients", "60", "--seed", "5", "--workers", "1"]
    whole = tmp_path / "whole"
    assert main([*arguments, "--out", str(whole)]) == 0
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "sim.cli", *arguments, "--out", str(out)]
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
    _wait_for_block(tmp_path / f".killed{PROGRESS_SUFFIX}", process)
    time.sleep(extra_wait)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists()
    assert main([*arguments, "--out", str(out), "--resume"]) == 0
    for name in ("psa.parquet", "parameters.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(whole / name), check_exact=True)
    assert not (tmp_path / f".killed{PROGRESS_SUFFIX}").exists()


def test_variants_of_one_strategy_are_the_decision(tmp_path, capsys):
    out = tmp_path / "timing"
    assert main(["psa", "base", "--draws", "10", "--patients", "40", "--vary", "hsct_interval_days=25,60",
                 "--out", str(out), "--workers", "1"]) == 0
    strategies = set(pd.read_parquet(out / "psa.parquet")["strategy"])
    assert strategies == {"cart_haplo_no_prophylaxis-hsct_interval_days-25", "cart_haplo_no_prophylaxis-hsct_interval_days-60"}
    assert "choose cart_haplo_no_prophylaxis-hsct_interval_days-" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["regional_centre", "--draws", "10"], r"^cd7sim: error: scenario: got 'regional_centre'; a closed cohort \(patients\) is required"),
    (["base", "--resume", *TINY], r"^cd7sim: error: --resume: got '.*'; nothing to resume: no PSA was interrupted here$"),
    (["base", "--strategy", "cart_alone", *TINY], r"^cd7sim: error: --strategy: got 'cart_alone'; only with --vary$"),
    (["base", "--vary", "hsct_interval_days=25", *TINY], r"^cd7sim: error: --vary hsct_interval_days: got '25'; at least two distinct"),
    (["base", "--vary", "crs_any=0.1,0.2", *TINY], r"^cd7sim: error: --vary: got 'crs_any'; one of hsct_uptake, hsct_interval_days"),
    (["base", "--vary", "hsct_uptake=0.5,2", *TINY], r"^cd7sim: error: --vary hsct_uptake: got 2; Input should be less than or equal to 1"),
    (["base", "--wtp", "-5", *TINY], r"^cd7sim: error: --wtp: got '-5'"),
])
def test_bad_psa_input_is_one_line_and_writes_nothing(tmp_path, capsys, arguments, message):
    out = tmp_path / "out"
    assert main(["psa", *arguments, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and re.match(message, err), err
    assert not out.exists() and not any(tmp_path.iterdir())


def test_draws_take_the_posterior_rows_without_replacement():
    from sim.inputs.parameters import load_parameters
    from sim.inputs.posterior import Posterior
    from sim.uncertainty.psa import posterior_order

    plan = psa_plan(api.load("base", patients=10, seed=9), 40, Posterior.read(DEFAULT_POSTERIOR_PATH, load_parameters().registry))
    assert plan.posterior is not None
    order = posterior_order(plan.seed, len(plan.posterior))
    assert sorted(order.tolist()) == list(range(len(plan.posterior)))
    for draw in (0, 17, 39):
        params, _ = draw_inputs(plan, draw)
        assert params["cr_cart_tcell"] == plan.posterior["cr_cart_tcell"].iloc[order[draw]]


def test_a_progress_folder_is_cleared_only_of_what_its_psa_wrote(tmp_path, capsys):
    """The progress folder's files are removed only when its settings name cd7sim as their writer and only the
    files those settings imply; a folder with anything else is refused and left as it is."""
    out = tmp_path / "out"
    folder = tmp_path / f".out{PROGRESS_SUFFIX}"
    folder.mkdir()
    (folder / "psa-0000000.parquet").write_text("mine", encoding="utf-8")  # no cd7sim settings: not cd7sim's
    assert main(["psa", "base", *TINY, "--out", str(out)]) == 2
    assert "a progress folder holding only cd7sim's PSA blocks is required" in capsys.readouterr().err
    assert (folder / "psa-0000000.parquet").read_text(encoding="utf-8") == "mine" and not out.exists()

    plan = psa_plan(api.load("base", patients=20, seed=1), BLOCK_DRAWS, None)
    progress = Progress(out, plan)
    (folder / "psa-0000000.parquet").unlink()
    folder.rmdir()
    progress.start(False)
    beyond = folder / f"psa-{BLOCK_DRAWS:07d}.parquet"  # a block this PSA (one block) never writes
    beyond.write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="it holds psa-0000010.parquet"):
        Progress(out, plan).start(False)
    beyond.unlink()
    run_psa(plan, progress, set())
    (folder / ".psa-0000000.parquet.abcd1234").write_text("left by a kill", encoding="utf-8")
    progress.remove()
    assert not folder.exists()
