"""``sim.tables.frame`` builds the same DataFrame as polars' row constructor it replaced."""

from __future__ import annotations

import gc
import math
from typing import Any

import numpy as np
import polars as pl
import pytest

from sim.tables import ORDERS, TABLES, frame

SCHEMA = {"s": pl.Utf8, "i": pl.Int64, "f": pl.Float64}

CASES: dict[str, list[tuple[Any, ...]]] = {
    "plain": [("a", 1, 0.1), ("b", -2, 1e300)],
    "nulls": [("a", None, None), (None, 1, 1.0), (None, None, None)],
    "special floats": [("a", 1, math.nan), ("b", 2, -0.0), ("c", 3, math.inf)],
    "int in a float column": [("a", 1, 0), ("b", 2, 2**53 + 1)],
    "numpy scalars": [("a", np.int64(3), np.float64(0.1)), ("b", np.int32(4), np.float32(0.1))],
    "bool": [("a", True, False)],
    "float in an int column": [("a", 1.5, 1.0)],  # the strict column path falls back to the row path
    "number in a string column": [(1, 1, 1.0)],
    "empty": [],
}


def row_built(rows: list[tuple[Any, ...]], schema: dict[str, Any]) -> pl.DataFrame:
    """The previous construction."""
    return pl.DataFrame(rows, schema=schema, orient="row")


@pytest.mark.parametrize("name", list(CASES))
def test_frame_equals_the_row_constructor(name: str) -> None:
    rows = CASES[name]
    expected, got = row_built(rows, SCHEMA), frame(rows, SCHEMA)
    assert got.schema == expected.schema
    assert got.equals(expected)


def test_ragged_rows_are_refused_as_before() -> None:
    rows = [("a", 1, 1.0), ("b", 2)]
    with pytest.raises(Exception) as before:
        row_built(rows, SCHEMA)
    with pytest.raises(before.type):
        frame(rows, SCHEMA)


def test_constants_and_table_schemas() -> None:
    row = ("O1", 1, 0.5, 1.0, 0, "DE", "web", "ship_to_home", 2, 3, 3, 0, 0, 1, 4.5, 1.0, 0, 0.25, math.nan)
    got = frame([row, row], ORDERS, strategy="s", replication=1)
    assert got.equals(row_built([row, row], ORDERS).with_columns(strategy=pl.lit("s"), replication=pl.lit(1)))
    for schema in TABLES.values():
        assert frame([], schema).schema == pl.Schema(schema)


def test_frame_does_not_start_the_cyclic_collector() -> None:
    """After a run the collector's first pass is a full one over the run's heap: converting the rows
    must not be what starts it (a transposition of all rows at once allocates one iterator per row)."""
    rows = [(f"O{k}", k, k / 3) for k in range(20_000)]
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    was_enabled = gc.isenabled()
    gc.enable()
    gc.collect()
    gc.callbacks.append(count)
    try:
        df = frame(rows, SCHEMA)
    finally:
        gc.callbacks.remove(count)
        if not was_enabled:
            gc.disable()
    assert passes == []
    assert df.equals(row_built(rows, SCHEMA))
