"""The results page as a retail operations manager reads it (issue 19): a real map drawn offline, money
with its currency, calendar dates instead of simulated hours, the decision explanation as a table with
the removed locations grouped by reason, and captions free of internal words."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import basemap, explain, plain
from dom_core.decision import CandidateNote, Explanation
from dom_core.engine import SourcingEngine
from dom_core.model import FulfilmentType
from dom_core.strategies import build_strategy
from sim.compare import demand_orders
from sim.demand import generate_demand
from sim.scenario import load_scenario
from sim.world import build_world
from tests.app.conftest import APP, DATA

TIMEOUT = 60
URL = re.compile(r"https?://|//cdn|topojson", re.IGNORECASE)
DATE_TIME = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d$")
JARGON = ("knobs", "simulated hour", "replication", "pareto", "n.s.", "dominated", "ci over")


def run_app(results: Path, monkeypatch: pytest.MonkeyPatch, **state: Any) -> AppTest:
    monkeypatch.setenv("DOM_RESULTS_DIR", str(results))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def with_manifest(results: Path, **spec: Any) -> None:
    """Add fields to the scenario in the results' manifest (as a scenario naming them would)."""
    path = results / "tiny" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["scenario_spec"].update(spec)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def pickup_explanation() -> str:
    """The engine's own explanation of a pickup-in-store order of the tiny scenario."""
    world = build_world(load_scenario(DATA / "tiny.yaml"))
    orders = demand_orders(world, generate_demand(world, 0), 300)
    order = next(o for o in orders if o.fulfilment is FulfilmentType.PICKUP_IN_STORE)
    engine = SourcingEngine(world.network, world.carriers, strategy=build_strategy("split_shipments"))
    return engine.explain(order, world.initial).as_text()


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table, header first."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|") and not ln.startswith("|---")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]


# ------------------------------------------------------------------------------------------ the map
def test_map_draws_geography_from_shipped_data_and_fetches_nothing(
    session_results: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = run_app(session_results, monkeypatch, view="Map")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    for name in ("land", "coastline", "country borders"):
        points = [x for x in traces[name]["x"] if x is not None]
        assert len(points) > 50, name  # real outlines, not a token line
    assert traces["land"]["fill"] == "toself"
    # Germany's borders: Denmark in the north, the Alps in the south, all inside the view
    (x0, x1), (y0, y1) = spec["layout"]["xaxis"]["range"], spec["layout"]["yaxis"]["range"]
    ys = [y for y in traces["country borders"]["y"] if y is not None]
    assert min(ys) < 48.0 and max(ys) > 54.0 and y0 <= 47.5 and y1 >= 54.5 and x0 < 7.0 and x1 > 14.0
    # plain lon/lat traces only: no geo/mapbox subplot (those load topojson or tiles from the internet)
    assert not {"geo", "mapbox", "map"} & set(spec["layout"])
    assert {t.get("type", "scatter") for t in spec["data"]} == {"scatter"}
    for chart in at.get("plotly_chart"):
        assert not URL.search(chart.proto.spec)


def test_basemap_reads_the_packaged_file_and_clips_to_the_view() -> None:
    assert basemap.DATA.is_file() and basemap.DATA.stat().st_size < 400_000
    assert basemap.DATA.parent.joinpath("README.md").read_text(encoding="utf-8").count("Natural Earth") >= 2
    w = basemap.world()
    assert len(w.coast) > 1000 and len(w.borders) > 300 and len(w.land) > 1000
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    clipped = basemap.clip_polygon(square, (2.0, 5.0, -1.0, 3.0))
    assert sorted(map(tuple, clipped.tolist())) == [(2.0, 0.0), (2.0, 3.0), (5.0, 0.0), (5.0, 3.0)]
    line = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 3.0], [6.0, 6.0], [8.0, 8.0], [3.0, 4.0]])
    pieces = basemap.clip_line(line, (2.0, 5.0, 2.0, 5.0))
    assert [p.tolist() for p in pieces] == [[[1.0, 1.0], [3.0, 3.0], [6.0, 6.0], [8.0, 8.0], [3.0, 4.0]]]
    box = basemap.view([6.0, 15.0], [47.5, 55.0])
    assert box[0] < 6.0 and box[1] > 15.0 and box[2] < 47.5 and box[3] > 55.0
    layers = basemap.layers(box)
    xs = [x for x in layers.coast[0] if x is not None]
    assert xs and min(xs) >= box[0] - 1 and max(xs) <= box[1] + 1


# ------------------------------------------------------------------------------------------ money and dates
def test_money_carries_the_currency(session_results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(session_results, monkeypatch)
    cost = next(m for m in at.metric if m.label == "Cost per order")
    assert re.fullmatch(r"\d+\.\d\d EUR", cost.value), cost.value
    assert cost.delta.endswith(" EUR")
    table = next(m.value for m in at.markdown if m.value.startswith("| KPI"))
    assert "| Cost per order (EUR) |" in table
    answer = next(m.value for m in at.markdown if "Best trade-offs" in m.value)
    assert "EUR" in answer or "none" in answer
    assert any("costs in EUR" in c.value for c in at.caption)
    assert any("names no currency" in c.value and "EUR" in c.value for c in at.caption)  # said, not hidden


def test_scenario_currency_and_start_date_are_used(
    results_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_manifest(results_dir, currency="sek", calendar={"start_date": "2027-03-01"})
    at = run_app(results_dir, monkeypatch, view="Drill-down")
    assert not any("Dates and money" in c.value for c in at.caption)  # nothing assumed
    assert any("orders from 1 Mar 2027 to 3 Mar 2027" in c.value for c in at.caption)
    orders, parcels = (d.value for d in at.dataframe)
    assert orders["Placed"][0].startswith("Mon 1 Mar 2027, 00:")
    assert orders["Total cost"][0].endswith(" SEK")
    assert DATE_TIME.match(parcels["Promised by"][0])
    at = run_app(results_dir, monkeypatch)
    assert next(m for m in at.metric if m.label == "Cost per order").value.endswith(" SEK")


def test_order_tables_show_calendar_dates(session_results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(session_results, monkeypatch, view="Drill-down")
    orders, parcels = (d.value for d in at.dataframe)
    for column in ("Placed", "Decided", "Promised by"):
        assert DATE_TIME.match(orders[column][0]), orders[column][0]
    for column in ("Picked", "Shipped", "Promised by", "Delivered"):
        assert all(DATE_TIME.match(v) or v == plain.MISSING for v in parcels[column])
    assert orders["Placed"][0].startswith("Mon 4 Jan 2027")  # the documented default start
    assert all(v.endswith(" EUR") for v in orders["Total cost"])
    assert not any(isinstance(v, float) for v in orders.iloc[0].tolist())  # no raw simulated hours
    assert any("names no start date" in c.value and "Mon 4 Jan 2027" in c.value for c in at.caption)


def test_calendar_words() -> None:
    cal = plain.calendar({"scenario_spec": {"calendar": {"start_date": "2027-03-01"}}})
    assert (cal.start_given, cal.currency, cal.currency_given) == (True, "EUR", False)
    assert cal.when(0.0358) == "Mon 1 Mar 2027, 00:02" and cal.when(49.5) == "Wed 3 Mar 2027, 01:30"
    assert cal.when(None) == plain.MISSING and cal.money(4.8211) == "4.82 EUR"
    default = plain.calendar({})
    assert default.start == plain.DEFAULT_START and default.start.weekday() == 0  # hour 0 is a Monday
    assert "no start date" in default.note()
    assert plain.settings({"demand_factor": 1.0, "max_shipments": None}) == "settings as in the scenario file"
    said = plain.settings({"demand_factor": 1.5, "capacity_factor": 0.8, "max_shipments": 1,
                           "safety_stock": 2, "store_participation": 0.5})
    assert said == ("demand × 1.5, pick capacity × 0.8, at most 1 parcel per order, safety stock 2 units per "
                    "location and product, 50% of stores ship online orders")


# ------------------------------------------------------------------------------------------ the explanation
def test_explanation_table_puts_the_winner_first_and_groups_the_removed() -> None:
    text = pickup_explanation()
    assert text.count("removed: pickup in store serves from") >= 3  # one raw line per location
    d = explain.parse(text)
    assert d is not None
    t = explain.table(d, plain.Calendar())
    assert t.columns == list(explain.COLUMNS)
    first = t.row(0, named=True)
    assert first["Status"].startswith("Chosen: ships") and first["Rank"] == "1"
    assert first["Cost"].endswith(" EUR") and DATE_TIME.match(first["Promised by"])
    removed = t.filter(pl.col("Status").str.starts_with("Removed"))
    assert removed.height == 1  # one row for the reason, not one per location
    n = text.count("removed: pickup in store serves from")
    assert removed["Status"][0] == f"Removed ({n})"
    assert removed["Rule or reason"][0].startswith("pickup in store serves from")
    assert removed["Location"][0].startswith(f"{n} locations: ")
    (group,) = [g for g in explain.groups(d) if g.outcome == explain.REMOVED]
    assert len(group.members) == n and explain.members(group).height == n
    assert explain.parse("not an explanation") is None
    said = explain.summary(d, plain.Calendar(), "as-configured")
    assert said.startswith("**as-configured** (here: split_shipments) ships it in 1 parcel from ")


def test_filters_and_unchecked_locations_are_grouped_in_words() -> None:
    notes = (
        CandidateNote("DE-S001", "removed by filter in_stock", (0, 0)),
        CandidateNote("DE-S002", "removed by filter in_stock", (0, 0)),
        CandidateNote("DE-S003", "removed by filter max_distance", (4, 1)),
        CandidateNote("DE-DC1", "considered, not needed", (0, 0), rank=1, score=3.5),
        CandidateNote("DE-DC2", "chosen: ships SKU00001x2, SKU00002x1", (9, 4), rank=2, score=4.25),
        CandidateNote("DE-DC3", "not considered (beyond the cutoff or lower ranked)", (9, 9), score=5.0),
    )
    why = ("cheapest: DE-DC2 ships the whole order at the best score; "
           "DE-DC2 via ground: cost 6.10, promised by hour 50.0, 0.250 kg CO2e")
    d = explain.parse(Explanation("cheapest", "de-online", notes, why).as_text())
    assert d is not None and d.rule == "DE-DC2 ships the whole order at the best score"
    t = explain.table(d, plain.Calendar(currency="GBP"))
    assert t["Location"].to_list()[:2] == ["DE-DC2", "DE-DC1"]  # the winner first, though ranked second
    assert t.row(0, named=True)["Status"] == "Chosen: ships SKU00001 ×2, SKU00002 ×1 by ground"
    assert t.row(0, named=True)["Cost"] == "6.10 GBP" and t.row(0, named=True)["Ranking score"] == "4.25"
    assert "no stock" in t.row(1, named=True)["Rule or reason"]  # checked, but it had nothing
    rest = t.slice(2).select("Status", "Rule or reason").rows()
    assert rest == [("Not checked (1)", explain.NOT_CHECKED_WHY),
                    ("Removed (2)", explain.FILTERS["in_stock"]),
                    ("Removed (1)", explain.FILTERS["max_distance"])]


def test_drilldown_shows_the_table_with_groups(results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = pickup_explanation()
    path = results_dir / "tiny" / "explanations.parquet"
    ex = pl.read_parquet(path)
    first = ((pl.col("strategy") == "split_shipments") & (pl.col("replication") == 0)
             & (pl.col("order_ref") == "O0"))
    replaced = pl.when(first).then(pl.lit(text)).otherwise(pl.col("explanation")).alias("explanation")
    ex.with_columns(replaced).write_parquet(path)
    at = run_app(results_dir, monkeypatch, view="Drill-down")
    assert at.selectbox(key="tiny:dd_order").value == "O0"
    table = next(m.value for m in at.markdown if m.value.startswith("| Location | Status"))
    rows = markdown_rows(table)
    assert rows[0] == list(explain.COLUMNS)
    assert rows[1][1].startswith("Chosen: ships")
    n = text.count("removed: pickup in store serves from")
    assert any(r[1] == f"Removed ({n})" for r in rows[2:])
    assert len(rows) < 6  # a few rows, not one per location
    labels = [e.label for e in at.expander]
    assert any(label.startswith("Removed: pickup in store serves from") and label.endswith(f"({n} locations)")
               for label in labels)
    assert at.get("code")[0].value == text  # the engine's text is still there, folded away
    summary = next(m.value for m in at.markdown if m.value.startswith("**split_shipments** ships it"))
    assert " EUR**" in summary and "promised by **" in summary


# ------------------------------------------------------------------------------------------ words
@pytest.mark.parametrize("tab", ["Comparison", "Trade-offs", "Map", "Time series", "Drill-down"])
def test_no_internal_words(session_results: Path, monkeypatch: pytest.MonkeyPatch, tab: str) -> None:
    at = run_app(session_results, monkeypatch, view=tab, run_panel=True)
    said = [c.value for c in at.caption]
    said += [m.value for m in at.markdown if not m.value.startswith("| Location")]
    said += [w.label for kind in ("selectbox", "slider", "number_input", "multiselect", "checkbox")
             for w in at.get(kind) if hasattr(w, "label")]
    said += [m.label for m in at.metric] + [m.help or "" for m in at.metric]
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        said.append(spec["layout"].get("title", {}).get("text", ""))
        said += [t.get("name") or "" for t in spec["data"]]
    found = [(word, text) for text in said for word in JARGON if word in text.lower()]
    assert not found, found

