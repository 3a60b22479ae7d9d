"""`cd7sim validate` on a researcher's own studies and targets, and `--leave-one-out`: outputs, one-line errors
(exit 2, nothing written) and serial = parallel."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.calibration.studies import STUDIES_DIR
from sim.cli import main

HEADER = "study,metric,value,lower,upper,n,events,time_days,origin,evidence_id,likelihood,note,subgroup"


def own_cohort(tmp_path: Path, rows: list[str], patients: int = 200) -> tuple[Path, Path]:
    """Two copies of the shipped NS7 study (fewer simulated patients) and a targets file of ``rows``."""
    folder = tmp_path / "my_studies"
    folder.mkdir()
    text = (STUDIES_DIR / "ns7_aml.yaml").read_text().replace("patients: 3000", f"patients: {patients}")
    for name in ("centre_a", "centre_b"):
        (folder / f"{name}.yaml").write_text(text.replace("name: ns7_aml", f"name: {name}"))
    targets = tmp_path / "my_targets.csv"
    targets.write_text("\n".join([HEADER, *rows]) + "\n")
    return folder, targets


ROWS = ["centre_a,cr,0.7,,,10,7,28,infusion,A-CR,binomial,,", "centre_a,crs_mild,0.8,,,10,8,,infusion,A-CRS,binomial,,",
        "centre_b,cr,0.4,,,10,4,28,infusion,B-CR,binomial,,", "centre_b,icans_any,0.1,,,10,1,,infusion,B-ICANS,binomial,,"]


def test_validate_replays_a_researchers_own_studies_and_targets(tmp_path, capsys):
    folder, targets = own_cohort(tmp_path, ROWS)
    out = tmp_path / "val"
    status = main(["validate", "--studies", str(folder), "--targets", str(targets), "--draws", "5", "--workers", "1",
                   "--out", str(out)])
    printed = capsys.readouterr().out.splitlines()
    assert status == 0
    assert printed[0].startswith("cd7sim ") and "validating 4 targets of 2 study replay(s)" in printed[0]
    assert any(line.startswith("centre_b      icans_any") for line in printed)
    assert any(line.endswith(" of 4 targets inside") for line in printed)
    table = pd.read_csv(out / "validation.csv")
    assert list(table.study) == ["centre_a", "centre_a", "centre_b", "centre_b"] and table.inside.dtype == bool


@pytest.mark.parametrize("change,message", [
    (lambda folder, targets: ["--studies", str(folder.parent / "absent")],
     "--studies: got '{tmp}/absent'; an existing folder of study scenario files (NAME.yaml) is required"),
    (lambda folder, targets: (targets.write_text(targets.read_text().replace("centre_b,cr", "centre_c,cr")), [])[1],
     "my_targets.csv line 4: study: got 'centre_c'; the name of a study file (NAME.yaml) in {tmp}/my_studies is required: "
     "centre_a, centre_b"),
    (lambda folder, targets: (targets.write_text(targets.read_text().replace("events", "count")), [])[1],
     "my_targets.csv: column: got 'count'; one of study, metric, value, lower, upper, n, events, time_days, origin, "
     "evidence_id, likelihood, note, subgroup is allowed"),
    (lambda folder, targets: (targets.write_text(targets.read_text().replace("0.7,,,10,7", "0.7,,,10,NaN")), [])[1],
     "my_targets.csv line 2: events: got .nan; a finite number is required"),
    (lambda folder, targets: (targets.write_text(targets.read_text().replace("centre_a,cr,", "centre_a,cure,")), [])[1],
     "my_targets.csv line 2: metric: got 'cure'; one of cr, mrd_negative, "),
    (lambda folder, targets: ["--prior-draws", "10"],
     "--prior-draws: got 10; only allowed with --leave-one-out (the budget of each held-out study's calibration)"),
    (lambda folder, targets: ["--leave-one-out", "--posterior", "p.parquet"],
     "--posterior: got 'p.parquet'; not allowed with --leave-one-out, which calibrates a posterior for each held-out study"),
    (lambda folder, targets: ["--write-committed"],
     "--write-committed: got true; not allowed with --studies or --targets: the committed validation is that of the "
     "shipped studies (use --out DIR)"),
])
def test_bad_input_is_one_line_and_nothing_is_written(tmp_path, capsys, change, message):
    folder, targets = own_cohort(tmp_path, ROWS)
    extra = change(folder, targets)
    args = ["validate", "--studies", str(folder), "--targets", str(targets), "--draws", "2", "--workers", "1", *extra]
    if "--write-committed" not in extra:
        args += ["--out", str(tmp_path / "val")]
    before = sorted(p.name for p in tmp_path.iterdir())
    status = main(args)
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.splitlines() == [captured.err.strip()]
    assert captured.err.strip().startswith("cd7sim: error: " + message.format(tmp=tmp_path)), captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and captured.out == ""


def test_leave_one_out_writes_its_tables_identically_serial_or_parallel(tmp_path, capsys):
    folder, targets = own_cohort(tmp_path, ROWS)
    common = ["validate", "--leave-one-out", "--studies", str(folder), "--targets", str(targets), "--prior-draws", "40",
              "--stages", "1", "--stage-draws", "20", "--posterior-draws", "30", "--draws", "4", "--seed", "5"]
    assert main([*common, "--workers", "1", "--out", str(tmp_path / "serial")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "leave-one-study-out validation of 4 targets of 2 study replay(s)" in printed[0]
    assert "held-out study" in "\n".join(printed) and printed[-1].startswith("Wrote ") and "Whole command: " in printed[-1]
    assert printed[-2].endswith(" of 4 held-out targets inside their 95% predictive interval (each fold calibrated on the "
                                "other studies: 40 prior draws + 1 x 20 adaptive, 30 posterior draws, seed 5)")
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "parallel")]) == 0
    for name in ("leave_one_out.csv", "leave_one_out_studies.csv"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "parallel" / name).read_bytes()
    studies = pd.read_csv(tmp_path / "serial" / "leave_one_out_studies.csv")
    assert list(studies.held_out) == ["centre_a", "centre_b", "all studies"]
    assert list(studies.targets) == [2, 2, 4]


# --- the README's worked example ---------------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Validating on your own cohort"


def readme_example() -> tuple[str, list[str], list[str]]:
    """The README's own-cohort example: the targets file, the shell session, the error lines."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ")]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    (csv,) = [body for language, body in blocks if language == "csv"]
    session, errors = [body.splitlines() for language, body in blocks if language == "text"]
    return csv, session, errors


def cd7sim(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def readme_workdir(tmp_path: Path) -> Path:
    """A folder holding a copy of scenarios/, the README's targets file and the folder its shell lines make."""
    csv, session, _ = readme_example()
    shutil.copytree(STUDIES_DIR.parent, tmp_path / "scenarios")
    (tmp_path / "my_targets.csv").write_text(csv, encoding="utf-8")
    for line in session:
        if line.startswith("$ ") and not line.startswith("$ cd7sim "):
            subprocess.run(line.removeprefix("$ "), shell=True, check=True, cwd=tmp_path)
    return tmp_path


def test_the_readme_own_cohort_example_runs_and_prints_what_it_shows(readme_workdir):
    _, session, _ = readme_example()
    (command,) = [i for i, line in enumerate(session) if line.startswith("$ cd7sim ")]
    args = shlex.split(session[command].removeprefix("$ cd7sim "))
    result = cd7sim([*args, "--draws", "20", "--workers", "1"], readme_workdir)
    assert result.returncode == 0, result.stderr
    printed, shown = result.stdout.splitlines(), session[command + 1:]
    assert printed[0] == shown[0].replace("under 200 posterior draws", "under 20 posterior draws")
    assert printed[1] == shown[1]  # the table's header
    rows = [line for line in shown[2:] if line.startswith("my_centre")]
    assert [re.split(r"\s{2,}", line)[:3] for line in printed[2:2 + len(rows)]] == [re.split(r"\s{2,}", r)[:3] for r in rows]
    assert re.fullmatch(rf"\d+ of {len(rows)} targets inside", printed[2 + len(rows)])
    assert (readme_workdir / "results" / "validation" / "validation.csv").is_file()


README_ERRORS = {
    # start of the README's message -> (change to the example's command line, change to my_targets.csv)
    "--studies: got 'my_cohrt'": (("my_cohort", "my_cohrt"), None),
    "my_targets.csv line 3: study: got 'my_center'": (None, (3, "my_centre,", "my_center,")),
    "my_targets.csv: column: got 'event'": (None, (1, ",events,", ",event,")),
    "my_targets.csv line 5: value: got .nan": (None, (5, "0.583", "nan")),
    "my_targets.csv line 2: metric: got 'complete_response'": (None, (2, ",cr,", ",complete_response,")),
}


def test_the_readme_own_cohort_errors_are_printed_word_for_word(readme_workdir, monkeypatch, capsys):
    _, session, errors = readme_example()
    (command,) = [line for line in session if line.startswith("$ cd7sim ")]
    original = (readme_workdir / "my_targets.csv").read_text()
    assert len(errors) == len(README_ERRORS)
    for line in errors:
        message = line.removeprefix("cd7sim: error: ")
        ((argument, row),) = [change for start, change in README_ERRORS.items() if message.startswith(start)]
        args = command.removeprefix("$ cd7sim ")
        if argument is not None:
            args = args.replace(*argument)
        lines = original.splitlines()
        if row is not None:
            number, old, new = row
            lines[number - 1] = lines[number - 1].replace(old, new, 1)
        (readme_workdir / "my_targets.csv").write_text("\n".join(lines) + "\n")
        monkeypatch.chdir(readme_workdir)
        assert main(shlex.split(args)) == 2
        err = capsys.readouterr().err
        assert re.fullmatch(".*".join(re.escape(part) for part in line.split("...")), err.strip()), err
        assert not (readme_workdir / "results").exists()
