"""The shadow page (candidate rules beside the live rules on live orders) and ``dashboard.shadow``."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

from dashboard import shadow
from tests.app.conftest import APP

N = 200
START = datetime(2026, 3, 1, tzinfo=UTC)
UTC_US = pl.Datetime("us", "UTC")


def shadow_frame(n: int = N, seed: int = 7) -> pl.DataFrame:
    """Orders every 3 hours from 1 March 2026; the rules disagree on orders with ``i % 8`` in (3, 5)."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    agree = ~np.isin(i % 8, (3, 5))
    live_cost = np.round(5 + rng.uniform(0, 3, n), 2)
    cost_diff = np.where(agree, 0.0, np.round(rng.normal(0.3, 1.0, n), 2))
    ships = i % 25 != 0  # nothing ships on every 25th order: no promise
    live_promise = 24.0 + rng.integers(0, 48, n)
    promise_diff = np.where(agree, 0.0, rng.choice([-24.0, -6.0, 0.0, 12.0], n))
    live_co2 = 0.5 + rng.uniform(0, 0.5, n)
    co2_diff = np.where(agree, 0.0, rng.normal(-0.02, 0.05, n))
    live_units = np.where(ships, 1 + i % 3, 0)
    candidate_units = np.where(~agree & (i % 16 == 3), live_units - 1, live_units).clip(0)
    promise = pl.Series(live_promise).set(~pl.Series(ships), None)
    diff = pl.Series(promise_diff).set(~pl.Series(ships), None)
    return pl.DataFrame({
        "order_id": [f"W{k:05d}" for k in i],
        "placed_at": pl.Series([START + timedelta(hours=3 * int(k)) for k in i], dtype=UTC_US),
        "market": np.where(i < 120, "DE", "FR"), "channel": np.where(i % 3 == 0, "app", "web"),
        "live_version": 3, "candidate_version": 4,
        "live_strategy": "priority", "candidate_strategy": "cheapest", "agree": agree,
        "live_cost": live_cost, "candidate_cost": live_cost + cost_diff, "cost_diff": cost_diff,
        "live_promise_hours": promise, "candidate_promise_hours": promise + diff, "promise_diff_hours": diff,
        "live_co2_kg": live_co2, "candidate_co2_kg": live_co2 + co2_diff, "co2_diff_kg": co2_diff,
        "live_units": live_units, "candidate_units": candidate_units,
        "live_locations": np.where(agree, "DC1", "DC1,S3"), "candidate_locations": "DC1",
    })


@pytest.fixture
def orders() -> pl.DataFrame:
    return shadow_frame()


@pytest.fixture
def shadow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, orders: pl.DataFrame) -> Path:
    """A shadow folder holding one export; no simulation results at all."""
    root = tmp_path / "shadow"
    root.mkdir()
    orders.write_parquet(root / "week-10.parquet")
    monkeypatch.setenv("DOM_SHADOW_DIR", str(root))
    monkeypatch.setenv("DOM_RESULTS_DIR", str(tmp_path / "no-results"))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(tmp_path / "no-scenarios"))
    return root


def run_shadow_page(**state: Any) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["page"] = "Shadow"
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def segment_rows(at: AppTest) -> list[list[str]]:
    """The per market x channel table (a Markdown table) as rows of cells."""
    table = next(m.value for m in at.markdown if m.value.startswith("| Market | Channel | Orders"))
    return [line.strip("| ").split(" | ") for line in table.splitlines()[2:]]


def t_interval(values: pl.Series) -> tuple[float, float]:
    """Mean and 95% half-width (Student t, from scipy.stats) computed by hand."""
    x = values.to_numpy()
    n, mean, sd = len(x), float(x.sum()) / len(x), float(x.std(ddof=1))
    return mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def expected_segments(orders: pl.DataFrame) -> pl.DataFrame:
    return orders.group_by("market", "channel").agg(
        pl.len().alias("orders"), pl.col("agree").mean().alias("rate"),
    ).sort("market", "channel")


# ------------------------------------------------------------------------------------------ the page
def test_shadow_page_shows_the_comparison(shadow_env: Path, orders: pl.DataFrame) -> None:
    at = run_shadow_page()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Should the candidate rules replace the live rules?"
    assert at.selectbox(key="shadow_file").value == shadow_env / "week-10.parquet"
    cards = metrics(at)
    assert cards["Orders compared"] == "200"
    assert cards["Agreement rate"] == "75.0%"  # 50 of 200 orders disagree
    mean, half = t_interval(orders["cost_diff"])
    assert cards["Cost difference per order"] == f"{mean:+,.2f} ± {half:,.2f} EUR"
    assert cards["Fill difference"] == f"{(orders['candidate_units'] - orders['live_units']).sum():+,} units"
    assert "EUR" in next(m.value for m in at.markdown if "live orders" in m.value)
    assert "1 Mar 2026 to 25 Mar 2026" in at.caption[0].value


def test_segment_table_has_one_row_per_market_and_channel(shadow_env: Path, orders: pl.DataFrame) -> None:
    rows = segment_rows(run_shadow_page())
    want = expected_segments(orders)
    assert len(rows) == 4
    assert [(r[0], r[1], int(r[2]), r[3]) for r in rows] == [
        (m, c, n, f"{rate:.1%}") for m, c, n, rate in want.iter_rows()
    ]
    assert sum(int(r[2]) for r in rows) == N


def test_histogram_holds_only_the_disagreeing_orders(shadow_env: Path, orders: pl.DataFrame) -> None:
    at = run_shadow_page()
    costs, daily = (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    xs = costs["data"][0]["x"]
    want = orders.filter(~pl.col("agree"))["cost_diff"].to_list()
    assert len(xs) == 50
    assert sorted(xs) == pytest.approx(sorted(want))
    assert "50 orders" in costs["layout"]["title"]["text"]
    # the daily agreement line: one point per calendar day, rates from the orders of that day
    day = orders.group_by(pl.col("placed_at").dt.date()).agg(pl.col("agree").mean() * 100).sort("placed_at")
    line = daily["data"][0]
    assert line["x"] == [d.isoformat() for d in day["placed_at"].to_list()]
    assert line["y"] == pytest.approx(day["agree"].to_list())


def test_files_newest_first_and_upload_with_its_currency(shadow_env: Path, orders: pl.DataFrame) -> None:
    older = shadow_env / "week-09.parquet"
    orders.head(40).write_parquet(older)
    os.utime(older, (1e9, 1e9))
    at = run_shadow_page()
    assert at.selectbox(key="shadow_file").options == ["week-10.parquet", "week-09.parquet"]
    at.selectbox(key="shadow_file").select(older).run()
    assert metrics(at)["Orders compared"] == "40"
    upload = shadow_env.parent / "usd.parquet"
    orders.head(80).write_parquet(upload, metadata={"currency": "USD"})
    at.file_uploader(key="shadow_upload").upload("usd.parquet", upload.read_bytes()).run()
    assert not at.exception and not at.error
    assert metrics(at)["Orders compared"] == "80"
    assert metrics(at)["Cost difference per order"].endswith(" USD")


def test_missing_column_gives_an_error_naming_it(shadow_env: Path, orders: pl.DataFrame) -> None:
    orders.drop("agree").write_parquet(shadow_env / "week-10.parquet")
    at = run_shadow_page()
    assert not at.exception
    (err,) = at.error
    assert "week-10.parquet cannot be shown" in err.value and "lacks the columns agree" in err.value
    assert not at.get("plotly_chart")


def test_empty_folder_tells_how_to_export(shadow_env: Path) -> None:
    (shadow_env / "week-10.parquet").unlink()
    at = run_shadow_page()
    assert not at.exception and not at.error
    (info,) = at.info
    assert "No shadow files" in info.value
    assert "dom shadow export --db ... --out results/shadow/" in info.value
    assert "GET /shadow/export" in info.value


def test_simulation_results_stay_the_default_page(shadow_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert at.sidebar.radio(key="page").value == "Simulation results"
    assert any("No results found" in w.value for w in at.warning)


# ------------------------------------------------------------------------------------------ the module
def test_summary_matches_a_hand_computation(orders: pl.DataFrame) -> None:
    s = shadow.summarise(orders)
    n = orders.height
    assert s.orders == n == 200
    assert s.agreement == pytest.approx(orders["agree"].sum() / n) == pytest.approx(0.75)
    assert s.disagreements == 50
    assert s.cost_diff == pytest.approx(orders["cost_diff"].sum() / n)
    assert s.cost_ci95 == pytest.approx(t_interval(orders["cost_diff"])[1])
    shipped = orders.filter(pl.col("promise_diff_hours").is_not_null())
    assert s.promise_orders == shipped.height == 192
    assert s.promise_diff_hours == pytest.approx(shipped["promise_diff_hours"].sum() / shipped.height)
    assert s.co2_diff_kg == pytest.approx(float(orders["co2_diff_kg"].sum()) / n)
    assert s.fill_diff_units == int(orders["candidate_units"].sum()) - int(orders["live_units"].sum()) < 0


def test_segments_add_up(orders: pl.DataFrame) -> None:
    parts = shadow.segments(orders)
    want = expected_segments(orders)
    assert [(m, c, s.orders) for m, c, s in parts] == [(m, c, k) for m, c, k, _ in want.iter_rows()]
    assert sum(s.disagreements for *_, s in parts) == 50
    de_web = orders.filter((pl.col("market") == "DE") & (pl.col("channel") == "web"))
    s = next(s for m, c, s in parts if (m, c) == ("DE", "web"))
    assert s.cost_diff == pytest.approx(de_web["cost_diff"].mean())
    assert s.fill_diff_units == (de_web["candidate_units"] - de_web["live_units"]).sum()


def test_single_order_has_no_interval(orders: pl.DataFrame) -> None:
    s = shadow.summarise(orders.head(1))
    assert s.orders == 1 and math.isnan(s.cost_ci95)
    assert shadow.cards(s)[2].value == "+0.00 EUR"


@pytest.mark.parametrize(("hours", "words"), [
    (0.0, "the same"), (-0.4, "24 minutes earlier"), (5.2, "5 hours later"), (-24.0, "1 day earlier"),
    (27.0, "1 day 3 hours later"), (-50.0, "2 days 2 hours earlier"), (math.nan, "n/a (nothing shipped)"),
])
def test_hours_in_words(hours: float, words: str) -> None:
    assert shadow.hours_in_words(hours) == words


def test_read_checks_columns_types_and_currency(tmp_path: Path, orders: pl.DataFrame) -> None:
    path = tmp_path / "s.parquet"
    orders.drop("agree", "cost_diff").write_parquet(path)
    with pytest.raises(shadow.ShadowError, match="lacks the columns agree, cost_diff"):
        shadow.read(path, "s.parquet")
    orders.with_columns(pl.lit("x").alias("live_units")).write_parquet(path)
    with pytest.raises(shadow.ShadowError, match="column live_units is String"):
        shadow.read(path, "s.parquet")
    path.write_bytes(b"not parquet")
    with pytest.raises(shadow.ShadowError, match=r"s\.parquet cannot be read"):
        shadow.read(path, "s.parquet")
    naive = orders.with_columns(pl.col("placed_at").dt.replace_time_zone(None))
    naive.write_parquet(path, metadata={"currency": "GBP"})
    read = shadow.read(path, "s.parquet")
    assert read.currency == "GBP" and read.orders["placed_at"].dtype == UTC_US
    assert read.orders["placed_at"].to_list() == orders["placed_at"].to_list()
    orders.write_parquet(path)
    assert shadow.read(path.read_bytes(), "upload").currency == "EUR"


def test_shadow_dir_and_discovery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DOM_SHADOW_DIR", raising=False)
    assert shadow.shadow_dir().parts[-2:] == ("results", "shadow")
    monkeypatch.setenv("DOM_SHADOW_DIR", str(tmp_path))
    assert shadow.shadow_dir() == tmp_path
    assert shadow.discover(tmp_path / "absent") == []
    for k, name in enumerate(("b.parquet", "a.parquet", "c.parquet")):
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (1e9 + k, 1e9 + k))
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert [p.name for p in shadow.discover(tmp_path)] == ["c.parquet", "a.parquet", "b.parquet"]
