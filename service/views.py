"""What the API returns for stored rows (JSON-ready dicts)."""

from __future__ import annotations

from typing import Any

from service.clock import utc


def order_view(row: dict[str, Any], explanation: bool = True) -> dict[str, Any]:
    """An order with its status, decision, reservation still held and (optionally) explanation."""
    out = {
        "id": row["id"],
        "status": row["status"],
        "market": row["market"],
        "channel": row["channel"],
        "created_at": utc(row["created_at"]).isoformat(),
        "placed_at": utc(row["placed_at"]).isoformat(),
        "reserved_until": None if row["reserved_until"] is None else utc(row["reserved_until"]).isoformat(),
        "rules_version": row["rules_version"],
        "strategy": row["strategy"],
        "units_requested": row["units_requested"],
        "units_allocated": row["units_allocated"],
        "cost": row["cost"],
        "co2_kg": row["co2_kg"],
        "reservation": [{"location": loc, "sku": sku, "qty": qty} for loc, sku, qty in row["held"]],
        "decision": row["decision"],
        "request": row["request"],
    }
    if row["status"] == "refused":
        out["refused_because"] = sorted({u["reason"] for u in row["decision"]["unfulfilled"]})
    if explanation:
        out["explanation"] = row["explanation"]
    return out


def log_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """An order as order-log rows (one per line): what it asked for, when, and how it was decided."""
    req = row["request"]
    head = {
        "order_id": row["id"],
        "created_at": req["created_at"],
        "created_hours": req["created_hours"],
        "market": row["market"],
        "channel": row["channel"],
        "lat": req["lat"],
        "lon": req["lon"],
        "fulfilment": req.get("fulfilment", "home_delivery"),
        "pickup_location": req.get("pickup_location"),
        "max_delivery_days": req.get("max_delivery_days"),
    }
    tail = {"status": row["status"], "rules_version": row["rules_version"], "strategy": row["strategy"]}
    return [
        {**head, "line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"], **tail} for ln in req["lines"]
    ]
