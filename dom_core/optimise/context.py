"""Sourcing contexts built outside the engine (bounds, batch re-optimisation, column pricing).

``order_context`` builds the same ``SourcingContext`` the engine hands its strategies for home
delivery, ship-from-store, ship-to-store and pickup orders (eligible locations in the inventory
model's priority order, destination, lines, ATP), so the per-order optimiser can run on any ATP
matrix. Filters of the inventory model are not applied (they need the engine's capacity book).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dom_core.carriers import CarrierCatalog
from dom_core.inventory import InventoryLedger
from dom_core.model import HOURS_PER_DAY, Capability, FulfilmentType, Order
from dom_core.network import InventoryModel, Network
from dom_core.strategies.base import SourcingContext

IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class OrderLines:
    """The physical lines of an order: positions in ``order.lines``, SKU index, qty and kg per unit."""

    positions: tuple[int, ...]
    sku: tuple[int, ...]
    qty: tuple[int, ...]
    kg: tuple[float, ...]


def physical_lines(network: Network, order: Order) -> OrderLines:
    """The lines the engine would source (non-digital SKUs of a non-digital order), in order."""
    if order.fulfilment is FulfilmentType.DIGITAL:
        return OrderLines((), (), (), ())
    pos, sku, qty, kg = [], [], [], []
    for k, line in enumerate(order.lines):
        s = network.sku_idx(line.sku, f"order[{order.id}].lines[{k}].sku")
        if not network.skus[s].digital:
            pos.append(k)
            sku.append(s)
            qty.append(line.qty)
            kg.append(network.skus[s].weight_kg)
    return OrderLines(tuple(pos), tuple(sku), tuple(qty), tuple(kg))


def eligible_locations(
    network: Network, model: InventoryModel, order: Order, carriers: CarrierCatalog | None = None
) -> npt.NDArray[np.intp]:
    """Location indices that may ship the order, in the model's priority order (as the engine picks them).

    A ship-to-store order whose ``carriers`` offer no transfer service is served from the pickup store's
    own stock only (as the engine does).
    """
    locs, index = network.locations, network.loc_index
    ftype = order.fulfilment
    if ftype is FulfilmentType.PICKUP_IN_STORE:
        assert order.pickup_location is not None
        i = index[order.pickup_location]
        ok = locs[i].enabled and Capability.PICKUP in locs[i].capabilities
        return np.array([i] if ok else [], dtype=np.intp)
    if ftype is FulfilmentType.SHIP_TO_STORE:
        assert order.pickup_location is not None
        store = locs[index[order.pickup_location]]
        if not store.enabled or Capability.RECEIVE_SHIP_TO_STORE not in store.capabilities:
            return np.zeros(0, dtype=np.intp)
    pool = [index[loc_id] for loc_id in model.locations]
    if ftype is FulfilmentType.SHIP_TO_STORE:
        keep = [i for i in pool if locs[i].enabled and locs[i].kind != "pickup_point"]
        if carriers is not None and carriers.transfer() is None:
            assert order.pickup_location is not None
            keep = [i for i in keep if i == index[order.pickup_location]]
    else:
        keep = [i for i in pool if locs[i].enabled and Capability.SHIP_TO_HOME in locs[i].capabilities]
        if ftype is FulfilmentType.SHIP_FROM_STORE:
            keep = [i for i in keep if locs[i].is_store]
    return np.array(keep, dtype=np.intp)


def order_context(
    network: Network,
    carriers: CarrierCatalog,
    order: Order,
    ledger: InventoryLedger,
    now: float | None = None,
    atp: IntMatrix | None = None,
) -> SourcingContext | None:
    """The engine's context for ``order`` on ``atp`` (SKU x location; the ledger's ATP if None).

    None when the order has no physical line or no eligible location.
    """
    lines = physical_lines(network, order)
    if not lines.sku:
        return None
    model = network.inventory_model(order.market, order.channel)
    cand = eligible_locations(network, model, order, carriers)
    if cand.size == 0:
        return None
    rows: dict[int, int] = {}
    line_row = [rows.setdefault(s, len(rows)) for s in lines.sku]
    row_sku = list(rows)
    if atp is None:
        matrix = ledger.atp_matrix(row_sku, cand)
    else:
        matrix = np.maximum(atp.take(np.asarray(row_sku, dtype=np.intp), axis=0).take(cand, axis=1), 0)
    if order.pickup_location is not None and order.fulfilment in (
        FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE
    ):
        store = network.location(order.pickup_location)
        dest = (store.lat, store.lon)
    else:
        dest = (order.lat, order.lon)
    days = order.max_delivery_days
    deadline = None if days is None else order.created_at + days * HOURS_PER_DAY
    return SourcingContext(
        order=order, network=network, model=model, ledger=ledger, carriers=carriers,
        now=order.created_at if now is None else now, dest_lat=dest[0], dest_lon=dest[1], deadline=deadline,
        line_qty=list(lines.qty), line_kg=list(lines.kg), line_row=line_row, row_sku=row_sku, cand=cand,
        atp=matrix.astype(np.int64),
    )
