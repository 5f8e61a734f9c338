"""Stock operations: receive, adjust, count (set), inbound with ETA, and available-to-promise."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from dom_core.inventory import MovementKind
from service.clock import now, to_hours, utc
from service.context import Service
from service.db import stock as stock_db
from service.db.tables import inbound
from service.rules import RuleSet
from service.schemas import InboundIn, StockAdjustment, StockLevels, StockReceipt
from service.writes import ApiError, Written, run_write


def _known(rule_set: RuleSet, items: list[Any]) -> None:
    net = rule_set.network
    for i, item in enumerate(items):
        if item.location not in net.loc_index:
            raise ApiError(
                422, f"items.{i}.location", f"unknown location {item.location!r}", "unknown_location"
            )
        if item.sku not in net.sku_index:
            raise ApiError(422, f"items.{i}.sku", f"unknown SKU {item.sku!r}", "unknown_sku")


def receive(svc: Service, body: StockReceipt, key: str | None) -> Written:
    """Units arrive (bulk): on hand goes up, journalled as receipts."""

    def work(conn: Connection) -> tuple[int, Any]:
        _known(svc.rule_sets(conn)[0], body.items)
        cells = [(i.location, i.sku, i.qty) for i in body.items]
        stock_db.receive(conn, cells)
        stock_db.journal(conn, to_hours(now(), svc.epoch), MovementKind.RECEIVE, cells, body.ref)
        return 200, {"received": sum(c[2] for c in cells), "cells": len(stock_db.merged(cells))}

    return run_write(svc.db, key, "POST /stock/receive", body.model_dump(mode="json"), work)


def adjust(svc: Service, body: StockAdjustment, key: str | None) -> Written:
    """Count corrections (bulk, all or nothing); none may leave on hand below what is reserved."""

    def work(conn: Connection) -> tuple[int, Any]:
        _known(svc.rule_sets(conn)[0], body.items)
        at = to_hours(now(), svc.epoch)
        for i, item in enumerate(body.items):
            if not stock_db.adjust(conn, item.location, item.sku, item.delta):
                raise ApiError(
                    409,
                    f"items.{i}.delta",
                    f"{item.delta} would leave on hand below reserved at {item.location}/{item.sku}",
                    "insufficient_stock",
                )
            stock_db.journal(conn, at, MovementKind.ADJUST, [(item.location, item.sku, item.delta)], body.ref)
        return 200, {"adjusted": len(body.items)}

    return run_write(svc.db, key, "POST /stock/adjust", body.model_dump(mode="json"), work)


def set_levels(svc: Service, body: StockLevels, key: str | None) -> Written:
    """Counted levels (bulk, all or nothing): on hand moves by the difference, safety stock is set."""

    def work(conn: Connection) -> tuple[int, Any]:
        _known(svc.rule_sets(conn)[0], body.items)
        at = to_hours(now(), svc.epoch)
        for i, item in enumerate(body.items):
            on_hand, reserved, safety = stock_db.current(conn, item.location, item.sku)
            if item.on_hand < reserved:
                raise ApiError(
                    409,
                    f"items.{i}.on_hand",
                    f"{item.on_hand} is below the {reserved} units reserved at {item.location}/{item.sku}",
                    "insufficient_stock",
                )
            delta = item.on_hand - on_hand
            if delta:
                stock_db.adjust(conn, item.location, item.sku, delta)
                stock_db.journal(conn, at, MovementKind.ADJUST, [(item.location, item.sku, delta)], body.ref)
            if item.safety is not None and item.safety != safety:
                stock_db.set_safety(conn, item.location, item.sku, item.safety)
                stock_db.journal(
                    conn, at, MovementKind.SAFETY, [(item.location, item.sku, item.safety)], body.ref
                )
        return 200, {"set": len(body.items)}

    return run_write(svc.db, key, "PUT /stock", body.model_dump(mode="json"), work)


def add_inbound(svc: Service, body: InboundIn, key: str | None) -> Written:
    """Register units expected at an ETA (on hand unchanged until received)."""

    def work(conn: Connection) -> tuple[int, Any]:
        _known(svc.rule_sets(conn)[0], body.items)
        if conn.execute(select(inbound.c.id).where(inbound.c.ref == body.ref)).first() is not None:
            raise ApiError(409, "ref", f"inbound {body.ref!r} is already registered", "duplicate_inbound")
        conn.execute(
            inbound.insert(),
            [
                {
                    "ref": body.ref,
                    "location": i.location,
                    "sku": i.sku,
                    "qty": i.qty,
                    "eta": utc(body.eta),
                    "status": "open",
                }
                for i in body.items
            ],
        )
        cells = [(i.location, i.sku, i.qty) for i in body.items]
        stock_db.journal(conn, to_hours(now(), svc.epoch), MovementKind.INBOUND, cells, body.ref)
        return 201, {"ref": body.ref, "units": sum(c[2] for c in cells), "eta": body.eta.isoformat()}

    return run_write(svc.db, key, "POST /stock/inbound", body.model_dump(mode="json"), work)


def receive_inbound(svc: Service, ref: str, key: str | None) -> Written:
    """The inbound ``ref`` arrives: its units go on hand."""

    def work(conn: Connection) -> tuple[int, Any]:
        c = inbound.c
        rows = conn.execute(select(c.location, c.sku, c.qty).where(c.ref == ref, c.status == "open")).all()
        if not rows:
            raise ApiError(404, "ref", f"no open inbound {ref!r}", "not_found", "path")
        done = conn.execute(
            inbound.update().where(c.ref == ref, c.status == "open").values(status="received")
        )
        if done.rowcount != len(rows):
            raise ApiError(409, "ref", f"inbound {ref!r} was received by another request", "conflict")
        cells = [(r[0], r[1], int(r[2])) for r in rows]
        stock_db.receive(conn, cells)
        stock_db.journal(conn, to_hours(now(), svc.epoch), MovementKind.RECEIVE, cells, ref)
        return 200, {"ref": ref, "received": sum(q for _, _, q in cells)}

    return run_write(svc.db, key, f"POST /stock/inbound/{ref}/receive", {}, work)


def inbound_open(svc: Service) -> list[dict[str, Any]]:
    """Open inbounds, by ETA."""
    c = inbound.c
    with svc.read() as conn:
        rows = conn.execute(select(inbound).where(c.status == "open").order_by(c.eta, c.id)).mappings().all()
    return [{**dict(r), "eta": utc(r["eta"]).isoformat()} for r in rows]


def atp(
    svc: Service, sku: str, location: str | None, market: str | None, channel: str | None
) -> dict[str, Any]:
    """ATP of a SKU per location, for one location, an inventory model (market and channel) or the network."""
    with svc.read() as conn:
        live = svc.rule_sets(conn)[0]
        rows = stock_db.snapshot(conn, [sku])
    net = live.network
    if sku not in net.sku_index:
        raise ApiError(422, "sku", f"unknown SKU {sku!r}", "unknown_sku", "query")
    if location is not None:
        if location not in net.loc_index:
            raise ApiError(422, "location", f"unknown location {location!r}", "unknown_location", "query")
        scope, members = f"location {location}", [location]
    elif market is not None or channel is not None:
        if market is None or channel is None or not net.has_inventory_model(market, channel):
            raise ApiError(
                422,
                "market",
                f"no inventory model serves market {market!r} channel {channel!r}",
                where="query",
            )
        model = net.inventory_model(market, channel)
        scope, members = f"inventory model {model.name}", list(model.locations)
    else:
        scope, members = "network", [loc.id for loc in net.locations]
    by_loc = {loc: max(0, h - r - s) for loc, _, h, r, s in rows}
    per = {loc: by_loc.get(loc, 0) for loc in members}
    return {"sku": sku, "scope": scope, "atp": sum(per.values()), "by_location": per}
