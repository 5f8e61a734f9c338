"""Writing an import: a scenario-ready folder of the documented files (Parquet), or a YAML network section.

The folder holds the documented files, normalised (every default applied, places geocoded, bad rows
gone), so ``read_folder`` (or ``import_network`` on it) reads it back as it was imported, plus
``history.parquet`` (the normalised history), ``problems.csv`` (the bad-row report) and
``manifest.json`` (counts, notes, the carrier preset).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from retail.columns import columns_of
from retail.hours import OpeningHours
from retail.network import ImportedNetwork, import_network
from retail.problems import ImportReport
from retail.schemas import ROW_MODELS

YAML_STOCK_WARNING = 20_000  # stock rows beyond which YAML gets slow to load (use a folder)


def _hours_text(spans: list[dict[str, Any]] | None) -> str | None:
    if spans is None:
        return None
    days: list[list[tuple[float, float]]] = [[] for _ in range(7)]
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    for span in spans:
        days[names.index(span["weekday"])].append((span["open_hour"], span["close_hour"]))
    return OpeningHours(tuple(tuple(d) for d in days)).text()


def documented(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of ``kind`` in its file's columns: lists as ';'-separated text, opening hours as text."""
    out = []
    for col in columns_of(ROW_MODELS[kind]):
        if col.name not in frame.columns:
            continue
        expr = pl.col(col.name)
        if col.kind in ("list", "weekdays"):
            expr = expr.list.join(";")
        elif col.kind == "hours":
            expr = expr.map_elements(_hours_text, return_dtype=pl.String, skip_nulls=False)
        out.append(expr.alias(col.name))
    return frame.select(out)


def write_folder(
    folder: Path,
    network: ImportedNetwork | None,
    history: pl.DataFrame | None,
    report: ImportReport,
    preset: str,
) -> list[Path]:
    """Write the folder described in the module docstring; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if network is not None:
        frames = {
            "locations": network.locations,
            "catalogue": network.catalogue,
            "stock": network.stock,
            "carriers": network.carriers,
            "carrier_rates": network.carrier_rates,
        }
        for kind, frame in frames.items():
            if frame.width:
                path = folder / f"{kind}.parquet"
                documented(kind, frame).write_parquet(path)
                written.append(path)
    if history is not None:
        path = folder / "history.parquet"
        history.write_parquet(path)
        written.append(path)
    if report.problems.height:
        path = folder / "problems.csv"
        report.problems.write_csv(path)
        written.append(path)
    manifest = {
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "carrier_preset": preset,
        "counts": [{"file": c.file, "rows": c.rows, "imported": c.imported} for c in report.counts],
        "notes": report.notes,
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return [*written, path]


def read_folder(folder: Path) -> tuple[ImportedNetwork | None, pl.DataFrame | None]:
    """The network (if the folder has one) and history (if any) of a folder written by ``write_folder``."""
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    network = None
    if (folder / "locations.parquet").is_file():
        network = import_network(folder, strict=True, carrier_preset=manifest.get("carrier_preset"))
    history_path = folder / "history.parquet"
    return network, pl.read_parquet(history_path) if history_path.is_file() else None


def network_yaml(network: ImportedNetwork, sources: list[str]) -> str:
    """A rules file's ``network:`` section (locations, skus, carriers, stock) as YAML text."""
    spec = network.spec
    section: dict[str, Any] = {
        "locations": [loc.model_dump(mode="json", exclude_defaults=True) for loc in spec.locations],
        "skus": [sku.model_dump(mode="json", exclude_defaults=True) for sku in spec.skus],
        "inventory_models": [],
        "carriers": spec.carriers.model_dump(mode="json", exclude_none=True),
        "stock": [
            {k: v for k, v in row.items() if k != "safety" or v}
            for row in network.stock.select("location", "sku", "on_hand", "safety").iter_rows(named=True)
        ],
    }
    header = (
        f"# network section imported by `dom import` from {', '.join(sources)}\n"
        "# add inventory_models (market, channels, locations, strategy), or use it in a scenario that\n"
        "# generates one '<market>-all' model per market; inbound stock is only kept in a folder import\n"
    )
    return header + yaml.safe_dump({"network": section}, sort_keys=False, allow_unicode=True)
