"""What a run records: shipments waiting to be picked, and the flat rows of its result tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sim.tables import TABLES, frame


@dataclass(slots=True)
class PickJob:
    """A shipment waiting to be picked at a location."""

    ref: str
    order: int
    loc: int
    units: int
    service: str
    promised_at: float
    decided_at: float
    shipment_no: int
    lines: list[tuple[int, int, int]]  # (line index in the demand stream, sku index, qty)
    km: float


@dataclass
class Records:
    """Flat rows of a run, one list per table; ``compact`` moves rows into columnar chunks so that
    long runs keep memory flat (Python tuples cost ~10x what a polars row does)."""

    orders: list[tuple[Any, ...]] = field(default_factory=list)
    shipments: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    daily: list[tuple[Any, ...]] = field(default_factory=list)
    returns: list[tuple[Any, ...]] = field(default_factory=list)
    explanations: list[tuple[Any, ...]] = field(default_factory=list)
    chunks: dict[str, list[pl.DataFrame]] = field(default_factory=dict)

    def compact(self, min_rows: int = 50_000) -> None:
        """Turn every table holding at least ``min_rows`` rows into a DataFrame chunk."""
        for name, schema in TABLES.items():
            rows: list[tuple[Any, ...]] = getattr(self, name)
            if len(rows) >= min_rows:
                self.chunks.setdefault(name, []).append(frame(rows, schema))
                setattr(self, name, [])

    def table(self, name: str, **constants: Any) -> pl.DataFrame:
        """The whole table (chunks and pending rows), with constant key columns added."""
        parts = [*self.chunks.get(name, []), frame(getattr(self, name), TABLES[name])]
        df = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        return df.with_columns([pl.lit(v).alias(k) for k, v in constants.items()]) if constants else df
