"""A scenario's ``calendar:`` section: the date of day 0, public holidays, closures and opening hours.

```yaml
calendar:
  start_date: 2026-11-02          # a Monday: simulation day 0 (hour 0 is Monday 00:00)
  timezone: Europe/Berlin         # history timestamps (UTC) are replayed in this local time
  holidays: true                  # each location's country's public holidays (the holidays package)
  subdivisions: {DE: BY}          # optional region per country, for regional holidays
  extra_holidays: {DE: [2026-12-24]}
  closures: [{location: DE-S003, from: 2026-11-09, to: 2026-11-11}]
  opening_hours:
    default: "09:00-20:00"        # every location with no entry of its own
    DE-S001: {mon: "10:00-19:00", sat: "10:00-16:00"}   # weekdays not listed: closed
  pick_capacity: {DE-DC1: [6000, 6000, 6000, 6000, 6000, 2000, 0]}   # units per weekday, Monday first
```
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def parse_hours(text: str) -> tuple[float, float]:
    """``"09:00-20:00"`` as (9.0, 20.0) hours; ``"closed"`` as (0.0, 0.0)."""
    if text.strip().lower() == "closed":
        return (0.0, 0.0)
    m = _SPAN.match(text)
    if m is None:
        raise ValueError(f"opening hours must read like '09:00-20:00' or 'closed', got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 + m1 / 60, h2 + m2 / 60
    if m1 >= 60 or m2 >= 60 or not 0 <= start < end <= 24:
        raise ValueError(f"opening hours need 00:00 <= open < close <= 24:00, got {text!r}")
    return (start, end)


class Closure(_Spec):
    """A location closed from one date to another (both included)."""

    location: str = Field(min_length=1)
    from_: dt.date = Field(alias="from")
    to: dt.date
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.to < self.from_:
            raise ValueError("needs from <= to")
        return self


class CalendarSpec(_Spec):
    """Public holidays and closures (no picking, no carrier pickup or delivery), and opening hours."""

    start_date: dt.date | None = Field(
        default=None, description="the date of day 0, a Monday (a replay takes the history's first week's)"
    )
    timezone: str = Field(default="UTC", description="local time of the network (IANA name)")
    holidays: bool = Field(default=True, description="public holidays of each location's country")
    subdivisions: dict[str, str] = Field(
        default_factory=dict, description="country -> subdivision code for regional holidays"
    )
    extra_holidays: dict[str, list[dt.date]] = Field(
        default_factory=dict, description="country -> further days without picking or carriers"
    )
    closures: list[Closure] = Field(default_factory=list)
    opening_hours: dict[str, str | dict[Weekday, str]] = Field(
        default_factory=dict, description="location id (or 'default') -> hours for every day, or per weekday"
    )
    pick_capacity: dict[str, list[int]] = Field(
        default_factory=dict, description="location id -> units picked on each weekday, Monday first"
    )

    @field_validator("pick_capacity")
    @classmethod
    def _week(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        for loc, week in value.items():
            if len(week) != 7 or any(c < 0 for c in week):
                raise ValueError(f"{loc}: needs 7 non-negative capacities, Monday first, got {week}")
        return value

    @field_validator("start_date")
    @classmethod
    def _monday(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value.weekday() != 0:
            raise ValueError(f"must be a Monday (hour 0 is Monday 00:00), {value} is a {value:%A}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: dict[str, str | dict[Weekday, str]]) -> dict[str, str | dict[Weekday, str]]:
        for spec in value.values():
            for text in [spec] if isinstance(spec, str) else spec.values():
                parse_hours(text)
        return value

    def week(self, location: str) -> tuple[tuple[float, float], ...] | None:
        """A location's opening hours per weekday (Monday first); None if neither it nor 'default' has any."""
        spec = self.opening_hours.get(location, self.opening_hours.get("default"))
        if spec is None:
            return None
        if isinstance(spec, str):
            return (parse_hours(spec),) * 7
        return tuple(parse_hours(spec[d]) if d in spec else (0.0, 0.0) for d in WEEKDAYS)


def monday_on_or_before(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())
