"""Bounds on what any sourcing policy can achieve: the deterministic LP (DLP), the hindsight LP and the
exact hindsight MIP, all one compact fulfilment formulation solved with OR-Tools (GLOP / SCIP).

For orders o (weight w_o: 1 for realised orders, the expected count for a DLP order type) with lines
i (SKU s_i, quantity q_i), eligible locations p and the affine costs of ``costs`` (F, a, h):

    min  sum_op F_op y_op + sum_oip (a_oip x_oip + h_p z_oip) + penalty * sum_oi u_oi
    s.t. sum_p x_oip + u_oi = w_o q_i                          (every unit shipped or lost)
         x_oip <= q_i z_oip,  z_oip <= y_op                      (a line ships from p only in a shipment
                                                                  from p: the strong linking, not x <= M y)
         sum_{o,i: s_i = s} x_oip <= stock_sp                   (starting stock + receipts)
         [sum_p y_op <= w_o m_o]                                 (max shipments, optional)
         [sum_{o placed on day d} y_op <= capacity_p]           (daily pick capacity, optional)
         0 <= y_op, z_oip <= w_o;  x, u >= 0                      (integer in the MIP, w_o = 1)

* DLP (Jasin and Sinha, 2015; Acimovic and Graves, 2015): order types with their expected counts. The
  LP value is convex in the demand vector, so by Jensen it is at most the expected hindsight LP, a
  lower bound on the expected cost of every policy.
* Hindsight LP: the realised orders of a run with its starting stock (receipts added; timing ignored,
  a relaxation). Identical orders are aggregated (same LP value). A lower bound on the realised cost
  (shipping + handling + penalty x lost units) of every policy that ships without transfers.
* Hindsight MIP: the same with integer variables, one order at a time; exact optimum of the offline
  problem when the affine costs are exact (linear rate cards), else still a bound.

Duals of the stock rows are the shadow prices of stock used by the ``lookahead`` strategy.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dom_core.carriers import CarrierCatalog
from dom_core.inventory import InventoryLedger
from dom_core.model import HOURS_PER_DAY, Order
from dom_core.network import Network
from dom_core.optimise.costs import CostModel, OrderCosts, all_order_costs, lost_sale_penalty

F = npt.NDArray[np.float64]
DEFAULT_COSTS = CostModel()
Ints = npt.NDArray[np.int64]


@dataclass
class Bound:
    """A solved bound: its value, solver status and, where cheap, per-order costs and stock duals."""

    value: float
    status: str
    lost_sale: float
    seconds: float
    n_vars: int
    n_rows: int
    per_order: F = field(default_factory=lambda: np.zeros(0))  # LP cost attributed to each input order
    shadow: F = field(default_factory=lambda: np.zeros((0, 0)))  # (SKU, location) value of one more unit
    flow: tuple[Ints, Ints, Ints, F] = field(  # x variables: (costs entry, line, location, units)
        default_factory=lambda: (
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        ),
    )


def stock_array(network: Network, start: InventoryLedger | Ints) -> Ints:
    """(SKU x location) units available: a ledger's ATP, or the array itself."""
    if isinstance(start, InventoryLedger):
        every_loc = np.arange(len(network.locations), dtype=np.intp)
        return start.atp_matrix(list(range(len(network.skus))), every_loc)
    return np.maximum(np.asarray(start, dtype=np.int64), 0)


class _Builder:
    """Accumulates columns (bounds, cost) and sparse rows of the formulation."""

    def __init__(self) -> None:
        self.ub: list[float] = []
        self.cost: list[float] = []
        self.owner: list[int] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.rlo: list[float] = []
        self.rhi: list[float] = []

    def var(self, ub: float, cost: float, owner: int) -> int:
        self.ub.append(ub)
        self.cost.append(cost)
        self.owner.append(owner)
        return len(self.ub) - 1

    def row(self, terms: Sequence[tuple[int, float]], lo: float, hi: float) -> int:
        r = len(self.rlo)
        for c, v in terms:
            self.rows.append(r)
            self.cols.append(c)
            self.vals.append(v)
        self.rlo.append(lo)
        self.rhi.append(hi)
        return r


def solve_fulfilment(
    costs: Sequence[OrderCosts],
    weights: Sequence[float],
    stock: Ints,
    penalty: float,
    *,
    integer: bool = False,
    max_shipments: Sequence[int] | None = None,
    capacity: tuple[Sequence[int], dict[int, float]] | None = None,
    time_limit: float | None = None,
) -> Bound:
    """Build and solve the formulation (GLOP, or SCIP when ``integer``).

    ``capacity`` = (day of each costs entry, {location: shipments per day}).
    """
    from ortools.linear_solver.python import model_builder_helper as mbh
    from scipy import sparse

    started = time.perf_counter()
    b = _Builder()
    stock_terms: dict[tuple[int, int], list[tuple[int, float]]] = {}
    cap_terms: dict[tuple[int, int], list[tuple[int, float]]] = {}
    flow_e: list[int] = []
    flow_i: list[int] = []
    flow_p: list[int] = []
    flow_c: list[int] = []
    for e, (c, w) in enumerate(zip(costs, weights, strict=True)):
        ys = [b.var(w, float(c.fixed[p]), e) for p in range(len(c.loc))]
        for i, (s, q) in enumerate(zip(c.sku, c.qty, strict=True)):
            demand: list[tuple[int, float]] = [(b.var(w * q, penalty, e), 1.0)]
            for p, loc in enumerate(c.loc.tolist()):
                if stock[s, loc] <= 0:
                    continue
                if q == 1:  # z = x
                    x = b.var(w, float(c.unit[i, p] + c.line[p]), e)
                    b.row([(x, 1.0), (ys[p], -1.0)], -np.inf, 0.0)
                else:
                    x = b.var(w * q, float(c.unit[i, p]), e)
                    z = b.var(w, float(c.line[p]), e)
                    b.row([(x, 1.0), (z, -float(q))], -np.inf, 0.0)
                    b.row([(z, 1.0), (ys[p], -1.0)], -np.inf, 0.0)
                demand.append((x, 1.0))
                stock_terms.setdefault((s, loc), []).append((x, 1.0))
                flow_e.append(e)
                flow_i.append(i)
                flow_p.append(loc)
                flow_c.append(x)
            b.row(demand, w * q, w * q)
        if max_shipments is not None:
            b.row([(y, 1.0) for y in ys], -np.inf, w * max_shipments[e])
        if capacity is not None:
            for p, loc in enumerate(c.loc.tolist()):
                if loc in capacity[1]:
                    cap_terms.setdefault((loc, int(capacity[0][e])), []).append((ys[p], 1.0))
    stock_rows = {key: b.row(terms, -np.inf, float(stock[key])) for key, terms in stock_terms.items()}
    for (loc, _day), terms in cap_terms.items():
        assert capacity is not None
        b.row(terms, -np.inf, float(capacity[1][loc]))
    n_vars, n_rows = len(b.ub), len(b.rlo)
    matrix = sparse.csr_matrix((b.vals, (b.rows, b.cols)), shape=(n_rows, n_vars))
    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(  # the stubs' ndarray types are malformed
        np.zeros(n_vars), np.array(b.ub), np.array(b.cost), np.array(b.rlo), np.array(b.rhi), matrix,  # type: ignore[arg-type]
    )
    if integer:
        for v in range(n_vars):
            model.set_var_integrality(v, True)
    solver = mbh.ModelSolverHelper("scip" if integer else "glop")
    if time_limit is not None:
        solver.set_time_limit_in_seconds(time_limit)
    solver.solve(model)
    status = str(solver.status()).rsplit(".", 1)[-1]
    result = Bound(np.nan, status, penalty, 0.0, n_vars, n_rows)
    if solver.has_solution():
        values = np.asarray(solver.variable_values())
        result.value = float(solver.best_objective_bound() if integer else solver.objective_value())
        owner_cost = np.bincount(np.array(b.owner, dtype=np.int64), weights=values * np.array(b.cost),
                                 minlength=len(costs))
        result.per_order = owner_cost / np.maximum(np.asarray(weights, dtype=np.float64), 1e-12)
        units = values[np.array(flow_c, dtype=np.int64)]
        result.flow = (np.array(flow_e), np.array(flow_i), np.array(flow_p), units)
        if not integer:
            duals = np.asarray(solver.dual_values())
            result.shadow = np.zeros(stock.shape)
            for (s, loc), r in stock_rows.items():
                result.shadow[s, loc] = max(0.0, -float(duals[r]))
    result.seconds = time.perf_counter() - started
    return result


def _solve(
    costs: Sequence[OrderCosts], weights: Sequence[float], stock: Ints, penalty: float, formulation: str,
    max_shipments: Sequence[int] | None,
) -> Bound:
    """Method LP by column generation when the network allows it ("auto"/"methods"), else compact."""
    if formulation not in ("auto", "methods", "compact"):
        raise ValueError(f"formulation must be auto, methods or compact, got {formulation!r}")
    if formulation != "compact":
        from dom_core.optimise.colgen import MAX_SUBSETS, method_lp, subset_count

        n_loc = len({int(p) for c in costs for p in c.loc})
        m = max(max_shipments) if max_shipments else None
        if formulation == "methods" or subset_count(n_loc, m) <= MAX_SUBSETS:
            return method_lp(costs, weights, stock, penalty, max_shipments=m)
    return solve_fulfilment(costs, weights, stock, penalty, max_shipments=max_shipments)


def _aggregate(orders: Sequence[Order]) -> tuple[list[int], list[float], list[int]]:
    """Group identical orders: representative indices, counts, and each order's group."""
    groups: dict[tuple[object, ...], int] = {}
    reps: list[int] = []
    counts: list[float] = []
    member: list[int] = []
    for k, o in enumerate(orders):
        key = (o.market, o.channel, o.fulfilment, o.pickup_location, round(o.lat, 5), round(o.lon, 5),
               tuple(sorted((ln.sku, ln.qty) for ln in o.lines)))
        g = groups.setdefault(key, len(reps))
        if g == len(reps):
            reps.append(k)
            counts.append(0.0)
        counts[g] += 1.0
        member.append(g)
    return reps, counts, member


def deterministic_lp(
    network: Network, start: InventoryLedger | Ints, demand: Sequence[tuple[Order, float]],
    carriers: CarrierCatalog,
    cost_model: CostModel = DEFAULT_COSTS, *, lost_sale: float | None = None, formulation: str = "auto",
) -> Bound:
    """The DLP over order types with expected counts (``demand``); per_order is per type and unit count.

    ``formulation``: "methods" (column generation, tighter), "compact", or "auto" (methods when the
    network has few enough location subsets). ``flow`` entries index the types with a physical line.
    """
    orders = [o for o, _ in demand]
    costs = all_order_costs(network, carriers, orders, cost_model)
    weights = [demand[c.order][1] for c in costs]
    penalty = lost_sale_penalty(costs, cost_model) if lost_sale is None else lost_sale
    return _solve(costs, weights, stock_array(network, start), penalty, formulation, None)


def hindsight_lp(
    network: Network, start: InventoryLedger | Ints, orders: Sequence[Order], carriers: CarrierCatalog,
    cost_model: CostModel = DEFAULT_COSTS, *, receipts: Ints | None = None, max_shipments: bool = False,
    capacity: bool = False, formulation: str = "auto",
) -> Bound:
    """The hindsight LP over the realised ``orders`` (identical orders aggregated); per_order per order.

    ``max_shipments`` adds the inventory models' limits (valid for policies that respect them);
    ``capacity`` adds daily pick capacity per location (compact formulation, no aggregation).
    """
    stock = stock_array(network, start) + (0 if receipts is None else receipts)
    reps, counts, member = _aggregate(orders)
    rep_costs = all_order_costs(network, carriers, [orders[k] for k in reps], cost_model)
    weights = [counts[c.order] for c in rep_costs]
    penalty = lost_sale_penalty(rep_costs, cost_model)
    m = [network.inventory_model(orders[reps[c.order]].market, orders[reps[c.order]].channel).max_shipments
         for c in rep_costs] if max_shipments else None
    cap = None
    if capacity:  # aggregated types may span days: only without aggregation is the day exact
        rep_costs = all_order_costs(network, carriers, orders, cost_model)
        weights = [1.0] * len(rep_costs)
        member = list(range(len(orders)))
        m = [network.inventory_model(orders[c.order].market, orders[c.order].channel).max_shipments
             for c in rep_costs] if max_shipments else None
        days = [int(orders[c.order].created_at // HOURS_PER_DAY) for c in rep_costs]
        cap = (days, {i: float(loc.pick_capacity_per_day) for i, loc in enumerate(network.locations)})
    if cap is None:
        result = _solve(rep_costs, weights, stock, penalty, formulation, m)
    else:
        result = solve_fulfilment(rep_costs, weights, stock, penalty, max_shipments=m, capacity=cap)
    by_group = np.zeros(len(orders) if capacity else len(reps))
    for pos, c in enumerate(rep_costs):
        by_group[c.order] = result.per_order[pos]
    result.per_order = by_group[np.array(member, dtype=np.int64)] if len(orders) else np.zeros(0)
    return result


def hindsight_mip(
    network: Network, start: InventoryLedger | Ints, orders: Sequence[Order], carriers: CarrierCatalog,
    cost_model: CostModel = DEFAULT_COSTS, *, receipts: Ints | None = None, max_shipments: bool = False,
    time_limit: float = 60.0,
) -> Bound:
    """The exact hindsight MIP (SCIP), one integer block per order; ``value`` is SCIP's proven bound."""
    stock = stock_array(network, start) + (0 if receipts is None else receipts)
    costs = all_order_costs(network, carriers, orders, cost_model)
    penalty = lost_sale_penalty(costs, cost_model)
    m = [network.inventory_model(orders[c.order].market, orders[c.order].channel).max_shipments
         for c in costs] if max_shipments else None
    result = solve_fulfilment(costs, [1.0] * len(costs), stock, penalty, integer=True, max_shipments=m,
                              time_limit=time_limit)
    per = np.zeros(len(orders))
    for pos, c in enumerate(costs):
        per[c.order] = result.per_order[pos]
    result.per_order = per
    return result
