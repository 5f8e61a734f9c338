"""First start and restarts: the epoch, the rules file given to ``dom serve``, and the starting stock.

A new database gets the file's rules as version 1 and the file's stock, journalled as receipts. A
database that already runs rules keeps its stock; the file becomes a new live version only when it
differs from the live one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from dom_core.errors import DomError
from dom_core.inventory import MovementKind
from dom_core.yamlio import load_yaml
from service.clock import DEFAULT_EPOCH, parse_epoch
from service.db import rules as rules_db
from service.db import stock as stock_db
from service.db.connect import Database
from service.db.tables import stock
from service.rules import RuleSet, build_rule_set, document_kind


def read_document(path: Path) -> dict[str, Any]:
    """A rules or scenario file as a JSON-ready document, validated by building it."""
    data, _lines = load_yaml(path)
    try:
        build_rule_set(data)
    except DomError as exc:
        raise DomError(f"{path}: {exc.field}", exc.problem) from None
    return data  # type: ignore[no-any-return]


def prepare(db: Database, path: Path, epoch: str | None = None) -> tuple[int, datetime, str]:
    """Load the file's rules (into a new database, its stock too); returns (live version, epoch, report)."""
    document = read_document(path)
    with db.write.begin() as conn:
        stored = rules_db.get_meta(conn, "epoch")
        if stored is None:
            when = parse_epoch(epoch) if epoch else DEFAULT_EPOCH
            rules_db.set_meta(conn, "epoch", when.isoformat())
        else:
            when = datetime.fromisoformat(stored)
            if epoch and parse_epoch(epoch) != when:
                raise DomError("--epoch", f"the database's epoch is {stored}; it cannot change")
        state = rules_db.state(conn)
        note = f"loaded from {path.name}"
        if state is None:
            number = rules_db.store(conn, "live", document_kind(document), document, None, note)
            rules_db.set_live(conn, number)
            units = seed_stock(conn, build_rule_set(document, None, number))
            return number, when, f"new database: rules version {number}, {units:,} units of starting stock"
        live = rules_db.version(conn, state[0])
        if live is not None and live["document"] == document and live["strategy"] is None:
            return state[0], when, f"rules version {state[0]} is live (unchanged)"
        number = rules_db.store(conn, "live", document_kind(document), document, None, note)
        rules_db.set_live(conn, number)
        return number, when, f"rules version {number} is live (stock kept as it was)"


def seed_stock(conn: Any, rule_set: RuleSet) -> int:
    """Write the rule set's starting stock and safety stock into an empty stock table (journalled);
    returns the units received."""
    ledger, net = rule_set.initial, rule_set.network
    held = ledger.on_hand > 0
    cells = [
        (
            net.locations[int(loc)].id,
            net.skus[int(s)].id,
            int(ledger.on_hand[s, loc]),
            int(ledger.safety[s, loc]),
        )
        for s, loc in zip(*np.nonzero(held | (ledger.safety > 0)), strict=True)
    ]
    if cells:
        conn.execute(
            stock.insert(),
            [
                {"location": loc, "sku": sku, "on_hand": q, "reserved": 0, "safety": safe}
                for loc, sku, q, safe in cells
            ],
        )
    stock_db.journal(
        conn, 0.0, MovementKind.RECEIVE, [(loc, sku, q) for loc, sku, q, _ in cells if q], "initial"
    )
    stock_db.journal(
        conn, 0.0, MovementKind.SAFETY, [(loc, sku, s) for loc, sku, _, s in cells if s], "initial"
    )
    return sum(c[2] for c in cells)
