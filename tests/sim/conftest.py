"""Tiny scenarios for the simulation tests, and a helper to derive validated variants of them.

``tiny.yaml``: 2 DCs and 4 stores in Germany, 40 SKUs, 4 days of about 300 orders a day, stock
tight enough for stock-outs, walk-in sales, fast replenishment and frequent quick returns, so every
kind of stock movement happens within a fraction of a second of simulation.
``base_stock.yaml``: 1 DC, 1 SKU, Poisson unit demand, RS replenishment with a fixed lead time.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sim.runner import RunResult
from sim.scenario import Scenario, load_scenario
from sim.tables import TABLES
from sim.world import World, build_world

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.yaml"
BASE_STOCK = DATA / "base_stock.yaml"


def variant(scenario: Scenario, **changes: Any) -> Scenario:
    """A validated copy of a scenario with nested fields replaced: ``variant(sc, operations__stockout="x")``
    sets ``operations.stockout``."""
    data = scenario.model_dump()
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    return Scenario.model_validate(data)


def digest(result: RunResult) -> str:
    """A hash of every table of a run (row order included)."""
    h = hashlib.sha256()
    for name in TABLES:
        h.update(result.tables[name].write_csv().encode())
    return h.hexdigest()


def run_script(script: str, *args: str, env: dict[str, str], timeout: float) -> list[str]:
    """The stdout lines of ``python -c script args`` run from the repository root, with ``env`` added;
    a failing script fails the test with the end of its stderr."""
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        check=False,
        timeout=timeout,
    )
    if out.returncode:
        pytest.fail(f"the script exited with {out.returncode}:\n{out.stderr[-3000:]}")
    return out.stdout.splitlines()


@pytest.fixture(scope="session")
def tiny() -> Scenario:
    return load_scenario(TINY)


@pytest.fixture(scope="session")
def tiny_world(tiny: Scenario) -> World:
    return build_world(tiny)
