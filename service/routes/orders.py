"""Orders: place, read, list, export the log, explain, ship, cancel and expire reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from service import placing, settling
from service.clock import utc
from service.db import orders as orders_db
from service.routes.common import READ, WRITE, IdempotencyKey, Svc, answer
from service.schemas import ExpireIn, Id, OrderIn, ShipIn
from service.shadow import parquet_bytes
from service.views import log_rows, order_view
from service.writes import ApiError

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", status_code=201, dependencies=WRITE)
def place_order(body: OrderIn, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Decide and reserve an order in one transaction; the decision comes with its explanation."""
    return answer(placing.place(svc, body, key))


@router.get("", dependencies=READ)
def list_orders(
    svc: Svc,
    status: str | None = None,
    market: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Orders oldest first, filtered by status, market, channel and creation time; one page."""
    with svc.read() as conn:
        since, until = (None if t is None else utc(t) for t in (since, until))
        rows = orders_db.listing(conn, status, market, channel, since, until, limit + 1, offset)
    more = len(rows) > limit
    return {
        "items": [order_view(r, explanation=False) for r in rows[:limit]],
        "next_offset": offset + limit if more else None,
    }


@router.get("/export", dependencies=READ)
def export_log(svc: Svc) -> Response:
    """The live order log as Parquet, one row per order line in the order they were placed: replayable."""
    rows: list[dict[str, Any]] = []
    offset = 0
    with svc.read() as conn:
        while page := orders_db.listing(
            conn, None, None, None, None, None, 5000, offset, placement_order=True
        ):
            offset += len(page)
            for r in page:
                rows.extend(log_rows(r))
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    return Response(parquet_bytes(frame), media_type="application/vnd.apache.parquet")


@router.post("/expire", dependencies=WRITE)
def expire(svc: Svc, body: ExpireIn | None = None, key: IdempotencyKey = None) -> JSONResponse:
    """Release the reservations of orders not confirmed within the reservation time."""
    return answer(settling.expire(svc, body.now if body else None, key))


@router.get("/{order_id}", dependencies=READ)
def get_order(order_id: Id, svc: Svc) -> dict[str, Any]:
    """One order with its decision, reservation and explanation."""
    with svc.read() as conn:
        row = orders_db.get(conn, order_id)
    if row is None:
        raise ApiError(404, "order_id", f"no order {order_id!r}", "not_found", "path")
    return order_view(row)


@router.get("/{order_id}/explanation", dependencies=READ)
def explain(order_id: Id, svc: Svc) -> dict[str, Any]:
    """Why the order was sourced as it was: the explanation stored with its decision and rules version."""
    order = get_order(order_id, svc)
    return {"order_id": order_id, "rules_version": order["rules_version"], **(order["explanation"] or {})}


@router.post("/{order_id}/ship", dependencies=WRITE)
def ship(order_id: Id, svc: Svc, body: ShipIn | None = None, key: IdempotencyKey = None) -> JSONResponse:
    """Confirm shipment: the reserved units leave on hand (all, or those at one location)."""
    return answer(settling.ship(svc, order_id, body.location if body else None, key))


@router.post("/{order_id}/cancel", dependencies=WRITE)
def cancel(order_id: Id, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Cancel a reserved order: its units go back to available-to-promise."""
    return answer(settling.cancel(svc, order_id, key))
