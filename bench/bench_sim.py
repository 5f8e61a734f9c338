"""Simulation scale benchmark: orders/s, SimPy events/s and peak memory at 10k, 100k and 1M orders.

Network: 10 DCs + 190 stores in Germany (200 locations), 5,000 SKUs, ~2,740 orders/day (1M a year),
strategy split_shipments (rule-based), replenishment, walk-in sales and returns on. Each size runs in a
fresh subprocess (one core) so its peak RSS is its own; horizons are 3.65, 36.5 and 365 days at the
same daily rate, so a flat time per order shows that cost does not grow with run length.

    .venv/bin/python bench/bench_sim.py                # all sizes, writes bench/results/sim_scale.md
    .venv/bin/python bench/bench_sim.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ORDERS_PER_DAY = 1_000_000 / 365


def scenario_dict(orders: int) -> dict[str, object]:
    """The benchmark scenario for a run of about ``orders`` orders."""
    return {
        "name": f"scale-{orders}",
        "seed": 11,
        "horizon_days": orders / ORDERS_PER_DAY,
        "generate": {
            "markets": [
                {
                    "market": "DE",
                    "country": "DE",
                    "dcs": 10,
                    "stores": 190,
                    "dc_pick_capacity_per_day": 2500,
                    "store_pick_capacity_per_day": 150,
                }
            ],
            "catalogue": {"skus": 5000, "zipf_exponent": 0.9},
            "stock": {"store_assortment": 0.25},
        },
        "network": {
            "inventory_models": [
                {
                    "name": "de",
                    "market": "DE",
                    "channels": ["web", "app"],
                    "locations": {"markets": ["DE"]},
                    "return_locations": {"markets": ["DE"]},
                    "cutoff": 10,
                    "max_shipments": 3,
                }
            ]
        },
        "demand": {"orders_per_day": ORDERS_PER_DAY, "walk_in_units_per_store_day": 40},
        "experiment": {"strategies": ["split_shipments"], "replications": 1, "workers": 1},
    }


def run_single(orders: int) -> dict[str, float | str]:
    """Run one size in this process and report its figures."""
    from dom_core.compiled import active
    from sim.model import Simulation
    from sim.scenario import Scenario, StrategyRun
    from sim.world import build_world

    scenario = Scenario.model_validate(scenario_dict(orders))
    marks: list[tuple[float, float]] = []  # (share of orders placed, wall clock)

    def progress(share: float) -> None:
        marks.append((share, time.perf_counter()))
        print(f"\r  {orders:>9,} orders: {share:4.0%}", end="", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    world = build_world(scenario)
    sim = Simulation(
        world,
        StrategyRun(strategy="split_shipments"),
        0,
        record_events=False,
        explain_every=10**9,
        progress=progress,
    )
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    records = sim.run()
    seconds = time.perf_counter() - t1
    for name in ("orders", "shipments"):
        records.table(name)
    print(file=sys.stderr)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(sim.demand)
    first, last = _tenth_us_per_order(marks, n)
    return {
        "orders": n,
        "setup_s": setup,
        "run_s": seconds,
        "orders_per_s": n / seconds,
        "us_per_order": 1e6 * seconds / n,
        "events": sim.env.steps,
        "events_per_s": sim.env.steps / seconds,
        "peak_mib": peak_mib,
        "first_tenth_us": first,
        "last_tenth_us": last,
        "engine": "compiled" if active() else "pure Python",
    }


def _tenth_us_per_order(marks: list[tuple[float, float]], n: int) -> tuple[float, float]:
    """µs per order over the first and the last tenth of the orders (does time per order grow?)."""

    def at(share: float) -> float:
        return next(t for f, t in marks if f >= share)

    tenth = n / 10
    return 1e6 * (at(0.1) - at(0.0)) / tenth, 1e6 * (at(1.0) - at(0.9)) / tenth


def main() -> None:
    """Run every size in its own subprocess and write the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--single", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("bench/results/sim_scale.md"))
    args = parser.parse_args()
    if args.single:
        print(json.dumps(run_single(args.single)))
        return
    rows = []
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--single", str(size)], check=True, stdout=subprocess.PIPE, text=True
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    lines = [
        "| orders | setup s | run s | orders/s | µs/order | µs/order first tenth | µs/order last tenth "
        "| SimPy events | events/s | peak RSS MiB | engine |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines.extend(
        f"| {r['orders']:,} | {r['setup_s']:.1f} | {r['run_s']:.1f} | {r['orders_per_s']:,.0f} | "
        f"{r['us_per_order']:.0f} | {r['first_tenth_us']:.0f} | {r['last_tenth_us']:.0f} | "
        f"{r['events']:,} | {r['events_per_s']:,.0f} | {r['peak_mib']:,.0f} | {r['engine']} |"
        for r in rows
    )
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        f"# Simulation scale (split_shipments, 200 locations, 5,000 SKUs)\n\n{table}\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
