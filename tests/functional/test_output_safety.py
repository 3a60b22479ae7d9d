"""Users' data is sacred: output folders are cd7sim's own or refused, replaced atomically, and a killed
run leaves the previous result or the new one, and no debris after the next run (issue 9)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim import cli
from sim.cli import main
from sim.inputs.errors import InputError
from sim.io.files import (
    LEGACY_RUN_FILES,
    MARKER,
    STAGING,
    check_output_folder,
    remove_own_folder,
    remove_stale_staging,
    replace_folder,
    write_folder,
)
from sim.report.folders import PATIENT_FIGURES, TABLE_FILES
from tests.conftest import BASE_SCENARIO, REPO

FILES = (*TABLE_FILES, *PATIENT_FIGURES)
"""What a run of the base scenario (closed cohort, unlimited capacity) writes."""

SMALL = ["--patients", "200", "--seed", "5"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run(tmp_path: Path, *args: str, cwd: Path | None = None) -> int:
    """``cd7sim run`` in-process from ``cwd`` (default ``tmp_path``); returns the exit status."""
    previous = Path.cwd()
    os.chdir(cwd or tmp_path)
    try:
        status = main(["run", *args])
    finally:
        os.chdir(previous)
    return status


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """A user's own project: a scenario copy and notes."""
    folder = tmp_path / "mywork"
    folder.mkdir()
    (folder / "base.yaml").write_text(BASE_SCENARIO.read_text())
    (folder / "notes.txt").write_text("my notes")
    return folder


def test_out_holding_the_users_files_is_refused_and_untouched(tmp_path, user_folder, capsys):
    before = snapshot(user_folder)
    status = run(tmp_path, str(user_folder / "base.yaml"), "--out", str(user_folder), *SMALL)
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith(f"cd7sim: error: --out: got '{user_folder}'; a folder that does not contain")
    assert snapshot(user_folder) == before


def test_refused_before_simulating(tmp_path, user_folder, capsys):
    run(tmp_path, str(user_folder / "base.yaml"), "--out", str(user_folder), *SMALL)
    assert "strategies" not in capsys.readouterr().out


def test_folder_with_foreign_files_is_refused(tmp_path, capsys):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "analysis.R").write_text("x <- 1")
    status = run(tmp_path, str(BASE_SCENARIO), "--out", str(out), *SMALL)
    assert status == 2
    assert "it holds analysis.R, which cd7sim did not write" in capsys.readouterr().err
    assert snapshot(out) == {"analysis.R": b"x <- 1"}


def test_a_file_added_to_cd7sims_folder_is_protected(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(tmp_path, str(BASE_SCENARIO), "--out", str(out), *SMALL) == 0
    (out / "my_plot.png").write_bytes(b"mine")
    before = snapshot(out)
    assert run(tmp_path, str(BASE_SCENARIO), "--out", str(out), *SMALL) == 2
    assert "it holds my_plot.png, which cd7sim did not write" in capsys.readouterr().err
    assert snapshot(out) == before


@pytest.mark.parametrize("out", [".", "..", ""])
def test_current_folder_and_its_parents_are_refused(tmp_path, out, capsys):
    work = tmp_path / "proj"
    work.mkdir()
    (work / "keep.txt").write_text("keep")
    status = run(tmp_path, str(BASE_SCENARIO), "--out", out, *SMALL, cwd=work)
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert (work / "keep.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_parent_of_the_scenario_is_refused(tmp_path, tmp_path_factory, user_folder, capsys):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    status = run(tmp_path, str(user_folder / "base.yaml"), "--out", str(user_folder.parent), *SMALL, cwd=elsewhere)
    assert status == 2
    assert f"does not contain {user_folder / 'base.yaml'}" in capsys.readouterr().err


def test_out_below_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    assert run(tmp_path, str(BASE_SCENARIO), "--out", str(tmp_path / "a_file" / "out"), *SMALL) == 2
    assert "is a file" in capsys.readouterr().err


def test_a_symbolic_link_is_followed_and_kept(tmp_path):
    """--out naming a link writes the folder it points to (cd7sim's own); the link stays a link, and
    nothing is left beside either."""
    real = tmp_path / "real"
    assert run(tmp_path, str(BASE_SCENARIO), "--out", str(real), *SMALL) == 0
    (tmp_path / "link").symlink_to("real")
    (tmp_path / "dangling").symlink_to(Path("later") / "out")
    assert run(tmp_path, str(BASE_SCENARIO), "--out", "link", "--patients", "200", "--seed", "6") == 0
    assert run(tmp_path, str(BASE_SCENARIO), "--out", "dangling", *SMALL) == 0
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == "real"
    assert (tmp_path / "dangling").is_symlink() and _complete(tmp_path / "later" / "out")
    assert json.loads((real / "run.json").read_text())["seed"] == 6 and _complete(real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "later", "link", "real"]


def test_a_link_to_a_users_folder_or_a_loop_is_refused(tmp_path, user_folder, capsys):
    (tmp_path / "to_mywork").symlink_to(user_folder)
    (tmp_path / "loop").symlink_to("loop")
    before = snapshot(user_folder)
    assert run(tmp_path, str(BASE_SCENARIO), "--out", "to_mywork", *SMALL) == 2
    assert "it holds base.yaml, notes.txt, which cd7sim did not write" in capsys.readouterr().err
    assert run(tmp_path, str(BASE_SCENARIO), "--out", "loop", *SMALL) == 2
    assert capsys.readouterr().err.strip() == ("cd7sim: error: --out: got 'loop'; a path that ends somewhere is required "
                                               "(its symbolic links go round in a loop)")
    assert snapshot(user_folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop", "mywork", "to_mywork"]


def test_a_read_only_place_is_refused_before_simulating(tmp_path, capsys, monkeypatch):
    """A folder the user may not write into (for the superuser, who may write anywhere, the permission
    check is made to say no)."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode) and Path(path) != locked)
    try:
        status = run(tmp_path, str(BASE_SCENARIO), "--out", str(locked / "out"), *SMALL)
    finally:
        locked.chmod(0o755)
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.strip() == f"cd7sim: error: --out: got '{locked / 'out'}'; a folder in a writable place is required"
    assert "strategies" not in captured.out
    assert list(locked.iterdir()) == []


def test_empty_folder_and_cd7sims_own_folder_are_written(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert run(tmp_path, str(BASE_SCENARIO), "--out", str(out), *SMALL) == 0
    assert run(tmp_path, str(BASE_SCENARIO), "--out", str(out), *SMALL) == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["written_by"] == "cd7sim" and marker["command"] == "run"
    assert sorted(marker["files"]) == sorted(FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, MARKER])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_version_0_1_run_folder_is_recognised(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    for name in LEGACY_RUN_FILES:
        (out / name).write_text("")
    (out / "run.json").write_text(json.dumps({"version": "0.1.0", "scenario": {}, "engine": "des", "parameters": {}}))
    check_output_folder(out)
    (out / "run.json").write_text("{}")
    with pytest.raises(Exception, match="cd7sim did not write"):
        check_output_folder(out)


def test_folders_are_made_as_the_umask_allows(tmp_path):
    previous = os.umask(0o022)
    try:
        assert run(tmp_path, str(BASE_SCENARIO), "--out", str(tmp_path / "out"), *SMALL) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "summary.csv").stat().st_mode) == 0o644


def test_replace_folder_swaps_without_a_gap(tmp_path):
    """The old folder (cd7sim's own) is exchanged for the new one and then removed."""
    old, new = tmp_path / "out", tmp_path / ".new"
    write_folder(old, lambda folder: (folder / "a").write_text("old"), "test")
    new.mkdir()
    (new / "a").write_text("new")
    replace_folder(new, old)
    assert (old / "a").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_write_keeps_the_previous_folder_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    write_folder(out, lambda folder: (folder / "a.csv").write_text("first"), "test")
    before = snapshot(out)

    def fail(folder: Path) -> None:
        (folder / "a.csv").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_folder(out, fail, "test")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_staging_of_a_dead_process_is_removed_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".out{STAGING}-{pid}-abc"
    stale.mkdir()
    (stale / STAGING).touch()
    (stale / "patients.parquet").write_bytes(b"x" * 100)
    alive = tmp_path / f".out{STAGING}-{os.getpid()}-def"
    alive.mkdir()
    unmarked = tmp_path / f".out{STAGING}-{pid}-ghi"
    unmarked.mkdir()
    (unmarked / "user.txt").write_text("not ours")
    assert remove_stale_staging(out) == [stale]
    assert alive.exists() and unmarked.exists()


def _complete(folder: Path) -> bool:
    names = {p.name for p in folder.iterdir()}
    if names != {*FILES, MARKER}:
        return False
    pd.read_parquet(folder / "patients.parquet")
    json.loads((folder / "run.json").read_text())
    return True


def _wait_for_staging(folder: Path, process: subprocess.Popen, limit: float = 120.0) -> float:
    """Wait until the run starts writing (its staging folder appears) or ends; return the time then."""
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        if any(STAGING in p.name for p in folder.iterdir()):
            break
        time.sleep(0.005)
    return time.monotonic()


KILL_POINTS = (0.1, 0.5, 0.9, 0.99)
"""Where in the writing phase (as a share of its length in an uninterrupted run) the kill lands."""
KILL_CASES = [(sig, share) for sig in (signal.SIGKILL, signal.SIGTERM) for share in KILL_POINTS]


@pytest.mark.slow
@pytest.mark.parametrize("sig, share", KILL_CASES, ids=[f"{s.name}-{k}" for s, k in KILL_CASES])
def test_a_killed_run_leaves_the_old_result_or_the_new_one_and_no_debris(tmp_path, sig, share):
    out = tmp_path / "out"

    def start(run_seed: int) -> subprocess.Popen:
        command = [sys.executable, "-m", "sim.cli", "run", str(BASE_SCENARIO), "--patients", "1000",
                   "--seed", str(run_seed), "--workers", "1", "--out", str(out)]
        return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    first = start(1)
    writing = _wait_for_staging(tmp_path, first)
    assert first.wait(timeout=120) == 0
    write_seconds = time.monotonic() - writing
    old = snapshot(out)
    second = start(2)
    _wait_for_staging(tmp_path, second)
    time.sleep(share * write_seconds)
    second.send_signal(sig)
    _, err = second.communicate(timeout=120)
    assert b"Traceback" not in err
    assert _complete(out)
    after = snapshot(out)
    assert after == old or after[".cd7sim"] == old[".cd7sim"] and after["patients.parquet"] != old["patients.parquet"]
    assert start(2).wait(timeout=120) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert _complete(out)


def test_the_committed_calibration_is_not_written_by_default(tmp_path, capsys):
    committed = snapshot(REPO / "calibration")
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        status = main(["calibrate", "--prior-draws", "60", "--stages", "1", "--stage-draws", "40",
                       "--posterior-draws", "50", "--workers", "1"])
    finally:
        os.chdir(previous)
    assert status == 0
    assert snapshot(REPO / "calibration") == committed
    assert {"posterior.parquet", "fit.csv", "identifiability.csv", "fit.png"} <= {
        p.name for p in (tmp_path / "results" / "calibration").iterdir()}
    assert "Whole command:" in capsys.readouterr().out


def test_an_internal_error_is_one_line_with_a_log(tmp_path, capsys, monkeypatch):
    import sim.api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(sim.api, "simulate", broken)
    status = run(tmp_path, str(BASE_SCENARIO), "--out", str(tmp_path / "out"), *SMALL)
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("cd7sim: internal error: ZeroDivisionError: division by zero; please report it")
    log = Path(err.rsplit("traceback in ", 1)[1].rstrip(")"))
    assert "Traceback" in log.read_text() and "ZeroDivisionError" in log.read_text()
    log.unlink()
    assert not (tmp_path / "out").exists()


def test_an_input_error_in_a_worker_process_is_one_line(tmp_path, capsys):
    scenario = REPO / "scenarios" / "capacity" / "regional_centre.yaml"
    status = run(tmp_path, str(scenario), "--engine", "cohort", "--workers", "2", "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("cd7sim: error: capacity.")
    assert "the cohort engine needs unlimited capacity" in err
    assert not (tmp_path / "out").exists()


def test_debris_of_killed_version_0_1_runs_is_removed_and_nothing_else(tmp_path):
    """cd7sim 0.1.0 staged in ``.NAME.XXXXXXXX`` (mkdtemp) and retired in ``.NAME.old.XXXXXXXX/NAME``; a killed
    run left them behind. They go when they hold only that version's output files; look-alikes stay."""
    out = tmp_path / "base"
    staging = tmp_path / ".base.ab12_xyz"
    staging.mkdir()
    (staging / "patients.parquet").write_bytes(b"x")
    retired = tmp_path / ".base.old.k9m8n7p6"
    (retired / "base").mkdir(parents=True)
    (retired / "base" / "summary.csv").write_text("old")
    foreign = tmp_path / ".base.zz99zz99"
    foreign.mkdir()
    (foreign / "thesis.docx").write_bytes(b"mine")
    unlike = tmp_path / ".base.toolongname"
    unlike.mkdir()
    assert sorted(remove_stale_staging(out)) == sorted([staging, retired])
    assert foreign.exists() and unlike.exists() and (foreign / "thesis.docx").read_bytes() == b"mine"


def test_a_file_added_while_a_run_writes_is_never_deleted(tmp_path):
    """A user's file that appears in the output folder while the new results are being written stops the
    swap: the folder keeps the user's file and the previous results, and no staging is left."""
    out = tmp_path / "out"
    write_folder(out, lambda folder: (folder / "a.csv").write_text("first"), "test")

    def write_while_the_user_saves(folder: Path) -> None:
        (folder / "a.csv").write_text("second")
        (out / "notes.txt").write_text("mine")

    with pytest.raises(InputError, match="it holds notes.txt, which cd7sim did not write"):
        write_folder(out, write_while_the_user_saves, "test")
    assert (out / "notes.txt").read_text() == "mine" and (out / "a.csv").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_removing_a_folder_takes_only_what_cd7sim_wrote(tmp_path):
    folder = tmp_path / "old"
    write_folder(folder, lambda f: (f / "a.csv").write_text("x"), "test")
    (folder / "user.txt").write_text("mine")
    assert not remove_own_folder(folder)
    assert sorted(p.name for p in folder.iterdir()) == [".cd7sim", "a.csv", "user.txt"]
    (folder / "user.txt").unlink()
    assert remove_own_folder(folder) and not folder.exists()


class _RaisesInFinaliser:
    """An object whose finaliser meets an interruption, as when a signal lands while matplotlib tidies up."""

    def __init__(self, interruption: BaseException) -> None:
        self.interruption = interruption

    def __del__(self) -> None:
        raise self.interruption


@pytest.mark.parametrize("interruption", [cli._Terminated(), KeyboardInterrupt()], ids=["SIGTERM", "Ctrl-C"])
def test_an_interruption_swallowed_by_a_finaliser_still_stops_the_command(interruption, capsys):
    """Python cannot raise from a finaliser: it prints the exception and carries on. The command's hook
    sends the signal again, so the interruption stops the command at the next line and prints nothing."""
    # Python's own Ctrl-C handler (a background job, as CI may run the suite, starts with SIGINT ignored)
    previous = (signal.signal(signal.SIGTERM, cli._on_sigterm), signal.signal(signal.SIGINT, signal.default_int_handler),
                sys.unraisablehook)
    sys.unraisablehook = cli._on_unraisable
    try:
        with pytest.raises(type(interruption)):
            finaliser = _RaisesInFinaliser(interruption)
            del finaliser
            time.sleep(60)
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
        sys.unraisablehook = previous[2]
    assert "Traceback" not in capsys.readouterr().err
