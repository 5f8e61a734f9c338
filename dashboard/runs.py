"""Running a scenario from the dashboard: list and load scenario files, apply the sidebar's choices
(strategies, replications, knobs), name the result folder by a hash of them, run and write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pydantic

from dom_core.errors import DomError
from sim.scenario import Scenario, load_scenario

if TYPE_CHECKING:  # the simulation modules load lazily: the page itself only reads results
    from sim.model import Knobs
    from sim.runner import RunResult

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


def run(
    scenario: Scenario, knobs: Knobs, out_dir: Path,
    on_done: Callable[[RunResult, int, int], None] | None = None, workers: int | None = None,
) -> Path:
    """Run every strategy x replication and write the result folder; returns the folder."""
    from sim.runner import run_experiment

    result = run_experiment(scenario, knobs, workers=workers, on_done=on_done)
    return result.write(out_dir)
