"""The sourcing engine: ``decide(order, ledger, now) -> Decision``, deterministic and side-effect free.

``source`` is ``decide`` followed by the atomic reservation of the decision in the ledger (and the
capacity book, if one is kept). Simulation and live service both call this one object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dom_core.calendar import WorkCalendar
from dom_core.capacity import CapacityBook
from dom_core.carriers import CarrierCatalog, Objective, default_services
from dom_core.decision import (
    CandidateNote,
    Decision,
    Explanation,
    Shipment,
    ShipmentLine,
    Transfer,
    Unfulfilled,
)
from dom_core.errors import DomError, UnknownSkuError
from dom_core.inventory import InventoryLedger
from dom_core.model import HOURS_PER_DAY, Capability, FulfilmentType, LocationKind, Order
from dom_core.network import InventoryModel, Network
from dom_core.strategies import SourcingContext, Strategy, build_strategy
from dom_core.strategies.base import Plan

PICKUP_READY_HOURS = 2.0  # BOPIS: picked and ready this long after the order, within opening hours
_EMPTY = np.zeros(0, dtype=np.intp)


@dataclass(slots=True)
class _Lines:
    physical: list[int]  # indices into order.lines
    qty: list[int]  # per physical line
    digital: list[ShipmentLine]
    rejected: list[Unfulfilled]
    sku_idx: list[int]
    kg: list[float]


@dataclass(slots=True)
class _Prepared:
    """What ``decide`` derives from an order and the network alone (kept and shared: read-only)."""

    model: InventoryModel
    lines: _Lines
    # destination, static candidates and a problem stopping sourcing; None without physical lines
    where: tuple[tuple[float, float, str], npt.NDArray[np.intp], str] | None
    line_row: list[int]  # per physical line: its SKU row (lines of one SKU share a row)
    row_sku: list[int]  # per SKU row: the SKU index
    point: tuple[float, float] | None  # Network.point of the destination (None without physical lines)


class PreparedOrders:
    """What engines derive from each order and their network alone (its inventory model, classified
    lines, destination and static candidates), kept for engines that decide the same order objects:
    the strategies a simulation runs on one replication's orders.

    Keyed by order identity; an entry holds its order, so no other object can take that id while the
    entry lives, and its network, so an engine on another network prepares the order afresh.
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        """An empty store."""
        self._entries: dict[int, tuple[Order, Network, _Prepared]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, order: Order, network: Network) -> _Prepared | None:
        """The preparation of this order object on this network, if kept."""
        entry = self._entries.get(id(order))
        if entry is None or entry[0] is not order or entry[1] is not network:
            return None
        return entry[2]

    def put(self, order: Order, network: Network, prepared: _Prepared) -> None:
        """Keep a preparation (replacing any of the same order object)."""
        self._entries[id(order)] = (order, network, prepared)


@dataclass
class SourcingEngine:
    """Decides, for every order, which locations ship which lines, and with which carrier service.

    ``strategy`` overrides every inventory model's own strategy (used to compare strategies on one
    scenario); otherwise each model's strategy applies, and ``split_shipments`` where it has none.
    ``prepared`` keeps what is derived from each order alone for other engines deciding the same orders.
    ``calendar`` (closed days, no-delivery days, opening hours) moves pickups and promises past holidays.
    """

    network: Network
    carriers: CarrierCatalog = field(default_factory=default_services)
    strategy: Strategy | None = None
    capacity: CapacityBook | None = None
    prepared: PreparedOrders | None = None
    calendar: WorkCalendar | None = None
    _static: dict[tuple[str, FulfilmentType], npt.NDArray[np.intp]] = field(default_factory=dict, repr=False)
    _default: Strategy = field(default_factory=lambda: build_strategy("split_shipments"), repr=False)

    def strategy_for(self, model: InventoryModel) -> Strategy:
        """The strategy that decides for orders of this inventory model."""
        return self.strategy or model.strategy or self._default

    # ------------------------------------------------------------------ public
    def source(
        self, order: Order, ledger: InventoryLedger, now: float | None = None, explain: bool = False
    ) -> Decision:
        """Decide and reserve the decision's units (all or nothing)."""
        decision = self.decide(order, ledger, now, explain)
        at = order.created_at if now is None else now
        ledger.reserve(order.id, decision.reservations, at)
        if self.capacity is not None:
            for s in decision.shipments:
                self.capacity.add(self.network.loc_index[s.location], s.ship_at)
        return decision

    def explain(self, order: Order, ledger: InventoryLedger, now: float | None = None) -> Explanation:
        """The explanation of the decision this state would give (decisions are deterministic)."""
        explanation = self.decide(order, ledger, now, explain=True).explanation
        assert explanation is not None
        return explanation

    def decide(
        self, order: Order, ledger: InventoryLedger, now: float | None = None, explain: bool = False
    ) -> Decision:
        """The sourcing decision for ``order`` given the ledger's state at ``now`` (no state changes)."""
        now = order.created_at if now is None else now
        prep = self._prepare(order)
        model, lines = prep.model, prep.lines
        strategy = self.strategy_for(model)
        unfulfilled = list(lines.rejected)
        if prep.where is None:
            why = "no physical line: nothing to ship"
            expl = Explanation(strategy.name, model.name, (), why) if explain else None
            return self._decision(order, strategy, model, now, (), (), unfulfilled, lines.digital, (), expl)
        dest, cand, dest_problem = prep.where
        # ship to store without a transfer service: only the pickup store's own stock can serve it
        own_stock = order.fulfilment is FulfilmentType.SHIP_TO_STORE and self.carriers.transfer() is None
        if own_stock and not dest_problem:
            cand, dest_problem = self._own_stock_only(model, cand, dest[2])
        if dest_problem:
            unfulfilled += self._unserved(order, lines, {}, dest_problem)
            expl = Explanation(strategy.name, model.name, (), dest_problem) if explain else None
            return self._decision(order, strategy, model, now, (), (), unfulfilled, lines.digital, (), expl)
        ctx = self._context(order, model, ledger, now, prep, dest, cand)
        ctx.explain = explain
        notes: list[CandidateNote] = self._excluded_notes(order, model, ctx) if explain else []
        ctx = self._apply_filters(ctx, model, notes if explain else None)
        if len(ctx.cand) == 0:
            reason = "no eligible location: every candidate was removed by the filters"
            unfulfilled += self._unserved(order, lines, {}, reason)
            expl = Explanation(strategy.name, model.name, tuple(notes), reason) if explain else None
            return self._decision(order, strategy, model, now, (), (), unfulfilled, lines.digital, (), expl)
        plan = strategy.plan(ctx)
        shipments, transfers, reservations, picked, refused = self._realise(
            order, ctx, plan, lines, strategy, dest
        )
        shortfall = _own_stock_shortfall(dest[2]) if own_stock else plan.shortfall
        unfulfilled += self._unserved(order, lines, picked, shortfall, refused)
        expl = self._explanation(ctx, plan, strategy, notes, shipments) if explain else None
        return self._decision(
            order,
            strategy,
            model,
            now,
            tuple(shipments),
            tuple(transfers),
            unfulfilled,
            lines.digital,
            tuple(reservations),
            expl,
        )

    # --------------------------------------------------------------- building
    def _prepare(self, order: Order) -> _Prepared:
        """The order's inventory model, lines, destination and SKU rows: kept in ``prepared`` if any.

        Errors (an unknown market, SKU or pickup location) are raised every time, never kept.
        """
        kept = self.prepared
        if kept is not None:
            hit = kept.get(order, self.network)
            if hit is not None:
                return hit
        model = self.network.inventory_model(order.market, order.channel)
        lines = self._classify_lines(order)
        # no physical line: nothing to ship, and the destination is not looked at
        where = self._destination(order, model) if lines.physical else None
        sku_idx = lines.sku_idx
        if len(sku_idx) == 1:
            line_row, row_sku = [0], [sku_idx[0]]
        else:
            rows: dict[int, int] = {}
            line_row = [rows.setdefault(s, len(rows)) for s in sku_idx]
            row_sku = list(rows)
        point = None if where is None else self.network.point(where[0][0], where[0][1])
        prepared = _Prepared(model, lines, where, line_row, row_sku, point)
        if kept is not None:
            kept.put(order, self.network, prepared)
        return prepared

    def _classify_lines(self, order: Order) -> _Lines:
        sku_index, skus = self.network.sku_index, self.network.skus
        out = _Lines([], [], [], [], [], [])
        physical, qty, sku_idx, kg = out.physical, out.qty, out.sku_idx, out.kg
        digital_order = order.fulfilment is FulfilmentType.DIGITAL
        for k, line in enumerate(order.lines):
            s = sku_index.get(line.sku)
            if s is None:
                raise UnknownSkuError(f"order[{order.id}].lines[{k}].sku", f"unknown SKU {line.sku!r}")
            sku = skus[s]
            if sku.digital:
                out.digital.append(ShipmentLine(line.line_id, line.sku, line.qty))
            elif digital_order:
                out.rejected.append(
                    Unfulfilled(line.line_id, line.sku, line.qty, "physical SKU on a digital order")
                )
            else:
                physical.append(k)
                qty.append(line.qty)
                sku_idx.append(s)
                kg.append(sku.weight_kg)
        return out

    def _static_candidates(self, model: InventoryModel, ftype: FulfilmentType) -> npt.NDArray[np.intp]:
        key = (model.name, ftype)
        cached = self._static.get(key)
        if cached is None:
            locs, index = self.network.locations, self.network.loc_index
            pool = [index[loc_id] for loc_id in model.locations]
            if ftype is FulfilmentType.SHIP_TO_STORE:
                keep = [i for i in pool if locs[i].enabled and locs[i].kind is not LocationKind.PICKUP_POINT]
            else:
                keep = [
                    i for i in pool if locs[i].enabled and Capability.SHIP_TO_HOME in locs[i].capabilities
                ]
                if ftype is FulfilmentType.SHIP_FROM_STORE:
                    keep = [i for i in keep if locs[i].is_store]
            cached = np.array(keep, dtype=np.intp)
            self._static[key] = cached
        return cached

    def _destination(
        self, order: Order, model: InventoryModel
    ) -> tuple[tuple[float, float, str], npt.NDArray[np.intp], str]:
        """(lat, lon, destination label), static candidates, and a problem that stops sourcing (or '')."""
        ftype = order.fulfilment
        if ftype in (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE):
            assert order.pickup_location is not None
            idx = self.network.loc_idx(order.pickup_location, f"order[{order.id}].pickup_location")
            store = self.network.locations[idx]
            dest = (store.lat, store.lon, store.id)
            need = (
                Capability.PICKUP
                if ftype is FulfilmentType.PICKUP_IN_STORE
                else Capability.RECEIVE_SHIP_TO_STORE
            )
            if not store.enabled or need not in store.capabilities:
                return dest, _EMPTY, f"pickup location {store.id} does not offer {need.value}"
            if ftype is FulfilmentType.PICKUP_IN_STORE:
                return dest, np.array([idx], dtype=np.intp), ""
            return dest, self._static_candidates(model, ftype), ""
        return (order.lat, order.lon, "customer"), self._static_candidates(model, ftype), ""

    def _own_stock_only(
        self, model: InventoryModel, cand: npt.NDArray[np.intp], store_id: str
    ) -> tuple[npt.NDArray[np.intp], str]:
        """The candidates of a ship-to-store order when no transfer can reach the pickup store: the store
        itself if it is one of them, else none and the reason."""
        idx = self.network.loc_index[store_id]
        if (cand == idx).any():
            return np.array([idx], dtype=np.intp), ""
        return _EMPTY, (
            f"ship to store needs a transfer to {store_id}, {NO_TRANSFER}, "
            f"and {store_id} is not a stock location of inventory model {model.name}"
        )

    def _context(
        self,
        order: Order,
        model: InventoryModel,
        ledger: InventoryLedger,
        now: float,
        prep: _Prepared,
        dest: tuple[float, float, str],
        cand: npt.NDArray[np.intp],
    ) -> SourcingContext:
        lines, row_sku = prep.lines, prep.row_sku
        deadline = (
            None
            if order.max_delivery_days is None
            else order.created_at + order.max_delivery_days * HOURS_PER_DAY
        )
        # positional: half the cost of 20 keyword arguments, once per order (fields in declared order)
        ctx = SourcingContext(
            order,
            self.network,
            model,
            ledger,
            self.carriers,
            now,
            dest[0],  # dest_lat
            dest[1],  # dest_lon
            deadline,
            lines.qty,  # line_qty
            lines.kg,  # line_kg
            prep.line_row,
            row_sku,
            cand,
            ledger.atp_matrix(row_sku, cand),  # atp
            self.capacity,
            False,  # explain
            None,  # _dist
            None,  # _near
            prep.point,  # _point
        )
        if self.calendar is not None:
            ctx.calendar = self.calendar
        return ctx

    def _apply_filters(
        self, ctx: SourcingContext, model: InventoryModel, notes: list[CandidateNote] | None
    ) -> SourcingContext:
        if not model.filters:
            return ctx
        keep = np.ones(len(ctx.cand), dtype=bool)
        for flt in model.filters:
            mask = flt.keep(ctx, self.capacity)
            if notes is not None:
                for j in np.flatnonzero(keep & ~mask):
                    loc = self.network.locations[ctx.cand[j]].id
                    notes.append(
                        CandidateNote(loc, f"removed by filter {flt.name}", tuple(ctx.atp[:, j].tolist()))
                    )
            keep &= mask
        if keep.all():
            return ctx
        dist = None if ctx._dist is None else ctx._dist[keep]
        near = None if ctx._near is None else ctx._near[keep]
        ctx.cand, ctx.atp, ctx._dist, ctx._near = ctx.cand[keep], ctx.atp[:, keep], dist, near
        ctx._dist_some = {}  # keyed by the old positions
        return ctx

    def _realise(
        self,
        order: Order,
        ctx: SourcingContext,
        plan: Plan,
        lines: _Lines,
        strategy: Strategy,
        dest: tuple[float, float, str],
    ) -> tuple[
        list[Shipment], list[Transfer], list[tuple[int, int, int]], dict[int, int], dict[int, tuple[int, str]]
    ]:
        """Turn a plan into shipments with carrier quotes, transfers and reservations.

        Also returns, per line, the units of parcels no carrier service accepts, or that need a transfer the
        carrier catalogue does not offer, and why.
        """
        locs = self.network.locations
        picks, planned = plan.picks, plan.transfers
        cal = self.calendar
        transfer_svc = self.carriers.transfer()
        refused: dict[int, tuple[int, str]] = {}
        if planned and transfer_svc is None:  # no transfer can be made: the units to move are refused
            picks = _without_transfers(picks, planned, refused)
            planned = []
        kms = ctx.dist_of(list(picks))  # only the shipping locations' distances, in picks order
        transfers: list[Transfer] = []
        ready: dict[int, float] = {}
        reserve: dict[tuple[int, int], int] = {}
        moved_in: dict[tuple[int, int], int] = {}
        transfer_res: list[tuple[int, tuple[int, int], int]] = []  # (destination, reservation key, qty)
        for src, dst, i, qty in planned:
            a, b = locs[ctx.cand[src]], locs[ctx.cand[dst]]
            km = float(self.network.distances_km(b.lat, b.lon)[ctx.cand[src]])
            kg = qty * lines.kg[i]
            assert transfer_svc is not None
            if cal is None:
                q = transfer_svc.quote(ctx.now, a.cutoff_hour, km, kg, qty)
                t_cost, t_co2, arrive = q.cost, q.co2_kg, q.promised_at
            else:
                src_i = int(ctx.cand[src])
                _, t_cost, _, arrive, t_co2 = cal.figures(
                    transfer_svc, src_i, b.market, ctx.now, a.cutoff_hour, km, kg, qty
                )
            sku_id = order.lines[lines.physical[i]].sku
            transfers.append(Transfer(a.id, b.id, sku_id, qty, t_cost, t_co2, arrive))
            ready[dst] = max(ready.get(dst, ctx.now), arrive)
            key = (int(ctx.cand[src]), lines.sku_idx[i])
            reserve[key] = reserve.get(key, 0) + qty
            transfer_res.append((dst, key, qty))
            moved_in[(dst, i)] = moved_in.get((dst, i), 0) + qty
        shipments: list[Shipment] = []
        picked: dict[int, int] = {}
        void: set[int] = set()  # shipping positions whose parcel no service takes
        objective = strategy.carrier_objective
        choose = self.carriers.choose_figures
        cand, now, deadline, destination = ctx.cand, ctx.now, ctx.deadline, dest[2]
        order_lines, physical, line_kg, sku_idx = order.lines, lines.physical, lines.kg, lines.sku_idx
        pickup = order.fulfilment is FulfilmentType.PICKUP_IN_STORE
        to_store = order.fulfilment is FulfilmentType.SHIP_TO_STORE
        for (j, taken), km in zip(picks.items(), kms, strict=True):
            loc_i: int = cand.item(j)
            loc = locs[loc_i]
            items, kg = 0, 0.0
            for i, qty in taken.items():
                items += qty
                kg += qty * line_kg[i]
            at = ready.get(j, now) if ready else now
            if pickup or (to_store and loc.id == destination):
                if cal is None:
                    ship_at = _pickup_ready(at, loc.cutoff_hour)
                else:
                    ship_at = cal.pickup_ready(loc_i, at, PICKUP_READY_HOURS, loc.cutoff_hour)
                service, cost, promised, co2 = "pickup", 0.0, ship_at, 0.0
            else:
                figures: tuple[str, float, float, float, float] | None
                if to_store:
                    if transfer_svc is None:  # no transfer reaches the store (not a parcel service's job)
                        figures = None
                    elif cal is None:
                        figures = transfer_svc.figures(at, loc.cutoff_hour, km, kg, items)
                    else:
                        figures = cal.figures(
                            transfer_svc, loc_i, order.market, at, loc.cutoff_hour, km, kg, items
                        )
                elif cal is None:
                    figures = choose(objective, at, loc.cutoff_hour, km, kg, items, deadline)
                else:
                    market = order.market
                    figures = cal.choose(
                        self.carriers, objective, loc_i, market, at, loc.cutoff_hour, km, kg, items, deadline
                    )
                if figures is None:  # no service takes this parcel: its units stay unfulfilled
                    why = (
                        f"ship to store from {loc.id} needs a transfer: {NO_TRANSFER}"
                        if to_store
                        else f"no carrier service takes the parcel from {loc.id} ({kg:.1f} kg, {km:.0f} km)"
                    )
                    for i, qty in taken.items():
                        refused[i] = (refused.get(i, (0, why))[0] + qty, why)
                    void.add(j)
                    continue
                service, cost, ship_at, promised, co2 = figures
            ship_lines = []
            for i, qty in taken.items():
                line = order_lines[physical[i]]
                ship_lines.append(ShipmentLine(line.line_id, line.sku, qty))
                picked[i] = picked.get(i, 0) + qty
                own = qty - moved_in.get((j, i), 0) if moved_in else qty
                if own:
                    key = (loc_i, sku_idx[i])
                    reserve[key] = reserve.get(key, 0) + own
            shipments.append(
                Shipment(
                    loc.id,
                    tuple(ship_lines),
                    service,
                    destination,
                    km,
                    kg,
                    cost,
                    loc.handling_cost_per_order + loc.handling_cost_per_line * len(taken),
                    ship_at,
                    promised,
                    co2,
                )
            )
        if void:  # transfers into a parcel that cannot leave are not made
            for dst, key, qty in transfer_res:
                if dst in void:
                    reserve[key] -= qty
            transfers = [t for t, (dst, _, _) in zip(transfers, transfer_res, strict=True) if dst not in void]
        reservations = [(loc_i, s, qty) for (loc_i, s), qty in reserve.items() if qty]
        return shipments, transfers, reservations, picked, refused

    def _unserved(
        self,
        order: Order,
        lines: _Lines,
        picked: dict[int, int],
        reason: str,
        refused: dict[int, tuple[int, str]] | None = None,
    ) -> list[Unfulfilled]:
        out = []
        order_lines = order.lines
        for i, k in enumerate(lines.physical):
            line = order_lines[k]
            short = line.qty - picked.get(i, 0)
            if refused and i in refused:
                no_carrier, why = refused[i]
                if no_carrier:
                    out.append(Unfulfilled(line.line_id, line.sku, no_carrier, why))
                    short -= no_carrier
            if short > 0:
                out.append(Unfulfilled(line.line_id, line.sku, short, reason))
        return out

    def _excluded_notes(
        self, order: Order, model: InventoryModel, ctx: SourcingContext
    ) -> list[CandidateNote]:
        """Notes for the model's locations that the fulfilment type or their set-up rule out."""
        locs, index = self.network.locations, self.network.loc_index
        kept = set(ctx.cand.tolist())
        out = []
        for loc_id in model.locations:
            i = index[loc_id]
            if i in kept:
                continue
            loc = locs[i]
            if not loc.enabled:
                why = "disabled"
            elif order.fulfilment is FulfilmentType.PICKUP_IN_STORE:
                why = f"pickup in store serves from {order.pickup_location} only"
            elif order.fulfilment is FulfilmentType.SHIP_TO_STORE:
                why = (
                    "a pickup point holds no stock"
                    if loc.kind is LocationKind.PICKUP_POINT
                    else f"ship to store from here needs a transfer: {NO_TRANSFER}"
                )
            elif Capability.SHIP_TO_HOME not in loc.capabilities:
                why = "cannot ship to home"
            else:
                why = "not a store (ship from store)"
            atp = ctx.ledger.atp_matrix(ctx.row_sku, np.array([i], dtype=np.intp))[:, 0]
            out.append(CandidateNote(loc_id, f"removed: {why}", tuple(atp.tolist())))
        return out

    def _explanation(
        self,
        ctx: SourcingContext,
        plan: Plan,
        strategy: Strategy,
        notes: list[CandidateNote],
        shipments: list[Shipment],
    ) -> Explanation:
        locs = self.network.locations
        rank = {j: r + 1 for r, j in enumerate(plan.considered)}
        chosen = {s.location for s in shipments}
        sources = {locs[ctx.cand[src]].id for src, _, _, _ in plan.transfers}
        for j, loc_i in enumerate(ctx.cand):
            loc = locs[loc_i].id
            if loc in chosen:
                status = "chosen: ships " + ", ".join(
                    f"{ln.sku}x{ln.qty}" for s in shipments if s.location == loc for ln in s.lines
                )
            elif loc in sources:
                status = "chosen: transfers stock to the shipping location"
            elif j in rank:
                status = "considered, not needed"
            else:
                status = "not considered (beyond the cutoff or lower ranked)"
            score = None if plan.scores is None else plan.scores.get(j)
            notes.append(CandidateNote(loc, status, tuple(ctx.atp[:, j].tolist()), rank.get(j), score))
        why = plan.why
        if shipments:
            why += "; " + "; ".join(
                f"{s.location} via {s.service}: cost {s.cost:.2f}, promised by hour {s.promised_at:.1f}, "
                f"{s.co2_kg:.3f} kg CO2e"
                for s in shipments
            )
        return Explanation(strategy.name, ctx.model.name, tuple(notes), why)

    @staticmethod
    def _decision(
        order: Order,
        strategy: Strategy,
        model: InventoryModel,
        now: float,
        shipments: tuple[Shipment, ...],
        transfers: tuple[Transfer, ...],
        unfulfilled: list[Unfulfilled],
        digital: list[ShipmentLine],
        reservations: tuple[tuple[int, int, int], ...],
        explanation: Explanation | None,
    ) -> Decision:
        return Decision(
            order.id,
            strategy.name,
            model.name,
            now,
            shipments,
            transfers,
            tuple(unfulfilled),
            tuple(digital),
            reservations,
            explanation,
        )


NO_TRANSFER = "the carrier catalogue has no transfer service"


def _own_stock_shortfall(store_id: str) -> str:
    """Why units of a ship-to-store order stay unfulfilled when no transfer can reach the store."""
    return f"{store_id} lacks stock, and no other location can send it: {NO_TRANSFER}"


def _without_transfers(
    picks: dict[int, dict[int, int]],
    transfers: list[tuple[int, int, int, int]],
    refused: dict[int, tuple[int, str]],
) -> dict[int, dict[int, int]]:
    """A plan's picks less the units its transfers were to bring in (added to ``refused`` per line, with
    the reason), for a catalogue that offers no transfers."""
    out = {j: dict(taken) for j, taken in picks.items()}
    why = f"the plan moves stock between locations: {NO_TRANSFER}"
    for _, dst, i, qty in transfers:
        out[dst][i] -= qty
        refused[i] = (refused.get(i, (0, why))[0] + qty, why)
    return {j: {i: q for i, q in taken.items() if q} for j, taken in out.items() if any(taken.values())}


def _pickup_ready(at: float, cutoff_hour: float) -> float:
    """BOPIS readiness: a couple of hours after the order, or next morning after the store's cutoff."""
    day = np.floor(at / HOURS_PER_DAY)
    hour = at - day * HOURS_PER_DAY
    if hour + PICKUP_READY_HOURS <= cutoff_hour:
        return float(at + PICKUP_READY_HOURS)
    return float((day + 1) * HOURS_PER_DAY + 10.0)


__all__ = ["DomError", "Objective", "PreparedOrders", "SourcingEngine"]
