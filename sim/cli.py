"""The ``cd7sim`` command: parses arguments, calls the library, prints. Nothing else."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

from sim import __version__
from sim.calibration import (
    DEFAULT_POSTERIOR_DRAWS,
    DEFAULT_PRIOR_DRAWS,
    DEFAULT_STAGE_DRAWS,
    DEFAULT_STAGES,
    LOO_POSTERIOR_DRAWS,
    LOO_PRIOR_DRAWS,
    LOO_STAGE_DRAWS,
    LOO_STAGES,
)
from sim.inputs.codes import COMPARED_OUTCOMES, SUBGROUPS
from sim.inputs.errors import InputError
from sim.simulation.allocator import tune_memory

RESULTS_DIR = Path("results")
"""Where outputs go by default, relative to the current folder."""
REPORT_BUG = "please report it with the command and run.json"
EVERY_CORE = "default: every core"
RESEND_SECONDS = 0.02
"""How long after an interruption was swallowed (in a finaliser) the signal is sent again, s."""
COMMITTED_POSTERIOR = "calibration/posterior.parquet, the committed posterior"


class _Terminated(BaseException):
    """SIGTERM: stop like Ctrl-C, so that staging folders are removed on the way out.

    A ``BaseException`` like ``KeyboardInterrupt``, so that no library's ``except Exception`` swallows it.
    """


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, except for flags and options without one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with status 2; help shows defaults."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError("command line", " ".join(sys.argv[1:]), message)


def _positive_int(field: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise InputError(field, text, "a whole number of at least 1 is required") from None
        if value < 1:
            raise InputError(field, value, "a whole number of at least 1 is required")
        return value
    return parse


def _folder(field: str):
    def parse(text: str) -> Path:
        if not text.strip():
            raise InputError(field, text, "a folder path is required")
        return Path(text)
    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError("--seed", text, "a whole number of at least 0 is required") from None
    if value < 0:
        raise InputError("--seed", value, "a whole number of at least 0 is required")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (DESIGN.md section 7)."""
    parser = _Parser(prog="cd7sim", description="Simulate the CD7 CAR-T and transplant pathway and compare strategies.")
    parser.add_argument("--version", action="version", version=f"cd7sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="simulate every strategy of a scenario and write the results")
    _what_to_simulate(run, "regional_centre")
    run.add_argument("--out", type=_folder("--out"), help=f"output folder: new, empty or written by cd7sim, replaced whole "
                     f"(default: {RESULTS_DIR}/<scenario name>)")
    run.add_argument("--workers", type=_positive_int("--workers"), help=f"local processes for replications, 1 = serial ({EVERY_CORE})")
    run.add_argument("--scheduler", metavar="ADDRESS", help="run replications on this Dask scheduler (pip install 'cd7sim[dask]')")
    run.add_argument("--cost-setting", metavar="SETTING", help="cost setting of the economic evaluation: us_payer or "
                     "china_payer (calibration/values.yaml; default: the scenario's economics.cost_setting, us_payer)")
    run.add_argument("--by", choices=SUBGROUPS, help="also print the headline endpoints by this subgroup, with 95%% intervals "
                     "and the patients per level")
    sweep = commands.add_parser("sweep", help="run a scenario over a grid of capacities (common random numbers)")
    sweep.add_argument("scenario", help="scenario YAML file, or a built-in name")
    sweep.add_argument("--set", dest="settings", action="append", required=True, metavar="KEY=V1,V2,...",
                       help="a setting and its values, e.g. capacity.manufacturing_slots=2,3,4,5 (none = unlimited); repeat for a grid")
    sweep.add_argument("--replications", type=_positive_int("--replications"),
                       help="replications per combination (default: from the scenario)")
    sweep.add_argument("--seed", type=_seed, help="run seed (default: from the scenario)")
    sweep.add_argument("--out", type=_folder("--out"), help=f"output folder: new, empty or written by cd7sim, replaced whole "
                       f"(default: {RESULTS_DIR}/<scenario name>-sweep)")
    sweep.add_argument("--workers", type=_positive_int("--workers"), help=f"local processes for replications ({EVERY_CORE})")
    calibrate = commands.add_parser("calibrate", help="calibrate the parameters to the CD7 CAR-T studies")
    calibrate.add_argument("--prior-draws", type=_positive_int("--prior-draws"), default=DEFAULT_PRIOR_DRAWS,
                           help="Latin-hypercube prior draws")
    calibrate.add_argument("--stages", type=_positive_int("--stages"), default=DEFAULT_STAGES, help="adaptive importance-sampling stages")
    calibrate.add_argument("--stage-draws", type=_positive_int("--stage-draws"), default=DEFAULT_STAGE_DRAWS, help="draws per stage")
    calibrate.add_argument("--posterior-draws", type=_positive_int("--posterior-draws"), default=DEFAULT_POSTERIOR_DRAWS,
                           help="posterior draws to keep")
    calibrate.add_argument("--seed", type=_seed, default=2024, help="seed")
    calibrate.add_argument("--workers", type=_positive_int("--workers"), help=f"local processes ({EVERY_CORE})")
    _output_arguments(calibrate, "calibration", "posterior.parquet, fit.csv, identifiability.csv and fit.png",
                      "the committed posterior that `parameter_source: posterior` reads")
    validate = commands.add_parser("validate", help="posterior predictive check of every target at its study's own size")
    validate.add_argument("--draws", type=_positive_int("--draws"), default=200, help="posterior draws to replay")
    validate.add_argument("--posterior", type=Path, help=f"posterior draws (default: {COMMITTED_POSTERIOR})")
    validate.add_argument("--studies", type=_folder("--studies"), metavar="DIR",
                          help="folder of your own study scenario files NAME.yaml (default: the shipped scenarios/studies)")
    validate.add_argument("--targets", type=Path, metavar="FILE",
                          help="your own targets CSV, columns of calibration/targets.csv (default: the shipped targets)")
    validate.add_argument("--leave-one-out", action="store_true",
                          help="for each study, calibrate on the others and predict it (writes leave_one_out.csv)")
    for option, default, what in (("--prior-draws", LOO_PRIOR_DRAWS, "Latin-hypercube prior draws"),
                                  ("--stages", LOO_STAGES, "adaptive importance-sampling stages"),
                                  ("--stage-draws", LOO_STAGE_DRAWS, "draws per stage"),
                                  ("--posterior-draws", LOO_POSTERIOR_DRAWS, "posterior draws to keep")):
        validate.add_argument(option, type=_positive_int(option), default=default, action=_Given,
                              help=f"with --leave-one-out: {what} of each held-out study's calibration")
    validate.add_argument("--seed", type=_seed, default=2024, action=_Given, help="with --leave-one-out: calibration seed")
    validate.add_argument("--workers", type=_positive_int("--workers"), help=f"local processes ({EVERY_CORE})")
    _output_arguments(validate, "validation", "validation.csv (with --leave-one-out: leave_one_out.csv and "
                      "leave_one_out_studies.csv)", "the committed validation table",
                      f"; with --leave-one-out: {RESULTS_DIR}/{LEAVE_ONE_OUT_DIR}")
    _check_parser(commands)
    _cea_parser(commands)
    _psa_parser(commands)
    _dsa_parser(commands)
    _gsa_parser(commands)
    _report_parser(commands)
    _app_parser(commands)
    bench = commands.add_parser("bench", help="measure the speed and memory of both engines")
    bench.add_argument("--quick", action="store_true", help="smaller run (under a minute); the PSA workload is scaled")
    bench.add_argument("--json", type=Path, metavar="FILE",
                       help="also write the results as JSON (a new file, or one cd7sim bench wrote)")
    return parser



def _what_to_simulate(parser: argparse.ArgumentParser, examples: str) -> None:
    """The scenario and the options that choose what is simulated (``run`` and ``check``)."""
    parser.add_argument("scenario", help=f"scenario YAML file, or a built-in name (base, {examples}, ...)")
    parser.add_argument("--patients", type=_positive_int("--patients"),
                        help="patients per strategy and replication, closed cohort (default: from the scenario)")
    parser.add_argument("--replications", type=_positive_int("--replications"), help="number of replications (default: from the scenario)")
    parser.add_argument("--seed", type=_seed, help="run seed (default: from the scenario)")
    parser.add_argument("--engine", choices=("des", "cohort"), default="des", help="SimPy (des) or vectorised (cohort)")


def _check_parser(commands) -> None:
    """``cd7sim check``: the options of ``run`` that choose what is simulated; nothing is written."""
    check = commands.add_parser("check", help="simulate a scenario in memory and check every course is clinically plausible",
                                description="Simulate a scenario in memory (nothing is written) and read its patients table and "
                                            "event log as a reviewing haematologist would. Exit status 0 when every impossible "
                                            "rule has no violation and every implausible share is within its bound, 1 otherwise.")
    _what_to_simulate(check, "regional_centre, hu2024")
    check.add_argument("--workers", type=_positive_int("--workers"), help=f"local processes for replications, 1 = serial ({EVERY_CORE})")


class _Given(argparse.Action):
    """Stores an option's value and records that it was given (to refuse it where it does not apply)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = {**getattr(namespace, "given", {}), str(option_string): values}


LEAVE_ONE_OUT_DIR = "leave_one_out"
"""Default folder (under ``results/``) of ``cd7sim validate --leave-one-out``: apart from ``validation``, since a
folder is replaced whole."""


def _output_arguments(parser: argparse.ArgumentParser, name: str, files: str, committed: str, other: str = "") -> None:
    """``--out DIR`` and ``--write-committed``, one or the other, for a command that writes ``files``."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=_folder("--out"), help=f"folder for {files}: new, empty or written by cd7sim, "
                       f"replaced whole (default: {RESULTS_DIR}/{name}{other})")
    where.add_argument("--write-committed", action="store_true",
                       help=f"write {files} into the package's calibration/ folder instead, replacing {committed}")


def _out_dir(args: argparse.Namespace, default: Path) -> Path:
    """The output folder the user asked for, or ``default``."""
    return default if args.out is None else args.out


def bench_command(args: argparse.Namespace) -> int:
    """``cd7sim bench``: run the benchmark, print the table, optionally write JSON."""
    from sim.simulation.bench import (
        check_bench_json,
        format_report,
        run_benchmark,
        write_json,
    )

    if args.json:
        check_bench_json(args.json)
    print(f"cd7sim {__version__} benchmark ({'quick' if args.quick else 'full'}), base scenario, 4 strategies")
    result = run_benchmark(quick=args.quick)
    print()
    print(format_report(result))
    if args.json:
        write_json(result, args.json)
        _wrote(str(args.json))
    else:
        _wrote(None)
    return 0


def _progress_bar(total: int, what: str, unit: str = "block"):
    from tqdm import tqdm

    _say_if_compiling()
    return tqdm(total=total, desc=what, unit=unit, file=sys.stderr, mininterval=1.0)


def _say_if_compiling() -> None:
    """Before the first simulation of a checkout or installation, say on stderr that the clinical logic is being
    compiled (the pause that follows is not a hang)."""
    from sim import api

    if not api.compiled_logic_cached():
        print("cd7sim: first run here: compiling the clinical logic (about ten seconds, once; later runs load it)",
              file=sys.stderr, flush=True)


def calibrate_command(args: argparse.Namespace) -> int:
    """``cd7sim calibrate``: adaptive importance sampling against every target; writes the posterior and the fit."""
    from sim.calibration.calibrate import calibrate, calibration_blocks, check_budget
    from sim.calibration.studies import load_studies, load_targets
    from sim.inputs.parameters import load_parameters
    from sim.inputs.posterior import Stamp
    from sim.report.calibration_files import calibration_writers

    check_budget(args.prior_draws, args.stages, args.stage_draws, args.posterior_draws)
    stamp = Stamp.of()
    targets = load_targets()
    studies = load_studies(sorted({t.study for t in targets}))
    params = load_parameters()
    out = _check_out(args, "calibration")
    blocks = calibration_blocks(args.prior_draws, args.stages, args.stage_draws)
    print(f"cd7sim {__version__}: calibrating to {len(targets)} targets of {len(studies)} study replays "
          f"({args.prior_draws} prior draws + {args.stages} x {args.stage_draws} adaptive), seed {args.seed}")
    with _progress_bar(blocks, "simulating") as bar:
        result = calibrate(params, studies, targets, args.prior_draws, args.stages, args.stage_draws,
                           args.posterior_draws, args.seed, _executor(args), bar.update)
    written = _write_outputs(out, calibration_writers(result, stamp), "calibrate")
    fit = result.fit_frame()
    informed = result.identifiability_frame()
    print(f"\n{len(result.log_likelihood)} draws in {result.seconds:.0f} s; effective sample size "
          f"{result.effective_sample_size:.0f}; {len(set(result.posterior_index.tolist()))} distinct of "
          f"{len(result.posterior_index)} posterior draws")
    print(f"{int(informed.informed.sum())} of {len(informed)} parameters informed by the targets "
          "(posterior sd < 0.8 x prior sd); the rest stay near their priors")
    print(_icc_line(result.icc_summary()))
    inside = ((fit.posterior_lower <= fit.reported) & (fit.reported <= fit.posterior_upper)).sum()
    print(f"{inside} of {len(fit)} reported values inside the posterior 95% interval of the model's expected value "
          "(run `cd7sim validate` for the check at each study's own size)")
    _wrote(written)
    return 0


def _icc_line(summary: tuple[float, float, float] | None) -> str:
    """The between-study intra-class correlation, posterior beside prior."""
    from sim.calibration.heterogeneity import ICC_PRIOR

    low, high = ICC_PRIOR.interval()
    prior = f"prior {ICC_PRIOR.mean():.3f} ({low:.3f}–{high:.3f})"
    if summary is None:
        return f"between-study intra-class correlation: {prior}"
    mean, low, high = summary
    return f"between-study intra-class correlation: posterior mean {mean:.3f} (95% {low:.3f}–{high:.3f}), {prior}"


BUDGET_OPTIONS = ("--prior-draws", "--stages", "--stage-draws", "--posterior-draws", "--seed")


def _check_validate_options(args: argparse.Namespace) -> None:
    """Refuse options that do not go together (before any input is read)."""
    given = getattr(args, "given", {})
    if args.leave_one_out:
        if args.posterior is not None:
            raise InputError("--posterior", str(args.posterior), "not allowed with --leave-one-out, which calibrates a "
                             "posterior for each held-out study")
        return
    for option in BUDGET_OPTIONS:
        if option in given:
            raise InputError(option, given[option], "only allowed with --leave-one-out (the budget of each held-out "
                             "study's calibration)")
    if args.write_committed and (args.studies is not None or args.targets is not None):
        raise InputError("--write-committed", True, "not allowed with --studies or --targets: the committed validation "
                         "is that of the shipped studies (use --out DIR)")


def validate_command(args: argparse.Namespace) -> int:
    """``cd7sim validate``: each study replayed as a new cohort at its own size under posterior draws; or, with
    ``--leave-one-out``, each study predicted by a calibration without it."""
    from sim import api
    from sim.calibration.predictive import VALIDATION_FILE, format_validation, predictive_blocks

    _check_validate_options(args)
    if args.leave_one_out:
        return _leave_one_out_command(args)
    out = _check_out(args, "validation")
    studies, targets = api.load_validation_cohort(args.studies, args.targets)
    posterior = api.read_validation_posterior(args.posterior)
    source = str(args.posterior) if args.posterior is not None else "calibration/posterior.parquet"
    print(f"cd7sim {__version__}: validating {len(targets)} targets of {len(studies)} study replay(s)"
          f"{_cohort_source(args)} under {min(args.draws, len(posterior))} posterior draws of {source}")
    with _progress_bar(predictive_blocks(args.draws, len(posterior)), "replaying") as bar:
        table = api.validate(args.draws, posterior, args.workers, bar.update, args.studies, args.targets)
    print(format_validation(table))

    def write_table(target: Path) -> None:
        table.to_csv(target, index=False, float_format="%.6g")

    _wrote(_write_outputs(out, {VALIDATION_FILE: write_table}, "validate"))
    return 0


def _cohort_source(args: argparse.Namespace) -> str:
    """Where the studies and targets come from, when not the shipped ones."""
    own = [str(path) for path in (args.studies, args.targets) if path is not None]
    return f" ({', '.join(own)})" if own else ""


def _leave_one_out_command(args: argparse.Namespace) -> int:
    """``cd7sim validate --leave-one-out``."""
    from sim import api
    from sim.calibration.leave_one_out import (
        LEAVE_ONE_OUT_FILE,
        LEAVE_ONE_OUT_STUDIES_FILE,
        folds,
        format_leave_one_out,
        progress_blocks,
    )

    out = _check_out(args, LEAVE_ONE_OUT_DIR)
    studies, targets = api.load_validation_cohort(args.studies, args.targets)
    budget = api.leave_one_out_budget(args.prior_draws, args.stages, args.stage_draws, args.posterior_draws, args.seed)
    held_out = folds(targets)
    print(f"cd7sim {__version__}: leave-one-study-out validation of {len(targets)} targets of {len(studies)} study "
          f"replay(s){_cohort_source(args)}, {len(held_out)} held-out studies; each calibrated on the others "
          f"({budget.describe()}), then {min(args.draws, budget.posterior_draws)} posterior draws replayed")
    with _progress_bar(progress_blocks(targets, budget, args.draws), "calibrating and replaying") as bar:
        result = api.leave_one_out(args.draws, prior_draws=budget.prior_draws, stages=budget.stages,
                                   stage_draws=budget.stage_draws, posterior_draws=budget.posterior_draws, seed=budget.seed,
                                   studies=args.studies, targets=args.targets, workers=args.workers, on_done=bar.update)
    print(format_leave_one_out(result))

    def write_targets(target: Path) -> None:
        result.table.to_csv(target, index=False, float_format="%.6g")

    def write_studies(target: Path) -> None:
        result.studies.to_csv(target, index=False, float_format="%.6g")

    _wrote(_write_outputs(out, {LEAVE_ONE_OUT_FILE: write_targets, LEAVE_ONE_OUT_STUDIES_FILE: write_studies}, "validate"))
    return 0


def _executor(args: argparse.Namespace):
    from sim.simulation.parallel import make_executor

    return make_executor(args.workers, getattr(args, "scheduler", None))


def _check_out(args: argparse.Namespace, name: str) -> Path | None:
    """The output folder of calibrate or validate, checked before any work; None for ``--write-committed``."""
    from sim.inputs.paths import SOURCE_TREE
    from sim.io.files import check_output_folder

    if args.write_committed:
        if not SOURCE_TREE:
            raise InputError("--write-committed", True, "only a source checkout has a committed calibration to "
                             "rewrite (this cd7sim is an installed wheel); use --out DIR")
        return None
    return check_output_folder(_out_dir(args, RESULTS_DIR / name))


def _write_outputs(out: Path | None, writers: dict, command: str) -> list[str]:
    """Write each file of ``writers`` (name → function of a path): into the folder ``out`` as a whole,
    or, when ``out`` is None, each file atomically into the package's committed calibration folder."""
    from sim.inputs.paths import CALIBRATION_DIR
    from sim.io.files import atomic_path, write_folder

    if out is None:
        for name, write in writers.items():
            with atomic_path(CALIBRATION_DIR / name) as temporary:
                write(temporary)
        return [str(CALIBRATION_DIR / name) for name in writers]

    def write_all(folder: Path) -> None:
        for name, write in writers.items():
            write(folder / name)

    folder = write_folder(out, write_all, command)
    return [f"{folder}/: " + ", ".join(writers)]


def _load_for_run(args: argparse.Namespace):
    """The scenario (a file or a built-in name) with the command line's overrides; refused when the run
    would not fit in memory (see :func:`sim.api.load`)."""
    from sim import api

    return api.load(args.scenario, patients=getattr(args, "patients", None), replications=args.replications,
                    seed=args.seed, engine=getattr(args, "engine", "des"), cost_setting=getattr(args, "cost_setting", None))


def _cohort_text(scenario) -> str:
    if scenario.arrivals is None:
        return f"{scenario.patients} patients"
    a = scenario.arrivals
    return (f"{a.rate_per_year:g} referrals/year over {a.run_length_days:g} days after {a.warm_up_days:g} days of warm-up")


def _warn(messages: list[str]) -> None:
    for message in messages:
        print(f"cd7sim: warning: {message}", file=sys.stderr)


def run_command(args: argparse.Namespace) -> int:
    """``cd7sim run``: simulate, write the files, print the headline table (and the table by subgroup)."""
    from sim import api
    from sim.io.files import check_output_folder

    scenario = _load_for_run(args)
    protected = [api.scenario_file(args.scenario)]
    out = check_output_folder(_out_dir(args, RESULTS_DIR / scenario.name), protected=protected)
    print(f"cd7sim {__version__}: scenario '{scenario.name}', {len(scenario.strategies)} strategies, "
          f"{_cohort_text(scenario)} x {scenario.replications} replication(s), engine {args.engine}, seed {scenario.seed}")
    _say_if_compiling()
    run = api.run(scenario, engine=args.engine, workers=args.workers, scheduler=args.scheduler)
    out_dir = run.save(out, protected)
    print()
    print(run.headline())
    if args.by is not None:
        print()
        print(run.subgroup_table(args.by))
    _warn(run.warnings())
    print()
    print(f"Simulated in {run.wall_seconds:.1f} s.")
    _wrote([f"{out_dir}/: {', '.join(run.files())}"])
    print(f"Report: {_report_line(out_dir)}")
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    """``cd7sim sweep``: the scenario over a grid of settings; table, CSV and figure."""
    from sim import api
    from sim.capacity.sweep import parse_setting, run_sweep, sweep_grid
    from sim.economics.value_models import summarise_values
    from sim.io.files import check_output_folder, write_folder
    from sim.report.plots import plot_sweep, save_png
    from sim.report.text import format_sweep

    scenario = _load_for_run(args)
    grid = sweep_grid(scenario, [parse_setting(text) for text in args.settings])
    protected = [api.scenario_file(args.scenario)]
    out = check_output_folder(_out_dir(args, RESULTS_DIR / f"{scenario.name}-sweep"), protected=protected)
    keys = grid.keys
    print(f"cd7sim {__version__}: sweeping scenario '{scenario.name}' over {len(grid.combinations)} combinations of "
          f"{', '.join(keys)}; {_cohort_text(scenario)} x {scenario.replications} replication(s), seed {scenario.seed} "
          "(the same referrals and patients in every combination)")
    values = scenario.economics.value_set()
    currency = values.currency(scenario.economics.cost_setting)
    with _progress_bar(len(grid.combinations), "sweeping", "combination") as bar:
        sweep = run_sweep(grid, scenario.parameter_set(), _executor(args), bar.update, api.value_model(scenario, values), summarise_values)

    def write(folder: Path) -> None:
        sweep.to_csv(folder / "sweep.csv", index=False, float_format="%.6g")
        save_png(plot_sweep(sweep, keys, currency), folder / "sweep.png")

    out_dir = write_folder(out, write, "sweep", protected)
    print()
    print(format_sweep(sweep, keys, currency))
    print()
    _wrote([f"{out_dir}/: sweep.csv, sweep.png"])
    return 0


CHECK_PROGRESS_DELAY_SECONDS = 2.0
"""``cd7sim check`` shows a progress bar only when it has taken longer than this."""


def check_command(args: argparse.Namespace) -> int:
    """``cd7sim check``: simulate in memory, print the plausibility table; exit 1 when a rule fails."""
    from tqdm import tqdm

    from sim import api
    from sim.outcomes.plausibility import RULES
    from sim.report.plausibility import format_check

    scenario = _load_for_run(args)
    print(f"cd7sim {__version__}: checking scenario '{scenario.name}', {len(scenario.strategies)} strategies, "
          f"{_cohort_text(scenario)} x {scenario.replications} replication(s), engine {args.engine}, seed {scenario.seed}")
    _say_if_compiling()
    with tqdm(total=scenario.replications + len(RULES), desc="simulating and checking", unit="step", file=sys.stderr,
              delay=CHECK_PROGRESS_DELAY_SECONDS, leave=False) as bar:
        run = api.run(scenario, engine=args.engine, workers=args.workers, on_done=bar.update, economics=False)
        report = run.check(on_rule=bar.update)
    print()
    print(format_check(report))
    print()
    print(f"Simulated in {run.wall_seconds:.1f} s.")
    _wrote(None)
    return 0 if report.passed else 1


# --- cd7sim cea: the decision analysis of a PSA folder ------------------------------------------------------

def _wtp_values(text: str) -> list[float]:
    """``--wtp V,...``: distinct finite numbers >= 0."""
    values: list[float] = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise InputError("--wtp", text, "numbers >= 0 separated by commas are required (currency per QALY)") from None
        if not (value >= 0 and value != float("inf")) or value in values:
            raise InputError("--wtp", text, "distinct finite numbers >= 0 separated by commas are required (currency per QALY)")
        values.append(value)
    return values


def _parameter_group(text: str) -> tuple[str, ...]:
    """``--evppi P[,P...]``: parameter names."""
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise InputError("--evppi", text, "parameter names separated by commas are required")
    return names


def _population(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise InputError("--population", text, "a number of people > 0 is required")
    return value


def _cea_parser(commands) -> None:
    """``cd7sim cea DIR``: the options of the decision analysis of a PSA folder."""
    cea = commands.add_parser("cea", help="decision analysis of a PSA folder: ICERs, acceptability, EVPI and EVPPI",
                              description="Read a PSA folder (psa.parquet: draw, strategy, cost, qalys, ...; parameters.parquet: "
                                          "draw and one column per parameter), from cd7sim or any other model, and write the "
                                          "incremental table, acceptability curves and frontier, EVPI, EVPPI and their figures.")
    cea.add_argument("folder", type=_folder("DIR"), metavar="DIR", help="the PSA folder")
    cea.add_argument("--wtp", type=_wtp_values, metavar="V,...",
                     help="willingness-to-pay values for evppi.csv and the nmb columns of icers.csv, currency per QALY "
                          "(default: the ICERs along the frontier)")
    cea.add_argument("--evppi", type=_parameter_group, action="append", metavar="P[,P...]",
                     help="a group of parameters whose EVPPI to estimate; repeat for more groups (default: each parameter alone)")
    cea.add_argument("--population", type=_population, metavar="N",
                     help="people the decision affects, for the population EVPI and EVPPI")
    cea.add_argument("--currency", default="currency units", help="the unit of costs, for labels (e.g. USD)")
    cea.add_argument("--out", type=_folder("--out"), help=f"output folder: new, empty or written by cd7sim, replaced whole "
                     f"(default: {RESULTS_DIR}/<DIR name>-cea)")


def cea_command(args: argparse.Namespace) -> int:
    """``cd7sim cea``: read and check the PSA folder, analyse it, print the summary, write the files."""
    from sim.io.files import check_output_folder, write_folder
    from sim.report.decision_files import decision_writers, format_decision
    from sim.uncertainty.decision import analyse
    from sim.uncertainty.psa_folder import check_groups, read_psa_folder

    psa = read_psa_folder(args.folder)
    groups = check_groups(args.evppi, psa)
    out = check_output_folder(_out_dir(args, RESULTS_DIR / f"{args.folder.resolve().name}-cea"), protected=[args.folder])
    print(f"cd7sim {__version__}: decision analysis of {args.folder}: {psa.draws.size:,} draws x {len(psa.strategies)} "
          f"strategies, {psa.parameters.shape[1]} parameters; EVPPI of {len(groups)} group(s) by regression")
    analysis = analyse(psa, args.wtp, groups, args.population)
    writers = decision_writers(analysis, args.currency)

    def write(folder: Path) -> None:
        for name, write_file in writers.items():
            write_file(folder / name)

    out_dir = write_folder(out, write, "cea", [args.folder])
    print()
    print(format_decision(analysis, args.currency))
    _warn([f"EVPPI of {parameters} at {float(wtp):g}: {warning}" for parameters, wtp, warning
           in zip(analysis.evppi["parameters"], analysis.evppi["wtp"], analysis.evppi["fit_warning"]) if warning])
    print()
    _wrote([f"{out_dir}/: {', '.join(writers)}"])
    return 0


# --- cd7sim psa: probabilistic sensitivity analysis of a scenario ------------------------------------------

PSA_DRAWS = 1000
"""Default number of PSA draws."""


def _vary(text: str) -> tuple[str, list[object]]:
    """``--vary FIELD=V1,V2,...``: a strategy field and its values (each read as YAML: numbers or words)."""
    from sim.inputs.validation import load_yaml

    field, sep, values = text.partition("=")
    if not sep or not field.strip() or not values.strip():
        raise InputError("--vary", text, "FIELD=V1,V2,... is required, for example hsct_interval_days=25,40,60,90")
    return field.strip(), [load_yaml(value) for value in values.split(",")]


def _analysis_options(parser: argparse.ArgumentParser, suffix: str) -> None:
    """The options psa, dsa and gsa share: the cohort's size and seed, the cost setting, the output folder, workers."""
    parser.add_argument("--patients", type=_positive_int("--patients"), help="patients (default: from the scenario)")
    parser.add_argument("--seed", type=_seed, help="seed of the patients and the design (default: from the scenario)")
    parser.add_argument("--cost-setting", metavar="SETTING", help="us_payer or china_payer (default: the scenario's)")
    parser.add_argument("--out", type=_folder("--out"), help=f"output folder: new, empty or written by cd7sim, replaced whole "
                        f"(default: {RESULTS_DIR}/<scenario name>-{suffix})")
    parser.add_argument("--workers", type=_positive_int("--workers"), help=f"local processes ({EVERY_CORE})")


def _one_wtp(args: argparse.Namespace, scenario, values) -> float:
    """``--wtp V`` of dsa and gsa: one value, or the scenario's lowest threshold."""
    if args.wtp is None:
        return scenario.economics.thresholds(values)[0]
    if len(args.wtp) != 1:
        raise InputError("--wtp", ",".join(f"{v:g}" for v in args.wtp), "one willingness to pay is required")
    return args.wtp[0]


def _psa_parser(commands) -> None:
    """``cd7sim psa SCENARIO``: the options of a probabilistic sensitivity analysis."""
    psa = commands.add_parser("psa", help="probabilistic sensitivity analysis: costs, QALYs and outcomes over input draws, "
                                          "then the decision analysis", description=(
                                  "Draw the inputs (a joint posterior draw for the calibrated parameters, priors for the rest and "
                                  "for costs and utilities) and simulate the same patients under every strategy for each draw; "
                                  "write the PSA folder and its decision analysis (as cd7sim cea)."))
    psa.add_argument("scenario", help="scenario YAML file (a closed cohort), or a built-in name (base, ...)")
    psa.add_argument("--draws", type=_positive_int("--draws"), default=PSA_DRAWS, help="input draws")
    _analysis_options(psa, "psa")
    psa.add_argument("--vary", type=_vary, metavar="FIELD=V1,V2,...",
                     help="compare variants of one strategy instead of the scenario's strategies, e.g. "
                          "hsct_interval_days=25,40,60,90 (the decision of when to transplant)")
    psa.add_argument("--strategy", metavar="NAME", help="with --vary: the strategy to vary (default: the scenario's first)")
    psa.add_argument("--wtp", type=_wtp_values, metavar="V,...",
                     help="willingness-to-pay values for the EVPPI and the summary (default: the scenario's thresholds)")
    psa.add_argument("--population", type=_population, metavar="N", help="people the decision affects (population EVPI)")
    psa.add_argument("--resume", action="store_true", help="continue an interrupted PSA with the same settings")
    psa.add_argument("--scheduler", metavar="ADDRESS", help="run blocks of draws on this Dask scheduler")


def _psa_scenario(args: argparse.Namespace):
    """The scenario of ``cd7sim psa``, with its sizes, cost setting and strategy variants."""
    from sim import api
    from sim.inputs.strategies import strategy_variants

    scenario = api.load(args.scenario, patients=args.patients, seed=args.seed, engine="cohort", cost_setting=args.cost_setting)
    vary, strategy = getattr(args, "vary", None), getattr(args, "strategy", None)
    if strategy is not None and vary is None:
        raise InputError("--strategy", strategy, "only with --vary")
    if vary is None:
        return scenario
    names = [s.name for s in scenario.strategies]
    name = strategy if strategy is not None else names[0]
    if name not in names:
        raise InputError("--strategy", name, f"one of the scenario's strategies is required: {', '.join(names)}")
    field, values = vary
    return api.validated(scenario, {"strategies": strategy_variants(scenario.strategies[names.index(name)], field, values)})


def psa_command(args: argparse.Namespace) -> int:
    """``cd7sim psa``: draw, simulate block by block (resumable), analyse, write the PSA folder."""
    from sim import api
    from sim.inputs.parameters import DEFAULT_POSTERIOR_PATH, load_parameters
    from sim.inputs.posterior import Posterior
    from sim.io.files import check_output_folder, write_folder
    from sim.report.decision_files import decision_writers, format_decision
    from sim.uncertainty.decision import PSA, analyse
    from sim.uncertainty.psa import Progress, psa_plan, run_psa

    scenario = _psa_scenario(args)
    posterior = Posterior.read(DEFAULT_POSTERIOR_PATH, load_parameters().registry) if scenario.parameter_source == "posterior" else None
    plan = psa_plan(scenario, args.draws, posterior)
    protected = [api.scenario_file(args.scenario)]
    out = check_output_folder(_out_dir(args, RESULTS_DIR / f"{scenario.name}-psa"), protected=protected)
    currency = plan.values.currency(scenario.economics.cost_setting)
    source = "joint posterior for the calibrated ones" if plan.posterior is not None else "priors"
    print(f"cd7sim {__version__}: PSA of scenario '{scenario.name}', {args.draws:,} draws x {len(scenario.strategies)} strategies x "
          f"{scenario.patients:,} patients (the same patients in every draw), seed {plan.seed}; "
          f"{len(plan.parameter_names)} parameters ({source}) and {len(plan.value_names)} value inputs drawn; "
          f"{scenario.economics.cost_setting}, {currency}")
    progress = Progress(out, plan)
    done = progress.start(args.resume)
    with _progress_bar(args.draws, "PSA", "draw") as bar:
        table, parameters = run_psa(plan, progress, done, _executor(args), bar.update)
    wtps = args.wtp if args.wtp is not None else list(scenario.economics.thresholds(plan.values))
    analysis = analyse(PSA.from_tables(table, parameters), wtps, None, args.population)
    writers = decision_writers(analysis, currency)
    record = {**plan.fingerprint(), "scenario": scenario.model_dump(mode="json"), "currency": currency,
              "parameters": list(plan.parameter_names), "value_inputs": list(plan.value_names)}

    def write(folder: Path) -> None:
        table.to_parquet(folder / "psa.parquet", index=False)
        parameters.to_parquet(folder / "parameters.parquet", index=False)
        (folder / "psa.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        for name, write_file in writers.items():
            write_file(folder / name)

    out_dir = write_folder(out, write, "psa", protected)
    progress.remove()
    print()
    print(format_decision(analysis, currency))
    _warn([f"EVPPI of {names} at {float(wtp):g}: {warning}" for names, wtp, warning
           in zip(analysis.evppi["parameters"], analysis.evppi["wtp"], analysis.evppi["fit_warning"]) if warning])
    print()
    print(f"Analyse it again (other WTP values, parameter groups): cd7sim cea {out_dir}")
    print(f"Report with this PSA (after cd7sim run {args.scenario}): {_report_line(RESULTS_DIR / scenario.name, out_dir)}")
    _wrote([f"{out_dir}/: psa.parquet, parameters.parquet, psa.json, {', '.join(writers)}"])
    return 0


# --- cd7sim dsa: one-way and two-way sensitivity analysis --------------------------------------------------

def _input_names(option: str, count: int | None = None):
    """The parser of an option naming inputs separated by commas: distinct names (exactly ``count`` of them if given)."""
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(","))
        if not all(names) or len(set(names)) != len(names) or (count is not None and len(names) != count):
            raise InputError(option, text, f"{'two' if count == 2 else 'distinct'} input names separated by commas are required")
        return names
    return parse


def _comparison_options(parser: argparse.ArgumentParser) -> None:
    """The outcome dsa and gsa compare, and its willingness to pay."""
    parser.add_argument("--outcome", choices=COMPARED_OUTCOMES, default="nmb", help="the outcome compared")
    parser.add_argument("--wtp", type=_wtp_values, metavar="V",
                        help="willingness to pay for nmb, currency per QALY (default: the scenario's lowest threshold)")


def _dsa_parser(commands) -> None:
    """``cd7sim dsa SCENARIO``: the options of a deterministic sensitivity analysis."""
    dsa = commands.add_parser("dsa", help="one-way (tornado, thresholds) and two-way sensitivity analysis",
                              description="Set each uncertain input in turn to its 2.5% and 97.5% points (posterior where "
                                          "calibrated, prior otherwise), simulate the same patients, and show which inputs "
                                          "move the decision; with --two-way, two inputs over a grid.")
    dsa.add_argument("scenario", help="scenario YAML file (a closed cohort), or a built-in name (base, ...)")
    _comparison_options(dsa)
    dsa.add_argument("--two-way", type=_input_names("--two-way", 2), metavar="A,B",
                     help="also two inputs over a 5 x 5 grid of their ranges")
    _analysis_options(dsa, "dsa")
    dsa.add_argument("--vary", type=_vary, metavar="FIELD=V1,V2,...", help="compare variants of one strategy (see psa)")
    dsa.add_argument("--strategy", metavar="NAME", help="with --vary: the strategy to vary (default: the scenario's first)")


def dsa_command(args: argparse.Namespace) -> int:
    """``cd7sim dsa``: every input at its bounds (and a two-way grid), the tornado, the thresholds."""
    from sim import api
    from sim.inputs.parameters import DEFAULT_POSTERIOR_PATH, load_parameters
    from sim.inputs.posterior import Posterior
    from sim.io.files import check_output_folder, write_folder
    from sim.report.plots import save_png
    from sim.report.sensitivity_plots import plot_tornado, plot_two_way
    from sim.uncertainty.dsa import dsa_inputs, one_way, two_way
    from sim.uncertainty.psa import psa_plan

    scenario = _psa_scenario(args)
    posterior = Posterior.read(DEFAULT_POSTERIOR_PATH, load_parameters().registry) if scenario.parameter_source == "posterior" else None
    plan = psa_plan(scenario, 1, posterior)
    wtp = _one_wtp(args, scenario, plan.values)
    if args.two_way is not None:
        names = [item.name for item in dsa_inputs(plan)]
        for name in args.two_way:
            if name not in names:
                raise InputError("--two-way", name, "an uncertain input is required, e.g. " + ", ".join(names[:5]) + ", ...")
    protected = [api.scenario_file(args.scenario)]
    out = check_output_folder(_out_dir(args, RESULTS_DIR / f"{scenario.name}-dsa"), protected=protected)
    currency = plan.values.currency(scenario.economics.cost_setting)
    inputs = dsa_inputs(plan)
    runs = 1 + 2 * len(inputs) + (25 if args.two_way is not None else 0)
    print(f"cd7sim {__version__}: one-way sensitivity of scenario '{scenario.name}' ({args.outcome}"
          f"{f' at {wtp:,.0f} {currency}/QALY' if args.outcome == 'nmb' else ''}): {len(inputs)} inputs at their 2.5% and 97.5% "
          f"points, {scenario.patients:,} patients x {len(scenario.strategies)} strategies, {runs} runs")
    executor = _executor(args)
    with _progress_bar(runs, "DSA", "run") as bar:
        analysis = one_way(plan, args.outcome, wtp, executor, bar.update)
        grid = two_way(plan, args.two_way, args.outcome, wtp, executor, bar.update) if args.two_way is not None else None
    written = ["dsa.csv", "tornado.csv", "thresholds.csv", "tornado.png"] + (["two_way.csv", "two_way.png"] if grid is not None else [])

    def write(folder: Path) -> None:
        analysis.table.to_csv(folder / "dsa.csv", index=False, float_format="%.8g")
        analysis.tornado.to_csv(folder / "tornado.csv", index=False, float_format="%.8g")
        analysis.thresholds.to_csv(folder / "thresholds.csv", index=False, float_format="%.8g")
        save_png(plot_tornado(analysis, currency), folder / "tornado.png")
        if grid is not None:
            grid.to_csv(folder / "two_way.csv", index=False, float_format="%.8g")
            save_png(plot_two_way(grid, args.outcome), folder / "two_way.png")

    out_dir = write_folder(out, write, "dsa", protected)
    print()
    print(f"Base case: {analysis.best} is best, {analysis.runner_up} next (difference {analysis.base_difference:,.4g}).")
    for row in analysis.tornado.head(5).itertuples(index=False):
        print(f"  {row.input} [{row.evidence}]: {row.low:.4g} -> {row.outcome_low:,.4g}; {row.high:.4g} -> {row.outcome_high:,.4g}")
    if analysis.thresholds.empty:
        print("No input changes the decision within its 2.5%-97.5% range.")
    for row in analysis.thresholds.itertuples(index=False):
        print(f"  threshold: {row.input} = {row.threshold:.4g} ({row.preferred_below} below, {row.preferred_above} above)")
    print()
    _wrote([f"{out_dir}/: {', '.join(written)}"])
    return 0


# --- cd7sim gsa: global sensitivity analysis (Morris, Sobol) -----------------------------------------------

def _gsa_parser(commands) -> None:
    """``cd7sim gsa SCENARIO``: the options of a global sensitivity analysis."""
    gsa = commands.add_parser("gsa", help="global sensitivity analysis: Morris screening or Sobol indices (SALib)",
                              description="Vary every uncertain input over its prior at once (Morris elementary effects, or "
                                          "Sobol first-order and total indices) and explain the base-case best strategy's "
                                          "advantage over the runner-up; the simulation noise of the cohort is measured.")
    gsa.add_argument("scenario", help="scenario YAML file (a closed cohort), or a built-in name (base, ...)")
    gsa.add_argument("--method", choices=("morris", "sobol"), default="morris", help="elementary effects or variance shares")
    gsa.add_argument("--n", type=_positive_int("--n"), help="Morris trajectories (default 10) or Sobol base samples, a power "
                     "of two (default 64)")
    gsa.add_argument("--inputs", type=_input_names("--inputs"), metavar="A,B,...",
                     help="the inputs to vary (default: every uncertain input)")
    _comparison_options(gsa)
    _analysis_options(gsa, "gsa")


def gsa_command(args: argparse.Namespace) -> int:
    """``cd7sim gsa``: the design, the runs, the indices, the noise."""
    import numpy as np

    from sim import api
    from sim.io.files import check_output_folder, write_folder
    from sim.uncertainty import gsa
    from sim.uncertainty.dsa import comparison_of
    from sim.uncertainty.psa import psa_plan

    size = args.n if args.n is not None else (10 if args.method == "morris" else 64)
    if args.method == "sobol" and size & (size - 1):
        raise InputError("--n", size, "a power of two is required for Sobol base samples (e.g. 64, 128)")
    scenario = _psa_scenario(args)
    plan = psa_plan(scenario, 1, None)
    wtp = _one_wtp(args, scenario, plan.values)
    inputs = gsa.chosen_inputs(plan, args.inputs)
    protected = [api.scenario_file(args.scenario)]
    out = check_output_folder(_out_dir(args, RESULTS_DIR / f"{scenario.name}-gsa"), protected=protected)
    currency = plan.values.currency(scenario.economics.cost_setting)
    runs = gsa.evaluations(args.method, size, len(inputs))
    print(f"cd7sim {__version__}: {args.method} analysis of scenario '{scenario.name}' ({args.outcome}"
          f"{f' at {wtp:,.0f} {currency}/QALY' if args.outcome == 'nmb' else ''}): {len(inputs)} inputs over their priors, "
          f"{runs:,} model runs of {scenario.patients:,} patients x {len(scenario.strategies)} strategies, "
          f"plus {gsa.NOISE_REPLICATES} for the simulation noise")
    executor = _executor(args)
    comparison = comparison_of(plan, args.outcome, wtp)
    with _progress_bar((runs + 7) // 8 + gsa.NOISE_REPLICATES, "GSA", "chunk") as bar:
        method = gsa.morris if args.method == "morris" else gsa.sobol
        table, outcomes = method(plan, inputs, comparison, size, plan.seed, executor, bar.update)
        noise = gsa.noise(plan, comparison, executor, bar.update)
    noise_share = float(np.var(noise, ddof=1) / np.var(outcomes, ddof=1)) if np.var(outcomes) > 0 else float("nan")
    record = {"method": args.method, "size": size, "runs": runs, "outcome": args.outcome, "wtp": wtp, "currency": currency,
              "best": comparison.best, "runner_up": comparison.runner_up, "inputs": [item.name for item in inputs],
              "noise_sd": float(np.std(noise, ddof=1)), "outcome_sd": float(np.std(outcomes, ddof=1)), "noise_share": noise_share,
              "priors": "indices of independent inputs over their priors (the posterior's correlations are not used)"}

    def write(folder: Path) -> None:
        table.to_csv(folder / f"{args.method}.csv", index=False, float_format="%.6g")
        (folder / "gsa.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    out_dir = write_folder(out, write, "gsa", protected)
    print()
    print(f"Outcome: {comparison.best} minus {comparison.runner_up}; simulation noise sd {record['noise_sd']:,.4g} against "
          f"sd {record['outcome_sd']:,.4g} over the design (noise share of the variance {noise_share:.1%}).")
    top = table.head(10)
    for row in top.itertuples(index=False):
        if args.method == "morris":
            print(f"  {row.input} [{row.evidence}]: mu* {row.mu_star:,.4g} (± {row.mu_star_conf:,.3g}), sigma {row.sigma:,.4g}")
        else:
            print(f"  {row.input} [{row.evidence}]: S1 {row.S1:.3f} (± {row.S1_conf:.3f}), ST {row.ST:.3f} (± {row.ST_conf:.3f})")
    print()
    _wrote([f"{out_dir}/: {args.method}.csv, gsa.json"])
    return 0


# --- cd7sim report: one HTML document of a run (and a PSA) -------------------------------------------------

def _report_parser(commands) -> None:
    """``cd7sim report RESULTS_DIR``: the options of the HTML report."""
    report = commands.add_parser("report", help="write one self-contained HTML report of a run folder (and a PSA folder)",
                                 description="Write one HTML file a committee or a journal can read: the question and scenario, "
                                             "the pathway, every parameter with its evidence, calibration, results with their "
                                             "figures, uncertainty, limitations, reproducibility and the STRESS-DES and CHEERS 2022 "
                                             "checklists. The same inputs give the same bytes.")
    report.add_argument("results", type=_folder("RESULTS_DIR"), metavar="RESULTS_DIR", help="a folder written by cd7sim run")
    report.add_argument("--psa", type=_folder("--psa"), metavar="DIR",
                        help="a PSA folder (psa.parquet, parameters.parquet) or the folder cd7sim cea wrote")
    report.add_argument("--sensitivity", type=_folder("--sensitivity"), action="append", metavar="DIR",
                        help="with --psa: a folder written by cd7sim dsa or cd7sim gsa, for the tornado, Morris and Sobol "
                             "tables; repeat for both")
    report.add_argument("--evidence", type=Path, metavar="FILE",
                        help="EVIDENCE.md, for the source text of each evidence id (default: shared/EVIDENCE.md beside the "
                             "repository, when there is one)")
    report.add_argument("--out", type=Path, metavar="FILE", help="the HTML file: new, or a report cd7sim wrote "
                        "(default: RESULTS_DIR-report.html beside the folder)")


def _report_line(results: Path, psa: Path | None = None, evidence: Path | None = None, out: Path | None = None,
                 sensitivity: Sequence[Path] = ()) -> str:
    """The command that makes the report of ``results`` (with the options given)."""
    options = [(option, value) for option, value in (("--psa", psa), *(("--sensitivity", folder) for folder in sensitivity),
                                                      ("--evidence", evidence), ("--out", out)) if value is not None]
    return shlex.join(["cd7sim", "report", str(results), *(word for option, value in options for word in (option, str(value)))])


def report_command(args: argparse.Namespace) -> int:
    """``cd7sim report``: read the folders, write the HTML file."""
    from sim.io.files import atomic_path
    from sim.report.evidence import default_evidence_file
    from sim.report.html_report import build_report, check_report_path

    results: Path = args.results
    out = check_report_path(args.out if args.out is not None else results.parent / f"{results.name}-report.html",
                            [results, *([args.psa] if args.psa is not None else []), *(args.sensitivity or [])])
    evidence = args.evidence if args.evidence is not None else default_evidence_file()
    sensitivity = args.sensitivity or []
    command = _report_line(results, args.psa, args.evidence, args.out, sensitivity)
    html = build_report(results, args.psa, evidence, command, sensitivity)
    print(f"cd7sim {__version__}: report of {results}" + (f" with the PSA folder {args.psa}" if args.psa is not None else "")
          + ("" if evidence is not None else "; EVIDENCE.md not found, evidence ids without their source text"))
    with atomic_path(out) as temporary:
        temporary.write_text(html, encoding="utf-8")
    _wrote(f"{out} ({len(html.encode('utf-8')) / 1e6:.1f} MB)")
    return 0


APP_SCRIPT = Path(__file__).with_name("app") / "main.py"
"""The teaching app's page (:mod:`sim.app`), found as a file: Streamlit runs it, the command line does not import it."""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise InputError("--port", text, "a port number from 1 to 65535 is required")
    return value


def _app_parser(commands) -> None:
    """``cd7sim app``: the teaching app in a browser."""
    app = commands.add_parser("app", help="open the teaching app (lessons, controls, figures) in a browser "
                              "(pip install 'cd7sim[app]')")
    app.add_argument("--port", type=_port, default=8501, help="port of the app's web server")


def app_command(args: argparse.Namespace) -> int:
    """``cd7sim app``: start Streamlit on the app's page; returns its exit status (Ctrl-C stops it)."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("streamlit") is None:
        raise InputError("app", "streamlit not installed", "install the app's extra first: pip install 'cd7sim[app]'")
    print(f"cd7sim {__version__}: the teaching app at http://localhost:{args.port} (Ctrl-C to stop)", flush=True)
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), "--server.port", str(args.port),
                            "--browser.gatherUsageStats", "false", "--theme.base", "light"])


_COMMAND_STARTED: list[float] = []


def _wrote(written: Sequence[str] | str | None) -> None:
    """The closing line of a command: what it wrote and how long the whole command took."""
    seconds = command_seconds()
    if isinstance(written, str):
        written = [written]
    what = f"Wrote {'; '.join(written)}. " if written else ""
    print(f"{what}Whole command: {seconds:.1f} s.")


def command_seconds() -> float:
    """Seconds since the command started: since the process started when run from the shell (imports
    included), else since :func:`main` was called."""
    if _COMMAND_STARTED and _COMMAND_STARTED[0] < 0:
        return _process_age() or 0.0
    return time.perf_counter() - (_COMMAND_STARTED[0] if _COMMAND_STARTED else time.perf_counter())


def _process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None where that cannot be read."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _on_unraisable(unraisable: "sys.UnraisableHookArgs") -> None:
    """An interruption that landed where Python cannot raise it (a finaliser or a weak-reference callback,
    e.g. while matplotlib tidies up) is not lost and prints no traceback: the signal is sent again a moment
    later, from another thread, and stops the command at the next ordinary line (sent from here, its handler
    would run inside this hook). Any other unraisable exception goes to Python's own hook."""
    if isinstance(unraisable.exc_value, _Terminated):
        signum = signal.SIGTERM
    elif isinstance(unraisable.exc_value, KeyboardInterrupt):
        signum = signal.SIGINT
    else:
        sys.__unraisablehook__(unraisable)
        return
    resend = threading.Timer(RESEND_SECONDS, os.kill, (os.getpid(), signum))
    resend.daemon = True
    resend.start()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each, without source lines."""
    print(f"cd7sim: warning: {message}", file=sys.stderr)


def _report_internal_error(error: BaseException) -> str:
    """Write the traceback to a log file in the temporary folder; return the file's path."""
    handle, path = tempfile.mkstemp(prefix="cd7sim-error-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as log:
        log.write(f"cd7sim {__version__}\ncommand: {' '.join(sys.argv)}\n\n")
        log.write("".join(traceback.format_exception(error)))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status.

    Exit status 0 on success, 2 for bad input (one line naming the field, the value and what is
    allowed), 130 when interrupted (Ctrl-C or SIGTERM), 1 for an internal error (one line; the
    traceback goes to a log file named in that line) and for ``cd7sim check`` when a plausibility rule
    fails (after its table).
    """
    _COMMAND_STARTED[:] = [-1.0 if argv is None else time.perf_counter()]
    tune_memory()
    previous_handler = signal.getsignal(signal.SIGTERM)
    in_main_thread = _main_thread()
    previous_unraisable_hook = sys.unraisablehook
    if in_main_thread:
        signal.signal(signal.SIGTERM, _on_sigterm)
        sys.unraisablehook = _on_unraisable
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args = build_parser().parse_args(argv)
            commands = {"run": run_command, "sweep": sweep_command, "calibrate": calibrate_command,
                        "validate": validate_command, "bench": bench_command, "check": check_command, "cea": cea_command,
                        "psa": psa_command, "dsa": dsa_command, "gsa": gsa_command, "report": report_command, "app": app_command}
            return commands[args.command](args)
    except InputError as error:
        print(f"cd7sim: error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, _Terminated):
        print("cd7sim: interrupted; nothing was written", file=sys.stderr)
        return 130
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0
    except Exception as error:  # noqa: BLE001 - the last resort: one line, never a traceback
        log = _report_internal_error(error)
        print(f"cd7sim: internal error: {type(error).__name__}: {error}; {REPORT_BUG} (traceback in {log})",
              file=sys.stderr)
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous_handler)
            sys.unraisablehook = previous_unraisable_hook


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
