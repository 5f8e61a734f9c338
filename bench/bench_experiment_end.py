"""What an experiment spends after its last run: shutting the worker pool down, and writing the results.

Runs ``run_experiment`` on the default scenario (2 workers) with ``ProcessPoolExecutor.shutdown`` timed,
then ``ExperimentResult.write`` into a temporary folder ``--writes`` times. The code is the one on
``sys.path`` first, so an exported older tree can be measured with ``PYTHONPATH=<tree>``.

    .venv/bin/python bench/bench_experiment_end.py                  # the whole default experiment
    .venv/bin/python bench/bench_experiment_end.py --days 8 --writes 5
"""

from __future__ import annotations

import argparse
import concurrent.futures.process as pool_module
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.runner import run_experiment
from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Time the pool's shutdown and the results' writes, and print both."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=None, help="cut the scenario's horizon to this many days")
    ap.add_argument("--writes", type=int, default=3)
    args = ap.parse_args()
    if args.days is not None and args.days <= 0:
        ap.error("--days must be positive")
    if args.writes < 1:
        ap.error("--writes must be at least 1")
    data = load_scenario(ROOT / "scenarios" / "default.yaml").model_dump()
    if args.days is not None:
        data["horizon_days"] = args.days
    scenario = Scenario.model_validate(data)

    shutdowns: list[float] = []
    shutdown = pool_module.ProcessPoolExecutor.shutdown

    def timed_shutdown(self: Any, *a: Any, **k: Any) -> None:
        started = time.perf_counter()
        shutdown(self, *a, **k)
        shutdowns.append(time.perf_counter() - started)

    pool_module.ProcessPoolExecutor.shutdown = timed_shutdown  # type: ignore[method-assign]
    result = run_experiment(scenario, workers=2)
    print(f"experiment {result.seconds:.1f} s, pool shutdown {sum(shutdowns):.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.writes):
            started = time.perf_counter()
            result.write(Path(tmp) / str(i))
            print(f"write {i + 1}: {time.perf_counter() - started:.2f} s", flush=True)


if __name__ == "__main__":
    main()
