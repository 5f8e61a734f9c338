"""Import speed and memory: 1,000,000 stock rows and 1,000,000 order-history rows from Parquet.

    .venv/bin/python bench/bench_import.py                     # the issue's sizes; ~30 s
    .venv/bin/python bench/bench_import.py --stock-rows 200000 --history-rows 200000 --yaml-rows 5000

Writes synthetic files into a temporary folder (50 locations x 20,000 SKUs, every SKU stocked everywhere;
orders of 1-3 lines over 20,000 SKUs with coordinates), then measures each step in a fresh process, so
its peak RSS is its own: ``retail.network.import_network`` (read, check every row) and ``build``
(``NetworkSpec`` -> ``Network``, the ledger loaded from arrays); ``retail.history.import_history``; and,
for comparison, ``dom_core.config.load_network`` of a rules YAML listing ``--yaml-rows`` stock rows (the
path `dom validate` takes today). Prints a table and writes it to ``bench/results/import.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

ROOT = Path(__file__).resolve().parent.parent
N_LOC = 50

CHILD = """
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
started = time.perf_counter()
if kind == "network":
    from retail.network import import_network
    imported = import_network(path, strict=True)
    read = time.perf_counter()
    network, ledger, carriers = imported.build()
    rows, extra = imported.stock.height, time.perf_counter() - read
elif kind == "history":
    from retail.history import import_history
    result = import_history(path, strict=True)
    read = time.perf_counter()
    rows, extra = result.frame.height, 0.0
else:
    from dom_core.config import load_network
    network, ledger, carriers = load_network(path)
    read = time.perf_counter()
    rows, extra = int((ledger.on_hand > 0).sum()), 0.0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "read": read - started, "build": extra, "peak_mib": peak}))
"""


def write_network(folder: Path, rows: int, rng: np.random.Generator) -> None:
    """Locations, catalogue and ``rows`` stock rows (50 locations x rows/50 SKUs) as Parquet."""
    n_sku = rows // N_LOC
    locs = [f"L{i:03d}" for i in range(N_LOC)]
    skus = [f"S{k:06d}" for k in range(n_sku)]
    pl.DataFrame(
        {
            "id": locs,
            "kind": ["dc"] * 3 + ["store"] * (N_LOC - 3),
            "lat": rng.uniform(47, 55, N_LOC),
            "lon": rng.uniform(6, 15, N_LOC),
            "country": "DE",
        }
    ).write_parquet(folder / "locations.parquet")
    pl.DataFrame({"sku": skus, "weight_kg": rng.uniform(0.1, 5, n_sku).round(3)}).write_parquet(
        folder / "catalogue.parquet"
    )
    loc, sku = np.repeat(np.arange(N_LOC), n_sku), np.tile(np.arange(n_sku), N_LOC)
    pl.DataFrame(
        {
            "location": pl.Series(locs).gather(loc),
            "sku": pl.Series(skus).gather(sku),
            "on_hand": rng.integers(1, 50, loc.size),
            "safety": rng.integers(0, 3, loc.size),
        }
    ).write_parquet(folder / "stock.parquet")


def write_history(path: Path, rows: int, rng: np.random.Generator) -> None:
    """``rows`` order lines (about two per order), with timestamps and coordinates."""
    order = np.sort(rng.integers(0, rows // 2, rows))
    created = np.datetime64("2026-01-05T00:00:00", "us") + (order * 31_000_000).astype("timedelta64[us]")
    frame = pl.DataFrame(
        {
            "order_id": pl.Series(order).cast(pl.String),
            "created_at": pl.Series(created).dt.replace_time_zone("UTC"),
            "market": "DE",
            "channel": "web",
            "lat": 47 + (order % 1000) / 125.0,
            "lon": 6 + (order % 997) / 110.0,
            "sku": "S" + pl.Series(rng.integers(0, 20_000, rows)).cast(pl.String).str.zfill(6),
            "qty": rng.integers(1, 4, rows),
        }
    )
    frame.with_columns(line_id=(pl.int_range(pl.len()).over("order_id") + 1).cast(pl.String)).write_parquet(
        path
    )


def write_yaml(path: Path, rows: int) -> None:
    """A rules file listing ``rows`` stock rows (50 locations) in YAML, as scenarios do today."""
    n_sku = max(1, rows // N_LOC)
    network = {
        "locations": [
            {
                "id": f"L{i:03d}",
                "kind": "dc",
                "lat": 50.0,
                "lon": 10.0 + i / 10,
                "country": "DE",
                "market": "DE",
            }
            for i in range(N_LOC)
        ],
        "skus": [{"id": f"S{k:06d}"} for k in range(n_sku)],
        "stock": [
            {"location": f"L{i:03d}", "sku": f"S{k:06d}", "on_hand": 5}
            for i in range(N_LOC)
            for k in range(n_sku)
        ],
    }
    path.write_text(yaml.safe_dump({"network": network}, sort_keys=False), encoding="utf-8")


def measure(kind: str, path: Path) -> dict[str, float]:
    """One import in a fresh process: rows, seconds reading+checking, seconds building, peak RSS (MiB)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


def main() -> None:
    """Write the files, measure each import, print and save the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stock-rows", type=int, default=1_000_000)
    parser.add_argument("--history-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--yaml-rows", type=int, default=17_000, help="stock rows of the YAML comparison (0: skip)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "import.md")
    args = parser.parse_args()
    rng = np.random.default_rng(18)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_network(folder, args.stock_rows, rng)
        write_history(folder / "history.parquet", args.history_rows, rng)
        (folder / "net").mkdir()
        for name in ("locations", "catalogue", "stock"):
            (folder / f"{name}.parquet").rename(folder / "net" / f"{name}.parquet")
        rows.append(("stock (Parquet) import_network + build", measure("network", folder / "net")))
        rows.append(("history (Parquet) import_history", measure("history", folder / "history.parquet")))
        if args.yaml_rows:
            write_yaml(folder / "rules.yaml", args.yaml_rows)
            rows.append(("stock (YAML) load_network, for comparison", measure("yaml", folder / "rules.yaml")))
    lines = [
        "| import | rows | read + check s | build s | process wall s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {int(r['rows']):,} | {r['read']:.2f} | {r['build']:.2f} | {r['wall']:.2f} "
            f"| {r['peak_mib']:.0f} |"
        )
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
