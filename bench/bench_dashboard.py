"""Page-load benchmark of the Streamlit dashboard on results that are already computed.

    .venv/bin/python bench/bench_dashboard.py                      # results/default, 3 rounds
    .venv/bin/python bench/bench_dashboard.py --results results --folder default --rounds 5

Each round starts ``streamlit run app.py`` on a free port and drives headless Chromium (Debian's
/usr/bin/chromium through playwright) to measure, in seconds:

* server start: process start -> the health endpoint answers;
* first request to a new server: page request -> Comparison tab ready (its chart drawn, the 7 KPI
  cards shown); includes the app's imports, the Parquet reads and building the figures;
* running server, empty browser cache: the same for a new browser profile (Streamlit caches warm);
* running server, browser cache warm: a repeat visit;
* each other tab: click -> its charts (or code / download buttons) drawn.

Results print as a table and go to ``bench/results/dashboard.md``. Target: usable within 3 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
CHART = '[data-testid="stPlotlyChart"] .main-svg:first-child'  # one per drawn chart
TARGET_S = 3.0
PANEL = '[role="tabpanel"]:not([hidden])'  # the open tab
# tab -> what shows it is ready: (selector, how many)
TABS = {
    "Trade-offs": (CHART, 1), "Map": (CHART, 2), "Time series": (CHART, 1),
    "Drill-down": ('[data-testid="stCode"]', 1), "Downloads": ('[data-testid="stDownloadButton"]', 2),
}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, results: Path) -> subprocess.Popen[bytes]:
    """``streamlit run app.py`` headless on 127.0.0.1:port, reading results from ``results``."""
    env = {**os.environ, "DOM_RESULTS_DIR": str(results)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(port: int, timeout: float = 60.0) -> None:
    """Poll Streamlit's health endpoint until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"streamlit did not answer on port {port} within {timeout} s")


def wait_count(page: object, selector: str, n: int, timeout_ms: float = 60_000) -> None:
    """Wait until at least ``n`` elements match ``selector`` (for charts: ``n`` charts drawn)."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "([s, n]) => [...document.querySelectorAll(s)].length >= n", arg=[selector, n], timeout=timeout_ms,
        polling=20,
    )


def first_tab_charts(page: object) -> None:
    """The Comparison tab is ready: its chart drawn, metric cards shown, no exception."""
    wait_count(page, CHART, 1)
    wait_count(page, '[data-testid="stMetric"]', 7)
    if page.locator('[data-testid="stException"]').count():  # type: ignore[attr-defined]
        raise RuntimeError("the page shows an exception")


def timed_load(page: object, url: str) -> float:
    """Seconds from the page request until the first tab is ready."""
    t = time.perf_counter()
    page.goto(url)  # type: ignore[attr-defined]
    first_tab_charts(page)
    return time.perf_counter() - t


def one_round(browser: object, results: Path) -> dict[str, float]:
    """Start a server, load the page cold and warm, visit every tab; seconds per step."""
    port = free_port()
    started = time.perf_counter()
    server = start_server(port, results)
    try:
        wait_healthy(port)
        out = {"server start (process to health)": time.perf_counter() - started}
        url = f"http://127.0.0.1:{port}/"
        viewport = {"width": 1400, "height": 1000}
        first = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
        out["page, first request to a new server"] = timed_load(first.new_page(), url)
        out["server start + first page"] = time.perf_counter() - started
        fresh = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
        out["page, running server, empty browser cache"] = timed_load(fresh.new_page(), url)
        page = first.new_page()
        out["page, running server, browser cache warm"] = timed_load(page, url)
        for tab, (selector, n) in TABS.items():
            t = time.perf_counter()
            page.get_by_role("tab", name=tab).click()
            wait_count(page, f"{PANEL} {selector}", n)
            out[f"tab switch: {tab}"] = time.perf_counter() - t
        first.close()
        fresh.close()
        return out
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    """Run the rounds and write the report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results", help="folder holding result folders")
    ap.add_argument("--folder", default="default", help="result folder the page opens first")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dashboard.md")
    args = ap.parse_args()
    if not (args.results / args.folder / "manifest.json").is_file():
        sys.exit(f"no results in {args.results / args.folder}: "
                 "run `dom simulate scenarios/default.yaml` first")
    from playwright.sync_api import sync_playwright

    rounds = []
    before = os.getloadavg()[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for i in range(args.rounds):
            rounds.append(one_round(browser, args.results))
            print(f"round {i + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in rounds[-1].items()), flush=True)
        browser.close()
    report(rounds, args, (before, os.getloadavg()[0]))


def report(rounds: list[dict[str, float]], args: argparse.Namespace, load: tuple[float, float]) -> None:
    """Print and write the median / max table."""
    sizes = sum(f.stat().st_size for f in (args.results / args.folder).glob("*.parquet")) / 1e6
    lines = [
        "# Dashboard page load", "",
        f"`{' '.join([Path(sys.executable).name, *sys.argv])}` on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), "
        f"results `{args.results / args.folder}` ({sizes:,.0f} MB of Parquet), {len(rounds)} rounds, "
        f"headless Chromium via playwright; load average {load[0]:.1f} before, {load[1]:.1f} after.", "",
        "A page is ready when the Comparison tab's chart is drawn and its 7 KPI cards are shown; "
        "a tab when its charts (or code / download buttons) are drawn.", "",
        "| step | median s | max s |", "|---|---:|---:|",
    ]
    for k in rounds[0]:
        vals = [r[k] for r in rounds]
        lines.append(f"| {k} | {statistics.median(vals):.2f} | {max(vals):.2f} |")
    ready = statistics.median(r["page, running server, empty browser cache"] for r in rounds)
    first = statistics.median(r["page, first request to a new server"] for r in rounds)
    def verdict(x: float) -> str:
        return "met" if x <= TARGET_S else "NOT met"

    lines += ["", f"Target: usable within {TARGET_S:.0f} s of the page request. "
              f"Running server: {ready:.2f} s ({verdict(ready)}); "
              f"first request after a server start: {first:.2f} s ({verdict(first)}).", ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
