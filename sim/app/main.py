"""The teaching app's page (``cd7sim app`` runs it with Streamlit): lessons, controls, views and downloads.

It uses only the library facade :mod:`sim.api` (and :class:`sim.inputs.errors.InputError` for the one-line message
of a bad input). Runs are cached by their scenario (``st.cache_data``), so going back to a setting is instant; the
cohort engine runs 5,000 patients x 4 strategies in well under a second; runs with limited capacity (the
discrete-event engine) show a progress bar.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from sim import api
from sim.app.controls import (
    CAPACITY_CONTROLS,
    UNLIMITED,
    engine_for,
    estimate,
    headline_table,
    parameter_controls,
    strategy_defaults,
    strategy_with,
)
from sim.inputs.errors import InputError

FREE = ""
"""The lesson menu's entry for free exploration (the base case)."""
VIEW_LABELS: dict[str, str] = {"survival": "Survival", "flow": "Pathway flow", "patients": "Same patients",
                               "capacity": "Capacity", "costs": "Costs and QALYs", "uncertainty": "Uncertainty"}
STRATEGY_KEYS: tuple[str, ...] = ("hsct_interval_days", "hsct_uptake", "cd7_negative_multiplier", "mrd_guided")
FREE_PATIENTS = 2000
"""Patients per strategy of the free exploration's base case."""
BAND_PATIENTS = 1000
"""Most patients per strategy of each posterior draw's run (the band is about parameters, not chance)."""
FIGURE_DPI = 100
"""Resolution of the figures shown, dots per inch."""
LARGE_TEXT_CSS = """
<style>
html, body, [class*="st-"], .stMarkdown p, .stMarkdown li { font-size: 1.15rem; }
[data-testid="stDataFrame"] * { font-size: 1.05rem; }
h1 { font-size: 2.3rem !important; }
</style>
"""
"""Larger page text, for a projector."""

state = st.session_state


@st.cache_resource(show_spinner=False)
def _lessons() -> dict[str, api.Lesson]:
    return api.lessons()


@st.cache_resource(max_entries=16, show_spinner=False)
def _parameter_set(key: str, _scenario: api.Scenario) -> api.ParameterSet:
    """The parameter values of a scenario (``key``: its JSON), read once."""
    return _scenario.parameter_set()


@st.cache_data(max_entries=32, show_spinner=False)
def _simulate(key: str, _scenario: api.Scenario, engine: str, economics: bool) -> api.Run:
    """The run of a scenario (``key``: its JSON), cached."""
    return api.run(_scenario, engine=engine, workers=1, economics=economics)  # type: ignore[arg-type]


QUEUE_RUNS_KEPT = 8
"""Runs with queues (discrete-event engine) kept for going back to a setting."""


@st.cache_resource(show_spinner=False)
def _queue_runs() -> dict[tuple[str, bool], api.Run]:
    """The runs with queues, by scenario JSON and economics: kept by hand, since their progress bar is drawn while
    they run (which ``st.cache_data`` does not allow)."""
    return {}


@st.cache_data(max_entries=64, show_spinner=False)
def _png(key: str, view: str, detail: str, _draw: Callable[[], object]) -> bytes:
    """A figure as PNG bytes, cached by the run's ``key``, the ``view`` and the view's ``detail``."""
    with api.large_figures():
        figure = _draw()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)  # type: ignore[attr-defined]
    return buffer.getvalue()


@st.cache_resource(show_spinner=False)
def _bands() -> dict[tuple[str, int], pd.DataFrame]:
    """The posterior bands drawn, by scenario JSON and draws (kept by hand: their progress bar is drawn while they run)."""
    return {}


# --- the controls' state ---------------------------------------------------------------------------------------

def _reset(scenario: api.Scenario, view: str) -> None:
    """Every control at the values of ``scenario``; the page opens on ``view``."""
    for key in [k for k in state if isinstance(k, str) and (":" in k or k in ("patients", "rate", "replications"))]:
        del state[key]
    state.base = scenario
    state.strategies = [strategy.name for strategy in scenario.strategies]
    state.seed = scenario.seed
    state.view = view
    state.chosen_parameters = []
    state.cost_setting = scenario.economics.cost_setting
    if scenario.arrivals is None:
        state.patients = scenario.patients
    else:
        state.rate = float(scenario.arrivals.rate_per_year)
        state.replications = scenario.replications
        for field in CAPACITY_CONTROLS:
            state[f"capacity:{field}"] = getattr(scenario.capacity, field) or UNLIMITED


def _lesson_chosen() -> None:
    lesson = _lessons().get(state.lesson)
    if lesson is None:
        _reset(api.load("base", patients=FREE_PATIENTS), "survival")
    else:
        _reset(lesson.scenario_for(), lesson.view)
    state.pop("upload_error", None)


def _read_scenario(text: str, name: str) -> None:
    """Check a scenario file's text with the scenario schema; on success the controls take its values."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).name or "scenario.yaml")
        path.write_text(text, encoding="utf-8")
        try:
            scenario = api.load(path)
        except InputError as error:
            state.upload_error = f"cd7sim: error: {error}"
            return
    state.pop("upload_error", None)
    state.lesson = FREE
    _reset(scenario, "survival")


def _uploaded() -> None:
    upload = state.get("upload")
    if upload is not None:
        _read_scenario(upload.getvalue().decode("utf-8", errors="replace"), upload.name)


def _pasted() -> None:
    if state.get("pasted", "").strip():
        _read_scenario(state.pasted, "pasted.yaml")


def _strategy_pool(base: api.Scenario) -> dict[str, api.Strategy]:
    pool = {strategy.name: strategy for strategy in base.strategies}
    return {**pool, **{name: s for name, s in api.builtin_strategies().items() if name not in pool}}


# --- the sidebar -----------------------------------------------------------------------------------------------

def _sidebar(base: api.Scenario) -> None:
    lessons = _lessons()
    st.sidebar.selectbox("Lesson", [FREE, *lessons], key="lesson", on_change=_lesson_chosen,
                         format_func=lambda name: lessons[name].title if name in lessons else "Free exploration (base case)")
    pool = _strategy_pool(base)
    params = _parameter_set(base.model_dump_json(), base)
    st.sidebar.multiselect("Strategies", list(pool), key="strategies",
                           help="The same virtual patients go through each strategy (common random numbers).")
    for name in state.strategies:
        strategy = pool[name]
        defaults = strategy_defaults(params, strategy)
        with st.sidebar.expander(f"{name}", expanded=False):
            st.caption(strategy.description)
            for key, value in defaults.items():
                state.setdefault(f"{name}:{key}", value)
            if strategy.hsct_platform != "none":
                st.slider("HSCT interval (median days from infusion)", 14.0, 120.0, step=1.0, key=f"{name}:hsct_interval_days",
                          help="Days from CAR-T infusion (or chemotherapy start) to allo-HSCT. Evidence: HU-HSCT (within a "
                               "month), CAO-INTERVAL (median 57.5 d).")
                st.slider("HSCT uptake (share of eligible patients in CR)", 0.0, 1.0, step=0.05, key=f"{name}:hsct_uptake",
                          help="Probability that an eligible patient in CR is transplanted. Evidence: HU-HSCT 9/10, XIAO-HSCT 5/8.")
                st.checkbox("MRD-guided transplant (only an MRD-positive CR)", key=f"{name}:mrd_guided",
                            help="Transplant only patients whose CR is MRD-positive at the response assessment. "
                                 "Evidence: CAO-MRD, HSCT-MRD-AML.")
            if strategy.index_therapy == "cart":
                st.slider("CD7-negative multiplier", 0.0, 1.0, step=0.05, key=f"{name}:cd7_negative_multiplier",
                          help="Multiplier on CD7-negative non-response and relapse: 1 = CD7 CAR-T as studied, below 1 a "
                               "dual-target product (an assumption: none has been studied). Evidence: AML-CD7LOSS, HU-STATUS.")
    if base.arrivals is None:
        st.sidebar.slider("Patients per strategy", 100, 20000, step=100, key="patients",
                          help="A closed cohort, all enrolled on day 0; more patients, narrower intervals.")
    else:
        st.sidebar.slider("Referrals a year (open cohort)", 5.0, 150.0, step=5.0, key="rate",
                          help="Mean referrals a year, a Poisson process (the planner's input; SVC-VOLUME).")
        for field, label in CAPACITY_CONTROLS.items():
            st.sidebar.slider(f"{label} (0 = unlimited)", 0, 30, key=f"capacity:{field}",
                              help="A planner's input, not evidence (SVC-V2V: a slot is held from apheresis to release).")
        st.sidebar.slider("Replications", 1, 20, key="replications", help="Independent replications (95% intervals across them).")
    st.sidebar.number_input("Seed", min_value=0, step=1, key="seed",
                            help="The same seed gives the same virtual patients; another seed, another sample of them.")
    controls = parameter_controls(params)
    st.sidebar.multiselect("Any parameter (within its evidence range)", list(controls), key="chosen_parameters",
                           help="Pick parameters of calibration/parameters.yaml; each slider spans its evidence range.")
    for name in state.chosen_parameters:
        control = controls[name]
        state.setdefault(f"parameter:{name}", control.value)
        st.sidebar.slider(f"{name} ({control.unit})", control.low, control.high, step=(control.high - control.low) / 100,
                          key=f"parameter:{name}", help=control.help, format="%.3f")
    with st.sidebar.expander("Your own scenario file"):
        st.file_uploader("Upload a scenario YAML", type=["yaml", "yml"], key="upload", on_change=_uploaded,
                         help="Checked with the same schema as `cd7sim run`.")
        st.text_area("…or paste one", key="pasted", on_change=_pasted, height=120)


def _scenario(base: api.Scenario) -> api.Scenario:
    """The scenario the controls describe (raises InputError for a combination the schema refuses)."""
    pool = _strategy_pool(base)
    strategies = [strategy_with(pool[name], {key: state[f"{name}:{key}"] for key in STRATEGY_KEYS if f"{name}:{key}" in state})
                  for name in state.strategies]
    parameters = {**base.parameters, **{name: float(state[f"parameter:{name}"]) for name in state.chosen_parameters
                                        if f"parameter:{name}" in state}}
    changes: dict[str, object] = {"strategies": strategies, "seed": int(state.seed), "parameters": parameters}
    if base.arrivals is None:
        changes["patients"] = int(state.patients)
    else:
        changes["arrivals"] = {**base.arrivals.model_dump(), "rate_per_year": float(state.rate)}
        changes["replications"] = int(state.replications)
        capacity = {field: (None if state[f"capacity:{field}"] == UNLIMITED else int(state[f"capacity:{field}"]))
                    for field in CAPACITY_CONTROLS}
        changes["capacity"] = {**base.capacity.model_dump(), **capacity}
    return api.validated(base, changes)


# --- the views -------------------------------------------------------------------------------------------------

def _figure(key: str, view: str, detail: str, draw: Callable[[], object], alt: str) -> None:
    st.image(_png(key, view, detail, draw), alt=alt, width="stretch")
    with st.expander("Text alternative"):
        st.text(alt)


def _survival_text(run: api.Run) -> str:
    lines = []
    for strategy in dict.fromkeys(map(str, run.summary["strategy"])):
        values = [f"{label} {estimate(run.summary, strategy, metric):.0%}" for metric, label
                  in (("os_1y", "OS 1 year"), ("os_2y", "OS 2 years"), ("pfs_1y", "PFS 1 year"), ("dfs_1y", "DFS 1 year"))]
        lines.append(f"{strategy}: " + ", ".join(values) + " (from infusion).")
    return "Kaplan–Meier overall and disease-free survival by strategy with 95% bands.\n" + "\n".join(lines)


def _run(scenario: api.Scenario, key: str, economics: bool) -> api.Run:
    """The run of ``scenario``; on the first run of an installation, a note that the model is being compiled."""
    compiling = None if api.compiled_logic_cached() else st.info(
        "First run of this installation: compiling the model (about ten seconds, once; later runs load it)…")
    try:
        return _simulated(scenario, key, economics)
    finally:
        if compiling is not None:
            compiling.empty()


def _simulated(scenario: api.Scenario, key: str, economics: bool) -> api.Run:
    engine = engine_for(scenario)
    if engine == "cohort":
        return _simulate(key, scenario, engine, economics)
    kept = _queue_runs()
    if (key, economics) in kept:
        return kept[(key, economics)]
    bar = st.progress(0.0, text=f"Simulating {scenario.replications} replication(s) with queues (discrete-event engine)…")
    done = [0]

    def advance() -> None:
        done[0] += 1
        bar.progress(min(done[0] / scenario.replications, 1.0), text=f"Replication {done[0]} of {scenario.replications}")

    run = api.run(scenario, engine="des", workers=1, economics=economics, on_done=advance)
    bar.empty()
    while len(kept) >= QUEUE_RUNS_KEPT:
        kept.pop(next(iter(kept)))
    kept[(key, economics)] = run
    return run


def _view(view: str, scenario: api.Scenario, run: api.Run, key: str) -> None:
    if view == "survival":
        _figure(key, view, "", run.survival_figure, _survival_text(run))
    elif view == "flow":
        st.caption("Each column is a step of the pathway; each ribbon, the patients moving from one category to the next.")
        _figure(key, view, "", run.alluvial_figure, run.alluvial_text())
    elif view == "patients":
        _patients_view(run, key)
    elif view == "capacity":
        _capacity_view(scenario, run, key)
    elif view == "costs":
        _costs_view(scenario, key)
    else:
        _uncertainty_view(scenario, key)


def _patients_view(run: api.Run, key: str) -> None:
    st.caption("Common random numbers: a patient id is the same person (same disease, age, and luck) under every strategy, "
               "so each group of bars differs only by strategy.")
    count = st.slider("Patients shown", 2, 8, 4, key="swimmer_count")
    typed = st.text_input("Or choose patient ids (comma-separated)", key="swimmer_ids")
    ids = [int(word) for word in typed.replace(",", " ").split() if word.isdigit()] or run.contrasting_patients(count)
    _figure(key, "patients", ",".join(map(str, ids)), lambda: run.swimmer_figure(ids), run.swimmer_text(ids))


def _capacity_view(scenario: api.Scenario, run: api.Run, key: str) -> None:
    if not scenario.capacity.limited():
        st.info("Capacity is unlimited in this scenario. Open the lesson on manufacturing capacity (an open cohort of "
                "referrals with limited slots and beds) to see waiting and utilisation.")
        return
    resources = run.resources[run.resources["metric"].isin(["utilisation", "mean_wait_days", "p95_wait_days", "mean_queue"])]
    table = resources.pivot_table(index=["strategy", "resource", "capacity"], columns="metric", values="estimate",
                                  observed=True, sort=False).round(2)
    alt = "Resource use and waits by strategy (means over replications):\n" + table.to_string()
    _figure(key, "utilisation", "", run.utilisation_figure, alt)
    _figure(key, "waits", "", run.waits_figure, alt)
    st.dataframe(table, width="stretch")


def _costs_view(scenario: api.Scenario, key: str) -> None:
    settings = list(scenario.economics.value_set().settings)
    st.selectbox("Cost setting", settings, key="cost_setting", help="Prices of values.yaml: COST-CART-US, COST-HSCT-US, COST-CART-CN.")
    priced = api.with_cost_setting(scenario, state.cost_setting)
    priced_key = priced.model_dump_json()
    with st.spinner("Costs and QALYs over each patient's lifetime…"):
        run = _run(priced, priced_key, economics=True)
    economics = run.economics[run.economics["metric"].isin(["cost_total", "qalys", "life_years"])]
    table = economics.pivot_table(index="strategy", columns="metric", values="estimate", observed=True, sort=False).round(2)
    icers = run.icers.round(2)
    st.dataframe(icers, width="stretch", hide_index=True)
    alt = "Mean discounted cost and QALYs per patient:\n" + table.to_string() + "\n\nIncremental analysis:\n" + icers.to_string()
    _figure(priced_key, "ce_plane", "", run.ce_plane_figure, alt)
    _figure(priced_key, "costs", "", run.costs_figure, alt)


def _uncertainty_view(scenario: api.Scenario, key: str) -> None:
    if scenario.arrivals is not None or scenario.capacity.limited():
        st.info("The posterior band is drawn for a closed cohort without capacity limits (the cohort engine).")
        return
    st.caption("The intervals of the headline table are chance alone (how many virtual patients). The band here adds "
               "what the studies leave unknown: each draw is one set of parameters the calibration finds plausible.")
    draws = st.slider("Posterior draws", 5, 50, 20, step=5, key="draws")
    if st.button("Draw the uncertainty band", key="draw_band"):
        state.band_for = (key, draws)
    if state.get("band_for") != (key, draws):
        return
    bands = _bands()
    if (key, draws) not in bands:
        bar = st.progress(0.0, text=f"Posterior draw 1 of {draws}")
        done = [0]

        def advance() -> None:
            done[0] += 1
            bar.progress(min(done[0] / draws, 1.0), text=f"Posterior draw {done[0]} of {draws}")

        patients = min(scenario.patients or BAND_PATIENTS, BAND_PATIENTS)
        bands[(key, draws)] = api.uncertainty_band(list(api.posterior_runs(scenario, draws, patients=patients, on_done=advance)))
        bar.empty()
    band = bands[(key, draws)]
    at = band[band["month"].isin([12.0, 24.0])].round(3)
    alt = "Overall survival from infusion: median and 95% band over the draws, at 12 and 24 months:\n" + at.to_string(index=False)
    _figure(key, "uncertainty", str(draws), lambda: api.uncertainty_figure(band, draws), alt)
    st.dataframe(at, width="stretch", hide_index=True)


def _downloads(scenario: api.Scenario, run: api.Run) -> None:
    st.subheader("Downloads")
    columns = st.columns(4)
    columns[0].download_button("Scenario (YAML)", api.scenario_yaml(scenario), file_name=f"{scenario.name}.yaml", mime="application/x-yaml")
    columns[1].download_button("Summary (CSV)", run.summary.to_csv(index=False), file_name="summary.csv", mime="text/csv")

    def parquet() -> bytes:
        buffer = io.BytesIO()
        run.patients.to_parquet(buffer, index=False)
        return buffer.getvalue()

    columns[2].download_button("Patients (CSV)", lambda: run.patients.to_csv(index=False), file_name="patients.csv", mime="text/csv")
    columns[3].download_button("Patients (parquet)", parquet, file_name="patients.parquet", mime="application/octet-stream")


def _lesson_card(name: str) -> None:
    lesson = _lessons().get(name)
    if lesson is None:
        st.markdown("Choose a **lesson** in the sidebar, or move any control: the results follow.")
        return
    with st.container(border=True):
        st.subheader(lesson.title)
        st.markdown(f"**Question.** {lesson.question}\n\n**What to change.** {lesson.change}\n\n"
                    f"**What to look for.** {lesson.look_for}\n\n**Evidence** (EVIDENCE.md): {', '.join(lesson.evidence)}")


def main() -> None:
    """The page: lesson, headline table, the chosen view, downloads."""
    started = time.perf_counter()
    api.tune_memory()
    st.set_page_config(page_title="cd7sim teaching app", layout="wide")
    st.markdown(LARGE_TEXT_CSS, unsafe_allow_html=True)
    if "base" not in state:
        state.lesson = FREE
        _reset(api.load("base", patients=FREE_PATIENTS), "survival")
    st.title("CD7 CAR-T and transplant: the pathway trade-offs")
    _sidebar(state.base)
    if "upload_error" in state:
        st.error(state.upload_error)
    _lesson_card(state.lesson)
    try:
        scenario = _scenario(state.base)
    except InputError as error:
        st.error(f"cd7sim: error: {error}")
        return
    key = scenario.model_dump_json()
    run = _run(scenario, key, economics=False)
    cohort = (f"{scenario.patients:,} patients per strategy" if scenario.arrivals is None
              else f"{scenario.arrivals.rate_per_year:g} referrals a year, {scenario.replications} replication(s)")
    st.subheader("Headline")
    st.table(headline_table(run.summary, waiting=bool(scenario.capacity.limited())))
    state.response_seconds = time.perf_counter() - started
    st.caption(f"{cohort}; engine {engine_for(scenario)}; seed {scenario.seed}; shown {state.response_seconds:.2f} s after the "
               "change. Percent with 95% intervals. CR and HSCT among "
               "infused; OS and PFS from infusion; NRM and relapse 2 years from HSCT among transplanted; ITT OS from referral.")
    st.segmented_control("View", list(VIEW_LABELS), key="view", format_func=VIEW_LABELS.__getitem__, required=True)
    _view(state.view, scenario, run, key)
    _downloads(scenario, run)


main()
