"""Parcels after sourcing: hourly picking within each location's shift capacity, carrier transit with
common-random-number draws, and the returns of delivered lines (a mixin of ``sim.model.Simulation``)."""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from dom_core.calendar import WorkCalendar
from dom_core.carriers import CarrierService
from dom_core.inventory import InventoryLedger
from dom_core.model import HOURS_PER_DAY
from dom_core.network import Network
from dom_core.returns import Grade, ReturnReason, ReturnRequest, ReturnsEngine
from sim.demand import MAX_SHIPMENT_DRAWS, DemandStream, triangular_ppf
from sim.environment import CountingEnvironment
from sim.records import PickJob, Records
from sim.scenario import Scenario
from sim.shared import DemandLists


class ParcelFlow:
    """Picking, transit and returns of a run's shipments (state kept by the simulation)."""

    env: CountingEnvironment
    sc: Scenario
    network: Network
    ledger: InventoryLedger
    records: Records
    record_events: bool
    demand: DemandStream
    lists: DemandLists
    queues: list[deque[PickJob]]
    cap_per_hour: list[float]
    cap_week: list[list[float] | None] | None
    picked_today: npt.NDArray[np.float64]
    services: dict[str, CarrierService]
    calendar: WorkCalendar | None
    returns_engine: ReturnsEngine
    units_shipped: int
    units_restocked: int
    events_processed: int
    _horizon_end: float
    _grade_names: list[str]
    _grade_cdf: list[float]
    _grade_of: dict[str, Grade]
    _market_of: list[str]
    _channel_of: list[str]
    _at: Callable[..., None]
    _event: Callable[[float, str, str, str, int], None]

    # -------------------------------------------------------------- picking
    def _picking(self) -> Any:
        env, ops, cal = self.env, self.sc.operations, self.calendar
        while True:
            hour = env.now % HOURS_PER_DAY
            if ops.shift_start_hour <= hour < ops.shift_end_hour:
                if cal is None:
                    for loc, queue in enumerate(self.queues):
                        if queue:
                            self._pick(loc, queue, self.cap_per_hour[loc])
                else:  # closed locations (holidays, closures) pick nothing; capacity by weekday
                    day = math.floor(env.now / HOURS_PER_DAY)
                    week = self.cap_week
                    for loc, queue in enumerate(self.queues):
                        if queue and not cal.is_closed(loc, day):
                            days = None if week is None else week[loc]
                            if days is None:
                                self._pick(loc, queue, self.cap_per_hour[loc])
                            elif days[day % 7] > 0:  # no capacity that weekday: nothing picked
                                self._pick(loc, queue, days[day % 7], days[day % 7])
            yield env.timeout(1.0)

    def _pick(self, loc: int, queue: deque[PickJob], budget: float, cap: float | None = None) -> None:
        """Pick queued jobs within ``budget`` units; a job over the hour's capacity ``cap`` (default the
        location's) goes out alone when the whole hour is free for it."""
        now = self.env.now + 1.0  # picked by the end of this hour
        location = self.network.locations[loc]
        loc_id, kind = location.id, location.kind.value
        reservations, shipments = self.ledger.reservations, self.records.shipments
        events = self.records.events if self.record_events else None
        u_transit = self.demand.u_transit
        cal = self.calendar
        cap = self.cap_per_hour[loc] if cap is None else cap
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
                shipped_at = delivered = now if cal is None else cal.pickup_ready(loc, now, 0.0, 24.0)
            else:
                service = self.services[job.service]
                shipped_at = service.ship_time(now, 24.0)
                if cal is not None:  # no carrier pickup while the location is closed
                    shipped_at = cal.dispatch(loc, shipped_at, not service.works_weekends)
                u = u_transit.item(job.order, min(job.shipment_no, MAX_SHIPMENT_DRAWS - 1))
                t = service.transit
                days = (
                    float(triangular_ppf(u, t.min_days, t.mode_days, t.max_days))
                    + t.extra_days_per_1000_km * job.km / 1000
                )
                delivered = shipped_at + days * HOURS_PER_DAY
                if cal is not None:  # nor deliveries on the market's holidays
                    delivered = cal.arrival(self._market_of[job.order], shipped_at, delivered)
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
        lists = self.lists
        delays, known_at = lists.return_delay, lists.return_at
        for li, s, qty in job.lines:
            delay = delays[li]
            if delay is None:  # kept
                continue
            if known_at is not None:  # a replayed history's return: its units, and its time if it says
                assert lists.return_qty is not None
                qty = min(qty, lists.return_qty[li])
                if not math.isnan(known_at[li]):
                    delay = max(0.0, known_at[li] - delivered) / HOURS_PER_DAY
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
