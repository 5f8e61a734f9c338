"""The dashboard's experiment as a child program: ``python -m dashboard.experiment`` reads one JSON
request on stdin (scenario, knobs, out, workers), runs ``sim.runner.run_experiment``, writes the result
folder and reports on stdout as ``@dom {json}`` lines: ``{"done": [strategy, replication, n, of]}`` per
finished run, then ``{"ok": folder}`` or ``{"error": message}``.

A fresh interpreter, because ``run_experiment`` forks its workers and forking a process that has run
polars queries (the dashboard's) hangs them (tests/sim/test_runner.py FORK_BUG).
"""

from __future__ import annotations

import json
import sys
from typing import Any

MARK = "@dom "


def report(**message: Any) -> None:
    """One message line for the dashboard; a vanished reader does not stop the run."""
    try:
        sys.stdout.write(MARK + json.dumps(message) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass


def main() -> None:
    """Run the requested experiment and write its results."""
    from sim.model import Knobs
    from sim.runner import RunResult, run_experiment
    from sim.scenario import Scenario

    def done(result: RunResult, n: int, of: int) -> None:
        report(done=[result.strategy, result.replication, n, of])

    try:
        request = json.loads(sys.stdin.read())
        scenario = Scenario.model_validate(request["scenario"])
        knobs = Knobs(**request["knobs"])
        result = run_experiment(scenario, knobs, workers=request.get("workers"), on_done=done)
        report(ok=str(result.write(request["out"])))
    except Exception as exc:  # any failure goes back to the page as a message, not a traceback
        report(error=f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
