"""One simulation run: a SimPy model that drives the dom_core engine with a scenario's demand.

Processes (few and long-lived, so the event loop stays fast at a million orders):
* arrivals  - one process walks the pre-drawn demand stream and sources each order with the engine
              (under a staged rollout, the candidate's engine where a stage is live: ``sim.engines``);
* picking   - one hourly process picks queued shipments at every location within its shift capacity;
              a picked parcel leaves at the carrier's next pickup and arrives after a random transit
              (``sim.parcels``);
* daily     - replenishment review, walk-in store sales, backorder retries/cancellation, snapshots
              (``sim.operations``);
* returns and receipts are raw SimPy timeout callbacks (no process per item).
Stock lives only in the engine's ledger; the model records flat rows that become Parquet tables.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from dom_core.decision import Decision
from dom_core.model import HOURS_PER_DAY, FulfilmentType, Order, OrderLine
from dom_core.network import Network
from dom_core.optimise.batch import BatchReoptimiser
from dom_core.optimise.forecast import HistoryForecast
from dom_core.returns import Grade
from sim.demand import DemandStream, generate_demand, triangular_ppf
from sim.engines import Knobs, StagedEngines, network_with_knobs, run_engine
from sim.environment import CountingEnvironment, gc_paused
from sim.operations import CYCLE_FREE_DAYS, DailyOperations, walkin_cdf
from sim.parcels import ParcelFlow
from sim.records import PickJob, Records
from sim.rng import stream
from sim.rollout import RolloutPlan
from sim.scenario import StrategyRun
from sim.shared import DemandLists, SharedDemand, demand_lists, shared_demand
from sim.world import World

__all__ = [  # what other modules and tests import from here (some of it now lives in its own module)
    "CYCLE_FREE_DAYS",
    "DRAIN_DAYS",
    "CountingEnvironment",
    "DemandLists",
    "Knobs",
    "PickJob",
    "Records",
    "SharedDemand",
    "Simulation",
    "demand_lists",
    "gc_paused",
    "generate_demand",
    "shared_demand",
    "triangular_ppf",
    "walkin_cdf",
]

DRAIN_DAYS = 12.0  # after the horizon, run on without new orders until queued parcels are delivered
GRADES = (Grade.A, Grade.B, Grade.C, Grade.D)


class Simulation(ParcelFlow, DailyOperations):
    """One (scenario, strategy, replication) run."""

    def __init__(
        self,
        world: World,
        run: StrategyRun,
        replication: int,
        *,
        knobs: Knobs | None = None,
        record_events: bool = True,
        explain_every: int = 500,
        progress: Callable[[float], None] | None = None,
        shared: SharedDemand | None = None,
        rollout: RolloutPlan | None = None,
    ) -> None:
        """A run of ``run`` on ``replication`` (``shared``: its demand, drawn once for several runs);
        ``rollout``: source with the candidate's rules where and when the plan has them live."""
        self.world, self.run_spec, self.replication = world, run, replication
        self.knobs = knobs or Knobs()
        sc = world.scenario
        self.sc = sc
        self.env = CountingEnvironment()
        self.network = network_with_knobs(world, self.knobs)
        self.ledger = world.initial.copy()
        self.ledger.network = self.network
        self.ledger.record = False
        if self.knobs.safety_stock is not None:
            self.ledger.set_safety_stock_all(self.knobs.safety_stock)
        self.engine = run_engine(world, self.network, run)
        self.returns_engine = world.returns_engine(self.network)
        self.reoptimiser: BatchReoptimiser | None = None
        self.held: list[tuple[int, str, list[tuple[int, int, int]], Order]] = []
        if run.batch_window_hours is not None:
            forecast = HistoryForecast() if run.batch_lookahead else None
            self.reoptimiser = BatchReoptimiser(
                self.network, world.carriers, time_limit=1.0, forecast=forecast
            )
        self._placed: list[Order | None] | None = None  # orders as placed, shared with other runs
        if shared is None:
            self.demand: DemandStream = generate_demand(world, replication, self.knobs.demand_factor)
        elif shared.world is not world:
            raise ValueError("shared demand drawn for another world given to a run")
        elif (shared.replication, shared.demand_factor) != (replication, self.knobs.demand_factor):
            raise ValueError(
                f"shared demand of replication {shared.replication} (demand factor {shared.demand_factor}) "
                f"given to a run of replication {replication} (demand factor {self.knobs.demand_factor})"
            )
        elif shared.share_orders:
            self.demand, self._placed = shared.demand, shared.orders
            self.engine.prepared = shared.prepared
        else:  # the stream only (a long replay): orders are built as they are placed, then dropped
            self.demand = shared.demand
        self.lists = demand_lists(world, self.demand) if shared is None else shared.lists
        self.staged: StagedEngines | None = None
        if rollout is not None:
            if self.reoptimiser is not None:
                raise ValueError("a staged rollout cannot run with batch re-optimisation")
            self.staged = StagedEngines(self.engine, rollout, self.demand, world.market_names)
        self.records = Records()
        self.record_events = record_events
        self.explain_every = explain_every
        self.progress = progress
        n_loc = len(self.network.locations)
        self.queues: list[deque[PickJob]] = [deque() for _ in range(n_loc)]
        shift = max(1, sc.operations.shift_end_hour - sc.operations.shift_start_hour)
        factor = sc.operations.capacity_factor * self.knobs.capacity_factor
        self.cap_per_hour = [loc.pick_capacity_per_day * factor / shift for loc in self.network.locations]
        cal = world.calendar
        self.cap_week = (  # per location, the hourly capacity of each weekday when the calendar gives them
            None
            if cal is None or not any(cal.pick_capacity)
            else [[c * factor / shift for c in week] if week else None for week in cal.pick_capacity]
        )
        self.picked_today = np.zeros(n_loc)
        self.pipeline = np.zeros_like(self.ledger.on_hand)  # units on order per (sku, location)
        rp, rate = sc.replenishment, world.demand_rate
        self.levels = (  # (s, S) per (sku, location) as days of expected demand
            np.ceil(rate * rp.reorder_days_of_cover).astype(np.int64),
            np.ceil(rate * rp.order_up_to_days_of_cover).astype(np.int64),
        )
        carried_cells = np.flatnonzero(world.carried)
        self._review_cells = (  # carried cells and their (s, S), the only cells a review looks at
            carried_cells,
            self.levels[0].ravel().take(carried_cells),
            self.levels[1].ravel().take(carried_cells),
        )
        self.backorders: deque[tuple[int, float, list[tuple[int, int, int]], int]] = deque()
        self.u_lead = stream(sc.seed, replication, "leadtime").random(
            (int(sc.horizon_days + DRAIN_DAYS) + 2, n_loc)
        )
        self.walkin_rng = stream(sc.seed, replication, "walkin")
        pop = world.popularity
        self.walkin_assortment = [  # (store, SKUs it carries, their sales probabilities)
            (i, carried, pop[carried] / pop[carried].sum())
            for i, loc in enumerate(self.network.locations)
            if loc.is_store and (carried := np.flatnonzero(world.carried[:, i])).size
        ]
        self.walkin_cdf = [walkin_cdf(p) for _, _, p in self.walkin_assortment]
        self.services = {s.name: s for s in world.carriers.services}
        self.calendar = world.calendar
        self._sku_ids = [sku.id for sku in self.network.skus]
        self._loc_ids = [loc.id for loc in self.network.locations]
        self._market_of = [world.market_names[m] for m in self.demand.market.tolist()]
        self._channel_of = [self.demand.channels[c] for c in self.demand.channel.tolist()]
        self._pickup_of = [self._loc_ids[p] if p >= 0 else None for p in self.demand.pickup.tolist()]
        self._horizon_end = (sc.horizon_days + DRAIN_DAYS) * HOURS_PER_DAY
        grades = sc.returns.grades
        self._grade_names = list(grades)
        cum = np.cumsum([grades[g] for g in self._grade_names])
        self._grade_cdf = (cum / cum[-1]).tolist()
        self._grade_of = {g: Grade(g) for g in self._grade_names}
        self.events_processed = 0
        self.units_shipped = 0
        self.units_walkin = 0
        self.walkin_lost: list[tuple[int, int, int]] = []  # (day, store, walk-in units its stock lacked)
        self.units_received = 0  # every receipt, supplier orders and DC-to-store transfers alike
        self.units_transferred = 0  # units that left a DC towards a store
        self.units_restocked = 0
        self._cycle_free_days = 0  # consecutive daily collections that found no garbage

    # ------------------------------------------------------------------ run
    def run(self) -> Records:
        """Run to the horizon plus the drain period; returns the recorded rows."""
        self.env.process(self._arrivals())
        self.env.process(self._picking())
        self.env.process(self._daily())
        if self.reoptimiser is not None:
            self.env.process(self._batches())
        end = (self.sc.horizon_days + DRAIN_DAYS) * HOURS_PER_DAY
        # The collector is paused for the run; the daily process collects the young generations in case
        # the strategy makes cycles (the OR-Tools ones do), until a week of daily collections found none.
        with gc_paused():
            try:
                self.env.run(until=end)
            finally:
                self.env.close()
        return self.records

    def _at(self, delay: float, action: Callable[..., Any], *args: Any) -> None:
        """Call ``action(*args)`` after ``delay`` hours: a raw timeout callback, no process per item."""
        self.env.timeout(delay).callbacks.append(lambda _event: action(*args))

    def _event(self, t: float, kind: str, ref: str, loc: str, qty: int) -> None:
        if self.record_events:
            self.records.events.append((t, kind, ref, loc, qty))

    def _model_network(self, k: int) -> Network:
        """The network whose inventory models source order ``k`` now (the candidate's where it is live)."""
        return self.network if self.staged is None else self.staged.network_for(k, self.env.now)

    # ------------------------------------------------------------- arrivals
    def _arrivals(self) -> Any:
        d, env = self.demand, self.env
        n = len(d)
        tick = max(1, n // 100)
        chunk = 4096  # demand columns become Python lists a chunk at a time (cheap access, flat memory)
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            times = d.t[lo:hi].tolist()
            starts = d.line_start[lo : hi + 1].tolist()
            a0 = starts[0]
            skus = d.line_sku[a0 : starts[-1]].tolist()
            qtys = d.line_qty[a0 : starts[-1]].tolist()
            for i, t in enumerate(times):
                k = lo + i
                delay = t - env.now
                # the next order is usually due before any other event: the clock jumps to it
                if delay > 0 and not env.advance_to(t):
                    yield env.timeout(delay)
                a, b = starts[i], starts[i + 1]
                if b - a == 1:  # most orders: one line
                    self._place(k, [(a, skus[a - a0], qtys[a - a0])])
                else:
                    self._place(
                        k, list(zip(range(a, b), skus[a - a0 : b - a0], qtys[a - a0 : b - a0], strict=True))
                    )
                if self.progress is not None and k % tick == 0:
                    self.progress(k / n)
        if self.progress is not None:
            self.progress(1.0)

    def _order(self, k: int, lines: list[tuple[int, int, int]], ref: str) -> Order:
        d, sku_ids = self.demand, self._sku_ids
        return Order(
            ref,
            self._market_of[k],
            self._channel_of[k],
            float(d.t[k]),
            float(d.lat[k]),
            float(d.lon[k]),
            tuple([OrderLine(str(li), sku_ids[s], q) for li, s, q in lines]),
            d.fulfilment[k],
            self._pickup_of[k],
            self.sc.demand.max_delivery_days,
        )

    def _placed_order(self, k: int, lines: list[tuple[int, int, int]], ref: str) -> Order:
        """The order ``k`` as placed (all its lines), built once per replication when runs share them."""
        placed = self._placed
        if placed is None:
            return self._order(k, lines, ref)
        order = placed[k]
        if order is None:
            order = placed[k] = self._order(k, lines, ref)
        return order

    def _place(self, k: int, lines: list[tuple[int, int, int]]) -> None:
        ref = f"O{k}"
        if self.reoptimiser is not None:
            self.held.append((k, ref, lines, self._placed_order(k, lines, ref)))
        else:
            self._source(k, ref, lines, attempt=0)

    def _batches(self) -> Any:
        """Batch re-optimisation: every window, re-assign all held orders jointly (their reservations
        count as available to them), then release those held long enough to picking."""
        assert self.reoptimiser is not None and self.run_spec.batch_window_hours is not None
        window, release = self.run_spec.batch_window_hours, self.run_spec.batch_release_hours
        while True:
            yield self.env.timeout(window)
            if not self.held:
                continue
            now = self.env.now
            decisions = self.reoptimiser.assign([h[3] for h in self.held], self.ledger, now)
            self.reoptimiser.apply(decisions, self.ledger, now)
            self.events_processed += len(decisions)
            kept = []
            for held, decision in zip(self.held, decisions, strict=True):
                k, ref, lines, order = held
                if now - order.created_at >= release:
                    self._after_decision(k, ref, lines, decision, 0)
                else:
                    kept.append(held)
            self.held = kept

    def _source(self, k: int, ref: str, lines: list[tuple[int, int, int]], attempt: int) -> None:
        now = self.env.now
        order = self._placed_order(k, lines, ref) if attempt == 0 else self._order(k, lines, ref)
        explain = attempt == 0 and k % self.explain_every == 0
        engine = self.engine if self.staged is None else self.staged.engine_for(k, now)
        decision = engine.source(order, self.ledger, now, explain=explain)
        self.events_processed += 1
        if decision.explanation is not None:
            self.records.explanations.append((ref, decision.explanation.as_text()))
        self._after_decision(k, ref, lines, decision, attempt)

    def _after_decision(
        self, k: int, ref: str, lines: list[tuple[int, int, int]], dec: Decision, attempt: int
    ) -> None:
        now, loc_index = self.env.now, self.network.loc_index
        # (line index, SKU index) by line id; most orders have one line, every shipped line is that one
        single = (lines[0][0], lines[0][1]) if len(lines) == 1 else None
        by_line = {} if single else {str(li): (li, s) for li, s, _ in lines}
        events = self.records.events if self.record_events else None
        transfers = dec.transfers
        ready = now
        if transfers:
            for src in {t.from_location for t in transfers}:  # transfer sources ship to the primary now
                self.ledger.commit(ref, now, loc=loc_index[src])
            ready = max(t.arrive_at for t in transfers)
        for n_ship, s in enumerate(dec.shipments):
            job_lines = []
            units = 0
            for ln in s.lines:
                li, s_idx = single or by_line[ln.line_id]
                job_lines.append((li, s_idx, ln.qty))
                units += ln.qty
            loc = loc_index[s.location]
            job = PickJob(ref, k, loc, units, s.service, s.promised_at, now, n_ship, job_lines, s.distance_km)
            if ready > now:
                self._at(ready - now, self.queues[loc].append, job)
            else:
                self.queues[loc].append(job)
            if events is not None:
                events.append((now, "sourced", ref, s.location, units))
        lost = 0
        backordered: list[tuple[int, int, int]] = []
        if dec.unfulfilled:
            back = self.sc.operations.stockout == "backorder"
            for u in dec.unfulfilled:
                if back:
                    li, s_idx = single or by_line[u.line_id]
                    backordered.append((li, s_idx, u.qty))
                else:
                    lost += u.qty
        if backordered:
            self.backorders.append((k, now, backordered, attempt + 1))
            self._event(now, "backordered", ref, "", sum(q for _, _, q in backordered))
        if lost:
            self._event(now, "lost", ref, "", lost)
        units = lines[0][2] if single else sum(q for _, _, q in lines)
        self._record_order(ref, k, attempt, lines, units, lost, backordered, dec)

    def _record_order(
        self,
        ref: str,
        k: int,
        attempt: int,
        lines: list[tuple[int, int, int]],
        units: int,
        lost: int,
        backordered: list[tuple[int, int, int]],
        dec: Decision | None,
    ) -> None:
        """One row of the orders table (``dec`` is None for a backorder cancelled after its wait)."""
        lists = self.lists
        shipping: float = 0
        handling: float = 0
        transfer_cost: float = 0
        co2, promised = 0.0, math.nan
        if dec is None:
            n_ship, allocated = 0, 0
        elif len(dec.shipments) == 1 and not dec.transfers:  # most orders
            (s,) = dec.shipments
            n_ship, allocated = 1, 0
            for ln in s.lines:
                allocated += ln.qty
            # 0 + x == x: the general case's sums, bit for bit
            shipping, handling, co2, promised = s.shipping_cost, s.handling_cost, s.co2_kg, s.promised_at
        else:
            shipments = dec.shipments
            n_ship, allocated = len(shipments), 0
            for s in shipments:
                for ln in s.lines:
                    allocated += ln.qty
            # sum() as in Decision.co2_kg/cost: the same float additions in the same order
            shipping = sum([s.shipping_cost for s in shipments])
            handling = sum([s.handling_cost for s in shipments])
            if dec.transfers:
                transfer_cost = sum([t.cost for t in dec.transfers])
            co2 = dec.co2_kg
            if shipments:
                promised = max([s.promised_at for s in shipments])
        self.records.orders.append(
            (
                ref,
                k,
                self.demand.t.item(k),
                self.env.now,
                attempt,
                self._market_of[k],
                self._channel_of[k],
                lists.fulfilment[k],
                len(lines),
                units,
                allocated,
                lost,
                sum(q for _, _, q in backordered) if backordered else 0,
                n_ship,
                shipping,
                handling,
                transfer_cost,
                co2,
                promised,
            )
        )


FULFILMENT_TYPES = tuple(FulfilmentType)
