"""A scratch ledger holding just the balances one decision reads, loaded from the database's snapshot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dom_core.capacity import CapacityBook
from dom_core.inventory import InventoryLedger
from service.rules import RuleSet

Row = tuple[str, str, int, int, int]  # (location, sku, on hand, reserved, safety)


def ledger_of(rule_set: RuleSet, skus: Sequence[str], rows: Sequence[Row]) -> InventoryLedger:
    """A ledger on the rule set's network whose rows for ``skus`` hold the snapshot (locations and SKUs
    the network does not know are ignored: a rules version may have dropped them)."""
    net = rule_set.network
    ledger = rule_set.scratch_ledger()
    wanted = sorted({net.sku_index[s] for s in skus if s in net.sku_index})
    if not wanted:
        return ledger
    row_of = {s: i for i, s in enumerate(wanted)}
    shape = (len(wanted), len(net.locations))
    on_hand, reserved, safety = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    for loc_id, sku_id, held, res, safe in rows:
        loc, s = net.loc_index.get(loc_id), net.sku_index.get(sku_id)
        if loc is None or s is None or s not in row_of:
            continue
        r = row_of[s]
        on_hand[r, loc], reserved[r, loc], safety[r, loc] = held, res, safe
    ledger.load_rows(np.array(wanted, dtype=np.int64), on_hand, reserved, safety)
    return ledger


def capacity_of(rule_set: RuleSet, used: Sequence[tuple[str, int, int]]) -> CapacityBook:
    """A capacity book from (location, day, shipments) rows."""
    book = CapacityBook()
    index = rule_set.network.loc_index
    for loc_id, day, shipments in used:
        if loc_id in index:
            book.used[(index[loc_id], int(day))] = int(shipments)
    return book
