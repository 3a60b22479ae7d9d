"""`cd7sim cea` on a PSA folder written by any model: the files and figures, the published reference example end
to end, and one-line errors (exit 2, nothing written) for bad folders and options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from tests.conftest import REPO

FILES = ["icers.csv", "ceac.csv", "evpi.csv", "evppi.csv", "ce_plane.png", "ceac.png", "expected_loss.png", "evpi.png",
         "evppi.png"]


def psa_folder(tmp_path: Path, draws: int = 300) -> Path:
    """Another model's PSA: strategies 'usual care', 'drug A', 'drug B'; parameters 'effect_a' (drives drug A's
    QALYs), 'price_b' (drives drug B's cost) and 'noise' (drives nothing)."""
    rng = np.random.default_rng(3)
    effect_a, price_b, noise = rng.normal(0.1, 0.05, draws), rng.gamma(16.0, 500.0, draws), rng.uniform(size=draws)
    base_cost, base_qalys = rng.normal(5000, 500, draws), rng.normal(2.0, 0.2, draws)
    rows = []
    for i in range(draws):
        rows += [(i + 1, "usual care", base_cost[i], base_qalys[i], 0.4),
                 (i + 1, "drug A", base_cost[i] + 3000, base_qalys[i] + effect_a[i], 0.5),
                 (i + 1, "drug B", base_cost[i] + price_b[i], base_qalys[i] + 0.15, 0.45)]
    folder = tmp_path / "other_model_psa"
    folder.mkdir()
    pd.DataFrame(rows, columns=["draw", "strategy", "cost", "qalys", "os_2y"]).to_parquet(folder / "psa.parquet")
    pd.DataFrame({"draw": np.arange(1, draws + 1), "effect_a": effect_a, "price_b": price_b, "noise": noise}).to_parquet(
        folder / "parameters.parquet")
    return folder


def test_cea_writes_every_file_of_another_models_psa(tmp_path, capsys):
    folder = psa_folder(tmp_path)
    out = tmp_path / "analysis"
    status = main(["cea", str(folder), "--wtp", "20000,50000", "--evppi", "effect_a", "--evppi", "effect_a,price_b",
                   "--population", "1000", "--currency", "EUR", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert printed.startswith("cd7sim ") and "300 draws x 3 strategies, 3 parameters" in printed
    assert "At 20,000 EUR/QALY: choose" in printed and "Whole command:" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, ".cd7sim"])
    icers = pd.read_csv(out / "icers.csv")
    assert icers.columns[:9].tolist() == ["strategy", "cost", "qalys", "inc_cost", "inc_qalys", "icer", "status",
                                          "nmb_20000", "nmb_50000"]
    assert set(icers["status"]) <= {"ND", "ED", "D"} and set(icers["strategy"]) == {"usual care", "drug A", "drug B"}
    ceac = pd.read_csv(out / "ceac.csv")
    assert ceac.columns.tolist()[:4] == ["wtp", "strategy", "probability_best", "on_frontier"]
    assert ceac.groupby("wtp")["probability_best"].sum().to_numpy() == pytest.approx(1.0)
    assert (ceac.groupby("wtp")["on_frontier"].sum() == 1).all()
    assert {20000.0, 50000.0} <= set(ceac["wtp"]) and ceac["wtp"].min() == 0
    evpi = pd.read_csv(out / "evpi.csv")
    assert evpi.columns.tolist() == ["wtp", "evpi", "evpi_population"]
    assert (evpi["evpi"] >= 0).all() and evpi["evpi_population"].to_numpy() == pytest.approx(1000 * evpi["evpi"].to_numpy())
    evppi = pd.read_csv(out / "evppi.csv", keep_default_na=False)
    assert evppi.columns.tolist()[:4] == ["parameters", "wtp", "evppi", "se"] and "fit_warning" in evppi.columns
    assert evppi["parameters"].tolist() == ["effect_a", "effect_a,price_b"] * 2
    for wtp, rows in evppi.groupby("wtp"):
        ceiling = float(evpi.loc[evpi["wtp"] == wtp, "evpi"].iloc[0])
        assert (rows["evppi"] <= ceiling + 2 * rows["se"] + 1e-9).all()


def test_cea_defaults_every_parameter_alone_at_the_frontiers_icers(tmp_path, capsys):
    folder = psa_folder(tmp_path, draws=200)
    out = tmp_path / "default"
    assert main(["cea", str(folder), "--out", str(out)]) == 0
    evppi = pd.read_csv(out / "evppi.csv", keep_default_na=False)
    wtps = sorted(set(evppi["wtp"]))
    assert evppi["parameters"].tolist() == ["effect_a", "price_b", "noise"] * len(wtps)
    icers = pd.read_csv(out / "icers.csv")
    frontier = icers.loc[icers["status"] == "ND", "icer"].dropna()
    assert wtps == sorted(float(f"{value:.2g}") for value in frontier)


def test_cea_reproduces_the_published_reference_end_to_end(tmp_path, capsys):
    """The vendored PSA of the R package voi's chemotherapy example (tests/data/README.md): evppi.csv gives
    voi's printed single-parameter EVPPI, 262.1109 at 20,000 per QALY (tests/testthat/test_evppi.R), and
    evpi.csv its EVPI 368.605096225918 (tests/testthat/test_evpi.R)."""
    out = tmp_path / "chemo"
    assert main(["cea", str(REPO / "tests" / "data" / "voi_chemo"), "--wtp", "20000", "--evppi", "p_side_effects_t2",
                 "--out", str(out)]) == 0
    evppi = pd.read_csv(out / "evppi.csv")
    assert evppi.loc[0, "evppi"] == pytest.approx(262.1109, rel=1e-5)
    evpi = pd.read_csv(out / "evpi.csv").set_index("wtp")
    assert evpi.loc[20000.0, "evpi"] == pytest.approx(368.605096225918, rel=1e-5)


def _break(folder: Path, name: str, change) -> None:
    table = pd.read_parquet(folder / name)
    change(table).to_parquet(folder / name)


@pytest.mark.parametrize("breakage,extra,message", [
    (lambda f: _break(f, "psa.parquet", lambda t: t.assign(cost=t["cost"].where(t.index != 4, np.nan))), [],
     "{dir}/psa.parquet, column 'cost', draw 2, strategy 'drug A': got .nan; a finite number is required"),
    (lambda f: _break(f, "psa.parquet", lambda t: t.drop(index=7)), [],
     "{dir}/psa.parquet, draw 3: got [drug B, usual care]; a row for every strategy is required (missing: 'drug A')"),
    (lambda f: _break(f, "psa.parquet", lambda t: t.drop(columns="qalys")), [],
     "{dir}/psa.parquet: got [draw, strategy, cost, os_2y]; the columns draw, strategy, cost and qalys are required "
     "(missing: qalys)"),
    (lambda f: _break(f, "parameters.parquet", lambda t: t.iloc[:-1]), [],
     "{dir}/parameters.parquet, column 'draw': got 'no row for draw 300'; one row per draw of psa.parquet is required"),
    (lambda f: (f / "parameters.parquet").unlink(), [],
     "{dir}/parameters.parquet: got nothing; a Parquet table is required (a PSA folder holds psa.parquet and "
     "parameters.parquet)"),
    (lambda f: None, ["--evppi", "effect_a,dose"],
     "--evppi: got 'dose'; a parameter of parameters.parquet is required (effect_a, price_b, noise)"),
    (lambda f: None, ["--wtp", "20000,-1"],
     "--wtp: got '20000,-1'; distinct finite numbers >= 0 separated by commas are required (currency per QALY)"),
    (lambda f: None, ["--population", "0"], "--population: got '0'; a number of people > 0 is required"),
])
def test_bad_psa_folders_and_options_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, breakage, extra, message):
    folder = psa_folder(tmp_path)
    breakage(folder)
    out = tmp_path / "analysis"
    status = main(["cea", str(folder), "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == "cd7sim: error: " + message.format(dir=folder)
    assert not out.exists()


def test_the_psa_folder_itself_and_a_foreign_folder_are_refused_as_output(tmp_path, capsys):
    folder = psa_folder(tmp_path)
    assert main(["cea", str(folder), "--out", str(folder)]) == 2
    assert "a folder that does not contain" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    assert main(["cea", str(folder), "--out", str(foreign)]) == 2
    assert "which cd7sim did not write" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["parameters.parquet", "psa.parquet"]
