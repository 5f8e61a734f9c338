"""Replaying the live order log: the Parquet of ``GET /orders/export`` (or its rows) as engine Orders.

The export holds one row per order line, in log order (creation time, then order id). Its orders come
back here in that order with their exact engine hours (``created_hours``, not the rounded ISO text), so
running them through a ``SourcingEngine`` on the starting stock, or feeding them to the simulation,
decides them as the service did: orders placed out of creation order (a back-filled past
``created_at``) replay in creation order, as the simulation would see them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import polars as pl

from dom_core.errors import DomError
from dom_core.model import FulfilmentType, Order, OrderLine

Row = Mapping[str, Any]

COLUMNS = (
    "order_id",
    "created_hours",
    "market",
    "channel",
    "lat",
    "lon",
    "fulfilment",
    "pickup_location",
    "max_delivery_days",
    "line_id",
    "sku",
    "qty",
)
"""The export's columns an Order is rebuilt from (others, such as ``status``, are ignored)."""


def _optional(value: Any) -> Any:
    """None for a missing value (null, or NaN as pandas reads a null float)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _order(first: Row, lines: list[OrderLine]) -> Order:
    days = _optional(first.get("max_delivery_days"))
    return Order(
        str(first["order_id"]),
        str(first["market"]),
        str(first["channel"]),
        float(first["created_hours"]),
        float(first["lat"]),
        float(first["lon"]),
        tuple(lines),
        FulfilmentType(_optional(first.get("fulfilment")) or FulfilmentType.HOME_DELIVERY.value),
        _optional(first.get("pickup_location")),
        None if days is None else float(days),
    )


def orders_from_rows(rows: Iterable[Row]) -> list[Order]:
    """Orders from export rows (one per order line), in the rows' order.

    The lines of one order must be consecutive rows, as the export writes them; a DomError naming the
    order otherwise (a log sorted by another column would replay in the wrong order).

    Args:
        rows: mappings with at least the columns in ``COLUMNS``.

    Returns:
        One Order per distinct ``order_id``, in order of first appearance.
    """
    orders: list[Order] = []
    done: set[str] = set()
    first: Row | None = None
    lines: list[OrderLine] = []
    for row in rows:
        order_id = str(row["order_id"])
        if first is None or order_id != str(first["order_id"]):
            if first is not None:
                orders.append(_order(first, lines))
                done.add(str(first["order_id"]))
            if order_id in done:
                raise DomError(f"order[{order_id}]", "its lines are not consecutive rows of the log")
            first, lines = row, []
        lines.append(OrderLine(str(row["line_id"]), str(row["sku"]), int(row["qty"])))
    if first is not None:
        orders.append(_order(first, lines))
    return orders


def orders_from_parquet(source: bytes | Path | str | IO[bytes]) -> list[Order]:
    """Orders from the Parquet of ``GET /orders/export`` (its bytes, a path or an open binary file).

    An empty log (the export of a service with no orders has no columns) gives no orders.
    """
    frame = pl.read_parquet(source)
    if frame.height == 0:
        return []
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DomError("export", f"not an order log export: no column(s) {missing}")
    return orders_from_rows(frame.select(COLUMNS).iter_rows(named=True))


__all__ = ["COLUMNS", "orders_from_parquet", "orders_from_rows"]
