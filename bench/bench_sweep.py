"""A parameter sweep on local processes against a local Dask cluster: the cluster's overhead and points per
minute, on the same sweep in the same run (issue 20).

The sweep: ``scenarios/sweeps/sweep_space.yaml`` (7 knobs: max shipments, safety stock, store participation,
demand, capacity, split penalty, time weight of the weighted blend), a Sobol design of ``--points`` points
(100) plus the baseline, ``--replications`` (3) each, on the default scenario scaled down to ``--days``
days (4, one of them warm-up) of ``--orders`` orders a day (600, no promotion), so that a run takes about
half a second. Each round runs it on ``--workers`` (2) local processes (``sim.sweep.local_pool``, as
``dom sweep``) and on a ``LocalCluster`` of as many single-threaded worker processes bound to 127.0.0.1
(``dom sweep --cluster``), in turn, each into a fresh folder (nothing resumed), and checks that the two give
identical KPIs for every point and replication.

    python bench/bench_sweep.py                  # one round: ~3 minutes on 2 cores
    python bench/bench_sweep.py --rounds 2 --points 20

"wall s" is the sweep itself; the cluster's start (scheduler and workers) is timed apart ("start s"), and
"ratio" is the Dask wall time (start included) over the local one. Points per minute count the design's
points and the baseline.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import polars as pl

from sim.scenario import Scenario, load_scenario
from sim.sweep import dask_cluster, local_pool, run_sweep
from sim.sweep_design import Point, design_points
from sim.sweep_space import SweepPlan, load_space

ROOT = Path(__file__).resolve().parent.parent


def scaled_default(days: float, orders: float) -> Scenario:
    """The default scenario cut to ``days`` days (one of warm-up) of ``orders`` orders a day."""
    sc = load_scenario(ROOT / "scenarios" / "default.yaml")
    data = sc.model_dump()
    data.update(name="default-sweep-bench", horizon_days=days, warmup_days=1)
    data["demand"].update(orders_per_day=orders, promotions=[])
    return Scenario.model_validate(data)


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the worker processes, once they have exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def local_run(sc: Scenario, plan: SweepPlan, pts: list[Point], reps: int, workers: int,
              folder: Path) -> tuple[float, float, pl.DataFrame]:
    """Wall seconds, workers' CPU seconds and KPI rows of the sweep on local processes."""
    started, cpu = time.perf_counter(), children_cpu()
    rows = run_sweep(sc, plan.run, pts, reps, folder, local_pool(workers)).rows
    return time.perf_counter() - started, children_cpu() - cpu, rows


def dask_run(sc: Scenario, plan: SweepPlan, pts: list[Point], reps: int, workers: int,
             folder: Path) -> tuple[float, float, float, pl.DataFrame]:
    """Cluster start seconds, sweep wall seconds, workers' CPU seconds (start and stop included) and KPI
    rows of the sweep on a local Dask cluster."""
    from distributed import LocalCluster

    started, cpu = time.perf_counter(), children_cpu()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        up = time.perf_counter() - started
        started = time.perf_counter()
        rows = run_sweep(sc, plan.run, pts, reps, folder, dask_cluster(cluster.scheduler_address)).rows
        wall = time.perf_counter() - started
    return up, wall, children_cpu() - cpu, rows


def main() -> None:
    """Run the rounds and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--days", type=float, default=4)
    ap.add_argument("--orders", type=float, default=600)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--space", type=Path, default=ROOT / "scenarios" / "sweeps" / "sweep_space.yaml")
    args = ap.parse_args()
    sc = scaled_default(args.days, args.orders)
    plan = load_space(args.space, sc)
    pts = design_points(plan, "sobol", args.points, plan.space.seed or 0)
    n, runs = len(pts), len(pts) * args.replications
    print(f"{n} points ({args.points} + baseline) x {args.replications} replications = {runs} runs of "
          f"{sc.name} ({args.days:g} days x {args.orders:g} orders/day), {args.workers} workers\n")
    print("| round | backend | start s | wall s | workers' CPU s | points/min | wall ratio Dask/local (start "
          "included) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for rnd in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            order = ("local", "dask") if rnd % 2 else ("dask", "local")  # alternate who goes first
            walls: dict[str, float] = {}
            cpus: dict[str, float] = {}
            rows: dict[str, pl.DataFrame] = {}
            start = 0.0
            for backend in order:
                if backend == "local":
                    walls["local"], cpus["local"], rows["local"] = local_run(
                        sc, plan, pts, args.replications, args.workers, Path(tmp) / "local")
                else:
                    start, walls["dask"], cpus["dask"], rows["dask"] = dask_run(
                        sc, plan, pts, args.replications, args.workers, Path(tmp) / "dask")
            same = rows["local"].drop("seconds").equals(rows["dask"].drop("seconds"))
            ratio = (start + walls["dask"]) / walls["local"]
            local, dask = walls["local"], walls["dask"]
            cells = f"{local:.1f} | {cpus['local']:.1f} | {60 * n / local:.1f}"
            print(f"| {rnd} | local processes | - | {cells} | |")
            cells = f"{start:.1f} | {dask:.1f} | {cpus['dask']:.1f} | {60 * n / dask:.1f} | {ratio:.3f}"
            print(f"| {rnd} | Dask LocalCluster | {cells} |", flush=True)
            if not same:
                raise SystemExit("the Dask sweep's KPIs differ from the local sweep's")
            orders = rows["local"]["orders"]
            print(f"<!-- round {rnd}: every KPI identical in all {runs} runs; {int(orders.sum()):,} orders "
                  f"in the KPI window, {orders.mean():.0f} a run -->", flush=True)


if __name__ == "__main__":
    main()
