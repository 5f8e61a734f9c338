"""The dashboard in a real headless Chromium: ``streamlit run app.py`` on the tiny scenario's results,
driven with playwright's sync API (Debian's /usr/bin/chromium; ``playwright install`` is not needed)."""

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

from tests.app.conftest import APP, DATA

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
CHART = '[data-testid="stPlotlyChart"] .main-svg'
RUNNING = '[data-testid="stStatusWidget"]'  # shown while the script runs
ARTIFACTS = APP.parent / "artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard_url(session_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A headless Streamlit server on a free port, reading the tiny results."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    scenarios = tmp_path_factory.mktemp("scenarios")
    shutil.copy(DATA / "tiny.yaml", scenarios / "tiny.yaml")
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    port = _free_port()
    env = {**os.environ, "DOM_RESULTS_DIR": str(session_results), "DOM_SCENARIOS_DIR": str(scenarios)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true", "--server.port",
           str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with log.open("wb") as out:
        server = subprocess.Popen(cmd, cwd=APP.parent, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_page_renders_and_reacts_to_the_baseline(dashboard_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(dashboard_url)
            page.wait_for_selector(CHART, timeout=60_000)
            chart_title = page.locator('[data-testid="stPlotlyChart"] .gtitle').first
            expect(chart_title).to_contain_text("Difference vs baseline split_shipments")
            expect(page.get_by_text("Best trade-offs on cost, delivery time and CO2e")).to_be_visible()
            assert page.locator('[data-testid="stMetric"]').count() == 7

            # choose another baseline with the keyboard: the differences are recomputed against it
            boxes = page.locator('[data-testid="stSelectbox"]')
            boxes.filter(has_text="Baseline").locator("input").focus()
            page.keyboard.type("cheapest")
            page.keyboard.press("Enter")
            expect(chart_title).to_contain_text("Difference vs baseline cheapest", timeout=30_000)
            page.wait_for_selector(CHART, timeout=30_000)
            expect(page.locator(RUNNING)).to_have_count(0, timeout=30_000)
            assert page.locator('[data-testid="stException"]').count() == 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"))

            # another tab renders its own charts (only the open tab is computed)
            page.get_by_role("tab", name="Map").click()
            panel = page.locator('[role="tabpanel"]:not([hidden])')
            expect(panel.locator('[data-testid="stPlotlyChart"]')).to_have_count(2, timeout=60_000)
            panel.locator(CHART).first.wait_for(timeout=60_000)
            expect(panel.locator(".gtitle").first).to_contain_text("units shipped per location")

            # the sidebar's run panel loads when opened: scenario, strategies, knobs and the Run button
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text("Run a scenario").click()
            expect(sidebar.get_by_role("button", name="Run")).to_be_visible(timeout=30_000)
            expect(sidebar.locator('[data-testid="stSlider"]')).to_have_count(3)
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            browser.close()
