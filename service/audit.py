"""The balances against the movement journal: every unit on hand, reserved, shipped or returned."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from service.db import stock as stock_db
from service.db.tables import orders


def audit(conn: Connection) -> dict[str, Any]:
    """Per (location, SKU): the balances the journal implies vs those stored, and the orders' holds."""
    totals = stock_db.journal_totals(conn)
    stored = {(loc, sku): (h, r, s) for loc, sku, h, r, s in stock_db.balances(conn)}
    held: dict[tuple[str, str], int] = {}
    for (cells,) in conn.execute(select(orders.c.held).where(orders.c.status == "reserved")):
        for loc, sku, qty in cells:
            held[(loc, sku)] = held.get((loc, sku), 0) + int(qty)
    mismatches = []
    units = {"received": 0, "restocked": 0, "adjusted": 0, "shipped": 0, "reserved": 0, "on_hand": 0}
    for cell in sorted(set(totals) | set(stored)):
        k = totals.get(cell, {})
        on_hand = k.get("receive", 0) + k.get("restock", 0) + k.get("adjust", 0) - k.get("commit", 0)
        reserved = k.get("reserve", 0) - k.get("release", 0) - k.get("commit", 0)
        h, r, _ = stored.get(cell, (0, 0, 0))
        if (on_hand, reserved) != (h, r) or held.get(cell, 0) != r:
            mismatches.append(
                {
                    "location": cell[0],
                    "sku": cell[1],
                    "journal": [on_hand, reserved],
                    "stored": [h, r],
                    "held_by_orders": held.get(cell, 0),
                }
            )
        units["received"] += k.get("receive", 0)
        units["restocked"] += k.get("restock", 0)
        units["adjusted"] += k.get("adjust", 0)
        units["shipped"] += k.get("commit", 0)
        units["reserved"] += r
        units["on_hand"] += h
    return {"ok": not mismatches, "cells": len(stored), "units": units, "mismatches": mismatches[:100]}
