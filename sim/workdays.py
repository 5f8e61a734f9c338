"""The working calendar of a scenario: its ``calendar:`` section turned into the day numbers the engine
and the simulation look up (``dom_core.calendar.WorkCalendar``).

Public holidays come from the ``holidays`` package (offline: its rules ship with it), per country of each
location, with an optional region per country; a market's carriers do not deliver on its country's
holidays. Day 0 is ``start_date`` (a Monday), so day ``d`` is ``start_date + d``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING

from dom_core.calendar import WorkCalendar
from dom_core.errors import DomError
from dom_core.network import Network
from sim.calendar_spec import CalendarSpec

if TYPE_CHECKING:
    from sim.scenario import Scenario

MARGIN_DAYS = 90  # holidays are listed this far past the horizon and its drain (late promises)


def holiday_days(country: str, subdivision: str | None, start: dt.date, days: int) -> dict[int, str]:
    """Day number -> name of the public holidays of ``country`` within ``days`` days from ``start``."""
    import holidays

    end = start + dt.timedelta(days=days)
    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=range(start.year, end.year + 1))
    except NotImplementedError:
        where = f"calendar.subdivisions.{country}" if subdivision else "calendar.holidays"
        known = f"{country!r} {subdivision or ''}".strip()
        raise DomError(where, f"no public holidays known for {known}") from None
    return {(d - start).days: name for d, name in sorted(table.items()) if start <= d < end}


def market_countries(scenario: Scenario, network: Network) -> dict[str, str]:
    """Each market's country: the generated market's, else the most common among its locations."""
    if scenario.generate is not None:
        return {m.market: m.country for m in scenario.generate.markets}
    counts: dict[str, Counter[str]] = {}
    for loc in network.locations:
        counts.setdefault(loc.market, Counter())[loc.country] += 1
    return {m: c.most_common(1)[0][0] for m, c in counts.items()}


def build_calendar(scenario: Scenario, network: Network, days: int | None = None) -> WorkCalendar | None:
    """The scenario's working calendar on ``network`` (None without a calendar section)."""
    spec = scenario.calendar
    if spec is None:
        return None
    if spec.start_date is None:
        raise DomError("calendar.start_date", "needed to place holidays and closures (a Monday)")
    start = spec.start_date
    span = days if days is not None else int(scenario.horizon_days) + 12 + MARGIN_DAYS
    markets = market_countries(scenario, network)
    by_country = {
        c: _country_days(spec, c, start, span)
        for c in sorted({*markets.values()}.union(loc.country for loc in network.locations))
    }
    closed = [set(by_country[loc.country]) for loc in network.locations]
    for i, closure in enumerate(spec.closures):
        loc = network.loc_idx(closure.location, f"calendar.closures[{i}].location")
        first, last = (closure.from_ - start).days, (closure.to - start).days
        closed[loc].update(range(max(0, first), last + 1))
    for key in spec.opening_hours:
        if key != "default":
            network.loc_idx(key, f"calendar.opening_hours.{key}")
    for key in spec.pick_capacity:
        network.loc_idx(key, f"calendar.pick_capacity.{key}")
    weekly = spec.pick_capacity
    return WorkCalendar(
        tuple(frozenset(c) for c in closed),
        {m: by_country[c] for m, c in markets.items()},
        tuple(spec.week(loc.id) for loc in network.locations),
        tuple(tuple(weekly[loc.id]) if loc.id in weekly else None for loc in network.locations),
    )


def _country_days(spec: CalendarSpec, country: str, start: dt.date, span: int) -> frozenset[int]:
    days = set(holiday_days(country, spec.subdivisions.get(country), start, span)) if spec.holidays else set()
    days.update((d - start).days for d in spec.extra_holidays.get(country, []) if d >= start)
    return frozenset(days)


def day_date(scenario: Scenario, day: int) -> dt.date | None:
    """The calendar date of simulation day ``day`` (None without a start date)."""
    if scenario.calendar is None or scenario.calendar.start_date is None:
        return None
    return scenario.calendar.start_date + dt.timedelta(days=day)
