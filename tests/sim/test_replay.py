"""``dom replay``: an order history through every strategy, each valid order placed once at its time, bad
rows reported, reproducible from the seed, replications differing only in their random draws."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.demand import generate_demand
from sim.history import check_history, normalise, read_history
from sim.history_synth import history_frame
from sim.replay import prepare_replay, run_replay
from sim.scenario import Scenario
from sim.tables import TABLES
from sim.world import World
from tests.sim.conftest import digest, variant

MONDAY = dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def history(tiny_world: World) -> pl.DataFrame:
    """The tiny scenario's generated orders of replication 0 as a history (1,174 orders, 2,061 lines)."""
    return history_frame(tiny_world, generate_demand(tiny_world, 0), MONDAY)


def one_rep(tiny: Scenario, replications: int = 1) -> Scenario:
    return variant(tiny, experiment__replications=replications)


def first_attempts(result_orders: pl.DataFrame) -> pl.DataFrame:
    return result_orders.filter(pl.col("attempt") == 0)


def test_every_order_is_placed_once_per_strategy_at_its_time(tiny: Scenario, history: pl.DataFrame) -> None:
    replay = prepare_replay(one_rep(tiny), history)
    assert replay.checked.problems.is_empty() and len(replay.orders) == 1174
    assert replay.scenario.horizon_days == 4 and replay.checked.start_date == MONDAY
    result = run_replay(replay, workers=1)
    expected = (
        history.group_by("order_id").agg(pl.col("created_at").first(), pl.col("qty").sum()).sort("order_id")
    )
    since = expected["created_at"] - dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    hours = since.dt.total_microseconds().to_numpy() / 3.6e9
    for run in result.runs:
        placed = first_attempts(run.tables["orders"]).sort("order_no")
        assert placed["order_no"].to_list() == list(range(1174))  # each order exactly once
        assert np.allclose(placed["created_at"].to_numpy(), np.sort(hours), atol=1e-6)
        assert (placed["decided_at"] == placed["created_at"]).all()  # placed at its time
        assert placed["units"].sum() == history["qty"].sum()


def test_rows_that_cannot_be_placed_are_reported(tiny: Scenario, history: pl.DataFrame) -> None:
    good = history.head(6)
    first = good.row(0, named=True)

    def row(**changes: object) -> dict[str, object]:
        return {**first, "line_id": str(changes.pop("line", "9")), **changes}

    bad = pl.DataFrame(
        [
            row(order_id="A", sku="NOPE"),  # one bad line: the order keeps its other line
            row(order_id="A", line="2"),
            row(order_id="B", market="FR"),
            row(order_id="C", channel="marketplace"),
            row(order_id="D", fulfilment="pickup_in_store", pickup_location="NOWHERE"),
            row(order_id="E", qty=0),
            row(order_id="F", fulfilment="teleport"),
            row(order_id="G", lat=None),
            row(order_id="H", line="1"),
            row(order_id="H", line="1"),
        ],
        schema=history.schema,
    )
    replay = prepare_replay(one_rep(tiny), pl.concat([good, bad]))
    summary = {r["reason"]: (r["rows"], r["orders"]) for r in replay.checked.summary().iter_rows(named=True)}
    assert summary == {
        "unknown SKU": (1, 1),
        "unknown market": (1, 1),
        "no inventory model serves its market and channel": (1, 1),
        "unknown pickup store": (1, 1),
        "quantity not positive": (1, 1),
        "unknown fulfilment": (1, 1),
        "missing or invalid coordinates": (1, 1),
        "duplicate line id in its order": (1, 1),
    }
    problems = replay.checked.problems
    assert problems.filter(pl.col("reason") == "unknown SKU")["value"].to_list() == ["NOPE"]
    assert problems.filter(pl.col("reason") == "unknown pickup store")["row"].to_list() == [11]
    placed = replay.checked.rows["order_id"].unique().to_list()
    assert {"A", "H"} <= set(placed) and not {"B", "C", "D", "E", "F", "G"} & set(placed)
    result = run_replay(replay, workers=1)
    orders = first_attempts(result.runs[0].tables["orders"])
    assert orders.height == len(set(good["order_id"])) + 2  # A and H, each with its good line


def test_replay_is_reproducible_and_replications_differ_only_in_draws(
    tiny: Scenario, history: pl.DataFrame
) -> None:
    sc = variant(one_rep(tiny, 2), experiment__strategies=["cheapest"], experiment__baseline=None)
    first = run_replay(prepare_replay(sc, history), workers=1)
    again = run_replay(prepare_replay(sc, history), workers=1)
    assert [digest(r) for r in first.runs] == [digest(r) for r in again.runs]
    rep0, rep1 = first.runs
    o0, o1 = first_attempts(rep0.tables["orders"]), first_attempts(rep1.tables["orders"])
    assert o0.select("order_no", "created_at", "units").equals(o1.select("order_no", "created_at", "units"))
    s0, s1 = rep0.tables["shipments"], rep1.tables["shipments"]
    assert not s0["delivered_at"].equals(s1["delivered_at"])  # transit times are drawn per replication
    other_seed = run_replay(prepare_replay(variant(sc, seed=12), history), workers=1)
    assert digest(other_seed.runs[0]) != digest(rep0)


def test_parallel_replay_gives_the_single_process_tables(tiny: Scenario, history: pl.DataFrame) -> None:
    sc = one_rep(tiny, 2)
    single = run_replay(prepare_replay(sc, history), workers=1)
    parallel = run_replay(prepare_replay(sc, history), workers=2)
    assert [(r.strategy, r.replication, digest(r)) for r in single.runs] == [
        (r.strategy, r.replication, digest(r)) for r in parallel.runs
    ]
    assert single.comparison.equals(parallel.comparison)


def test_returns_recorded_in_the_history_are_replayed(tiny: Scenario, history: pl.DataFrame) -> None:
    returned = ["H0000010", "H0000020", "H0000030"]
    marked = history.with_columns(
        pl.when(pl.col("order_id").is_in(returned)).then(1).otherwise(0).alias("return_qty"),
        pl.when(pl.col("order_id") == "H0000010").then(3.5).otherwise(None).alias("return_days"),
    )
    replay = prepare_replay(one_rep(tiny), marked)
    assert replay.orders.returns_known[0] == 1
    heads = replay.heads().with_row_index("order_no")
    refs = {f"O{k}": oid for k, oid in heads.select("order_no", "order_id").iter_rows()}
    back = run_replay(replay, workers=1).runs[0].tables["returns"]
    assert back.height > 0 and {refs[r] for r in back["order_ref"].to_list()} <= set(returned)
    assert (back["qty"] == 1).all()  # one unit of the line, as the history says
    created = heads.filter(pl.col("order_id") == "H0000010")["t"].item()
    ten = back.filter(pl.col("order_ref").replace_strict(refs, default="") == "H0000010")["returned_at"]
    assert ten.len() and ((ten - (created + 3.5 * 24)).abs() < 1e-6).all()  # when the history says
    model = prepare_replay(one_rep(tiny), marked, returns="model")
    assert model.orders.returns_known[0] == 0
    assert run_replay(model, workers=1).runs[0].tables["returns"].height > 3 * back.height  # the model's 30%


def test_local_time_and_start_date(tiny: Scenario, tiny_world: World) -> None:
    frame = normalise(
        pl.DataFrame(
            {
                "order_id": ["a", "b"],
                "created_at": [
                    "2026-11-03T23:30:00Z",
                    "2026-11-04T08:00:00Z",
                ],  # Tue 23:30 UTC = Wed 00:30 CET
                "market": ["DE", "DE"],
                "channel": ["web", "web"],
                "lat": [52.5, 52.5],
                "lon": [13.4, 13.4],
                "sku": [tiny_world.network.skus[0].id] * 2,
                "qty": [1, 2],
            }
        )
    )
    checked = check_history(frame, tiny_world.network, tiny_world.market_names, timezone="Europe/Berlin")
    assert checked.start_date == MONDAY  # the Monday of the first order's week
    assert checked.rows["t"].to_list() == pytest.approx([48.5, 57.0])
    sc = variant(tiny, calendar={"start_date": "2026-11-09", "timezone": "Europe/Berlin"})
    replay = prepare_replay(sc, frame)
    assert replay.checked.summary()["reason"].to_list() == ["before the calendar's start_date"]


def test_dom_replay_writes_the_results_folder(tiny: Scenario, history: pl.DataFrame, tmp_path: Path) -> None:
    from dashboard.results import load_result_set

    path = tmp_path / "history.parquet"
    pl.concat(
        [history, history.head(1).with_columns(pl.lit("NOPE").alias("sku"), pl.lit("Z").alias("order_id"))]
    ).write_parquet(path)
    out = tmp_path / "out"
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(json.dumps(one_rep(tiny).model_dump(mode="json")), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["replay", str(scenario), "--history", str(path), "--strategies", "cheapest", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "2,062 rows, 1,175 orders" in text and "unknown SKU" in text and "order Z line 1: NOPE" in text
    for name in [*TABLES, "kpis", "comparison", "history_problems", "history_orders"]:
        assert (out / f"{name}.parquet").exists(), name
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["replay"]["orders_placed"] == 1174 and manifest["start_date"] == "2026-11-02"
    results = load_result_set(out)
    assert results.strategies == ["cheapest"]
    assert read_history(path).height == 2062
    bad = CliRunner().invoke(app, ["replay", str(scenario), "--history", str(tmp_path / "none.parquet")])
    assert bad.exit_code == 2 and "no such file" in " ".join(bad.stderr.split())


# ------------------------------------------------------------------------------ the sample retailer
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample_retailer"


def test_sample_retailer_imports_and_replays(tmp_path: Path) -> None:
    """The committed sample, imported with retail's importers and replayed end to end through the CLI."""
    out = tmp_path / "out"
    args = [
        "replay",
        str(SAMPLE / "scenario.yaml"),
        "--network",
        str(SAMPLE),
        "--history",
        str(SAMPLE / "history.csv"),
    ]
    args += [
        "--replications",
        "1",
        "--strategies",
        "as-configured,cheapest",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    replay = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["replay"]
    reasons = {r["reason"]: r["orders"] for r in replay["not_placed"]}
    assert reasons == {
        "unknown SKU": 12,  # the gift card line; its orders keep their other lines
        "no inventory model serves its market and channel": 8,  # BE marketplace
        "unknown market": 5,  # FR
        "unknown pickup store": 3,  # NL-HLM
    }
    assert replay["orders_placed"] == replay["orders"] - 16 and replay["returns"] == "history"
    orders = pl.read_parquet(out / "orders.parquet").filter(pl.col("attempt") == 0)
    assert orders.group_by("strategy").len()["len"].to_list() == [replay["orders_placed"]] * 2
    daily = pl.read_parquet(out / "daily.parquet")  # the row of day d holds the picks of day d - 1
    armistice = daily.filter(pl.col("day") == 3, pl.col("location").is_in(["3PL-ANT", "BE-BRU", "BE-GNT"]))
    assert armistice["picked_units"].sum() == 0 and armistice["capacity_units"].sum() == 0  # 11 Nov in BE
    refit = daily.filter(pl.col("day").is_in([8, 9]), pl.col("location") == "NL-UTR")
    assert refit["capacity_units"].sum() == 0  # closed for its refit
    sunday = daily.filter(pl.col("day") == 7, pl.col("location") == "DC-TIL")
    assert sunday["capacity_units"].sum() == 0 and sunday["picked_units"].sum() == 0  # no Sunday shift
    per_day = (orders["created_at"] // 24).value_counts().sort("created_at")["count"].to_list()
    assert min(per_day[18:21]) > 1.5 * max(per_day[11:17])  # Black Friday weekend


def test_sample_retailer_script_writes_the_committed_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_sample_retailer.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    committed = sorted(p.name for p in SAMPLE.iterdir() if p.is_file() and p.name != "README.md")
    assert committed == sorted(p.name for p in tmp_path.iterdir())
    for name in committed:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
