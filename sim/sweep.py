"""Running a sweep: every point x the same replications (common random numbers: replication r of every
point draws from the same seeded streams), in this process, in local worker processes, or on an existing
Dask distributed cluster; each finished point's KPI rows are saved at once under a hash of the point, the
strategy run and the scenario with its seed, so an interrupted sweep resumes where it stopped.

The same (point, replication) gives the same KPIs to the last bit wherever it runs: a task carries the
scenario, run and knobs as JSON, and a worker builds the world from them, as ``sim.runner`` does.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dom_core.errors import DomError
from sim.model import Knobs
from sim.runner import run_one
from sim.scenario import Scenario, StrategyRun
from sim.sweep_design import Point
from sim.world import World, build_world

ROOT = Path(__file__).resolve().parent.parent
Task = tuple[int, int]  # (point_id, replication)
Row = dict[str, Any]  # a run's KPIs, with its replication, seconds and orders


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to run one (point, replication): all of it plain JSON."""

    point_id: int
    replication: int
    scenario_json: str
    run_json: str
    knobs_json: str


Results = Generator[tuple["TaskSpec", Row], None, None]  # tasks with their rows, as they finish


# ---------------------------------------------------------------------------------------------- workers
_WORLD: tuple[str, World] | None = None  # (scenario digest, world) of the last scenario this process ran
_LOCK = threading.Lock()  # one run at a time per process: a Dask worker may run tasks in several threads


def run_task(task: TaskSpec) -> Row:
    """Run one (point, replication) and return its KPI row (the world is built once per process)."""
    global _WORLD  # noqa: PLW0603
    digest = hashlib.sha256(task.scenario_json.encode()).hexdigest()
    with _LOCK:
        if _WORLD is None or _WORLD[0] != digest:
            _WORLD = (digest, build_world(Scenario.model_validate_json(task.scenario_json)))
        run = StrategyRun.model_validate_json(task.run_json)
        knobs = Knobs(**json.loads(task.knobs_json))
        result = run_one(_WORLD[1], run, task.replication, knobs, record_events=False)
    return {"replication": task.replication, "seconds": result.seconds, "orders": result.orders,
            **result.kpis}


def code_tag() -> str:
    """A hash of the engine's and the simulation's sources: workers must run the same code as the caller."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("dom_core/**/*.py"), *ROOT.glob("sim/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _start_worker() -> None:
    atexit.register(gc.freeze)  # skip the last collections of a large heap at exit (as sim.runner does)


# ---------------------------------------------------------------------------------------------- backends
def in_process(tasks: list[TaskSpec]) -> Results:
    """Run the tasks one after the other in this process."""
    for task in tasks:
        yield task, run_task(task)


def local_pool(workers: int) -> Callable[[list[TaskSpec]], Results]:
    """Run the tasks in ``workers`` local processes (spawned), yielding each as it finishes."""

    def execute(tasks: list[TaskSpec]) -> Results:
        context = multiprocessing.get_context("spawn")  # as sim.runner: forked polars can hang
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker)
        try:
            futures = {pool.submit(run_task, task): task for task in tasks}
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:  # also when interrupted: drop the queued tasks, let the running ones end
            pool.shutdown(wait=True, cancel_futures=True)

    return execute


def dask_cluster(address: str) -> Callable[[list[TaskSpec]], Results]:
    """Run the tasks on the Dask distributed cluster at ``address``, yielding each as it finishes."""

    def execute(tasks: list[TaskSpec]) -> Results:
        import distributed

        dask: Any = distributed  # its functions are not all typed
        try:
            client = dask.Client(address, timeout="10s")
        except OSError as exc:
            raise DomError("--cluster", f"cannot reach a Dask scheduler at {address}: {exc}") from None
        try:
            check_workers(client)
            futures = {client.submit(run_task, t, key=_key(t), pure=False): t for t in tasks}
            try:
                for future in dask.as_completed(futures):
                    yield futures[future], future.result()
            finally:
                client.cancel(list(futures))
        finally:
            client.close()

    return execute


def check_workers(client: Any) -> None:
    """Fail unless the cluster has workers and they all run this checkout's engine and simulation code."""
    tags: dict[str, str] = client.run(code_tag)
    if not tags:
        raise DomError("--cluster", "the Dask cluster has no workers")
    mine = code_tag()
    other = sorted(w for w, tag in tags.items() if tag != mine)
    if other:
        raise DomError("--cluster", f"workers {', '.join(other)} run other dom_core/sim code than this "
                       "checkout: install the same version on them (results would differ)")


def _key(task: TaskSpec) -> str:
    """The Dask key of a task: readable, and unique to its inputs."""
    what = f"{task.scenario_json}{task.run_json}{task.knobs_json}".encode()
    return f"sweep-{task.point_id}-{task.replication}-{hashlib.sha256(what).hexdigest()[:12]}"



# ---------------------------------------------------------------------------------------------- the store
class PointStore:
    """Each finished point's KPI rows (one per replication) as ``<folder>/points/<key>.parquet``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "points"

    def read(self, key: str) -> list[Row]:
        """The saved rows of a point (none when it never finished or its file is unreadable)."""
        path = self.folder / f"{key}.parquet"
        try:
            return pl.read_parquet(path).to_dicts() if path.is_file() else []
        except Exception:  # a damaged file: the point runs again
            return []

    def write(self, key: str, rows: list[Row]) -> None:
        """Save a point's rows (atomically: a reader sees the old file or the new one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{os.getpid()}.tmp"
        pl.DataFrame(sorted(rows, key=_by_replication)).write_parquet(tmp)
        tmp.replace(self.folder / f"{key}.parquet")


# ---------------------------------------------------------------------------------------------- the sweep
@dataclass(frozen=True)
class Tick:
    """Progress: a run finished (and whether its point is now complete)."""

    point: Point
    replication: int
    runs_done: int
    runs_total: int
    point_finished: bool
    points_done: int
    points_total: int


@dataclass(frozen=True)
class SweepRuns:
    """The KPI rows of every point and replication, and what this call ran."""

    rows: pl.DataFrame  # point_id, replication, seconds, orders, KPIs
    runs_executed: int
    points_reused: int
    seconds: float


Executor = Callable[[list[TaskSpec]], Results]


def run_sweep(
    scenario: Scenario,
    base: StrategyRun,
    points: list[Point],
    replications: int,
    folder: Path,
    execute: Executor = in_process,
    on_tick: Callable[[Tick], None] | None = None,
) -> SweepRuns:
    """Run every point x ``replications``, skipping the replications already saved under ``folder``."""
    started = time.perf_counter()
    store = PointStore(folder)
    scenario_json = scenario.model_dump_json()
    keys = {p.point_id: p.key(scenario, base) for p in points}
    saved: dict[int, list[Row]] = {}
    tasks: list[TaskSpec] = []
    for p in points:  # point by point, so that points finish (and are saved) early and in order
        rows = [r for r in store.read(keys[p.point_id]) if r["replication"] < replications]
        saved[p.point_id] = rows
        knobs_json, run_json = json.dumps(asdict(p.knobs())), p.run(base).model_dump_json()
        have = {r["replication"] for r in rows}
        tasks += [TaskSpec(p.point_id, rep, scenario_json, run_json, knobs_json)
                  for rep in range(replications) if rep not in have]
    by_id = {p.point_id: p for p in points}
    missing = {p.point_id: sum(t.point_id == p.point_id for t in tasks) for p in points}
    reused = sum(1 for n in missing.values() if n == 0)
    fresh: dict[int, list[Row]] = {pid: [] for pid in by_id}
    done, points_done = 0, reused
    with closing(execute(tasks) if tasks else _nothing()) as results:  # closed on an interrupt too
        for task, row in results:
            done += 1
            fresh[task.point_id].append(row)
            finished = len(fresh[task.point_id]) == missing[task.point_id]
            if finished:
                saved[task.point_id] += fresh[task.point_id]
                store.write(keys[task.point_id], saved[task.point_id])
                points_done += 1
            if on_tick:
                on_tick(Tick(by_id[task.point_id], task.replication, done, len(tasks), finished, points_done,
                             len(points)))
    rows = [{"point_id": pid, **r} for pid in by_id for r in sorted(saved[pid], key=_by_replication)]
    return SweepRuns(pl.DataFrame(rows), done, reused, time.perf_counter() - started)


def _by_replication(row: Row) -> int:
    return int(row["replication"])


def _nothing() -> Results:
    yield from ()


def executor(workers: int, cluster: str | None) -> tuple[Executor, str]:
    """The executor for ``--cluster`` / ``--workers`` and a description of it."""
    if cluster:
        return dask_cluster(cluster), f"Dask cluster {cluster}"
    if workers <= 1:
        return in_process, "1 process"
    return local_pool(workers), f"{workers} local processes"
