"""The library facade (sim.api) and its worked example in docs/library.md, which runs here as written."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from sim import api
from sim.inputs.codes import SUBGROUP_COLUMNS, SUBGROUPS
from sim.inputs.errors import InputError
from sim.io.files import MARKER
from sim.report.folders import CAPACITY_FIGURES, ECONOMIC_FIGURES, ECONOMIC_FILES, PATIENT_FIGURES, TABLE_FILES
from tests.conftest import REPO

DOC = REPO / "docs" / "library.md"


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_library_page_runs_as_written(tmp_path):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 4
    previous = Path.cwd()
    os.chdir(tmp_path)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            for block in blocks:
                exec(compile(block, str(DOC), "exec"), {})
    finally:
        os.chdir(previous)
    text = printed.getvalue()
    assert "'base'" in text and "'regional_centre'" in text
    assert (tmp_path / "survival.png").read_bytes()[:4] == b"\x89PNG"
    assert "['ce_plane.png', 'costs.png', 'flow.png', 'survival.png']" in text
    written = sorted(p.name for p in (tmp_path / "results" / "library_example").iterdir())
    assert written == sorted([MARKER, *TABLE_FILES, *ECONOMIC_FILES, *PATIENT_FIGURES, *ECONOMIC_FIGURES])
    assert "cost_total" in text and "qalys" in text and "ND" in text
    assert "patients: got 0;" in text
    assert "cart_bridge_allo" in text and "OS 1y" in text
    assert "T-LBL" in text and "age (years)" in text and "15–39" in text
    assert text.count("OS 1y") == 3  # the headlines of the second and last blocks, and the subgroup table
    assert "compiles the model" not in text


def test_a_run_holds_the_contract_tables_and_returns_figures():
    run = api.run("base", patients=200, seed=2)
    assert set(run.summary["strategy"]) == {s.name for s in run.scenario.strategies}
    assert len(run.patients) == 200 * len(run.scenario.strategies)
    figure = run.flow_figure()
    assert figure.axes and figure.axes[0].get_title()
    assert set(run.figures()) == {*PATIENT_FIGURES, *ECONOMIC_FIGURES}
    assert run.files() == (*TABLE_FILES, *ECONOMIC_FILES, *PATIENT_FIGURES, *ECONOMIC_FIGURES)


def test_subgroups_are_the_contract_table_and_the_table_by_subgroup_checks_its_name():
    run = api.run("base", patients=200, seed=2, workers=1)
    assert tuple(run.subgroups.columns) == SUBGROUP_COLUMNS
    assert list(run.subgroups.subgroup.unique()) == list(SUBGROUPS)
    assert "marrow blasts" in run.subgroup_table("blasts").splitlines()[0]
    with pytest.raises(InputError, match="^by: got 'sex'; one of disease, age_band, status, blasts is required$"):
        run.subgroup_table("sex")


def test_capacity_figures_only_where_capacity_matters():
    closed = api.load("base", patients=50)
    open_cohort = api.load("regional_centre", replications=1)
    assert closed.arrivals is None and not closed.capacity.limited()
    run = api.run(open_cohort, workers=1)
    assert set(run.figures()) == {*PATIENT_FIGURES, *ECONOMIC_FIGURES, *CAPACITY_FIGURES}
    assert "resource" in run.headline()


def test_built_in_names_and_files_load_the_same_scenario():
    assert api.load("base") == api.load(REPO / "scenarios" / "base.yaml")


@pytest.mark.parametrize("kwargs, message", [
    ({"patients": 0}, r"^patients: got 0;"),
    ({"engine": "fast"}, r"^--engine: got 'fast'; one of des, cohort is required$"),
])
def test_bad_input_raises_the_one_line_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        api.run("base", **kwargs)


def test_an_unknown_built_in_name_lists_the_built_ins():
    with pytest.raises(InputError, match=r"^scenario: got 'bse'; a scenario file, or a built-in scenario: base, "):
        api.load("bse")


def test_the_command_accepts_a_built_in_name(tmp_path, capsys):
    from sim.cli import main

    assert main(["run", "base", "--patients", "100", "--out", str(tmp_path / "out")]) == 0
    assert "cd7sim 0.1.0: scenario 'base'" in capsys.readouterr().out
