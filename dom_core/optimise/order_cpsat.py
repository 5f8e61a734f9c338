"""CP-SAT fallback of the per-order optimiser, for orders whose content lattice is too large for the DP.

Model (integers, costs scaled to thousandths):

    x[p, i] units of line i from p, z[p, i] line i ships from p, y[p] p ships, u[i] units unserved
    min  sum_p F_p y_p + sum_{p,i} (a_pi x_pi + h_p z_pi) + w_lost sum_i u_i - split_penalty
    s.t. sum_p x_pi + u_i = q_i;  x_pi <= q_i z_pi;  z_pi <= y_p;  sum_p y_p <= m
         sum_{i in row r} x_pi <= ATP[r, p];  sum_i kg_i x_pi <= heaviest parcel a service takes from p

The shipment score is taken as affine in the units shipped: ``F_p`` is the score of an empty parcel
(fixed price, handling per order, promise, last-mile CO2e, split penalty) and ``a_pi`` the increase
for one unit of line i. This is exact for linear rate cards (the literature's parcel cost) and an
approximation for zone tables (weight brackets); the engine prices the resulting plan exactly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dom_core.carriers import Objective
from dom_core.model import FulfilmentType
from dom_core.optimise.order import OrderSolution, pool_rank
from dom_core.optimise.shipments import Weights, _quotes
from dom_core.strategies.base import SourcingContext

F = npt.NDArray[np.float64]
SCALE = 1000.0
# CP-SAT's deterministic time (work units, not wall seconds) keeps decisions reproducible under load
DETERMINISTIC_LIMIT = 2.0
POOL_WITHOUT_CUTOFF = 24  # the fallback's locations when no cutoff applies (best by score per unit)


def affine_scores(
    ctx: SourcingContext, positions: npt.NDArray[np.intp], weights: Weights, objective: Objective,
    unit_price: F | None,
) -> tuple[F, F, F, F]:
    """Per position: fixed score F (P,), per-unit score a (P, L), per-line score h (P,), max kg (P,)."""
    locs = ctx.network.locations
    n = len(ctx.line_qty)
    kg = np.array([0.0, *ctx.line_kg])
    items = np.array([0.0] + [1.0] * n)
    sig, inverse = np.unique(np.stack([np.round(kg, 9), items]), axis=1, return_inverse=True)
    loc_idx = ctx.cand.take(positions)
    km = ctx.dist.take(positions)
    cut = np.array([locs[i].cutoff_hour for i in loc_idx], dtype=np.float64)
    cost, prom, co2, ok = _quotes(ctx, loc_idx, km, cut, kg, items, sig, inverse.reshape(-1), objective)
    h0 = np.array([locs[i].handling_cost_per_order for i in loc_idx])
    h1 = np.array([locs[i].handling_cost_per_line for i in loc_idx])
    fixed = weights.cost * (cost[:, 0] + h0) + weights.time * (prom[:, 0] - ctx.now) / 24.0
    fixed = fixed + weights.co2 * co2[:, 0] + weights.split_penalty
    per_unit = weights.cost * (cost[:, 1:] - cost[:, :1]) + weights.co2 * (co2[:, 1:] - co2[:, :1])
    if unit_price is not None:
        per_unit = per_unit + unit_price.take(positions, axis=1).take(ctx.line_row, axis=0).T
    if ctx.order.fulfilment in (FulfilmentType.HOME_DELIVERY, FulfilmentType.SHIP_FROM_STORE):
        services = ctx.carriers.parcel_services()
        max_kg = np.array([max((s.max_kg for s in services if d <= s.max_km), default=0.0) for d in km])
    else:  # pickup and ship to store: no parcel limit, unless nothing reaches the store (no transfer)
        max_kg = np.where(ok.any(axis=1), np.inf, 0.0)
    return fixed, per_unit, weights.cost * h1, max_kg


def solve_order_cpsat(
    ctx: SourcingContext,
    weights: Weights,
    positions: npt.NDArray[np.intp],
    cutoff: int | None,
    m: int,
    unit_price: F | None,
    objective: Objective,
) -> OrderSolution:
    """Least affine-score sourcing with CP-SAT over the ``cutoff`` best positions (``pool_rank``; 24
    without a cutoff), hinted with the best single location that can ship the whole order."""
    from ortools.sat.python import cp_model

    fixed, per_unit, per_line, max_kg = affine_scores(ctx, positions, weights, objective, unit_price)
    q = ctx.line_qty
    atp = ctx.atp.take(positions, axis=1)
    cover = np.minimum(atp.take(ctx.line_row, axis=0), np.array(q)[:, None])  # (L, P)
    key = fixed + (per_unit * cover.T).sum(axis=1) + per_line * (cover > 0).sum(axis=0)
    key = key + weights.lost_sale * (sum(q) - cover.sum(axis=0))  # the objective if p shipped alone
    rank = pool_rank(key, cover > 0, positions, POOL_WITHOUT_CUTOFF if cutoff is None else cutoff)
    need = np.array(q)[:, None]
    order_kg = float(np.array(ctx.line_kg) @ np.array(q))
    whole = [r for r in rank if (cover[:, r:r + 1] >= need).all() and order_kg <= max_kg[r]]
    hint = min(whole, key=lambda r: fixed[r] + float(per_unit[r] @ np.array(q)), default=None)
    model = cp_model.CpModel()
    x, z, y = {}, {}, {}
    for p in rank:
        y[p] = model.new_bool_var(f"y{p}")
        for i, qty in enumerate(q):
            if cover[i, p] > 0:
                x[p, i] = model.new_int_var(0, int(cover[i, p]), f"x{p}_{i}")
                z[p, i] = model.new_bool_var(f"z{p}_{i}")
                model.add(x[p, i] <= qty * z[p, i])
                model.add_implication(z[p, i], y[p])
        for r in range(atp.shape[0]):
            terms = [x[p, i] for i in range(len(q)) if ctx.line_row[i] == r and (p, i) in x]
            if len(terms) > 1:
                model.add(sum(terms) <= int(atp[r, p]))
        if np.isfinite(max_kg[p]):
            grams = [(x[p, i], round(ctx.line_kg[i] * 1000)) for i in range(len(q)) if (p, i) in x]
            model.add(sum(g * v for v, g in grams) <= round(max_kg[p] * 1000))
    u = [model.new_int_var(0, qty, f"u{i}") for i, qty in enumerate(q)]
    for i, qty in enumerate(q):
        model.add(sum(x[p, i] for p in rank if (p, i) in x) + u[i] == qty)
    model.add(sum(y.values()) <= m)
    obj = [round(fixed[p] * SCALE) * y[p] for p in rank]
    obj += [round(per_unit[p, i] * SCALE) * x[p, i] + round(per_line[p] * SCALE) * z[p, i] for (p, i) in x]
    obj += [round(weights.lost_sale * SCALE) * v for v in u]
    if hint is not None:  # the best single location shipping everything: a good first solution
        for (p, i), var in x.items():
            model.add_hint(var, q[i] if p == hint else 0)
        for p, var in y.items():
            model.add_hint(var, p == hint)
    model.minimize(sum(obj))
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = DETERMINISTIC_LIMIT
    solver.parameters.num_workers = 1
    status = solver.solve(model)
    sol = OrderSolution(method="cpsat", pool=[int(positions[p]) for p in rank])
    sol.rank_key = {int(positions[p]): float(key[p]) for p in rank}
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        sol.unserved = sum(q)
        sol.value = weights.lost_sale * sol.unserved
        return sol
    served = 0
    for (p, i), var in x.items():
        qty = int(solver.value(var))
        if qty:
            sol.picks.setdefault(int(positions[p]), {})[i] = qty
            served += qty
    sol.unserved = sum(q) - served
    sol.value = solver.objective_value / SCALE - (weights.split_penalty if sol.picks else 0.0)
    return sol
