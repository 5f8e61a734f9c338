"""Cost of the per-point distance cache once it is full, and of each replication's shared demand in turn.

A worker of an experiment draws replication after replication in one process; each primes the distance
rows of its ~41,000 home-delivery customers, so from the second one on the cache (``POINT_CACHE_SIZE``
points) is full and every new point evicts the oldest. Neither figure should grow with replications.

    .venv/bin/python bench/bench_point_cache.py                 # 5 replications of the default scenario
    .venv/bin/python bench/bench_point_cache.py --points 200000 --replications 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dom_core.compiled import active  # noqa: E402
from dom_core.network import POINT_CACHE_SIZE  # noqa: E402
from sim.model import shared_demand  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.world import build_world  # noqa: E402


def main() -> None:
    """Time cached distance rows past a full cache, then shared demand per replication."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000, help="new points after the cache is full")
    ap.add_argument("--replications", type=int, default=5)
    args = ap.parse_args()
    if args.points < 1 or args.replications < 1:
        ap.error("--points and --replications must be at least 1")
    world = build_world(load_scenario(ROOT / "scenarios" / "default.yaml"))
    net = world.network
    rng = np.random.default_rng(1)
    lats = rng.uniform(47.5, 54.5, POINT_CACHE_SIZE + args.points).tolist()
    lons = rng.uniform(6.0, 14.5, POINT_CACHE_SIZE + args.points).tolist()
    net.prime_distances([net.point(a, b) for a, b in zip(lats, lons, strict=True)][:POINT_CACHE_SIZE])
    started = time.process_time()
    for a, b in zip(lats[POINT_CACHE_SIZE:], lons[POINT_CACHE_SIZE:], strict=True):
        net.distances_km(a, b)
    took = time.process_time() - started
    print(f"compiled {active()}: {args.points:,} new points past a full cache of {POINT_CACHE_SIZE:,}:")
    print(f"  {took:.2f} s CPU, {took / args.points * 1e6:.1f} us per point (row computed and kept)")
    world = build_world(world.scenario)  # a fresh cache, as a worker starts with
    for rep in range(args.replications):
        started = time.process_time()
        shared_demand(world, rep)
        print(f"  shared_demand, replication {rep}: {time.process_time() - started:.2f} s CPU", flush=True)


if __name__ == "__main__":
    main()
