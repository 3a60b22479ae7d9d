"""sim.report.plots capacity figures (resource use over time, waits, capacity sweep) return figures with the
expected panels, capacity lines, legends and axis categories."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.report.plots import RESOURCE_LABELS, plot_sweep, plot_utilisation, plot_waits, save_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAN = float("nan")
STRATEGIES = ("cart_hsct", "cart_alone")
SERVERS = {"manufacturing": 3, "cart_bed": 2, "apheresis": 4, "donor_search": None}
WINDOW = (60.0, 240.0)
SWEEP_KEYS = ["capacity.manufacturing_slots", "capacity.cart_beds"]


@pytest.fixture
def figures() -> list[Figure]:
    """Every figure drawn by :func:`draw` in the test, in order, kept for inspection."""
    return []


def draw(plot, *args, path: Path, figures: list[Figure] | None = None, **kwargs) -> np.ndarray:
    """Call ``plot(*args, **kwargs)`` with warnings as errors, keep the figure it returns in ``figures``,
    save it to ``path``; check the PNG written and return it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = plot(*args, **kwargs)
        save_png(figure, path)
    if figures is not None:
        figures.append(figure)
    assert path.read_bytes().startswith(PNG_MAGIC)
    image = matplotlib.image.imread(path, format="png")
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] >= 100 and image.shape[1] >= 300
    return image


def titles(figure: Figure) -> list[str]:
    """Titles of the visible panels, row by row."""
    return [axes.get_title() for axes in figure.axes if axes.axison]


def legend_labels(figure: Figure) -> list[str]:
    """Labels of the figure-level legend."""
    (legend,) = figure.legends
    return [text.get_text() for text in legend.get_texts()]


def capacity_levels(axes: Axes) -> list[float]:
    """Heights of the capacity lines on a panel."""
    return [float(line.get_ydata()[0]) for line in axes.get_lines() if line.get_label() == "capacity"]


def message(figure: Figure) -> str:
    """The only text of a message figure."""
    (axes,) = figure.axes
    (text,) = axes.texts
    return text.get_text()


def occupancy_frame(resources=("donor_search", "cart_bed")) -> pd.DataFrame:
    """Two strategies × two replications × the resources on a 10-day grid over 300 days."""
    days = np.arange(0.0, 300.0, 10.0)
    rows = [
        {"strategy": strategy, "replication": replication, "resource": resource, "day": day,
         "in_use": float((day // 10 + replication + index + offset) % 3), "queue": float(day > 100) * (index + 1)}
        for offset, strategy in enumerate(STRATEGIES) for replication in (0, 1)
        for index, resource in enumerate(resources) for day in days
    ]
    return pd.DataFrame(rows).astype({"strategy": "category"})


def patients_frame() -> pd.DataFrame:
    """Waits for manufacturing (everyone, a sixth waits 0 days), CAR-T bed (half) and donor search (nobody)."""
    rows = []
    for replication in (0, 1):
        for strategy in STRATEGIES:
            for index in range(6):
                rows.append({
                    "strategy": strategy, "replication": replication,
                    "wait_manufacturing_days": float(index * (replication + 1)),
                    "wait_cart_bed_days": 2.0 + index if index % 2 else NAN,
                    "wait_donor_search_days": NAN,
                })
    return pd.DataFrame(rows)


def sweep_frame() -> pd.DataFrame:
    """Manufacturing slots 3, unlimited, 2 (out of order) × CAR-T beds 2, 4 × two strategies; the ICU bed
    mean wait is 0 throughout and the slots=3 shares have no interval."""
    rows = []
    for slots in (3, None, 2):
        for beds in (2, 4):
            for offset, strategy in enumerate(STRATEGIES):
                scale = 0.0 if slots is None else 1.0 / slots
                settings = {"capacity.manufacturing_slots": slots, "capacity.cart_beds": beds, "strategy": strategy}
                for resource, wait in (("manufacturing", 20.0 * scale + offset), ("cart_bed", 8.0 / beds + offset),
                                       ("icu_bed", 0.0)):
                    rows.append({**settings, "metric": "mean_wait_days", "resource": resource,
                                 "estimate": wait, "lower": max(wait - 1.0, 0.0), "upper": wait + 1.0})
                for metric, share in (("dropout_while_waiting", 0.1 * scale), ("death_while_waiting", 0.02),
                                      ("itt_os_2y", 0.6 - 0.1 * scale)):
                    interval = (NAN, NAN) if slots == 3 else (share - 0.01, share + 0.01)
                    rows.append({**settings, "metric": metric, "resource": NAN, "estimate": share,
                                 "lower": interval[0], "upper": interval[1]})
    return pd.DataFrame(rows)


def test_resource_labels_cover_the_six_resources_in_drawing_order():
    assert list(RESOURCE_LABELS) == [
        "apheresis", "manufacturing", "cart_bed", "icu_bed", "transplant_bed", "donor_search"]
    assert all(isinstance(label, str) and label for label in RESOURCE_LABELS.values())


def test_utilisation_draws_one_row_per_resource_in_resource_order(tmp_path: Path, figures):
    one = draw(plot_utilisation, occupancy_frame(("cart_bed",)), SERVERS, WINDOW, figures=figures, path=tmp_path / "one.tmp")
    two = draw(plot_utilisation, occupancy_frame(), SERVERS, WINDOW, figures=figures, path=tmp_path / "two.png")
    assert two.shape[0] > one.shape[0] and two.shape[1] == one.shape[1]
    figure = figures[-1]
    assert titles(figure) == ["CAR-T beds: in use", "CAR-T beds: waiting",
                              "Donor search: in use", "Donor search: waiting"]
    cart_use, _, search_use, _ = figure.axes
    assert capacity_levels(cart_use) == [2.0]
    assert cart_use.get_ylim()[1] > 2.0  # the capacity line is visible above the highest use (1.5)
    assert capacity_levels(search_use) == []
    assert legend_labels(figure) == [*STRATEGIES, "capacity", "warm-up", "end of observation window"]
    assert figure.get_suptitle() == "Resource use over time (mean of 2 replications)"
    assert cart_use.get_lines()[0].get_xdata()[-1] == pytest.approx(290.0 / 30.4375)


def test_utilisation_capacity_line_at_the_servers_and_all_zero_values_draw(tmp_path: Path, figures):
    occupancy = occupancy_frame(("apheresis",))
    occupancy[["in_use", "queue"]] = 0.0
    draw(plot_utilisation, occupancy, {**SERVERS, "apheresis": 1}, (0.0, 1000.0), figures=figures, path=tmp_path / "zeros.png")
    use_axes, wait_axes = figures[-1].axes
    assert capacity_levels(use_axes) == [1.0]
    assert wait_axes.get_ylim()[0] == 0.0 and wait_axes.get_ylim()[1] >= 1.0
    assert legend_labels(figures[-1]) == [*STRATEGIES, "capacity"]


def test_utilisation_of_an_empty_frame_writes_a_message(tmp_path: Path, figures):
    draw(plot_utilisation, occupancy_frame().iloc[:0], SERVERS, WINDOW, figures=figures, path=tmp_path / "empty.png")
    assert message(figures[-1]) == "No resource use recorded in this run"


def test_waits_draw_an_empirical_cdf_per_wait_with_data(tmp_path: Path, figures):
    draw(plot_waits, patients_frame(), figures=figures, path=tmp_path / "waits.png")
    figure = figures[-1]
    assert titles(figure) == ["Manufacturing slots (n asked = 24)", "CAR-T beds (n asked = 12)"]
    manufacturing, cart_bed = (axes for axes in figure.axes if axes.axison)
    curve = manufacturing.get_lines()[0]
    assert curve.get_xdata()[0] == 0.0 and curve.get_ydata()[0] == pytest.approx(2 / 12)
    assert curve.get_ydata()[-1] == 1.0 and np.all(np.diff(curve.get_ydata()) > 0)
    assert list(cart_bed.get_lines()[0].get_ydata()[:2]) == [0.0, pytest.approx(1 / 3)]


def test_waits_without_any_wait_write_the_nobody_waited_figure(tmp_path: Path, figures):
    patients = patients_frame()
    patients[["wait_manufacturing_days", "wait_cart_bed_days"]] = NAN
    draw(plot_waits, patients, figures=figures, path=tmp_path / "nobody.png")
    draw(plot_waits, patients[["strategy", "replication"]], figures=figures, path=tmp_path / "no_columns.png")
    assert [message(figure) for figure in figures] == ["Nobody waited for a resource in this run"] * 2


def test_sweep_puts_unlimited_last_and_skips_resources_nobody_waited_for(tmp_path: Path, figures):
    draw(plot_sweep, sweep_frame(), SWEEP_KEYS, figures=figures, path=tmp_path / "sweep.png")
    figure = figures[-1]
    assert titles(figure) == ["Manufacturing slots: mean wait", "CAR-T beds: mean wait",
                              "Progressed before infusion while waiting", "Died while waiting",
                              "2-year survival from referral"]
    for axes in figure.axes[:5]:
        assert [label.get_text() for label in axes.get_xticklabels()] == ["2", "3", "unlimited"]
    assert legend_labels(figure) == [*STRATEGIES, "cart_beds=2", "cart_beds=4"]
    assert figure.get_suptitle() == "Capacity sweep: capacity.manufacturing_slots, capacity.cart_beds"
    survival = figure.axes[4]
    assert survival.get_ylim()[1] > 50.0  # shares drawn as percent


def test_sweep_with_one_key_and_without_results(tmp_path: Path, figures):
    sweep = sweep_frame()
    one_key = sweep[(sweep["capacity.cart_beds"] == 2) & (sweep["metric"] == "itt_os_2y")]
    draw(plot_sweep, one_key.drop(columns="capacity.cart_beds"), SWEEP_KEYS[:1], figures=figures, path=tmp_path / "one_key.png")
    assert titles(figures[-1]) == ["2-year survival from referral"]
    assert legend_labels(figures[-1]) == list(STRATEGIES)
    draw(plot_sweep, sweep.iloc[:0], SWEEP_KEYS[:1], figures=figures, path=tmp_path / "empty.png")
    assert message(figures[-1]) == "No capacity-sweep results to draw"


def test_sweep_needs_a_key(tmp_path: Path):
    with pytest.raises(ValueError, match="swept setting"):
        plot_sweep(sweep_frame(), [])
