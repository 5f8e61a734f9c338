"""The fulfilment-method LP (Jasin and Sinha's DLP form), solved by column generation with GLOP.

A *method* of order o is a set U of locations (|U| <= m) with each line shipped from one of them or
lost; its cost is ``sum_{p in U} F_op + sum_i min(penalty q_i, min_{p in U} (q_i a_oip + h_p))`` with
the affine costs of ``dom_core.optimise.costs``. The LP chooses a convex combination of methods per
order (weight w_o) subject to the stock rows:

    min sum_{o,k} c_ok lambda_ok  s.t.  sum_k lambda_ok = w_o,  sum_{o,k} units_ok(s, p) lambda_ok <= stock_sp

It is at least as tight as the compact LP of ``lp`` (it convexifies each order's integer choices) and
has only (orders + stock cells) rows, which GLOP solves far faster than the compact linking rows.
Columns are priced for every order at once by enumerating the location subsets (so this suits
networks with few eligible locations, like the literature's 5 FCs). At every iteration
``master + sum_o w_o min(0, reduced cost_o)`` is a valid lower bound (Lagrangian), so an iteration limit
still returns a bound; at convergence it equals the LP value.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from dom_core.optimise.costs import OrderCosts
from dom_core.optimise.lp import Bound

F = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
MAX_SUBSETS = 4096


def subset_count(n_locations: int, max_shipments: int | None) -> int:
    """Number of non-empty location subsets of size <= max_shipments the pricing enumerates."""
    m = n_locations if max_shipments is None else min(max_shipments, n_locations)
    return sum(math.comb(n_locations, k) for k in range(1, m + 1))


def _dense(
    costs: Sequence[OrderCosts], penalty: float, stock: Ints
) -> tuple[Ints, F, F, F, Ints, Ints]:
    """Global locations G, fixed (n, G), line cost (n, L, G; inf: no stock), lost (n, L), qty, sku (n, L)."""
    glob = np.array(sorted({int(p) for c in costs for p in c.loc}), dtype=np.int64)
    where = {int(p): g for g, p in enumerate(glob)}
    n, n_lines = len(costs), max((len(c.qty) for c in costs), default=0)
    fixed = np.full((n, len(glob)), np.inf)
    line = np.full((n, n_lines, len(glob)), np.inf)
    lost = np.zeros((n, n_lines))
    qty = np.zeros((n, n_lines), dtype=np.int64)
    sku = np.full((n, n_lines), -1, dtype=np.int64)
    for o, c in enumerate(costs):
        cols = [where[int(p)] for p in c.loc]
        fixed[o, cols] = c.fixed
        for i, (s, q) in enumerate(zip(c.sku, c.qty, strict=True)):
            line[o, i, cols] = np.where(stock[s, c.loc] > 0, q * c.unit[i] + c.line, np.inf)
            lost[o, i] = penalty * q
            qty[o, i] = q
            sku[o, i] = s
        line[o, len(c.qty):, :] = 0.0
    return glob, fixed, line, lost, qty, sku


def method_lp(
    costs: Sequence[OrderCosts],
    weights: Sequence[float],
    stock: Ints,
    penalty: float,
    *,
    max_shipments: int | None = None,
    max_iter: int = 200,
    tol: float = 1e-7,
) -> Bound:
    """Solve the method LP; ``shadow`` are the stock duals, ``flow`` the units per (entry, line, location).

    The master is kept in one GLOP model: new columns are added and GLOP re-solves from its last basis.
    """
    from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

    started = time.perf_counter()
    glob, fixed, line, lost, qty, sku = _dense(costs, penalty, stock)
    n, n_lines, n_g = line.shape
    w = np.asarray(weights, dtype=np.float64)
    m = n_g if max_shipments is None else min(max_shipments, n_g)
    subsets = [u for k in range(1, m + 1) for u in itertools.combinations(range(n_g), k)]
    if len(subsets) > MAX_SUBSETS:
        raise ValueError(f"{len(subsets)} location subsets: use the compact LP for this network")
    solver = pywraplp.Solver.CreateSolver("GLOP")
    solver.SetSolverSpecificParametersAsString("use_dual_simplex: true")  # 5-10x faster re-solves here
    conv = [solver.Constraint(float(w[o]), float(w[o])) for o in range(n)]
    stock_ct: dict[tuple[int, int], pywraplp.Constraint] = {}
    for s in np.unique(sku[sku >= 0]).tolist():
        for g in range(n_g):
            if stock[s, glob[g]] > 0:
                stock_ct[(s, g)] = solver.Constraint(-solver.infinity(), float(stock[s, glob[g]]))
    objective = solver.Objective()
    col_o: list[int] = []
    col_cost: list[float] = []
    col_assign: list[Ints] = []
    columns: list[pywraplp.Variable] = []

    def add(o: int, assign: Ints) -> None:
        var = solver.NumVar(0.0, float(w[o]), "")
        conv[o].SetCoefficient(var, 1.0)
        for i in np.flatnonzero(assign >= 0).tolist():
            stock_ct[(int(sku[o, i]), int(assign[i]))].SetCoefficient(var, float(qty[o, i]))
        cost = _true_cost(o, assign, fixed, line, lost)
        objective.SetCoefficient(var, cost)
        col_o.append(o)
        col_cost.append(cost)
        col_assign.append(assign)
        columns.append(var)

    for o in range(n):  # everything lost: always feasible
        add(o, np.full(n_lines, -1, dtype=np.int64))
    for g in range(n_g):  # single-location methods: a warm start that already spreads the stock
        _, single = _price(fixed, line, lost, qty, sku, np.zeros((stock.shape[0], n_g)), [(g,)])
        for o in np.flatnonzero((single >= 0).any(axis=1)).tolist():
            add(o, single[o])
    shadow_g = np.zeros((stock.shape[0], n_g))
    status, value, lagrange = "ITERATION_LIMIT", np.nan, -np.inf
    mu = np.zeros(n)
    for it in range(max_iter):
        best_cost, best_assign = _price(fixed, line, lost, qty, sku, shadow_g, subsets)
        if it:
            rc = best_cost - mu
            lagrange = value + float((w * np.minimum(rc, 0.0)).sum())
            new = np.flatnonzero(rc < -tol * max(1.0, abs(value) / max(1, n)))
            if new.size == 0:
                status = "OPTIMAL"
                break
        else:
            new = np.arange(n)
        for o in new.tolist():
            add(o, best_assign[o])
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            status = "NOT_SOLVED"
            break
        value = objective.Value()
        mu = np.array([c.dual_value() for c in conv])
        for (s, g), ct in stock_ct.items():
            shadow_g[s, g] = max(0.0, -ct.dual_value())
    lam = np.array([v.solution_value() for v in columns])
    bound = value if status == "OPTIMAL" else lagrange
    result = Bound(bound, status, penalty, 0.0, len(col_o), n + len(stock_ct))
    per = np.bincount(np.array(col_o), weights=lam * np.array(col_cost), minlength=n)
    result.per_order = per / np.maximum(w, 1e-12)
    result.shadow = np.zeros(stock.shape)
    result.shadow[:, glob] = shadow_g
    fe, fi, fp, fu = [], [], [], []
    for k in np.flatnonzero(lam > 1e-12).tolist():
        o, assign = col_o[k], col_assign[k]
        for i in np.flatnonzero(assign >= 0).tolist():
            fe.append(o)
            fi.append(i)
            fp.append(int(glob[assign[i]]))
            fu.append(float(lam[k] * qty[o, i]))
    result.flow = (np.array(fe, dtype=np.int64), np.array(fi, dtype=np.int64), np.array(fp, dtype=np.int64),
                   np.array(fu))
    result.seconds = time.perf_counter() - started
    return result


def _price(
    fixed: F, line: F, lost: F, qty: Ints, sku: Ints, shadow: F, subsets: list[tuple[int, ...]]
) -> tuple[F, Ints]:
    """Per order: least dual-adjusted method cost and its line assignment (location slot or -1)."""
    adj = line + np.where(sku[:, :, None] >= 0, qty[:, :, None] * shadow[np.maximum(sku, 0)], 0.0)
    n, n_lines, _ = adj.shape
    best = lost.sum(axis=1)
    assign = np.full((n, n_lines), -1, dtype=np.int64)
    for u in subsets:
        cols = list(u)
        sub = adj[:, :, cols]
        arg = sub.argmin(axis=2)
        low = np.take_along_axis(sub, arg[:, :, None], axis=2)[:, :, 0]
        take = low < lost
        total = fixed[:, cols].sum(axis=1) + np.where(take, low, lost).sum(axis=1)
        better = total < best - 1e-12
        if better.any():
            best = np.where(better, total, best)
            choice = np.where(take, np.array(cols)[arg], -1)
            assign[better] = choice[better]
    return best, assign


def _true_cost(o: int, assign: Ints, fixed: F, line: F, lost: F) -> float:
    """Cost of a method without duals (fixed cost only for locations that ship something)."""
    used = sorted({int(g) for g in assign.tolist() if g >= 0})
    total = float(fixed[o, used].sum())
    for i, g in enumerate(assign.tolist()):
        total += float(line[o, i, g]) if g >= 0 else float(lost[o, i])
    return total
