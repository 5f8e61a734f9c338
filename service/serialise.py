"""Engine values as JSON documents (and back): decisions, explanations, orders as placed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dom_core.decision import Decision, Explanation
from dom_core.model import FulfilmentType, Order, OrderLine
from service.clock import to_datetime


def decision_json(decision: Decision, epoch: datetime) -> dict[str, Any]:
    """A decision as JSON: shipments, transfers, unfulfilled units and totals (hours kept exact too)."""

    def when(hours: float) -> str:
        return to_datetime(hours, epoch).isoformat()

    promised = decision.promised_at
    return {
        "strategy": decision.strategy,
        "inventory_model": decision.inventory_model,
        "decided_hours": decision.decided_at,
        "shipments": [
            {
                "location": s.location,
                "lines": [{"line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty} for ln in s.lines],
                "service": s.service,
                "destination": s.destination,
                "distance_km": s.distance_km,
                "weight_kg": s.weight_kg,
                "shipping_cost": s.shipping_cost,
                "handling_cost": s.handling_cost,
                "ship_at": when(s.ship_at),
                "ship_hours": s.ship_at,
                "promised_at": when(s.promised_at),
                "promised_hours": s.promised_at,
                "co2_kg": s.co2_kg,
            }
            for s in decision.shipments
        ],
        "transfers": [t._asdict() for t in decision.transfers],
        "unfulfilled": [u._asdict() for u in decision.unfulfilled],
        "digital_lines": [ln._asdict() for ln in decision.digital_lines],
        "cost": decision.cost,
        "co2_kg": decision.co2_kg,
        "units_allocated": decision.units_allocated,
        "units_unfulfilled": decision.units_unfulfilled,
        "promised_at": None if promised is None else when(promised),
        "promised_hours": promised,
    }


def explanation_json(explanation: Explanation | None) -> dict[str, Any] | None:
    """An explanation as JSON (candidates in the engine's order) with its readable text."""
    if explanation is None:
        return None
    return {
        "strategy": explanation.strategy,
        "inventory_model": explanation.inventory_model,
        "why": explanation.why,
        "candidates": [
            {"location": c.location, "status": c.status, "atp": list(c.atp), "rank": c.rank, "score": c.score}
            for c in explanation.candidates
        ],
        "text": explanation.as_text(),
    }


def order_from_json(doc: dict[str, Any]) -> Order:
    """The engine's Order from an order document as stored (``created_hours`` already resolved)."""
    return Order(
        doc["id"],
        doc["market"],
        doc["channel"],
        float(doc["created_hours"]),
        float(doc["lat"]),
        float(doc["lon"]),
        tuple(OrderLine(ln["line_id"], ln["sku"], int(ln["qty"])) for ln in doc["lines"]),
        FulfilmentType(doc["fulfilment"]),
        doc.get("pickup_location"),
        doc.get("max_delivery_days"),
    )
