"""The teaching app (``cd7sim app``) in Streamlit's own test harness: every lesson runs and opens its view, every
control moves the results the way the clinic would expect, a bad scenario file gives the one-line message, and a
change of 5,000 patients x 4 strategies is shown within about a second."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from sim import api  # noqa: E402
from sim.cli import APP_SCRIPT, main  # noqa: E402

TIMEOUT = 300
PATIENTS = 1000
"""Patients per strategy in the control tests (enough for the directions to be far outside chance)."""


def _app(lesson: str = "", patients: int | None = PATIENTS) -> AppTest:
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    app.run()
    if lesson:
        app.selectbox(key="lesson").set_value(lesson).run()
    if patients is not None and any(slider.key == "patients" for slider in app.slider):
        app.slider(key="patients").set_value(patients).run()
    _no_failure(app)
    return app


def _no_failure(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def _headline(app: AppTest):
    return app.table[0].value


def _percent(app: AppTest, strategy: str, column: str) -> float:
    """A headline cell's estimate, percent (``44% (41–46)`` -> 44)."""
    cell = _headline(app).loc[strategy, column]
    match = re.match(r"(\d+)%", cell)
    assert match, cell
    return float(match.group(1))


def _interval_width(app: AppTest, strategy: str, column: str) -> float:
    low, high = re.search(r"\((\d+)–(\d+)\)", _headline(app).loc[strategy, column]).groups()
    return float(high) - float(low)


def _images(app: AppTest) -> list:
    return [element for element in app.main if type(element).__name__ == "Image"]


def test_the_app_opens_on_the_base_case_with_every_strategy():
    app = _app(patients=None)
    assert list(_headline(app).index) == list(api.builtin_strategies())
    assert _images(app), "no survival figure"
    assert len(app.get("download_button")) == 4
    assert app.session_state["view"] == "survival"


@pytest.mark.parametrize("name", list(api.lessons()))
def test_each_lesson_runs_and_opens_its_view(name):
    lesson = api.lessons()[name]
    app = _app(name, patients=None)
    scenario = lesson.scenario_for()
    assert list(_headline(app).index) == [s.name for s in scenario.strategies]
    assert app.session_state["view"] == lesson.view
    markdown = " ".join(m.value for m in app.markdown)
    assert lesson.title in " ".join(s.value for s in app.subheader)
    assert all(evidence in markdown for evidence in lesson.evidence)
    if lesson.view != "uncertainty":
        assert _images(app), f"lesson {name}: no figure in view {lesson.view}"


def test_hsct_uptake_moves_the_transplant_share():
    app = _app()
    before = _percent(app, "cart_bridge_allo", "HSCT")
    app.slider(key="cart_bridge_allo:hsct_uptake").set_value(0.0).run()
    _no_failure(app)
    assert before > 20 and _percent(app, "cart_bridge_allo", "HSCT") == 0
    assert _percent(app, "cart_haplo_no_prophylaxis", "HSCT") > 20  # the other strategies keep theirs


def test_a_later_transplant_transplants_fewer():
    app = _app()
    app.slider(key="cart_bridge_allo:hsct_interval_days").set_value(25.0).run()
    early = _percent(app, "cart_bridge_allo", "HSCT")
    app.slider(key="cart_bridge_allo:hsct_interval_days").set_value(120.0).run()
    _no_failure(app)
    assert _percent(app, "cart_bridge_allo", "HSCT") < early - 5


def test_mrd_guided_transplant_transplants_fewer():
    app = _app()
    before = _percent(app, "cart_bridge_allo", "HSCT")
    app.checkbox(key="cart_bridge_allo:mrd_guided").check().run()
    _no_failure(app)
    assert _percent(app, "cart_bridge_allo", "HSCT") < before / 2


def test_the_cd7_negative_multiplier_removes_cd7_negative_relapses():
    app = _app()
    before = _percent(app, "cart_alone", "CD7-neg relapses")
    app.slider(key="cart_alone:cd7_negative_multiplier").set_value(0.0).run()
    _no_failure(app)
    assert before > 10 and _percent(app, "cart_alone", "CD7-neg relapses") == 0


def test_strategies_cohort_size_and_seed():
    app = _app(patients=500)
    app.multiselect(key="strategies").set_value(["cart_alone", "chemo_allo"]).run()
    assert list(_headline(app).index) == ["cart_alone", "chemo_allo"]
    narrow_before = _interval_width(app, "cart_alone", "OS 1y")
    app.slider(key="patients").set_value(8000).run()
    assert _interval_width(app, "cart_alone", "OS 1y") < narrow_before
    table = _headline(app).copy()
    app.number_input(key="seed").set_value(7).run()
    _no_failure(app)
    assert not _headline(app).equals(table)
    app.multiselect(key="strategies").set_value([]).run()
    assert len(app.error) == 1 and app.error[0].value.startswith("cd7sim: error: strategies")


def test_any_parameter_within_its_evidence_range_with_its_evidence():
    app = _app()
    app.multiselect(key="chosen_parameters").set_value(["dropout_60d"]).run()
    slider = app.slider(key="parameter:dropout_60d")
    assert (slider.min, slider.max) == (0.03, 0.25)
    assert "Evidence: assumption" in slider.proto.help and "unobserved" in slider.proto.help
    before = _percent(app, "cart_alone", "Infused")
    slider.set_value(0.25).run()
    _no_failure(app)
    assert _percent(app, "cart_alone", "Infused") < before - 5


def test_manufacturing_slots_and_referrals_move_the_waiting():
    app = _app("05_manufacturing_capacity")
    assert app.session_state["capacity:manufacturing_slots"] == 3
    queued = _percent(app, "cart_bridge_allo", "Dropout waiting")
    app.slider(key="capacity:manufacturing_slots").set_value(12).run()
    _no_failure(app)
    relieved = _percent(app, "cart_bridge_allo", "Dropout waiting")
    assert relieved < queued - 10
    app.slider(key="replications").set_value(2).run()
    app.slider(key="rate").set_value(120.0).run()
    _no_failure(app)
    assert _percent(app, "cart_bridge_allo", "Dropout waiting") > relieved
    assert len(_images(app)) == 2  # utilisation and waits


@pytest.mark.parametrize("view", ["survival", "flow", "patients", "capacity", "costs"])
def test_every_view_shows_its_figures_with_a_text_alternative(view):
    app = _app(patients=300)
    app.session_state["view"] = view
    app.run()
    _no_failure(app)
    if view == "capacity":
        assert app.info, "a closed cohort explains where capacity is shown"
        return
    images = _images(app)
    assert images and all(image.proto.imgs[0].alt for image in images)
    assert app.expander and app.text


def test_the_swimmer_plot_follows_the_chosen_patients():
    app = _app(patients=300)
    app.session_state["view"] = "patients"
    app.run()
    app.text_input(key="swimmer_ids").input("5, 9").run()
    _no_failure(app)
    text = " ".join(t.value for t in app.text)
    assert "Patient 5, cart_alone" in text and "Patient 9, chemo_allo" in text and "Patient 3," not in text


def test_the_cost_setting_changes_the_currency():
    app = _app(patients=300)
    app.session_state["view"] = "costs"
    app.run()
    _no_failure(app)
    def cart_alone_cost() -> float:
        icers = app.dataframe[0].value
        return float(icers.loc[icers["strategy"] == "cart_alone", "cost"].iloc[0])

    us = cart_alone_cost()
    app.selectbox(key="cost_setting").set_value("china_payer").run()
    _no_failure(app)
    assert cart_alone_cost() > 1.5 * us  # yuan, not dollars


def test_the_uncertainty_band_is_drawn_on_demand():
    app = _app(patients=200)
    app.session_state["view"] = "uncertainty"
    app.run()
    assert not _images(app)
    app.slider(key="draws").set_value(5).run()
    app.button(key="draw_band").click().run()
    _no_failure(app)
    assert _images(app)
    band = app.dataframe[0].value
    assert set(band["month"]) == {12.0, 24.0} and (band["lower"] <= band["upper"]).all()


def test_a_bad_scenario_file_gives_the_one_line_message_and_a_good_one_is_used():
    app = _app(patients=300)
    app.text_area(key="pasted").input("name: mine\nseed: 1\npatients: -5\n").run()
    assert not app.exception
    (error,) = app.error
    assert error.value.startswith("cd7sim: error: ") and "\n" not in error.value
    good = api.scenario_yaml(api.load("base", patients=300)).replace("cart_alone", "cart_alone")
    good = good.replace("name: base", "name: uploaded", 1)
    app.text_area(key="pasted").input(good).run()
    _no_failure(app)
    assert app.session_state["base"].name == "uploaded"


def test_a_setting_seen_before_shows_the_same_results_again():
    """5,000 patients x 4 strategies: changing the seed changes the headline, changing it back shows the first results
    again, value for value (the runs are cached by their settings; the response time is measured, not asserted: see
    the README's app section)."""
    app = _app(patients=5000)
    headlines = []
    for seed in (11, 12, 11):
        app.number_input(key="seed").set_value(seed).run()
        _no_failure(app)
        headlines.append(_headline(app).to_csv())
    assert headlines[0] == headlines[2] != headlines[1]


def test_the_app_command_refuses_a_bad_port_and_names_the_extra(monkeypatch, capsys):
    assert main(["app", "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *args: None)
    assert main(["app"]) == 2
    assert "pip install 'cd7sim[app]'" in capsys.readouterr().err
