"""A serial experiment to count instructions of, deterministically (the machine's wall time is too noisy).

Runs ``run_experiment(workers=1)`` on the default scenario cut to ``DAYS`` days with ``REPS``
replications; a serial experiment shares each replication between all its strategies, as a worker does.
Run it under callgrind, each tree with its own compiled build:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python bench/experiment_instructions.py 5 1     # prints "I refs" at the end
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dom_core.compiled import active  # noqa: E402
from sim.runner import run_experiment  # noqa: E402
from sim.scenario import Scenario, load_scenario  # noqa: E402


def main() -> None:
    """Run the cut experiment and print its size and CPU time."""
    days = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    data = load_scenario(ROOT / "scenarios" / "default.yaml").model_dump()
    data["horizon_days"], data["experiment"]["replications"] = days, reps
    scenario = Scenario.model_validate(data)
    started = time.process_time()
    result = run_experiment(scenario, workers=1)
    orders = sum(r.orders for r in result.runs)
    print(f"compiled {active()}, {orders} orders, CPU {time.process_time() - started:.2f} s")


if __name__ == "__main__":
    main()
