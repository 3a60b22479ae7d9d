"""The teaching app in a real browser: ``cd7sim app --port P`` on a free port, the system chromium driven by
Playwright (its own browser download cannot work here: ``executable_path`` points at Debian's ``chromium``).

Open a lesson, move a slider, and see the headline table and the figure change; a screenshot is saved under the
test's temporary folder. With ``CD7SIM_SCREENSHOTS=DIR`` the test also saves a screenshot of each main view into
``DIR`` (the README's ``docs/figures/app_*.png`` are made so).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
START_SECONDS = 90.0
"""How long the app may take to answer its health check."""
CHANGE_MS = 60_000
"""How long a change may take to show in the page, milliseconds (a loaded CI machine)."""
VIEWS = {"survival": "Survival", "flow": "Pathway flow", "patients": "Same patients", "costs": "Costs and QALYs",
         "uncertainty": "Uncertainty", "capacity": "Capacity"}
"""The views, in the order the screenshots are taken (capacity last: it switches to the open-cohort lesson)."""


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on this machine (install it: apt-get install -y chromium; .ci/run does so as root)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """``cd7sim app --port P`` running headless in ``tmp_path``; stopped after the test."""
    pytest.importorskip("streamlit")
    port = _free_port()
    log = (tmp_path / "app.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", "--port", str(port)], cwd=tmp_path, stdout=log,
                              stderr=subprocess.STDOUT, env={**os.environ, "STREAMLIT_SERVER_HEADLESS": "true"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "app.log").read_text()
            assert time.monotonic() < deadline, "the app did not start: " + (tmp_path / "app.log").read_text()
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _idle(page) -> None:
    """Wait until the script run is over (Streamlit's status widget gone) and the headline is on the page."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=CHANGE_MS)
    page.get_by_test_id("stTable").first.wait_for(timeout=CHANGE_MS)


def _figure_source(page) -> str:
    return page.locator("[data-testid='stImage'] img").first.get_attribute("src", timeout=CHANGE_MS) or ""


def test_a_lesson_and_a_slider_change_the_table_and_the_figure(app_url, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        page.goto(app_url, timeout=CHANGE_MS)
        page.get_by_text("CD7 CAR-T and transplant: the pathway trade-offs").wait_for(timeout=CHANGE_MS)
        _idle(page)

        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="When should the transplant follow the CAR-T infusion?").click()
        page.get_by_text("hsct_day90").first.wait_for(timeout=CHANGE_MS)
        _idle(page)
        table = page.get_by_test_id("stTable").first.inner_text()
        figure = _figure_source(page)
        assert "hsct_day25" in table and "hsct_day60" in table and figure

        patients = page.get_by_test_id("stSlider").filter(has_text="Patients per strategy").get_by_role("slider")
        patients.focus()
        for _ in range(10):
            patients.press("ArrowLeft")
        page.wait_for_function("(before) => { const t = document.querySelector('[data-testid=\"stTable\"]');"
                               " return t && t.innerText !== before; }", arg=table, timeout=CHANGE_MS)
        _idle(page)
        page.get_by_text("1,000 patients per strategy").wait_for(timeout=CHANGE_MS)
        assert page.get_by_test_id("stTable").first.inner_text() != table
        page.wait_for_function("(before) => { const i = document.querySelector('[data-testid=\"stImage\"] img');"
                               " return i && i.src !== before; }", arg=figure, timeout=CHANGE_MS)
        page.screenshot(path=str(tmp_path / "lesson.png"), full_page=True)
        assert (tmp_path / "lesson.png").stat().st_size > 10_000

        folder = os.environ.get("CD7SIM_SCREENSHOTS")
        if folder:
            _screenshots(page, Path(folder))
        browser.close()


def _screenshots(page, folder: Path) -> None:
    """The page (``app_page.png``) and the figure of each main view (``app_<view>.png``: the timing lesson; capacity
    from the capacity lesson) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for view, label in VIEWS.items():
        if view == "capacity":
            page.get_by_test_id("stSelectbox").first.click()
            page.get_by_role("option", name="What does a queue for manufacturing slots cost?").click()
            _idle(page)
        page.get_by_text(label, exact=True).first.click()
        _idle(page)
        if view == "uncertainty":
            page.get_by_role("button", name="Draw the uncertainty band").click()
            page.locator("[data-testid='stImage'] img").first.wait_for(timeout=CHANGE_MS * 3)
            _idle(page)
        page.locator("[data-testid='stImage'] img").first.wait_for(timeout=CHANGE_MS)
        page.wait_for_timeout(500)
        if view == "survival":
            page.screenshot(path=str(folder / "app_page.png"))
        page.locator("[data-testid='stImage']").first.screenshot(path=str(folder / f"app_{view}.png"))
