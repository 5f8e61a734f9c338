"""A million stock rows from Parquet import and load into the ledger within seconds (bench/bench_import.py
reports the figures; this test only keeps CI from regressing badly)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from retail.network import import_network

N_LOC, N_SKU = 50, 20_000  # 1,000,000 stock rows


def write_network(folder: Path) -> None:
    """A network of 50 locations and 20,000 SKUs, every SKU stocked everywhere, as Parquet."""
    rng = np.random.default_rng(7)
    locs = [f"L{i:03d}" for i in range(N_LOC)]
    skus = [f"S{k:06d}" for k in range(N_SKU)]
    pl.DataFrame(
        {
            "id": locs,
            "kind": ["dc"] * 2 + ["store"] * (N_LOC - 2),
            "lat": rng.uniform(47, 55, N_LOC),
            "lon": rng.uniform(6, 15, N_LOC),
            "country": "DE",
        }
    ).write_parquet(folder / "locations.parquet")
    pl.DataFrame({"sku": skus, "weight_kg": rng.uniform(0.1, 5, N_SKU)}).write_parquet(
        folder / "catalogue.parquet"
    )
    loc = np.repeat(np.arange(N_LOC), N_SKU)
    sku = np.tile(np.arange(N_SKU), N_LOC)
    pl.DataFrame(
        {
            "location": pl.Series(locs).gather(loc),
            "sku": pl.Series(skus).gather(sku),
            "on_hand": rng.integers(0, 50, loc.size),
            "safety": rng.integers(0, 3, loc.size),
        }
    ).write_parquet(folder / "stock.parquet")


def test_a_million_stock_rows_import_fast(tmp_path: Path) -> None:
    write_network(tmp_path)
    started = time.perf_counter()
    imported = import_network(tmp_path, strict=True)
    _, ledger, _ = imported.build()
    seconds = time.perf_counter() - started
    assert imported.stock.height == N_LOC * N_SKU
    expected = pl.read_parquet(tmp_path / "stock.parquet").get_column("on_hand").sum()
    assert int(ledger.on_hand.sum()) == expected and ledger.on_hand.shape == (N_SKU, N_LOC)
    assert seconds < 20, f"{seconds:.1f} s"  # about 1-3 s measured on the 2-core machine
