"""A scenario's ``demand:`` section: order volume, hour and weekday profiles, trend, promotions, basket
and fulfilment mix, for all markets at once or per segment (a market, or one channel of a market).

```yaml
demand:
  hour_profile: [...]            # defaults for every segment
  segments:
    - {market: DE, orders_per_day: 800, channels: {web: 0.7, app: 0.3}}
    - {market: FR, channel: marketplace, orders_per_day: 150, fulfilment_mix: {home_delivery: 1}}
    - {market: FR, channel: web, orders_per_day: 300, weekday_profile: [1, 1, 1, 1, 1.2, 1.3, 0.8],
       promotions: [{start_day: 7, days: 2, multiplier: 3}]}
```
Each segment is its own non-homogeneous Poisson process, drawn from its own random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _positive_profile(value: list[float]) -> list[float]:
    if any(w < 0 for w in value) or sum(value) <= 0:
        raise ValueError("needs non-negative weights with a positive sum")
    return value


def _weights(value: dict[str, float]) -> dict[str, float]:
    if not value or any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
        raise ValueError("needs non-negative weights with a positive sum")
    return value


class Promotion(_Spec):
    """A demand spike."""

    start_day: float = Field(ge=0)
    days: float = Field(gt=0)
    multiplier: float = Field(gt=0)


DEFAULT_HOURS = [
    0.3,
    0.2,
    0.1,
    0.1,
    0.1,
    0.2,
    0.5,
    0.9,
    1.2,
    1.4,
    1.5,
    1.5,
    1.6,
    1.5,
    1.4,
    1.4,
    1.4,
    1.5,
    1.6,
    1.8,
    2.0,
    1.9,
    1.3,
    0.7,
]
DEFAULT_WEEKDAYS = [1.05, 1.0, 0.98, 0.97, 0.95, 0.9, 1.15]


FulfilmentName = Literal["home_delivery", "pickup_in_store", "ship_to_store", "ship_from_store"]


def _default_mix() -> dict[FulfilmentName, float]:
    return {"home_delivery": 0.82, "pickup_in_store": 0.1, "ship_to_store": 0.08}


class DemandSpec(_Spec):
    """Orders as a non-homogeneous Poisson process with hour-of-day and day-of-week profiles."""

    orders_per_day: float | None = Field(
        default=None, gt=0, description="orders a day over all markets (per segment when segments are listed)"
    )
    channels: dict[str, float] = Field(default_factory=lambda: {"web": 0.75, "app": 0.25})
    hour_profile: list[float] = Field(
        default_factory=lambda: list(DEFAULT_HOURS), min_length=24, max_length=24
    )
    weekday_profile: list[float] = Field(
        default_factory=lambda: list(DEFAULT_WEEKDAYS), min_length=7, max_length=7
    )
    trend_per_day: float = 0.0
    promotions: list[Promotion] = Field(default_factory=list)
    mean_lines: float = Field(default=1.8, ge=1)
    max_lines: int = Field(default=5, ge=1)
    mean_qty: float = Field(default=1.2, ge=1)
    fulfilment_mix: dict[FulfilmentName, float] = Field(default_factory=_default_mix)
    walk_in_units_per_store_day: float = Field(default=60, ge=0)
    max_delivery_days: float | None = Field(default=None, gt=0)
    segments: list[SegmentDemand] = Field(
        default_factory=list,
        description="demand per market (and channel), each with its own volume; the fields above are "
        "their defaults",
    )

    @field_validator("channels", "fulfilment_mix")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        return _weights(value)

    @field_validator("hour_profile", "weekday_profile")
    @classmethod
    def _profile(cls, value: list[float]) -> list[float]:
        return _positive_profile(value)

    @model_validator(mode="after")
    def _volume(self) -> DemandSpec:
        if self.segments and self.orders_per_day is not None:
            raise ValueError("orders_per_day: give it per segment when segments are listed")
        if not self.segments and self.orders_per_day is None:
            raise ValueError("orders_per_day: needed (or a list of segments)")
        keys = [(s.market, s.channel) for s in self.segments]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise ValueError(f"segments[{i}]: market {key[0]} channel {key[1]} is listed twice")
        return self

    @property
    def total_orders_per_day(self) -> float:
        """Expected orders a day over every market (before profiles, trend and promotions)."""
        if self.orders_per_day is not None:
            return self.orders_per_day
        return sum(s.orders_per_day for s in self.segments)

    @property
    def channel_names(self) -> list[str]:
        """The channels orders come in on: the block's, then those only segments name."""
        names = list(self.channels)
        for seg in self.segments:
            names += [c for c in seg.resolve(self).channels if c not in names]
        return names

    def resolved(self) -> list[ResolvedSegment]:
        """The segments with every field filled in from the block's defaults."""
        return [s.resolve(self) for s in self.segments]


@dataclass(frozen=True)
class ResolvedSegment:
    """A segment with every field filled in (its own, else the demand block's)."""

    market: str
    channels: dict[str, float]
    orders_per_day: float
    hour_profile: list[float]
    weekday_profile: list[float]
    trend_per_day: float
    promotions: list[Promotion]
    mean_lines: float
    max_lines: int
    mean_qty: float
    fulfilment_mix: dict[str, float]


class SegmentDemand(_Spec):
    """The demand of one market, or of one channel of it: its own volume, and any field of the demand
    block it sets for itself (the others come from the block)."""

    market: str = Field(min_length=1)
    channel: str | None = Field(default=None, description="one channel; else the segment's channels mix")
    orders_per_day: float = Field(gt=0)
    channels: dict[str, float] | None = None
    hour_profile: list[float] | None = Field(default=None, min_length=24, max_length=24)
    weekday_profile: list[float] | None = Field(default=None, min_length=7, max_length=7)
    trend_per_day: float | None = None
    promotions: list[Promotion] | None = None
    mean_lines: float | None = Field(default=None, ge=1)
    max_lines: int | None = Field(default=None, ge=1)
    mean_qty: float | None = Field(default=None, ge=1)
    fulfilment_mix: dict[FulfilmentName, float] | None = None

    @field_validator("channels", "fulfilment_mix")
    @classmethod
    def _weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else _weights(value)

    @field_validator("hour_profile", "weekday_profile")
    @classmethod
    def _profile(cls, value: list[float] | None) -> list[float] | None:
        return None if value is None else _positive_profile(value)

    @model_validator(mode="after")
    def _one_channel_or_mix(self) -> SegmentDemand:
        if self.channel is not None and self.channels is not None:
            raise ValueError("give either channel or channels")
        return self

    def resolve(self, block: DemandSpec) -> ResolvedSegment:
        """This segment with the block's values where it sets none."""
        channels = {self.channel: 1.0} if self.channel is not None else dict(self.channels or block.channels)
        mix = self.fulfilment_mix or block.fulfilment_mix
        return ResolvedSegment(
            self.market,
            channels,
            self.orders_per_day,
            list(self.hour_profile or block.hour_profile),
            list(self.weekday_profile or block.weekday_profile),
            block.trend_per_day if self.trend_per_day is None else self.trend_per_day,
            list(block.promotions if self.promotions is None else self.promotions),
            block.mean_lines if self.mean_lines is None else self.mean_lines,
            block.max_lines if self.max_lines is None else self.max_lines,
            block.mean_qty if self.mean_qty is None else self.mean_qty,
            {str(k): v for k, v in mix.items()},
        )
