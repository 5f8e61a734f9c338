"""Running a rollout rehearsal: the all-current baseline, the staged plan and the big-bang candidate on
every replication (common random numbers: the three runs of a replication share its demand and draws),
in parallel processes; each run is summarised where it ran into per-stage sums by segment and location.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dom_core.model import HOURS_PER_DAY
from sim.environment import gc_paused
from sim.model import Simulation
from sim.options import COUNT
from sim.rollout import BIG_BANG, STAGED, plan, stages
from sim.runner import collect_done
from sim.scenario import AS_CONFIGURED, Scenario, StrategyRun
from sim.shared import SharedDemand, shared_demand
from sim.world import World, build_world

BASELINE = "baseline"
RUNS = (BIG_BANG, STAGED, BASELINE)  # a replication's runs, the slower first


@dataclass
class RunSummary:
    """One run (plan x replication), summarised per stage: sums per segment and signals per location."""

    plan: str
    replication: int
    segments: pl.DataFrame  # stage_index, market, channel and SEGMENT_SUMS
    locations: pl.DataFrame  # stage_index, location and the location signals
    seconds: float
    orders: int


SEGMENT_SUMS = ("orders", "units", "allocated", "cost", "co2", "shipped", "on_time", "days", "split")


def stage_bounds(world: World) -> tuple[list[float], float]:
    """The stages' start days followed by the horizon, and the warm-up (nothing before it is measured)."""
    sc = world.scenario
    assert sc.rollout is not None
    return [s.start_day for s in stages(world, sc.rollout)] + [sc.horizon_days], sc.warmup_days


def _stage_of(days: pl.Series, bounds: list[float], warmup: float) -> pl.Series:
    """The stage index of each time in days (-1 before the first stage or the warm-up's end, or after
    the horizon)."""
    t = days.to_numpy()
    idx = np.searchsorted(np.asarray(bounds), t, side="right") - 1
    idx[(t < warmup) | (idx >= len(bounds) - 1)] = -1
    return pl.Series("stage_index", idx, dtype=pl.Int64)


def summarise(
    world: World, sim: Simulation, tables: dict[str, pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-stage sums by segment and risk signals by location of a finished run."""
    bounds, warmup = stage_bounds(world)
    orders, shipments, daily = tables["orders"], tables["shipments"], tables["daily"]
    o = orders.with_columns(_stage_of(orders["created_at"] / HOURS_PER_DAY, bounds, warmup)).filter(
        pl.col("stage_index") >= 0
    )
    first = o.filter(pl.col("attempt") == 0)
    keys = ["stage_index", "market", "channel"]
    per_order = (
        shipments.join(o.select("order_ref"), on="order_ref", how="semi")
        .group_by("order_no")
        .agg(
            pl.col("delivered_at").max(),
            (pl.col("delivered_at") <= pl.col("promised_at") + 1e-9).all().alias("on_time"),
            pl.len().alias("parcels"),
        )
        .join(first.select("order_no", "created_at", *keys), on="order_no")
    )
    shipped = per_order.group_by(keys).agg(
        pl.len().alias("shipped"),
        pl.col("on_time").sum().cast(pl.Float64),
        ((pl.col("delivered_at") - pl.col("created_at")) / HOURS_PER_DAY).sum().alias("days"),
        (pl.col("parcels") > 1).sum().cast(pl.Float64).alias("split"),
    )
    placed = first.group_by(keys).agg(pl.len().alias("orders"), pl.col("units").sum().cast(pl.Float64))
    served = o.group_by(keys).agg(
        pl.col("units_allocated").sum().cast(pl.Float64).alias("allocated"),
        (pl.col("shipping_cost") + pl.col("handling_cost") + pl.col("transfer_cost")).sum().alias("cost"),
        pl.col("co2_kg").sum().alias("co2"),
    )
    grid = pl.DataFrame(
        [
            (i, m, c)
            for i in range(len(bounds) - 1)
            for m in world.market_names
            for c in world.scenario.demand.channel_names
        ],
        schema={"stage_index": pl.Int64, "market": pl.Utf8, "channel": pl.Utf8},
        orient="row",
    )
    segs = (
        grid.join(placed, on=keys, how="left")
        .join(served, on=keys, how="left")
        .join(shipped, on=keys, how="left")
        .with_columns(pl.col(name).cast(pl.Float64).fill_null(0.0) for name in SEGMENT_SUMS)
    )
    return segs, _location_signals(world, sim, shipments, daily, bounds, warmup)


def _location_signals(
    world: World,
    sim: Simulation,
    shipments: pl.DataFrame,
    daily: pl.DataFrame,
    bounds: list[float],
    warmup: float,
) -> pl.DataFrame:
    """Per stage and location: stock-out days, days over pick capacity (units sourced to the location that
    day above its daily capacity), backlog growth (units waiting to be picked, last day minus first) and
    walk-in units lost (store demand its unreserved stock could not serve)."""
    day = daily.with_columns(_stage_of(daily["day"].cast(pl.Float64), bounds, warmup)).filter(
        pl.col("stage_index") >= 0
    )
    capacity = day.group_by("location").agg(pl.col("capacity_units").first())
    load = (
        shipments.with_columns((pl.col("decided_at") / HOURS_PER_DAY).floor().cast(pl.Int64).alias("day"))
        .group_by("location", "day")
        .agg(pl.col("units").sum().alias("load"))
    )
    overload = (
        day.select("stage_index", "location", "day")
        .join(load, on=["location", "day"], how="left")
        .join(capacity, on="location")
        .group_by("stage_index", "location")
        .agg(
            (pl.col("load").fill_null(0) > pl.col("capacity_units")).sum().cast(pl.Float64).alias("overload")
        )
    )
    signals = day.group_by("stage_index", "location").agg(
        pl.col("stockout_skus").sum().cast(pl.Float64).alias("stockout_days")
    )
    # the snapshot of day d is taken as it starts: a stage's growth is its end's snapshot minus its start's
    edges = pl.DataFrame(
        {
            "stage_index": range(len(bounds) - 1),
            "first": [math.ceil(max(lo, warmup)) for lo in bounds[:-1]],
            "end": [math.ceil(hi) for hi in bounds[1:]],
        },
        schema={"stage_index": pl.Int64, "first": pl.Int64, "end": pl.Int64},
    )
    backlog = daily.select("location", "day", pl.col("backlog_units").cast(pl.Float64))
    growth = (
        edges.join(backlog.rename({"day": "first", "backlog_units": "at_first"}), on="first")
        .join(backlog.rename({"day": "end", "backlog_units": "at_end"}), on=["end", "location"])
        .select("stage_index", "location", (pl.col("at_end") - pl.col("at_first")).alias("backlog"))
    )
    signals = signals.join(growth, on=["stage_index", "location"], how="left")
    ids = [loc.id for loc in world.network.locations]
    lost = pl.DataFrame(
        [(d, ids[loc], float(units)) for d, loc, units in sim.walkin_lost],
        schema={"day": pl.Int64, "location": pl.Utf8, "walk_in_lost": pl.Float64},
        orient="row",
    )
    lost = (
        lost.with_columns(_stage_of(lost["day"].cast(pl.Float64), bounds, warmup))
        .filter(pl.col("stage_index") >= 0)
        .group_by("stage_index", "location")
        .agg(pl.col("walk_in_lost").sum())
    )
    keys = ["stage_index", "location"]
    return (
        signals.join(overload, on=keys, how="left")
        .join(lost, on=keys, how="left")
        .with_columns(pl.col("overload", "walk_in_lost", "backlog").fill_null(0.0))
        .rename(
            {
                "overload": "capacity_overload_days",
                "backlog": "backlog_growth",
                "walk_in_lost": "walk_in_lost_units",
            }
        )
        .sort(keys)
    )


def run_plan(world: World, name: str, replication: int, shared: SharedDemand | None = None) -> RunSummary:
    """Run one plan (``baseline``, ``staged`` or ``big_bang``) on one replication and summarise it."""
    assert world.scenario.rollout is not None
    started = time.perf_counter()
    rollout = plan(world, world.scenario.rollout, name)
    with gc_paused():
        sim = Simulation(
            world,
            StrategyRun(label=name, strategy=AS_CONFIGURED),
            replication,
            record_events=False,
            explain_every=10**9,
            shared=shared,
            rollout=rollout,
        )
        records = sim.run()
        tables = {table: records.table(table) for table in ("orders", "shipments", "daily")}
        del records
        segs, locs = summarise(world, sim, tables)
        orders = len(sim.demand)
        del sim
    return RunSummary(name, replication, segs, locs, time.perf_counter() - started, orders)


_WORLD: World | None = None
_DONE: Any = None  # a worker's queue to the parent: each finished run goes back on it


def _start_worker(done: Any) -> None:
    global _DONE  # noqa: PLW0603
    _DONE = done
    done.cancel_join_thread()  # after a failure the parent may leave results unread: do not wait at exit


def _worker(scenario_json: str, names: list[str], replication: int) -> int:
    """Run plans on one replication in turn (sharing its demand), sending each summary to the parent."""
    global _WORLD  # noqa: PLW0603
    scenario = Scenario.model_validate_json(scenario_json)
    if _WORLD is None or _WORLD.scenario != scenario:
        _WORLD = build_world(scenario)
    shared = shared_demand(_WORLD, replication) if len(names) > 1 else None
    for name in names:
        _DONE.put(run_plan(_WORLD, name, replication, shared))
    return len(names)


def tasks(replications: int, workers: int) -> list[tuple[int, list[str]]]:
    """(replication, plans) per worker task: whole replications (their runs share the demand), then the
    last ``replications % workers`` ones run by run so that the workers finish together."""
    whole = replications - replications % workers
    return [(rep, list(RUNS)) for rep in range(whole)] + [
        (rep, [name]) for rep in range(whole, replications) for name in RUNS
    ]


def run_rehearsal(
    scenario: Scenario,
    replications: int,
    workers: int,
    on_done: Callable[[RunSummary, int, int], None] | None = None,
) -> list[RunSummary]:
    """Every plan on every replication; ``on_done(summary, finished, total)`` after each run.

    Raises a DomError, before any run starts, for fewer than one replication or worker.
    """
    if scenario.rollout is None:
        raise ValueError("the scenario has no rollout section")
    COUNT.check("replications", replications)
    COUNT.check("workers", workers)
    total = replications * len(RUNS)
    n_workers = min(workers, os.cpu_count() or 1, total)
    results: list[RunSummary] = []
    if n_workers == 1:
        world = build_world(scenario)
        for rep in range(replications):
            shared = shared_demand(world, rep)
            for name in RUNS:
                results.append(run_plan(world, name, rep, shared))
                if on_done:
                    on_done(results[-1], len(results), total)
        return results
    context = multiprocessing.get_context("spawn")  # not fork: a forked child of a polars process can hang
    done = context.Queue()
    spec = scenario.model_dump_json()
    with ProcessPoolExecutor(
        n_workers, mp_context=context, initializer=_start_worker, initargs=(done,)
    ) as pool:
        futures = [pool.submit(_worker, spec, names, rep) for rep, names in tasks(replications, n_workers)]
        collect_done(done, futures, results, total, on_done)
    return results
