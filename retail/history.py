"""Order history -> one normalised polars frame, one row per order line: the replay's input.

The frame has exactly the columns of ``HISTORY_SCHEMA``, sorted by ``created_at`` (then file order).
Its sources: the documented history file (CSV or Parquet), the live service's ``GET /orders/export``
(``dom_core`` order-log rows: extra columns such as ``status`` are ignored), or an export mapped by
``retail.mappings`` (Shopify, Magento, Olist). A bad line skips its whole order (the other lines are
counted as skipped, not reported), so a replayed order is never missing a line.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retail.locations import place, repeats
from retail.mappings import Mapped
from retail.problems import ImportRefusedError, ImportReport
from retail.reading import ROW, Table, read_raw
from retail.schemas import ALIASES, HistoryRow

HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(),
    "created_at": pl.Datetime("us", "UTC"),
    "market": pl.String(),
    "channel": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "fulfilment": pl.String(),  # home_delivery | pickup_in_store | ship_from_store | ship_to_store | digital
    "pickup_location": pl.String(),
    "line_id": pl.String(),
    "sku": pl.String(),
    "qty": pl.Int64(),
    "return_qty": pl.Int64(),  # 0 when unknown
    "return_days": pl.Float64(),  # days from order to return; null when unknown
}
ORDER_FIELDS = ("created_at", "market", "channel", "lat", "lon", "fulfilment", "pickup_location")
NEEDS_STORE = ("pickup_in_store", "ship_to_store")


@dataclass(frozen=True)
class HistoryImport:
    """The normalised history and its import report."""

    frame: pl.DataFrame
    report: ImportReport


def import_history(
    source: Path | str | pl.DataFrame | Mapped,
    strict: bool = False,
    timezone: str = "UTC",
    label: str | None = None,
    channel: str = "web",
) -> HistoryImport:
    """Import an order history (see the module docstring); ``timezone`` applies to times without a zone,
    ``channel`` to lines without one. Strict: any bad row refuses the import (``ImportRefusedError``)."""
    notes: tuple[str, ...] = ()
    if isinstance(source, Mapped):
        raw, name, timezone, notes = source.frame, source.label, source.timezone, source.notes
    elif isinstance(source, pl.DataFrame):
        raw, name = source, "history"
    else:
        raw, name = read_raw(Path(source)), Path(source).name
    table = Table(raw, HistoryRow, label or name, ALIASES["history"], timezone)
    place(table, "an order line")
    table.frame = table.frame.with_columns(
        market=pl.coalesce("market", "country"),
        channel=pl.col("channel").fill_null(channel),
        fulfilment=pl.col("fulfilment").fill_null("home_delivery"),
        return_qty=pl.col("return_qty").fill_null(0),
        line_id=pl.coalesce("line_id", (pl.int_range(pl.len()).over("order_id") + 1).cast(pl.String)),
    )
    table.flag(pl.col("market").is_null(), "market", "required (or a country)")
    table.flag(
        pl.col("fulfilment").is_in(NEEDS_STORE) & pl.col("pickup_location").is_null(),
        "pickup_location",
        pl.format("required for {}", pl.col("fulfilment")),
    )
    table.flag(pl.col("return_qty") > pl.col("qty"), "return_qty", "more than qty")
    repeats(table, ["order_id", "line_id"], "line_id")
    first = pl.col(ROW).first().over("order_id")
    distinct = table.frame.group_by("order_id").agg(pl.col(f).n_unique() for f in ORDER_FIELDS)
    for field in ORDER_FIELDS:
        uneven = distinct.filter(pl.col(field) > 1).get_column("order_id")
        if uneven.len():  # the window runs only when some order's lines disagree
            differs = pl.col("order_id").is_in(uneven.implode()) & pl.col(field).ne_missing(
                pl.col(field).first().over("order_id")
            )
            table.flag(differs, field, pl.format("differs from the order's first line (row {})", first))
    problems = table.problems()
    if problems.height:
        bad_rows = problems.get_column("row").unique().implode()
        bad_orders = (
            table.frame.filter(pl.col(ROW).is_in(bad_rows)).get_column("order_id").drop_nulls().unique()
        )
        table.drop(pl.col("order_id").is_in(bad_orders.implode()))
    frame = (
        table.good()
        .sort("created_at", ROW)
        .select([pl.col(name).cast(dtype) for name, dtype in HISTORY_SCHEMA.items()])
    )
    report = table.report(frame.height)
    report.notes[:0] = notes
    if strict and not report.ok:
        raise ImportRefusedError(report)
    return HistoryImport(frame, report)


def normalise(
    source: Path | str | pl.DataFrame | Mapped, timezone: str = "UTC", channel: str = "web"
) -> pl.DataFrame:
    """The normalised history frame of a history file, a service export or a mapped export; skipped rows
    raise a warning naming how many (``import_history`` gives the full report)."""
    result = import_history(source, timezone=timezone, channel=channel)
    if result.report.skipped:
        first = result.report.lines(1)
        warnings.warn(
            f"{result.report.skipped} history rows skipped; first: {first[0] if first else '-'}",
            stacklevel=2,
        )
    return result.frame
