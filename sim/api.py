"""The library's face: load a scenario, run it, read and draw its results, validate the model.

Everything a script, a notebook, the report or the teaching app needs goes through here; none of them
reaches into the engines. Figures are returned as matplotlib ``Figure`` objects for the caller to show
or save.

Example
-------
>>> from sim import api
>>> run = api.run("base", patients=500, seed=7)       # a built-in scenario, or a path to a YAML file
>>> run.summary.query("metric == 'os_1y'")            # one row per strategy, with its 95% interval
>>> figure = run.survival_figure()                    # matplotlib Figure; figure.savefig("os.png")
>>> run.save("results/my_run")                        # the run folder, as `cd7sim run` writes it
>>> run.check().passed                                # every course clinically possible (sim.outcomes.plausibility)
>>> run.icers                                         # the incremental cost-effectiveness table (icers.csv)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from sim.disease.compiled import compiled_logic_cached
from sim.economics.evaluation import Evaluation, evaluate
from sim.economics.value_models import patient_values
from sim.inputs.codes import DAYS_PER_YEAR, SUBGROUPS
from sim.inputs.errors import InputError
from sim.inputs.lessons import Lesson, load_lessons
from sim.inputs.parameters import ParameterSet
from sim.inputs.posterior import Posterior
from sim.inputs.scenario import Scenario, builtin_scenarios, load_scenario, scenario_path
from sim.inputs.strategies import BUILTIN_STRATEGIES, Strategy
from sim.inputs.validation import first_error
from sim.inputs.values import ValueSet
from sim.outcomes.plausibility import Report as PlausibilityReport
from sim.outcomes.plausibility import check as check_plausibility
from sim.outcomes.resources import servers
from sim.report.economics_plots import plot_ce_plane, plot_costs
from sim.report.folders import run_figures, run_files, write_results
from sim.report.plots import plot_flow, plot_survival, plot_utilisation, plot_waits
from sim.report.teaching_plots import (
    alluvial_text,
    contrasting_patients,
    plot_alluvial,
    plot_survival_band,
    plot_swimmer,
    projector_style,
    survival_band,
    swimmer_text,
)
from sim.report.text import format_economics, format_headline, format_resources, format_subgroups
from sim.simulation.allocator import tune_memory
from sim.simulation.memory import check_run_size
from sim.simulation.parallel import Progress, make_executor
from sim.simulation.results import Results
from sim.simulation.runner import Engine, ValuesOf, simulate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.calibration.leave_one_out import Budget, LeaveOneOut
    from sim.calibration.studies import Target

ENGINES: tuple[str, ...] = ("des", "cohort")
"""``des``: the SimPy discrete-event engine, with queues; ``cohort``: compiled passes over all patients, unlimited
capacity only."""

__all__ = ["ENGINES", "Lesson", "ParameterSet", "Run", "Scenario", "Strategy", "builtin_scenarios", "builtin_strategies", "check",
           "compiled_logic_cached",
           "large_figures", "leave_one_out", "lessons", "load", "load_validation_cohort", "posterior_runs", "read_validation_posterior",
           "run", "scenario_yaml", "tune_memory", "uncertainty_band", "uncertainty_figure", "validate", "validated", "value_model",
           "with_cost_setting"]


def load(scenario: str | Path | Scenario, *, patients: int | None = None, replications: int | None = None,
         seed: int | None = None, engine: Engine = "des", cost_setting: str | None = None) -> Scenario:
    """A validated scenario, with the given sizes applied.

    Parameters
    ----------
    scenario : str, Path or Scenario
        A YAML file, the name of a built-in scenario (see :func:`builtin_scenarios`), or a scenario.
    patients : int, optional
        Patients per strategy and replication (closed cohort only).
    replications : int, optional
    seed : int, optional
    engine : {"des", "cohort"}
        The engine the run will use (the memory check depends on it).
    cost_setting : str, optional
        The economic evaluation's cost setting (``us_payer``, ``china_payer``); when its currency differs from the
        scenario's setting, the willingness-to-pay values become those ``values.yaml`` gives for the new currency.

    Raises
    ------
    InputError
        For a bad file or value, ``patients`` for an open cohort, an unknown cost setting, or a run that would not
        fit in memory.
    """
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if patients is not None and loaded.arrivals is not None:
        raise InputError("--patients", patients, "not allowed for an open cohort: its size comes from arrivals.rate_per_year")
    if engine not in ENGINES:
        raise InputError("--engine", engine, "one of " + ", ".join(ENGINES) + " is required")
    options = {k: v for k, v in {"patients": patients, "replications": replications, "seed": seed}.items() if v is not None}
    if options:
        loaded = validated(loaded, options)
    if cost_setting is not None:
        loaded = with_cost_setting(loaded, cost_setting)
    check_run_size(loaded, engine)
    return loaded


def with_cost_setting(scenario: Scenario, cost_setting: str) -> Scenario:
    """``scenario`` evaluated in another cost setting (see :func:`load`).

    Raises
    ------
    InputError
        Naming ``--cost-setting`` for a setting ``values.yaml`` does not have.
    """
    values = scenario.economics.value_set()
    if cost_setting not in values.settings:
        raise InputError("--cost-setting", cost_setting, "one of " + ", ".join(values.settings) + " is required")
    changes: dict[str, object] = {"cost_setting": cost_setting}
    if values.currency(cost_setting) != values.currency(scenario.economics.cost_setting):
        changes["wtp"] = None
    return scenario.model_copy(update={"economics": scenario.economics.model_copy(update=changes)})


def validated(scenario: Scenario, changes: Mapping[str, object]) -> Scenario:
    """``scenario`` with ``changes`` (top-level fields), checked as a scenario file is.

    Raises
    ------
    InputError
        Naming the field, the value and what is allowed.
    """
    try:
        return Scenario.model_validate({**scenario.model_dump(), **changes})
    except ValidationError as error:
        field, value, allowed = first_error(error, Scenario)
        raise InputError(field, value, allowed) from None


@dataclass(frozen=True)
class Run:
    """The results of one run: the contract tables, the summary, the subgroups, the resource measures, the
    economic evaluation, and figures.

    Attributes
    ----------
    results : Results
        What the simulation layer produced (scenario, parameters, engine, tables, summary, resources).
    evaluation : Evaluation, optional
        The economic evaluation (``economics.csv``, ``icers.csv``); ``None`` for a run without one.
    """

    results: Results
    evaluation: Evaluation | None = None

    @property
    def scenario(self) -> Scenario:
        """The scenario as run."""
        return self.results.scenario

    @property
    def parameters(self) -> ParameterSet:
        """Every parameter value used."""
        return self.results.params

    @property
    def patients(self) -> pd.DataFrame:
        """``patients.parquet``: one row per patient, strategy and replication (README, "Output files")."""
        return self.results.simulation.patients

    @property
    def events(self) -> pd.DataFrame:
        """``events.parquet``: the event log."""
        return self.results.simulation.events

    @property
    def summary(self) -> pd.DataFrame:
        """``summary.csv``: ``scenario, strategy, metric, estimate, lower, upper``."""
        return self.results.summary

    @property
    def resources(self) -> pd.DataFrame:
        """``resources.csv``: the resource measures over the observation window."""
        return self.results.resources

    @property
    def subgroups(self) -> pd.DataFrame:
        """``subgroups.csv``: the headline endpoints by subgroup.

        Columns ``scenario, strategy, subgroup, level, patients, metric, estimate, lower, upper``: one row
        per strategy, subgroup dimension (``disease``; ``age_band``, years at enrolment; ``status``,
        primary refractory or relapsed; ``blasts``, marrow blasts in percent), level and headline metric.
        ``patients`` counts the level's patients (every replication); ``estimate, lower, upper`` are
        fractions 0–1 with the 95% interval, as in :attr:`summary` but on the level's patients alone;
        ``NaN`` where there is nobody to estimate from.
        """
        return self.results.subgroups

    @property
    def economics(self) -> pd.DataFrame:
        """``economics.csv``: ``scenario, strategy, metric, estimate, lower, upper``: mean cost per patient in total
        and by category, QALYs and life-years, discounted and not (and the service's cost per year for an open
        cohort), with 95% intervals (:mod:`sim.economics.evaluation`)."""
        return self._evaluated().summary

    @property
    def icers(self) -> pd.DataFrame:
        """``icers.csv``: ``strategy, cost, qalys, inc_cost, inc_qalys, icer, status, nmb_<wtp>...`` in order of cost."""
        return self._evaluated().icers

    @property
    def values(self) -> pd.DataFrame:
        """Each patient's costs by category, QALYs and life-years over the economic horizon (``PATIENT_KEY`` first)."""
        self._evaluated()
        return self.results.simulation.values

    def _evaluated(self) -> Evaluation:
        if self.evaluation is None:
            raise InputError("economics", "off", "a run with its economic evaluation is required (api.run(..., economics=True))")
        return self.evaluation

    @property
    def wall_seconds(self) -> float:
        """Seconds the simulation took (tables included, summary and figures not)."""
        return self.results.simulation.wall_seconds

    def warnings(self) -> list[str]:
        """Resources whose queues grow without bound under this load."""
        return self.results.warnings()

    def headline(self) -> str:
        """The headline table ``cd7sim run`` prints (and the resource table when capacity matters)."""
        text = format_headline(self.summary)
        if self.evaluation is not None:
            text += "\n\n" + format_economics(self.evaluation)
        if self.results.shows_capacity:
            text += "\n\n" + format_resources(self.resources)
        return text

    def subgroup_table(self, subgroup: str) -> str:
        """The table ``cd7sim run --by SUBGROUP`` prints after the headline: the headline endpoints by the
        levels of ``subgroup`` and strategy, percent with 95% intervals, and the patients per level.

        Parameters
        ----------
        subgroup : {"disease", "age_band", "status", "blasts"}

        Raises
        ------
        InputError
            For another ``subgroup``.
        """
        if subgroup not in SUBGROUPS:
            raise InputError("by", subgroup, "one of " + ", ".join(SUBGROUPS) + " is required")
        return format_subgroups(self.subgroups, subgroup)

    def survival_figure(self) -> Figure:
        """Kaplan–Meier overall and disease-free survival by strategy, with 95% bands."""
        return plot_survival(self.patients)

    def flow_figure(self) -> Figure:
        """How many patients reach each step of the pathway, by strategy."""
        return plot_flow(self.patients)

    def ce_plane_figure(self) -> Figure:
        """The cost-effectiveness plane with the efficient frontier and the willingness-to-pay lines."""
        return plot_ce_plane(self._evaluated())

    def costs_figure(self) -> Figure:
        """Mean discounted cost per patient by category and strategy."""
        return plot_costs(self._evaluated())

    def utilisation_figure(self) -> Figure:
        """Servers in use and patients waiting for each resource, week by week."""
        return plot_utilisation(self.results.simulation.occupancy, servers(self.scenario.capacity),
                                self.scenario.observation_window)

    def waits_figure(self) -> Figure:
        """The distribution of each wait."""
        return plot_waits(self.patients)

    def contrasting_patients(self, count: int) -> list[int]:
        """``count`` patient ids whose courses differ most between the strategies (for :meth:`swimmer_figure`)."""
        return contrasting_patients(self.patients, count)

    def swimmer_figure(self, patient_ids: Sequence[int]) -> Figure:
        """The same virtual patients under each strategy: one bar per patient and strategy, events marked."""
        return plot_swimmer(self.patients, patient_ids)

    def swimmer_text(self, patient_ids: Sequence[int]) -> str:
        """The text alternative of :meth:`swimmer_figure`: each course in words."""
        return swimmer_text(self.patients, patient_ids)

    def alluvial_figure(self) -> Figure:
        """The pathway stage by stage as an alluvial (Sankey) figure, one panel per strategy."""
        return plot_alluvial(self.patients)

    def alluvial_text(self) -> str:
        """The text alternative of :meth:`alluvial_figure`: the share in each category of each stage."""
        return alluvial_text(self.patients)

    def figures(self) -> dict[str, Figure]:
        """The figures ``cd7sim run`` writes for this run, by file name (no capacity figures for a
        closed cohort with unlimited capacity)."""
        return {name: draw() for name, draw in run_figures(self.results, self.evaluation).items()}

    def files(self) -> tuple[str, ...]:
        """The files :meth:`save` writes."""
        return run_files(self.results, self.evaluation)

    def check(self, on_rule: Progress = None) -> PlausibilityReport:
        """The clinical plausibility check of this run's tables (see :func:`check`)."""
        return check(self.patients, self.events, on_rule)

    def save(self, out_dir: str | Path, protected: Sequence[Path] = ()) -> Path:
        """Write the run folder (tables, ``run.json``, figures): new, empty or cd7sim's own, replaced
        atomically.

        Parameters
        ----------
        out_dir : str or Path
        protected : sequence of Path
            Inputs the folder must not contain (the scenario file).
        """
        return write_results(self.results, out_dir, protected, self.evaluation)


def run(scenario: str | Path | Scenario, *, patients: int | None = None, replications: int | None = None,
        seed: int | None = None, engine: Engine = "des", workers: int | None = None,
        scheduler: str | None = None, on_done: Progress = None, economics: bool = True, cost_setting: str | None = None) -> Run:
    """Simulate every strategy of a scenario, and evaluate costs and QALYs.

    Parameters
    ----------
    scenario : str, Path or Scenario
        A YAML file, a built-in scenario's name, or a scenario (see :func:`load`).
    patients, replications, seed : int, optional
        Override the scenario's.
    engine : {"des", "cohort"}
    workers : int, optional
        Local processes for replications (default: every core; 1 = serial).
    scheduler : str, optional
        Address of a Dask scheduler (overrides ``workers``).
    on_done : callable, optional
        Called once per replication simulated (a progress bar).
    economics : bool
        Evaluate costs and QALYs with the scenario's ``economics`` settings (``False``: clinical results only).
    cost_setting : str, optional
        Override the scenario's cost setting (see :func:`load`).
    """
    loaded = load(scenario, patients=patients, replications=replications, seed=seed, engine=engine, cost_setting=cost_setting)
    params = loaded.parameter_set()
    values = loaded.economics.value_set() if economics else None
    values_of = value_model(loaded, values) if values is not None else None
    simulation = simulate(loaded, params, engine, make_executor(workers, scheduler), on_done=on_done, values_of=values_of)
    results = Results.from_simulation(loaded, params, engine, simulation)
    if values is None:
        return Run(results)
    start, end = loaded.observation_window
    window_years = (end - start) / DAYS_PER_YEAR if loaded.arrivals is not None else None
    return Run(results, evaluate(simulation.values, loaded.economics, values, loaded.horizon_days, window_years))


def builtin_strategies() -> dict[str, Strategy]:
    """The four built-in strategies, by name (a scenario lists them by name, or changes their fields)."""
    return dict(BUILTIN_STRATEGIES)


def lessons() -> dict[str, Lesson]:
    """The teaching app's lessons (``scenarios/lessons/*.yaml``), by file name, in menu order.

    Raises
    ------
    InputError
        Naming the file and field of a lesson that is not valid.
    """
    return load_lessons()


def scenario_yaml(scenario: Scenario) -> str:
    """``scenario`` as the text of a scenario file that :func:`load` reads back to the same scenario."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def large_figures() -> AbstractContextManager[None]:
    """A context in which the figures drawn have large text, for a projector."""
    return projector_style()


def posterior_runs(scenario: Scenario, draws: int, *, patients: int | None = None, seed: int = 0,
                   on_done: Progress = None) -> Iterator[Run]:
    """Runs of ``scenario`` under ``draws`` parameter sets drawn from the committed posterior (the cohort engine,
    clinical results only), for the uncertainty from what the studies leave unknown.

    The scenario's own parameter overrides win over the draws'.

    Parameters
    ----------
    scenario : Scenario
        A closed cohort without capacity limits (the cohort engine).
    draws : int
        Posterior draws (at most the posterior's).
    patients : int, optional
        Patients per strategy of each run (default: the scenario's).
    seed : int
        Seed of the choice of draws.
    on_done : callable, optional
        Called once per draw simulated (a progress bar).

    Yields
    ------
    Run
        One run per draw, each with the scenario's seed (common random numbers across draws).
    """
    posterior = read_validation_posterior()
    chosen = np.random.default_rng(seed).choice(len(posterior), size=min(draws, len(posterior)), replace=False)
    for row in chosen:
        values = dict(zip(posterior.names, map(float, posterior.values[row]), strict=True))
        drawn = validated(scenario, {"parameters": {**values, **scenario.parameters}})
        yield run(drawn, patients=patients, engine="cohort", workers=1, economics=False)
        if on_done is not None:
            on_done()


def uncertainty_band(runs: Sequence[Run], months: int = 60) -> pd.DataFrame:
    """Overall survival from infusion each month up to ``months`` across :func:`posterior_runs`: columns
    ``strategy, month, median, lower, upper`` (probabilities 0-1, the 2.5% and 97.5% quantiles of the draws)."""
    return survival_band([each.patients for each in runs], np.arange(0, months + 1, dtype=float))


def uncertainty_figure(band: pd.DataFrame, draws: int) -> Figure:
    """Overall survival by strategy with the 95% band over ``draws`` posterior draws (:func:`uncertainty_band`)."""
    return plot_survival_band(band, draws)


def value_model(scenario: Scenario, values: ValueSet | None = None) -> ValuesOf:
    """The value model of ``scenario``'s economic evaluation, for :func:`sim.simulation.runner.simulate`: each
    patient's costs (its cost setting), QALYs (its utility set) and life-years.

    Parameters
    ----------
    scenario : Scenario
    values : ValueSet, optional
        The value inputs (default: ``scenario.economics.value_set()``).
    """
    settings = scenario.economics
    return partial(patient_values, values=values if values is not None else settings.value_set(),
                   setting=settings.cost_setting, utility_set=settings.utility_set)


def check(patients: pd.DataFrame, events: pd.DataFrame, on_rule: Progress = None) -> PlausibilityReport:
    """Read a run's contract tables as a reviewing haematologist would: every rule of
    :data:`sim.outcomes.plausibility.RULES`, impossible courses and implausible shares.

    Parameters
    ----------
    patients, events : pandas.DataFrame
        ``patients.parquet`` and ``events.parquet`` of the same run (for example read from a run folder).
    on_rule : callable, optional
        Called once after each rule (a progress bar).

    Returns
    -------
    sim.outcomes.plausibility.Report
        Per rule the violations, the share, pass or fail and example patients; ``.passed`` when every
        impossible rule has no violation and every implausible share is within its bound.
    """
    return check_plausibility(patients, events, on_rule=on_rule)


def read_validation_posterior(posterior: str | Path | None = None) -> Posterior:
    """The posterior draws to validate: a file, or the committed one; warns once when it is stale.

    Raises
    ------
    InputError
        When the file is missing or is not a valid posterior.
    """
    from sim.inputs.parameters import DEFAULT_POSTERIOR_PATH, load_parameters

    path = Path(posterior) if posterior is not None else DEFAULT_POSTERIOR_PATH
    if not path.is_file():
        raise InputError("--posterior", str(path), "a posterior file is required: run `cd7sim calibrate` first")
    read = Posterior.read(path, load_parameters().registry)
    read.warn_if_stale()
    return read


def load_validation_cohort(studies: str | Path | None = None, targets: str | Path | None = None,
                           ) -> tuple[dict[str, Scenario], list[Target]]:
    """The study replays and targets to validate against: the shipped ones, or a researcher's own.

    Parameters
    ----------
    studies : str or Path, optional
        Folder of study scenario files ``NAME.yaml`` (the schema of ``scenarios/studies/*.yaml``; default the
        shipped ``scenarios/studies/``).
    targets : str or Path, optional
        Targets CSV with the columns of ``calibration/targets.csv`` (default: the shipped targets); each row's
        ``study`` names a file of ``studies``.

    Returns
    -------
    tuple
        ``(study scenarios by name, list of sim.calibration.studies.Target)``.

    Raises
    ------
    InputError
        One line for any bad input: a missing folder or file, an unknown study, column or metric, a
        non-finite number, an invalid study file (see :func:`sim.calibration.studies.load_cohort`).
    """
    from sim.calibration.studies import load_cohort

    return load_cohort(studies, targets)


def validate(draws: int = 200, posterior: str | Path | Posterior | None = None, workers: int | None = None,
             on_done: Progress = None, studies: str | Path | None = None, targets: str | Path | None = None,
             ) -> pd.DataFrame:
    """The posterior predictive check: every study replayed as a new cohort at its own size under posterior
    draws (with between-study variation of the rates that vary between studies).

    Parameters
    ----------
    draws : int
        Posterior draws to replay.
    posterior : str, Path or Posterior, optional
        Posterior draws (default: the committed ``calibration/posterior.parquet``).
    workers : int, optional
        Local processes.
    on_done : callable, optional
        Called once per block of 10 draws replayed (a progress bar).
    studies, targets : str or Path, optional
        A researcher's own study scenarios and targets (see :func:`load_validation_cohort`); default the shipped ones.

    Returns
    -------
    pandas.DataFrame
        One row per target: the reported value, the model's predictive mean and 95% interval, inside.
    """
    from sim.calibration.predictive import posterior_predictive
    from sim.inputs.parameters import load_parameters

    replays, checked = load_validation_cohort(studies, targets)
    read = posterior if isinstance(posterior, Posterior) else read_validation_posterior(posterior)
    return posterior_predictive(read.draws, load_parameters(), replays, checked, draws, make_executor(workers), on_done)


def leave_one_out(draws: int = 200, *, prior_draws: int | None = None, stages: int | None = None,
                  stage_draws: int | None = None, posterior_draws: int | None = None, seed: int = 2024,
                  studies: str | Path | None = None, targets: str | Path | None = None, workers: int | None = None,
                  on_done: Progress = None) -> LeaveOneOut:
    """Leave-one-study-out validation: calibrate on all studies but one, predict the one left out, for each.

    Parameters
    ----------
    draws : int
        Posterior draws replayed for each held-out study.
    prior_draws, stages, stage_draws, posterior_draws : int, optional
        Each fold's calibration budget (default: the small budget of ``sim.calibration``, ``LOO_*``).
    seed : int
        Seed of each fold's calibration.
    studies, targets : str or Path, optional
        A researcher's own study scenarios and targets (default: the shipped ones).
    workers : int, optional
        Local processes.
    on_done : callable, optional
        Called once per task (:func:`sim.calibration.leave_one_out.progress_blocks` of them).

    Returns
    -------
    sim.calibration.leave_one_out.LeaveOneOut
        ``table`` (one row per held-out target) and ``studies`` (one row per held-out study, then all).
    """
    from sim.calibration.leave_one_out import leave_one_out as run_folds
    from sim.inputs.parameters import load_parameters

    replays, checked = load_validation_cohort(studies, targets)
    budget = leave_one_out_budget(prior_draws, stages, stage_draws, posterior_draws, seed)
    return run_folds(load_parameters(), replays, checked, budget, draws, make_executor(workers), on_done)


def leave_one_out_budget(prior_draws: int | None = None, stages: int | None = None, stage_draws: int | None = None,
                         posterior_draws: int | None = None, seed: int = 2024) -> Budget:
    """Each fold's calibration budget, the defaults (``sim.calibration.LOO_*``) where not given."""
    from sim.calibration import LOO_POSTERIOR_DRAWS, LOO_PRIOR_DRAWS, LOO_STAGE_DRAWS, LOO_STAGES
    from sim.calibration.calibrate import check_budget
    from sim.calibration.leave_one_out import Budget

    def given(value: int | None, default: int) -> int:
        return default if value is None else value

    budget = Budget(given(prior_draws, LOO_PRIOR_DRAWS), given(stages, LOO_STAGES), given(stage_draws, LOO_STAGE_DRAWS),
                    given(posterior_draws, LOO_POSTERIOR_DRAWS), seed)
    check_budget(budget.prior_draws, budget.stages, budget.stage_draws, budget.posterior_draws)
    return budget


def scenario_file(scenario: str | Path) -> Path:
    """The file behind a scenario path or built-in name (see :func:`sim.inputs.scenario.scenario_path`)."""
    return scenario_path(scenario)
