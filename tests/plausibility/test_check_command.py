"""`cd7sim check` and the facade's check: the table, the exit status, nothing written, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from sim import api
from sim.cli import build_parser, main
from sim.outcomes import plausibility
from sim.outcomes.plausibility import IMPOSSIBLE, RULES, Rule

NOTHING_WRONG = Rule("nothing_wrong", IMPOSSIBLE, "A rule no course breaks.", lambda t: np.zeros(t.n, dtype=bool))
EVERY_DEATH = Rule("every_death", IMPOSSIBLE, "A rule every death breaks.", lambda t: t.c["death"], ("death", "death_day"))
SMALL = ["--patients", "40", "--seed", "3", "--workers", "1"]


@pytest.fixture
def empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("rules, status", [((NOTHING_WRONG,), 0), ((NOTHING_WRONG, EVERY_DEATH), 1)])
def test_exit_status_is_the_verdict_and_nothing_is_written(rules, status, empty_folder, monkeypatch, capsys):
    monkeypatch.setattr(plausibility, "RULES", rules)
    assert main(["check", "base", *SMALL]) == status
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == ("cd7sim 0.1.0: checking scenario 'base', 4 strategies, 40 patients x 1 replication(s), "
                          "engine des, seed 3")
    table = printed[printed.index(next(line for line in printed if line.startswith("rule "))):]
    assert table[0].split() == ["rule", "kind", "violations", "judged", "share", "bound", "result"]
    assert table[1].split() == ["nothing_wrong", "impossible", "0", "160", "0.00%", "0", "pass"]
    if status:
        assert table[2].split()[:2] == ["every_death", "impossible"] and table[2].split()[-1] == "FAIL"
        assert any(line.startswith("FAIL every_death (impossible, ") for line in printed)
        assert printed[-4] == "1 of 2 rules failed: every_death."
    else:
        assert printed[-4] == "All 1 rules pass."
    assert printed[-2].startswith("Simulated in ") and printed[-1].startswith("Whole command: ")
    assert list(empty_folder.iterdir()) == []


def test_check_runs_every_rule_and_its_status_says_whether_all_passed(empty_folder, capsys):
    status = main(["check", "xiao2025", *SMALL])
    printed = capsys.readouterr().out
    assert all(f"\n{rule.name} " in printed for rule in RULES)
    assert status == (0 if f"All {len(RULES)} rules pass." in printed else 1)
    assert list(empty_folder.iterdir()) == []


@pytest.mark.parametrize("arguments, field", [
    (["base", "--patients", "0"], "--patients"),
    (["regional_centre", "--patients", "10"], "--patients"),
    (["regional_centre", "--engine", "cohort"], "capacity"),
    (["no_such_scenario"], "scenario"),
])
def test_bad_input_exits_2_with_one_line(arguments, field, empty_folder, capsys):
    assert main(["check", *arguments]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("cd7sim: error: ") and field in line
    assert list(empty_folder.iterdir()) == []


def test_help_documents_the_exit_status():
    (check,) = [action.choices["check"] for action in build_parser()._actions if getattr(action, "choices", None)
                and "check" in action.choices]
    assert "Exit status 0 when every impossible rule" in check.description
    options = {name for action in check._actions for name in action.option_strings}
    assert {"--patients", "--replications", "--seed", "--engine", "--workers"} <= options
    assert "--out" not in options


def test_the_facade_checks_a_run_and_tables_read_from_files(tmp_path):
    run = api.run("base", patients=30, seed=5, workers=1)
    report = run.check()
    assert [result.rule.name for result in report.results] == [rule.name for rule in RULES]
    assert report.patients == len(run.patients)
    run.save(tmp_path / "out")
    import pandas as pd

    again = api.check(pd.read_parquet(tmp_path / "out" / "patients.parquet"), pd.read_parquet(tmp_path / "out" / "events.parquet"))
    pd.testing.assert_frame_equal(again.frame(), report.frame())
