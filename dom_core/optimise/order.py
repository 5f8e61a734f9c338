"""Exact per-order sourcing: which locations ship which units of one order, at least total score.

Problem (one order, lines i with quantity q_i, candidate locations p):

    min  sum_p score[p, c_p] + w_lost * (sum_i q_i - sum_p |c_p|) - split_penalty * [any shipment]
    s.t. sum_p c_p <= q            (contents c_p are unit vectors per line, 0 <= c_p)
         c_p feasible at p         (ATP per SKU row, a carrier takes the parcel)
         |{p : c_p != 0}| <= m     (max_shipments)

``score`` is ``shipments.shipment_table`` (any rate card: the carrier quote of the exact content).

Solution method (exact within the candidate pool):

1. *Cutoff.* With ``cutoff``, only ``cutoff`` locations are considered (the model's stock-locations
   cutoff, applied after this strategy's own ranking): those with the best objective when shipping
   alone, keeping slots for lines no better-ranked location holds (``pool_rank``).
2. *Sound pruning.* For every content c keep only the m cheapest locations able to ship it (ties by
   position). If an optimum ships c from a location with m cheaper ones, at most m - 1 of those are
   in use, so c can move to a free one without raising the score (swap argument); iterating this on
   an optimum that is minimal in positions shows one optimum survives the pruning.
3. *Dynamic programme over locations* with state (units still to source, shipments used): this is
   the enumeration of every location subset of size <= m together with every split of the units
   over it, sharing the work of common prefixes. O(pool x m x pairs(c <= s)).
4. Orders whose lattice is too large for the DP go to a CP-SAT model (``order_cpsat``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dom_core.carriers import Objective
from dom_core.optimise.shipments import Lattice, Weights, lattice, shipment_table
from dom_core.strategies.base import SourcingContext

F = npt.NDArray[np.float64]
MAX_DP_WORK = 250_000  # pool x m x pairs above which the CP-SAT model is used
MAX_LATTICE = 4096


@dataclass(slots=True)
class OrderSolution:
    """The optimiser's answer: units per candidate position and line, and its objective value."""

    picks: dict[int, dict[int, int]] = field(default_factory=dict)  # position -> {line: qty}
    value: float = 0.0
    unserved: int = 0
    pool: list[int] = field(default_factory=list)  # positions considered, best rank first
    rank_key: dict[int, float] = field(default_factory=dict)  # position -> objective if it shipped alone
    method: str = "dp"


def solve_order(
    ctx: SourcingContext,
    weights: Weights,
    *,
    cutoff: int | None = None,
    max_shipments: int | None = None,
    exclude: npt.NDArray[np.bool_] | None = None,
    unit_price: F | None = None,
    objective: Objective = Objective.CHEAPEST,
) -> OrderSolution:
    """Exact least-score sourcing of one order (see the module docstring).

    ``exclude`` marks candidate positions that may not ship (e.g. no pick capacity left today);
    ``unit_price`` (SKU rows x candidates) adds a price per unit taken (dual values of stock).
    """
    m = ctx.model.max_shipments if max_shipments is None else max_shipments
    q = tuple(ctx.line_qty)
    total = sum(q)
    useful = (ctx.atp > 0).any(axis=0)
    if exclude is not None:
        useful &= ~exclude
    positions = np.flatnonzero(useful)
    empty = OrderSolution(value=weights.lost_sale * total, unserved=total, method="none")
    if positions.size == 0 or m < 1:
        return empty
    size = math.prod(qty + 1 for qty in q)
    if size > MAX_LATTICE:
        from dom_core.optimise.order_cpsat import solve_order_cpsat

        return solve_order_cpsat(ctx, weights, positions, cutoff, m, unit_price, objective)
    lat = lattice(q)
    table = shipment_table(ctx, positions, lat, weights, objective, unit_price)
    units = np.asarray(lat.units, dtype=np.float64)
    units[0] = 0.0
    alone = (table + weights.lost_sale * (total - units)[None, :]).min(axis=1)  # objective shipping alone
    covers = ctx.atp.take(positions, axis=1).take(ctx.line_row, axis=0) > 0
    rank = np.array(pool_rank(alone, covers, positions, cutoff), dtype=np.intp)
    if rank.size == 0:
        return empty
    keep = _prune(table, rank, m)
    if len(keep) * m * lat.n_pairs > MAX_DP_WORK:
        from dom_core.optimise.order_cpsat import solve_order_cpsat

        return solve_order_cpsat(ctx, weights, positions[rank], None, m, unit_price, objective)
    rows = [table[r].tolist() for r in keep]
    value, used = _dp(rows, lat, m, weights)
    sol = OrderSolution(value=value, method="dp")
    sol.pool = [int(positions[r]) for r in rank]
    sol.rank_key = {int(positions[r]): float(alone[r]) for r in rank}
    served = 0
    for idx, k in used:
        pos = int(positions[keep[idx]])
        vec = lat.content[k]
        sol.picks[pos] = {i: int(qty) for i, qty in enumerate(vec.tolist()) if qty}
        served += lat.units[k]
    sol.unserved = total - served
    return sol


def pool_rank(
    alone: F, covers: npt.NDArray[np.bool_], positions: npt.NDArray[np.intp], cutoff: int | None
) -> list[int]:
    """Locations (indices) ranked by their objective when shipping alone (ties by position), only those
    able to ship something; with a cutoff, the first ``cutoff``, except that slots are kept for lines
    no location chosen so far holds (so a line with stock in the network is never cut off)."""
    order = [int(r) for r in np.lexsort((positions, alone)) if covers[:, r].any()]
    if cutoff is None or len(order) <= cutoff:
        return order
    coverable = covers[:, order].any(axis=1)
    covered = np.zeros(covers.shape[0], dtype=bool)
    chosen: list[int] = []
    rest = order
    while len(chosen) < cutoff and rest:
        missing = coverable & ~covered
        if int(missing.sum()) >= cutoff - len(chosen):
            r = next(r for r in rest if (covers[:, r] & missing).any())
        else:
            r = rest[0]
        rest = [x for x in rest if x != r]
        chosen.append(r)
        covered |= covers[:, r]
    return chosen


def _prune(table: F, rank: npt.NDArray[np.intp], m: int) -> list[int]:
    """Rows (of ``table``) among ``rank`` that are among the m cheapest for some content, by position."""
    sub = table[rank][:, 1:]  # (P', K - 1) rows in rank order, the empty content left out
    if sub.shape[0] <= m:
        return sorted(int(r) for r in rank)
    order = np.argsort(sub, axis=0, kind="stable")[:m]  # per content, the m cheapest rows
    top = np.take_along_axis(sub, order, axis=0)
    hits = order[np.isfinite(top)]
    return sorted({int(rank[h]) for h in hits.tolist()})


def _dp(
    rows: list[list[float]], lat: Lattice, m: int, weights: Weights
) -> tuple[float, list[tuple[int, int]]]:
    """DP over locations; returns (objective, [(row index, content index)] of the shipments used)."""
    inf = math.inf
    size = lat.size
    full = size - 1
    subs = lat.subs
    dp = [[inf] * size for _ in range(m + 1)]
    reach: list[set[int]] = [set() for _ in range(m + 1)]
    dp[0][full] = 0.0
    reach[0].add(full)
    choices: list[dict[tuple[int, int], int]] = []
    for p, row in enumerate(rows):
        choice: dict[tuple[int, int], int] = {}
        for k in range(min(m, p + 1), 0, -1):
            prev, cur, hit = dp[k - 1], dp[k], reach[k]
            for s in reach[k - 1]:
                base = prev[s]
                for c in subs[s]:
                    cost = row[c]
                    if cost == inf:
                        continue
                    v = base + cost
                    t = s - c
                    if v < cur[t]:
                        cur[t] = v
                        choice[(k, t)] = c
                        hit.add(t)
        choices.append(choice)
    best, best_k, best_t = inf, 0, full
    lost, split = weights.lost_sale, weights.split_penalty
    for k in range(m + 1):
        for t in sorted(reach[k]):
            v = dp[k][t] + lost * lat.units[t] - (split if k else 0.0)
            if v < best - 1e-12:
                best, best_k, best_t = v, k, t
    used: list[tuple[int, int]] = []
    k, t, p = best_k, best_t, len(rows) - 1
    while k > 0:
        while (k, t) not in choices[p]:
            p -= 1
        c = choices[p][(k, t)]
        used.append((p, c))
        k, t, p = k - 1, t + c, p - 1
    return best, used
