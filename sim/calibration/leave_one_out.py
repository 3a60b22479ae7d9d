"""Leave-one-study-out validation: can the model, calibrated without a study, predict it?

Each publication is held out in turn: the model is calibrated (AMIS + SIR, :func:`sim.calibration.calibrate.calibrate`,
with the between-study intra-class correlation) on the targets of the other studies only, and the held-out
study is then replayed as a new cohort at its own size under that posterior (the posterior predictive check of
:func:`sim.calibration.predictive.posterior_predictive`, with between-study variation). A held-out figure inside
its 95% predictive interval is one the model predicted without having seen it.

Which targets are held out together (a *fold*): the targets of studies that share a source. A study's source is
the prefix of its targets' evidence ids (``CAO-OS2Y`` -> ``CAO``): the two arms of Cao 2024 (``cao2024`` and
``cao2024_chemo``) come from one publication and one centre, so they are held out together; studies linked by a
shared prefix form one fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.calibration.calibrate import calibrate, calibration_blocks
from sim.calibration.predictive import format_validation, posterior_predictive, predictive_blocks
from sim.calibration.studies import Target
from sim.inputs.errors import InputError
from sim.inputs.parameters import ParameterSet
from sim.inputs.scenario import Scenario
from sim.simulation.parallel import Executor, Progress

LEAVE_ONE_OUT_FILE, LEAVE_ONE_OUT_STUDIES_FILE = "leave_one_out.csv", "leave_one_out_studies.csv"
"""The tables ``cd7sim validate --leave-one-out`` writes: one row per held-out target; one per held-out study."""
ALL_STUDIES = "all studies"
"""The overall row of the per-study table."""


@dataclass(frozen=True)
class Budget:
    """The calibration budget of each fold (see :func:`sim.calibration.calibrate.calibrate`).

    Attributes
    ----------
    prior_draws : int
        Latin-hypercube prior draws (stage 0).
    stages, stage_draws : int
        Adaptive stages and draws per stage.
    posterior_draws : int
        Posterior draws resampled.
    seed : int
        Seed of every fold's calibration.
    """

    prior_draws: int
    stages: int
    stage_draws: int
    posterior_draws: int
    seed: int

    @property
    def draws(self) -> int:
        """Parameter draws simulated per fold."""
        return self.prior_draws + self.stages * self.stage_draws

    def describe(self) -> str:
        return (f"{self.prior_draws} prior draws + {self.stages} x {self.stage_draws} adaptive, "
                f"{self.posterior_draws} posterior draws, seed {self.seed}")


def source(target: Target) -> str:
    """The publication a target comes from: its evidence id up to the first ``-`` (``CAO-OS2Y`` -> ``CAO``)."""
    return target.evidence_id.split("-", 1)[0]


@dataclass(frozen=True)
class Fold:
    """Studies held out together.

    Attributes
    ----------
    studies : tuple of str
        The held-out study replays, in the order the targets name them.
    """

    studies: tuple[str, ...]

    @property
    def name(self) -> str:
        """The held-out studies, joined with `` + ``."""
        return " + ".join(self.studies)


def folds(targets: Sequence[Target]) -> list[Fold]:
    """The folds of leave-one-study-out: studies linked by a shared source (:func:`source`), in the order
    the targets first name them.

    Raises
    ------
    InputError
        When the targets come from fewer than two folds (nothing to calibrate on).
    """
    group: dict[str, str] = {}  # study or source -> representative (union-find)

    def find(key: str) -> str:
        while group.setdefault(key, key) != key:
            key = group[key]
        return key

    for t in targets:
        group[find("study:" + t.study)] = find("source:" + source(t))
    order: dict[str, list[str]] = {}
    for t in targets:
        members = order.setdefault(find("study:" + t.study), [])
        if t.study not in members:
            members.append(t.study)
    result = [Fold(tuple(studies)) for studies in order.values()]
    if len(result) < 2:
        raise InputError("--leave-one-out", True, "targets from at least two studies of different sources (evidence id "
                         "prefixes) are required: one is held out, the others calibrate")
    return result


@dataclass(frozen=True)
class LeaveOneOut:
    """The result of leave-one-study-out validation.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per held-out target: ``held_out`` (the fold) and the columns of
        :func:`sim.calibration.predictive.posterior_predictive`.
    studies : pandas.DataFrame
        One row per fold and a last row ``all studies``: ``held_out, training_targets, draws,
        effective_sample_size, icc_mean, icc_lower, icc_upper, targets, inside``.
    budget : Budget
    """

    table: pd.DataFrame
    studies: pd.DataFrame
    budget: Budget


def leave_one_out(
    params: ParameterSet,
    studies: dict[str, Scenario],
    targets: list[Target],
    budget: Budget,
    draws: int = 200,
    executor: Executor | None = None,
    on_done: Progress = None,
) -> LeaveOneOut:
    """Calibrate without each fold in turn and predict it.

    Parameters
    ----------
    params : ParameterSet
        Priors and fixed values.
    studies : dict of str to Scenario
        Study replays by name.
    targets : list of Target
    budget : Budget
        Each fold's calibration budget.
    draws : int
        Posterior draws replayed for the held-out studies.
    executor : Executor, optional
        Where draws are simulated (default serially); the result is the same on any executor.
    on_done : callable, optional
        Called once per task (see :func:`progress_blocks`).
    """
    tables, rows = [], []
    for fold in folds(targets):
        training = [t for t in targets if t.study not in fold.studies]
        held_out = [t for t in targets if t.study in fold.studies]
        result = calibrate(params, {n: s for n, s in studies.items() if n in {t.study for t in training}}, training,
                           budget.prior_draws, budget.stages, budget.stage_draws, budget.posterior_draws, budget.seed,
                           executor, on_done)
        table = posterior_predictive(result.posterior_frame(), params, {n: studies[n] for n in fold.studies}, held_out,
                                     draws, executor, on_done)
        table.insert(0, "held_out", fold.name)
        tables.append(table)
        icc = result.icc_summary()
        assert icc is not None, "calibrate draws the intra-class correlation"
        rows.append({"held_out": fold.name, "training_targets": len(training), "draws": budget.draws,
                     "effective_sample_size": result.effective_sample_size, "icc_mean": icc[0], "icc_lower": icc[1],
                     "icc_upper": icc[2], "targets": len(table), "inside": int(table.inside.sum())})
    table = pd.concat(tables, ignore_index=True)
    summary = pd.DataFrame(rows)
    overall = {"held_out": ALL_STUDIES, "targets": len(table), "inside": int(table.inside.sum())}
    summary = pd.concat([summary, pd.DataFrame([overall])], ignore_index=True)
    summary[["training_targets", "draws"]] = summary[["training_targets", "draws"]].astype("Int64")
    return LeaveOneOut(table, summary, budget)


def progress_blocks(targets: Sequence[Target], budget: Budget, draws: int) -> int:
    """Tasks (progress steps) of :func:`leave_one_out`: each fold's calibration and replay."""
    per_fold = (calibration_blocks(budget.prior_draws, budget.stages, budget.stage_draws)
                + predictive_blocks(draws, budget.posterior_draws))
    return len(folds(targets)) * per_fold


def format_leave_one_out(result: LeaveOneOut) -> str:
    """The printed report: every held-out target (as ``cd7sim validate`` prints them), then one line per
    held-out study and the overall count."""
    width = max(len(ALL_STUDIES), *(len(name) for name in result.studies.held_out)) + 2
    lines = [format_validation(result.table.drop(columns="held_out")).rsplit("\n", 1)[0], ""]
    lines.append(f"{'held-out study':<{width}}{'calibrated on':>14}{'ESS':>7}  {'ICC (95% interval)':<20}{'targets':>8}"
                 f"{'inside':>8}")
    r: Any  # a row of LeaveOneOut.studies
    for r in result.studies.itertuples():
        if r.held_out == ALL_STUDIES:
            fit = f"{'':>14}{'':>7}  {'':<20}"
        else:
            icc = f"{r.icc_mean:.3f} ({r.icc_lower:.3f}–{r.icc_upper:.3f})"
            fit = f"{f'{r.training_targets} targets':>14}{r.effective_sample_size:>7.0f}  {icc:<20}"
        lines.append(f"{r.held_out:<{width}}{fit}{r.targets:>8}{r.inside:>8}")
    total = result.studies.iloc[-1]
    lines.append(f"{total.inside} of {total.targets} held-out targets inside their 95% predictive interval "
                 f"(each fold calibrated on the other studies: {result.budget.describe()})")
    return "\n".join(lines)
