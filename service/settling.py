"""Settling a reservation: confirm shipment (units leave on hand), cancel or expire (units go back)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dom_core.inventory import MovementKind
from service.clock import now, to_hours, utc
from service.context import Service
from service.db import orders as orders_db
from service.db import stock as stock_db
from service.views import order_view
from service.writes import ApiError, Written, run_write

Cell = tuple[str, str, int]


def _held(conn: Connection, order_id: str) -> tuple[dict[str, Any], list[Cell]]:
    row = orders_db.get(conn, order_id, lock=True)
    if row is None:
        raise ApiError(404, "order_id", f"no order {order_id!r}", "not_found", "path")
    return row, [(loc, sku, int(qty)) for loc, sku, qty in row["held"]]


def ship(svc: Service, order_id: str, location: str | None, key: str | None) -> Written:
    """Confirm shipment of everything held (or what is held at ``location``): on hand goes down."""

    def work(conn: Connection) -> tuple[int, Any]:
        row, held = _held(conn, order_id)
        if row["status"] != "reserved":
            raise ApiError(
                409, "order_id", f"order {order_id!r} is {row['status']}, not reserved", "wrong_status"
            )
        shipping = [c for c in held if location is None or c[0] == location]
        if not shipping:
            raise ApiError(422, "location", f"order {order_id!r} holds nothing at {location!r}")
        left = [list(c) for c in held if c not in shipping]
        status = "reserved" if left else "shipped"
        if not orders_db.set_status(conn, order_id, "reserved", status, left):
            raise ApiError(
                409, "order_id", f"order {order_id!r} was settled by another request", "wrong_status"
            )
        stock_db.commit(conn, shipping)
        stock_db.journal(conn, to_hours(now(), svc.epoch), MovementKind.COMMIT, shipping, order_id)
        row.update(status=status, held=left)
        return 200, order_view(row, explanation=False)

    return run_write(svc.db, key, f"POST /orders/{order_id}/ship", {"location": location}, work)


def cancel(svc: Service, order_id: str, key: str | None) -> Written:
    """Cancel a reserved order: its reservation is released."""

    def work(conn: Connection) -> tuple[int, Any]:
        row, held = _held(conn, order_id)
        if row["status"] != "reserved":
            raise ApiError(
                409, "order_id", f"order {order_id!r} is {row['status']}, not reserved", "wrong_status"
            )
        _release(conn, svc, order_id, held, "cancelled")
        row.update(status="cancelled", held=[])
        return 200, order_view(row, explanation=False)

    return run_write(svc.db, key, f"POST /orders/{order_id}/cancel", {}, work)


def _release(conn: Connection, svc: Service, order_id: str, held: list[Cell], status: str) -> bool:
    if not orders_db.set_status(conn, order_id, "reserved", status, []):
        return False
    stock_db.release(conn, held)
    stock_db.journal(conn, to_hours(now(), svc.epoch), MovementKind.RELEASE, held, order_id)
    return True


def expire(svc: Service, asked: datetime | None = None, key: str | None = None) -> Written:
    """Release every reservation whose hold ended before ``asked`` (default now); returns the order ids."""
    at = utc(asked) if asked is not None else now()

    def work(conn: Connection) -> tuple[int, Any]:
        released = []
        for order_id in orders_db.expired(conn, at):
            row, held = _held(conn, order_id)
            if row["status"] == "reserved" and _release(conn, svc, order_id, held, "expired"):
                released.append(order_id)
        return 200, {"expired": released, "at": at.isoformat()}

    payload = {"now": None if asked is None else at.isoformat()}  # a retry without a time is the same request
    return run_write(svc.db, key, "POST /orders/expire", payload, work)
