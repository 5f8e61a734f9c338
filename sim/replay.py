"""Replays: an order history through every strategy of a scenario instead of generated demand, with the
same operations model (pick capacity, cutoffs, transit, returns, replenishment, walk-in sales), the same
result tables and the same comparison against the baseline.

Day 0 is the calendar's ``start_date``, else the Monday of the first order's week; the horizon runs to
the end of the last order's day. Replications differ only in their random draws (transit times, the
returns the history does not record, lead times, walk-in sales): common random numbers across strategies.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sim.history import CheckedHistory, check_history
from sim.model import Knobs
from sim.replay_orders import ReplayOrders, history_demand_rate, replay_demand, replay_orders
from sim.runner import (
    MAX_SHARED_ORDERS,
    ExperimentResult,
    RunResult,
    batches,
    collect_done,
    compare,
    run_one,
)
from sim.scenario import Scenario, StrategyRun
from sim.workdays import build_calendar
from sim.world import World, build_world

OnDone = Callable[[RunResult, int, int], None]


@dataclass
class Replay:
    """A history checked against a scenario's network, its orders, and the scenario it is replayed on
    (horizon, warm-up and calendar start date set from the history)."""

    scenario: Scenario
    checked: CheckedHistory
    orders: ReplayOrders
    world: World

    def heads(self) -> pl.DataFrame:
        """The first row of each placed order, in order number order (``order_no`` = its position)."""
        ids = self.checked.rows["order_id"]
        return self.checked.rows.filter((ids != ids.shift(1)).fill_null(True))


def prepare_replay(scenario: Scenario, history: pl.DataFrame, returns: str = "auto") -> Replay:
    """Check ``history`` against the scenario's network and build the world it is replayed in."""
    cal = scenario.calendar
    world = build_world(scenario.model_copy(update={"calendar": None}))
    checked = check_history(
        history,
        world.network,
        world.market_names,
        start_date=None if cal is None else cal.start_date,
        timezone="UTC" if cal is None else cal.timezone,
    )
    orders = replay_orders(world, checked, returns)
    horizon = orders.horizon_days
    update: dict[str, Any] = {
        "horizon_days": horizon,
        "warmup_days": scenario.warmup_days if scenario.warmup_days < horizon else 0.0,
    }
    if cal is not None:
        update["calendar"] = cal.model_copy(update={"start_date": checked.start_date})
    replayed = scenario.model_copy(update=update)
    world.scenario = replayed
    world.calendar = build_calendar(replayed, world.network)
    history_demand_rate(world, orders)
    return Replay(replayed, checked, orders, world)


def replay_world(scenario: Scenario, orders: ReplayOrders) -> World:
    """The world of a prepared replay's scenario, rebuilt (in a worker process) with the history's rates."""
    world = build_world(scenario)
    history_demand_rate(world, orders)
    return world


def run_replay(
    replay: Replay, knobs: Knobs | None = None, *, workers: int | None = None, on_done: OnDone | None = None
) -> ExperimentResult:
    """Every strategy x replication on the history, in parallel processes; the same comparison as
    ``run_experiment``."""
    knobs = knobs or Knobs()
    if knobs.demand_factor != 1.0:
        raise ValueError("a replay places the history's orders as they are: no demand factor")
    started = time.perf_counter()
    scenario = replay.scenario
    runs = scenario.experiment.runs()
    reps = range(scenario.experiment.replications)
    tasks = [(run, rep) for rep in reps for run in runs]
    n_workers = max(1, min(workers or scenario.experiment.workers, os.cpu_count() or 1, len(tasks)))
    share = len(runs) > 1 and len(replay.orders) <= MAX_SHARED_ORDERS
    results: list[RunResult] = []
    if n_workers == 1:
        for rep in reps:
            shared = replay_demand(replay.world, replay.orders, rep, share)
            for run in runs:
                results.append(run_one(replay.world, run, rep, knobs, shared=shared))
                if on_done:
                    on_done(results[-1], len(results), len(tasks))
            del shared
    else:
        _in_pool(replay, knobs, n_workers, share, len(tasks), results, on_done)
    order = {(r.name, rep): i for i, (r, rep) in enumerate(tasks)}
    results.sort(key=lambda r: order[(r.strategy, r.replication)])
    kpi_table = pl.DataFrame(
        [{"strategy": r.strategy, "replication": r.replication, **r.kpis} for r in results]
    )
    comparison = compare(kpi_table, scenario.baseline, [r.name for r in runs])
    return ExperimentResult(scenario, results, kpi_table, comparison, time.perf_counter() - started, knobs)


def _in_pool(
    replay: Replay,
    knobs: Knobs,
    n_workers: int,
    share: bool,
    n_tasks: int,
    results: list[RunResult],
    on_done: OnDone | None,
) -> None:
    """Run the tasks in ``n_workers`` spawned processes (the orders reach them as one ``.npz`` file)."""
    from concurrent.futures import ProcessPoolExecutor

    from sim.runner import _start_worker

    scenario = replay.scenario
    runs = scenario.experiment.runs()
    with tempfile.TemporaryDirectory(prefix="dom-replay-") as tmp:
        path = Path(tmp) / "orders.npz"
        replay.orders.save(path)
        context = multiprocessing.get_context("spawn")  # as run_experiment: no fork after polars ran
        done = context.Queue()
        args = (scenario.model_dump_json(), str(path), json.dumps(asdict(knobs)), share)
        with ProcessPoolExecutor(
            max_workers=n_workers, mp_context=context, initializer=_start_worker, initargs=(done,)
        ) as pool:
            futures = [
                pool.submit(_worker_runs, *args, [run.model_dump_json() for run in chunk], rep)
                for rep, chunk in batches(runs, scenario.experiment.replications, n_workers)
            ]
            collect_done(done, futures, results, n_tasks, on_done)


_WORKER: tuple[str, World, ReplayOrders] | None = None  # (scenario JSON, its world, the orders) per process


def _worker_runs(
    scenario_json: str, orders_path: str, knobs_json: str, share: bool, runs_json: list[str], replication: int
) -> int:
    """Run strategies on one replication of the replay in turn, sending each result to the parent."""
    from sim import runner

    global _WORKER  # noqa: PLW0603
    if _WORKER is None or _WORKER[0] != scenario_json:
        orders = ReplayOrders.load(Path(orders_path))
        _WORKER = (scenario_json, replay_world(Scenario.model_validate_json(scenario_json), orders), orders)
    _, world, orders = _WORKER
    knobs = Knobs(**json.loads(knobs_json))
    shared = replay_demand(world, orders, replication, share)
    for run_json in runs_json:
        run = StrategyRun.model_validate_json(run_json)
        runner._DONE.put(run_one(world, run, replication, knobs, shared=shared))
    return len(runs_json)


def write_replay(result: ExperimentResult, replay: Replay, out: str | Path, history: str) -> Path:
    """Write the results as ``dom simulate`` does, plus ``history_problems`` (every row not placed, with
    its reason), ``history_orders`` (order number -> the history's order id) and a manifest entry."""
    folder = result.write(out)
    checked = replay.checked
    checked.problems.write_parquet(folder / "history_problems.parquet")
    replay.heads().select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("order_no"), "order_id", "created_at", "t"
    ).write_parquet(folder / "history_orders.parquet")
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["start_date"] = checked.start_date.isoformat()
    manifest["replay"] = {
        "history": history,
        "rows": checked.total_rows,
        "orders": checked.total_orders,
        "rows_placed": checked.rows.height,
        "orders_placed": len(replay.orders),
        "returns": "history" if replay.orders.returns_known[0] else "model",
        "not_placed": checked.summary().to_dicts(),
    }
    path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return folder
