"""The README's examples run as written.

README.md's fenced blocks are parsed when the tests run (nothing is copied here), so a README that
drifts from the code fails this file:

- Quick start (```bash): command 2 is what `.ci/run` runs; the `cd7sim run` part of command 1 runs.
- ```console blocks: every `$ cd7sim ...` command runs from a temporary copy of `scenarios/` (sizes cut
  where the command is expensive); the first line, the table headers and the rows' labels match the
  README's; a command fast as written (the worked example) is compared line for line, times aside.
- Usage blocks (``` lines starting `cd7sim `): every option exists, as a flag or with a value, with the
  default and the choices the README shows.
- Error examples (``` lines starting `cd7sim: error:`): each is produced, word for word.
- ```yaml blocks: the full scenario runs; each partial snippet, merged into scenarios/base.yaml, runs.
"""

from __future__ import annotations

import argparse
import functools
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.cli import build_parser, main
from sim.inputs.scenario import load_scenario, scenario_path
from sim.outcomes.resources import CAPACITY_FIELDS
from tests.conftest import REPO

README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
GAP = "..."
"""In the README's output and error lines: something left out."""
TIMES = re.compile(r"(Simulated in |Whole command: )[\d.]+ s")
LABEL_COLUMNS = {"strategy", "resource", "capacity"}
"""Table columns that name a row (the rest are simulated numbers)."""


# --- the README's blocks ---------------------------------------------------------------------------------

@functools.cache
def fenced_blocks() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every fenced block of the README: (language, lines)."""
    text = README.read_text(encoding="utf-8")
    return tuple((m.group(1), tuple(m.group(2).splitlines())) for m in FENCE.finditer(text))


def blocks(language: str) -> list[tuple[str, ...]]:
    return [lines for lang, lines in fenced_blocks() if lang == language]


def quick_start() -> list[str]:
    """The commands of the Quick start block (comments left out)."""
    (lines,) = blocks("bash")
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class ConsoleExample:
    line: str
    output: tuple[str, ...]

    @property
    def argv(self) -> list[str]:
        """The arguments after `cd7sim`, without the trailing comment."""
        words = shlex.split(self.line.removeprefix("$ "), comments=True)
        assert words[0] == "cd7sim", self.line
        return words[1:]


@functools.cache
def console_examples() -> tuple[ConsoleExample, ...]:
    """Every `$ cd7sim ...` line of the console blocks, with the output the README shows after it."""
    examples: list[list] = []
    for lines in blocks("console"):
        current = None
        for line in lines:
            if line.startswith("$ "):
                current = [line, []]
                if line.startswith("$ cd7sim "):
                    examples.append(current)
            elif current is not None:
                current[1].append(line)
    return tuple(ConsoleExample(line, tuple(_strip_blank_end(output))) for line, output in examples)


def _strip_blank_end(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def usage_commands() -> list[str]:
    """Each command of the usage blocks (plain blocks of `cd7sim ...` lines), continuation lines joined."""
    commands: list[str] = []
    for lines in blocks(""):
        if not lines or not lines[0].startswith("cd7sim "):
            continue
        for line in lines:
            if line.startswith(" ") and line.strip() and commands:
                commands[-1] += " " + line.strip()
            elif line.strip():
                commands.append(line)
    return commands


def error_lines() -> list[str]:
    """The README's error examples (plain blocks of `cd7sim: error:` lines)."""
    return [line for lines in blocks("") if lines and lines[0].startswith("cd7sim: error:") for line in lines if line.strip()]


def yaml_snippets() -> list[str]:
    return ["\n".join(lines) + "\n" for lines in blocks("yaml")]


def worked_example() -> ConsoleExample:
    """The first console example that shows the `cd7sim run` header line and a headline table."""
    return next(e for e in console_examples() if e.argv[0] == "run" and e.output and e.output[0].startswith("cd7sim "))


# --- helpers ---------------------------------------------------------------------------------------------

def cells(line: str) -> list[str]:
    """The cells of a table row (columns are two or more spaces apart)."""
    return re.split(r"\s{2,}", line.strip())


def matches_with_gaps(pattern: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``pattern`` with each `...` standing for any number of items."""
    if not pattern:
        return not actual
    if pattern[0] == GAP:
        return any(matches_with_gaps(pattern[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == pattern[0] and matches_with_gaps(pattern[1:], actual[1:])


def mask_times(line: str) -> str:
    return TIMES.sub(r"\1<time> s", line)


def first_line_pattern(readme_line: str) -> str:
    """A regular expression for a header line like the README's with other sizes: every number may differ
    except the version and the number of strategies."""
    pattern, end = "", 0
    for i, number in enumerate(re.finditer(r"\d+(?:[.,]\d+)*", readme_line)):
        keep = (i == 0 and readme_line.startswith("cd7sim ")) or readme_line[number.end():].startswith(" strategies")
        pattern += re.escape(readme_line[end:number.start()])
        pattern += re.escape(number.group()) if keep else r"\d+(?:[.,]\d+)*"
        end = number.end()
    return pattern + re.escape(readme_line[end:])


def check_tables(readme: list[str], printed: list[str], keys: set[str]) -> int:
    """Each table header the README shows is printed (`...` standing for left-out columns), and each row
    it shows has its labels (strategy, resource, capacity, swept setting) printed; returns the tables seen."""
    printed_cells = [cells(line) for line in printed if line.strip()]
    labels = LABEL_COLUMNS | keys
    tables = 0
    for i, line in enumerate(readme):
        header = cells(line)
        if header[0] not in labels:
            continue
        tables += 1
        assert any(matches_with_gaps(header, row) for row in printed_cells), f"table header not printed: {line!r}"
        k = next(j for j, name in enumerate(header) if name not in labels)
        printed_labels = {tuple(row[:k]) for row in printed_cells if len(row) > k}
        for row in readme[i + 1:]:
            if row.strip() == GAP or len(cells(row)) <= k:
                break
            assert tuple(cells(row)[:k]) in printed_labels, f"no printed row for the README's {row!r}"
    return tables


def cd7sim(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`cd7sim ARGS` in ``cwd``, as the console script runs it."""
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A temporary folder holding a copy of `scenarios/`: the README's relative paths resolve, and
    `results/` is written here, not into the repository."""
    shutil.copytree(REPO / "scenarios", tmp_path / "scenarios")
    return tmp_path


def test_readme_has_every_kind_of_example():
    """The blocks this file runs are there (an empty parametrisation would pass silently)."""
    assert len(quick_start()) == 2
    assert any(e.argv[0] == "run" for e in console_examples())
    assert usage_commands() and error_lines()
    assert any("name" in yaml.safe_load(s) for s in yaml_snippets())
    assert any("name" not in yaml.safe_load(s) for s in yaml_snippets())


# --- Quick start -----------------------------------------------------------------------------------------

def test_quick_start_test_command_is_what_ci_runs():
    """Command 2 of the Quick start is the command of `.ci/run`, run from the repository root."""
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'cd "$(dirname "$0")/.."' in script
    (ci,) = [line for line in script.splitlines() if "python3 -m venv" in line]
    assert shlex.split(quick_start()[1]) == shlex.split(ci)


@pytest.mark.slow
def test_quick_start_runs_the_base_case(workdir):
    """The `cd7sim run ...` part of command 1 exits 0, prints the headline table and writes results/ here."""
    parts = [shlex.split(part) for part in quick_start()[0].split("&&")]
    (run,) = [words for words in parts if Path(words[0]).name == "cd7sim"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts[Path(run[0]).name] == "sim.cli:main"  # so `python -m sim.cli` is the same program
    args = run[1:]
    result = cd7sim(args, workdir)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    readme = worked_example().output
    assert re.fullmatch(first_line_pattern(readme[0]), printed[0]), printed[0]
    headers = [line for line in readme if cells(line)[0] == "strategy"]  # the headline table, then the economic table
    assert len(headers) == 2 and all(line in printed for line in headers)
    header = headers[0]
    scenario = load_scenario(workdir / build_parser().parse_args(args).scenario)
    start = printed.index(header) + 1
    assert [cells(line)[0] for line in printed[start:start + len(scenario.strategies)]] == [s.name for s in scenario.strategies]
    assert (workdir / "results" / scenario.name / "summary.csv").is_file()


# --- console blocks --------------------------------------------------------------------------------------

def fast_argv(argv: list[str], cwd: Path) -> list[str]:
    """The README's `run`, `sweep` or `check` command with options that keep the suite fast (none if fast as written)."""
    args = build_parser().parse_args(argv)  # the command as written parses
    path = cwd / args.scenario
    scenario = load_scenario(path if path.exists() else scenario_path(args.scenario))  # a file, or a built-in name
    extra = []
    if (scenario.arrivals is not None or scenario.capacity.limited()) and "--replications" not in argv:
        extra += ["--replications", "2"]
    if argv[0] in ("run", "check") and scenario.arrivals is None and "--patients" not in argv:
        extra += ["--patients", "300"]
    return [*argv, *extra]


def bench_result_from(output: tuple[str, ...]) -> dict:
    """The benchmark result whose report is the README's bench output (its numbers read back from it)."""
    text = "\n".join(output)

    def number(word: str) -> float:
        return float(word.replace(",", ""))

    def find(pattern: str) -> tuple[str, ...]:
        match = re.search(pattern, text)
        assert match, f"the README's bench output has no line like {pattern!r}"
        return match.groups()

    measurements = []
    for line in output:
        row = re.fullmatch(r"(reference|des|cohort)\s+([\d,]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d,]+)\s+([\d,]+)",
                           line.strip())
        if row:
            engine, patients, repeats, low, median, high, per_second, peak = row.groups()
            seconds = [float(low), *[float(median)] * (int(repeats) - 2), float(high)] if int(repeats) > 1 else [float(median)]
            measurements.append({"engine": engine, "patients": int(number(patients)), "seconds": seconds,
                                 "median_seconds": float(median), "per_second": int(number(per_second)),
                                 "peak_memory_mb": number(peak)})
    (reference,) = find(r"SimPy reference model: ([\d,]+) trajectories")
    des, des_over_reference = find(r"SimPy engine: +([\d,]+) trajectories.*; ([\d.]+)x the reference")
    cohort, ratio, cohort_over_reference = find(r"cohort engine: ([\d,]+) trajectories.*; ([\d.]+)x the SimPy engine.*; "
                                                r"([\d.]+)x the reference")
    des_by_medians, cohort_by_medians = find(r"by medians ([\d.]+)x and ([\d.]+)x")
    cohort_linear, des_linear = find(r"linearity: 1M takes ([\d.]+)x .* 100k takes ([\d.]+)x")
    (peak,) = find(r"peak memory.*: ([\d,]+) MB")
    (table,) = find(r"patients table, 1M patients x 4 strategies \(cohort\): built in ([\d.]+) s of")
    sets, patients, workers, seconds = find(r"PSA workload \(([\d,]+) sets x ([\d,]+) patients .* (\d+) cores\): "
                                            r"([\d.]+) s \(measured\)")
    repeats, median, low, high = find(r"cd7sim run base \(whole command, (\d+) fresh processes\): median ([\d.]+) s "
                                      r"\(min ([\d.]+), max ([\d.]+)\)")
    draws, patients_psa, cores_psa, psa_seconds = find(r"cd7sim psa base \(([\d,]+) draws x ([\d,]+) patients .* (\d+) cores\): "
                                                       r"([\d.]+) s \(measured\)")
    calibration_draws, cores_calibration, calibration_seconds = find(r"cd7sim calibrate \(([\d,]+) draws, default budget, "
                                                                     r"whole command, (\d+) cores\): ([\d.]+) s \(measured\)")
    return {
        "des_patients_per_second": int(number(des)), "cohort_patients_per_second": int(number(cohort)),
        "reference_patients_per_second": int(number(reference)), "des_over_reference": float(des_over_reference),
        "cohort_over_reference": float(cohort_over_reference),
        "over_reference_by_medians": {"des": float(des_by_medians), "cohort": float(cohort_by_medians)},
        "engine_ratio_at_100k": float(ratio), "cohort_1m_over_100k_time": float(cohort_linear),
        "des_100k_over_10k_time": float(des_linear), "peak_memory_mb_1m": number(peak), "table_seconds_1m": float(table),
        "psa_workload_seconds": float(seconds),
        "run_base_median_seconds": float(median),
        "economic_psa_seconds": float(psa_seconds),
        "economic_psa": {"draws": int(number(draws)), "patients": int(number(patients_psa)), "workers": int(cores_psa),
                         "measured_draws": [int(number(draws))], "measured_seconds": [float(psa_seconds)]},
        "calibration_seconds": float(calibration_seconds),
        "calibration": {"draws": int(number(calibration_draws)), "workers": int(cores_calibration),
                        "measured_draws": [int(number(calibration_draws))], "measured_seconds": [float(calibration_seconds)]},
        "run_base_seconds": {"min": float(low), "median": float(median), "max": float(high), "repeats": int(repeats)},
        "psa_workload": {"parameter_sets": int(number(sets)), "patients": int(number(patients)), "workers": int(workers),
                         "measured_parameter_sets": int(number(sets)), "measured_seconds": float(seconds), "scaled": False},
        "measurements": measurements,
    }


def check_bench(example: ConsoleExample, workdir: Path, monkeypatch, capsys) -> None:
    """`cd7sim bench` is not run for real (about a minute even with --quick): the command as written parses,
    `bench --help` lists its options, and with the measurements stubbed by the README's own numbers the
    command prints the README's output and writes its JSON file."""
    argv = example.argv
    build_parser().parse_args(argv)
    help_ = cd7sim([argv[0], "--help"], workdir)
    assert help_.returncode == 0, help_.stderr
    for option in (word for word in argv if word.startswith("--")):
        assert option in help_.stdout
    result = bench_result_from(example.output)
    monkeypatch.setattr("sim.simulation.bench.run_benchmark", lambda quick=False, **kwargs: result)
    monkeypatch.chdir(workdir)
    assert main(argv) == 0
    printed = [mask_times(line) for line in capsys.readouterr().out.splitlines()]
    assert matches_with_gaps([GAP, *example.output, GAP], printed), "\n".join(printed)
    args = build_parser().parse_args(argv)
    if args.json:
        assert (workdir / args.json).is_file()


def _console_param(example: ConsoleExample):
    slow = [pytest.mark.slow] if example.argv[0] in ("run", "sweep", "check") else []
    return pytest.param(example, id=" ".join(example.argv), marks=slow)


@pytest.mark.parametrize("example", [_console_param(e) for e in console_examples()])
def test_console_command_runs_and_prints_what_the_readme_shows(example, workdir, monkeypatch, capsys):
    """Each `$ cd7sim ...` runs (exit 0); its output matches the README's (all of it when run as written)."""
    argv = example.argv
    if argv[0] == "bench":
        check_bench(example, workdir, monkeypatch, capsys)
        return
    if argv[0] not in ("run", "sweep", "check"):
        pytest.fail(f"no fast way known to run the README's {example.line!r}: add one to this test")
    command = fast_argv(argv, workdir)
    result = cd7sim(command, workdir)
    if argv[0] == "check":  # its status is its verdict: 0 when every rule passes, 1 when one fails
        assert result.returncode == (0 if re.search(r"^All \d+ rules pass\.$", result.stdout, re.M) else 1), result.stderr
    else:
        assert result.returncode == 0, result.stderr
    printed = [mask_times(line) for line in result.stdout.splitlines()]
    readme = [mask_times(line) for line in example.output]
    if command == argv:
        if GAP in readme:
            assert matches_with_gaps(readme, printed), result.stdout
        else:
            assert printed == readme
    elif readme and readme[0].startswith("cd7sim "):
        assert re.fullmatch(first_line_pattern(readme[0]), printed[0]), printed[0]
    keys = {setting.split("=")[0] for setting in getattr(build_parser().parse_args(argv), "settings", None) or []}
    if argv[0] == "check":
        keys = {"rule"}  # its table's rows are named by the rule
    assert check_tables(readme, printed, keys) >= 1, "the README shows no table for this command"
    assert (workdir / "results").is_dir() == (argv[0] != "check")  # check writes nothing


# --- usage blocks ----------------------------------------------------------------------------------------

OPTION = re.compile(r"(--[a-z][a-z-]*)(?: +([^\s\[\]]+))?")


@pytest.mark.parametrize("usage", usage_commands())
def test_usage_options_exist_with_the_defaults_shown(usage):
    """Every option of a usage line is accepted by its command: a flag where none is shown with a value,
    the default where a number or path is shown, the choices where `a|b` is shown; and its positionals."""
    words = usage.split()
    commands = subcommands()
    assert words[1] in commands, f"no command {words[1]!r}"
    parser = commands[words[1]]
    options = {name: action for action in parser._actions for name in action.option_strings}
    positionals = [a for a in parser._actions if not a.option_strings]
    shown = [w for w in words[2:][:next((i for i, w in enumerate(words[2:]) if w[0] in "-["), len(words) - 2)]]
    assert len(shown) == len(positionals), f"{usage}: positionals {shown} vs {[a.dest for a in positionals]}"
    for match in OPTION.finditer(usage):
        option, value = match.groups()
        assert option in options, f"{words[1]} has no option {option}"
        action = options[option]
        if value is None:
            assert action.nargs == 0, f"{option} takes a value"
        elif value == GAP:
            continue
        else:
            assert action.nargs != 0, f"{option} is a flag"
            if value.isdigit():
                assert action.default == int(value), f"{option}: default {action.default}, README {value}"
            elif "|" in value:
                assert tuple(value.split("|")) == tuple(action.choices)
            elif not re.fullmatch(r"[A-Z][A-Z0-9_=,.]*", value):  # not a metavar: a default shown in the help
                assert f"default: {value}" in (action.help or ""), f"{option}: help {action.help!r}"


# --- error examples --------------------------------------------------------------------------------------

def _setting(key: str, value):
    def mutate(raw: dict) -> None:
        *path, last = key.split(".")
        for part in path:
            raw = raw[part]
        raw[last] = value
    return mutate


ERROR_INPUTS = [
    # (start of the README line after "cd7sim: error: ", command and options, mutation of scenarios/base.yaml)
    ("case_mix.primary_refractory: got 1.3;", ["run"], _setting("case_mix.primary_refractory", 1.3)),
    ("strategies[4]: got 'cart_twice';", ["run"], lambda raw: raw["strategies"].append("cart_twice")),
    ("capacity.icu_beds: got 0;", ["run"], _setting("capacity.icu_beds", 0)),
    ("--set: got 'capacity.mri_scanners';", ["sweep", "--set", "capacity.mri_scanners=1,2"], None),
]


@pytest.mark.parametrize("line", error_lines())
def test_error_example_is_printed_word_for_word(line, tmp_path, capsys):
    """The input known to produce the README's error line prints exactly that line (`...` stands for
    left-out text), exits 2 and writes nothing."""
    message = line.removeprefix("cd7sim: error: ")
    known = [entry for entry in ERROR_INPUTS if message.startswith(entry[0])]
    assert known, f"no input known to produce the README's {line!r}: add one to ERROR_INPUTS"
    ((_, arguments, mutate),) = known
    raw = yaml.safe_load((REPO / "scenarios" / "base.yaml").read_text(encoding="utf-8"))
    if mutate is not None:
        mutate(raw)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    status = main([arguments[0], str(scenario), *arguments[1:], "--out", str(out)])
    printed = capsys.readouterr().err.splitlines()
    assert status == 2
    assert len(printed) == 1, printed
    expected = ".*".join(re.escape(part) for part in line.split(GAP))
    assert re.fullmatch(expected, printed[0]), f"README: {line}\nprinted: {printed[0]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]


# --- yaml blocks -----------------------------------------------------------------------------------------

def test_full_scenario_example_runs_as_written(tmp_path, monkeypatch):
    """The "Scenario files" example loads and runs as written (200 patients), into results/<name>/, with its
    name in the scenario column and its strategies."""
    (text,) = [s for s in yaml_snippets() if "name" in yaml.safe_load(s)]
    snippet = yaml.safe_load(text)
    (tmp_path / "scenario.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "scenario.yaml", "--patients", "200"]) == 0
    summary = pd.read_csv(tmp_path / "results" / snippet["name"] / "summary.csv")
    assert summary.scenario.unique().tolist() == [snippet["name"]]
    assert summary.strategy.unique().tolist() == snippet["strategies"]


def _snippet_param(text: str):
    return pytest.param(text, id="+".join(yaml.safe_load(text)))


@pytest.mark.parametrize("text", [_snippet_param(s) for s in yaml_snippets() if "name" not in yaml.safe_load(s)])
def test_partial_snippet_runs_in_the_base_scenario(text, tmp_path):
    """A snippet replaces its keys in scenarios/base.yaml (arrivals replace patients; a profile CSV it names
    is created beside it with weight 1 each month), loads as written and runs: the strategies it lists, the
    fields it gives them, the capacity it sets, no patient referred in the warm-up."""
    snippet = yaml.safe_load(text)
    raw = yaml.safe_load((REPO / "scenarios" / "base.yaml").read_text(encoding="utf-8"))
    raw.update(snippet)
    arrivals = snippet.get("arrivals")
    if arrivals is not None:
        raw.pop("patients")
        if isinstance(arrivals.get("monthly_profile"), str):
            rows = "".join(f"{month},1\n" for month in range(1, 13))
            (tmp_path / arrivals["monthly_profile"]).write_text("month,weight\n" + rows, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(path)  # as written
    out = tmp_path / "out"
    size = ["--patients", "300"] if arrivals is None else []
    assert main(["run", str(path), "--replications", "1", *size, "--out", str(out)]) == 0
    if "strategies" in snippet:
        names = [s if isinstance(s, str) else s["name"] for s in snippet["strategies"]]
        summary = pd.read_csv(out / "summary.csv")
        assert summary.strategy.unique().tolist() == names
        loaded = {s.name: s for s in scenario.strategies}
        for entry in (s for s in snippet["strategies"] if isinstance(s, dict)):
            for field, value in entry.items():
                if field not in ("name", "base"):
                    assert getattr(loaded[entry["name"]], field) == value, (entry["name"], field)
    if "capacity" in snippet:
        resources = pd.read_csv(out / "resources.csv", dtype={"capacity": str})
        for resource, field in CAPACITY_FIELDS.items():
            if snippet["capacity"].get(field) is not None:
                shown = resources.capacity[resources.resource == resource].unique().tolist()
                assert shown and [c.split()[0] for c in shown] == [f"{snippet['capacity'][field]:g}"], (resource, shown)
    if arrivals is not None:
        patients = pd.read_parquet(out / "patients.parquet", columns=["enrol_day"])
        assert len(patients) > 0 and patients.enrol_day.min() >= arrivals["warm_up_days"]
