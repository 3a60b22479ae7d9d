"""The ``cd7sim`` command: parses arguments, calls the library, prints. Nothing else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sim import __version__
from sim.calibration import (
    DEFAULT_POSTERIOR_DRAWS,
    DEFAULT_PRIOR_DRAWS,
    DEFAULT_STAGE_DRAWS,
    DEFAULT_STAGES,
)
from sim.errors import InputError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with status 2."""

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
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--patients", type=_positive_int("--patients"), help="patients per strategy and replication")
    run.add_argument("--replications", type=_positive_int("--replications"), help="number of replications")
    run.add_argument("--seed", type=_seed, help="run seed")
    run.add_argument("--engine", choices=("des", "cohort"), default="des", help="SimPy (des) or vectorised (cohort)")
    run.add_argument("--out", type=Path, help="output folder (default results/<scenario name>)")
    run.add_argument("--workers", type=_positive_int("--workers"),
                     help="local processes for replications (default: every core; 1 = serial)")
    run.add_argument("--scheduler", metavar="ADDRESS", help="run replications on this Dask scheduler (pip install 'cd7sim[dask]')")
    sweep = commands.add_parser("sweep", help="run a scenario over a grid of capacities (common random numbers)")
    sweep.add_argument("scenario", type=Path, help="scenario YAML file")
    sweep.add_argument("--set", dest="settings", action="append", required=True, metavar="KEY=V1,V2,...",
                       help="a setting and its values, e.g. capacity.manufacturing_slots=2,3,4,5 (none = unlimited); repeat for a grid")
    sweep.add_argument("--replications", type=_positive_int("--replications"), help="replications per combination")
    sweep.add_argument("--seed", type=_seed, help="run seed")
    sweep.add_argument("--out", type=Path, help="output folder (default results/<scenario name>-sweep)")
    sweep.add_argument("--workers", type=_positive_int("--workers"), help="local processes for replications (default: every core)")
    calibrate = commands.add_parser("calibrate", help="calibrate the parameters to the CD7 CAR-T studies")
    calibrate.add_argument("--prior-draws", type=_positive_int("--prior-draws"), default=DEFAULT_PRIOR_DRAWS, help="Latin-hypercube prior draws")
    calibrate.add_argument("--stages", type=_positive_int("--stages"), default=DEFAULT_STAGES, help="adaptive importance-sampling stages")
    calibrate.add_argument("--stage-draws", type=_positive_int("--stage-draws"), default=DEFAULT_STAGE_DRAWS, help="draws per stage")
    calibrate.add_argument("--posterior-draws", type=_positive_int("--posterior-draws"), default=DEFAULT_POSTERIOR_DRAWS, help="posterior draws to keep")
    calibrate.add_argument("--seed", type=_seed, default=2024, help="seed")
    calibrate.add_argument("--workers", type=_positive_int("--workers"), help="local processes (default: every core)")
    calibrate.add_argument("--out", type=Path, help="folder for posterior.parquet, fit.csv, identifiability.csv, fit.png (default calibration/)")
    validate = commands.add_parser("validate", help="posterior predictive check of every target at its study's own size")
    validate.add_argument("--draws", type=_positive_int("--draws"), default=200, help="posterior draws to replay")
    validate.add_argument("--posterior", type=Path, help="posterior draws (default calibration/posterior.parquet)")
    validate.add_argument("--workers", type=_positive_int("--workers"), help="local processes (default: every core)")
    validate.add_argument("--out", type=Path, help="also write the table as CSV (default calibration/validation.csv)")
    bench = commands.add_parser("bench", help="measure the speed and memory of both engines")
    bench.add_argument("--quick", action="store_true", help="smaller run (under a minute); the PSA workload is scaled")
    bench.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    return parser


def bench_command(args: argparse.Namespace) -> int:
    """``cd7sim bench``: run the benchmark, print the table, optionally write JSON."""
    from sim.bench import format_report, run_benchmark, write_json

    print(f"cd7sim {__version__} benchmark ({'quick' if args.quick else 'full'}), base scenario, 4 strategies")
    result = run_benchmark(quick=args.quick)
    print()
    print(format_report(result))
    if args.json:
        write_json(result, args.json)
        print(f"Wrote {args.json}")
    return 0


def _progress_bar(total: int, what: str, unit: str = "block"):
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=unit, file=sys.stderr, mininterval=1.0)


def calibrate_command(args: argparse.Namespace) -> int:
    """``cd7sim calibrate``: adaptive importance sampling against every target; writes the posterior and the fit."""
    from sim.calibration import CALIBRATION_DIR, calibrate, write_calibration
    from sim.parallel import make_executor
    from sim.parameters import load_parameters
    from sim.studies import load_studies, load_targets

    targets = load_targets()
    studies = load_studies(sorted({t.study for t in targets}))
    params = load_parameters()
    blocks = -(-args.prior_draws // 50) + args.stages * -(-args.stage_draws // 50)
    print(f"cd7sim {__version__}: calibrating to {len(targets)} targets of {len(studies)} study replays "
          f"({args.prior_draws} prior draws + {args.stages} x {args.stage_draws} adaptive), seed {args.seed}")
    with _progress_bar(blocks, "simulating") as bar:
        result = calibrate(params, studies, targets, args.prior_draws, args.stages, args.stage_draws,
                           args.posterior_draws, args.seed, make_executor(args.workers), bar.update)
    written = write_calibration(result, args.out or CALIBRATION_DIR)
    fit = result.fit_frame()
    informed = result.identifiability_frame()
    print(f"\n{len(result.log_likelihood)} draws in {result.seconds:.0f} s; effective sample size "
          f"{result.effective_sample_size:.0f}; {len(set(result.posterior_index.tolist()))} distinct of "
          f"{len(result.posterior_index)} posterior draws")
    print(f"{int(informed.informed.sum())} of {len(informed)} parameters informed by the targets "
          "(posterior sd < 0.8 x prior sd); the rest stay near their priors")
    inside = ((fit.posterior_lower <= fit.reported) & (fit.reported <= fit.posterior_upper)).sum()
    print(f"{inside} of {len(fit)} reported values inside the posterior 95% interval of the model's expected value "
          "(run `cd7sim validate` for the check at each study's own size)")
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


def validate_command(args: argparse.Namespace) -> int:
    """``cd7sim validate``: each study replayed at its own size under posterior draws."""
    import pandas as pd

    from sim.calibration import CALIBRATION_DIR, POSTERIOR_FILE
    from sim.parallel import make_executor
    from sim.parameters import load_parameters
    from sim.predictive import format_validation, posterior_predictive
    from sim.results import write_csv_atomically
    from sim.studies import load_studies, load_targets

    path = args.posterior or CALIBRATION_DIR / POSTERIOR_FILE
    if not path.is_file():
        raise InputError("--posterior", str(path), "a posterior file is required: run `cd7sim calibrate` first")
    targets = load_targets()
    studies = load_studies(sorted({t.study for t in targets}))
    posterior = pd.read_parquet(path)
    with _progress_bar(-(-min(args.draws, len(posterior)) // 10), "replaying") as bar:
        table = posterior_predictive(posterior, load_parameters(), studies, targets, args.draws,
                                     make_executor(args.workers), bar.update)
    print(format_validation(table))
    out = args.out or CALIBRATION_DIR / "validation.csv"
    write_csv_atomically(table, out)
    print(f"Wrote {out}")
    return 0


def _load_for_run(args: argparse.Namespace):
    """The scenario with the command line's overrides; ``--patients`` only for a closed cohort."""
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if getattr(args, "patients", None) is not None and scenario.arrivals is not None:
        raise InputError("--patients", args.patients, "not allowed for an open cohort: its size comes from arrivals.rate_per_year")
    options = (("patients", getattr(args, "patients", None)), ("replications", args.replications), ("seed", args.seed))
    return scenario.model_copy(update={k: v for k, v in options if v is not None})


def _cohort_text(scenario) -> str:
    if scenario.arrivals is None:
        return f"{scenario.patients} patients"
    a = scenario.arrivals
    return (f"{a.rate_per_year:g} referrals/year over {a.run_length_days:g} days after {a.warm_up_days:g} days of warm-up")


def _warn(messages: list[str]) -> None:
    for message in messages:
        print(f"cd7sim: warning: {message}", file=sys.stderr)


def run_command(args: argparse.Namespace) -> int:
    """``cd7sim run``: simulate, write the files, print the headline table."""
    from sim.outcomes import format_headline
    from sim.parallel import make_executor
    from sim.resources import format_resources
    from sim.results import FILES, Results, write_results
    from sim.runner import simulate

    scenario = _load_for_run(args)
    params = scenario.parameter_set()
    print(f"cd7sim {__version__}: scenario '{scenario.name}', {len(scenario.strategies)} strategies, "
          f"{_cohort_text(scenario)} x {scenario.replications} replication(s), engine {args.engine}, seed {scenario.seed}")
    executor = make_executor(args.workers, args.scheduler)
    simulation = simulate(scenario, params, args.engine, executor)
    results = Results.from_simulation(scenario, params, args.engine, simulation)
    out_dir = write_results(results, args.out or Path("results") / scenario.name)
    print()
    print(format_headline(results.summary))
    if scenario.capacity.limited() or scenario.arrivals is not None:
        print()
        print(format_resources(results.resources))
    _warn(results.warnings())
    print()
    print(f"Simulated in {simulation.wall_seconds:.1f} s. Wrote {out_dir}/: {', '.join(FILES)}")
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    """``cd7sim sweep``: the scenario over a grid of settings; table, CSV and figure."""
    from sim.parallel import make_executor
    from sim.plots import plot_sweep
    from sim.results import write_csv_atomically, write_folder
    from sim.sweep import format_sweep, parse_setting, run_sweep, sweep_grid

    scenario = _load_for_run(args)
    grid = sweep_grid(scenario, [parse_setting(text) for text in args.settings])
    keys = grid.keys
    print(f"cd7sim {__version__}: sweeping scenario '{scenario.name}' over {len(grid.combinations)} combinations of "
          f"{', '.join(keys)}; {_cohort_text(scenario)} x {scenario.replications} replication(s), seed {scenario.seed} "
          "(the same referrals and patients in every combination)")
    with _progress_bar(len(grid.combinations), "sweeping", "combination") as bar:
        sweep = run_sweep(grid, scenario.parameter_set(), make_executor(args.workers), bar.update)

    def write(folder: Path) -> None:
        write_csv_atomically(sweep, folder / "sweep.csv")
        plot_sweep(sweep, keys, folder / "sweep.png")

    out_dir = write_folder(args.out or Path("results") / f"{scenario.name}-sweep", write)
    print()
    print(format_sweep(sweep, keys))
    print()
    print(f"Wrote {out_dir}/: sweep.csv, sweep.png")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        commands = {"run": run_command, "sweep": sweep_command, "calibrate": calibrate_command,
                    "validate": validate_command, "bench": bench_command}
        return commands[args.command](args)
    except InputError as error:
        print(f"cd7sim: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cd7sim: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
