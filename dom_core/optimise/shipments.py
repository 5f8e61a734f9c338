"""What one shipment of a given content from a given location costs: the per-order optimiser's table.

An order's *content lattice* holds every vector ``c`` with ``0 <= c_i <= q_i`` (units of each line),
numbered in mixed radix (``index = sum_i c_i * stride_i``, so ``index(s - c) = index(s) - index(c)``
when ``c <= s``). ``shipment_table`` scores shipping content ``c`` from candidate ``p`` as the engine
would realise it:

    score[p, c] = w_cost * (carrier cost + handling per order + handling per line x lines in c)
                  + w_time * promised days + w_co2 * kg CO2e + split_penalty + sum_i c_i * price[row_i, p]

with the carrier quote chosen by ``CarrierCatalog.choose`` rules (cheapest service meeting the
deadline), pickup-in-store and ship-to-store priced like the engine (pickup: free; ship to store: the
transfer service, none from another location without one). ``inf`` marks a content the location cannot
ship (ATP short or no carrier).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dom_core.carriers import Objective
from dom_core.model import FulfilmentType
from dom_core.optimise.quotes import quote_grid
from dom_core.strategies.base import SourcingContext

F = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Weights:
    """Objective weights of the per-order optimiser (per order, summed over its shipments)."""

    cost: float = 1.0  # per unit of money (shipping + handling)
    time: float = 0.0  # per promised delivery day of each shipment
    co2: float = 0.0  # per kg CO2e
    split_penalty: float = 0.0  # per shipment beyond the first
    lost_sale: float = 1000.0  # per unit left unserved


@dataclass(frozen=True, slots=True)
class Lattice:
    """Every content vector of an order with quantities ``q``."""

    q: tuple[int, ...]
    strides: tuple[int, ...]
    content: Ints  # (K, L) units of each line
    units: tuple[int, ...]  # per content
    subs: tuple[tuple[int, ...], ...]  # per state s: the non-zero contents c <= s
    n_pairs: int

    @property
    def size(self) -> int:
        """Number of contents K (including the empty one, index 0; the whole order is K - 1)."""
        return int(self.content.shape[0])


@lru_cache(maxsize=4096)
def lattice(q: tuple[int, ...], with_subs: bool = True) -> Lattice:
    """The content lattice of quantities ``q`` (cached: orders repeat their shapes)."""
    strides = []
    acc = 1
    for qty in q:
        strides.append(acc)
        acc *= qty + 1
    grids = np.indices(tuple(qty + 1 for qty in reversed(q))).reshape(len(q), -1)[::-1].T
    content = np.ascontiguousarray(grids, dtype=np.int64)  # row k is the content with index k
    units = tuple(int(u) for u in content.sum(axis=1))
    subs: tuple[tuple[int, ...], ...] = ()
    n_pairs = 0
    if with_subs:
        # le[s, c]: content c fits in state s
        le: npt.NDArray[np.bool_] = np.asarray((content[None, :, :] <= content[:, None, :]).all(axis=2))
        le[:, 0] = False
        subs = tuple(tuple(np.flatnonzero(row).tolist()) for row in le)
        n_pairs = int(le.sum())
    return Lattice(q, tuple(strides), content, units, subs, n_pairs)


def feasible(ctx: SourcingContext, positions: npt.NDArray[np.intp], lat: Lattice) -> npt.NDArray[np.bool_]:
    """(P, K): can candidate ``positions[p]`` ship content k from its ATP (lines of a SKU share a row)?"""
    n_rows = ctx.atp.shape[0]
    by_row = np.zeros((n_rows, lat.size), dtype=np.int64)
    for i, r in enumerate(ctx.line_row):
        by_row[r] += lat.content[:, i]
    atp = ctx.atp.take(positions, axis=1)  # (R, P)
    ok: npt.NDArray[np.bool_] = np.asarray((by_row[:, None, :] <= atp[:, :, None]).all(axis=0))
    return ok


def shipment_table(
    ctx: SourcingContext,
    positions: npt.NDArray[np.intp],
    lat: Lattice,
    weights: Weights,
    objective: Objective = Objective.CHEAPEST,
    unit_price: F | None = None,
) -> F:
    """(P, K) score of shipping each content from each candidate position (inf: impossible)."""
    locs = ctx.network.locations
    content = lat.content
    kg_per = np.asarray(ctx.line_kg, dtype=np.float64)
    kg = content @ kg_per
    items = content.sum(axis=1).astype(np.float64)
    n_lines = (content > 0).sum(axis=1).astype(np.float64)
    sig, inverse = np.unique(np.stack([np.round(kg, 9), items]), axis=1, return_inverse=True)
    inverse = inverse.reshape(-1)
    loc_idx = ctx.cand.take(positions)
    km = ctx.dist.take(positions)
    cut = np.array([locs[i].cutoff_hour for i in loc_idx], dtype=np.float64)
    cost, prom, co2, ok = _quotes(ctx, loc_idx, km, cut, kg, items, sig, inverse, objective)
    h0 = np.array([locs[i].handling_cost_per_order for i in loc_idx])
    h1 = np.array([locs[i].handling_cost_per_line for i in loc_idx])
    score: F = weights.cost * (cost + h0[:, None] + h1[:, None] * n_lines[None, :])
    if weights.time:
        score = score + weights.time * (prom - ctx.now) / 24.0
    if weights.co2:
        score = score + weights.co2 * co2
    score = score + weights.split_penalty
    if unit_price is not None:
        price = unit_price.take(positions, axis=1)  # (R, P)
        per_line = price.take(np.asarray(ctx.line_row, dtype=np.intp), axis=0)  # (L, P)
        score = score + per_line.T @ content.T
    score = np.where(ok & feasible(ctx, positions, lat), score, np.inf)
    score[:, 0] = 0.0
    return score


def _quotes(
    ctx: SourcingContext, loc_idx: npt.NDArray[np.intp], km: F, cut: F, kg: F, items: F, sig: F,
    inverse: npt.NDArray[np.intp], objective: Objective,
) -> tuple[F, F, F, npt.NDArray[np.bool_]]:
    """(P, K) carrier cost, promise, CO2e and whether a service takes the parcel."""
    order = ctx.order
    shape = (len(loc_idx), kg.shape[0])
    if order.fulfilment in (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE):
        from dom_core.engine import _pickup_ready  # lazy: the engine imports the strategies

        cost, prom, co2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        ok = np.ones(shape, dtype=bool)
        transfer = ctx.carriers.transfer()
        for p, i in enumerate(loc_idx):
            loc = ctx.network.locations[i]
            if order.fulfilment is FulfilmentType.PICKUP_IN_STORE or loc.id == order.pickup_location:
                prom[p] = _pickup_ready(ctx.now, loc.cutoff_hour)
                continue
            if transfer is None:  # nothing reaches the store from elsewhere
                ok[p] = False
                continue
            for k in range(1, shape[1]):
                q = transfer.quote(ctx.now, loc.cutoff_hour, float(km[p]), float(kg[k]), int(items[k]))
                cost[p, k], prom[p, k], co2[p, k] = q.cost, q.promised_at, q.co2_kg
        return cost, prom, co2, ok
    grid = quote_grid(ctx.carriers, objective, ctx.now, cut, km, sig[0], sig[1], ctx.deadline)
    return (
        grid.cost[:, inverse], grid.promised_at[:, inverse], grid.co2_kg[:, inverse],
        grid.service[:, inverse] >= 0,
    )
