"""`cd7sim report`: one self-contained HTML document of a run folder (and a PSA folder), the same bytes each time.

The report is parsed as a browser would (html5lib, strictly: any parse error fails); it must fetch nothing
(no script, stylesheet, font or image from elsewhere), name every strategy, every parameter with each of its
evidence ids, and answer every item of STRESS-DES (24) and CHEERS 2022 (28). A test marked ``browser`` renders
it in headless chromium.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import html5lib
import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.inputs.parameters import load_parameters
from sim.inputs.scenario import Scenario, load_scenario
from sim.inputs.strategies import resolve_strategy
from sim.report.pathway import pathway_svg, strategy_steps
from tests.conftest import BASE_SCENARIO, REPO

NS = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"
STRESS_ITEMS = ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5.1", "2.5.2", "2.5.3", "2.5.4", "2.5.5", "3.1", "3.2",
                "3.3", "3.4", "4.1", "4.2", "4.3", "5.1", "5.2", "5.3", "5.4", "6.1"]
CHEERS_ITEMS = [str(number) for number in range(1, 29)]
PSA_PARAMETERS = ("cr_cart_aml", "nrm_haplo_no_prophylaxis", "relapse_conventional_after_cart")
"""Parameters of the synthetic PSA (real names, so the report can say what they are)."""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    """A small base-case run folder written by `cd7sim run`, and what the command printed."""
    folder = tmp_path_factory.mktemp("report") / "base"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", "base", "--patients", "200", "--seed", "3", "--out", str(folder)]) == 0
    return folder, printed.getvalue()


@pytest.fixture(scope="module")
def run_dir(run) -> Path:
    return run[0]


@pytest.fixture(scope="module")
def psa_dir(run_dir, tmp_path_factory):
    """A synthetic PSA folder of the run's strategies: 60 draws whose costs and QALYs depend on three parameters."""
    folder = tmp_path_factory.mktemp("psa") / "psa"
    folder.mkdir()
    rng = np.random.default_rng(11)
    draws = np.arange(60)
    parameters = pd.DataFrame({"draw": draws, **{name: rng.uniform(0.2, 0.8, draws.size) for name in PSA_PARAMETERS}})
    strategies = pd.read_csv(run_dir / "icers.csv")["strategy"].tolist()
    rows = []
    for draw, (a, b, c) in zip(draws, parameters[list(PSA_PARAMETERS)].to_numpy()):
        for index, strategy in enumerate(strategies):
            rows.append({"draw": int(draw), "strategy": strategy, "cost": 200_000 + 150_000 * index + 50_000 * a,
                         "qalys": 1.0 + 0.8 * index * b - 0.5 * c + rng.normal(0, 0.1)})
    pd.DataFrame(rows).to_parquet(folder / "psa.parquet", index=False)
    parameters.to_parquet(folder / "parameters.parquet", index=False)
    return folder


def _report(run_dir: Path, out: Path, *extra: str) -> str:
    assert main(["report", str(run_dir), "--out", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory):
    """The report of the run folder, without a PSA folder."""
    return _report(run_dir, tmp_path_factory.mktemp("out") / "report.html")


def _parse(html: str):
    """The document as html5lib parses it, strictly (a parse error raises)."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=True).parse(html)


def _text(element) -> str:
    return " ".join("".join(element.itertext()).split())


def test_run_prints_the_command_that_makes_the_report(run):
    folder, printed = run
    assert printed.splitlines()[-1] == f"Report: cd7sim report {folder}"


def test_the_report_parses_and_fetches_nothing(report):
    document = _parse(report)
    for element in document.iter():
        for attribute in ("src", "href", "srcset", "data", "poster", "action"):
            value = element.get(attribute)
            if value is not None:
                assert value.startswith(("data:", "#")), f"{element.tag} {attribute}={value[:80]}"
    assert document.find(f".//{NS}script") is None
    assert document.find(f".//{NS}link") is None
    styles = " ".join(_text(style) for style in document.iter(f"{NS}style"))
    assert "@import" not in styles and "@font-face" not in styles
    assert re.findall(r"url\((?!#)", report) == [], "url() to anything but an id of the page"
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", report, re.IGNORECASE)


def test_the_report_names_every_strategy_and_every_parameter_with_its_evidence(report, run_dir):
    document = _parse(report)
    text = _text(document)
    scenario = load_scenario(BASE_SCENARIO)
    for strategy in scenario.strategies:
        assert strategy.name in text
        assert strategy.name in _text(document.find(f".//{SVG}svg"))
    rows = {row.get("id"): _text(row) for row in document.iter(f"{NS}tr") if row.get("id")}
    registry = load_parameters().registry
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    used = info["parameters"]
    assert set(used) == set(registry)
    for name, spec in registry.items():
        row = rows[f"param-{name}"]
        assert row.startswith(name)
        for identifier in spec.evidence:
            assert identifier in row, f"{name}: {identifier}"
    values = Scenario.model_validate(info["scenario"]).economics.value_set()
    for name in (n for n in values.entries if n.startswith(("cost_settings.us_payer.", "utility_sets.default.", "discount_"))):
        row = rows[f"value-{name}"]
        assert all(identifier in row for identifier in values.entries[name].evidence), name


def test_the_report_answers_every_checklist_item(report):
    document = _parse(report)
    tables = [table for table in document.iter(f"{NS}table") if table.get("class") == "checklist"]
    assert len(tables) == 2
    for table, items in zip(tables, (STRESS_ITEMS, CHEERS_ITEMS)):
        rows = table.findall(f"{NS}tbody/{NS}tr")
        assert [_text(row.find(f"{NS}th")) for row in rows] == items
        for row in rows:
            where, answer = (_text(cell) for cell in row.findall(f"{NS}td")[1:])
            assert where and answer
            assert row.get("class") in ("reported", "not_applicable", "author")
            if row.get("class") == "not_applicable":
                assert answer.startswith("Not applicable:")
    cheers = {_text(row.find(f"{NS}th")): row.get("class") for row in tables[1].findall(f"{NS}tbody/{NS}tr")}
    assert cheers["27"] == cheers["28"] == "author"  # funding and conflicts of interest: for the author
    ids = {element.get("id") for element in document.iter() if element.get("id")}
    links = {element.get("href")[1:] for element in document.iter(f"{NS}a") if (element.get("href") or "").startswith("#")}
    assert links <= ids, f"links to no section: {links - ids}"


def test_the_same_inputs_give_the_same_bytes(run_dir, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    first = out.read_bytes()
    assert main(["report", str(run_dir), "--out", str(out)]) == 0  # a report cd7sim wrote is replaced
    assert out.read_bytes() == first
    assert len(first) < 3_000_000


def test_without_a_psa_folder_the_report_says_what_is_missing(report):
    text = _text(_parse(report))
    assert "No PSA folder was given" in text


def test_evidence_source_text_comes_from_the_file_given(run_dir, tmp_path):
    evidence = tmp_path / "EVIDENCE.md"
    evidence.write_text("# Evidence\n\n## 1. Hu et al., NEJM 2024 — all-in-one\n\n| id | value | n | notes | source |\n"
                        "|---|---|---|---|---|\n| HU-CR | 10/10 CR with incomplete haematologic recovery | 10 | | seed |\n",
                        encoding="utf-8")
    html = _report(run_dir, tmp_path / "r.html", "--evidence", str(evidence))
    rows = {row.get("id"): _text(row) for row in _parse(html).iter(f"{NS}tr") if row.get("id")}
    assert "HU-CR 1. Hu et al., NEJM 2024: 10/10 CR with incomplete haematologic recovery · 10 · seed" in rows["param-cr_cart_aml"]
    assert "AML-CR not found in EVIDENCE.md" in rows["param-cr_cart_aml"]


def test_a_psa_folder_adds_the_uncertainty_figures(run_dir, psa_dir, tmp_path):
    html = _report(run_dir, tmp_path / "psa.html", "--psa", str(psa_dir))
    document = _parse(html)
    section = next(s for s in document.iter(f"{NS}section") if s.get("id") == "uncertainty")
    text = _text(section)
    assert "60 draws of 4 strategies and 3 parameters" in text
    figures = {figure.get("id"): figure for figure in section.iter(f"{NS}figure")}
    for drawn in ("figure-psa-plane", "figure-ceac", "figure-loss", "figure-evpi"):
        assert figures[drawn].find(f".//{NS}img") is not None, drawn
    assert figures["figure-evppi"].find(f".//{NS}img") is None  # evppi.csv needs cd7sim cea
    assert "evppi.csv" in text and "tornado.csv" in text and "sobol.csv" in text
    assert "Computed by the report from the draws" in text


def test_a_cea_folder_with_a_sensitivity_table_is_read_as_it_is(run_dir, psa_dir, tmp_path, capsys):
    cea = tmp_path / "cea"
    assert main(["cea", str(psa_dir), "--out", str(cea), "--currency", "USD"]) == 0
    for name in ("psa.parquet", "parameters.parquet"):
        shutil.copy(psa_dir / name, cea / name)
    pd.DataFrame({"parameter": list(PSA_PARAMETERS), "S1": [0.5, 0.3, 0.1], "S1_conf": [0.05] * 3, "ST": [0.55, 0.35, 0.12],
                  "ST_conf": [0.05] * 3}).to_csv(cea / "sobol.csv", index=False)
    html = _report(run_dir, tmp_path / "cea.html", "--psa", str(cea))
    section = next(s for s in _parse(html).iter(f"{NS}section") if s.get("id") == "uncertainty")
    text = _text(section)
    assert all(figure.find(f".//{NS}img") is not None for figure in section.iter(f"{NS}figure"))
    assert "Sobol sensitivity indices" in text and "cr_cart_aml" in text
    assert "Computed by the report" not in text


def test_dsa_and_gsa_folders_join_the_uncertainty_section(run_dir, psa_dir, tmp_path):
    """`--sensitivity DIR` (repeatable): a folder of cd7sim dsa (tornado.csv and its figure) and one of cd7sim gsa
    (morris.csv) join the PSA's section; without --psa the option is refused."""
    dsa, gsa = tmp_path / "dsa", tmp_path / "gsa"
    dsa.mkdir()
    gsa.mkdir()
    pd.DataFrame({"input": ["cr_cart_aml"], "evidence": ["AML-N"], "base": [0.7], "low": [0.5], "high": [0.9],
                  "outcome_low": [1.0], "outcome_high": [3.0], "width": [2.0]}).to_csv(dsa / "tornado.csv", index=False)
    shutil.copy(REPO / "docs" / "figures" / "base_tornado.png", dsa / "tornado.png")
    pd.DataFrame({"input": ["cr_cart_aml"], "evidence": ["AML-N"], "mu_star": [1.0], "mu_star_conf": [0.1], "mu": [1.0],
                  "sigma": [0.2]}).to_csv(gsa / "morris.csv", index=False)
    html = _report(run_dir, tmp_path / "sens.html", "--psa", str(psa_dir), "--sensitivity", str(dsa), "--sensitivity", str(gsa))
    section = next(s for s in _parse(html).iter(f"{NS}section") if s.get("id") == "uncertainty")
    text = _text(section)
    assert "One-way sensitivity analysis (tornado, cd7sim dsa)" in text and "Morris screening" in text
    figures = {figure.get("id"): figure for figure in section.iter(f"{NS}figure")}
    assert figures["figure-tornado"].find(f".//{NS}img") is not None
    assert main(["report", str(run_dir), "--sensitivity", str(dsa), "--out", str(tmp_path / "no.html")]) == 2
    assert not (tmp_path / "no.html").exists()


@pytest.mark.parametrize("case", ["inside the run folder", "a file that is not a report", "a folder without run.json",
                                  "a PSA folder without its files"])
def test_bad_report_arguments_are_one_line(case, run_dir, report, tmp_path, capsys):
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>", encoding="utf-8")
    argv = {
        "inside the run folder": ["report", str(run_dir), "--out", str(run_dir / "report.html")],
        "a file that is not a report": ["report", str(run_dir), "--out", str(notes)],
        "a folder without run.json": ["report", str(empty), "--out", str(tmp_path / "r.html")],
        "a PSA folder without its files": ["report", str(run_dir), "--psa", str(empty), "--out", str(tmp_path / "r.html")],
    }[case]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("cd7sim: error: ") and error.count("\n") == 1, error
    assert notes.read_text(encoding="utf-8") == "<p>my notes</p>"
    assert not (run_dir / "report.html").exists()


def test_the_pathway_follows_the_strategies_fields(params):
    strategies = [resolve_strategy({"name": "universal_mrd", "base": "cart_bridge_allo", "cart_source": "universal",
                                    "hsct_for": "mrd_positive", "salvage_after_hsct_relapse": "dli", "hsct_interval_days": 40},
                                   "strategies[0]"),
                  resolve_strategy("chemo_allo", "strategies[1]")]
    steps = " | ".join(f"{step.title}: {step.detail}" for step in strategy_steps(strategies[0], params))
    assert "Product allocated: universal product" in steps and "Apheresis" not in steps
    assert "MRD-positive CR only" in steps and "at ~40 d" in steps and "donor lymphocyte infusion" in steps
    svg = pathway_svg(strategies, params)
    first, second = svg.split("chemo_allo:")
    assert "universal_mrd:" in first and "Product allocated" in first and "Salvage chemotherapy" in second


# --- in a browser ----------------------------------------------------------------------------------------

CHROMIUM = next((Path(p) for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).is_file()), None)


@pytest.mark.browser
def test_the_report_renders_in_a_browser_without_fetching_anything(report, tmp_path):
    """Headless chromium opens the file: the page has text and a figure, and asks for nothing but the file itself
    and its data: images."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    page_file = tmp_path / "report.html"
    page_file.write_text(report, encoding="utf-8")
    requested: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(page_file.as_uri(), wait_until="load")
            text = page.inner_text("body")
            images = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
            height = page.evaluate("document.body.scrollHeight")
            shot = page.screenshot()
        finally:
            browser.close()
    assert "Question and scenario" in text and "CHEERS 2022" in text and len(text) > 10_000
    assert images >= 5 and height > 5_000
    assert [url for url in requested if not url.startswith(("data:", page_file.as_uri()))] == []
    assert len(shot) > 20_000  # a blank page compresses to a few kilobytes
