"""Times of day, weekday lists and opening hours as they appear in retailers' files.

* A time of day is ``HH:MM`` (or ``HH:MM:SS``) or decimal hours (``16.5``), 0 to 24.
* Weekdays are ``mon`` .. ``sun`` (also ``Mo``/``Monday``, any case), listed with ``;`` or ``,`` and
  ranges with ``-``: ``mon-fri``, ``Mo-Fr;Sa``.
* Opening hours follow the common subset of OpenStreetMap's ``opening_hours``: ``;``-separated rules
  ``DAYS HH:MM-HH:MM[,HH:MM-HH:MM]`` or ``DAYS off``; ``24/7`` means always open. Later rules override
  earlier ones for the days they name; days no rule names are closed. ``Mo-Fr 09:00-20:00; Sa
  10:00-18:00``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dom_core.carrier_spec import WEEKDAYS

_DAY_NAMES: dict[str, str] = {
    **{d: d for d in WEEKDAYS},
    **dict(zip(("mo", "tu", "we", "th", "fr", "sa", "su"), WEEKDAYS, strict=True)),
    **dict(
        zip(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            WEEKDAYS,
            strict=True,
        )
    ),
    **dict(zip(("tues", "wed", "thur", "thurs"), ("tue", "wed", "thu", "thu"), strict=True)),
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_SPAN = re.compile(r"^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$")


def time_of_day(text: str) -> float:
    """Hours after midnight of ``HH:MM[:SS]`` or a decimal number of hours; ValueError when not one."""
    value = text.strip()
    match = _TIME.match(value)
    if match:
        hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
        if minutes >= 60 or seconds >= 60:
            raise ValueError(f"{text!r} is not a time of day")
        result = hours + minutes / 60 + seconds / 3600
    else:
        try:
            result = float(value.replace(",", "."))
        except ValueError:
            raise ValueError(f"{text!r} is not a time of day (HH:MM or hours)") from None
    if not 0.0 <= result <= 24.0:
        raise ValueError(f"{text!r} is not between 00:00 and 24:00")
    return result


def _day(name: str) -> int:
    key = name.strip().lower().rstrip(".")
    if key not in _DAY_NAMES:
        raise ValueError(f"{name.strip()!r} is not a weekday (mon..sun)")
    return WEEKDAYS.index(_DAY_NAMES[key])


def weekdays(text: str) -> list[str]:
    """Weekdays named in ``text`` (``mon;wed``, ``Mo-Fr``, ``monday,saturday``), in week order."""
    days: set[int] = set()
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        if "-" in part:
            first, _, last = part.partition("-")
            a, b = _day(first), _day(last)
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
        else:
            days.add(_day(part))
    if not days:
        raise ValueError("names no weekday")
    return [WEEKDAYS[d] for d in sorted(days)]


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Opening intervals per weekday: ``days[0]`` is Monday, each a tuple of (open, close) hours."""

    days: tuple[tuple[tuple[float, float], ...], ...]

    @classmethod
    def parse(cls, text: str) -> OpeningHours:
        """Parse the opening-hours subset described in the module docstring; ValueError when invalid."""
        value = text.strip()
        if value == "24/7":
            return cls(tuple(((0.0, 24.0),) for _ in WEEKDAYS))
        days: list[tuple[tuple[float, float], ...]] = [() for _ in WEEKDAYS]
        for rule in filter(None, (r.strip() for r in value.split(";"))):
            head, _, spans = rule.partition(" ")
            if not spans.strip():
                raise ValueError(f"rule {rule!r} needs days and hours, e.g. 'Mo-Fr 09:00-18:00'")
            named = [WEEKDAYS.index(d) for d in weekdays(head)]
            intervals: tuple[tuple[float, float], ...] = ()
            if spans.strip().lower() not in ("off", "closed"):
                intervals = tuple(_span(s) for s in spans.split(","))
            for d in named:
                days[d] = intervals
        if not any(days):
            raise ValueError(f"{text!r} opens on no day")
        return cls(tuple(days))

    def is_open(self, weekday: int, hour: float) -> bool:
        """Whether the location is open at ``hour`` of ``weekday`` (0 = Monday)."""
        return any(a <= hour < b for a, b in self.days[weekday])

    def text(self) -> str:
        """Canonical text (one rule per day that opens), parseable again."""
        rules = []
        for d, spans in enumerate(self.days):
            if spans:
                rules.append(f"{WEEKDAYS[d]} " + ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in spans))
        return "; ".join(rules)

    def rows(self) -> list[dict[str, object]]:
        """One ``{weekday, open_hour, close_hour}`` record per interval (the frame's typed form)."""
        return [
            {"weekday": WEEKDAYS[d], "open_hour": a, "close_hour": b}
            for d, spans in enumerate(self.days)
            for a, b in spans
        ]


def _span(text: str) -> tuple[float, float]:
    match = _SPAN.match(text.strip())
    if not match:
        raise ValueError(f"{text.strip()!r} is not an interval HH:MM-HH:MM")
    start, end = time_of_day(match[1]), time_of_day(match[2])
    if end <= start:
        raise ValueError(f"{text.strip()!r} closes before it opens")
    return start, end


def _hhmm(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
