"""A working calendar: the days on which locations do not pick and carriers neither collect nor deliver,
and the opening hours of pickup locations, all as plain day numbers (day 0 starts at hour 0, a Monday).

Pure and injected: whoever builds a ``WorkCalendar`` turns public holidays and closures into day numbers
(the simulation uses the ``holidays`` package); the engine only looks them up. Without a calendar the
engine quotes exactly as before (``SourcingEngine.calendar`` is None).

Rules, on top of a carrier service's own pickup cutoff and weekend rule:

* a parcel leaves a location only on a day the location is open (not a holiday of its country, not
  closed): the pickup moves to the next open day;
* a carrier does not deliver on the holidays of the destination market: the promise (and the delivery)
  moves on by one day for every such day between the pickup day and the arrival day;
* an order for pickup in store is ready within the store's opening hours on an open day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from dom_core.carriers import CarrierCatalog, CarrierService, Figures, Objective, select_quote
from dom_core.model import HOURS_PER_DAY

Hours = tuple[float, float]  # (opening hour, closing hour) of one weekday; (0, 0): closed all day
MAX_SHIFT_DAYS = 366  # a location closed for longer than this is treated as reopening then


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Closed days per location, no-delivery days per market and opening hours per location.

    ``closed[i]``: days location ``i`` neither picks nor hands parcels to a carrier (its country's public
    holidays and its closures). ``no_delivery[market]``: days carriers do not deliver in the market.
    ``opening[i]``: the location's (open, close) hours per weekday, Monday first, or None when not given
    (then a pickup order is ready a couple of hours after it is placed if that is before the store's
    cutoff, else at 10:00 on the next open day, as without a calendar). ``pick_capacity[i]``: the units
    location ``i`` picks on each weekday, Monday first, or None (its ``pick_capacity_per_day`` every day;
    the engine's capacity filter always uses that one).
    """

    closed: tuple[frozenset[int], ...]
    no_delivery: Mapping[str, frozenset[int]] = field(default_factory=dict)
    opening: tuple[tuple[Hours, ...] | None, ...] = ()
    pick_capacity: tuple[tuple[int, ...] | None, ...] = ()

    def is_closed(self, loc: int, day: int) -> bool:
        """Whether location ``loc`` is closed (picks nothing, ships nothing) on ``day``."""
        return day in self.closed[loc]

    def weekday_capacity(self, loc: int) -> tuple[int, ...] | None:
        """Units picked per weekday at ``loc`` (Monday first), None when not given."""
        return self.pick_capacity[loc] if loc < len(self.pick_capacity) else None

    def hours(self, loc: int, day: int) -> Hours | None:
        """The opening hours of ``loc`` on ``day`` ((0, 0) when closed), None when none are given."""
        week = self.opening[loc] if loc < len(self.opening) else None
        if day in self.closed[loc]:
            return (0.0, 0.0)
        return None if week is None else week[day % 7]

    def dispatch(self, loc: int, ship_at: float, weekdays_only: bool) -> float:
        """A carrier pickup time at ``loc`` moved past the location's closed days (and past weekends for
        a service that works weekdays only), keeping its hour."""
        closed = self.closed[loc]
        if not closed:
            return ship_at
        day = math.floor(ship_at / HOURS_PER_DAY)
        moved = 0
        while moved < MAX_SHIFT_DAYS and (day in closed or (weekdays_only and day % 7 >= 5)):
            day += 1
            moved += 1
        return ship_at + moved * HOURS_PER_DAY

    def arrival(self, market: str, ship_at: float, arrive_at: float) -> float:
        """An arrival time moved on by one day per no-delivery day of ``market`` after the pickup day,
        up to and including the (moving) arrival day."""
        closed = self.no_delivery.get(market)
        if not closed:
            return arrive_at
        day = math.floor(ship_at / HOURS_PER_DAY) + 1
        while day <= math.floor(arrive_at / HOURS_PER_DAY):
            if day in closed:
                arrive_at += HOURS_PER_DAY
            day += 1
        return arrive_at

    def pickup_ready(self, loc: int, at: float, ready_hours: float, cutoff_hour: float) -> float:
        """When an order placed (or its stock arrived) at ``at`` is ready for pickup at store ``loc``."""
        day = math.floor(at / HOURS_PER_DAY)
        hour = at - day * HOURS_PER_DAY
        for offset in range(MAX_SHIFT_DAYS):
            d = day + offset
            hours = self.hours(loc, d)
            if hours is None:  # no opening hours: the store's cutoff, as without a calendar
                if offset == 0:
                    if hour + ready_hours <= cutoff_hour:
                        return at + ready_hours
                    continue
                return d * HOURS_PER_DAY + 10.0
            open_h, close_h = hours
            if close_h <= open_h:
                continue  # closed all day
            start = max(hour + ready_hours, open_h) if offset == 0 else open_h
            if start <= close_h:
                return d * HOURS_PER_DAY + start
        return at + ready_hours

    def figures(
        self,
        service: CarrierService,
        loc: int,
        market: str,
        now: float,
        location_cutoff_hour: float,
        km: float,
        kg: float,
        items: int,
    ) -> Figures:
        """``service.figures`` with the pickup moved past closed days and the promise past holidays."""
        name, cost, ship_at, promised, co2 = service.figures(now, location_cutoff_hour, km, kg, items)
        shipped, promised = self.move(loc, market, ship_at, promised, not service.works_weekends)
        return name, cost, shipped, promised, co2

    def choose(
        self,
        catalog: CarrierCatalog,
        objective: Objective,
        loc: int,
        market: str,
        now: float,
        location_cutoff_hour: float,
        km: float,
        kg: float,
        items: int,
        deadline: float | None = None,
    ) -> Figures | None:
        """``CarrierCatalog.choose_figures`` on this calendar: the same services, limits and selection."""
        quotes = [
            self.figures(s, loc, market, now, location_cutoff_hour, km, kg, items)
            for s in catalog.parcel_services()
            if s.serves(km, kg)
        ]
        return select_quote(quotes, objective, deadline)

    def move(
        self, loc: int, market: str, ship_at: float, promised_at: float, weekdays_only: bool
    ) -> tuple[float, float]:
        """A quote made without the calendar, moved: (pickup, promise) as ``figures`` moves them."""
        shipped = self.dispatch(loc, ship_at, weekdays_only)
        return shipped, self.arrival(market, shipped, promised_at + (shipped - ship_at))


def weekly_hours(spec: Mapping[int, Hours]) -> tuple[Hours, ...]:
    """Seven (open, close) pairs, Monday first, from weekday -> hours (missing weekdays: closed)."""
    return tuple(spec.get(d, (0.0, 0.0)) for d in range(7))
