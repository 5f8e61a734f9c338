"""A retailer's own carrier services as written in a scenario or rules file (``carriers: services:``).

Each service names its rate card (a zone/distance-band x weight table, or the linear parcel model),
its transit-time distribution, pickup cutoff and pickup days, limits and CO2e factors, and builds the
engine's ``CarrierService``. ``CarriersSpec`` (in ``dom_core.config``) lists them beside a preset.

What the engine uses today: a service with a Saturday or Sunday among its ``pickup_days`` collects
every day (``works_weekends``), otherwise Monday to Friday; ``markets`` and ``countries`` are kept with
the service for the calendar and reporting but do not restrict where the engine offers it.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dom_core.carriers import CarrierService, LinearRateCard, Mode, TransitTime, ZoneRateCard

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKEND: frozenset[str] = frozenset({"sat", "sun"})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _increasing(values: list[float]) -> list[float]:
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"must be strictly increasing, got {values}")
    return values


class ZoneRateCardSpec(_Spec):
    """Price table: one row per distance band (zone), one price per weight bracket; plus a fuel surcharge.

    A parcel pays the price of the first band whose limit is at least its great-circle km and the first
    bracket whose limit is at least its kg; beyond the last band the last applies, beyond the last
    bracket the last price plus 10% per extra bracket width.
    """

    kind: Literal["zone"] = "zone"
    zone_limits_km: list[float] = Field(min_length=1, description="upper limit of each distance band, km")
    weight_limits_kg: list[float] = Field(min_length=1, description="upper limit of each weight bracket, kg")
    prices: list[list[Annotated[float, Field(ge=0)]]] = Field(
        min_length=1, description="prices[band][bracket] per parcel, in the scenario's currency"
    )
    fuel_surcharge: float = Field(default=0.0, ge=0, description="share added to every price (0.1 = 10%)")

    _limits_increase = field_validator("zone_limits_km", "weight_limits_kg")(_increasing)

    @model_validator(mode="after")
    def _shape(self) -> ZoneRateCardSpec:
        if len(self.prices) != len(self.zone_limits_km):
            raise ValueError(
                f"prices needs one row per distance band: {len(self.zone_limits_km)} rows, "
                f"got {len(self.prices)}"
            )
        for z, row in enumerate(self.prices):
            if len(row) != len(self.weight_limits_kg):
                raise ValueError(
                    f"prices[{z}] needs one price per weight bracket: "
                    f"{len(self.weight_limits_kg)}, got {len(row)}"
                )
        return self

    def build(self) -> ZoneRateCard:
        """The engine's zone rate card."""
        return ZoneRateCard(
            tuple(self.zone_limits_km),
            tuple(self.weight_limits_kg),
            tuple(tuple(row) for row in self.prices),
            self.fuel_surcharge,
        )


class LinearRateCardSpec(_Spec):
    """Fixed price per parcel + price per item + price per item-mile of great-circle distance."""

    kind: Literal["linear"] = "linear"
    per_package: float = Field(default=8.759, ge=0)
    per_item: float = Field(default=0.423, ge=0)
    per_item_mile: float = Field(default=0.000541, ge=0)

    def build(self) -> LinearRateCard:
        """The engine's linear rate card."""
        return LinearRateCard(self.per_package, self.per_item, self.per_item_mile)


RateCardSpec = Annotated[ZoneRateCardSpec | LinearRateCardSpec, Field(discriminator="kind")]


class TransitSpec(_Spec):
    """Triangular transit time in days (min, mode, max) plus extra days per 1,000 km."""

    min_days: float = Field(ge=0)
    mode_days: float = Field(ge=0)
    max_days: float = Field(ge=0)
    extra_days_per_1000_km: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> TransitSpec:
        if not self.min_days <= self.mode_days <= self.max_days:
            raise ValueError("needs min_days <= mode_days <= max_days")
        return self

    def build(self) -> TransitTime:
        """The engine's transit-time distribution."""
        return TransitTime(self.min_days, self.mode_days, self.max_days, self.extra_days_per_1000_km)


class CarrierServiceSpec(_Spec):
    """One carrier service of the retailer."""

    name: str = Field(min_length=1)
    mode: Mode = Field(default=Mode.ROAD, description="road, air, courier or transfer (between locations)")
    rate_card: RateCardSpec
    transit: TransitSpec
    pickup_cutoff_hour: float = Field(
        default=17.0, ge=0, le=24, description="last carrier collection, hour of day"
    )
    pickup_days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS[:5]),
        min_length=1,
        description="days the carrier collects; the engine today: any weekend day means every day",
    )
    max_km: float | None = Field(default=None, gt=0, description="longest great-circle km served (none: any)")
    max_kg: float = Field(default=31.5, gt=0, description="heaviest parcel accepted, kg")
    linehaul_kg_co2_per_tkm: float = Field(default=0.102, ge=0, description="kg CO2e per tonne-km of road km")
    last_mile_kg_co2_per_parcel: float = Field(default=0.181, ge=0, description="kg CO2e per parcel")
    promise_quantile: float = Field(default=0.9, ge=0, le=1, description="transit quantile promised")
    markets: list[str] | None = Field(
        default=None, description="markets served (kept; the engine today offers the service everywhere)"
    )
    countries: list[str] | None = Field(
        default=None, description="destination countries (kept; not yet used by the engine)"
    )

    @field_validator("pickup_days")
    @classmethod
    def _distinct_days(cls, value: list[Weekday]) -> list[Weekday]:
        if len(set(value)) != len(value):
            raise ValueError(f"lists a day twice: {value}")
        return value

    @property
    def works_weekends(self) -> bool:
        """Whether the engine lets the carrier collect on weekends (any weekend day among pickup_days)."""
        return any(day in WEEKEND for day in self.pickup_days)

    def build(self) -> CarrierService:
        """The engine's CarrierService."""
        return CarrierService(
            self.name,
            self.mode,
            self.rate_card.build(),
            self.transit.build(),
            pickup_cutoff_hour=self.pickup_cutoff_hour,
            max_km=math.inf if self.max_km is None else self.max_km,
            max_kg=self.max_kg,
            linehaul_kg_co2_per_tkm=self.linehaul_kg_co2_per_tkm,
            last_mile_kg_co2_per_parcel=self.last_mile_kg_co2_per_parcel,
            promise_quantile=self.promise_quantile,
            works_weekends=self.works_weekends,
        )


__all__ = [
    "WEEKDAYS",
    "CarrierServiceSpec",
    "LinearRateCardSpec",
    "RateCardSpec",
    "TransitSpec",
    "Weekday",
    "ZoneRateCardSpec",
]
