"""One simulation run: a SimPy model that drives the dom_core engine with a scenario's demand.

Processes (few and long-lived, so the event loop stays fast at a million orders):
* arrivals  - one process walks the pre-drawn demand stream and sources each order with the engine;
* picking   - one hourly process picks queued shipments at every location within its shift capacity;
              a picked parcel leaves at the carrier's next pickup and arrives after a random transit;
* daily     - replenishment review, walk-in store sales, backorder retries/cancellation, snapshots;
* returns and receipts are raw SimPy timeout callbacks (no process per item).
Stock lives only in the engine's ledger; the model records flat rows that become Parquet tables.
"""

from __future__ import annotations

import bisect
import gc
import math
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import simpy

from dom_core.capacity import CapacityBook
from dom_core.decision import Decision
from dom_core.engine import PreparedOrders, SourcingEngine
from dom_core.model import HOURS_PER_DAY, FulfilmentType, LocationKind, Order, OrderLine
from dom_core.optimise.batch import BatchReoptimiser
from dom_core.optimise.forecast import HistoryForecast
from dom_core.returns import Grade, ReturnReason, ReturnRequest
from dom_core.strategies import build_strategy
from sim.demand import MAX_SHIPMENT_DRAWS, DemandStream, generate_demand, triangular_ppf
from sim.rng import stream
from sim.scenario import AS_CONFIGURED, StrategyRun
from sim.tables import TABLES, frame
from sim.world import World

DRAIN_DAYS = 12.0  # after the horizon, run on without new orders until queued parcels are delivered
GRADES = (Grade.A, Grade.B, Grade.C, Grade.D)
CYCLE_FREE_DAYS = 7  # daily garbage collections stop after this many in a row found nothing


@dataclass(slots=True)
class PickJob:
    """A shipment waiting to be picked at a location."""

    ref: str
    order: int
    loc: int
    units: int
    service: str
    promised_at: float
    decided_at: float
    shipment_no: int
    lines: list[tuple[int, int, int]]  # (line index in the demand stream, sku index, qty)
    km: float


@dataclass
class Records:
    """Flat rows of a run, one list per table; ``compact`` moves rows into columnar chunks so that
    long runs keep memory flat (Python tuples cost ~10x what a polars row does)."""

    orders: list[tuple[Any, ...]] = field(default_factory=list)
    shipments: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    daily: list[tuple[Any, ...]] = field(default_factory=list)
    returns: list[tuple[Any, ...]] = field(default_factory=list)
    explanations: list[tuple[Any, ...]] = field(default_factory=list)
    chunks: dict[str, list[pl.DataFrame]] = field(default_factory=dict)

    def compact(self, min_rows: int = 50_000) -> None:
        """Turn every table holding at least ``min_rows`` rows into a DataFrame chunk."""
        for name, schema in TABLES.items():
            rows: list[tuple[Any, ...]] = getattr(self, name)
            if len(rows) >= min_rows:
                self.chunks.setdefault(name, []).append(frame(rows, schema))
                setattr(self, name, [])

    def table(self, name: str, **constants: Any) -> pl.DataFrame:
        """The whole table (chunks and pending rows), with constant key columns added."""
        parts = [*self.chunks.get(name, []), frame(getattr(self, name), TABLES[name])]
        df = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        return df.with_columns([pl.lit(v).alias(k) for k, v in constants.items()]) if constants else df


@dataclass
class SharedDemand:
    """One replication's demand stream and its orders as placed, for the runs of every strategy on it.

    Common random numbers make the stream identical for every strategy, and ``Order``s are immutable, so
    the runs of one replication in one process build each order once (``orders[k]``, filled on first use)
    instead of once per strategy, their engines prepare each order once (``prepared``: its lines,
    destination and candidates), and per-line draws are read from ``lists``. A lone run does without: a
    million-order run would keep them all.
    """

    world: World
    demand: DemandStream
    replication: int
    demand_factor: float
    lists: DemandLists = field(repr=False)
    orders: list[Order | None] = field(init=False, repr=False)
    prepared: PreparedOrders = field(default_factory=PreparedOrders, repr=False)

    def __post_init__(self) -> None:
        self.orders = [None] * len(self.demand)


@dataclass(slots=True)
class DemandLists:
    """Demand values a run reads per order or line, as Python lists (cheaper to read than numpy scalars;
    numeric columns read once per order use ``item`` instead, to keep memory flat on long runs)."""

    fulfilment: list[str]  # per order: the fulfilment type's value
    return_delay: list[float | None]  # per line: days from delivery to its return (None: kept)


def demand_lists(world: World, demand: DemandStream) -> DemandLists:
    """The lists of a demand stream; a line returns when its uniform falls below its SKU's return rate."""
    delay = world.scenario.returns.delay_days
    returned = ~(demand.u_return >= world.return_rate[demand.line_sku])
    # the same float operations as triangular_ppf on one uniform at a time
    days = np.asarray(triangular_ppf(demand.u_return_delay, delay.min, delay.mode, delay.max))
    return DemandLists(
        [f.value for f in demand.fulfilment],
        [d if r else None for r, d in zip(returned.tolist(), days.tolist(), strict=True)],
    )


def shared_demand(world: World, replication: int, demand_factor: float = 1.0) -> SharedDemand:
    """The demand of a replication, to share between the runs of its strategies; its home-delivery
    customers' distances to every location are computed at once, for every run on it to look up."""
    demand = generate_demand(world, replication, demand_factor)
    point = world.network.point
    home = np.flatnonzero(demand.pickup < 0)  # the others ship to a store
    lats, lons = demand.lat.take(home).tolist(), demand.lon.take(home).tolist()
    world.network.prime_distances([point(a, b) for a, b in zip(lats, lons, strict=True)])
    return SharedDemand(world, demand, replication, demand_factor, demand_lists(world, demand))


@dataclass(frozen=True)
class Knobs:
    """Rule knobs an analyst turns without editing the scenario file."""

    demand_factor: float = 1.0
    capacity_factor: float = 1.0
    max_shipments: int | None = None
    safety_stock: int | None = None
    store_participation: float = 1.0  # share of stores allowed to ship online orders


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (for events/s figures)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def step(self) -> None:
        """Process the next event."""
        self.steps += 1
        super().step()

    def advance_to(self, t: float) -> bool:
        """Move the clock to ``t`` now, if no scheduled event is due at or before ``t``; else False.

        For the running process this is what ``yield timeout(t - now)`` does (the same clock value,
        ``now + (t - now)``), without a heap push, a pop and a generator resume: nothing else can run
        in between. Counted as one processed event.
        """
        if t >= self.peek():
            return False
        self._now += t - self._now
        self.steps += 1
        return True

    def close(self) -> None:
        """Drop the events still scheduled, once the run is over.

        Their callbacks, and the processes waiting on them, refer back to the simulation: reference
        cycles that would keep the whole run's objects alive until a full garbage collection.
        """
        for *_, event in self._queue:
            if event.callbacks:  # a process's resumption: process -> its awaited event -> process
                event.callbacks.clear()
        self._queue.clear()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (nested pauses leave it to the outermost).

    A run holds millions of live objects and makes almost no reference cycles: the collector's passes
    over all of them cost ~10% of a run, and re-enabling it while they are alive starts one at once.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class Simulation:
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
    ) -> None:
        self.world, self.run_spec, self.replication = world, run, replication
        self.knobs = knobs or Knobs()
        sc = world.scenario
        self.sc = sc
        self.env = CountingEnvironment()
        self.network = _apply_network_knobs(world, self.knobs)
        self.ledger = world.initial.copy()
        self.ledger.network = self.network
        self.ledger.record = False
        if self.knobs.safety_stock is not None:
            self.ledger.set_safety_stock_all(self.knobs.safety_stock)
        strategy = None if run.strategy == AS_CONFIGURED else build_strategy(run.strategy)
        self.engine = SourcingEngine(self.network, world.carriers, strategy=strategy, capacity=CapacityBook())
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
        else:
            self.demand, self._placed = shared.demand, shared.orders
            self.engine.prepared = shared.prepared
        self.lists = demand_lists(world, self.demand) if shared is None else shared.lists
        self.records = Records()
        self.record_events = record_events
        self.explain_every = explain_every
        self.progress = progress
        n_loc = len(self.network.locations)
        self.queues: list[deque[PickJob]] = [deque() for _ in range(n_loc)]
        shift = max(1, sc.operations.shift_end_hour - sc.operations.shift_start_hour)
        factor = sc.operations.capacity_factor * self.knobs.capacity_factor
        self.cap_per_hour = [loc.pick_capacity_per_day * factor / shift for loc in self.network.locations]
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
        decision = self.engine.source(order, self.ledger, now, explain=explain)
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

    # -------------------------------------------------------------- picking
    def _picking(self) -> Any:
        env, ops = self.env, self.sc.operations
        while True:
            hour = env.now % HOURS_PER_DAY
            if ops.shift_start_hour <= hour < ops.shift_end_hour:
                for loc, queue in enumerate(self.queues):
                    if queue:
                        self._pick(loc, queue, self.cap_per_hour[loc])
            yield env.timeout(1.0)

    def _pick(self, loc: int, queue: deque[PickJob], budget: float) -> None:
        now = self.env.now + 1.0  # picked by the end of this hour
        location = self.network.locations[loc]
        loc_id, kind = location.id, location.kind.value
        reservations, shipments = self.ledger.reservations, self.records.shipments
        events = self.records.events if self.record_events else None
        u_transit = self.demand.u_transit
        cap = self.cap_per_hour[loc]
        picked = 0
        while queue and (queue[0].units <= budget or budget >= cap):
            job = queue.popleft()
            units = job.units
            budget -= units
            picked += units
            if job.ref in reservations:  # (transferred-in units were committed at the source)
                self.ledger.commit(job.ref, now, loc=loc)
            self.units_shipped += units
            self.events_processed += 1
            if job.service == "pickup":
                shipped_at = delivered = now
            else:
                service = self.services[job.service]
                shipped_at = service.ship_time(now, 24.0)
                u = u_transit.item(job.order, min(job.shipment_no, MAX_SHIPMENT_DRAWS - 1))
                t = service.transit
                days = (
                    float(triangular_ppf(u, t.min_days, t.mode_days, t.max_days))
                    + t.extra_days_per_1000_km * job.km / 1000
                )
                delivered = shipped_at + days * HOURS_PER_DAY
            shipments.append(
                (
                    job.ref,
                    job.order,
                    loc_id,
                    kind,
                    job.service,
                    units,
                    job.decided_at,
                    now,
                    shipped_at,
                    job.promised_at,
                    delivered,
                )
            )
            if events is not None:
                events.append((now, "picked", job.ref, loc_id, units))
                events.append((delivered, "delivered", job.ref, loc_id, units))
            self._schedule_returns(job, delivered, loc_id)
            if budget <= 0:
                break
        self.picked_today[loc] += picked

    # -------------------------------------------------------------- returns
    def _schedule_returns(self, job: PickJob, delivered: float, shipped_from: str) -> None:
        delays = self.lists.return_delay
        for li, s, qty in job.lines:
            delay = delays[li]
            if delay is None:  # kept
                continue
            at = delivered + delay * HOURS_PER_DAY
            if at >= self._horizon_end:
                continue
            self._at(at - self.env.now, self._return, job, li, s, qty, delay, shipped_from)

    def _return(self, job: PickJob, li: int, s: int, qty: int, delay: float, shipped_from: str) -> None:
        d, net = self.demand, self.network
        names = self._grade_names
        grade = names[min(bisect.bisect_right(self._grade_cdf, d.u_grade.item(li)), len(names) - 1)]
        sku = net.skus[s]
        request = ReturnRequest(
            job.ref,
            str(li),
            sku.id,
            qty,
            ReturnReason.DEFECTIVE if grade == "D" else ReturnReason.CHANGED_MIND,
            self._grade_of[grade],
            d.lat.item(job.order),
            d.lon.item(job.order),
            self._market_of[job.order],
            self._channel_of[job.order],
            sku.price,
            delay,
            shipped_from,
        )
        decision = self.returns_engine.process(request, self.ledger, self.env.now, explain=False)
        self.units_restocked += decision.restocked_qty
        self.events_processed += 1
        self.records.returns.append(
            (
                job.ref,
                li,
                sku.id,
                qty,
                self.env.now,
                decision.location or "",
                decision.disposition.value if decision.disposition else "",
                decision.refund,
                decision.fee,
                decision.restocked_qty,
                decision.rejected or "",
            )
        )
        self._event(self.env.now, "returned", job.ref, decision.location or "", qty)

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
        self.records.daily.extend(
            (
                day,
                location.id,
                location.kind.value,
                on_hand[loc],
                stockouts[loc],
                sum([j.units for j in queue]),
                picked[loc],
                cap * shift,
            )
            for loc, (location, queue, cap) in enumerate(
                zip(self.network.locations, self.queues, self.cap_per_hour, strict=True)
            )
        )
        self.picked_today[:] = 0

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
        d, net = self.demand, self.network
        for k, _, lines, _ in self.backorders:
            pickup = int(d.pickup[k])
            if pickup >= 0 and d.fulfilment[k] is FulfilmentType.PICKUP_IN_STORE:
                loc = pickup
            else:
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


def _apply_network_knobs(world: World, knobs: Knobs) -> Any:
    """The world's network, with max-shipment and store-participation knobs applied (a copy if changed)."""
    from dataclasses import replace

    from dom_core.network import Network

    net = world.network
    if knobs.max_shipments is None and knobs.store_participation >= 1.0:
        return net
    models = tuple(
        replace(m, max_shipments=knobs.max_shipments) if knobs.max_shipments is not None else m
        for m in net.inventory_models
    )
    locations = net.locations
    if knobs.store_participation < 1.0:
        stores = [i for i, loc in enumerate(locations) if loc.is_store]
        keep = set(stores[: round(knobs.store_participation * len(stores))])
        from dom_core.model import Capability

        locations = tuple(
            replace(loc, capabilities=loc.capabilities - {Capability.SHIP_TO_HOME})
            if i in set(stores) - keep
            else loc
            for i, loc in enumerate(locations)
        )
    return Network(locations, net.skus, models)


FULFILMENT_TYPES = tuple(FulfilmentType)
