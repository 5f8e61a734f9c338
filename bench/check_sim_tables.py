"""Before/after guard for simulation optimisations: every table of a set of runs must stay identical.

Runs each strategy (and variants: backorders, (R,S) review, ``needs_stock`` returns, knobs) on the
default scenario cut to ``--days`` days, replication 1 (sharing its orders, as an experiment's runs
do), and writes every table as Parquet under the given directory; ``--compare`` re-runs them and checks
each table with polars ``equals`` (floats exactly). Wall time is not compared.

    python bench/check_sim_tables.py --save /tmp/sim-before      # on the old code
    python bench/check_sim_tables.py --compare /tmp/sim-before   # on the new code
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from sim.model import Knobs
from sim.runner import DemandCache, run_one
from sim.scenario import Scenario, StrategyRun, load_scenario
from sim.world import build_world

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("split_shipments", "distance", "ranked", "cheapest", "greenest", "ship_from_primary", "optimal")


def variants(days: float) -> Iterator[tuple[str, Scenario, Knobs]]:
    """(label, scenario, knobs) of every checked setting."""
    base = load_scenario(ROOT / "scenarios" / "default.yaml")
    base = base.model_copy(update={"horizon_days": days, "warmup_days": min(base.warmup_days, days / 4)})
    yield "default", base, Knobs()
    variant = base.model_copy(
        update={
            "operations": base.operations.model_copy(update={"stockout": "backorder"}),
            "replenishment": base.replenishment.model_copy(update={"policy": "RS", "review_days": 3}),
            "returns": base.returns.model_copy(update={"policy": "needs_stock"}),
        }
    )
    yield "backorder_rs_needs_stock", variant, Knobs()
    yield "knobs", base, Knobs(max_shipments=1, safety_stock=1, store_participation=0.5, capacity_factor=0.5)


def tables(days: float) -> Iterator[tuple[str, pl.DataFrame]]:
    """(file name, table) for every run and table."""
    for label, scenario, knobs in variants(days):
        world = build_world(scenario)
        demand = DemandCache(world)  # the strategies share the replication's orders, as in an experiment
        strategies = STRATEGIES if label == "default" else STRATEGIES[:4]
        for name in strategies:
            shared = demand.get(1, knobs.demand_factor)
            result = run_one(world, StrategyRun(strategy=name), 1, knobs, shared=shared)
            print(f"  {label} {name}: {result.orders} orders", file=sys.stderr)
            for table, frame in result.tables.items():
                yield f"{label}.{name}.{table}.parquet", frame


def main() -> None:
    """Save or compare the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--save", type=Path, help="directory to write the reference tables to")
    mode.add_argument("--compare", type=Path, help="directory of reference tables to compare with")
    parser.add_argument("--days", type=float, default=8.0, help="simulated days per run (default 8)")
    args = parser.parse_args()
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        n = 0
        for name, frame in tables(args.days):
            frame.write_parquet(args.save / name)
            n += 1
        print(f"saved {n} tables to {args.save}")
        return
    differ, n = [], 0
    for name, frame in tables(args.days):
        n += 1
        ref = args.compare / name
        if not ref.exists() or not pl.read_parquet(ref).equals(frame):
            differ.append(name)
    if differ:
        print(f"{len(differ)} of {n} tables differ: {', '.join(differ)}")
        sys.exit(1)
    print(f"{n} tables identical")


if __name__ == "__main__":
    main()
