"""The documented files of a retailer's data: one row model per file, the single source of their columns.

Each model lists a file's columns with their type, unit, whether they are required and their default;
``retail.reading`` derives its vectorised checks from these models, ``retail.schema_export`` writes
them as JSON Schema (``docs/schemas/``) and ``docs/data.md`` explains them. Column names are matched
case-insensitively with spaces as underscores; ``ALIASES`` lists the other names accepted.

Fields the engine does not use yet are kept, typed, in the imported frames for the calendar and the
replay (``retail.network.LocationCalendar``): per-weekday pick capacity, opening hours, carrier pickup
days and markets, catalogue return rates, inbound stock ETAs.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from dom_core.carriers import Mode
from dom_core.model import Capability, FulfilmentType, LocationKind
from retail.hours import OpeningHours, time_of_day, weekdays


class Parse(StrEnum):
    """How ``retail.reading`` parses a column beyond its plain type (a marker in the field's metadata)."""

    TIME_OF_DAY = "time_of_day"  # HH:MM or decimal hours -> float hours
    WEEKDAYS = "weekdays"  # "mon-fri;sat" -> list of mon..sun
    LIST = "list"  # ";"-separated values of an enumeration -> list
    OPENING_HOURS = "opening_hours"  # OSM-style rules -> list of {weekday, open_hour, close_hour}
    DATETIME = "datetime"  # ISO 8601 / "YYYY-MM-DD HH:MM[:SS] [+HHMM]" -> UTC instant
    COUNTRY = "country"  # ISO 3166 alpha-2 code or an English country name -> upper-case code


def _split(value: Any) -> Any:
    return (
        [v.strip() for v in value.replace("|", ";").split(";") if v.strip()]
        if isinstance(value, str)
        else value
    )


TimeOfDay = Annotated[
    float,
    Parse.TIME_OF_DAY,
    BeforeValidator(lambda v: time_of_day(v) if isinstance(v, str) else v),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 24},
                {"type": "string", "pattern": r"^\d{1,2}:\d{2}"},
            ]
        }
    ),
]
Weekdays = Annotated[
    list[str],
    Parse.WEEKDAYS,
    BeforeValidator(lambda v: weekdays(v) if isinstance(v, str) else v),
    WithJsonSchema({"type": "string", "examples": ["mon-fri", "mon;wed;fri", "Mo-Sa"]}),
]
Capabilities = Annotated[
    list[Capability],
    Parse.LIST,
    BeforeValidator(_split),
    WithJsonSchema({"type": "string", "examples": ["ship_to_home;pickup;accept_returns"]}),
]
Markets = Annotated[
    list[str], Parse.LIST, BeforeValidator(_split), WithJsonSchema({"type": "string", "examples": ["DE;AT"]})
]
Hours = Annotated[
    str,
    Parse.OPENING_HOURS,
    BeforeValidator(lambda v: OpeningHours.parse(v).text() if isinstance(v, str) else v),
    WithJsonSchema({"type": "string", "examples": ["Mo-Fr 09:00-20:00; Sa 10:00-18:00", "24/7"]}),
]
Instant = Annotated[
    datetime,
    Parse.DATETIME,
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-03-02 14:05:00+01:00"]}),
]
Country = Annotated[
    str, Parse.COUNTRY, WithJsonSchema({"type": "string", "examples": ["DE", "Germany"], "minLength": 2})
]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, use_enum_values=True)


def _capacity(day: str) -> Any:
    return Field(default=None, ge=0, description=f"units picked on a {day} (overrides pick_capacity_per_day)")


class LocationRow(_Row):
    """``locations``: one stock location or pickup point per row. Place it by ``lat``/``lon``, or by
    ``postcode`` and/or ``city`` with ``country`` (geocoded offline, see docs/data.md)."""

    id: str = Field(min_length=1, description="unique location id")
    kind: LocationKind = Field(description="dc, store, dark_store, 3pl, drop_ship or pickup_point")
    name: str | None = Field(default=None, description="display name (default: the id)")
    lat: float | None = Field(default=None, ge=-90, le=90, description="latitude, degrees (WGS84)")
    lon: float | None = Field(default=None, ge=-180, le=180, description="longitude, degrees (WGS84)")
    postcode: str | None = Field(default=None, description="postal code, geocoded when lat/lon are missing")
    city: str | None = Field(default=None, description="city name, geocoded when lat/lon and postcode fail")
    country: Country = Field(description="ISO 3166 alpha-2 code (or English name)")
    market: str | None = Field(default=None, description="market the location belongs to (default: country)")
    capabilities: Capabilities | None = Field(
        default=None,
        description="';'-separated: ship_to_home, pickup, ship_to_store, accept_returns (default: by kind)",
    )
    pick_capacity_per_day: int | None = Field(
        default=None, ge=0, description="units picked per day (default 1000); the engine's capacity"
    )
    pick_capacity_mon: int | None = _capacity("Monday")
    pick_capacity_tue: int | None = _capacity("Tuesday")
    pick_capacity_wed: int | None = _capacity("Wednesday")
    pick_capacity_thu: int | None = _capacity("Thursday")
    pick_capacity_fri: int | None = _capacity("Friday")
    pick_capacity_sat: int | None = _capacity("Saturday")
    pick_capacity_sun: int | None = _capacity("Sunday")
    cutoff_hour: TimeOfDay | None = Field(
        default=None, description="order cutoff for same-day picking (16:00)"
    )
    opening_hours: Hours | None = Field(default=None, description="opening hours for pickup in store")
    handling_cost_per_order: float | None = Field(default=None, ge=0, description="per order shipped (1.5)")
    handling_cost_per_line: float | None = Field(
        default=None, ge=0, description="per order line shipped (0.3)"
    )
    priority: int | None = Field(default=None, description="smaller = preferred (default 100)")
    enabled: bool | None = Field(default=None, description="takes part in sourcing (default true)")


class CatalogueRow(_Row):
    """``catalogue``: one SKU per row."""

    sku: str = Field(min_length=1, description="unique SKU id")
    name: str | None = Field(default=None, description="product name (kept, not used by the engine)")
    weight_kg: float | None = Field(default=None, ge=0, description="shipping weight per unit, kg (0.5)")
    category: str | None = Field(default=None, description="category, keys return rates (general)")
    price: float | None = Field(default=None, ge=0, description="selling price per unit (30)")
    digital: bool | None = Field(default=None, description="nothing to ship (false)")
    returnable: bool | None = Field(default=None, description="may be returned (true)")
    return_rate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="share of units returned (kept for the replay; the simulation "
        "today uses the scenario's returns.rate_by_category)",
    )


class StockRow(_Row):
    """``stock``: the stock snapshot, one (location, SKU) per row."""

    location: str = Field(min_length=1, description="a location id of the locations file")
    sku: str = Field(min_length=1, description="a SKU of the catalogue")
    on_hand: int = Field(ge=0, description="units on hand")
    safety: int | None = Field(default=None, ge=0, description="safety stock units, not promised (0)")
    inbound_qty: int | None = Field(default=None, ge=0, description="units on their way (0)")
    inbound_eta: Instant | None = Field(default=None, description="when the inbound units arrive (UTC)")
    inbound_eta_days: float | None = Field(
        default=None, ge=0, description="or: days after the snapshot (the engine's hour 0) they arrive"
    )


class CarrierRow(_Row):
    """``carriers``: one carrier service per row; zone rate cards take their prices from ``carrier_rates``."""

    name: str = Field(min_length=1, description="unique service name")
    mode: Mode = Field(default=Mode.ROAD, description="road, air, courier, or transfer (between locations)")
    markets: Markets | None = Field(default=None, description="';'-separated markets served (kept)")
    countries: Markets | None = Field(default=None, description="';'-separated destination countries (kept)")
    rate_card: Literal["zone", "linear"] = Field(default="zone", description="zone (carrier_rates) or linear")
    fuel_surcharge: float | None = Field(
        default=None, ge=0, description="zone cards: share added (0.1 = 10%)"
    )
    per_package: float | None = Field(default=None, ge=0, description="linear cards: per parcel (8.759)")
    per_item: float | None = Field(default=None, ge=0, description="linear cards: per unit (0.423)")
    per_item_mile: float | None = Field(
        default=None, ge=0, description="linear cards: per unit-mile (0.000541)"
    )
    transit_min_days: float = Field(ge=0, description="fastest transit, days")
    transit_mode_days: float = Field(ge=0, description="most likely transit, days")
    transit_max_days: float = Field(ge=0, description="slowest transit, days")
    transit_extra_days_per_1000_km: float | None = Field(default=None, ge=0, description="extra days (0)")
    pickup_cutoff_hour: TimeOfDay | None = Field(default=None, description="last collection (17:00)")
    pickup_days: Weekdays | None = Field(default=None, description="collection days (mon-fri)")
    max_km: float | None = Field(default=None, gt=0, description="longest great-circle km served (any)")
    max_kg: float | None = Field(default=None, gt=0, description="heaviest parcel, kg (31.5)")
    linehaul_kg_co2_per_tkm: float | None = Field(
        default=None, ge=0, description="kg CO2e per tonne-km (0.102)"
    )
    last_mile_kg_co2_per_parcel: float | None = Field(
        default=None, ge=0, description="kg CO2e/parcel (0.181)"
    )
    promise_quantile: float | None = Field(
        default=None, ge=0, le=1, description="transit quantile promised (0.9)"
    )
    transfer: bool | None = Field(default=None, description="the service moving stock between locations")


class CarrierRateRow(_Row):
    """``carrier_rates``: a zone rate card's prices, one (service, distance band, weight bracket) per row.
    Each service needs a price for every combination of its bands and brackets."""

    service: str = Field(min_length=1, description="a service name of the carriers file")
    zone: str | None = Field(default=None, description="zone label (kept; the band is max_km)")
    max_km: float = Field(gt=0, description="upper limit of the distance band, great-circle km")
    max_kg: float = Field(gt=0, description="upper limit of the weight bracket, kg")
    price: float = Field(ge=0, description="price per parcel")


class HistoryRow(_Row):
    """``history`` (order history): one order line per row; the order's fields repeat on each of its lines.
    Place the customer by ``lat``/``lon``, or by ``postcode`` and/or ``city`` with ``country``."""

    order_id: str = Field(min_length=1, description="order id")
    created_at: Instant = Field(description="when the order was placed (a time without zone: --timezone)")
    market: str | None = Field(default=None, description="market (default: country)")
    channel: str | None = Field(default=None, description="sales channel (default: web)")
    lat: float | None = Field(default=None, ge=-90, le=90, description="customer latitude")
    lon: float | None = Field(default=None, ge=-180, le=180, description="customer longitude")
    postcode: str | None = Field(default=None, description="customer postal code")
    city: str | None = Field(default=None, description="customer city")
    country: Country | None = Field(default=None, description="customer country, ISO alpha-2")
    fulfilment: FulfilmentType | None = Field(default=None, description="default home_delivery")
    pickup_location: str | None = Field(
        default=None, description="store id, for pickup_in_store/ship_to_store"
    )
    line_id: str | None = Field(default=None, description="line id within the order (default 1, 2, ...)")
    sku: str = Field(min_length=1, description="SKU ordered")
    qty: int = Field(gt=0, description="units ordered")
    return_qty: int | None = Field(default=None, ge=0, description="units returned, at most qty (0)")
    return_days: float | None = Field(default=None, ge=0, description="days from order to return")


ROW_MODELS: dict[str, type[_Row]] = {
    "locations": LocationRow,
    "catalogue": CatalogueRow,
    "stock": StockRow,
    "carriers": CarrierRow,
    "carrier_rates": CarrierRateRow,
    "history": HistoryRow,
}

ALIASES: dict[str, dict[str, str]] = {
    "locations": {
        "location_id": "id",
        "location": "id",
        "type": "kind",
        "latitude": "lat",
        "longitude": "lon",
        "lng": "lon",
        "zip": "postcode",
        "zip_code": "postcode",
        "postal_code": "postcode",
        "country_code": "country",
        "cutoff": "cutoff_hour",
        "capacity": "pick_capacity_per_day",
    },
    "catalogue": {"id": "sku", "sku_id": "sku", "weight": "weight_kg", "returnrate": "return_rate"},
    "stock": {
        "location_id": "location",
        "sku_id": "sku",
        "quantity": "on_hand",
        "qty": "on_hand",
        "safety_stock": "safety",
        "inbound": "inbound_qty",
    },
    "carriers": {"service": "name", "carrier_service": "name", "cutoff": "pickup_cutoff_hour"},
    "carrier_rates": {"name": "service", "carrier_service": "service", "km": "max_km", "kg": "max_kg"},
    "history": {
        "order": "order_id",
        "timestamp": "created_at",
        "ordered_at": "created_at",
        "latitude": "lat",
        "longitude": "lon",
        "lng": "lon",
        "zip": "postcode",
        "postal_code": "postcode",
        "quantity": "qty",
        "country_code": "country",
        "pickup_store": "pickup_location",
    },
}
