"""Result folders: discovery, validation and the (lazy, aggregated) reads the dashboard needs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dom_core.model import HOURS_PER_DAY

ROOT = Path(__file__).resolve().parent.parent
TABLE_FILES = ("orders", "shipments", "events", "daily", "returns", "explanations", "kpis", "comparison")
MANIFEST_KEYS = ("scenario", "baseline", "strategies", "replications")


class ResultsError(Exception):
    """A result folder that is missing, incomplete or unreadable; the message says which file and why."""


def results_dir() -> Path:
    """Where result folders live: ``$DOM_RESULTS_DIR`` or ``results/`` beside ``app.py``."""
    return Path(os.environ.get("DOM_RESULTS_DIR") or ROOT / "results")


def scenarios_dir() -> Path:
    """Where scenario files live: ``$DOM_SCENARIOS_DIR`` or ``scenarios/`` beside ``app.py``."""
    return Path(os.environ.get("DOM_SCENARIOS_DIR") or ROOT / "scenarios")


def discover(root: Path) -> list[str]:
    """Names of the result folders under ``root`` that hold a manifest; ``default`` first, then newest."""
    if not root.is_dir():
        return []
    found = [p.parent for p in root.glob("*/manifest.json")]
    found.sort(key=lambda p: (p.name != "default", -p.joinpath("manifest.json").stat().st_mtime, p.name))
    return [p.name for p in found]


def stamp(folder: Path) -> int:
    """Changes whenever the folder is re-written (cache key for the loaders)."""
    try:
        return (folder / "manifest.json").stat().st_mtime_ns
    except OSError:
        return 0


def cast_columns(
    frame: pl.DataFrame, schema: Mapping[str, pl.DataType], table: str, error: type[Exception]
) -> pl.DataFrame:
    """``frame`` with the columns of ``schema`` in their types; ``error`` names the missing or
    uncastable column of ``{table}.parquet``."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise error(f"{table}.parquet lacks the columns {', '.join(missing)}")
    out = {}
    for col, dtype in schema.items():
        try:
            out[col] = frame[col].cast(dtype)
        except Exception:
            problem = f"column {col} is {frame[col].dtype}, expected {dtype}"
            raise error(f"{table}.parquet: {problem}") from None
    return frame.with_columns(**out)


def read_manifest(folder: Path, tables: Iterable[str], error: type[Exception], unfinished: str) -> Any:
    """The parsed ``manifest.json`` of a folder that must also hold ``{table}.parquet`` for each table;
    ``error`` says which file is missing (then ``unfinished``) or unreadable."""
    files = ["manifest.json", *(f"{n}.parquet" for n in tables)]
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise error(f"{folder} lacks {', '.join(missing)}: {unfinished}")
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise error(f"{folder / 'manifest.json'} cannot be read ({exc})") from None


@dataclass(frozen=True)
class ResultSet:
    """The small tables of one experiment: manifest, KPI rows per (strategy, replication), comparison."""

    folder: str
    manifest: dict[str, Any]
    kpis: pl.DataFrame
    comparison: pl.DataFrame

    @property
    def strategies(self) -> list[str]:
        """Strategies in the experiment's order."""
        return list(self.manifest["strategies"])

    @property
    def baseline(self) -> str:
        """The baseline the experiment was run against."""
        return str(self.manifest["baseline"])


def _read(folder: Path, name: str, columns: list[str] | None = None) -> pl.DataFrame:
    path = folder / f"{name}.parquet"
    if not path.is_file():
        raise ResultsError(f"{path} is missing: the run did not finish writing its results")
    try:
        return pl.read_parquet(path, columns=columns)
    except Exception as exc:  # polars raises several kinds for corrupt files
        raise ResultsError(f"{path} cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None


def _scan(folder: Path, name: str) -> pl.LazyFrame:
    path = folder / f"{name}.parquet"
    if not path.is_file():
        raise ResultsError(f"{path} is missing: the run did not finish writing its results")
    return pl.scan_parquet(path)


def _collect(frame: pl.LazyFrame, folder: Path, name: str) -> pl.DataFrame:
    try:
        return frame.collect()
    except Exception as exc:
        problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        raise ResultsError(f"{folder / name}.parquet cannot be read ({problem})") from None


def load_result_set(folder: Path) -> ResultSet:
    """Read and check the manifest, KPI table and comparison of a result folder."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise ResultsError(f"{path} is missing: no results in {folder}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    missing = [k for k in MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise ResultsError(f"{path} lacks {', '.join(missing)}: not a results manifest")
    kpis = _read(folder, "kpis")
    comparison = _read(folder, "comparison")
    absent = [s for s in manifest["strategies"] if s not in set(kpis["strategy"].to_list())]
    if absent or kpis.height == 0:
        absent = absent or manifest["strategies"]
        raise ResultsError(f"{folder / 'kpis.parquet'} has no rows for strategies {absent}")
    return ResultSet(folder.name, manifest, kpis, comparison)


def daily(folder: Path) -> pl.DataFrame:
    """The daily location snapshots (small: days x locations x runs)."""
    return _read(folder, "daily")


def orders_per_day(folder: Path) -> pl.DataFrame:
    """Online orders created per (strategy, replication, day), first attempts only."""
    day = (pl.col("created_at") // HOURS_PER_DAY).cast(pl.Int64).alias("day")
    frame = (
        _scan(folder, "orders").filter(pl.col("attempt") == 0)
        .group_by("strategy", "replication", day).agg(pl.len().alias("orders"))
    )
    return _collect(frame, folder, "orders").sort("strategy", "replication", "day")


def shipped_by_location(folder: Path, replications: int) -> pl.DataFrame:
    """Parcels and units shipped per (strategy, location), averaged over the replications."""
    n = max(1, replications)
    frame = (
        _scan(folder, "shipments")
        .group_by("strategy", "location", "location_kind")
        .agg((pl.len() / n).alias("parcels"), (pl.col("units").sum() / n).alias("units"))
    )
    return _collect(frame, folder, "shipments").sort("strategy", "location")


def shipments_of(folder: Path, strategy: str, replication: int) -> pl.DataFrame:
    """Shipments of one run (order number, shipping location, units) for the flow map."""
    frame = (
        _scan(folder, "shipments")
        .filter((pl.col("strategy") == strategy) & (pl.col("replication") == replication))
        .select("order_no", "location", "units")
    )
    return _collect(frame, folder, "shipments")


def explanations(folder: Path) -> pl.DataFrame:
    """Sampled decision explanations: strategy, replication, order_ref, text."""
    return _read(folder, "explanations").sort(
        "strategy", "replication", pl.col("order_ref").str.strip_chars_start("O").cast(pl.Int64, strict=False)
    )


def order_detail(
    folder: Path, strategy: str, replication: int, order_ref: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The order rows (one per attempt) and shipments of one order in one run."""
    keys = ((pl.col("strategy") == strategy) & (pl.col("replication") == replication)
            & (pl.col("order_ref") == order_ref))
    out = [_collect(_scan(folder, t).filter(keys).drop("strategy", "replication"), folder, t)
           for t in ("orders", "shipments")]
    return out[0], out[1]


def file_bytes(folder: Path, name: str) -> bytes:
    """A result file's bytes (for downloads)."""
    return (folder / name).read_bytes()
