"""The teaching app's inputs and figures: the lessons (files a teacher adds), the scenario text the app downloads,
and the figures of the report's teaching module (the pathway stages, the swimmer patients, the posterior band)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sim import api
from sim.inputs.errors import InputError
from sim.inputs.lessons import VIEWS, load_lesson
from sim.report.teaching_plots import STAGES, contrasting_patients, pathway_stages, survival_band
from tests.conftest import REPO

EVIDENCE_ID = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)+")


@pytest.fixture(scope="module")
def run() -> api.Run:
    return api.run("base", patients=400, seed=3, engine="cohort", workers=1, economics=False)


def test_the_lessons_cover_the_issue_and_cite_evidence():
    """At least the five lessons of the teaching brief plus cost per QALY; each cites EVIDENCE.md identifiers that
    the calibration files use (or, for a planner's input, the capacity lesson's volume figure)."""
    lessons = api.lessons()
    assert len(lessons) >= 6 and {lesson.view for lesson in lessons.values()} >= {"survival", "flow", "patients",
                                                                                  "capacity", "costs"}
    cited = "\n".join((REPO / "calibration" / name).read_text(encoding="utf-8")
                      for name in ("parameters.yaml", "values.yaml", "targets.csv"))
    for name, lesson in lessons.items():
        for evidence in lesson.evidence:
            assert EVIDENCE_ID.fullmatch(evidence), (name, evidence)
            assert evidence in cited or evidence == "SVC-VOLUME", (name, evidence)
        assert lesson.view in VIEWS


def test_lessons_are_not_builtin_scenarios():
    assert not any("lessons" in path.parts for path in api.builtin_scenarios().values())


def test_a_bad_lesson_is_one_line_naming_the_file_and_field(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("title: t\nquestion: q\nchange: c\nlook_for: l\nevidence: [HU-CR]\nview: survival\n"
                    "settings: {patients: -3}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^settings\.patients: got -3"):
        load_lesson(path)
    path.write_text("title: t\nquestion: q\nchange: c\nlook_for: l\nevidence: []\nview: survival\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^mine\.yaml:evidence"):
        load_lesson(path)


def test_the_downloaded_scenario_reads_back_as_the_same_scenario(tmp_path):
    for lesson in api.lessons().values():
        scenario = lesson.scenario_for()
        path = tmp_path / f"{scenario.name}.yaml"
        path.write_text(api.scenario_yaml(scenario), encoding="utf-8")
        assert api.load(path) == scenario


def test_every_patient_is_in_one_category_of_each_stage(run):
    stages = pathway_stages(run.patients)
    for stage, categories in STAGES:
        assert set(stages[stage]) <= set(categories)
    infused = run.patients["infused"].to_numpy()
    assert ((stages["Index treatment"] == "treated").to_numpy() == infused).all()
    assert (stages.loc[stages["Consolidation"] == "HSCT", "Response"] == "CR").all()
    assert (stages.loc[stages["1 year"] == "dead", "End of follow-up"] == "dead").all()


def test_the_swimmer_patients_differ_between_strategies_and_exist_under_each(run):
    ids = contrasting_patients(run.patients, 5)
    assert len(set(ids)) == 5
    for strategy, rows in run.patients.groupby("strategy", observed=True):
        assert set(ids) <= set(rows["patient_id"])
    text = run.swimmer_text(ids[:1])
    assert text.count(f"Patient {ids[0]},") == len(api.builtin_strategies())


def test_the_posterior_band_holds_its_median(run):
    tables = [run.patients, run.patients.assign(death_day=run.patients["death_day"] * 0.9)]
    band = survival_band(tables, np.arange(0.0, 25.0))
    assert set(band["strategy"]) == set(api.builtin_strategies())
    assert (band["lower"] <= band["median"] + 1e-12).all() and (band["median"] <= band["upper"] + 1e-12).all()
