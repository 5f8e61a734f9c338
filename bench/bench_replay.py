"""Replay scale benchmark: import and replay an order history of ``--rows`` lines (default 1,000,000),
with time per stage and peak memory (target: within 2 GiB).

The history is the benchmark network's generated demand (``bench_sim.py``'s: 10 DCs + 190 stores,
5,000 SKUs) written once as a Parquet file in the normalised history columns. A fresh subprocess then
does what ``dom replay`` does with one strategy and one replication, each stage timed: import the file
with ``retail.history.import_history`` (the documented history file's checks), check it against the
network and build the orders (``prepare_replay``), replay it (``split_shipments``, event log on, as the
CLI records it), and write the results folder. Peak RSS is that subprocess's own.

    .venv/bin/python bench/bench_replay.py                  # 1,000,000 rows; bench/results/replay.md
    .venv/bin/python bench/bench_replay.py --rows 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINES_PER_ORDER = 1.8  # the benchmark demand's mean lines per order


def make_history(rows: int, path: Path) -> None:
    """Write the benchmark network's demand of about ``rows`` lines as a history Parquet file."""
    from bench_sim import scenario_dict

    from sim.demand import generate_demand
    from sim.history_synth import history_frame
    from sim.scenario import Scenario
    from sim.world import build_world

    scenario = Scenario.model_validate(scenario_dict(round(rows / LINES_PER_ORDER)))
    world = build_world(scenario)
    frame = history_frame(world, generate_demand(world, 0), dt.date(2026, 1, 5))
    frame.write_parquet(path)


def measure(rows: int, path: Path, out: Path) -> dict[str, float]:
    """Import, check, replay and write, each timed; peak RSS of this process."""
    from bench_sim import scenario_dict

    from dom_core import compiled
    from retail.history import import_history
    from sim.history import normalise
    from sim.replay import prepare_replay, run_replay, write_replay
    from sim.scenario import Scenario

    scenario = Scenario.model_validate(scenario_dict(round(rows / LINES_PER_ORDER)))
    scenario = scenario.model_copy(
        update={"experiment": scenario.experiment.model_copy(update={"replications": 1, "workers": 1})}
    )
    figures: dict[str, float] = {}
    t0 = time.perf_counter()
    imported = import_history(path)
    frame = normalise(imported.frame)
    t1 = time.perf_counter()
    replay = prepare_replay(scenario, frame)
    t2 = time.perf_counter()
    result = run_replay(replay, workers=1)
    t3 = time.perf_counter()
    write_replay(result, replay, out, str(path))
    t4 = time.perf_counter()
    figures.update(
        engine=0.0 if not compiled.active() else 1.0,
        rows=float(frame.height),
        skipped=float(imported.report.skipped),
        orders=float(len(replay.orders)),
        import_s=t1 - t0,
        check_s=t2 - t1,
        replay_s=t3 - t2,
        write_s=t4 - t3,
        total_s=t4 - t0,
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return figures


def main() -> None:
    """Make the history (once), measure in a fresh subprocess, print and write the table."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--history", type=Path, help="history Parquet to use (made if missing)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "replay.md")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be positive")
    work = Path(tempfile.mkdtemp(prefix="dom-bench-replay-"))
    path = args.history or work / "history.parquet"
    if args.make:
        make_history(args.rows, path)
        return
    if args.measure:
        print(json.dumps(measure(args.rows, path, work / "results")))
        return
    script = [sys.executable, __file__, "--rows", str(args.rows), "--history", str(path)]
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}", "PATH": "/usr/bin:/bin"}
    if not path.exists():
        started = time.perf_counter()
        subprocess.run([*script, "--make"], check=True, env=env, cwd=ROOT)
        print(f"history of ~{args.rows:,} rows written to {path} in {time.perf_counter() - started:.1f} s")
    measured = [*script, "--measure"]
    done = subprocess.run(measured, check=True, env=env, cwd=ROOT, capture_output=True, text=True)
    f = json.loads(done.stdout.strip().splitlines()[-1])
    table = (
        "| rows | orders | import s | check s | replay s | write s | total s | peak RSS MiB | engine |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        f"| {f['rows']:,.0f} | {f['orders']:,.0f} | {f['import_s']:.1f} | {f['check_s']:.1f} | "
        f"{f['replay_s']:.1f} | {f['write_s']:.1f} | {f['total_s']:.1f} | {f['peak_mib']:,.0f} | "
        f"{'compiled' if f['engine'] else 'pure Python'} |\n"
    )
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
