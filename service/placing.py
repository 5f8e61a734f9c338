"""Placing an order: decide on a snapshot, reserve where ATP still covers it, store it all at once.

The decision is the engine's (``SourcingEngine.decide``) on a snapshot of the candidates' balances read
in the placing transaction; each reservation is then a conditional update. When one finds less stock
than the snapshot showed (another order won the race), the transaction rolls back and the order is
decided again on a fresh snapshot. The order, its decision and explanation, the reservation, its
journal and (when a candidate rule set is set) the shadow comparison commit together or not at all.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dom_core.capacity import CapacityBook
from dom_core.decision import Decision
from dom_core.errors import DomError
from dom_core.inventory import MovementKind
from dom_core.model import Order
from service import metrics
from service.clock import now, to_hours, utc
from service.context import Service
from service.db import capacity as capacity_db
from service.db import orders as orders_db
from service.db import stock as stock_db
from service.rules import RuleSet
from service.schemas import OrderIn
from service.serialise import decision_json, explanation_json, order_from_json
from service.shadow import shadow_row
from service.snapshot import capacity_of, ledger_of
from service.views import order_view
from service.writes import ApiError, Written, run_write


def order_document(body: OrderIn, epoch: datetime) -> dict[str, Any]:
    """The order as stored (replayable): the request plus its time in engine hours."""
    doc = body.model_dump(mode="json", exclude_none=True)
    created = utc(body.created_at) if body.created_at is not None else now()
    doc["created_at"] = created.isoformat()
    doc["created_hours"] = to_hours(created, epoch)
    return doc


def check_order(rule_set: RuleSet, body: OrderIn) -> None:
    """Refuse, naming the field, an order the live rules cannot read (before any work starts)."""
    net = rule_set.network
    if not net.has_inventory_model(body.market, body.channel):
        raise ApiError(
            422, "market", f"no inventory model serves market {body.market!r} channel {body.channel!r}"
        )
    for i, line in enumerate(body.lines):
        if line.sku not in net.sku_index:
            raise ApiError(422, f"lines.{i}.sku", f"unknown SKU {line.sku!r}", "unknown_sku")
    if body.pickup_location is not None and body.pickup_location not in net.loc_index:
        raise ApiError(
            422, "pickup_location", f"unknown location {body.pickup_location!r}", "unknown_location"
        )


def _decide(rule_set: RuleSet, order: Order, rows: list[Any], book: CapacityBook | None) -> Decision:
    ledger = ledger_of(rule_set, [ln.sku for ln in order.lines], rows)
    engine = rule_set.engine
    if book is not None:
        from dataclasses import replace

        engine = replace(engine, capacity=book)
    return engine.decide(order, ledger, order.created_at, explain=True)


def place(svc: Service, body: OrderIn, key: str | None) -> Written:
    """Place an order (201 with the order, its decision and reservation), idempotently under ``key``."""
    doc = order_document(body, svc.epoch)
    order = order_from_json(doc)
    hashed = body.model_dump(mode="json", exclude_none=True)
    if body.created_at is None:
        hashed.pop("created_at", None)  # a retried request without a time is the same request
    started = time.perf_counter()

    def work(conn: Connection) -> tuple[int, Any]:
        live, candidate = svc.rule_sets(conn)
        check_order(live, body)
        if orders_db.exists(conn, body.id):
            raise ApiError(409, "id", f"order {body.id!r} was already placed", "duplicate_order")
        rows = stock_db.snapshot(conn, [ln.sku for ln in order.lines])
        day = CapacityBook.day_of(order.created_at)
        used = capacity_db.used_on(conn, day) if live.uses_capacity else []
        t0 = time.perf_counter()
        decision = _decide(live, order, rows, capacity_of(live, used) if live.uses_capacity else None)
        metrics.DECISION_LATENCY.observe(time.perf_counter() - t0)
        net = live.network
        cells = [(net.locations[loc].id, net.skus[s].id, qty) for loc, s, qty in decision.reservations]
        stock_db.reserve(conn, cells)
        placed = now()
        physical = sum(ln.qty for ln in order.lines if not net.skus[net.sku_index[ln.sku]].digital)
        refused = physical > 0 and not cells
        status = "refused" if refused else "reserved" if physical else "shipped"  # digital lines: delivered
        held = [list(c) for c in stock_db.merged(cells)]
        row = {
            "id": order.id,
            "market": order.market,
            "channel": order.channel,
            "status": status,
            "created_at": datetime.fromisoformat(doc["created_at"]),
            "placed_at": placed,
            "reserved_until": placed + svc.reservation_ttl if status == "reserved" else None,
            "rules_version": live.version,
            "strategy": decision.strategy,
            "request": doc,
            "decision": decision_json(decision, svc.epoch),
            "explanation": explanation_json(decision.explanation),
            "held": held,
            "units_requested": sum(ln.qty for ln in order.lines),
            "units_allocated": decision.units_allocated,
            "cost": decision.cost,
            "co2_kg": decision.co2_kg,
        }
        orders_db.insert(conn, row)
        stock_db.journal(conn, order.created_at, MovementKind.RESERVE, cells, order.id)
        if live.uses_capacity:
            capacity_db.add(conn, [(s.location, CapacityBook.day_of(s.ship_at)) for s in decision.shipments])
        if candidate is not None:
            book = capacity_of(candidate, used) if candidate.uses_capacity else None
            try:
                shadow = _decide(candidate, order, rows, book)
            except DomError:  # the candidate cannot read this order (say, a market it drops): no comparison
                shadow = None
            if shadow is not None:
                shadow_row(conn, order, placed, live, decision, candidate, shadow)
        return 201, order_view(row)

    written = run_write(svc.db, key, "POST /orders", hashed, work)
    if written.fresh:  # not a stored answer replayed under its idempotency key
        metrics.PLACE_LATENCY.observe(time.perf_counter() - started)
        state = written.body["status"]
        metrics.ORDERS_PLACED.labels(market=order.market, channel=order.channel, status=state).inc()
        if state == "refused":
            metrics.ORDERS_REFUSED.labels(market=order.market, channel=order.channel).inc()
    return written


__all__ = ["check_order", "order_document", "place"]
