"""Unit tests of the dashboard's data loading and derivations (no Streamlit session needed)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import polars as pl
import pytest

from dashboard import charts, geo, results, runs, timeseries
from dashboard.kpis import BY_NAME, ci_frame, comparison_vs, markdown, table, verdict
from dashboard.kpis import cards as kpi_cards
from dashboard.pareto import dominates, front, front_table, pareto_mask
from dom_core.errors import DomError
from sim.demand import generate_demand
from sim.runner import ExperimentResult, compare
from sim.scenario import load_scenario
from sim.world import build_world
from tests.app.conftest import DATA

# ------------------------------------------------------------------------------------------ Pareto


def test_pareto_mask_minimises_and_maximises() -> None:
    pts = [(1.0, 5.0), (2.0, 4.0), (3.0, 3.0), (2.5, 4.5), (1.0, 6.0)]
    assert pareto_mask(pts, [-1, -1]) == [True, True, True, False, False]
    # higher is better on the second objective: (1, 6) now beats (1, 5)
    assert pareto_mask(pts, [-1, 1]) == [False, False, False, False, True]


def test_ties_and_missing_values() -> None:
    assert pareto_mask([(1.0, 1.0), (1.0, 1.0)], [-1, -1]) == [True, True]  # equal points do not dominate
    assert pareto_mask([(math.nan, 1.0), (1.0, 1.0)], [-1, -1]) == [False, True]  # a missing value is worst
    assert dominates([1, 2], [1, 3]) and not dominates([1, 3], [1, 3])


def _comparison(means: dict[str, tuple[float, float, float]]) -> pl.DataFrame:
    rows = []
    for s, values in means.items():
        for kpi, v in zip(("cost_per_order", "delivery_days_mean", "co2_kg_per_order"), values, strict=True):
            rows.append({"strategy": s, "kpi": kpi, "mean": v, "ci95": 0.1, "diff_vs_baseline": 0.0,
                         "diff_ci95": 0.0, "significant": False, "baseline": "a"})
    return pl.DataFrame(rows)


def test_front_names_who_dominates() -> None:
    cmp = _comparison({"a": (10, 3, 0.3), "b": (9, 3, 0.2), "c": (12, 2, 0.4), "d": (13, 4, 0.5)})
    fr = front(cmp)
    assert fr.optimal == ["b", "c"]
    dom = dict(fr.frame.select("strategy", "dominated_by").iter_rows())
    assert dom == {"a": "b", "b": "", "c": "", "d": "a, b, c"}
    assert front(cmp, ["delivery_days_mean"]).optimal == ["c"]
    assert "cost_per_order" in front(cmp, ["delivery_days_mean"]).frame.columns  # kept for the chart
    assert front_table(fr)["Best trade-off"].to_list() == ["no", "yes", "yes", "no"]


# ------------------------------------------------------------------------------------------ KPIs


def test_saved_comparison_is_used_or_recomputed(tiny_experiment: ExperimentResult) -> None:
    k, saved = tiny_experiment.kpi_table, tiny_experiment.comparison
    strategies = ["split_shipments", "cheapest", "distance"]
    assert comparison_vs(saved, k, strategies, "split_shipments").equals(saved)
    other = comparison_vs(saved, k, strategies, "cheapest")
    assert other.equals(compare(k, "cheapest", strategies))
    assert set(other["baseline"].to_list()) == {"cheapest"}
    # the saved table is what compare() gives for its own baseline
    assert compare(k, "split_shipments", strategies).equals(saved)


def test_ci_frame_scales_rates_and_judges_differences(tiny_experiment: ExperimentResult) -> None:
    ci = ci_frame(tiny_experiment.comparison)
    assert ci["kpi"].unique(maintain_order=True).to_list()[:3] == ["cost_per_order", "delivery_days_mean",
                                                                   "on_time_rate"]
    cmp = tiny_experiment.comparison
    raw = cmp.filter((pl.col("kpi") == "fill_rate") & (pl.col("strategy") == "cheapest"))
    row = ci.filter((pl.col("kpi") == "fill_rate") & (pl.col("strategy") == "cheapest"))
    assert row["mean"][0] == pytest.approx(100 * raw["mean"][0])
    assert row["diff"][0] == pytest.approx(100 * raw["diff_vs_baseline"][0])
    assert set(ci["verdict"].to_list()) <= {"better", "worse", "same"}
    assert verdict(-1, -2.0, True) == "better" and verdict(1, -2.0, True) == "worse"
    assert verdict(-1, -2.0, False) == "same" and verdict(0, 5.0, True) == "same"


def test_formatting() -> None:
    cost, rate, days = BY_NAME["cost_per_order"], BY_NAME["on_time_rate"], BY_NAME["delivery_days_mean"]
    assert cost.value(12.345) == "12.35" and cost.title == "Cost per order"
    assert days.value(3.1, unit=True) == "3.10 days"
    assert rate.value(0.7312) == "73.1%" and rate.delta(-0.054, 0.04) == "-5.4 ± 4.0 pp"
    assert cost.value(math.nan) == "n/a" and cost.delta(1.0) == "+1.00"


def test_cards_colour_deltas_by_direction_and_significance() -> None:
    cmp = pl.DataFrame([
        {"strategy": "b", "kpi": "cost_per_order", "mean": 9.0, "ci95": 0.2, "diff_vs_baseline": -1.0,
         "diff_ci95": 0.3, "significant": True, "baseline": "a"},
        {"strategy": "b", "kpi": "fill_rate", "mean": 0.9, "ci95": 0.01, "diff_vs_baseline": 0.01,
         "diff_ci95": 0.03, "significant": False, "baseline": "a"},
    ])
    cost, fill = kpi_cards(cmp, "b")
    assert (cost.delta, cost.delta_color) == ("-1.00 ± 0.30", "inverse")  # lower cost shows green
    assert fill.delta_color == "off" and "could be chance" in fill.help


def test_table_and_markdown(tiny_experiment: ExperimentResult) -> None:
    t = table(tiny_experiment.comparison)
    assert t.columns == ["KPI", "split_shipments", "cheapest", "distance"]
    assert t.height == 7
    assert "(" not in t["split_shipments"][0]  # the baseline has no difference
    assert " ± " in t["cheapest"][0]
    md = markdown(pl.DataFrame({"a": ["x|y *"], "b": [1.5]}))
    assert md.splitlines() == ["| a | b |", "|---|---|", "| x\\|y \\* | 1.5 |"]


# ------------------------------------------------------------------------------------------ results


def test_discover_puts_default_first(tmp_path: Path) -> None:
    for name in ("zeta", "default", "alpha"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}", encoding="utf-8")
    (tmp_path / "no-manifest").mkdir()
    assert results.discover(tmp_path)[0] == "default"
    assert set(results.discover(tmp_path)) == {"default", "alpha", "zeta"}
    assert results.discover(tmp_path / "absent") == []


def test_result_set_and_aggregates(session_results: Path, tiny_experiment: ExperimentResult) -> None:
    folder = session_results / "tiny"
    rs = results.load_result_set(folder)
    assert rs.strategies == ["split_shipments", "cheapest", "distance"] and rs.baseline == "split_shipments"
    shipments = pl.read_parquet(folder / "shipments.parquet")
    shipped = results.shipped_by_location(folder, 2)
    assert shipped["units"].sum() == pytest.approx(shipments["units"].sum() / 2)
    orders = pl.read_parquet(folder / "orders.parquet")
    per_day = results.orders_per_day(folder)
    assert per_day["orders"].sum() == orders.filter(pl.col("attempt") == 0).height
    ex = results.explanations(folder)
    assert ex.height > 0 and set(ex["strategy"].to_list()) == set(rs.strategies)
    ref = ex["order_ref"][0]
    o, s = results.order_detail(folder, ex["strategy"][0], int(ex["replication"][0]), ref)
    assert set(o["order_ref"].to_list()) == {ref} and set(s["order_ref"].to_list()) <= {ref}


def test_result_errors_name_the_file(results_dir: Path) -> None:
    folder = results_dir / "tiny"
    (folder / "daily.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(results.ResultsError, match=r"daily.parquet cannot be read"):
        results.daily(folder)
    (folder / "shipments.parquet").unlink()
    with pytest.raises(results.ResultsError, match=r"shipments.parquet is missing"):
        results.shipped_by_location(folder, 2)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["strategies"].append("ghost")
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(results.ResultsError, match=r"no rows for strategies \['ghost'\]"):
        results.load_result_set(folder)
    with pytest.raises(results.ResultsError, match="missing"):
        results.load_result_set(results_dir / "absent")


def test_env_overrides_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOM_RESULTS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(tmp_path / "s"))
    assert results.results_dir() == tmp_path / "r" and results.scenarios_dir() == tmp_path / "s"
    monkeypatch.delenv("DOM_RESULTS_DIR")
    assert results.results_dir() == results.ROOT / "results"


# ------------------------------------------------------------------------------------------ time series


def test_series_means_over_replications(session_results: Path) -> None:
    folder = session_results / "tiny"
    daily = results.daily(folder)
    per_day = results.orders_per_day(folder)
    s = timeseries.series(daily, per_day)
    day1 = daily.filter((pl.col("strategy") == "cheapest") & (pl.col("day") == 1))
    expected = day1.group_by("replication").agg(pl.col("on_hand").sum())["on_hand"].mean()
    got = s.filter((pl.col("strategy") == "cheapest") & (pl.col("day") == 1))["on_hand"][0]
    assert got == pytest.approx(expected)
    sel = timeseries.selections(daily)
    assert sel[:3] == [timeseries.ALL, "DCs", "Stores"] and "DE-DC1" in sel
    dc = timeseries.series(daily, per_day, "DCs")
    one = timeseries.series(daily, per_day, "DE-DC1")
    assert dc["on_hand"].to_list() == one["on_hand"].to_list()  # the only DC
    assert dc["orders"].to_list() == s["orders"].to_list()  # orders are network-wide


# ------------------------------------------------------------------------------------------ map


def test_flows_cover_the_runs_units(session_results: Path) -> None:
    folder = session_results / "tiny"
    world = build_world(load_scenario(DATA / "tiny.yaml"))
    demand = generate_demand(world, 0)
    dest = geo.destinations(world, demand)
    assert dest.height == len(demand)
    pick = int((demand.pickup >= 0).argmax())  # a click-and-collect order goes to its store
    store = world.network.locations[int(demand.pickup[pick])]
    assert (dest["dest_lat"][pick], dest["dest_lon"][pick]) == (store.lat, store.lon)
    locs = geo.locations(world)
    ships = results.shipments_of(folder, "cheapest", 0)
    flows = geo.flows(ships, dest, locs, top=10_000)
    assert flows["units"].sum() == ships["units"].sum()
    assert set(flows["location"].to_list()) <= set(locs["location"].to_list())
    assert geo.flows(ships, dest, locs, top=3).height == 3
    vol = geo.volumes(results.shipped_by_location(folder, 2), locs, "cheapest")
    assert vol.height == locs.height and vol["share"].sum() == pytest.approx(1.0)
    shares = geo.kind_shares(results.shipped_by_location(folder, 2))
    totals = shares.group_by("strategy").agg(pl.col("share").sum())["share"].to_list()
    assert totals == pytest.approx([1.0] * 3)
    fig = charts.network_map(vol, flows, geo.customer_places(world), "t")
    assert {t.name for t in fig.data} >= {"DCs", "Stores", "where customers live", "land", "country borders"}


# ------------------------------------------------------------------------------------------ runs


def test_configure_and_folder_names() -> None:
    sc = load_scenario(DATA / "tiny.yaml")
    two = runs.configure(sc, ["cheapest", "distance"], 1)
    assert [r.name for r in two.experiment.runs()] == ["cheapest", "distance"]
    assert two.baseline == "cheapest" and two.experiment.replications == 1
    assert runs.configure(sc, ["split_shipments", "distance"], 2).baseline == "split_shipments"
    with pytest.raises(DomError, match="at least one strategy"):
        runs.configure(sc, [], 2)
    base = runs.folder_name(sc, runs.knobs())
    assert base.startswith("tiny-") and base == runs.folder_name(sc, runs.knobs())
    assert runs.folder_name(sc, runs.knobs(demand_factor=1.5)) != base
    assert runs.folder_name(two, runs.knobs()) != base
    assert [p.name for p in runs.scenario_files(DATA)] == ["broken.yaml", "tiny.yaml"]


def test_broken_scenario_raises_a_named_error() -> None:
    with pytest.raises(runs.SCENARIO_ERRORS) as info:
        runs.load(DATA / "broken.yaml")
    assert "horizon_days (line 3)" in str(info.value)


def test_run_reports_progress_and_writes_the_folder(tmp_path: Path) -> None:
    sc = runs.configure(load_scenario(DATA / "tiny.yaml"), ["split_shipments", "cheapest"], 1)
    seen: list[tuple[str, int, int, int]] = []

    def done(r: runs.RunDone, n: int, of: int) -> None:
        seen.append((r.strategy, r.replication, n, of))

    out = runs.run(sc, runs.knobs(), tmp_path / "out", done, workers=2)
    assert out == tmp_path / "out" and (out / "manifest.json").is_file()
    assert {(s, rep) for s, rep, _, _ in seen} == {("split_shipments", 0), ("cheapest", 0)}
    assert [(n, of) for _, _, n, of in seen] == [(1, 2), (2, 2)]  # in order of completion


def test_a_failing_run_raises_its_message(tmp_path: Path) -> None:
    sc = load_scenario(DATA / "tiny.yaml")
    markets = sc.generate.markets  # type: ignore[union-attr]
    bad = sc.model_copy(update={"generate": sc.generate.model_copy(  # type: ignore[union-attr]
        update={"markets": [markets[0].model_copy(update={"country": "XX"})]})})
    with pytest.raises(runs.RunError, match="no places known for country 'XX'"):
        runs.run(bad, runs.knobs(), tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_an_interrupted_caller_leaves_the_run_to_finish(tmp_path: Path) -> None:
    """Streamlit stops a script by raising inside it (here: in the progress callback)."""
    sc = runs.configure(load_scenario(DATA / "tiny.yaml"), ["split_shipments", "cheapest"], 1)

    def stop(r: runs.RunDone, n: int, of: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.run(sc, runs.knobs(), tmp_path / "out", stop)
    deadline = time.monotonic() + 60
    while not (tmp_path / "out" / "manifest.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert results.load_result_set(tmp_path / "out").strategies == ["split_shipments", "cheapest"]
