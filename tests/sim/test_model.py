"""Targeted checks of sim.model behaviour found while testing (each names the defect it pins down)."""

from __future__ import annotations

import gc
import pickle
import weakref
from collections.abc import Generator
from typing import Any

import polars as pl
import pytest
import simpy

from dom_core.errors import DomError
from sim import model, operations
from sim.model import CountingEnvironment, Simulation
from sim.runner import run_one
from sim.scenario import StrategyRun, load_scenario
from sim.world import World, build_world
from tests.sim.conftest import BASE_STOCK, variant


def test_shipment_made_only_of_transferred_units_is_picked() -> None:
    """ship_from_primary with an empty primary: every unit is transferred in from the second DC."""
    dc = {
        "kind": "dc",
        "lat": 50.0,
        "lon": 8.0,
        "country": "DE",
        "market": "DE",
        "pick_capacity_per_day": 1000,
    }
    scenario = variant(
        load_scenario(BASE_STOCK),
        horizon_days=2,
        warmup_days=0,
        demand__orders_per_day=20,
        replenishment__policy="none",
        network__locations=[{"id": "DC", **dc}, {"id": "DC2", **dc, "lon": 9.0}],
        network__stock=[
            {"location": "DC", "sku": "X", "on_hand": 0},
            {"location": "DC2", "sku": "X", "on_hand": 500},
        ],
    )
    sim = Simulation(build_world(scenario), StrategyRun(strategy="ship_from_primary"), 0)
    sim.run()
    orders = sim.records.table("orders")
    shipments = sim.records.table("shipments")
    assert orders.height == len(sim.demand) > 0
    assert (orders["transfer_cost"] > 0).all()
    assert shipments["units"].sum() == orders["units_allocated"].sum() == sim.units_shipped
    assert shipments.filter(pl.col("location") != "DC").height == 0
    assert sim.ledger.on_hand.sum() == 500 - sim.units_shipped


def test_engine_errors_survive_simpy_and_worker_processes() -> None:
    error = DomError("order[O1].lines[0].sku", "unknown SKU 'Z'")
    copied = pickle.loads(pickle.dumps(error))
    assert (copied.field, copied.problem, str(copied)) == (error.field, error.problem, str(error))
    env = simpy.Environment()

    def failing() -> Generator[simpy.Event, None, None]:
        yield env.timeout(1)
        raise error

    env.process(failing())
    with pytest.raises(DomError, match="unknown SKU 'Z'"):
        env.run()


@pytest.mark.parametrize("seed", range(20))
def test_walk_in_draws_equal_generator_choice(seed: int) -> None:
    """The walk-in sampler (one uniform draw, then each store's CDF) draws what Generator.choice draws."""
    import numpy as np

    from sim.model import walkin_cdf

    setup = np.random.default_rng(seed)
    stores = []
    for _ in range(5):
        carried = np.sort(setup.choice(5000, int(setup.integers(1, 1500)), replace=False))
        weight = setup.random(carried.size) ** 3
        stores.append((carried, weight / weight.sum(), int(setup.integers(0, 60))))
    a, b = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
    expected = [a.choice(carried, size=n, p=p) for carried, p, n in stores]
    u = b.random(sum(n for _, _, n in stores))
    start = 0
    for (carried, p, n), want in zip(stores, expected, strict=True):
        got = carried[walkin_cdf(p).searchsorted(u[start : start + n], side="right")]
        start += n
        assert np.array_equal(got, want)
    assert a.random() == b.random()  # the same uniforms were consumed


def test_advance_to_moves_the_clock_as_a_timeout_would_and_only_when_nothing_is_due() -> None:
    """The arrivals shortcut: the clock value equals ``now + (t - now)``; an event due at or before
    ``t`` (ties included: an earlier-scheduled event runs first) makes it refuse."""
    env = CountingEnvironment()
    env.timeout(5.0)
    assert env.advance_to(0.1 + 0.2)
    assert env.now == 0.0 + ((0.1 + 0.2) - 0.0)
    assert env.steps == 1
    assert not env.advance_to(5.0)  # the timeout is due at 5.0: it must run first
    assert not env.advance_to(7.0)
    assert env.now == 0.1 + 0.2


def test_runs_with_and_without_the_clock_jump_are_identical(tiny_world: World, monkeypatch: Any) -> None:
    """Placing orders by moving the clock gives exactly the tables that a timeout per order gives."""
    advance = CountingEnvironment.advance_to
    jumps = []

    def counted(self: CountingEnvironment, t: float) -> bool:
        moved = advance(self, t)
        jumps.append(moved)
        return moved

    run = StrategyRun(strategy="cheapest")
    monkeypatch.setattr(CountingEnvironment, "advance_to", counted)
    fast = run_one(tiny_world, run, 0)
    assert sum(jumps) > fast.orders / 2  # most orders were placed by the jump
    monkeypatch.setattr(CountingEnvironment, "advance_to", lambda self, t: False)
    slow = run_one(tiny_world, run, 0)
    assert fast.orders > 500
    assert fast.events == slow.events
    for name, table in fast.tables.items():
        assert table.equals(slow.tables[name]), name


@pytest.mark.parametrize("garbage", [0, 3])
def test_daily_collections_stop_after_a_cycle_free_week_only(
    tiny_world: World, monkeypatch: Any, garbage: int
) -> None:
    """The paused cyclic collector runs daily while it finds garbage, and stops after a week of none."""
    found: list[int] = []

    def collect(generation: int = 2) -> int:
        found.append(garbage)
        return garbage

    monkeypatch.setattr(operations.gc, "collect", collect)  # the daily process lives in sim.operations
    sim = Simulation(tiny_world, StrategyRun(strategy="split_shipments"), 0)
    sim.run()
    days = int(sim.env.now // 24)
    assert days > model.CYCLE_FREE_DAYS + 2
    assert len(found) == (days if garbage else model.CYCLE_FREE_DAYS)


def test_a_finished_run_leaves_no_cycles_and_restores_the_collector(tiny_world: World) -> None:
    """A run drops its pending events, which refer back to it: its objects go by reference counting,
    without the collector (paused during the run) ever traversing them."""
    sim = Simulation(tiny_world, StrategyRun(strategy="split_shipments"), 0)
    sim.run()
    assert gc.isenabled()
    gone = weakref.ref(sim)
    gc.disable()
    try:
        del sim
        assert gone() is None  # freed at once: no cycle kept it for a collection
    finally:
        gc.enable()
    result = run_one(tiny_world, StrategyRun(strategy="split_shipments"), 0)
    assert gc.isenabled() and result.orders > 500


def test_the_collector_is_restored_when_a_run_fails(tiny_world: World, monkeypatch: Any) -> None:
    sim = Simulation(tiny_world, StrategyRun(strategy="split_shipments"), 0)

    def failing(*_: Any, **__: Any) -> None:
        raise DomError("order[O1].lines[0].sku", "unknown SKU 'Z'")

    monkeypatch.setattr(sim.engine, "source", failing)
    with pytest.raises(DomError, match="unknown SKU"):
        sim.run()
    assert gc.isenabled()
    assert not sim.env._queue  # closed all the same


def test_demand_lists_hold_what_the_run_read_line_by_line(tiny_world: World) -> None:
    """Each line's return delay, drawn for all lines at once, is the one a line-by-line draw gives (the
    same float operations), and None exactly for the lines that are kept."""
    demand = model.generate_demand(tiny_world, 2)
    lists = model.demand_lists(tiny_world, demand)
    delay = tiny_world.scenario.returns.delay_days
    rate = tiny_world.return_rate
    assert len(lists.return_delay) == len(demand.line_sku) > 0
    assert any(d is None for d in lists.return_delay) and any(d is not None for d in lists.return_delay)
    for li, s in enumerate(demand.line_sku.tolist()):
        if demand.u_return[li] >= rate[s]:
            assert lists.return_delay[li] is None
        else:
            one = model.triangular_ppf(float(demand.u_return_delay[li]), delay.min, delay.mode, delay.max)
            assert lists.return_delay[li] == one
    assert lists.fulfilment == [f.value for f in demand.fulfilment]
