"""Warm-up deletion: KPIs count only orders created in [warmup_days, horizon_days)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from sim.demand import generate_demand
from sim.metrics import KPI_NAMES, kpis
from sim.runner import run_one
from sim.scenario import Scenario, StrategyRun
from sim.world import World

HOURS = 24.0


def same(a: dict[str, float], b: dict[str, float]) -> None:
    for name in KPI_NAMES:
        x, y = a[name], b[name]
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-12, abs=1e-12), name


def test_orders_kpi_counts_orders_created_after_the_warm_up(tiny: Scenario, tiny_world: World) -> None:
    result = run_one(tiny_world, StrategyRun(strategy="split_shipments"), 0)
    t = generate_demand(tiny_world, 0).t
    expected = np.count_nonzero((t >= tiny.warmup_days * HOURS) & (t < tiny.horizon_days * HOURS))
    assert tiny.warmup_days == 1 and 0 < expected < len(t)
    assert result.kpis["orders"] == expected


def test_warm_up_orders_do_not_move_any_kpi(tiny: Scenario, tiny_world: World) -> None:
    """Make every warm-up order and its parcels absurd: no KPI may notice."""
    result = run_one(tiny_world, StrategyRun(strategy="split_shipments"), 0)
    t = result.tables
    warm, end = tiny.warmup_days, tiny.horizon_days
    cutoff = warm * HOURS
    early = pl.col("created_at") < cutoff
    orders = (
        t["orders"]
        .with_columns(
            pl.when(early).then(pl.lit(1e9)).otherwise(pl.col(c)).alias(c)
            for c in ("shipping_cost", "handling_cost", "transfer_cost", "co2_kg")
        )
        .with_columns(
            pl.when(early).then(pl.col("units") * 50).otherwise(pl.col("units_lost")).alias("units_lost"),
            pl.when(early).then(0).otherwise(pl.col("units_allocated")).alias("units_allocated"),
        )
    )
    early_refs = t["orders"].filter(early)["order_ref"].implode()
    shipments = t["shipments"].with_columns(
        pl.when(pl.col("order_ref").is_in(early_refs))
        .then(pl.lit(1e9))
        .otherwise(pl.col("delivered_at"))
        .alias("delivered_at")
    )
    daily = t["daily"].with_columns(
        pl.when(pl.col("day") < int(warm))
        .then(10**6)
        .otherwise(pl.col("stockout_skus"))
        .alias("stockout_skus")
    )
    returns = t["returns"].with_columns(
        pl.when(pl.col("returned_at") < cutoff).then(10**6).otherwise(pl.col("restocked")).alias("restocked")
    )
    assert t["orders"].filter(early).height > 100
    assert shipments.filter(pl.col("delivered_at") == 1e9).height > 100
    same(kpis(orders, shipments, daily, returns, warm, end), result.kpis)
    # and with no warm-up the same doctored tables do show the damage
    spoiled = kpis(orders, shipments, daily, returns, 0.0, end)
    assert spoiled["cost_per_order"] > 1e6 and spoiled["delivery_days_mean"] > 1e6
    assert spoiled["lost_units"] > result.kpis["lost_units"] and spoiled["stockout_days"] >= 10**6
    assert spoiled["orders"] > result.kpis["orders"]


def test_kpis_equal_those_of_the_post_warm_up_orders_alone(tiny: Scenario, tiny_world: World) -> None:
    """Dropping the warm-up orders from the tables first gives the same order KPIs."""
    result = run_one(tiny_world, StrategyRun(strategy="cheapest"), 1)
    t = result.tables
    cutoff = tiny.warmup_days * HOURS
    kept = t["orders"].filter(pl.col("created_at") >= cutoff)
    shipments = t["shipments"].filter(pl.col("order_ref").is_in(kept["order_ref"].implode()))
    alone = kpis(kept, shipments, t["daily"], t["returns"], tiny.warmup_days, tiny.horizon_days)
    same(alone, result.kpis)
    with_warmup_counted = kpis(t["orders"], t["shipments"], t["daily"], t["returns"], 0.0, tiny.horizon_days)
    assert with_warmup_counted["orders"] > alone["orders"]
