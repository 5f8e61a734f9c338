"""The inventory ledger: on hand, reserved, inbound and safety stock per location and SKU.

Available-to-promise (ATP) = on hand - reserved - safety stock, never below zero. Every movement is
journalled so the ledger can be audited and replayed; a movement that would drive a balance negative
or over-reserve is refused before anything changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from dom_core.errors import DomError, InsufficientStockError, InvalidQuantityError
from dom_core.network import InventoryModel, Network

IntArray = npt.NDArray[np.int64]


class MovementKind(StrEnum):
    """The kinds of ledger movement."""

    RECEIVE = "receive"  # goods arrive (supplier, transfer, inbound ETA reached)
    RESERVE = "reserve"  # promised to an order; on hand unchanged
    RELEASE = "release"  # reservation cancelled
    COMMIT = "commit"  # reserved units shipped: leave on hand and reserved
    RESTOCK = "restock"  # a returned unit goes back on the shelf
    ADJUST = "adjust"  # count correction, shrinkage, walk-in store sale (negative)
    INBOUND = "inbound"  # expected receipt registered (no on-hand change)
    SAFETY = "safety"  # safety stock set to qty


@dataclass(frozen=True, slots=True)
class Movement:
    """One journalled ledger movement."""

    seq: int
    at: float
    kind: MovementKind
    location: str
    sku: str
    qty: int
    ref: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """Stock on its way to a location, expected at ``eta`` hours."""

    ref: str
    loc: int
    sku: int
    qty: int
    eta: float


@dataclass(frozen=True, slots=True)
class InboundBatch:
    """Many SKUs on their way to one location under one reference (a replenishment order)."""

    ref: str
    loc: int
    skus: IntArray  # distinct SKU indices
    qtys: IntArray
    eta: float


# (location index, sku index, qty)
Item = tuple[int, int, int]


def _distinct(idx: IntArray) -> bool:
    """Whether the indices are pairwise distinct (strictly increasing ones need no sort)."""
    if idx.size < 2 or bool((idx[1:] > idx[:-1]).all()):
        return True
    return bool(np.unique(idx).size == idx.size)


def _check_qty(qty: int, field: str, allow_zero: bool = False) -> None:
    if isinstance(qty, bool) or not isinstance(qty, (int, np.integer)):
        raise InvalidQuantityError(field, f"must be an integer, got {qty!r}")
    if qty < 0 or (qty == 0 and not allow_zero):
        raise InvalidQuantityError(field, f"must be {'>= 0' if allow_zero else 'positive'}, got {qty}")


class InventoryLedger:
    """Stock balances for every (SKU, location) pair of a network, with a movement journal."""

    def __init__(self, network: Network, *, record: bool = True) -> None:
        n_sku, n_loc = len(network.skus), len(network.locations)
        self.network = network
        self.on_hand: IntArray = np.zeros((n_sku, n_loc), dtype=np.int64)
        self.reserved: IntArray = np.zeros((n_sku, n_loc), dtype=np.int64)
        self.safety: IntArray = np.zeros((n_sku, n_loc), dtype=np.int64)
        self._raw_atp: IntArray = np.zeros((n_sku, n_loc), dtype=np.int64)  # may be < 0 under safety stock
        self.demand_rate: npt.NDArray[np.float64] | None = None  # units/day, for days of cover
        self.inbound: dict[str, list[Inbound]] = {}
        self.inbound_batches: dict[str, InboundBatch] = {}
        self.reservations: dict[str, list[Item]] = {}
        self.record = record
        self._journal: list[tuple[int, float, MovementKind, int, int, int, str]] = []
        self._seq = 0

    # ----------------------------------------------------------------- queries
    def atp(self, loc_id: str, sku_id: str) -> int:
        """Available-to-promise of one SKU at one location."""
        s = self.network.sku_idx(sku_id)
        loc = self.network.loc_idx(loc_id)
        return max(0, int(self._raw_atp[s, loc]))

    def atp_matrix(self, sku_idx: Sequence[int], loc_idx: npt.NDArray[np.intp]) -> IntArray:
        """ATP for each SKU index (rows) at each location index (columns), clipped at zero."""
        # take() calls: a few times cheaper than np.ix_ indexing on the small matrices of one order
        clipped: IntArray
        if len(sku_idx) == 1:  # nearly half the orders: one SKU row, a 1-d take
            clipped = self._raw_atp[sku_idx[0]].take(loc_idx)[None]
        else:
            rows = np.asarray(sku_idx, dtype=np.intp)
            clipped = self._raw_atp.take(rows, axis=0).take(loc_idx, axis=1)
        np.maximum(clipped, 0, out=clipped)
        return clipped

    def atp_at(self, loc: int, skus: IntArray) -> IntArray:
        """ATP of SKU indices ``skus`` at location index ``loc``, clipped at zero."""
        atp: IntArray = np.maximum(self._raw_atp[skus, loc], 0)
        return atp

    def unavailable(self) -> npt.NDArray[np.bool_]:
        """Per (SKU, location): nothing available to promise (on hand - reserved - safety <= 0)."""
        out: npt.NDArray[np.bool_] = self._raw_atp <= 0
        return out

    def atp_network(self, sku_id: str) -> int:
        """Network-wide ATP of a SKU."""
        s = self.network.sku_idx(sku_id)
        return int(np.maximum(self._raw_atp[s], 0).sum())

    def atp_for_model(self, model: InventoryModel, sku_id: str) -> int:
        """ATP of a SKU summed over the locations of an inventory model."""
        s = self.network.sku_idx(sku_id)
        idx = [self.network.loc_index[loc] for loc in model.locations]
        return int(np.maximum(self._raw_atp[s, idx], 0).sum())

    def days_of_cover(self, sku: int, loc_idx: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """ATP divided by the demand rate (units/day); the ATP itself where no rate is known."""
        atp: npt.NDArray[np.float64] = np.maximum(self._raw_atp[sku, loc_idx], 0).astype(np.float64)
        if self.demand_rate is None:
            return atp
        rate = self.demand_rate[sku, loc_idx]
        cover: npt.NDArray[np.float64] = atp / np.maximum(rate, 1e-9)
        return cover

    def inbound_qty(self, loc_id: str, sku_id: str) -> int:
        """Units expected at a location for a SKU, over all open inbounds."""
        s, loc = self.network.sku_idx(sku_id), self.network.loc_idx(loc_id)
        return sum(i.qty for items in self.inbound.values() for i in items if i.loc == loc and i.sku == s)

    def totals(self) -> dict[str, int]:
        """Network totals of on hand, reserved, safety and inbound units (for conservation checks)."""
        return {
            "on_hand": int(self.on_hand.sum()),
            "reserved": int(self.reserved.sum()),
            "safety": int(self.safety.sum()),
            "inbound": sum(i.qty for items in self.inbound.values() for i in items)
            + sum(int(b.qtys.sum()) for b in self.inbound_batches.values()),
        }

    # --------------------------------------------------------------- movements
    def _log(self, at: float, kind: MovementKind, loc: int, sku: int, qty: int, ref: str) -> None:
        self._seq += 1
        if self.record:
            self._journal.append((self._seq, at, kind, loc, sku, qty, ref))

    def receive(self, loc_id: str, sku_id: str, qty: int, at: float = 0.0, ref: str = "") -> None:
        """Goods arrive at a location: on hand goes up."""
        _check_qty(qty, "qty")
        s, loc = self.network.sku_idx(sku_id), self.network.loc_idx(loc_id)
        self._receive(loc, s, qty, at, ref, MovementKind.RECEIVE)

    def restock(self, loc_id: str, sku_id: str, qty: int, at: float = 0.0, ref: str = "") -> None:
        """A returned unit, inspected as sellable, goes back on hand."""
        _check_qty(qty, "qty")
        s, loc = self.network.sku_idx(sku_id), self.network.loc_idx(loc_id)
        self._receive(loc, s, qty, at, ref, MovementKind.RESTOCK)

    def _receive(self, loc: int, s: int, qty: int, at: float, ref: str, kind: MovementKind) -> None:
        self.on_hand[s, loc] += qty
        self._raw_atp[s, loc] += qty
        self._log(at, kind, loc, s, qty, ref)

    def adjust(self, loc_id: str, sku_id: str, delta: int, at: float = 0.0, ref: str = "") -> None:
        """Correct on hand by ``delta`` (negative for shrinkage or a walk-in sale); never below reserved."""
        if isinstance(delta, bool) or not isinstance(delta, (int, np.integer)):
            raise InvalidQuantityError("delta", f"must be an integer, got {delta!r}")
        s, loc = self.network.sku_idx(sku_id), self.network.loc_idx(loc_id)
        if self.on_hand[s, loc] + delta < self.reserved[s, loc]:
            raise InsufficientStockError(
                "delta", f"{delta} would leave on hand below reserved at {loc_id}/{sku_id}"
            )
        self.on_hand[s, loc] += delta
        self._raw_atp[s, loc] += delta
        self._log(at, MovementKind.ADJUST, loc, s, int(delta), ref)

    def take_unreserved(self, loc: int, s: int, qty: int, at: float, ref: str) -> int:
        """Remove up to ``qty`` unreserved units (a store walk-in sale); returns the units taken."""
        free = int(self.on_hand[s, loc] - self.reserved[s, loc])
        taken = min(qty, max(0, free))
        if taken:
            self.on_hand[s, loc] -= taken
            self._raw_atp[s, loc] -= taken
            self._log(at, MovementKind.ADJUST, loc, s, -taken, ref)
        return taken

    def take_unreserved_many(
        self, locs: IntArray, skus: IntArray, qtys: IntArray, at: float, ref: str
    ) -> IntArray:
        """Vectorised ``take_unreserved`` over distinct (location, SKU) pairs; returns units taken."""
        free = np.maximum(self.on_hand[skus, locs] - self.reserved[skus, locs], 0)
        taken: IntArray = np.minimum(qtys, free)
        self.on_hand[skus, locs] -= taken
        self._raw_atp[skus, locs] -= taken
        if self.record:
            for loc, s, q in zip(locs.tolist(), skus.tolist(), taken.tolist(), strict=True):
                if q:
                    self._log(at, MovementKind.ADJUST, loc, s, -q, ref)
        return taken

    def set_safety_stock(self, loc_id: str, sku_id: str, qty: int, at: float = 0.0) -> None:
        """Set the safety stock held back from ATP at a location."""
        _check_qty(qty, "safety_stock", allow_zero=True)
        s, loc = self.network.sku_idx(sku_id), self.network.loc_idx(loc_id)
        self._raw_atp[s, loc] += self.safety[s, loc] - qty
        self.safety[s, loc] = qty
        self._log(at, MovementKind.SAFETY, loc, s, qty, "")

    def set_safety_stock_all(self, qty: int) -> None:
        """Set one safety stock level for every location and SKU (a scenario knob)."""
        _check_qty(qty, "safety_stock", allow_zero=True)
        changed = np.nonzero(self.safety != qty)
        self.safety[:] = qty
        self._raw_atp = self.on_hand - self.reserved - self.safety
        for s, loc in zip(*changed, strict=True):  # journalled so that replay() sees it
            self._log(0.0, MovementKind.SAFETY, int(loc), int(s), int(qty), "")

    def load_balances(self, on_hand: IntArray, safety: IntArray) -> None:
        """Start from (SKU x location) on-hand and safety arrays; needs a ledger with no reservations."""
        if self.reservations:
            raise DomError("on_hand", "cannot load balances while reservations are held")
        if on_hand.shape != self.on_hand.shape or safety.shape != self.safety.shape:
            raise DomError(
                "on_hand", f"expected shape {self.on_hand.shape}, got {on_hand.shape}/{safety.shape}"
            )
        if (on_hand < 0).any() or (safety < 0).any():
            raise InvalidQuantityError("on_hand", "balances must be >= 0")
        self.on_hand = on_hand.astype(np.int64, copy=True)
        self.safety = safety.astype(np.int64, copy=True)
        self.reserved[:] = 0
        self._raw_atp = self.on_hand - self.safety
        if not self.record:
            return
        for s, loc in zip(*np.nonzero(self.on_hand), strict=True):
            self._log(0.0, MovementKind.RECEIVE, int(loc), int(s), int(self.on_hand[s, loc]), "initial")
        for s, loc in zip(*np.nonzero(self.safety), strict=True):
            self._log(0.0, MovementKind.SAFETY, int(loc), int(s), int(self.safety[s, loc]), "")

    def load_rows(self, skus: IntArray, on_hand: IntArray, reserved: IntArray, safety: IntArray) -> None:
        """Overwrite the balances of whole SKU rows (``skus`` distinct; arrays SKU x location), as a live
        store's snapshot of the SKUs one order needs; other rows, reservations and the journal stay."""
        shape = (len(skus), len(self.network.locations))
        if not _distinct(skus) or on_hand.shape != shape or reserved.shape != shape or safety.shape != shape:
            raise DomError("skus", f"needs distinct SKU indices and {shape} balance arrays")
        if (reserved < 0).any() or (safety < 0).any() or (on_hand < reserved).any():
            raise InvalidQuantityError("on_hand", "balances need 0 <= reserved <= on_hand and safety >= 0")
        self.on_hand[skus] = on_hand
        self.reserved[skus] = reserved
        self.safety[skus] = safety
        self._raw_atp[skus] = on_hand - reserved - safety

    def reserve(self, ref: str, items: Sequence[Item], at: float = 0.0) -> None:
        """Reserve every item for ``ref`` or, if any exceeds ATP, nothing at all."""
        if not items:
            return
        raw, reserved = self._raw_atp, self.reserved
        need: dict[tuple[int, int], int] = {}
        for loc, s, qty in items:
            if type(qty) is not int or qty <= 0:  # the usual positive int needs no further look
                _check_qty(qty, "qty")
            need[(loc, s)] = need.get((loc, s), 0) + qty
        for (loc, s), qty in need.items():
            if qty > raw.item(s, loc):
                raise InsufficientStockError(
                    "qty",
                    f"reserving {qty} of {self.network.skus[s].id} at {self.network.locations[loc].id} "
                    f"exceeds ATP {max(0, int(raw[s, loc]))}",
                )
        seq, journal = self._seq, self._journal if self.record else None
        for loc, s, qty in items:
            reserved[s, loc] = reserved.item(s, loc) + qty
            raw[s, loc] = raw.item(s, loc) - qty
            seq += 1
            if journal is not None:  # as _log
                journal.append((seq, at, MovementKind.RESERVE, loc, s, qty, ref))
        self._seq = seq
        self.reservations.setdefault(ref, []).extend(items)

    def _take_reserved(self, ref: str, loc_filter: int | None) -> list[Item]:
        held = self.reservations.get(ref)
        if held is None:
            raise DomError("ref", f"no reservation held for {ref!r}")
        if loc_filter is None:
            del self.reservations[ref]
            return held
        taken = [it for it in held if it[0] == loc_filter]
        if len(taken) == len(held):
            del self.reservations[ref]
        elif taken:
            self.reservations[ref] = [it for it in held if it[0] != loc_filter]
        return taken

    def commit(self, ref: str, at: float = 0.0, loc: int | None = None) -> list[Item]:
        """Ship the units reserved for ``ref`` (all, or those at location index ``loc``)."""
        taken = self._take_reserved(ref, loc)
        reserved, on_hand = self.reserved, self.on_hand
        seq, journal = self._seq, self._journal if self.record else None
        for lc, s, qty in taken:
            reserved[s, lc] = reserved.item(s, lc) - qty
            on_hand[s, lc] = on_hand.item(s, lc) - qty
            seq += 1
            if journal is not None:  # as _log
                journal.append((seq, at, MovementKind.COMMIT, lc, s, qty, ref))
        self._seq = seq
        return taken

    def release(self, ref: str, at: float = 0.0, loc: int | None = None) -> list[Item]:
        """Cancel the reservation of ``ref`` (all, or at location index ``loc``): ATP goes back up."""
        taken = self._take_reserved(ref, loc)
        reserved, raw = self.reserved, self._raw_atp
        seq, journal = self._seq, self._journal if self.record else None
        for lc, s, qty in taken:
            reserved[s, lc] = reserved.item(s, lc) - qty
            raw[s, lc] = raw.item(s, lc) + qty
            seq += 1
            if journal is not None:  # as _log
                journal.append((seq, at, MovementKind.RELEASE, lc, s, qty, ref))
        self._seq = seq
        return taken

    def add_inbound(self, ref: str, loc_id: str, sku_id: str, qty: int, eta: float, at: float = 0.0) -> None:
        """Register stock expected at a location at ``eta`` (a purchase order or transfer)."""
        _check_qty(qty, "qty")
        s, loc = self.network.sku_idx(sku_id), self.network.loc_idx(loc_id)
        self.inbound.setdefault(ref, []).append(Inbound(ref, loc, s, qty, eta))
        self._log(at, MovementKind.INBOUND, loc, s, qty, ref)

    def receive_inbound(self, ref: str, at: float = 0.0) -> list[Inbound]:
        """The inbound ``ref`` arrives: its units go on hand."""
        items = self.inbound.pop(ref, None)
        if items is None:
            raise DomError("ref", f"no inbound open for {ref!r}")
        for it in items:
            self._receive(it.loc, it.sku, it.qty, at, ref, MovementKind.RECEIVE)
        return items

    def add_inbound_many(
        self, ref: str, loc: int, skus: IntArray, qtys: IntArray, eta: float, at: float = 0.0
    ) -> None:
        """Register many distinct SKUs expected at location index ``loc`` under one reference."""
        if ref in self.inbound_batches or ref in self.inbound:
            raise DomError("ref", f"inbound {ref!r} already open")
        if skus.shape != qtys.shape or not _distinct(skus):
            raise DomError("skus", "needs distinct SKU indices, one qty each")
        if (qtys <= 0).any():
            raise InvalidQuantityError("qty", "inbound quantities must be positive")
        self.inbound_batches[ref] = InboundBatch(ref, loc, skus.copy(), qtys.astype(np.int64), eta)
        if self.record:
            for s, q in zip(skus.tolist(), qtys.tolist(), strict=True):
                self._log(at, MovementKind.INBOUND, loc, s, q, ref)

    def receive_inbound_many(self, ref: str, at: float = 0.0) -> InboundBatch:
        """The batch ``ref`` arrives: its units go on hand at its location."""
        batch = self.inbound_batches.pop(ref, None)
        if batch is None:
            raise DomError("ref", f"no inbound batch open for {ref!r}")
        self.on_hand[batch.skus, batch.loc] += batch.qtys
        self._raw_atp[batch.skus, batch.loc] += batch.qtys
        if self.record:
            for s, q in zip(batch.skus.tolist(), batch.qtys.tolist(), strict=True):
                self._log(at, MovementKind.RECEIVE, batch.loc, s, q, ref)
        return batch

    def ship_out_many(self, loc: int, skus: IntArray, qtys: IntArray, at: float, ref: str) -> None:
        """Remove distinct SKUs' units from location ``loc`` (a transfer out): all within ATP, or none."""
        if not _distinct(skus) or (qtys <= 0).any():
            raise InvalidQuantityError("qty", "needs distinct SKUs and positive quantities")
        if (qtys > self._raw_atp[skus, loc]).any():
            raise InsufficientStockError(
                "qty", f"transfer {ref!r} exceeds ATP at {self.network.locations[loc].id}"
            )
        self.on_hand[skus, loc] -= qtys
        self._raw_atp[skus, loc] -= qtys
        if self.record:
            for s, q in zip(skus.tolist(), qtys.tolist(), strict=True):
                self._log(at, MovementKind.ADJUST, loc, s, -q, ref)

    # ------------------------------------------------------------------ journal
    def movements(self) -> list[Movement]:
        """The journal as Movement values (ids resolved)."""
        locs, skus = self.network.locations, self.network.skus
        return [
            Movement(seq, at, kind, locs[loc].id, skus[s].id, qty, ref)
            for seq, at, kind, loc, s, qty, ref in self._journal
        ]

    def drain_journal(self) -> list[tuple[int, float, MovementKind, int, int, int, str]]:
        """Hand over and clear the raw journal (location/SKU as indices), for streaming to storage."""
        out, self._journal = self._journal, []
        return out

    def copy(self) -> InventoryLedger:
        """An independent copy of balances and reservations (journal not copied)."""
        twin = InventoryLedger(self.network, record=self.record)
        twin.on_hand = self.on_hand.copy()
        twin.reserved = self.reserved.copy()
        twin.safety = self.safety.copy()
        twin._raw_atp = self._raw_atp.copy()
        twin.demand_rate = None if self.demand_rate is None else self.demand_rate.copy()
        twin.inbound = {k: list(v) for k, v in self.inbound.items()}
        twin.inbound_batches = dict(self.inbound_batches)
        twin.reservations = {k: list(v) for k, v in self.reservations.items()}
        return twin

    @classmethod
    def replay(cls, network: Network, movements: Iterable[Movement]) -> InventoryLedger:
        """Rebuild a ledger from an empty one by re-applying a journal of movements."""
        ledger = cls(network)
        for m in movements:
            loc, s = network.loc_idx(m.location), network.sku_idx(m.sku)
            if m.kind in (MovementKind.RECEIVE, MovementKind.RESTOCK):
                ledger._receive(loc, s, m.qty, m.at, m.ref, m.kind)
                if m.kind is MovementKind.RECEIVE and m.ref in ledger.inbound:
                    ledger._consume_inbound(m.ref, loc, s)
            elif m.kind is MovementKind.ADJUST:
                ledger.adjust(m.location, m.sku, m.qty, m.at, m.ref)
            elif m.kind is MovementKind.SAFETY:
                ledger.set_safety_stock(m.location, m.sku, m.qty, m.at)
            elif m.kind is MovementKind.RESERVE:
                ledger.reserve(m.ref, [(loc, s, m.qty)], m.at)
            elif m.kind is MovementKind.INBOUND:
                ledger.add_inbound(m.ref, m.location, m.sku, m.qty, float("nan"), m.at)
            else:
                ledger._replay_settle(m.ref, loc, s, m.qty, m.at, m.kind)
        return ledger

    def _consume_inbound(self, ref: str, loc: int, s: int) -> None:
        items = self.inbound[ref]
        for i, it in enumerate(items):
            if it.loc == loc and it.sku == s:
                del items[i]
                break
        if not items:
            del self.inbound[ref]

    def _replay_settle(self, ref: str, loc: int, s: int, qty: int, at: float, kind: MovementKind) -> None:
        held = self.reservations.get(ref, [])
        for i, it in enumerate(held):
            if it == (loc, s, qty):
                del held[i]
                break
        else:
            raise DomError("journal", f"{kind.value} of {ref!r} has no matching reservation")
        if not held:
            self.reservations.pop(ref, None)
        self.reserved[s, loc] -= qty
        if kind is MovementKind.COMMIT:
            self.on_hand[s, loc] -= qty
        else:
            self._raw_atp[s, loc] += qty
        self._log(at, kind, loc, s, qty, ref)
