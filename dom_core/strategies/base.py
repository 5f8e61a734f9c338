"""The strategy protocol, the sourcing context a strategy works on, and the plan it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import sub
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from dom_core.calendar import WorkCalendar
from dom_core.capacity import CapacityBook
from dom_core.carriers import CarrierCatalog, Objective
from dom_core.inventory import InventoryLedger
from dom_core.model import Order
from dom_core.network import NEAR_TIE, InventoryModel, Network
from dom_core.registry import Registry

IntpArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class SourcingContext:
    """Everything a strategy may look at for one order; built by the engine, read-only to strategies.

    ``cand`` holds the eligible location indices in the inventory model's priority order (position 0
    is the primary). ``atp[r, j]`` is the ATP of SKU row ``r`` at candidate ``j``; order lines map to
    rows through ``line_row`` (two lines of one SKU share a row, so they share its stock).
    """

    order: Order
    network: Network
    model: InventoryModel
    ledger: InventoryLedger
    carriers: CarrierCatalog
    now: float
    dest_lat: float
    dest_lon: float
    deadline: float | None
    line_qty: list[int]
    line_kg: list[float]
    line_row: list[int]
    row_sku: list[int]
    cand: IntpArray
    atp: npt.NDArray[np.int64]
    capacity: CapacityBook | None = None  # the engine's daily pick-capacity book, when it keeps one
    explain: bool = False  # an explanation is wanted: strategies may skip work only it uses otherwise
    _dist: FloatArray | None = field(default=None, repr=False)
    _near: FloatArray | None = field(default=None, repr=False)
    _point: tuple[float, float] | None = field(default=None, repr=False)  # Network.point of the destination
    _dist_some: dict[int, float] = field(default_factory=dict, repr=False)  # position -> km, while no _dist
    calendar: WorkCalendar | None = field(default=None, repr=False)  # the engine's, when it has one

    @property
    def dist(self) -> FloatArray:
        """Great-circle km from each candidate to the destination (computed on first use)."""
        if self._dist is None:
            self._dist = self.network.distances_km(self.dest_lat, self.dest_lon).take(self.cand)
        return self._dist

    def dist_of(self, positions: Sequence[int]) -> list[float]:
        """``dist[positions]`` as floats, computing only those candidates unless ``dist`` is already known.

        Values are equal to ``dist``'s (same rounding, same float operations); computed ones are kept.
        """
        if self._dist is not None:
            return [float(self._dist[j]) for j in positions]
        known = self._dist_some
        cand = self.cand
        if not known:  # the usual case: the shipping locations, asked for once
            row = self.network.known_distances_km(self.point)
            if row is not None:  # another run on this destination computed them all: read them
                return [row.item(cand.item(j)) for j in positions]
            km = self.network.distances_km_few(self.point, [cand.item(j) for j in positions])
            known.update(zip(positions, km, strict=True))
            return km
        missing = [j for j in positions if j not in known]
        if missing:
            km = self.network.distances_km_few(self.point, [cand.item(j) for j in missing])
            known.update(zip(missing, km, strict=True))
        return [known[j] for j in positions]

    def dist_at(self, positions: IntpArray) -> FloatArray:
        """``dist.take(positions)``, computing only those candidates unless ``dist`` is known (as dist_of)."""
        if self._dist is not None:
            return self._dist.take(positions)
        km = self.network.distances_km_to(self.dest_lat, self.dest_lon, self.cand.take(positions))
        self._dist_some.update(zip(positions.tolist(), km.tolist(), strict=True))
        return km

    @property
    def point(self) -> tuple[float, float]:
        """``Network.point`` of the destination."""
        if self._point is None:
            self._point = self.network.point(self.dest_lat, self.dest_lon)
        return self._point

    @property
    def nearness(self) -> FloatArray:
        """``Network.nearness`` per candidate: ordered as ``dist`` wherever keys differ by > NEAR_TIE."""
        if self._near is None:
            self._near = self.network.nearness(self.point).take(self.cand)
        return self._near

    def nearest(self, k: int) -> list[int]:
        """Positions of the ``k`` nearest candidates, nearest first, ties in position order.

        Equal to ``np.argsort(self.dist, kind="stable")[:k].tolist()``. Ranked by ``nearness`` when its
        keys separate those ``k`` from each other and from the rest by more than ``NEAR_TIE`` (nearly
        always), so no distance is computed; by the distances themselves otherwise.
        """
        if self._dist is None:
            key = self.nearness
            if len(key) <= 256:  # sorting a few hundred keys costs less than partitioning and filtering
                top = key.argsort()[: k + 1]
            else:  # those within NEAR_TIE of the k-th smallest key, sorted (more than k: too close to call)
                top = (key <= np.partition(key, k - 1)[k - 1] + NEAR_TIE).nonzero()[0]
                top = top.take(key.take(top).argsort()) if len(top) == k else top[:0]
            ranked = key.take(top).tolist()
            # each of the first k apart from the next (the k+1-th, if any, included) by more than NEAR_TIE
            if len(ranked) == 1 or (ranked and min(map(sub, ranked[1:], ranked)) > NEAR_TIE):
                order: list[int] = top[:k].tolist()
                return order
        return nearest_by_distance(self.dist, k)

    @property
    def n_lines(self) -> int:
        """Number of (non-digital) lines to source."""
        return len(self.line_qty)

    def stock(self, positions: Sequence[int] | IntpArray) -> dict[int, list[int]]:
        """Mutable per-candidate ATP rows for the given candidate positions: {position: [atp per row]}."""
        if isinstance(positions, range) and positions.step == 1:  # a slice is cheaper than fancy indexing
            cols = self.atp[:, positions.start : positions.stop].T.tolist()
        else:
            cols = self.atp.take(np.asarray(positions, dtype=np.intp), axis=1).T.tolist()
        keys = positions.tolist() if isinstance(positions, np.ndarray) else positions
        return dict(zip(keys, cols, strict=True))

    def row_units(self) -> list[int]:
        """Units the order needs of each SKU row (lines of one SKU added up), as a list."""
        need = [0] * self.atp.shape[0]
        for r, qty in zip(self.line_row, self.line_qty, strict=True):  # np.add.at costs more on a few lines
            need[r] += qty
        return need

    def row_need(self) -> npt.NDArray[np.int64]:
        """``row_units`` as an array."""
        return np.array(self.row_units(), dtype=np.int64)

    def covers_order(self) -> npt.NDArray[np.bool_]:
        """For every candidate: can it ship the whole order alone?"""
        covers: npt.NDArray[np.bool_] = np.all(self.atp >= self.row_need()[:, None], axis=0)
        return covers

    def units_coverable(self) -> npt.NDArray[np.int64]:
        """For every candidate: how many of the order's units it could ship."""
        units: npt.NDArray[np.int64]
        if self.atp.shape[0] == 1:  # one SKU (nearly half the orders): no sum over rows
            units = np.minimum(self.atp[0], sum(self.line_qty))
        else:
            units = np.minimum(self.atp, self.row_need()[:, None]).sum(axis=0)
        return units


@dataclass(slots=True)
class Plan:
    """A strategy's answer: units per candidate position and line, optional transfers, and its reasons."""

    picks: dict[int, dict[int, int]] = field(default_factory=dict)  # position -> {line: qty}
    transfers: list[tuple[int, int, int, int]] = field(default_factory=list)  # (from, to, line, qty)
    considered: list[int] = field(default_factory=list)  # positions in the order considered
    scores: dict[int, float] | None = None
    why: str = ""
    shortfall: str = "not enough ATP at the locations considered"

    def take(self, position: int, line: int, qty: int) -> None:
        """Add ``qty`` of ``line`` from candidate ``position``."""
        lines = self.picks.setdefault(position, {})
        lines[line] = lines.get(line, 0) + qty


class Strategy(Protocol):
    """A sourcing strategy: turns a context into a plan. Registered by name in the registry."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective]

    def plan(self, ctx: SourcingContext) -> Plan:
        """Decide which candidate ships which units."""
        ...


STRATEGIES = Registry("strategy")
register = STRATEGIES.register


def nearest_by_distance(dist: FloatArray, k: int) -> list[int]:
    """``np.argsort(dist, kind="stable")[:k].tolist()``: the k nearest, ties by position.

    Without sorting them all: every candidate farther than the k-th smallest distance ranks after the k
    nearest, so only those at most that far are sorted (in position order, stably: ties keep the priority
    order).
    """
    near = np.flatnonzero(dist <= np.partition(dist, k - 1)[k - 1])
    order: list[int] = near.take(np.argsort(dist.take(near), kind="stable")[:k]).tolist()
    return order


def units_coverable_by(ctx: SourcingContext, avail: list[int], remaining: list[int]) -> int:
    """Units of ``remaining`` (per line) a candidate holding ``avail`` (per SKU row) can ship; lines of
    one SKU share its row."""
    units = 0
    used: dict[int, int] = {}
    for i, need in enumerate(remaining):
        r = ctx.line_row[i]
        take = min(need, avail[r] - used.get(r, 0))
        if take > 0:
            units += take
            used[r] = used.get(r, 0) + take
    return units


def walk(
    ctx: SourcingContext,
    order: Sequence[int],
    *,
    whole_lines: bool = False,
    max_shipments: int | None = None,
    plan: Plan | None = None,
) -> Plan:
    """Walk candidates in ``order`` taking min(ATP, still needed) of each line (Magento's priority walk).

    With ``whole_lines`` a line is only taken from a location that has all of it (split by line
    items). Stops when every line is served or ``max_shipments`` locations are used.
    """
    plan = plan or Plan()
    limit = ctx.model.max_shipments if max_shipments is None else max_shipments
    remaining = list(ctx.line_qty)
    line_row, atp = ctx.line_row, ctx.atp
    picks, considered = plan.picks, plan.considered
    stock: dict[int, list[int]] = {}  # ATP rows of the candidates visited (usually a few of ``order``)
    one_row = atp.shape[0] == 1
    left = sum(remaining)
    for j in order:
        if left == 0 or len(picks) >= limit:
            break
        considered.append(j)
        avail = stock.get(j)
        if avail is None:
            avail = stock[j] = [atp.item(0, j)] if one_row else atp[:, j].tolist()
        for i, need in enumerate(remaining):
            if need == 0:
                continue
            r = line_row[i]
            have = avail[r]
            take = (need if have >= need else 0) if whole_lines else (have if have < need else need)
            if take:
                lines = picks.get(j)
                if lines is None:
                    lines = picks[j] = {}
                lines[i] = lines.get(i, 0) + take  # plan.take(j, i, take)
                avail[r] -= take
                remaining[i] -= take
                left -= take
    if left and len(picks) >= limit:
        plan.shortfall = f"max_shipments {limit} reached"
    return plan
