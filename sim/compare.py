"""A plain sourcing comparison (no simulation): every strategy sources the same first orders of a
scenario's demand stream against the same starting stock; one KPI row per strategy."""

from __future__ import annotations

import time

import polars as pl

from dom_core.engine import SourcingEngine
from dom_core.model import Order, OrderLine
from dom_core.strategies import build_strategy
from sim.demand import DemandStream, generate_demand
from sim.scenario import AS_CONFIGURED, Scenario
from sim.world import World, build_world


def demand_orders(world: World, demand: DemandStream, limit: int | None = None) -> list[Order]:
    """The demand stream's orders as engine Orders."""
    net = world.network
    n = len(demand) if limit is None else min(limit, len(demand))
    orders = []
    for k in range(n):
        a, b = int(demand.line_start[k]), int(demand.line_start[k + 1])
        pickup = int(demand.pickup[k])
        orders.append(
            Order(
                f"O{k}",
                world.market_names[int(demand.market[k])],
                demand.channels[int(demand.channel[k])],
                float(demand.t[k]),
                float(demand.lat[k]),
                float(demand.lon[k]),
                tuple(
                    OrderLine(str(li), net.skus[int(demand.line_sku[li])].id, int(demand.line_qty[li]))
                    for li in range(a, b)
                ),
                demand.fulfilment[k],
                net.locations[pickup].id if pickup >= 0 else None,
                world.scenario.demand.max_delivery_days,
            )
        )
    return orders


def sourcing_comparison(scenario: Scenario, orders: int = 5000) -> pl.DataFrame:
    """Source the same orders with every strategy of the experiment; cost, split, CO2e, fill, speed."""
    world = build_world(scenario)
    batch = demand_orders(world, generate_demand(world, 0), orders)
    rows = []
    for run in scenario.experiment.runs():
        strategy = None if run.strategy == AS_CONFIGURED else build_strategy(run.strategy)
        engine = SourcingEngine(world.network, world.carriers, strategy=strategy)
        ledger = world.initial.copy()
        ledger.record = False
        cost = co2 = 0.0
        shipments = split = units = allocated = 0
        promise_days = 0.0
        started = time.perf_counter()
        for order in batch:
            d = engine.source(order, ledger, order.created_at)
            cost += d.cost
            co2 += d.co2_kg
            shipments += len(d.shipments)
            split += d.is_split
            units += sum(line.qty for line in order.lines)
            allocated += d.units_allocated + sum(x.qty for x in d.digital_lines)
            if d.promised_at is not None:
                promise_days += (d.promised_at - order.created_at) / 24.0
        seconds = time.perf_counter() - started
        shipped = max(1, sum(1 for _ in batch))
        rows.append(
            {
                "strategy": run.name,
                "orders": len(batch),
                "cost_per_order": cost / shipped,
                "co2_kg_per_order": co2 / shipped,
                "shipments_per_order": shipments / shipped,
                "split_rate": split / shipped,
                "fill_rate": allocated / max(1, units),
                "promise_days_mean": promise_days / shipped,
                "orders_per_s": len(batch) / seconds,
            }
        )
    return pl.DataFrame(rows)
