"""Runs, replications and experiments: strategies x replications with common random numbers, run in
parallel processes, summarised as KPI means and paired differences against a baseline with 95% CIs."""

from __future__ import annotations

import atexit
import gc
import io
import json
import math
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from dom_core.errors import DomError
from sim.demand import hourly_rates
from sim.metrics import KPI_NAMES, kpis
from sim.model import Knobs, SharedDemand, Simulation, gc_paused, shared_demand
from sim.options import COUNT
from sim.scenario import AS_CONFIGURED, Scenario, StrategyRun
from sim.tables import TABLES
from sim.world import World, build_world


@dataclass
class RunResult:
    """Tables and KPIs of one (strategy, replication) run."""

    strategy: str
    replication: int
    tables: dict[str, pl.DataFrame]
    kpis: dict[str, float]
    seconds: float
    orders: int
    events: int  # SimPy events processed

    def __getstate__(self) -> dict[str, Any]:
        # a worker sends every run's tables to the parent: as uncompressed Arrow IPC, pickling them costs
        # both sides well under half of what polars' own pickling does
        state = dict(self.__dict__)
        state["tables"] = {name: _ipc_bytes(df) for name, df in self.tables.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        tables = {name: pl.read_ipc(io.BytesIO(raw)) for name, raw in state["tables"].items()}
        self.__dict__.update(state, tables=tables)


def _ipc_bytes(df: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.write_ipc(buffer, compression="uncompressed")
    return buffer.getvalue()


def run_one(
    world: World,
    run: StrategyRun,
    replication: int,
    knobs: Knobs | None = None,
    *,
    record_events: bool = True,
    progress: Callable[[float], None] | None = None,
    shared: SharedDemand | None = None,
) -> RunResult:
    """Simulate one strategy on one replication and compute its KPIs (``shared``: the replication's
    demand, when other runs on it share it)."""
    started = time.perf_counter()
    # no garbage collection until the run's objects are gone (freed by reference counting, as the run
    # breaks its own cycles): re-enabled while they are alive, the collector would traverse them all
    with gc_paused():
        simulation = Simulation(
            world,
            run,
            replication,
            knobs=knobs,
            record_events=record_events,
            progress=progress,
            shared=shared,
        )
        records = simulation.run()
        keys = {"strategy": run.name, "replication": replication}
        tables = {name: records.table(name, **keys) for name in TABLES}
        orders, steps = len(simulation.demand), simulation.env.steps
        del simulation, records
    sc = world.scenario
    row = kpis(
        tables["orders"],
        tables["shipments"],
        tables["daily"],
        tables["returns"],
        sc.warmup_days,
        sc.horizon_days,
    )
    return RunResult(run.name, replication, tables, row, time.perf_counter() - started, orders, steps)


def _expected_effort(run: StrategyRun) -> int:
    """Rough relative CPU cost of a run, for scheduling only: batch and OR-Tools strategies, then the
    objective strategies (they score every candidate), then the rule walks."""
    if run.batch_window_hours is not None:
        return 3
    if run.strategy == AS_CONFIGURED:
        return 1
    from dom_core.strategies import build_strategy

    module = type(build_strategy(run.strategy)).__module__
    if "optimal" in module or "optimise" in module:
        return 3
    return 2 if "objective" in module else 1


R = TypeVar("R")  # a finished run as a worker sends it back (collect_done)
MAX_SHARED_ORDERS = 400_000  # expected orders per replication above which runs build their own


class DemandCache:
    """The shared demand of the replication a process is running.

    Tasks are handed out in submission order, replication by replication (``batches``: mostly a whole
    replication per task), so a process never returns to a replication it has left: keeping the current
    one builds every replication's orders once per process. Nothing is shared (None) when the experiment
    has a single strategy, or for replications expected to hold more than ``max_orders`` orders: kept
    orders take ~0.5 kB each, so a million-order replication would hold half a gigabyte per process.
    """

    def __init__(self, world: World, max_orders: float = MAX_SHARED_ORDERS) -> None:
        self.world, self.max_orders = world, max_orders
        self.shares = len(world.scenario.experiment.runs()) > 1
        self._current: SharedDemand | None = None

    def get(self, replication: int, demand_factor: float) -> SharedDemand | None:
        """The shared demand of ``replication`` (drawn on first use), or None if nothing is shared."""
        key = (replication, demand_factor)
        current = self._current
        if current is not None and (current.replication, current.demand_factor) == key:
            return current
        self._current = None  # the replication left behind is not needed again
        if not self.shares or hourly_rates(self.world, demand_factor).sum() > self.max_orders:
            return None
        self._current = shared_demand(self.world, replication, demand_factor)
        return self._current


_WORLD: World | None = None
_DEMAND: DemandCache | None = None
_DONE: Any = None  # a worker's queue to the parent: each finished run goes back on it


def collect_done(
    done: Any,
    futures: Sequence[Future[Any]],
    results: list[R],
    total: int,
    on_done: Callable[[R, int, int], None] | None,
) -> None:
    """Append the results the workers put on the ``done`` queue to ``results`` until it holds ``total``,
    calling ``on_done(result, len(results), total)`` after each; while none arrives, raise the exception
    of a failed task (or of a dead worker) here."""
    while len(results) < total:
        try:
            results.append(done.get(timeout=0.5))
        except queue.Empty:  # no run finished: has a task failed (or a worker died)?
            for fut in futures:
                if fut.done() and fut.exception() is not None:
                    fut.result()  # raises it here
            continue
        if on_done:
            on_done(results[-1], len(results), total)


def _start_worker(done: Any) -> None:
    global _DONE  # noqa: PLW0603
    _DONE = done
    # the parent reads every result before it shuts the pool down; only after a failure may some be
    # left unread, and a worker must not then wait at exit for the parent to take them
    done.cancel_join_thread()
    # a worker's heap (the world, a replication's orders and caches) is large: at exit, the interpreter's
    # last garbage collections would traverse all of it (~1 s) just before the memory goes back anyway
    atexit.register(gc.freeze)


def _worker_runs(scenario_json: str, runs_json: list[str], replication: int, knobs_json: str) -> int:
    """Run strategies on one replication in turn, sending each result to the parent when it is done."""
    # one world per worker process, built once (deterministic from the scenario), and its demand cache
    global _WORLD, _DEMAND  # noqa: PLW0603
    scenario = Scenario.model_validate_json(scenario_json)
    if _WORLD is None or _DEMAND is None or _WORLD.scenario != scenario:
        _WORLD = build_world(scenario)
        _DEMAND = DemandCache(_WORLD)
    knobs = Knobs(**json.loads(knobs_json))
    for run_json in runs_json:
        shared = _DEMAND.get(replication, knobs.demand_factor)
        run = StrategyRun.model_validate_json(run_json)
        _DONE.put(run_one(_WORLD, run, replication, knobs, shared=shared))
    return len(runs_json)


def batches(runs: list[StrategyRun], replications: int, workers: int) -> list[tuple[int, list[StrategyRun]]]:
    """The experiment's runs as worker tasks (replication, runs), in the order they are handed out.

    A replication is one task, so that its orders are built and its customers' distances computed once
    for all its strategies; the last ``replications % workers`` replications go run by run instead, so
    that the workers finish together. Runs go longest first (LPT), so the last to finish is a short one.
    """
    longest_first = sorted(runs, key=lambda run: -_expected_effort(run))
    whole = replications - replications % workers if len(runs) > 1 else 0
    tasks = [(rep, longest_first) for rep in range(whole)]
    return tasks + [(rep, [run]) for rep in range(whole, replications) for run in longest_first]


@dataclass
class ExperimentResult:
    """All runs of an experiment, their KPI table and the comparison against the baseline."""

    scenario: Scenario
    runs: list[RunResult]
    kpi_table: pl.DataFrame  # one row per (strategy, replication)
    comparison: pl.DataFrame  # one row per (strategy, kpi): mean, CI, paired difference vs baseline
    seconds: float
    knobs: Knobs = field(default_factory=Knobs)

    def write(self, out_dir: str | Path) -> Path:
        """Write every table as Parquet (plus the comparison as CSV and a manifest) into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            pl.concat([r.tables[name] for r in self.runs], how="vertical").write_parquet(
                out / f"{name}.parquet"
            )
        self.kpi_table.write_parquet(out / "kpis.parquet")
        self.comparison.write_parquet(out / "comparison.parquet")
        self.comparison.write_csv(out / "comparison.csv")
        manifest = {
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "baseline": self.scenario.baseline,
            "strategies": [r.name for r in self.scenario.experiment.runs()],
            "replications": self.scenario.experiment.replications,
            "seconds": round(self.seconds, 2),
            "knobs": asdict(self.knobs),
            "scenario_spec": json.loads(self.scenario.model_dump_json()),
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return out


def worker_count(scenario: Scenario, workers: int | None = None) -> int:
    """The processes an experiment runs in: ``workers`` (else the scenario's), at most one per core and
    one per run; checks both numbers (a DomError names the one out of range)."""
    exp = scenario.experiment
    # a scenario copied with model_copy(update=...) is not validated again: its numbers are checked here
    COUNT.check("experiment.replications", exp.replications)
    COUNT.check("workers", workers)
    COUNT.check("experiment.workers", exp.workers)
    if not exp.strategies:
        raise DomError("experiment.strategies", "needs at least one strategy")
    n_runs = len(exp.strategies) * exp.replications
    return min(exp.workers if workers is None else workers, os.cpu_count() or 1, n_runs)


def expected_orders(world: World, knobs: Knobs) -> float:
    """The expected number of orders of one replication (the mean of its Poisson demand)."""
    return float(hourly_rates(world, knobs.demand_factor).sum())


def run_experiment(
    scenario: Scenario,
    knobs: Knobs | None = None,
    *,
    workers: int | None = None,
    on_done: Callable[[RunResult, int, int], None] | None = None,
) -> ExperimentResult:
    """Every strategy x replication (common random numbers per replication), in parallel processes.

    Raises a DomError, before any run starts, for fewer than one replication, worker or strategy.
    """
    n_workers = worker_count(scenario, workers)
    knobs = knobs or Knobs()
    started = time.perf_counter()
    runs = scenario.experiment.runs()
    reps = range(scenario.experiment.replications)
    tasks = [(run, rep) for rep in reps for run in runs]
    results: list[RunResult] = []
    if n_workers == 1:
        world = build_world(scenario)
        cache = DemandCache(world)
        for run, rep in tasks:
            results.append(run_one(world, run, rep, knobs, shared=cache.get(rep, knobs.demand_factor)))
            if on_done:
                on_done(results[-1], len(results), len(tasks))
    else:
        args = (scenario.model_dump_json(), json.dumps(asdict(knobs)))
        # spawn, not fork: a forked child of a process that already ran polars queries can hang
        context = multiprocessing.get_context("spawn")
        done = context.Queue()
        with ProcessPoolExecutor(
            max_workers=n_workers, mp_context=context, initializer=_start_worker, initargs=(done,)
        ) as pool:
            futures = [
                pool.submit(_worker_runs, args[0], [run.model_dump_json() for run in chunk], rep, args[1])
                for rep, chunk in batches(runs, len(reps), n_workers)
            ]
            collect_done(done, futures, results, len(tasks), on_done)
    if scenario.experiment.bound:
        _divide_by_bounds(scenario, knobs, results)
    order = {(r.name, rep): i for i, (r, rep) in enumerate(tasks)}
    results.sort(key=lambda r: order[(r.strategy, r.replication)])
    kpi_table = pl.DataFrame(
        [{"strategy": r.strategy, "replication": r.replication, **r.kpis} for r in results]
    )
    comparison = compare(kpi_table, scenario.baseline, [r.name for r in runs])
    return ExperimentResult(scenario, results, kpi_table, comparison, time.perf_counter() - started, knobs)


def lost_sale_penalty(world: World) -> float:
    """Twice the most expensive single-unit fill (Jasin and Sinha): the dearest one-item parcel of any
    service at the longest zone, plus the dearest handling of a one-line order."""
    far = 10_000.0
    heaviest = float(world.network.weights.max()) if len(world.network.skus) else 0.0
    parcel = max(s.rate_card.price(far, heaviest, 1) for s in world.carriers.parcel_services())
    handling = max(
        loc.handling_cost_per_order + loc.handling_cost_per_line for loc in world.network.locations
    )
    return 2.0 * (parcel + handling)


def replication_bound(world: World, replication: int, knobs: Knobs) -> tuple[float, float]:
    """(lower bound, lost-sale penalty) on the cost of serving a replication's orders in the KPI window.

    Per-order (no-contention) minimum over every way to source the order with unlimited stock, at the
    order's creation time, unserved units at the penalty (``dom_core.optimise.bounds``). No policy that
    decides an order when it is placed, without transfers and within max_shipments, can pay less for
    it: stock, capacity and replenishment only restrict what it may choose.
    """
    import numpy as np

    from dom_core.optimise.bounds import lagrangian_bound
    from sim.compare import demand_orders
    from sim.demand import generate_demand

    sc = world.scenario
    start, end = sc.warmup_days * 24.0, sc.horizon_days * 24.0
    orders = [
        o
        for o in demand_orders(world, generate_demand(world, replication, knobs.demand_factor))
        if start <= o.created_at < end
    ]
    unlimited = np.full((len(world.network.skus), len(world.network.locations)), 10**9, dtype=np.int64)
    penalty = lost_sale_penalty(world)
    return lagrangian_bound(world.network, unlimited, orders, world.carriers, penalty).value, penalty


def _divide_by_bounds(scenario: Scenario, knobs: Knobs, results: list[RunResult]) -> None:
    """Set every run's cost_over_bound (the bound of its replication: all strategies face its orders)."""
    world = build_world(scenario)
    for rep in sorted({r.replication for r in results}):
        bound, penalty = replication_bound(world, rep, knobs)
        for r in results:
            if r.replication == rep:
                realised = r.kpis["cost_total"] + penalty * r.kpis["lost_units"]
                r.kpis["cost_over_bound"] = realised / bound if bound > 0 else math.nan


def mean_ci95(values: list[float]) -> tuple[float, float]:
    """Mean and 95% half-width (Student t) of replication values (NaNs left out; NaN half-width for
    fewer than two values)."""
    clean = [v for v in values if not math.isnan(v)]
    n = len(clean)
    if n == 0:
        return math.nan, math.nan
    mean = sum(clean) / n
    if n < 2:
        return mean, math.nan
    # Student t quantile: what scipy.stats.t.ppf computes, without scipy.stats' ~0.6 s import
    # (imported lazily, so that worker processes do not pay even scipy.special's)
    from scipy.special import stdtrit

    sd = math.sqrt(sum((v - mean) ** 2 for v in clean) / (n - 1))
    return mean, float(stdtrit(n - 1, 0.975)) * sd / math.sqrt(n)


def compare(kpi_table: pl.DataFrame, baseline: str, strategies: list[str]) -> pl.DataFrame:
    """Per strategy and KPI: mean with 95% CI, and the paired difference vs the baseline with its 95% CI."""
    rows = []
    # KPIs no run measured (cost_over_bound without a bound) are left out rather than reported as NaN
    measured = [k for k in KPI_NAMES if not kpi_table[k].is_nan().all()]
    base = {
        r["replication"]: r for r in kpi_table.filter(pl.col("strategy") == baseline).iter_rows(named=True)
    }
    for name in strategies:
        mine = {
            r["replication"]: r for r in kpi_table.filter(pl.col("strategy") == name).iter_rows(named=True)
        }
        for kpi in measured:
            mean, half = mean_ci95([r[kpi] for r in mine.values()])
            diffs = [mine[k][kpi] - base[k][kpi] for k in mine if k in base]
            dmean, dhalf = mean_ci95(diffs)
            rows.append(
                {
                    "strategy": name,
                    "kpi": kpi,
                    "mean": mean,
                    "ci95": half,
                    "diff_vs_baseline": dmean,
                    "diff_ci95": dhalf,
                    "significant": bool(not math.isnan(dhalf) and abs(dmean) > dhalf),
                    "baseline": baseline,
                }
            )
    return pl.DataFrame(rows)
