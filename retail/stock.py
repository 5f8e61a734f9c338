"""The stock snapshot: rows checked against the imported locations and catalogue, then loaded into the
engine's ``InventoryLedger`` as whole (SKU x location) arrays, never a Python call per row.

Inbound stock is registered as one inbound batch per (location, ETA); an ETA given as a date needs the
engine's hour 0 (``epoch``, a Monday 00:00 UTC) to become engine hours, and is not loaded without one
(it stays in the frame). Receiving inbound at its ETA is the simulation's job.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from dom_core.inventory import InventoryLedger
from dom_core.model import HOURS_PER_DAY
from dom_core.network import Network
from retail.locations import repeats
from retail.reading import Table


def _known(table: Table, column: str, ids: pl.Series, skipped: pl.Series, what: str) -> None:
    col = pl.col(column)
    table.flag(
        col.is_not_null() & ~col.is_in(ids.implode()),
        column,
        pl.when(col.is_in(skipped.implode()))
        .then(pl.format("{} {} was skipped (a bad row of its file)", pl.lit(what), col))
        .otherwise(pl.format("unknown {} {}", pl.lit(what), col)),
    )


def check_stock(
    table: Table, locations: pl.Series, skus: pl.Series, bad_locations: pl.Series, bad_skus: pl.Series
) -> pl.DataFrame:
    """The good stock rows with defaults applied (``safety`` and ``inbound_qty`` 0)."""
    _known(table, "location", locations, bad_locations, "location")
    _known(table, "sku", skus, bad_skus, "SKU")
    repeats(table, ["location", "sku"], "sku")
    inbound = pl.col("inbound_qty").fill_null(0) > 0
    table.flag(
        inbound & pl.col("inbound_eta").is_null() & pl.col("inbound_eta_days").is_null(),
        "inbound_eta",
        "inbound_qty needs inbound_eta or inbound_eta_days",
    )
    return table.good().with_columns(pl.col("safety").fill_null(0), pl.col("inbound_qty").fill_null(0))


def _indexed(stock: pl.DataFrame, network: Network) -> pl.DataFrame:
    locs = pl.DataFrame({"location": [loc.id for loc in network.locations]}).with_row_index("loc")
    skus = pl.DataFrame({"sku": [s.id for s in network.skus]}).with_row_index("s")
    return stock.join(locs, on="location").join(skus, on="sku")


def stocked_ledger(
    stock: pl.DataFrame, network: Network, epoch: datetime | None = None, record: bool = False
) -> InventoryLedger:
    """A ledger holding the stock rows' on-hand and safety stock, and their inbound (see module doc)."""
    ledger = InventoryLedger(network, record=record)
    rows = _indexed(stock, network)
    s = rows.get_column("s").to_numpy()
    loc = rows.get_column("loc").to_numpy()
    on_hand = np.zeros((len(network.skus), len(network.locations)), dtype=np.int64)
    safety = np.zeros_like(on_hand)
    on_hand[s, loc] = rows.get_column("on_hand").to_numpy()
    safety[s, loc] = rows.get_column("safety").to_numpy()
    ledger.load_balances(on_hand, safety)
    eta = pl.col("inbound_eta_days") * HOURS_PER_DAY
    if epoch is not None:
        start = epoch.astimezone(UTC) if epoch.tzinfo else epoch.replace(tzinfo=UTC)
        since = (pl.col("inbound_eta") - pl.lit(start)).dt.total_microseconds() / 3.6e9
        eta = pl.coalesce(eta, since)
    inbound = rows.filter(pl.col("inbound_qty") > 0).with_columns(eta=eta).drop_nulls("eta")
    for (loc_idx, hours), part in inbound.group_by("loc", "eta", maintain_order=True):
        ref = f"import:{network.locations[int(loc_idx)].id}:{float(hours):g}h"
        ledger.add_inbound_many(
            ref,
            int(loc_idx),
            part.get_column("s").to_numpy().astype(np.intp),
            part.get_column("inbound_qty").to_numpy(),
            float(hours),
        )
    return ledger
