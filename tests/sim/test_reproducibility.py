"""Seeds reproduce runs exactly; replications differ; strategies share common random numbers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from sim.demand import DemandStream, generate_demand
from sim.model import Knobs, Simulation, shared_demand
from sim.runner import DemandCache, run_one
from sim.scenario import Scenario, StrategyRun
from sim.tables import TABLES
from sim.world import World, build_world
from tests.sim.conftest import TINY, digest, run_script, variant

DEMAND_FIELDS = (
    "t",
    "market",
    "channel",
    "lat",
    "lon",
    "pickup",
    "line_start",
    "line_sku",
    "line_qty",
    "u_transit",
    "u_return",
    "u_return_delay",
    "u_grade",
)


def same_demand(a: DemandStream, b: DemandStream) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in DEMAND_FIELDS) and (
        a.fulfilment == b.fulfilment and a.channels == b.channels
    )


def test_same_seed_same_run(tiny: Scenario, tiny_world: World) -> None:
    run = StrategyRun(strategy="split_shipments")
    first = run_one(tiny_world, run, 0)
    again = run_one(build_world(tiny), run, 0)  # a freshly built world too
    # equal up to float summation order: see test_kpis_are_bitwise_reproducible for the last ulp
    assert first.kpis == pytest.approx(again.kpis, nan_ok=True, rel=1e-12, abs=0)
    for name in TABLES:
        assert first.tables[name].equals(again.tables[name]), name
    assert first.tables["orders"].height > 500 and first.tables["shipments"].height > 500


def test_replications_draw_different_demand(tiny_world: World) -> None:
    d0, d1 = generate_demand(tiny_world, 0), generate_demand(tiny_world, 1)
    assert not np.array_equal(d0.t[: min(len(d0), len(d1))], d1.t[: min(len(d0), len(d1))])
    assert same_demand(d0, generate_demand(tiny_world, 0))
    run = StrategyRun(strategy="split_shipments")
    r0, r1 = run_one(tiny_world, run, 0), run_one(tiny_world, run, 1)
    assert not r0.tables["orders"]["created_at"].equals(r1.tables["orders"]["created_at"])
    assert r0.kpis != r1.kpis


def test_strategies_see_common_random_numbers(tiny_world: World) -> None:
    """Two strategies in one replication face identical orders, lead-time draws and walk-in draws."""
    a = Simulation(tiny_world, StrategyRun(strategy="split_shipments"), 2)
    b = Simulation(tiny_world, StrategyRun(strategy="cheapest"), 2)
    assert same_demand(a.demand, b.demand)
    assert np.array_equal(a.u_lead, b.u_lead)
    assert np.array_equal(a.walkin_rng.random(8), b.walkin_rng.random(8))
    ra, rb = (run_one(tiny_world, StrategyRun(strategy=s), 2) for s in ("split_shipments", "cheapest"))
    cols = ["order_no", "created_at", "market", "channel", "fulfilment", "lines", "units"]
    firsts = [
        r.tables["orders"].filter(pl.col("attempt") == 0).select(cols).sort("order_no") for r in (ra, rb)
    ]
    assert firsts[0].equals(firsts[1])
    assert firsts[0]["order_no"].to_list() == list(range(len(a.demand)))
    assert ra.tables["shipments"]["location"].to_list() != rb.tables["shipments"]["location"].to_list()


def test_runs_sharing_a_replications_demand_give_the_same_tables(tiny_world: World) -> None:
    """Strategies that share one replication's demand build each order once and still give, table for
    table, what a run with its own demand gives; backordered retries are built afresh."""
    shared = shared_demand(tiny_world, 1)
    first = run_one(tiny_world, StrategyRun(strategy="split_shipments"), 1, shared=shared)
    built = list(shared.orders)
    assert all(order is not None for order in built) and len(built) == len(shared.demand)
    second = run_one(tiny_world, StrategyRun(strategy="cheapest"), 1, shared=shared)
    assert all(a is b for a, b in zip(built, shared.orders, strict=True))  # reused, not rebuilt
    for run, strategy in ((first, "split_shipments"), (second, "cheapest")):
        assert digest(run) == digest(run_one(tiny_world, StrategyRun(strategy=strategy), 1)), strategy
    held = variant(tiny_world.scenario, operations__stockout="backorder")
    world = build_world(held)
    alone = run_one(world, StrategyRun(strategy="split_shipments"), 1)
    assert alone.tables["orders"]["attempt"].max() > 0  # some orders were retried
    assert digest(alone) == digest(
        run_one(world, StrategyRun(strategy="split_shipments"), 1, shared=shared_demand(world, 1))
    )


def test_shared_demand_of_another_replication_or_demand_factor_is_refused(tiny_world: World) -> None:
    shared = shared_demand(tiny_world, 1)
    other = build_world(variant(tiny_world.scenario, seed=tiny_world.scenario.seed + 1))
    with pytest.raises(ValueError, match="drawn for another world"):
        Simulation(other, StrategyRun(strategy="split_shipments"), 1, shared=shared)
    with pytest.raises(ValueError, match=r"replication 1 .* given to a run of replication 2"):
        Simulation(tiny_world, StrategyRun(strategy="split_shipments"), 2, shared=shared)
    with pytest.raises(ValueError, match=r"demand factor 1.0\) given to .* \(demand factor 1.5\)"):
        Simulation(tiny_world, StrategyRun(strategy="split_shipments"), 1, knobs=Knobs(1.5), shared=shared)


def test_demand_cache_keeps_the_current_replication(tiny_world: World) -> None:
    """Tasks come replication by replication: the cache keeps the one a process is on."""
    cache = DemandCache(tiny_world)
    r0 = cache.get(0, 1.0)
    assert r0 is not None and cache.get(0, 1.0) is r0
    assert same_demand(r0.demand, generate_demand(tiny_world, 0))
    r1 = cache.get(1, 1.0)
    assert r1 is not None and r1 is not r0 and cache.get(1, 1.0) is r1
    again = cache.get(0, 1.0)  # replication 0 was left behind: drawn afresh, the same stream
    assert again is not None and again is not r0 and same_demand(again.demand, r0.demand)
    doubled = cache.get(1, 2.0)
    assert doubled is not None and doubled.demand_factor == 2.0 and len(doubled.demand) > len(r1.demand)
    expected = len(r1.demand)  # about the expected orders of a replication (Poisson)
    small = DemandCache(tiny_world, max_orders=expected * 1.2)
    assert small.get(0, 1.0) is not None and small.get(0, 2.0) is None  # a big one is not kept
    split = StrategyRun(strategy="split_shipments")
    run = run_one(tiny_world, split, 0, Knobs(2.0), shared=small.get(0, 2.0))
    assert run.orders > expected * 1.6
    alone = build_world(variant(tiny_world.scenario, experiment__strategies=["split_shipments"]))
    assert DemandCache(alone).get(0, 1.0) is None  # a single strategy reuses nothing


def test_demand_stream_ignores_the_strategy_and_knob_free_streams(tiny: Scenario) -> None:
    """The demand of a replication depends on the seed only, not on experiment settings."""
    other = variant(tiny, experiment__strategies=["cheapest", "distance"], experiment__baseline="cheapest")
    assert same_demand(generate_demand(build_world(tiny), 1), generate_demand(build_world(other), 1))
    reseeded = variant(tiny, seed=tiny.seed + 1)
    assert not same_demand(generate_demand(build_world(tiny), 1), generate_demand(build_world(reseeded), 1))


def test_kpis_are_bitwise_reproducible(tiny: Scenario, tiny_world: World) -> None:
    """The same tables always give the same KPI values (40 evaluations: a random order shows at once)."""
    from sim.metrics import kpis

    t = run_one(tiny_world, StrategyRun(strategy="split_shipments"), 0).tables
    rows = [
        kpis(t["orders"], t["shipments"], t["daily"], t["returns"], tiny.warmup_days, tiny.horizon_days)
        for _ in range(40)
    ]
    for name in rows[0]:
        assert len({repr(r[name]) for r in rows}) == 1, name


SCRIPT = """
import sys
from sim.runner import run_one
from sim.scenario import StrategyRun, load_scenario
from sim.world import build_world
from tests.sim.conftest import digest
print(digest(run_one(build_world(load_scenario(sys.argv[1])), StrategyRun(strategy="split_shipments"), 0)))
"""


def test_same_run_in_another_interpreter_with_another_hash_seed(tiny_world: World) -> None:
    """No result depends on str hashing (set/dict order), so spawned workers reproduce it too."""
    (out,) = run_script(SCRIPT, str(TINY), env={"PYTHONHASHSEED": "12345"}, timeout=120)
    assert out.strip() == digest(run_one(tiny_world, StrategyRun(strategy="split_shipments"), 0))


def test_runs_on_a_world_share_its_returns_engine(tiny: Scenario, tiny_world: World) -> None:
    """Every run on the world's network uses one returns engine (its nearest-location index fills up
    once); a run whose knobs copy the network gets its own; results are those of a fresh world's."""
    split = StrategyRun(strategy="split_shipments")
    first = Simulation(tiny_world, split, 0)
    assert Simulation(tiny_world, StrategyRun(strategy="cheapest"), 1).returns_engine is first.returns_engine
    knobbed = Simulation(tiny_world, split, 0, knobs=Knobs(max_shipments=1))
    assert knobbed.network is not tiny_world.network
    assert knobbed.returns_engine is not first.returns_engine
    assert knobbed.returns_engine.network is knobbed.network
    run_one(tiny_world, split, 1)  # the shared index now holds cells from another run
    assert digest(run_one(tiny_world, split, 2)) == digest(run_one(build_world(tiny), split, 2))
