"""Affine shipment costs for the LP/MIP bounds, the lost-sale penalty, and realised costs of decisions.

For an order o and an eligible location p, every shipment the engine could realise costs at least

    F_op + sum_i a_oip x_oip + h_p * (lines shipped),

with ``F_op`` = handling per order + the cheapest fixed part of any carrier service that takes the
distance, ``a_oip`` the cheapest per-unit part, ``h_p`` the handling per line. For the literature's
``LinearRateCard`` (8.759 per package + 0.423 per item + 0.000541 per item-mile) the fixed part is the
package fee and the per-unit part the item and mileage fees, so the affine cost is exact when all
parcel services share that card (the "linear" carriers preset). For a zone table the fixed part is the
lightest-bracket price in the distance's zone and the per-unit part 0: a valid lower bound (a step
function of weight has no positive affine minorant slope), so the bound stays a bound, only looser.
Pickup in store costs handling only; ship to store prices the transfer service (0 at the store; without
a transfer service in the catalogue, only the store itself serves it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dom_core.carriers import CarrierCatalog, CarrierService, LinearRateCard
from dom_core.decision import Decision
from dom_core.geo import KM_PER_MILE
from dom_core.model import FulfilmentType, Order
from dom_core.network import Network
from dom_core.optimise.context import eligible_locations, physical_lines

F = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CostModel:
    """How the bounds price fulfilment: handling included or not, and the lost-sale penalty per unit.

    ``lost_sale=None`` uses Jasin and Sinha's rule: twice the most expensive single-unit fill over
    the orders and their eligible locations (``lost_sale_penalty``).
    """

    handling: bool = True
    lost_sale: float | None = None


@dataclass(frozen=True, slots=True)
class OrderCosts:
    """Affine lower-bounding costs of one order: eligible locations, fixed, per-unit and per-line costs."""

    order: int  # index into the order list
    loc: npt.NDArray[np.intp]  # (P,) eligible location indices
    fixed: F  # (P,)
    unit: F  # (L, P)
    line: F  # (P,)
    sku: tuple[int, ...]  # per physical line
    qty: tuple[int, ...]


def _parts(service: CarrierService, km: float) -> tuple[float, float]:
    """(fixed, per unit) lower-bounding parts of one service's price at ``km``."""
    card = service.rate_card
    if isinstance(card, LinearRateCard):
        return card.per_package, card.per_item + card.per_item_mile * km / KM_PER_MILE
    return card.price(km, 0.0, 1), 0.0


def order_costs(
    network: Network, carriers: CarrierCatalog, order: Order, index: int, model: CostModel
) -> OrderCosts | None:
    """The affine costs of ``order`` (None when it has no physical line)."""
    lines = physical_lines(network, order)
    if not lines.sku:
        return None
    inv_model = network.inventory_model(order.market, order.channel)
    cand = eligible_locations(network, inv_model, order, carriers)
    locs = network.locations
    ftype = order.fulfilment
    if ftype in (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE):
        assert order.pickup_location is not None
        store = network.location(order.pickup_location)
        km = network.distances_km(store.lat, store.lon).take(cand)
    else:
        km = network.distances_km(order.lat, order.lon).take(cand)
    keep, fixed, unit = [], [], []
    transfer = carriers.transfer()
    for p, i in enumerate(cand):
        d = float(km[p])
        if ftype is FulfilmentType.PICKUP_IN_STORE or (
            ftype is FulfilmentType.SHIP_TO_STORE and locs[i].id == order.pickup_location
        ):
            parts = [(0.0, 0.0)]
        elif ftype is FulfilmentType.SHIP_TO_STORE:
            parts = [] if transfer is None else [_parts(transfer, d)]
        else:
            parts = [_parts(s, d) for s in carriers.parcel_services() if d <= s.max_km]
        if not parts:
            continue
        keep.append(int(i))
        fixed.append(min(f for f, _ in parts) + (locs[i].handling_cost_per_order if model.handling else 0.0))
        unit.append(min(a for _, a in parts))
    loc = np.array(keep, dtype=np.intp)
    line = np.array([locs[i].handling_cost_per_line if model.handling else 0.0 for i in loc])
    unit_lp = np.tile(np.array(unit, dtype=np.float64), (len(lines.sku), 1))
    return OrderCosts(index, loc, np.array(fixed, dtype=np.float64), unit_lp, line, lines.sku, lines.qty)


def all_order_costs(
    network: Network, carriers: CarrierCatalog, orders: Iterable[Order], model: CostModel
) -> list[OrderCosts]:
    """``order_costs`` of every order that has a physical line."""
    out = []
    for k, order in enumerate(orders):
        costs = order_costs(network, carriers, order, k, model)
        if costs is not None:
            out.append(costs)
    return out


def lost_sale_penalty(costs: Iterable[OrderCosts], model: CostModel) -> float:
    """The per-unit lost-sale penalty: the model's, or twice the most expensive single-unit fill."""
    if model.lost_sale is not None:
        return model.lost_sale
    worst = 0.0
    for c in costs:
        if c.loc.size:
            worst = max(worst, float((c.fixed + c.unit.max(axis=0) + c.line).max()))
    return 2.0 * worst


def realised_cost(decisions: Iterable[Decision], lost_sale: float) -> float:
    """What a run of decisions cost: shipping + handling + transfers + lost_sale per unit unserved."""
    return sum(d.cost + lost_sale * d.units_unfulfilled for d in decisions)
