"""The Streamlit page driven by ``streamlit.testing.v1.AppTest`` on the tiny scenario's results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, DATA

TIMEOUT = 60


def run_app(**state: Any) -> AppTest:
    """Run the page once, with session state (e.g. the open tab ``view``) set beforehand."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def specs(at: AppTest) -> list[dict[str, Any]]:
    """The figures' JSON, in page order."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def title(spec: dict[str, Any]) -> str:
    return str(spec["layout"]["title"]["text"])


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_renders_fixture_results(app_env: Path) -> None:
    at = run_app()
    assert_clean(at)
    assert at.title[0].value == "Which sourcing rules should go live?"
    assert at.sidebar.selectbox(key="results").value == "tiny"
    answer = next(m.value for m in at.markdown if "Best trade-offs" in m.value)
    assert "split_shipments" in answer or "cheapest" in answer or "distance" in answer
    assert sorted(m.label for m in at.metric) == sorted([
        "Cost per order", "Delivery time", "On-time rate", "CO2e per order", "Split rate", "Fill rate",
        "Lost sales",
    ])
    (diffs,) = specs(at)
    assert "Difference vs baseline split_shipments" in title(diffs)
    assert len(diffs["data"]) == 7  # one bar trace per KPI
    assert all(t["x"] == ["cheapest", "distance"] for t in diffs["data"])  # the baseline has no bar
    assert all(t["error_y"]["array"] for t in diffs["data"])


@pytest.mark.parametrize(("tab", "charts"), [("Trade-offs", 1), ("Map", 2), ("Time series", 1)])
def test_every_chart_tab_renders(app_env: Path, tab: str, charts: int) -> None:
    at = run_app(view=tab)
    assert_clean(at)
    assert len(at.get("plotly_chart")) == charts


def test_baseline_change_recomputes_differences(app_env: Path, tiny_experiment: Any) -> None:
    at = run_app()
    before = specs(at)[0]
    cards_before = [m.delta for m in at.metric]
    at.selectbox(key="tiny:baseline").select("cheapest").run()
    assert_clean(at)
    after = specs(at)[0]
    assert "Difference vs baseline cheapest" in title(after)
    assert after["data"][0]["x"] == ["split_shipments", "distance"]
    assert [m.delta for m in at.metric] != cards_before
    # the cost difference of split_shipments vs cheapest is minus that of cheapest vs split_shipments
    cost_before = dict(zip(before["data"][0]["x"], before["data"][0]["y"], strict=True))
    cost_after = dict(zip(after["data"][0]["x"], after["data"][0]["y"], strict=True))
    assert cost_after["split_shipments"] == pytest.approx(-cost_before["cheapest"])
    k = tiny_experiment.kpi_table
    mean = k.group_by("strategy").agg(pl.col("cost_per_order").mean())
    c = dict(mean.iter_rows())
    assert cost_after["distance"] == pytest.approx(c["distance"] - c["cheapest"])


def test_kpi_cards_follow_the_inspected_strategy(app_env: Path) -> None:
    at = run_app()
    values = [m.value for m in at.metric]
    at.selectbox(key="tiny:inspect").select("split_shipments").run()
    assert_clean(at)
    assert [m.value for m in at.metric] != values
    assert all(m.delta == "" or m.delta is None for m in at.metric)  # the baseline has no delta


def test_levels_view_shows_means_with_cis(app_env: Path, tiny_experiment: Any) -> None:
    at = run_app(**{"tiny:bars": "Averages"})
    assert_clean(at)
    (levels,) = specs(at)
    assert title(levels).startswith("Average per strategy")
    cost = levels["data"][0]
    assert cost["x"] == ["split_shipments", "cheapest", "distance"]
    cmp = tiny_experiment.comparison
    row = cmp.filter((pl.col("kpi") == "cost_per_order") & (pl.col("strategy") == "cheapest"))
    assert cost["y"][1] == pytest.approx(row["mean"][0])
    assert cost["error_y"]["array"][1] == pytest.approx(row["ci95"][0])


def test_pareto_objectives_change_the_front(app_env: Path) -> None:
    at = run_app(view="Trade-offs")
    three = specs(at)[0]
    names = [t["name"] for t in three["data"]]
    assert "best trade-off" in names
    at.multiselect(key="tiny:objectives").set_value(["cost_per_order"]).run()
    assert_clean(at)
    one = specs(at)[0]
    optimal = next(t for t in one["data"] if t["name"] == "best trade-off")
    assert len(optimal["text"]) == 1  # a single objective has a single best strategy
    assert one != three


def test_timeseries_location_filter(app_env: Path) -> None:
    at = run_app(view="Time series")
    total = specs(at)[0]
    at.selectbox(key="tiny:ts_sel").select("DCs").run()
    assert_clean(at)
    dcs = specs(at)[0]
    assert "DCs" in title(dcs)
    on_hand = [t for t in total["data"] if t["yaxis"] == "y3"]  # third panel: stock on hand
    on_hand_dcs = [t for t in dcs["data"] if t["yaxis"] == "y3"]
    assert sum(on_hand[0]["y"]) > sum(on_hand_dcs[0]["y"]) > 0


def test_map_per_strategy(app_env: Path) -> None:
    at = run_app(view="Map")
    first = specs(at)[0]
    at.selectbox(key="tiny:map_strategy").select("cheapest").run()
    assert_clean(at)
    second = specs(at)[0]
    assert title(second).startswith("cheapest")
    kinds = {t["name"] for t in second["data"]}
    assert {"DCs", "Stores", "where customers live"} <= kinds
    assert first["data"] != second["data"]


def test_drilldown_shows_the_explanation(app_env: Path, session_results: Path) -> None:
    at = run_app(view="Drill-down")
    assert_clean(at)
    text = at.get("code")[0].value
    ex = pl.read_parquet(session_results / "tiny" / "explanations.parquet")
    first = ex.filter((pl.col("strategy") == "split_shipments") & (pl.col("replication") == 0))
    assert text == first.sort("order_ref")["explanation"][0]
    assert text.startswith("strategy split_shipments")
    at.selectbox(key="tiny:dd_strategy").select("cheapest").run()
    assert at.get("code")[0].value.startswith("strategy cheapest")


def test_downloads(app_env: Path) -> None:
    at = run_app(view="Downloads")
    assert_clean(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[0].startswith("Comparison vs the chosen baseline")
    assert any(label.startswith("orders.parquet") for label in labels)
    assert any(label.startswith("comparison.csv") for label in labels)


def test_broken_scenario_gives_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, session_results: Path, scenarios_dir: Path,
) -> None:
    monkeypatch.setenv("DOM_RESULTS_DIR", str(session_results))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(scenarios_dir))
    closed = run_app()  # the run panel is closed while results exist: the scenario is not even loaded
    assert [w.key for w in closed.sidebar.selectbox] == ["results"] and not closed.error
    at = run_app(run_panel=True)  # open the sidebar's "Run a scenario" panel
    assert at.sidebar.selectbox(key="scenario").value.name == "broken.yaml"  # sorted first
    assert not at.exception
    (err,) = at.error
    assert "broken.yaml does not validate" in err.value
    assert "horizon_days (line 3)" in err.value and "orders_per_dai" in err.value
    assert len(at.get("plotly_chart")) == 1  # the results still show
    at.sidebar.selectbox(key="scenario").select(scenarios_dir / "tiny.yaml").run()
    assert not at.exception and not at.error


def test_missing_results_give_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOM_RESULTS_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(tmp_path / "no-scenarios"))
    at = run_app()
    assert not at.exception
    assert any("No results found" in w.value and "dom simulate" in w.value for w in at.warning)
    assert any("No scenario files" in i.value for i in at.sidebar.info)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "kpis.parquet").write_bytes(b"not parquet"), "kpis.parquet cannot be read"),
        (lambda d: (d / "comparison.parquet").unlink(), "comparison.parquet is missing"),
        (lambda d: (d / "manifest.json").write_text("{broken", encoding="utf-8"), "is not valid JSON"),
        (lambda d: (d / "manifest.json").write_text("{}", encoding="utf-8"), "lacks scenario"),
    ],
)
def test_corrupt_results_give_an_error(
    monkeypatch: pytest.MonkeyPatch, results_dir: Path, damage: Any, message: str,
) -> None:
    damage(results_dir / "tiny")
    monkeypatch.setenv("DOM_RESULTS_DIR", str(results_dir))
    at = run_app()
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_a_missing_table_only_breaks_its_tab(monkeypatch: pytest.MonkeyPatch, results_dir: Path) -> None:
    (results_dir / "tiny" / "shipments.parquet").unlink()
    monkeypatch.setenv("DOM_RESULTS_DIR", str(results_dir))
    at = run_app(view="Map")
    assert not at.exception
    assert any("shipments.parquet is missing" in e.value for e in at.error)
    assert len(run_app(view="Time series").get("plotly_chart")) == 1


def test_run_button_runs_the_experiment_and_opens_it(
    monkeypatch: pytest.MonkeyPatch, results_dir: Path, app_env: Path,
) -> None:
    monkeypatch.setenv("DOM_RESULTS_DIR", str(results_dir))
    at = run_app(run_panel=True)
    at.sidebar.number_input(key="tiny:replications").set_value(1)
    at.sidebar.multiselect(key="tiny:strategies").set_value(["split_shipments", "distance"])
    at.sidebar.slider(key="tiny:demand_factor").set_value(0.5)
    at.sidebar.button(key="tiny:run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    made = sorted(p.name for p in results_dir.iterdir() if p.name.startswith("tiny-"))
    assert len(made) == 1
    manifest = json.loads((results_dir / made[0] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["strategies"] == ["split_shipments", "distance"]
    assert manifest["replications"] == 1
    assert manifest["knobs"]["demand_factor"] == 0.5
    assert at.sidebar.selectbox(key="results").value == made[0]  # the new results are open
    assert any("Results written" in s.value for s in at.sidebar.success)
    assert "Difference vs baseline split_shipments" in title(specs(at)[0])
    # the same settings again: no second run, the folder is reopened
    at.sidebar.button(key="tiny:run").click().run()
    assert sorted(p.name for p in results_dir.iterdir() if p.name.startswith("tiny-")) == made
    assert any("ran before" in i.value for i in at.sidebar.info)


def test_default_results_open_first(monkeypatch: pytest.MonkeyPatch, results_dir: Path) -> None:
    shutil.copytree(results_dir / "tiny", results_dir / "default")
    monkeypatch.setenv("DOM_RESULTS_DIR", str(results_dir))
    at = run_app()
    assert at.sidebar.selectbox(key="results").value == "default"
    assert at.sidebar.selectbox(key="results").options == ["default", "tiny"]


def test_run_with_worker_processes_after_reading_results(
    monkeypatch: pytest.MonkeyPatch, results_dir: Path, tmp_path: Path,
) -> None:
    """run_experiment forks workers; the page has run polars queries, so it must not fork itself."""
    scen = tmp_path / "two-workers"
    scen.mkdir()
    text = (DATA / "tiny.yaml").read_text(encoding="utf-8").replace("workers: 1", "workers: 2")
    (scen / "tiny.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("DOM_RESULTS_DIR", str(results_dir))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(scen))
    at = run_app(view="Time series", run_panel=True)  # reads Parquet with polars first
    assert len(at.get("plotly_chart")) == 1
    at.sidebar.number_input(key="tiny:replications").set_value(3)
    at.sidebar.button(key="tiny:run").click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Results written" in s.value for s in at.sidebar.success)
    made = [p for p in results_dir.iterdir() if p.name.startswith("tiny-")]
    assert len(made) == 1
    assert json.loads((made[0] / "manifest.json").read_text(encoding="utf-8"))["replications"] == 3
