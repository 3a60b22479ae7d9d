"""Probabilistic sensitivity analysis of a scenario: ``cd7sim psa``.

Each draw ``k`` takes, from a generator seeded by ``(seed, k)`` alone (so a draw is the same whichever block,
worker or resumed run computes it):

- every uncertain parameter from its prior (`sim.inputs.parameters.ParameterSet.sample`), then, when the scenario
  reads the calibrated posterior (``parameter_source: posterior``), one whole joint posterior draw for the
  calibrated parameters (a row of ``calibration/posterior.parquet``: their correlation is kept), the rows taken in
  a seeded random order without replacement (:func:`posterior_order`);
- every uncertain value input of the scenario's cost setting and utility set (`sim.inputs.values.ValueSet.draw`).

The scenario's own overrides (``parameters:``, ``economics.values``) stay fixed: the user has set them. The same
patients (``PatientDraws(seed, 0, N)``) go through every draw and strategy (common random numbers), so
differences between draws are the inputs', not the luck of the cohort. Per draw and strategy the PSA table holds
the mean discounted ``cost``, ``qalys`` and ``life_years`` per patient over the economic horizon and the clinical
outcomes of :data:`OUTCOME_METRICS` (`sim.outcomes.endpoints`, the summary's own definitions); the parameters
table holds every drawn value.

Draws are computed in blocks of :data:`BLOCK_DRAWS`; each finished block is written atomically to a progress
folder beside the output folder, so a killed run resumes where it stopped (``--resume``) and the resumed result
equals an uninterrupted one bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.economics.value_models import patient_values
from sim.inputs.codes import OUTCOME_METRICS, VALUE_COLUMNS
from sim.inputs.errors import InputError
from sim.inputs.parameters import FixedDist, ParameterSet
from sim.inputs.posterior import POSTERIOR_BOOKKEEPING, Posterior
from sim.inputs.scenario import Scenario
from sim.inputs.values import ValueSet
from sim.io.files import atomic_path
from sim.outcomes.endpoints import cohort_estimates, patient_columns, strategy_groups
from sim.simulation.parallel import Executor, SerialExecutor
from sim.simulation.runner import simulate

BLOCK_DRAWS = 10
"""Draws per block: the unit of work of a worker and of a resumed run."""
PSA_COLUMNS: tuple[str, ...] = ("draw", "strategy", *VALUE_COLUMNS, *OUTCOME_METRICS)
"""Columns of ``psa.parquet``."""
_STREAM = 0x505341  # "PSA": keeps the PSA's generators apart from the patients' draws of the same seed
_POSTERIOR_STREAM = 2**32 - 1  # the posterior's order (draws use 0, 1, 2 ...)
PROGRESS_SUFFIX = ".cd7sim-psa-blocks"
"""Suffix of the hidden progress folder beside the output folder (``.NAME.cd7sim-psa-blocks``)."""
SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class PsaPlan:
    """What a PSA runs: the scenario (a closed cohort), the inputs to draw from and the sizes.

    Attributes
    ----------
    scenario : Scenario
        Closed cohort of ``patients`` (one replication is simulated per draw).
    draws : int
        Number of draws.
    seed : int
        Seeds the inputs of each draw and the patients.
    base : ParameterSet
        The parameters to draw from: the priors' point values with the scenario's overrides.
    point : ParameterSet
        The scenario's own point values (posterior means where it reads the posterior; its overrides applied): the
        base case of a deterministic analysis.
    posterior : pandas.DataFrame or None
        Joint posterior draws of the calibrated parameters (columns = parameters), or None for priors only.
    values : ValueSet
        The scenario's value inputs (its overrides applied).
    """

    scenario: Scenario
    draws: int
    seed: int
    base: ParameterSet
    point: ParameterSet
    posterior: pd.DataFrame | None
    values: ValueSet

    def base_values(self) -> dict[str, float]:
        """Every parameter's base-case value (:attr:`point`)."""
        return self.point.as_dict()

    @property
    def engine(self) -> str:
        """The cohort engine, or the SimPy engine when a resource is limited."""
        return "des" if self.scenario.capacity.limited() else "cohort"

    @property
    def fixed_parameters(self) -> dict[str, float]:
        """The scenario's parameter overrides, kept in every draw."""
        return dict(self.scenario.parameters)

    @property
    def value_names(self) -> tuple[str, ...]:
        """The uncertain value inputs of the scenario's cost setting and utility set (the others do not enter)."""
        economics = self.scenario.economics
        prefixes = (f"cost_settings.{economics.cost_setting}.", f"utility_sets.{economics.utility_set}.")
        return tuple(name for name in self.values.uncertain
                     if name.startswith(prefixes) and name not in economics.values)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameters that vary between draws (uncertain, not fixed by the scenario)."""
        registry = self.base.registry
        return tuple(name for name in registry if not isinstance(registry[name].distribution, FixedDist)
                     and name not in self.scenario.parameters)

    def fingerprint(self) -> dict[str, object]:
        """What makes two runs the same PSA (a resumed run must match it)."""
        digest = hashlib.sha256(json.dumps(self.scenario.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
        posterior = None if self.posterior is None else hashlib.sha256(
            pd.util.hash_pandas_object(self.posterior, index=False).to_numpy().tobytes()).hexdigest()
        return {"version": __version__, "scenario_sha256": digest, "posterior_sha256": posterior, "draws": self.draws,
                "seed": self.seed, "patients": self.scenario.patients, "block_draws": BLOCK_DRAWS}


def psa_plan(scenario: Scenario, draws: int, posterior: Posterior | None) -> PsaPlan:
    """The plan of a PSA of ``scenario`` (closed cohort, its sizes and seed already applied).

    Raises
    ------
    InputError
        For an open cohort (a PSA follows a fixed cohort; capacity questions are for ``cd7sim sweep``).
    """
    if scenario.arrivals is not None or scenario.patients is None:
        raise InputError("scenario", scenario.name, "a closed cohort (patients) is required for a PSA; "
                                                    "an open cohort's capacity questions are for cd7sim sweep")
    base = scenario.model_copy(update={"parameter_source": "prior"}).parameter_set()
    joint = None
    if posterior is not None and scenario.parameter_source == "posterior":
        columns = [c for c in posterior.draws.columns if c not in POSTERIOR_BOOKKEEPING and c not in scenario.parameters]
        joint = posterior.draws[columns].reset_index(drop=True)
    return PsaPlan(scenario=scenario.model_copy(update={"replications": 1}), draws=draws, seed=scenario.seed, base=base,
                   point=scenario.parameter_set(), posterior=joint, values=scenario.economics.value_set())


def posterior_order(seed: int, rows: int) -> np.ndarray:
    """The order in which draws take the posterior's rows: a permutation seeded by ``seed``, so that up to ``rows``
    draws use each posterior draw once (sampling with replacement would repeat rows, and the EVPPI regressions would
    read the repeats as structure); draw ``k`` takes row ``order[k % rows]``."""
    return np.random.default_rng([seed, _STREAM, _POSTERIOR_STREAM]).permutation(rows)


def draw_inputs(plan: PsaPlan, draw: int) -> tuple[ParameterSet, ValueSet]:
    """The parameters and value inputs of draw ``draw`` (see the module docstring)."""
    rng = np.random.default_rng([plan.seed, _STREAM, draw])
    values = plan.base.sample(rng).as_dict()
    if plan.posterior is not None:
        row = plan.posterior.iloc[int(posterior_order(plan.seed, len(plan.posterior))[draw % len(plan.posterior)])]
        values.update({str(name): float(value) for name, value in row.items()})
    values.update(plan.fixed_parameters)
    drawn = plan.values.draw(rng)
    kept = {name: plan.values[name] for name in plan.scenario.economics.values}
    return plan.base.with_values(values), ValueSet(drawn.spec, {**dict(drawn), **kept})


def strategy_outcomes(plan: PsaPlan, params: ParameterSet, values: ValueSet) -> list[tuple]:
    """One row per strategy of the plan's cohort under ``params`` and ``values``: the strategy, then the columns of
    :data:`PSA_COLUMNS` after ``draw, strategy`` (mean cost, QALYs and life-years per patient; the outcomes)."""
    economics = plan.scenario.economics
    values_of = partial(patient_values, values=values, setting=economics.cost_setting, utility_set=economics.utility_set)
    simulation = simulate(plan.scenario, params, plan.engine, with_events=False, with_resources=False, values_of=values_of)  # type: ignore[arg-type]
    means = simulation.values.groupby("strategy", observed=True, sort=False)[list(VALUE_COLUMNS.values())].mean().astype(float)
    columns = patient_columns(simulation.patients)
    rows = []
    for _, strategy, replications in strategy_groups(simulation.patients):
        outcomes = [estimate.estimate for estimate in cohort_estimates(columns, replications, OUTCOME_METRICS)]
        rows.append((strategy, *means.loc[strategy, list(VALUE_COLUMNS.values())].to_numpy(float).tolist(), *outcomes))
    return rows


def _draw_rows(plan: PsaPlan, draw: int) -> tuple[list[tuple], dict[str, float]]:
    """The PSA rows (one per strategy) and the parameter row of one draw."""
    params, values = draw_inputs(plan, draw)
    rows = [(draw, *row) for row in strategy_outcomes(plan, params, values)]
    record = {"draw": draw, **{name: params[name] for name in plan.parameter_names},
              **{name: values[name] for name in plan.value_names}}
    return rows, record


def run_block(task: tuple[PsaPlan, Sequence[int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The PSA rows and parameter rows of a block of draws (a task for an executor)."""
    plan, draws = task
    rows, records = [], []
    for draw in draws:
        block_rows, record = _draw_rows(plan, int(draw))
        rows += block_rows
        records.append(record)
    return pd.DataFrame(rows, columns=list(PSA_COLUMNS)), pd.DataFrame(records)


class Progress:
    """The progress folder of a PSA: its settings and the blocks finished so far, each written atomically.

    Parameters
    ----------
    out_dir : Path
        The PSA's output folder; the progress folder is ``.NAME.cd7sim-psa-blocks`` beside it.
    plan : PsaPlan
    """

    def __init__(self, out_dir: Path, plan: PsaPlan) -> None:
        self.folder = out_dir.parent / f".{out_dir.name}{PROGRESS_SUFFIX}"
        self.plan = plan
        self.fingerprint = plan.fingerprint()

    def _block_names(self, first: int) -> tuple[str, str]:
        return f"psa-{first:07d}.parquet", f"parameters-{first:07d}.parquet"

    def _saved(self) -> dict | None:
        """The settings file of a progress folder cd7sim made (it names cd7sim as its writer), or ``None``."""
        try:
            saved = json.loads((self.folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return saved if isinstance(saved, dict) and saved.get("written_by") == "cd7sim" else None

    def _own(self, name: str, saved: dict) -> bool:
        """Whether ``name`` is a file the PSA of ``saved`` writes here: its settings, the two files of one of its
        blocks, or the temporary file an atomic write of one of them leaves when killed (its name, a dot before
        and a dot and random characters after: `sim.io.files.atomic_path`)."""
        draws = saved.get("draws")
        blocks = range(0, draws, BLOCK_DRAWS) if isinstance(draws, int) and draws > 0 else range(0)
        names = {SETTINGS_FILE, *(name for first in blocks for name in self._block_names(first))}
        return name in names or (name.startswith(".") and name[1:].rsplit(".", 1)[0] in names)

    def _files(self, saved: dict, temporary_only: bool = False) -> list[Path]:
        """The plain files of the folder that the PSA of ``saved`` wrote (only the killed writes' leftovers)."""
        return [path for path in self.folder.iterdir() if path.is_file() and not path.is_symlink()
                and self._own(path.name, saved) and (path.name.startswith(".") or not temporary_only)]

    def start(self, resume: bool) -> set[int]:
        """Prepare the folder; the first draws of the blocks already done (none unless ``resume``).

        Raises
        ------
        InputError
            ``--resume`` without a progress folder or with one of another PSA; a progress folder cd7sim did not
            make, or holding files cd7sim did not write.
        """
        saved = self._saved()
        if self.folder.exists():
            foreign = sorted(p.name for p in self.folder.iterdir() if saved is None or not self._own(p.name, saved))
            if saved is None or foreign:
                raise InputError("--out", str(self.folder), "a progress folder holding only cd7sim's PSA blocks is required; "
                                 f"it holds {', '.join(foreign) or 'no settings of cd7sim'}: move it away")
        if resume:
            if saved is None:
                raise InputError("--resume", str(self.folder), "nothing to resume: no PSA was interrupted here")
            changed = [key for key, value in self.fingerprint.items() if saved.get(key) != value]
            if changed:
                raise InputError("--resume", ", ".join(changed), "the interrupted PSA had other settings; run it again "
                                 "as it was, or without --resume to start afresh")
            for path in self._files(saved, temporary_only=True):
                path.unlink()
            return {first for first in range(0, self.plan.draws, BLOCK_DRAWS)
                    if all((self.folder / name).is_file() for name in self._block_names(first))}
        self.remove()
        self.folder.mkdir(parents=True)
        with atomic_path(self.folder / SETTINGS_FILE) as path:
            path.write_text(json.dumps({"written_by": "cd7sim", **self.fingerprint}, indent=2) + "\n", encoding="utf-8")
        return set()

    def save(self, first: int, psa: pd.DataFrame, parameters: pd.DataFrame) -> None:
        """Write one finished block (parameters first: a block counts as done once both files exist)."""
        for name, table in zip(self._block_names(first), (psa, parameters)):
            with atomic_path(self.folder / name) as path:
                table.to_parquet(path, index=False)

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every block, in order of draw (read back from the files, so that a resumed run and an uninterrupted one
        assemble the same tables the same way)."""
        firsts = range(0, self.plan.draws, BLOCK_DRAWS)
        psa = pd.concat([pd.read_parquet(self.folder / self._block_names(f)[0]) for f in firsts], ignore_index=True)
        parameters = pd.concat([pd.read_parquet(self.folder / self._block_names(f)[1]) for f in firsts], ignore_index=True)
        return psa, parameters

    def remove(self) -> None:
        """Remove the folder: only the files its own settings say a PSA wrote there (settings last), then the folder
        if that left it empty; a folder without cd7sim's settings is left alone."""
        saved = self._saved() if self.folder.is_dir() else None
        if saved is None:
            return
        for path in sorted(self._files(saved), key=lambda path: path.name == SETTINGS_FILE):
            path.unlink()
        if not any(self.folder.iterdir()):
            self.folder.rmdir()


def run_psa(plan: PsaPlan, progress: Progress, done: set[int], executor: Executor | None = None,
            on_draws=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute every block not done yet, saving each as it finishes; the PSA and parameters tables.

    Parameters
    ----------
    plan : PsaPlan
    progress : Progress
        Prepared by :meth:`Progress.start`.
    done : set of int
        The first draws of the blocks already done (:meth:`Progress.start`'s answer).
    executor : Executor, optional
        Where blocks run (default: serially).
    on_draws : callable, optional
        Called with the number of draws of each block finished (also those found done).
    """
    todo = [first for first in range(0, plan.draws, BLOCK_DRAWS) if first not in done]
    if on_draws is not None and done:
        on_draws(sum(min(BLOCK_DRAWS, plan.draws - first) for first in done))
    tasks = [(plan, range(first, min(first + BLOCK_DRAWS, plan.draws))) for first in todo]

    def finished(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        psa, parameters = result
        first = int(parameters["draw"].iloc[0])
        progress.save(first, psa, parameters)
        if on_draws is not None:
            on_draws(len(parameters))

    (executor or SerialExecutor()).map(run_block, tasks, on_result=finished)
    return progress.tables()

