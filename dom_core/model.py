"""Domain values: locations, SKUs, orders and the enumerations that classify them.

Times are float hours since the scenario epoch (hour 0 is a Monday 00:00 local time); the live
service converts wall-clock timestamps to this scale, the simulation uses it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dom_core.errors import DomError, InvalidQuantityError

HOURS_PER_DAY = 24.0


class LocationKind(StrEnum):
    """What a stock location is; drives default capabilities and store-only rules."""

    DC = "dc"
    STORE = "store"
    DARK_STORE = "dark_store"
    THREE_PL = "3pl"
    DROP_SHIP = "drop_ship"
    PICKUP_POINT = "pickup_point"


STORE_KINDS = frozenset({LocationKind.STORE, LocationKind.DARK_STORE})


class Capability(StrEnum):
    """What a location can do for an order or a return."""

    SHIP_TO_HOME = "ship_to_home"
    PICKUP = "pickup"
    RECEIVE_SHIP_TO_STORE = "ship_to_store"
    ACCEPT_RETURNS = "accept_returns"


class FulfilmentType(StrEnum):
    """How the customer receives an order."""

    HOME_DELIVERY = "home_delivery"
    PICKUP_IN_STORE = "pickup_in_store"  # BOPIS: picked from the pickup store's own stock
    SHIP_FROM_STORE = "ship_from_store"  # home delivery sourced from stores only
    SHIP_TO_STORE = "ship_to_store"  # sourced anywhere, transferred to the pickup store
    DIGITAL = "digital"  # nothing to ship


def check_coordinates(lat: float, lon: float, field_prefix: str) -> None:
    """Raise a DomError naming the field when a latitude or longitude is out of range."""
    if not -90.0 <= lat <= 90.0:
        raise DomError(f"{field_prefix}.lat", f"latitude {lat} is outside [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise DomError(f"{field_prefix}.lon", f"longitude {lon} is outside [-180, 180]")


@dataclass(frozen=True, slots=True)
class Location:
    """A stock location (or a stockless pickup point) with its capabilities and operating data."""

    id: str
    kind: LocationKind
    lat: float
    lon: float
    country: str
    market: str
    capabilities: frozenset[Capability]
    pick_capacity_per_day: int = 1_000
    cutoff_hour: float = 16.0
    handling_cost_per_order: float = 1.5
    handling_cost_per_line: float = 0.3
    priority: int = 100
    enabled: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        check_coordinates(self.lat, self.lon, f"location[{self.id}]")
        if self.pick_capacity_per_day < 0:
            raise DomError(f"location[{self.id}].pick_capacity_per_day", "must be >= 0")
        if not 0.0 <= self.cutoff_hour <= 24.0:
            raise DomError(f"location[{self.id}].cutoff_hour", f"{self.cutoff_hour} is not an hour of day")

    @property
    def is_store(self) -> bool:
        """True for stores and dark stores (ship-from-store candidates)."""
        return self.kind in STORE_KINDS

    def can(self, capability: Capability) -> bool:
        """Whether the location has the capability."""
        return capability in self.capabilities


@dataclass(frozen=True, slots=True)
class Sku:
    """A catalogue item."""

    id: str
    weight_kg: float = 0.5
    price: float = 30.0
    category: str = "general"
    digital: bool = False
    returnable: bool = True

    def __post_init__(self) -> None:
        if self.weight_kg < 0:
            raise DomError(f"sku[{self.id}].weight_kg", "must be >= 0")
        if self.price < 0:
            raise DomError(f"sku[{self.id}].price", "must be >= 0")


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of an order: a quantity of one SKU."""

    line_id: str
    sku: str
    qty: int

    def __post_init__(self) -> None:
        qty = self.qty
        if type(qty) is not int or qty <= 0:  # else certainly valid; the full check for anything else
            if isinstance(qty, int) and not isinstance(qty, bool) and qty > 0:
                return
            raise InvalidQuantityError(
                f"line[{self.line_id}].qty", f"must be a positive integer, got {self.qty!r}"
            )


_NEEDS_STORE = (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE)


@dataclass(frozen=True, slots=True)
class Order:
    """A customer order to be sourced."""

    id: str
    market: str
    channel: str
    created_at: float
    lat: float
    lon: float
    lines: tuple[OrderLine, ...]
    fulfilment: FulfilmentType = FulfilmentType.HOME_DELIVERY
    pickup_location: str | None = None
    max_delivery_days: float | None = None
    meta: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        lines = self.lines
        if not lines:
            raise DomError(f"order[{self.id}].lines", "an order needs at least one line")
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):  # the field name only if wrong
            check_coordinates(self.lat, self.lon, f"order[{self.id}]")
        if not self.pickup_location and self.fulfilment in _NEEDS_STORE:
            raise DomError(f"order[{self.id}].pickup_location", f"required for {self.fulfilment.value}")
        if len(lines) > 1 and len({line.line_id for line in lines}) < len(lines):
            seen: set[str] = set()
            for line in lines:
                if line.line_id in seen:
                    raise DomError(f"order[{self.id}].lines", f"duplicate line_id {line.line_id!r}")
                seen.add(line.line_id)
