"""sim.report.plots survival and flow figures from a small patients table: their panels, curves and labels,
and the PNG they save to."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from sim.inputs.codes import PATIENT_COLUMNS, WAIT_COLUMNS
from sim.report.plots import plot_flow, plot_survival, save_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAN = float("nan")


def patients_table() -> pd.DataFrame:
    """Two replications of two strategies; ``cart_alone`` has no transplanted patients."""
    rows = []
    for replication in (0, 1):
        for strategy, transplant in (("cart_hsct", True), ("cart_alone", False)):
            for index, response in enumerate(["cr_mrd_neg", "cr_mrd_pos", "no_response", "not_assessed"]):
                infused = response != "not_assessed" or index % 2 == 0
                dies = index in (1, 2)
                relapses = response == "cr_mrd_pos"
                rows.append({
                    "scenario": "base", "strategy": strategy, "replication": replication, "patient_id": index,
                    "disease": "AML", "age": 40.0, "enrol_day": 0.0, "infused": infused,
                    "infusion_day": 20.0 if infused else NAN, "crs_grade": 1, "icans_grade": 0,
                    "response": response if infused else "not_assessed",
                    "response_day": 48.0 if response != "not_assessed" else NAN,
                    "hsct": transplant and index == 0, "hsct_day": 90.0 if transplant and index == 0 else NAN,
                    "agvhd_grade": 2 if transplant and index == 0 else 0, "cgvhd": False,
                    "relapse": relapses, "relapse_day": 200.0 + 50 * replication if relapses else NAN,
                    "relapse_cd7_negative": False, "death": dies,
                    "death_day": 400.0 + index if dies else NAN, "death_cause": "disease" if dies else "none",
                    "last_day": 400.0 + index if dies else 900.0,
                    "chimerism": "full_donor" if transplant and index == 0 else "none",
                    **{column: NAN for column in WAIT_COLUMNS}, "waiting_for": "none", "waiting_exit": "none",
                    "cart_source": "autologous", "donor_available": True, "prior_hsct": False,
                    "primary_refractory": False, "marrow_blasts": 30.0, "cart_stay_days": 7.0 if infused else NAN,
                    "icu_days": 0.0, "hsct_stay_days": 28.0 if transplant and index == 0 else NAN,
                })
    frame = pd.DataFrame(rows)[list(PATIENT_COLUMNS)]
    return frame.astype({"strategy": "category", "response": "category"})


@pytest.mark.parametrize("plot", [plot_survival, plot_flow])
def test_writes_png_even_without_png_suffix(plot, tmp_path: Path):
    path = tmp_path / "figure.tmp"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_png(plot(patients_table()), path)
    content = path.read_bytes()
    assert content.startswith(PNG_MAGIC)
    assert len(content) > 1000


def test_survival_plot_without_any_complete_response(tmp_path: Path):
    patients = patients_table()
    patients["response"] = "no_response"
    path = tmp_path / "survival.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = plot_survival(patients)
    save_png(figure, path)
    assert path.read_bytes().startswith(PNG_MAGIC)
    os_axes, dfs_axes = figure.axes
    assert len(os_axes.get_lines()) > 0
    assert dfs_axes.get_legend() is None or not dfs_axes.get_legend().get_texts()


def test_survival_plot_has_one_curve_per_strategy_in_each_panel():
    """Two panels (OS of infused patients, DFS of patients in CR), months on the x axis, survival on y,
    one labelled Kaplan-Meier curve per strategy."""
    figure = plot_survival(patients_table())
    os_axes, dfs_axes = figure.axes
    assert "Overall survival" in os_axes.get_title() and "Disease-free survival" in dfs_axes.get_title()
    for axes in (os_axes, dfs_axes):
        assert "month" in axes.get_xlabel().lower()
        labels = {line.get_label() for line in axes.get_lines() if not line.get_label().startswith("_")}
        assert labels == {"cart_hsct", "cart_alone"}


def test_flow_plot_labels_every_pathway_step():
    from sim.report.plots import FLOW_STEPS

    figure = plot_flow(patients_table())
    texts = {label.get_text() for axes in figure.axes for label in axes.get_yticklabels()}
    assert set(FLOW_STEPS) <= texts


def test_survival_plot_reads_as_a_journal_would_print_it():
    """Each curve has its 95% band in its own colour-blind-safe colour (Okabe-Ito), and each panel prints the
    numbers at risk under the axis every 12 months: at month 0 every patient of the panel's population."""
    from sim.outcomes.endpoints import OS_FROM_INFUSION, patient_columns
    from sim.report.plots import PALETTE

    patients = patients_table()
    figure = plot_survival(patients)
    os_axes, _ = figure.axes
    curves = [line for line in os_axes.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_color() for line in curves] == list(PALETTE[:len(curves)])
    bands = os_axes.collections
    assert len(bands) == len(curves)
    texts = [text.get_text() for text in os_axes.texts]
    assert "Number at risk" in texts
    assert list(os_axes.get_xticks()[:2]) == [0.0, 12.0]
    for name, rows in patients.groupby("strategy", observed=True, sort=False):
        infused = int(OS_FROM_INFUSION.observe(patient_columns(rows)).time.size)
        assert f"{infused:,}" in texts, name
