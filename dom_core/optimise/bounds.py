"""A per-order (Lagrangian) lower bound with exact carrier quotes, for networks too large for the LPs.

Relax the stock rows of the offline problem with prices pi >= 0 (SKU x location):

    L(pi) = sum_o min_{methods k of o} (c_ok + sum_sp pi_sp units_ok(s, p)) - sum_sp pi_sp stock_sp

Each order's minimum is the exact per-order optimiser (``solve_order``) on the starting stock, with
every eligible location (no cutoff), the engine's carrier quotes at the order's time and the
lost-sale penalty per unserved unit. For any pi >= 0, L(pi) is at most the realised cost of every
policy that sources each order at its creation time from stock that only decreases (no receipts),
ships without transfers and respects max_shipments: its decision for o is one of o's methods on
the starting stock. pi = 0 (default) is the "no contention" bound: tight when stock is ample, loose
when it binds; LP dual values (e.g. ``hindsight_lp(...).shadow``) tighten it. Orders too large for
the DP (solved by the approximate CP-SAT model) get a cruder but valid affine floor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from dom_core.carriers import CarrierCatalog
from dom_core.inventory import InventoryLedger
from dom_core.model import Order
from dom_core.network import Network
from dom_core.optimise.context import order_context
from dom_core.optimise.costs import CostModel, order_costs
from dom_core.optimise.lp import Bound, stock_array
from dom_core.optimise.order import solve_order
from dom_core.optimise.shipments import Weights


def lagrangian_bound(
    network: Network,
    start: InventoryLedger | npt.NDArray[np.int64],
    orders: Sequence[Order],
    carriers: CarrierCatalog,
    lost_sale: float,
    *,
    shadow: npt.NDArray[np.float64] | None = None,
) -> Bound:
    """L(shadow) as a ``Bound`` (per_order: each order's priced minimum)."""
    started = time.perf_counter()
    stock = stock_array(network, start)
    ledger = start if isinstance(start, InventoryLedger) else InventoryLedger(network, record=False)
    weights = Weights(lost_sale=lost_sale)
    per = np.zeros(len(orders))
    for k, order in enumerate(orders):
        ctx = order_context(network, carriers, order, ledger, order.created_at, atp=stock)
        if ctx is None:
            continue
        price = None
        if shadow is not None:
            price = shadow.take(np.asarray(ctx.row_sku, dtype=np.intp), axis=0).take(ctx.cand, axis=1)
        sol = solve_order(ctx, weights, cutoff=None, unit_price=price)
        per[k] = sol.value if sol.method != "cpsat" else _affine_floor(network, carriers, order, lost_sale)
    value = float(per.sum()) - (0.0 if shadow is None else float((shadow * stock).sum()))
    result = Bound(value, "OPTIMAL", lost_sale, 0.0, 0, 0, per_order=per)
    result.seconds = time.perf_counter() - started
    return result


def _affine_floor(network: Network, carriers: CarrierCatalog, order: Order, lost_sale: float) -> float:
    """A valid floor for orders the DP leaves to CP-SAT (whose affine scores are not exact for zone tables).

    Serving any unit needs one shipment (>= the cheapest fixed part) and every unit costs at least the
    cheapest per-unit part or the penalty: min(penalty U, F_min + U min(a_min, penalty)).
    """
    costs = order_costs(network, carriers, order, 0, CostModel(lost_sale=lost_sale))
    if costs is None:
        return 0.0
    units = sum(costs.qty)
    if costs.loc.size == 0:
        return lost_sale * units
    served = float(costs.fixed.min()) + units * min(float(costs.unit.min()), lost_sale)
    return min(lost_sale * units, served)
