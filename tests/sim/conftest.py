"""Tiny scenarios for the simulation tests, and a helper to derive validated variants of them.

``tiny.yaml``: 2 DCs and 4 stores in Germany, 40 SKUs, 4 days of about 300 orders a day, stock
tight enough for stock-outs, walk-in sales, fast replenishment and frequent quick returns, so every
kind of stock movement happens within a fraction of a second of simulation.
``base_stock.yaml``: 1 DC, 1 SKU, Poisson unit demand, RS replenishment with a fixed lead time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.scenario import Scenario, load_scenario
from sim.world import World, build_world

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


@pytest.fixture(scope="session")
def tiny() -> Scenario:
    return load_scenario(TINY)


@pytest.fixture(scope="session")
def tiny_world(tiny: Scenario) -> World:
    return build_world(tiny)
