"""Stock: receive, adjust, set counted levels, inbound with ETA, balances, ATP and the journal audit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from service import stocking
from service.audit import audit
from service.db.tables import stock
from service.routes.common import READ, WRITE, IdempotencyKey, Svc, answer
from service.schemas import Id, InboundIn, StockAdjustment, StockLevels, StockReceipt

router = APIRouter(tags=["stock"])


@router.post("/stock/receive", dependencies=WRITE)
def receive(body: StockReceipt, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Units arrived at locations (bulk)."""
    return answer(stocking.receive(svc, body, key))


@router.post("/stock/adjust", dependencies=WRITE)
def adjust(body: StockAdjustment, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Count corrections by a delta (bulk, all or nothing)."""
    return answer(stocking.adjust(svc, body, key))


@router.put("/stock", dependencies=WRITE)
def set_levels(body: StockLevels, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Counted on-hand (and safety stock) levels (bulk, all or nothing)."""
    return answer(stocking.set_levels(svc, body, key))


@router.get("/stock", dependencies=READ)
def balances(svc: Svc, location: Id | None = None, sku: Id | None = None) -> list[dict[str, Any]]:
    """Balances per location and SKU: on hand, reserved, safety and ATP."""
    s = stock.c
    query = select(s.location, s.sku, s.on_hand, s.reserved, s.safety).order_by(s.location, s.sku)
    if location is not None:
        query = query.where(s.location == location)
    if sku is not None:
        query = query.where(s.sku == sku)
    with svc.read() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "location": r[0],
            "sku": r[1],
            "on_hand": r[2],
            "reserved": r[3],
            "safety": r[4],
            "atp": max(0, r[2] - r[3] - r[4]),
        }
        for r in rows
    ]


@router.post("/stock/inbound", status_code=201, dependencies=WRITE)
def add_inbound(body: InboundIn, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Register units expected at a location at an ETA."""
    return answer(stocking.add_inbound(svc, body, key))


@router.get("/stock/inbound", dependencies=READ)
def inbound_open(svc: Svc) -> list[dict[str, Any]]:
    """Open inbounds by ETA."""
    return stocking.inbound_open(svc)


@router.post("/stock/inbound/{ref}/receive", dependencies=WRITE)
def receive_inbound(ref: Id, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """An inbound arrived: its units go on hand."""
    return answer(stocking.receive_inbound(svc, ref, key))


@router.get("/atp", dependencies=READ)
def atp(
    sku: Id, svc: Svc, location: Id | None = None, market: Id | None = None, channel: Id | None = None
) -> dict[str, Any]:
    """ATP of a SKU: network-wide, for an inventory model (market and channel) or at a location."""
    return stocking.atp(svc, sku, location, market, channel)


@router.get("/stock/audit", dependencies=READ)
def stock_audit(svc: Svc) -> dict[str, Any]:
    """Balances checked against the movement journal (and orders' held reservations)."""
    with svc.read() as conn:
        return audit(conn)
