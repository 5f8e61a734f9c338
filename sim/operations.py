"""A run's daily operations: replenishment reviews and receipts, walk-in store sales, backorder retries and
the daily snapshot of every location (a mixin of ``sim.model.Simulation``)."""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from dom_core.calendar import WorkCalendar
from dom_core.engine import SourcingEngine
from dom_core.inventory import InventoryLedger
from dom_core.model import HOURS_PER_DAY, FulfilmentType, LocationKind
from dom_core.network import Network
from sim.demand import DemandStream, triangular_ppf
from sim.environment import CountingEnvironment
from sim.records import PickJob, Records
from sim.scenario import Scenario
from sim.world import World

CYCLE_FREE_DAYS = 7  # daily garbage collections stop after this many in a row found nothing
Lines = list[tuple[int, int, int]]  # (line index in the demand stream, SKU index, qty)


class DailyOperations:
    """The daily process of a run and what it does (state kept by the simulation)."""

    env: CountingEnvironment
    sc: Scenario
    world: World
    network: Network
    engine: SourcingEngine
    ledger: InventoryLedger
    records: Records
    demand: DemandStream
    queues: list[deque[PickJob]]
    cap_per_hour: list[float]
    cap_week: list[list[float] | None] | None
    picked_today: npt.NDArray[np.float64]
    pipeline: npt.NDArray[np.int64]
    backorders: deque[tuple[int, float, Lines, int]]
    u_lead: npt.NDArray[np.float64]
    walkin_rng: np.random.Generator
    walkin_assortment: list[tuple[int, npt.NDArray[np.intp], npt.NDArray[np.float64]]]
    walkin_cdf: list[npt.NDArray[np.float64]]
    walkin_lost: list[tuple[int, int, int]]
    calendar: WorkCalendar | None
    units_walkin: int
    units_received: int
    units_transferred: int
    events_processed: int
    _review_cells: tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.int64]]
    _cycle_free_days: int
    _at: Callable[..., None]
    _event: Callable[[float, str, str, str, int], None]
    _source: Callable[[int, str, Lines, int], None]
    _record_order: Callable[..., None]
    _model_network: Callable[[int], Network]

    # ---------------------------------------------------------------- daily
    def _daily(self) -> Any:
        env, sc = self.env, self.sc
        day = 0
        while True:
            if day and sc.replenishment.policy != "none" and day % sc.replenishment.review_days == 0:
                self._replenish(day)
            if day < sc.horizon_days:
                self._walk_in(day)
            self._retry_backorders(day)
            self._snapshot(day)
            self.records.compact()
            self.engine.capacity.forget_before(day - 1) if self.engine.capacity else None
            if not gc.isenabled() and self._cycle_free_days < CYCLE_FREE_DAYS:
                # each collection traverses every object that survived the day: ~3% of a run, wasted
                # on strategies that make no cycles
                self._cycle_free_days = 0 if gc.collect(1) else self._cycle_free_days + 1
            day += 1
            yield env.timeout(HOURS_PER_DAY)

    def _snapshot(self, day: int) -> None:
        led, carried = self.ledger, self.world.carried
        zero = led.unavailable()
        zero &= carried
        stockouts = zero.sum(axis=0).tolist()
        on_hand = led.on_hand.sum(axis=0).tolist()
        picked = self.picked_today.tolist()
        shift = max(1, self.sc.operations.shift_end_hour - self.sc.operations.shift_start_hour)
        cal = self.calendar  # the row of day d holds the picks of day d - 1: so does its capacity
        self.records.daily.extend(
            (
                day,
                location.id,
                location.kind.value,
                on_hand[loc],
                stockouts[loc],
                sum([j.units for j in queue]),
                picked[loc],
                cap * shift if cal is None else self._capacity_on(loc, day - 1, cap * shift),
            )
            for loc, (location, queue, cap) in enumerate(
                zip(self.network.locations, self.queues, self.cap_per_hour, strict=True)
            )
        )
        self.picked_today[:] = 0

    def _capacity_on(self, loc: int, day: int, usual: float) -> float:
        """Units ``loc`` could pick on ``day`` under the calendar: none when closed, else its weekday's."""
        cal = self.calendar
        assert cal is not None
        if cal.is_closed(loc, day):
            return 0.0
        week = None if self.cap_week is None else self.cap_week[loc]
        shift = max(1, self.sc.operations.shift_end_hour - self.sc.operations.shift_start_hour)
        return usual if week is None else week[day % 7] * shift

    def _replenish(self, day: int) -> None:
        sc, led, net = self.sc, self.ledger, self.network
        rp = sc.replenishment
        # the inventory position of the carried cells only (flat SKU-major indices)
        carried, s_level, S_level = self._review_cells
        position = led.on_hand.ravel().take(carried) - led.reserved.ravel().take(carried)
        position += self.pipeline.ravel().take(carried)
        if self.backorders:
            position -= self._backlog().ravel().take(carried)
        due = position <= s_level if rp.policy == "sS" else position < S_level
        n_loc = len(net.locations)
        cells = carried[due]
        need = S_level[due] - position[due]
        # group the due cells with a positive need by location, SKUs ascending
        loc_need = np.bincount(cells % n_loc, weights=need, minlength=n_loc)  # exact: small integers
        cells, need = cells[need > 0], need[need > 0]
        cell_skus, cell_locs = np.divmod(cells, n_loc)
        by_loc = np.argsort(cell_locs, kind="stable")
        cell_skus, cell_locs, need = cell_skus[by_loc], cell_locs[by_loc], need[by_loc]
        bounds = np.searchsorted(cell_locs, np.arange(n_loc + 1)).tolist()
        now = self.env.now
        locs = net.locations
        for loc in np.flatnonzero(loc_need > 0).tolist():
            a, b = bounds[loc], bounds[loc + 1]
            skus, qty = cell_skus[a:b], need[a:b]
            ref = f"R{day}-{loc}"
            if locs[loc].kind is LocationKind.DC or self.world.supply_dc[loc] < 0:
                lt = rp.supplier_lead_time
            else:
                lt = rp.transfer_lead_time
                src = int(self.world.supply_dc[loc])
                qty = np.minimum(qty, led.atp_at(src, skus))
                keep = qty > 0
                skus, qty = skus[keep], qty[keep]
                if not skus.size:
                    continue
                led.ship_out_many(src, skus, qty, now, ref)
                self.units_transferred += int(qty.sum())
            lead = float(triangular_ppf(self.u_lead[day, loc], lt.min, lt.mode, lt.max))
            led.add_inbound_many(ref, loc, skus, qty, now + lead * HOURS_PER_DAY, now)
            self.pipeline[skus, loc] += qty
            self._event(now, "replenishment_ordered", ref, locs[loc].id, int(qty.sum()))
            self._at(lead * HOURS_PER_DAY, self._receive, ref, loc)

    def _backlog(self) -> npt.NDArray[np.int64]:
        """Backordered units per (SKU, location) that must be replenished: a pickup order's at its
        store, any other at its inventory model's primary location."""
        backlog = np.zeros_like(self.pipeline)
        d = self.demand
        for k, _, lines, _ in self.backorders:
            pickup = int(d.pickup[k])
            if pickup >= 0 and d.fulfilment[k] is FulfilmentType.PICKUP_IN_STORE:
                loc = pickup
            else:
                net = self._model_network(k)
                market = self.world.market_names[int(d.market[k])]
                model = net.inventory_model(market, d.channels[int(d.channel[k])])
                loc = net.loc_index[model.locations[0]]
            for _, s, qty in lines:
                backlog[s, loc] += qty
        return backlog

    def _receive(self, ref: str, loc: int) -> None:
        batch = self.ledger.receive_inbound_many(ref, self.env.now)
        self.pipeline[batch.skus, batch.loc] -= batch.qtys
        units = int(batch.qtys.sum())
        self.units_received += units
        self.events_processed += 1
        self._event(self.env.now, "received", ref, self.network.locations[loc].id, units)

    def _walk_in(self, day: int) -> None:
        """Walk-in customers buy unreserved store stock (one draw per store per day, then one ledger call)."""
        rate = self.sc.demand.walk_in_units_per_store_day
        if rate <= 0 or not self.walkin_assortment:
            return
        counts = self.walkin_rng.poisson(rate, size=len(self.walkin_assortment))
        if self.calendar is not None:  # closed stores sell nothing
            closed = [self.calendar.is_closed(loc, day) for loc, _, _ in self.walkin_assortment]
            counts[np.array(closed, dtype=bool)] = 0
        total = int(counts.sum())
        if not total:
            return
        # the stores' draws of Generator.choice(carried, n, p=p) in one uniform draw (the same numbers)
        u = self.walkin_rng.random(total)
        ends = np.cumsum(counts).tolist()
        keys = np.empty(total, dtype=np.int64)
        n_sku, start = len(self.network.skus), 0
        for (loc, carried, _), cdf, end in zip(self.walkin_assortment, self.walkin_cdf, ends, strict=True):
            if end > start:
                keys[start:end] = carried[cdf.searchsorted(u[start:end], side="right")] + loc * n_sku
                start = end
        cells, qtys = np.unique(keys, return_counts=True)  # by store, then SKU
        locs, skus = np.divmod(cells, n_sku)
        taken = self.ledger.take_unreserved_many(locs, skus, qtys, self.env.now + 12.0, "walk-in")
        self.units_walkin += int(taken.sum())
        lost = qtys - taken  # walk-in demand the store's unreserved stock could not serve
        if lost.any():
            per_store = np.bincount(locs, weights=lost, minlength=len(self.network.locations))
            self.walkin_lost.extend(
                (day, loc, int(units)) for loc, units in enumerate(per_store.tolist()) if units
            )

    def _retry_backorders(self, day: int) -> None:
        if not self.backorders:
            return
        now = self.env.now
        waiting, self.backorders = self.backorders, deque()
        limit = self.sc.operations.backorder_max_days * HOURS_PER_DAY
        for k, since, lines, attempt in waiting:
            ref = f"O{k}-b{attempt}"
            if now - since > limit:
                self._event(now, "cancelled", ref, "", sum(q for _, _, q in lines))
                self._record_order(ref, k, attempt, lines, 0, sum(q for _, _, q in lines), [], None)
                continue
            self._source(k, ref, lines, attempt)
            # a retry that still misses stock re-queues itself with the original wait start
            if self.backorders and self.backorders[-1][0] == k and self.backorders[-1][3] == attempt + 1:
                kk, _, ll, at = self.backorders.pop()
                self.backorders.append((kk, since, ll, at))


def walkin_cdf(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The CDF ``Generator.choice(a, size, p=p)`` samples by: ``a[cdf.searchsorted(random(size), "right")]``
    draws what ``choice`` draws, from the same uniforms (checked by tests/sim/test_model.py)."""
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return cdf
