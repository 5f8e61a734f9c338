"""Returns: where a returned unit goes, what happens to it (disposition) and how much is refunded.

``ReturnsEngine.decide(request, ledger)`` is pure; ``process`` also puts restocked units back on hand
in the ledger. Return-location policies are classes registered by name, like sourcing strategies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pydantic

from dom_core.decision import CandidateNote, Explanation
from dom_core.errors import DomError, InvalidQuantityError
from dom_core.geo import EARTH_RADIUS_KM, haversine_many_km
from dom_core.inventory import InventoryLedger
from dom_core.model import Capability, check_coordinates
from dom_core.network import NEAR_TIE, InventoryModel, Network
from dom_core.registry import Registry

E = TypeVar("E", bound=StrEnum)


class ReturnReason(StrEnum):
    """Why the customer sends the unit back."""

    CHANGED_MIND = "changed_mind"
    DOES_NOT_FIT = "does_not_fit"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"


MERCHANT_FAULT = frozenset({ReturnReason.DEFECTIVE, ReturnReason.WRONG_ITEM, ReturnReason.DAMAGED_IN_TRANSIT})


class Grade(StrEnum):
    """Condition found at inspection: A as new, B good but opened, C damaged, D defective/unsellable."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Disposition(StrEnum):
    """What happens to a returned unit after inspection."""

    RESTOCK = "restock"
    REFURBISH = "refurbish"
    DISPOSE = "dispose"


DEFAULT_DISPOSITION: Mapping[Grade, Disposition] = {
    Grade.A: Disposition.RESTOCK,
    Grade.B: Disposition.RESTOCK,
    Grade.C: Disposition.REFURBISH,
    Grade.D: Disposition.DISPOSE,
}
DEFAULT_REFUND_SHARE: Mapping[Grade, float] = {Grade.A: 1.0, Grade.B: 1.0, Grade.C: 0.5, Grade.D: 0.0}


def _enum(kind: type[E], value: str, field_name: str) -> E:
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        raise DomError(field_name, f"{value!r} is not one of {[m.value for m in kind]}") from None


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    """One line (or part of one) that a customer returns, as graded at inspection.

    ``market``/``channel`` find the inventory model (and so its return locations); ``shipped_from``
    is the location that shipped the unit, ``requested_location`` where the customer wants to drop it.
    """

    order_id: str
    line_id: str
    sku: str
    qty: int
    reason: ReturnReason
    grade: Grade
    lat: float
    lon: float
    market: str
    channel: str
    unit_price_paid: float
    days_since_delivery: float
    shipped_from: str | None = None
    requested_location: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.qty, bool) or not isinstance(self.qty, int) or self.qty <= 0:
            p = self.field_prefix
            raise InvalidQuantityError(f"{p}.qty", f"must be a positive integer, got {self.qty!r}")
        if not isinstance(self.reason, ReturnReason):
            object.__setattr__(
                self, "reason", _enum(ReturnReason, self.reason, f"{self.field_prefix}.reason")
            )
        if not isinstance(self.grade, Grade):
            object.__setattr__(self, "grade", _enum(Grade, self.grade, f"{self.field_prefix}.grade"))
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            check_coordinates(self.lat, self.lon, self.field_prefix)
        if not self.days_since_delivery >= 0:  # also catches NaN
            p = self.field_prefix
            raise DomError(f"{p}.days_since_delivery", f"must be >= 0, got {self.days_since_delivery}")
        if not (math.isfinite(self.unit_price_paid) and self.unit_price_paid >= 0):
            p = self.field_prefix
            raise DomError(f"{p}.unit_price_paid", f"must be finite and >= 0, got {self.unit_price_paid}")

    @property
    def field_prefix(self) -> str:
        """How errors name this request, e.g. ``return[O1/L1]``."""
        return f"return[{self.order_id}/{self.line_id}]"

    @property
    def ref(self) -> str:
        """Ledger reference of the restock movement."""
        return f"return:{self.order_id}/{self.line_id}"


@dataclass(frozen=True, slots=True)
class ReturnDecision:
    """What the engine decided for a return; ``rejected`` holds the reason when it was refused.

    ``refund`` is what the customer gets back, after deducting ``fee`` (the return shipping fee).
    The explanation lists the eligible locations nearest first (atp of the SKU, score = km).
    """

    request: ReturnRequest
    explanation: Explanation
    location: str | None = None
    disposition: Disposition | None = None
    refund: float = 0.0
    fee: float = 0.0
    restocked_qty: int = 0
    rejected: str | None = None

    @property
    def accepted(self) -> bool:
        """True unless the return was rejected."""
        return self.rejected is None


class _NearestIndex:
    """The nearest of a fixed set of locations to a point, looking at only a few of them.

    Points fall in cells of ``CELL_DEG`` degrees. A cell (set up on its first point) keeps the locations
    at most ``2 r`` (plus a margin) farther from its centre than the nearest one is, ``r`` bounding the
    distance from the centre to any point of the cell: by the triangle inequality every location left out
    is farther from every point of the cell than that one, so the nearest (and any tied with it) is kept.
    Among several, keys like ``Network.nearness`` (minus the cosine of the central angle) decide where
    they differ by more than ``NEAR_TIE``.
    """

    CELL_DEG = 0.2
    MARGIN_KM = 0.01  # far more than the rounding error of any distance involved

    __slots__ = ("_cells", "_lats", "_lons", "_units")

    def __init__(self, network: Network, idx: npt.NDArray[np.intp]) -> None:
        """The index over locations ``idx`` of ``network``."""
        self._lats, self._lons = network.lats.take(idx), network.lons.take(idx)
        # the rows Network.nearness multiplies: minus each location's unit vector
        self._units = [tuple(row) for row in network._neg_unit.take(idx, axis=0).tolist()]
        self._cells: dict[tuple[int, int], tuple[int, ...]] = {}

    def nearest(self, lat: float, lon: float) -> int | None:
        """Position of the location nearest to (lat, lon); None when too close to call (or near a pole)."""
        if not -89.0 < lat < 89.0:  # cells stay clear of the poles
            return None
        cell = (math.floor(lat / self.CELL_DEG), math.floor(lon / self.CELL_DEG))
        near = self._cells.get(cell) or self._cell(cell)
        if len(near) == 1:
            return near[0]
        p, q = math.radians(lat), math.radians(lon)
        cos_p = math.cos(p)
        x, y, z = cos_p * math.cos(q), cos_p * math.sin(q), math.sin(p)
        units = self._units
        best = second = math.inf
        at = near[0]
        for k in near:
            a, b, c = units[k]
            key = a * x + b * y + c * z
            if key < second:
                if key < best:
                    best, second, at = key, best, k
                else:
                    second = key
        return at if second > best + NEAR_TIE else None

    def _cell(self, cell: tuple[int, int]) -> tuple[int, ...]:
        h = self.CELL_DEG
        lo, hi = cell[0] * h, (cell[0] + 1) * h
        # a meridian then a parallel arc from the centre reach any point of the cell
        widest = 1.0 if lo < 0.0 < hi else max(math.cos(math.radians(lo)), math.cos(math.radians(hi)))
        r = EARTH_RADIUS_KM * math.radians(h / 2) * (1.0 + widest)
        km = haversine_many_km((cell[0] + 0.5) * h, (cell[1] + 0.5) * h, self._lats, self._lons)
        near = tuple(np.flatnonzero(km <= km.min() + 2 * r + self.MARGIN_KM).tolist())
        self._cells[cell] = near
        return near


@dataclass(frozen=True, slots=True)
class _Candidates:
    """An inventory model's eligible return locations as arrays (built once per model)."""

    idx: npt.NDArray[np.intp]
    priority: npt.NDArray[np.int64]
    members: frozenset[int]
    index: _NearestIndex


@dataclass(frozen=True, slots=True, eq=False)
class ReturnContext:
    """What a return-location policy sees: the eligible location indices ``idx`` and their ``km`` from
    the customer (``km``, ``cand`` (nearest first) and ``dist`` are computed on first use).

    ``explain`` is False when the decision's explanation carries no notes, so policies may skip remarks.
    """

    request: ReturnRequest
    network: Network
    ledger: InventoryLedger
    sku: int
    idx: npt.NDArray[np.intp]
    priority: npt.NDArray[np.int64]
    members: frozenset[int]
    explain: bool = True
    _km: list[npt.NDArray[np.float64]] = field(default_factory=list, repr=False)
    _sorted: list[tuple[tuple[int, ...], dict[int, float]]] = field(default_factory=list, repr=False)
    _index: _NearestIndex | None = field(default=None, repr=False)

    @property
    def km(self) -> npt.NDArray[np.float64]:
        """Great-circle km from the customer to each of ``idx``."""
        if not self._km:
            r = self.request
            self._km.append(self.network.distances_km_to(r.lat, r.lon, self.idx))
        return self._km[0]

    def _order(self) -> tuple[tuple[int, ...], dict[int, float]]:
        if not self._sorted:
            # nearest first; ties by priority, then network order (lexsort: last key is primary)
            order = np.lexsort((self.idx, self.priority, self.km))
            cand = tuple(self.idx[order].tolist())
            self._sorted.append((cand, dict(zip(cand, self.km[order].tolist(), strict=True))))
        return self._sorted[0]

    @property
    def cand(self) -> tuple[int, ...]:
        """Eligible location indices, nearest first (ties by priority, then network order)."""
        return self._order()[0]

    @property
    def dist(self) -> Mapping[int, float]:
        """Location index -> km from the customer, for every candidate."""
        return self._order()[1]

    def accepts(self, loc: int) -> bool:
        """Whether location index ``loc`` is a candidate."""
        return loc in self.members

    def nearest(self, among: tuple[int, ...] | None = None) -> int:
        """The nearest of ``among`` (default: every candidate); ties go to priority, then network order."""
        if among is None:
            return self.nearest_at(None)
        pos = np.flatnonzero(np.isin(self.idx, np.asarray(among, dtype=np.intp)))
        if not pos.size:
            raise DomError("among", "none of these locations is a return candidate")
        return self.nearest_at(pos)

    def nearest_at(self, positions: npt.NDArray[np.intp] | None) -> int:
        """``nearest`` of the candidates at ``positions`` of ``idx`` (None: all), without sorting them all."""
        if positions is None and not self._km and self.idx.size > 1:
            r = self.request
            if self._index is not None:
                at = self._index.nearest(*self.network.point(r.lat, r.lon))
                if at is not None:
                    return int(self.idx[at])
            else:
                # a nearness key orders as the distances do where keys differ by more than NEAR_TIE
                key = self.network.nearness(self.network.point(r.lat, r.lon)).take(self.idx)
                first = int(np.argmin(key))
                if np.partition(key, 1)[1] > key[first] + NEAR_TIE:
                    return int(self.idx[first])
        km = self.km if positions is None else self.km[positions]
        tie = np.flatnonzero(km == km.min())
        if positions is not None:
            tie = positions[tie]
        if tie.size == 1:
            return int(self.idx[tie[0]])
        locs = self.idx[tie]
        return int(locs[np.lexsort((locs, self.priority[tie]))[0]])


@dataclass(frozen=True, slots=True)
class Choice:
    """A policy's answer: the chosen location index, why, and optional per-candidate remarks."""

    location: int
    why: str
    remarks: Mapping[int, str] = field(default_factory=dict)


class ReturnLocationPolicy(Protocol):
    """Chooses the location a return goes to. Registered by name in ``RETURN_POLICIES``."""

    name: ClassVar[str]

    def choose(self, ctx: ReturnContext) -> Choice:
        """Pick one of ``ctx.cand`` (never empty)."""
        ...


RETURN_POLICIES = Registry("return policy")
register_return_policy = RETURN_POLICIES.register
_NEAREST_WHY = "nearest return location"


@register_return_policy("nearest")
@dataclass(frozen=True)
class Nearest:
    """The nearest eligible return location (great-circle distance to the customer)."""

    name: ClassVar[str]

    def choose(self, ctx: ReturnContext) -> Choice:
        """Nearest candidate."""
        return Choice(ctx.nearest(), _NEAREST_WHY)


def _preferred(ctx: ReturnContext, loc_id: str | None, what: str) -> Choice:
    idx = None if loc_id is None else ctx.network.loc_index.get(loc_id)
    if idx is not None and ctx.accepts(idx):
        return Choice(idx, what)
    if loc_id is None:
        return Choice(ctx.nearest(), f"no {what}; nearest return location")
    return Choice(ctx.nearest(), f"{what} {loc_id} does not take this return; nearest return location")


@register_return_policy("customer_choice")
@dataclass(frozen=True)
class CustomerChoice:
    """The location the customer asked for if it takes the return, else the nearest."""

    name: ClassVar[str]

    def choose(self, ctx: ReturnContext) -> Choice:
        """Requested location, or nearest."""
        return _preferred(ctx, ctx.request.requested_location, "customer's chosen location")


@register_return_policy("original_shipper")
@dataclass(frozen=True)
class OriginalShipper:
    """The location that shipped the unit if it takes the return, else the nearest."""

    name: ClassVar[str]

    def choose(self, ctx: ReturnContext) -> Choice:
        """Shipping location, or nearest."""
        return _preferred(ctx, ctx.request.shipped_from, "original shipping location")


@register_return_policy("needs_stock")
@dataclass(frozen=True)
class NeedsStock:
    """Within ``radius_km`` of the customer, the location with the fewest days of cover of the SKU.

    Days of cover is ATP / demand rate (``InventoryLedger.days_of_cover``; plain ATP when the ledger
    knows no rate). Ties go to the nearest; with no candidate in the radius, the nearest overall.
    """

    radius_km: Annotated[float, pydantic.Field(ge=0)] = 150.0
    name: ClassVar[str]

    def __post_init__(self) -> None:
        if not self.radius_km >= 0:
            raise DomError("radius_km", f"must be >= 0, got {self.radius_km}")

    def choose(self, ctx: ReturnContext) -> Choice:
        """Lowest days of cover within the radius, else nearest."""
        inside = np.flatnonzero(ctx.km <= self.radius_km)
        outside = f"outside {self.radius_km:g} km"
        far: dict[int, str] = {}
        if ctx.explain:
            far = dict.fromkeys(ctx.idx[ctx.km > self.radius_km].tolist(), outside)
        if not inside.size:
            return Choice(ctx.nearest(), f"none within {self.radius_km:g} km; nearest return location", far)
        cover = ctx.ledger.days_of_cover(ctx.sku, ctx.idx[inside])
        low = float(cover.min())
        best = ctx.nearest_at(inside[cover == low])
        remarks = far
        if ctx.explain:
            remarks = far | {
                i: f"cover {c:.2f} d" for i, c in zip(ctx.idx[inside].tolist(), cover.tolist(), strict=True)
            }
        return Choice(best, f"lowest days of cover ({low:.2f}) within {self.radius_km:g} km", remarks)


def build_return_policy(spec: str | Mapping[str, Any], field: str = "returns.policy") -> ReturnLocationPolicy:
    """Build a policy from its name or ``{kind: name, **parameters}``; errors name the field."""
    built: ReturnLocationPolicy = RETURN_POLICIES.build(spec, field)
    return built


@dataclass(frozen=True, slots=True)
class ReturnTerms:
    """The merchant's return terms: window, fee, refund share and disposition per grade.

    Merchant-fault reasons (defective, wrong item, damaged in transit) are refunded in full and pay no
    fee; other reasons get ``refund_share[grade]`` of the price paid minus ``return_fee`` (once per
    return). The refund is never negative nor above the price paid.
    """

    window_days: float = 30.0
    return_fee: float = 4.95
    merchant_fault: frozenset[ReturnReason] = MERCHANT_FAULT
    refund_share: Mapping[Grade, float] = field(default_factory=lambda: dict(DEFAULT_REFUND_SHARE))
    disposition: Mapping[Grade, Disposition] = field(default_factory=lambda: dict(DEFAULT_DISPOSITION))

    def __post_init__(self) -> None:
        if not (math.isfinite(self.window_days) and self.window_days >= 0):
            raise DomError("returns.window_days", f"must be finite and >= 0, got {self.window_days}")
        if not (math.isfinite(self.return_fee) and self.return_fee >= 0):
            raise DomError("returns.return_fee", f"must be finite and >= 0, got {self.return_fee}")
        for grade in Grade:
            share = self.refund_share.get(grade)
            if share is None or not 0.0 <= share <= 1.0:
                raise DomError(f"returns.refund_share.{grade.value}", f"needs a share in [0, 1], got {share}")
            if (d := self.disposition.get(grade)) not in set(Disposition):
                raise DomError(f"returns.disposition.{grade.value}", f"needs a disposition, got {d!r}")

    def refund(self, request: ReturnRequest) -> tuple[float, float]:
        """(refund, fee deducted) for an accepted return."""
        paid = request.unit_price_paid * request.qty
        if request.reason in self.merchant_fault:
            return paid, 0.0
        gross = paid * self.refund_share[request.grade]
        fee = min(self.return_fee, gross)
        return min(paid, max(0.0, gross - fee)), fee


@dataclass(frozen=True, slots=True)
class ReturnsEngine:
    """Routes returns to a location, grades them into a disposition and computes the refund."""

    network: Network
    policy: ReturnLocationPolicy = field(default_factory=Nearest)
    terms: ReturnTerms = field(default_factory=ReturnTerms)
    _candidates: dict[str, _Candidates] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_spec(
        cls, network: Network, policy: str | Mapping[str, Any] = "nearest", terms: ReturnTerms | None = None
    ) -> ReturnsEngine:
        """Build with the policy given by name or mapping (a DomError names ``returns.policy``)."""
        return cls(network, build_return_policy(policy), terms or ReturnTerms())

    def candidates(self, model: InventoryModel) -> tuple[int, ...]:
        """Enabled locations accepting returns, among the model's return locations if it lists any."""
        return tuple(self._arrays(model).idx.tolist())

    def _arrays(self, model: InventoryModel) -> _Candidates:
        cached = self._candidates.get(model.name)
        if cached is None:
            net = self.network
            listed = model.return_locations
            among = [net.loc_index[i] for i in listed] if listed else None
            idx = np.array(net.with_capability(Capability.ACCEPT_RETURNS, among), dtype=np.intp)
            priority = np.array([net.locations[i].priority for i in idx.tolist()], dtype=np.int64)
            index = _NearestIndex(net, idx)
            cached = _Candidates(idx, priority, frozenset(idx.tolist()), index)
            self._candidates[model.name] = cached
        return cached

    def decide(self, request: ReturnRequest, ledger: InventoryLedger, explain: bool = True) -> ReturnDecision:
        """Decide location, disposition and refund; changes nothing. Bad input raises a DomError.

        With ``explain=False`` the explanation carries no per-candidate notes (fast path for big runs).
        """
        net = self.network
        if ledger.network is not net:
            raise DomError("ledger", "the ledger belongs to another network")
        s = net.sku_index.get(request.sku)
        if s is None:
            s = net.sku_idx(request.sku, f"{request.field_prefix}.sku")  # raises, naming the field
        for name in ("shipped_from", "requested_location"):
            loc_id = getattr(request, name)
            if loc_id is not None and loc_id not in net.loc_index:
                net.loc_idx(loc_id, f"{request.field_prefix}.{name}")
        market, channel = request.market, request.channel
        if not net.has_inventory_model(market, channel):
            raise DomError(
                f"{request.field_prefix}.market",
                f"no inventory model serves market {market!r} channel {channel!r}",
            )
        model = net.inventory_model(market, channel)
        window = self.terms.window_days
        rejected = None
        if not net.skus[s].returnable:
            rejected = f"SKU {request.sku} is not returnable"
        elif request.days_since_delivery > window:
            rejected = (
                f"{request.days_since_delivery:g} days since delivery, outside the {window:g}-day window"
            )
        elif not (cand := self._arrays(model)).idx.size:
            rejected = "no enabled location accepts returns for this inventory model"
        if rejected is not None:
            why = Explanation(self.policy.name, model.name, (), f"rejected: {rejected}")
            return ReturnDecision(request, why, rejected=rejected)
        notes: tuple[CandidateNote, ...] = ()
        at = None
        if not explain and type(self.policy) is Nearest:  # what Nearest.choose gives, without a context
            at = cand.index.nearest(*net.point(request.lat, request.lon))
        if at is not None:
            loc, reason = int(cand.idx[at]), _NEAREST_WHY
        else:
            ctx = ReturnContext(
                request, net, ledger, s, cand.idx, cand.priority, cand.members, explain, _index=cand.index
            )
            choice = self.policy.choose(ctx)
            loc, reason = choice.location, choice.why
            if explain:
                ranked = ctx.cand
                atp = ledger.atp_matrix([s], np.array(ranked, dtype=np.intp))[0]
                notes = tuple(
                    CandidateNote(
                        net.locations[i].id,
                        _status(i == loc, choice.remarks.get(i)),
                        (int(a),),
                        r,
                        ctx.dist[i],
                    )
                    for r, (i, a) in enumerate(zip(ranked, atp, strict=True), start=1)
                )
        chosen = net.locations[loc].id
        why = Explanation(self.policy.name, model.name, notes, f"{reason}: {chosen}")
        disposition = self.terms.disposition[request.grade]
        refund, fee = self.terms.refund(request)
        restocked = request.qty if disposition is Disposition.RESTOCK else 0
        return ReturnDecision(request, why, chosen, disposition, refund, fee, restocked)

    def process(
        self, request: ReturnRequest, ledger: InventoryLedger, at: float, explain: bool = True
    ) -> ReturnDecision:
        """Decide, then restock the ledger when the disposition is restock (nothing else moves stock)."""
        decision = self.decide(request, ledger, explain)
        if decision.restocked_qty and decision.location is not None:
            ledger.restock(decision.location, request.sku, decision.restocked_qty, at, request.ref)
        return decision


def _status(chosen: bool, remark: str | None) -> str:
    return " ".join(x for x in ("chosen" if chosen else "", remark or "") if x) or "eligible"
