"""Returns: the engine's return decision (location, disposition, refund), then receipt and restock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from dom_core.errors import DomError
from dom_core.inventory import MovementKind
from dom_core.returns import Disposition, ReturnRequest
from service.clock import now, to_hours, utc
from service.context import Service
from service.db import orders as orders_db
from service.db import stock as stock_db
from service.db.tables import movements, returns
from service.schemas import ReturnIn
from service.serialise import explanation_json
from service.snapshot import ledger_of
from service.writes import ApiError, Written, run_write


def _shipped_qty(conn: Connection, order: dict[str, Any], line_id: str) -> tuple[int, str | None]:
    """Units of a line that left and the location that shipped them. A shipment's units of a SKU left
    when the journal shows its own reservation and those of the transfers into it committed (shipped),
    whatever happened to the rest of the order since."""
    m = movements.c
    pool: dict[tuple[str, str], int] = {}
    rows = conn.execute(
        select(m.location, m.sku, m.qty).where(m.ref == order["id"], m.kind == MovementKind.COMMIT.value)
    )
    for loc, sku, qty in rows:
        pool[(loc, sku)] = pool.get((loc, sku), 0) + int(qty)
    decision = order["decision"]
    qty, origin = 0, None
    for s in decision["shipments"]:
        loc = s["location"]
        for sku in sorted({ln["sku"] for ln in s["lines"]}):
            moved = [t for t in decision["transfers"] if t["to_location"] == loc and t["sku"] == sku]
            total = sum(int(ln["qty"]) for ln in s["lines"] if ln["sku"] == sku)
            needs = {(loc, sku): total - sum(int(t["qty"]) for t in moved)}
            for t in moved:
                needs[(t["from_location"], sku)] = needs.get((t["from_location"], sku), 0) + int(t["qty"])
            if any(pool.get(cell, 0) < n for cell, n in needs.items() if n > 0):
                continue  # not (all) shipped yet
            for cell, n in needs.items():
                pool[cell] = pool.get(cell, 0) - n
            for line in s["lines"]:
                if line["line_id"] == line_id and line["sku"] == sku:
                    qty += int(line["qty"])
                    origin = origin or loc
    return qty, origin


def return_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored return as JSON."""
    out = dict(row)
    out["created_at"] = utc(row["created_at"]).isoformat()
    out["received_at"] = None if row["received_at"] is None else utc(row["received_at"]).isoformat()
    return out


def create(svc: Service, body: ReturnIn, key: str | None) -> Written:
    """Decide a return of shipped units: where it goes, its disposition and the refund."""

    def work(conn: Connection) -> tuple[int, Any]:
        order = orders_db.get(conn, body.order_id)
        if order is None:
            raise ApiError(404, "order_id", f"no order {body.order_id!r}", "not_found")
        line = next((ln for ln in order["request"]["lines"] if ln["line_id"] == body.line_id), None)
        if line is None:
            raise ApiError(422, "line_id", f"order {body.order_id!r} has no line {body.line_id!r}")
        shipped, origin = _shipped_qty(conn, order, body.line_id)
        c = returns.c
        already = conn.execute(
            select(func.coalesce(func.sum(c.qty), 0)).where(
                c.order_id == body.order_id, c.line_id == body.line_id, c.status != "rejected"
            )
        ).scalar_one()
        if body.qty > shipped - int(already):
            raise ApiError(
                422,
                "qty",
                f"{body.qty} units exceed the {shipped - int(already)} shipped and not yet returned",
            )
        rule_set = svc.rule_sets(conn)[0]
        net = rule_set.network
        request = ReturnRequest(
            body.order_id,
            body.line_id,
            line["sku"],
            body.qty,
            body.reason,
            body.grade,
            body.lat if body.lat is not None else order["request"]["lat"],
            body.lon if body.lon is not None else order["request"]["lon"],
            order["market"],
            order["channel"],
            net.skus[net.sku_index[line["sku"]]].price if line["sku"] in net.sku_index else 0.0,
            body.days_since_delivery,
            origin if origin in net.loc_index else None,
            body.requested_location,
        )
        ledger = ledger_of(rule_set, [line["sku"]], stock_db.snapshot(conn, [line["sku"]]))
        try:
            decision = rule_set.returns.decide(request, ledger)
        except DomError as exc:
            raise ApiError(422, exc.field.split(".")[-1], exc.problem) from None
        count = conn.execute(select(func.count()).where(c.order_id == body.order_id)).scalar_one()
        row = {
            "id": body.id or f"{body.order_id}/R{int(count) + 1}",
            "order_id": body.order_id,
            "line_id": body.line_id,
            "sku": line["sku"],
            "qty": body.qty,
            "status": "open" if decision.accepted else "rejected",
            "location": decision.location,
            "disposition": None if decision.disposition is None else decision.disposition.value,
            "refund": decision.refund,
            "fee": decision.fee,
            "decision": {
                "rejected": decision.rejected,
                "explanation": explanation_json(decision.explanation),
            },
            "created_at": now(),
            "received_at": None,
        }
        if conn.execute(select(c.id).where(c.id == row["id"])).first() is not None:
            raise ApiError(409, "id", f"return {row['id']!r} exists", "duplicate_return")
        conn.execute(returns.insert().values(**row))
        return 201, return_view(row)

    return run_write(svc.db, key, "POST /returns", body.model_dump(mode="json"), work)


def receive(svc: Service, return_id: str, key: str | None) -> Written:
    """The returned units arrive at their location: restocked when the disposition says so."""

    def work(conn: Connection) -> tuple[int, Any]:
        c = returns.c
        row = conn.execute(select(returns).where(c.id == return_id).with_for_update()).mappings().first()
        if row is None:
            raise ApiError(404, "return_id", f"no return {return_id!r}", "not_found", "path")
        if row["status"] != "open":
            raise ApiError(409, "return_id", f"return {return_id!r} is {row['status']}", "wrong_status")
        done = conn.execute(
            returns.update()
            .where(c.id == return_id, c.status == "open")
            .values(status="received", received_at=now())
        )
        if done.rowcount != 1:
            raise ApiError(
                409, "return_id", f"return {return_id!r} was received by another request", "conflict"
            )
        if row["disposition"] == Disposition.RESTOCK.value:
            cell = [(row["location"], row["sku"], int(row["qty"]))]
            stock_db.receive(conn, cell)
            stock_db.journal(
                conn, to_hours(now(), svc.epoch), MovementKind.RESTOCK, cell, f"return:{return_id}"
            )
        out = dict(row)
        out.update(status="received", received_at=now())
        return 200, return_view(out)

    return run_write(svc.db, key, f"POST /returns/{return_id}/receive", {}, work)
