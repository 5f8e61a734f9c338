"""Wall-clock time and the engine's hours: the engine counts float hours from an epoch (a Monday 00:00)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dom_core.errors import DomError

DEFAULT_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; stored in the database on first start


def parse_epoch(text: str) -> datetime:
    """An epoch from ISO text: a Monday at 00:00 (UTC when no zone is given); a DomError otherwise."""
    try:
        epoch = datetime.fromisoformat(text)
    except ValueError:
        raise DomError("epoch", f"{text!r} is not an ISO date") from None
    epoch = epoch if epoch.tzinfo else epoch.replace(tzinfo=UTC)
    if epoch.weekday() != 0 or epoch.timetz().replace(tzinfo=None) != datetime.min.time():
        raise DomError("epoch", f"{text!r} must be a Monday at 00:00 (the engine's hour 0)")
    return epoch


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def utc(at: datetime) -> datetime:
    """The same instant in UTC (a naive time is taken as UTC): stored times are always UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def to_hours(at: datetime, epoch: datetime) -> float:
    """Hours since the epoch (a naive time is taken as UTC)."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    delta = at - epoch
    return (delta.days * 86_400 + delta.seconds) / 3600.0 + delta.microseconds / 3.6e9


def to_datetime(hours: float, epoch: datetime) -> datetime:
    """The wall-clock time of an engine hour."""
    return epoch + timedelta(hours=hours)
