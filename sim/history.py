"""An order history to replay: the normalised frame (one row per order line), read from Parquet or CSV,
checked against a world, and turned into the columnar orders a replay places.

The frame's columns (the contract with ``retail.history.normalise``)::

    order_id str, created_at datetime[us, UTC], market str, channel str, lat f64, lon f64,
    fulfilment str (home_delivery|pickup_in_store|ship_from_store|ship_to_store|digital),
    pickup_location str|null, line_id str, sku str, qty i64, return_qty i64 (0 if unknown),
    return_days f64|null (days from the order's creation to the return)

Rows that cannot be placed are reported with their reason, never dropped silently: a row with an unknown
SKU or a bad quantity loses that line (the order keeps its other lines); a row whose order cannot be
placed at all (no inventory model for its market and channel, an unknown pickup store, no timestamp,
...) loses its order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dom_core.errors import DomError
from dom_core.model import FulfilmentType
from dom_core.network import Network

SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.Utf8(),
    "created_at": pl.Datetime("us", "UTC"),
    "market": pl.Utf8(),
    "channel": pl.Utf8(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "fulfilment": pl.Utf8(),
    "pickup_location": pl.Utf8(),
    "line_id": pl.Utf8(),
    "sku": pl.Utf8(),
    "qty": pl.Int64(),
    "return_qty": pl.Int64(),
    "return_days": pl.Float64(),
}
REQUIRED = ("order_id", "created_at", "market", "channel", "sku", "qty")
FULFILMENT_NAMES = [f.value for f in FulfilmentType]
TO_STORE = ("pickup_in_store", "ship_to_store")
ORDER_FIELDS = ("created_at", "market", "channel", "lat", "lon", "fulfilment", "pickup_location")


def read_history(path: str | Path) -> pl.DataFrame:
    """The history frame of a Parquet or CSV file (CSV: the same columns, timestamps in ISO 8601)."""
    path = Path(path)
    if not path.exists():
        raise DomError("--history", f"no such file: {path}")
    if path.suffix.lower() == ".csv":
        text = dict.fromkeys(("order_id", "line_id", "sku", "market", "channel", "pickup_location"), pl.Utf8)
        frame = pl.read_csv(path, schema_overrides=text, infer_schema_length=10_000)
    else:
        frame = pl.read_parquet(path)
    return normalise(frame, str(path))


def normalise(frame: pl.DataFrame, source: str = "history") -> pl.DataFrame:
    """The frame with the contract's columns and types (optional ones filled in: fulfilment home delivery,
    line ids numbered per order, no returns); a DomError names missing or unreadable columns."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DomError(source, f"lacks the columns {missing} (it has {frame.columns})")
    defaults: dict[str, pl.Expr] = {
        "lat": pl.lit(None, pl.Float64),
        "lon": pl.lit(None, pl.Float64),
        "fulfilment": pl.lit("home_delivery"),
        "pickup_location": pl.lit(None, pl.Utf8),
        "line_id": (pl.int_range(pl.len()).over("order_id") + 1).cast(pl.Utf8),
        "return_qty": pl.lit(0, pl.Int64),
        "return_days": pl.lit(None, pl.Float64),
    }
    frame = frame.with_columns([e.alias(c) for c, e in defaults.items() if c not in frame.columns])
    created = frame["created_at"].dtype
    if created == pl.Utf8:
        frame = frame.with_columns(pl.col("created_at").str.to_datetime(time_unit="us", time_zone="UTC"))
    elif isinstance(created, pl.Datetime) and created.time_zone is None:
        frame = frame.with_columns(pl.col("created_at").dt.replace_time_zone("UTC"))
    try:
        return frame.select([pl.col(c).cast(t) for c, t in SCHEMA.items()])
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        raise DomError(source, f"columns do not have the history's types ({exc})") from None


@dataclass(frozen=True)
class CheckedHistory:
    """A history checked against a network: its placeable rows (time-ordered, with ``t`` in hours from
    day 0 in local time) and one row per problem."""

    rows: pl.DataFrame
    problems: pl.DataFrame  # row (of the history frame, from 1), order_id, line_id, reason, value
    start_date: dt.date
    total_rows: int
    total_orders: int

    def summary(self, examples: int = 3) -> pl.DataFrame:
        """Per reason: rows, orders and a few examples."""
        if self.problems.is_empty():
            return pl.DataFrame(
                schema={"reason": pl.Utf8, "rows": pl.Int64, "orders": pl.Int64, "examples": pl.Utf8}
            )
        example = pl.format("order {} line {}: {}", "order_id", "line_id", "value")
        return (
            self.problems.group_by("reason", maintain_order=True)
            .agg(
                pl.len().cast(pl.Int64).alias("rows"),
                pl.col("order_id").n_unique().cast(pl.Int64).alias("orders"),
                example.head(examples).str.join("; ").alias("examples"),
            )
            .sort("rows", descending=True, maintain_order=True)
        )


def check_history(
    frame: pl.DataFrame,
    network: Network,
    markets: list[str],
    *,
    start_date: dt.date | None = None,
    timezone: str = "UTC",
) -> CheckedHistory:
    """Check every row against the network; ``t`` counts hours from ``start_date`` (default: the Monday of
    the first order's week) in the network's local time."""
    df = frame.with_row_index("row", offset=1).with_columns(
        pl.col("created_at").dt.convert_time_zone(timezone).dt.replace_time_zone(None).alias("local")
    )
    first = df.filter(pl.col("order_id").is_not_null()).unique("order_id", keep="first", maintain_order=True)
    df = df.join(
        first.select(
            "order_id", pl.col("row").alias("order_row"), *[pl.col(c).alias(f"{c}_1") for c in ORDER_FIELDS]
        ),
        on="order_id",
        how="left",
        nulls_equal=False,
    )
    if start_date is None:
        day = df["local"].min()
        start_date = day.date() if isinstance(day, dt.datetime) else dt.date(2026, 1, 5)
        start_date -= dt.timedelta(days=start_date.weekday())
    start = dt.datetime.combine(start_date, dt.time())
    pairs = df.select("market", "channel").unique().drop_nulls()
    served = pairs.with_columns(
        pl.Series("served", [network.has_inventory_model(m, c) for m, c in pairs.iter_rows()], pl.Boolean)
    )
    df = df.join(served, on=["market", "channel"], how="left", nulls_equal=False)
    reason = _reasons(df, network, markets, start)
    df = df.with_columns(reason.alias("reason"))
    problems = df.filter(pl.col("reason").is_not_null()).select(
        "row", "order_id", "line_id", "reason", _value().alias("value")
    )
    good = (
        df.filter(pl.col("reason").is_null())
        .with_columns(((pl.col("local") - pl.lit(start)).dt.total_microseconds() / 3.6e9).alias("t"))
        .sort("t", "order_row", "row")
        .drop("local", "served", "reason", *[f"{c}_1" for c in ORDER_FIELDS])
    )
    return CheckedHistory(good, problems, start_date, frame.height, frame["order_id"].n_unique())


def _reasons(df: pl.DataFrame, network: Network, markets: list[str], start: dt.datetime) -> pl.Expr:
    """The first problem of each row (null: none), order-level problems first."""
    col = pl.col
    differs = pl.any_horizontal([col(c).ne_missing(col(f"{c}_1")) for c in ORDER_FIELDS])
    coords_needed = ~col("fulfilment").is_in([*TO_STORE, "digital"])
    coords_bad = (
        col("lat").is_null() | col("lon").is_null() | (col("lat").abs() > 90) | (col("lon").abs() > 180)
    )
    duplicate = pl.int_range(pl.len()).over("order_id", "line_id") > 0
    checks: list[tuple[pl.Expr, str]] = [
        (col("order_id").is_null(), "missing order_id"),
        (col("created_at").is_null(), "missing created_at"),
        (col("local") < pl.lit(start), "before the calendar's start_date"),
        (differs, "order fields differ from the order's first row"),
        (col("market").is_null() | ~col("market").is_in(markets), "unknown market"),
        (~col("served").fill_null(False), "no inventory model serves its market and channel"),
        (col("fulfilment").is_null() | ~col("fulfilment").is_in(FULFILMENT_NAMES), "unknown fulfilment"),
        (col("fulfilment").is_in(TO_STORE) & col("pickup_location").is_null(), "missing pickup store"),
        (
            col("fulfilment").is_in(TO_STORE) & ~col("pickup_location").is_in(list(network.loc_index)),
            "unknown pickup store",
        ),
        (coords_needed & coords_bad, "missing or invalid coordinates"),
        (col("sku").is_null() | ~col("sku").is_in(list(network.sku_index)), "unknown SKU"),
        (col("qty").is_null() | (col("qty") <= 0), "quantity not positive"),
        (duplicate, "duplicate line id in its order"),
    ]
    return pl.coalesce([pl.when(cond.fill_null(False)).then(pl.lit(why)) for cond, why in checks])


def _value() -> pl.Expr:
    """The offending value of a problem row, for the report."""
    col = pl.col
    text = {
        "order fields differ from the order's first row": pl.format(
            "{} {}/{} {}", col("created_at").cast(pl.Utf8), "market", "channel", "fulfilment"
        ),
        "unknown market": col("market"),
        "no inventory model serves its market and channel": pl.format("{}/{}", "market", "channel"),
        "unknown fulfilment": col("fulfilment"),
        "missing pickup store": col("fulfilment"),
        "unknown pickup store": col("pickup_location"),
        "missing or invalid coordinates": pl.format("{}, {}", "lat", "lon"),
        "unknown SKU": col("sku"),
        "quantity not positive": col("qty").cast(pl.Utf8),
        "duplicate line id in its order": col("line_id"),
        "before the calendar's start_date": col("created_at").cast(pl.Utf8),
    }
    values = [pl.when(col("reason") == r).then(v.cast(pl.Utf8).fill_null("null")) for r, v in text.items()]
    return pl.coalesce([*values, pl.lit("")])
