"""Orders as placed, with their decision, explanation and the reservations they still hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from service.db.tables import orders

_INSERT = orders.insert()
_EXISTS = select(orders.c.id).where(orders.c.id == bindparam("order_id"))


def insert(conn: Connection, row: dict[str, Any]) -> None:
    """Store a placed order."""
    conn.execute(_INSERT, row)


def get(conn: Connection, order_id: str, lock: bool = False) -> dict[str, Any] | None:
    """One order (locked for update on PostgreSQL when ``lock``), None when unknown."""
    query = select(orders).where(orders.c.id == order_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return None if row is None else dict(row)


def exists(conn: Connection, order_id: str) -> bool:
    """Whether an order with this id was placed."""
    return conn.execute(_EXISTS, {"order_id": order_id}).first() is not None


def set_status(conn: Connection, order_id: str, expected: str, status: str, held: list[Any]) -> bool:
    """Move an order from ``expected`` to ``status`` with what it still holds; False if it was not in
    ``expected`` any more (another request settled it first)."""
    done = conn.execute(
        orders.update()
        .where(orders.c.id == order_id, orders.c.status == expected)
        .values(status=status, held=held)
    )
    return done.rowcount == 1


def listing(
    conn: Connection,
    status: str | None,
    market: str | None,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
    placement_order: bool = False,
) -> list[dict[str, Any]]:
    """Orders matching the filters, oldest first (or in the order they were placed), one page."""
    c = orders.c
    query = select(orders)
    for column, value in ((c.status, status), (c.market, market), (c.channel, channel)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(c.created_at >= since)
    if until is not None:
        query = query.where(c.created_at < until)
    order = (c.placed_at, c.id) if placement_order else (c.created_at, c.id)
    query = query.order_by(*order).limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(query).mappings()]


def expired(conn: Connection, at: datetime, limit: int = 200) -> list[str]:
    """Ids of reserved orders whose hold ended before ``at``."""
    c = orders.c
    query = (
        select(c.id)
        .where(c.status == "reserved", c.reserved_until < at)
        .order_by(c.reserved_until)
        .limit(limit)
    )
    return [r[0] for r in conn.execute(query)]
