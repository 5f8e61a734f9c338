"""The Sweep page (``dom sweep`` results) and ``dashboard.sweep``, on a small sweep of the tiny scenario."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from dashboard import sweep
from dashboard.kpis import BY_NAME
from sim.scenario import Scenario, load_scenario
from sim.sweep import run_sweep
from sim.sweep_design import design_points
from sim.sweep_report import build
from sim.sweep_space import SweepSpace, plan
from tests.app.conftest import APP, DATA

SPACE = """\
strategy: {kind: cheapest}
knobs:
  max_shipments: {values: [1, 3]}
  split_penalty: {values: [0.0, 5.0]}
"""


@pytest.fixture(scope="module")
def sweep_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder holding ``tiny/sweep-space/``: a 2x2 grid plus the baseline, 2 replications each."""
    data = load_scenario(DATA / "tiny.yaml").model_dump()
    data.update(horizon_days=2, warmup_days=1)
    data["demand"]["orders_per_day"] = 150
    scenario = Scenario.model_validate(data)
    p = plan(SweepSpace.model_validate(yaml.safe_load(SPACE)), scenario)
    points = design_points(p, "grid", 0, 0)
    root = tmp_path_factory.mktemp("results")
    folder = root / "tiny" / "sweep-space"
    runs = run_sweep(scenario, p.run, points, 2, folder)
    manifest = {"kind": "sweep", "scenario": "tiny", "design": "grid", "points": 4, "replications": 2,
                "knobs": p.knob_names, "backend": "1 process", "seconds": 1.0}
    build(points, p.knob_names, runs.rows, manifest).write(folder)
    return root


@pytest.fixture
def results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sweep_root: Path) -> Path:
    """A private copy of the sweep results, with the app pointed at it."""
    root = tmp_path / "results"
    shutil.copytree(sweep_root, root)
    monkeypatch.setenv("DOM_RESULTS_DIR", str(root))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(tmp_path / "no-scenarios"))
    return root


def run_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["page"] = "Sweep"
    return at.run()


def specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def table_rows(at: AppTest, head: str) -> list[list[str]]:
    """A Markdown table whose header starts with ``head``, as rows of cells."""
    table = next(m.value for m in at.markdown if m.value.startswith(head))
    return [line.strip("| ").split(" | ") for line in table.splitlines()[2:]]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# ------------------------------------------------------------------------------------------ the page
def test_page_shows_front_parallel_coordinates_sensitivity_and_the_baseline(results: Path) -> None:
    at = run_page()
    assert_clean(at)
    assert at.title[0].value == "Which knob settings give the best trade-off?"
    folder = results / "tiny" / "sweep-space"
    assert at.sidebar.selectbox(key="sweep").value == folder
    pareto = pl.read_parquet(folder / "pareto.parquet")
    scatter, parallel = specs(at)
    shown = {d[0]: (x, y) for t in scatter["data"]
             for d, x, y in zip(t["customdata"], t["x"], t["y"], strict=True)}
    assert shown == {r["point_id"]: (r["cost_per_order"], r["delivery_days_mean"])
                     for r in pareto.iter_rows(named=True)}
    assert {t["name"] for t in scatter["data"]} >= {"baseline", "on the Pareto front"}
    (coords,) = parallel["data"]
    labels = [d["label"] for d in coords["dimensions"]]
    assert labels[:2] == ["max_shipments", "split_penalty"] and BY_NAME["cost_per_order"].title in labels
    front = table_rows(at, "| point |")
    assert front[0][0] != "" and any(r[0] == "baseline" for r in front)
    assert len(front) == int(pareto.filter(pl.col("pareto") | (pl.col("point_id") == 0)).height)
    sens = table_rows(at, "| knob |")
    assert [r[0] for r in sens] == ["max_shipments", "split_penalty"]
    comparison = table_rows(at, "| KPI |")  # the baseline against itself: no differences
    assert comparison[0][0] == BY_NAME["cost_per_order"].title and comparison[0][3] == "-"


def test_choosing_a_point_shows_its_comparison_with_the_baseline(results: Path) -> None:
    at = run_page()
    key = "sweep:tiny/sweep-space:point"
    assert at.selectbox(key=key).options == [
        "Baseline: max_shipments as configured, split_penalty 2",
        "Point 1: max_shipments 1, split_penalty 0", "Point 2: max_shipments 1, split_penalty 5",
        "Point 3: max_shipments 3, split_penalty 0", "Point 4: max_shipments 3, split_penalty 5",
    ]
    at.selectbox(key=key).set_value(1).run()
    assert_clean(at)
    rows = {r[0]: r for r in table_rows(at, "| KPI |")}
    points = pl.read_parquet(results / "tiny" / "sweep-space" / "points.parquet")
    split = points.filter(pl.col("point_id") == 1, pl.col("kpi") == "split_rate").row(0, named=True)
    view = BY_NAME["split_rate"]
    assert split["mean"] == 0.0  # one shipment per order at most
    assert rows[view.title][1].startswith(view.value(0.0))
    assert rows[view.title][3].startswith(view.delta(split["diff_vs_baseline"], split["diff_ci95"]))


def test_a_click_on_the_front_opens_that_point_until_another_is_chosen(results: Path) -> None:
    at = run_page()
    key = "sweep:tiny/sweep-space"
    at.session_state[f"{key}:pareto"] = {  # what a click on point 2 in the Pareto chart leaves
        "selection": {"points": [{"customdata": [2, "Point 2"]}], "point_indices": [0], "box": [],
                      "lasso": []}}
    at.run()
    assert_clean(at)
    assert at.selectbox(key=f"{key}:point").value == 2
    at.selectbox(key=f"{key}:point").set_value(4).run()  # the click is still selected in the chart
    assert at.selectbox(key=f"{key}:point").value == 4


def test_no_sweep_tells_how_to_run_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOM_RESULTS_DIR", str(tmp_path / "empty"))
    at = run_page()
    assert_clean(at)
    assert "No sweeps in" in at.info[0].value and "dom sweep" in at.info[0].value


def test_an_unfinished_sweep_gives_an_error_naming_the_file(results: Path) -> None:
    (results / "tiny" / "sweep-space" / "pareto.parquet").unlink()
    at = run_page()
    assert not at.exception
    assert "lacks pareto.parquet" in at.error[0].value and "resumes" in at.error[0].value


# ------------------------------------------------------------------------------------------ the module
def test_discover_finds_sweeps_one_or_two_levels_down(tmp_path: Path, sweep_root: Path) -> None:
    root = tmp_path / "r"
    shutil.copytree(sweep_root / "tiny" / "sweep-space", root / "flat")
    shutil.copytree(sweep_root / "tiny" / "sweep-space", root / "tiny" / "sweep-a")
    (root / "tiny" / "other").mkdir()
    assert sorted(sweep.name(p, root) for p in sweep.discover(root)) == ["flat", "tiny/sweep-a"]
    assert sweep.discover(tmp_path / "missing") == []


def test_load_checks_manifest_columns_and_types(tmp_path: Path, sweep_root: Path) -> None:
    folder = tmp_path / "s"
    shutil.copytree(sweep_root / "tiny" / "sweep-space", folder)
    assert sweep.load(folder).knobs == ["max_shipments", "split_penalty"]
    sens = pl.read_parquet(folder / "sensitivity.parquet")
    sens.drop("src").write_parquet(folder / "sensitivity.parquet")
    with pytest.raises(sweep.SweepError, match=r"sensitivity\.parquet lacks the columns src"):
        sweep.load(folder)
    sens.with_columns(pl.lit("high").alias("src")).write_parquet(folder / "sensitivity.parquet")
    with pytest.raises(sweep.SweepError, match="column src is String"):
        sweep.load(folder)
    (folder / "manifest.json").write_text(json.dumps({"kind": "experiment"}), encoding="utf-8")
    with pytest.raises(sweep.SweepError, match="not a sweep manifest"):
        sweep.load(folder)


def test_picked_point_reads_a_plotly_selection() -> None:
    event = {"selection": {"points": [{"x": 1.0, "customdata": [7, "Point 7: ..."]}]}}
    assert sweep.picked_point(event) == 7
    assert sweep.picked_point({"selection": {"points": []}}) is None
    assert sweep.picked_point(None) is None
