"""Running a scenario from the dashboard: list and load scenario files, apply the sidebar's choices
(strategies, replications, knobs), name the result folder by a hash of them, run and write.

The experiment runs in a child interpreter (``dashboard.experiment``), not in the dashboard's process:
``run_experiment`` forks its worker processes, and forking a process that has already run polars
queries (the dashboard has: it reads Parquet) leaves the workers hanging on polars' copied locks
(pinned in tests/sim/test_runner.py as FORK_BUG). Progress comes back as lines on its stdout.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pydantic

from dashboard.experiment import MARK
from dom_core.errors import DomError
from sim.scenario import Scenario, load_scenario

if TYPE_CHECKING:  # the simulation modules load lazily: the page itself only reads results
    from sim.model import Knobs

# what a scenario file or its world can fail with: ConfigError (a DomError) names field and line;
# pydantic errors and ValueError (e.g. an unknown country) come from building the world
SCENARIO_ERRORS = (DomError, pydantic.ValidationError, ValueError)


def scenario_files(root: Path) -> list[Path]:
    """Scenario YAML files in ``root``, by name."""
    return sorted([*root.glob("*.yaml"), *root.glob("*.yml")]) if root.is_dir() else []


def load(path: Path) -> Scenario:
    """Load and validate a scenario file (raises one of ``SCENARIO_ERRORS``)."""
    return load_scenario(path)


def configure(scenario: Scenario, strategies: list[str], replications: int) -> Scenario:
    """The scenario restricted to ``strategies`` (keeping its baseline when chosen) with ``replications``."""
    exp = scenario.experiment
    runs = [r for r in exp.runs() if r.name in strategies]
    if not runs:
        raise DomError("strategies", "choose at least one strategy")
    names = [r.name for r in runs]
    baseline = scenario.baseline if scenario.baseline in names else names[0]
    update = {"strategies": runs, "baseline": baseline, "replications": replications}
    return scenario.model_copy(update={"experiment": exp.model_copy(update=update)})


def knobs(
    demand_factor: float = 1.0, capacity_factor: float = 1.0, max_shipments: int | None = None,
    safety_stock: int | None = None, store_participation: float = 1.0,
) -> Knobs:
    """The simulation's rule knobs (``sim.model.Knobs``)."""
    from sim.model import Knobs

    return Knobs(demand_factor, capacity_factor, max_shipments, safety_stock, store_participation)


def folder_name(scenario: Scenario, knobs: Knobs) -> str:
    """``<scenario>-<hash>``: the hash covers the whole (configured) scenario and the knobs."""
    spec = json.loads(scenario.model_dump_json())
    payload = json.dumps({"scenario": spec, "knobs": asdict(knobs)}, sort_keys=True)
    return f"{scenario.name}-{hashlib.sha256(payload.encode()).hexdigest()[:8]}"


class RunError(Exception):
    """The experiment process reported an error (the message names it) or died."""


@dataclass(frozen=True)
class RunDone:
    """One finished (strategy, replication) run, as reported to the progress callback."""

    strategy: str
    replication: int


def run(
    scenario: Scenario, knobs: Knobs, out_dir: Path,
    on_done: Callable[[RunDone, int, int], None] | None = None, workers: int | None = None,
) -> Path:
    """Run every strategy x replication in a child interpreter and write the result folder; returns it.

    ``on_done(run, n, of)`` is called here (in the caller's thread) after each finished run. If the
    caller stops waiting (e.g. Streamlit interrupts the script), the run carries on and writes its folder.
    """
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    request = json.dumps({"scenario": json.loads(scenario.model_dump_json()), "knobs": asdict(knobs),
                          "out": str(out_dir), "workers": workers})
    outcome: dict[str, str] = {}
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (outlives this call if the caller is interrupted)
    child = subprocess.Popen(
        [sys.executable, "-m", "dashboard.experiment"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=errors, text=True, cwd=root, env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(request)
    child.stdin.close()
    try:
        for line in child.stdout:
            if not line.startswith(MARK):
                continue
            msg = json.loads(line[len(MARK):])
            if "done" in msg and on_done:
                strategy, replication, n, of = msg["done"]
                on_done(RunDone(strategy, replication), n, of)
            outcome.update({k: v for k, v in msg.items() if k in ("ok", "error")})
    except BaseException:
        child.stdout.close()  # interrupted: stop listening, let the run finish and write its folder
        raise
    child.stdout.close()
    child.wait()
    errors.seek(0)
    tail = errors.read().decode(errors="replace").strip().splitlines()[-3:]
    errors.close()
    if "ok" in outcome:
        return Path(outcome["ok"])
    raise RunError(outcome.get("error") or f"the simulation process exited with code {child.returncode}"
                   + (": " + " / ".join(tail) if tail else ""))
