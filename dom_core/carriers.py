"""Carrier services: rate cards, transit-time distributions, pickup cutoffs and CO2e factors.

Reference figures shipped as defaults (see ``default_services``):

* Emission factors, UK DESNZ/DEFRA 2025 GHG conversion factors, "freighting goods" (kg CO2e per
  tonne-km): average laden HGV 0.102, rigid truck 3.5-7.5 t 0.528, van up to 3.5 t diesel 0.631,
  battery-electric van 0.220, short-haul air 0.755. Per vehicle-km: diesel van 0.256, electric van
  0.070; a last-mile parcel's share is route km x factor / parcels per route.
* Parcel prices follow the structure of zone-based carrier tables (USPS Ground Advantage style:
  zones by origin-destination distance, weight brackets), list prices from about 3.4 to 59.
* The linear parcel model of the fulfilment literature (Jasin and Sinha, 2015; Ma, 2023): 8.759 per
  package + 0.423 per item + 0.000541 per item-mile of great-circle distance (``LinearRateCard``).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from enum import StrEnum
from operator import itemgetter
from typing import NamedTuple, Protocol

from dom_core.errors import DomError
from dom_core.geo import KM_PER_MILE
from dom_core.model import HOURS_PER_DAY

Figures = tuple[str, float, float, float, float]  # a quote: service, cost, ship_at, promised_at, co2_kg
ROAD_CIRCUITY = 1.25  # road km per great-circle km, a common planning factor for European road networks


class Mode(StrEnum):
    """Transport mode of a carrier service's line haul."""

    ROAD = "road"
    AIR = "air"
    COURIER = "courier"
    TRANSFER = "transfer"


class Objective(StrEnum):
    """What carrier selection optimises for a shipment."""

    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    GREENEST = "greenest"


class RateCard(Protocol):
    """Prices a parcel."""

    def price(self, km: float, kg: float, items: int) -> float:
        """Price of one parcel of ``kg`` with ``items`` units travelling ``km`` great-circle."""
        ...


@dataclass(frozen=True, slots=True)
class ZoneRateCard:
    """Zone (distance band) x weight bracket price table, plus a fuel surcharge."""

    zone_limits_km: tuple[float, ...]
    weight_limits_kg: tuple[float, ...]
    prices: tuple[tuple[float, ...], ...]  # prices[zone][weight bracket]
    fuel_surcharge: float = 0.0

    def __post_init__(self) -> None:
        if len(self.prices) != len(self.zone_limits_km):
            raise DomError("rate_card.prices", "needs one row per zone")
        for z, row in enumerate(self.prices):
            if len(row) != len(self.weight_limits_kg):
                raise DomError(f"rate_card.prices[{z}]", "needs one price per weight bracket")
        if list(self.zone_limits_km) != sorted(self.zone_limits_km):
            raise DomError("rate_card.zone_limits_km", "must be increasing")
        if list(self.weight_limits_kg) != sorted(self.weight_limits_kg):
            raise DomError("rate_card.weight_limits_kg", "must be increasing")

    def price(self, km: float, kg: float, items: int) -> float:
        """Table price; beyond the last zone or bracket the last one applies plus 10% per extra bracket."""
        z = min(bisect_left(self.zone_limits_km, km), len(self.zone_limits_km) - 1)
        w = bisect_left(self.weight_limits_kg, kg)
        extra = 0.0
        if w >= len(self.weight_limits_kg):
            top = self.weight_limits_kg[-1]
            extra = 0.1 * math.ceil((kg - top) / max(top, 1e-9))
            w = len(self.weight_limits_kg) - 1
        return self.prices[z][w] * (1.0 + extra) * (1.0 + self.fuel_surcharge)


@dataclass(frozen=True, slots=True)
class LinearRateCard:
    """Fixed cost per package + cost per item + cost per item-mile of great-circle distance."""

    per_package: float = 8.759
    per_item: float = 0.423
    per_item_mile: float = 0.000541

    def price(self, km: float, kg: float, items: int) -> float:
        """Linear parcel cost (Jasin and Sinha, 2015)."""
        return self.per_package + items * (self.per_item + self.per_item_mile * km / KM_PER_MILE)


@dataclass(frozen=True, slots=True)
class TransitTime:
    """Triangular transit-time distribution in days (min, mode, max), plus km-dependent extra days."""

    min_days: float
    mode_days: float
    max_days: float
    extra_days_per_1000_km: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_days <= self.mode_days <= self.max_days:
            raise DomError("transit", "needs 0 <= min_days <= mode_days <= max_days")

    def quantile(self, p: float, km: float = 0.0) -> float:
        """The p-quantile of the transit time in days at distance ``km``."""
        a, c, b = self.min_days, self.mode_days, self.max_days
        extra = self.extra_days_per_1000_km * km / 1000.0
        if b == a:
            return a + extra
        fc = (c - a) / (b - a)
        if p < fc:
            return a + math.sqrt(p * (b - a) * (c - a)) + extra
        return b - math.sqrt((1 - p) * (b - a) * (b - c)) + extra

    def mean(self, km: float = 0.0) -> float:
        """Mean transit days at distance ``km``."""
        return (
            self.min_days + self.mode_days + self.max_days
        ) / 3 + self.extra_days_per_1000_km * km / 1000.0


@dataclass(frozen=True, slots=True)
class Quote:
    """What one carrier service would cost, promise and emit for one shipment."""

    service: str
    cost: float
    ship_at: float
    promised_at: float
    co2_kg: float


@dataclass(frozen=True, slots=True)
class CarrierService:
    """A carrier service with its rate card, transit time, pickup cutoff, limits and emission factors."""

    name: str
    mode: Mode
    rate_card: ZoneRateCard | LinearRateCard
    transit: TransitTime
    pickup_cutoff_hour: float = 17.0
    max_km: float = math.inf
    max_kg: float = 31.5
    linehaul_kg_co2_per_tkm: float = 0.102
    last_mile_kg_co2_per_parcel: float = 0.181
    promise_quantile: float = 0.9
    works_weekends: bool = False

    def serves(self, km: float, kg: float) -> bool:
        """Whether the service accepts a parcel of ``kg`` over ``km``."""
        return km <= self.max_km and kg <= self.max_kg

    def ship_time(self, now: float, location_cutoff_hour: float) -> float:
        """When a parcel ready at ``now`` leaves: today's pickup if before both cutoffs, else the next."""
        day = math.floor(now / HOURS_PER_DAY)
        hour = now - day * HOURS_PER_DAY
        if hour >= min(location_cutoff_hour, self.pickup_cutoff_hour):
            day += 1
        if not self.works_weekends:
            while day % 7 >= 5:  # hour 0 is a Monday
                day += 1
        return day * HOURS_PER_DAY + self.pickup_cutoff_hour

    def co2_kg(self, km: float, kg: float) -> float:
        """kg CO2e: line haul tonne-km on the road distance plus the parcel's last-mile share."""
        return (
            self.linehaul_kg_co2_per_tkm * (kg / 1000.0) * km * ROAD_CIRCUITY
            + self.last_mile_kg_co2_per_parcel
        )

    def quote(self, now: float, location_cutoff_hour: float, km: float, kg: float, items: int) -> Quote:
        """Cost, ship time, promised delivery (transit quantile) and CO2e for one parcel."""
        return Quote(*self.figures(now, location_cutoff_hour, km, kg, items))

    def figures(
        self, now: float, location_cutoff_hour: float, km: float, kg: float, items: int
    ) -> tuple[str, float, float, float, float]:
        """``quote``'s fields (service, cost, ship_at, promised_at, co2_kg), without building the Quote."""
        ship_at = self.ship_time(now, location_cutoff_hour)
        promised = ship_at + self.transit.quantile(self.promise_quantile, km) * HOURS_PER_DAY
        return self.name, self.rate_card.price(km, kg, items), ship_at, promised, self.co2_kg(km, kg)


class _Terms(NamedTuple):
    """A parcel service's quoting constants, so ``choose`` prices it in one pass without method calls.

    Every figure is computed with the same float operations as ``CarrierService.figures``: the
    promise quantile at 0 km (``quantile`` adds the km-dependent days last) and the zone table already
    multiplied by ``(1.0 + extra) * (1.0 + fuel_surcharge)`` with ``extra == 0`` (exact: ``x * 1.0 == x``).
    """

    name: str
    max_km: float
    max_kg: float
    pickup: float
    weekdays_only: bool
    promise_days: float
    extra_days_per_1000_km: float
    co2_per_tkm: float
    last_mile: float
    zone_limits: tuple[float, ...] | None  # None: not a zone card, priced by the rate card itself
    weight_limits: tuple[float, ...]
    table: tuple[tuple[float, ...], ...]
    service: CarrierService

    @classmethod
    def of(cls, s: CarrierService) -> _Terms:
        """The constants of service ``s``."""
        card = s.rate_card
        zones: tuple[float, ...] | None = None
        weights: tuple[float, ...] = ()
        table: tuple[tuple[float, ...], ...] = ()
        if isinstance(card, ZoneRateCard):
            zones, weights = card.zone_limits_km, card.weight_limits_kg
            factor = 1.0 + card.fuel_surcharge
            table = tuple(tuple(p * (1.0 + 0.0) * factor for p in row) for row in card.prices)
        return cls(
            s.name,
            s.max_km,
            s.max_kg,
            s.pickup_cutoff_hour,
            not s.works_weekends,
            s.transit.quantile(s.promise_quantile, 0.0),  # + 0.0 km-dependent days: exact
            s.transit.extra_days_per_1000_km,
            s.linehaul_kg_co2_per_tkm,
            s.last_mile_kg_co2_per_parcel,
            zones,
            weights,
            table,
            s,
        )


@dataclass(frozen=True, slots=True)
class CarrierCatalog:
    """The carrier services available, with selection by objective.

    ``transfer_service`` names the service that moves stock between locations (ship to store, the
    transfers of ship-from-primary); a catalogue without it offers no transfers (``transfer()`` is None).
    """

    services: tuple[CarrierService, ...]
    transfer_service: str = "store_transfer"
    _parcel: tuple[CarrierService, ...] = field(init=False, repr=False, compare=False)
    _terms: tuple[_Terms, ...] = field(init=False, repr=False, compare=False)
    _transfer: CarrierService | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise DomError("carriers", "duplicate service names")
        parcel = tuple(s for s in self.services if s.mode is not Mode.TRANSFER)
        object.__setattr__(self, "_parcel", parcel)
        object.__setattr__(self, "_terms", tuple(_Terms.of(s) for s in parcel))
        transfer = next((s for s in self.services if s.name == self.transfer_service), None)
        object.__setattr__(self, "_transfer", transfer)

    def transfer(self) -> CarrierService | None:
        """The service that moves stock between locations, or None: this catalogue offers no transfers."""
        return self._transfer

    def service(self, name: str) -> CarrierService:
        """The service with this name."""
        for s in self.services:
            if s.name == name:
                return s
        raise DomError("carrier_service", f"unknown carrier service {name!r}")

    def parcel_services(self) -> tuple[CarrierService, ...]:
        """Services that deliver parcels to customers (everything but the transfer service)."""
        return self._parcel

    def choose(
        self,
        objective: Objective,
        now: float,
        location_cutoff_hour: float,
        km: float,
        kg: float,
        items: int,
        deadline: float | None = None,
    ) -> Quote | None:
        """The best quote by ``objective``; with a deadline, only services meeting it (if any do)."""
        best = self.choose_figures(objective, now, location_cutoff_hour, km, kg, items, deadline)
        return None if best is None else Quote(*best)

    def choose_figures(
        self,
        objective: Objective,
        now: float,
        location_cutoff_hour: float,
        km: float,
        kg: float,
        items: int,
        deadline: float | None = None,
    ) -> Figures | None:
        """``choose``'s quote as its fields (service, cost, ship_at, promised_at, co2_kg), or None."""
        day = math.floor(now / HOURS_PER_DAY)
        hour = now - day * HOURS_PER_DAY
        past_cutoff = hour >= location_cutoff_hour  # hour >= min(cutoff, pickup): past either
        tonnes = kg / 1000.0
        quotes: list[Figures] = []
        for (
            name,
            max_km,
            max_kg,
            pickup,
            weekdays_only,
            days,
            per_km,
            co2_tkm,
            last_mile,
            zones,
            weights,
            table,
            service,
        ) in self._terms:
            if km > max_km or kg > max_kg:  # not service.serves(km, kg)
                continue
            # service.ship_time, transit.quantile, rate_card.price and co2_kg inlined, same float operations
            d = day + 1 if past_cutoff or hour >= pickup else day
            if weekdays_only:
                while d % 7 >= 5:  # hour 0 is a Monday
                    d += 1
            ship_at = d * HOURS_PER_DAY + pickup
            promised = ship_at + (days + per_km * km / 1000.0) * HOURS_PER_DAY
            if zones is not None and kg <= weights[-1]:
                z = bisect_left(zones, km)
                cost = table[z if z < len(zones) else -1][bisect_left(weights, kg)]
            else:
                cost = service.rate_card.price(km, kg, items)
            co2 = co2_tkm * tonnes * km * ROAD_CIRCUITY + last_mile
            quotes.append((name, cost, ship_at, promised, co2))
        return select_quote(quotes, objective, deadline)


# Selection keys of select_quote on quote field tuples: (cost, promised_at, service) for cheapest,
# (promised_at, cost, service) for fastest, (co2_kg, cost, service) for greenest.
_SELECTION_KEY = {
    Objective.CHEAPEST: itemgetter(1, 3, 0),
    Objective.FASTEST: itemgetter(3, 1, 0),
    Objective.GREENEST: itemgetter(4, 1, 0),
}


def select_quote(quotes: list[Figures], objective: Objective, deadline: float | None) -> Figures | None:
    """The best of the quotes (as ``Figures``) by ``objective``, None when there are none; with a
    deadline, only the quotes meeting it, or the fastest when none does (it comes closest)."""
    if not quotes:
        return None
    if deadline is not None:
        meeting = [q for q in quotes if q[3] <= deadline]
        if meeting:
            quotes = meeting
        else:  # nobody meets the promise: the fastest comes closest
            objective = Objective.FASTEST
    return quotes[0] if len(quotes) == 1 else min(quotes, key=_SELECTION_KEY[objective])


# Zone limits in km (great-circle), loosely the USPS zone distances (zone 1-2 up to 150 miles, ...).
_ZONES_KM = (80.0, 240.0, 480.0, 965.0, 1450.0, 2900.0)
_WEIGHTS_KG = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 31.5)


def _table(base: float, per_zone: float, per_kg_step: float) -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(round(base + per_zone * z + per_kg_step * w, 2) for w in range(len(_WEIGHTS_KG)))
        for z in range(len(_ZONES_KM))
    )


def default_services() -> CarrierCatalog:
    """Realistic default services: ground, express, same-day courier and store transfer.

    Prices span roughly 4-40 per parcel like published ground/express tables; CO2 factors are the
    DEFRA 2025 freight factors quoted in the module docstring (last mile: a diesel van at 0.256 kg per
    vehicle-km on a 120 km route shared by ~150 parcels = 0.20 kg; an electric van 0.070 kg/km on a
    60 km route of 40 same-day parcels = 0.105 kg).
    """
    return CarrierCatalog(
        services=(
            CarrierService(
                "ground",
                Mode.ROAD,
                ZoneRateCard(_ZONES_KM, _WEIGHTS_KG, _table(4.2, 0.9, 1.6)),
                TransitTime(1.0, 2.0, 4.0, 0.5),
                pickup_cutoff_hour=17.0,
                linehaul_kg_co2_per_tkm=0.102,
                last_mile_kg_co2_per_parcel=0.20,
            ),
            CarrierService(
                "express",
                Mode.AIR,
                ZoneRateCard(_ZONES_KM, _WEIGHTS_KG, _table(9.5, 2.2, 3.1)),
                TransitTime(0.8, 1.0, 1.5),
                pickup_cutoff_hour=18.0,
                linehaul_kg_co2_per_tkm=0.755,
                last_mile_kg_co2_per_parcel=0.20,
            ),
            CarrierService(
                "same_day",
                Mode.COURIER,
                ZoneRateCard((25.0, 60.0), _WEIGHTS_KG, _table(7.9, 3.0, 1.0)[:2]),
                TransitTime(0.2, 0.3, 0.5),
                pickup_cutoff_hour=14.0,
                max_km=60.0,
                max_kg=20.0,
                linehaul_kg_co2_per_tkm=0.220,
                last_mile_kg_co2_per_parcel=0.105,
                works_weekends=True,
            ),
            CarrierService(
                "store_transfer",
                Mode.TRANSFER,
                ZoneRateCard(_ZONES_KM, _WEIGHTS_KG, _table(1.8, 0.4, 0.3)),
                TransitTime(1.0, 2.0, 3.0, 0.5),
                pickup_cutoff_hour=20.0,
                linehaul_kg_co2_per_tkm=0.102,
                last_mile_kg_co2_per_parcel=0.02,
            ),
        )
    )
