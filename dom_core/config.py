"""Declarative configuration of a network and its sourcing rules (YAML or Python), validated by pydantic.

A ``NetworkSpec`` lists locations, SKUs, carrier services and inventory models (each with its
strategy, filters, cutoff and return locations) and builds the engine's ``Network``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dom_core.carrier_spec import CarrierServiceSpec
from dom_core.carriers import CarrierCatalog, LinearRateCard, Mode, default_services
from dom_core.errors import DomError
from dom_core.inventory import InventoryLedger
from dom_core.model import Capability, Location, LocationKind, Sku
from dom_core.network import InventoryModel, Network
from dom_core.rules import build_filter
from dom_core.strategies import build_strategy
from dom_core.yamlio import ConfigError, load_yaml, validation_error

DEFAULT_CAPABILITIES: dict[LocationKind, tuple[Capability, ...]] = {
    LocationKind.DC: (Capability.SHIP_TO_HOME, Capability.ACCEPT_RETURNS),
    LocationKind.STORE: tuple(Capability),
    LocationKind.DARK_STORE: (Capability.SHIP_TO_HOME, Capability.PICKUP),
    LocationKind.THREE_PL: (Capability.SHIP_TO_HOME, Capability.ACCEPT_RETURNS),
    LocationKind.DROP_SHIP: (Capability.SHIP_TO_HOME,),
    LocationKind.PICKUP_POINT: (Capability.PICKUP, Capability.RECEIVE_SHIP_TO_STORE),
}
TRANSFER = "store_transfer"  # the presets' transfer service


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocationSpec(_Spec):
    """One stock location."""

    id: str = Field(min_length=1)
    kind: LocationKind
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    country: str = Field(min_length=2)
    market: str = Field(min_length=1)
    capabilities: list[Capability] | None = None
    pick_capacity_per_day: int = Field(default=1000, ge=0)
    cutoff_hour: float = Field(default=16.0, ge=0, le=24)
    handling_cost_per_order: float = Field(default=1.5, ge=0)
    handling_cost_per_line: float = Field(default=0.3, ge=0)
    priority: int = 100
    enabled: bool = True
    name: str = ""

    def build(self) -> Location:
        """The engine's Location."""
        caps = DEFAULT_CAPABILITIES[self.kind] if self.capabilities is None else self.capabilities
        return Location(
            self.id,
            self.kind,
            self.lat,
            self.lon,
            self.country,
            self.market,
            frozenset(caps),
            self.pick_capacity_per_day,
            self.cutoff_hour,
            self.handling_cost_per_order,
            self.handling_cost_per_line,
            self.priority,
            self.enabled,
            self.name or self.id,
        )


class SkuSpec(_Spec):
    """One catalogue item."""

    id: str = Field(min_length=1)
    weight_kg: float = Field(default=0.5, ge=0)
    price: float = Field(default=30.0, ge=0)
    category: str = "general"
    digital: bool = False
    returnable: bool = True

    def build(self) -> Sku:
        """The engine's Sku."""
        return Sku(self.id, self.weight_kg, self.price, self.category, self.digital, self.returnable)


class LocationSelector(_Spec):
    """Select locations by kind/market/country instead of listing ids; ordered by priority, then id."""

    kinds: list[LocationKind] | None = None
    markets: list[str] | None = None
    countries: list[str] | None = None

    def select(self, locations: list[Location]) -> tuple[str, ...]:
        """Ids of matching locations in priority order."""
        hits = [
            loc
            for loc in locations
            if (self.kinds is None or loc.kind in self.kinds)
            and (self.markets is None or loc.market in self.markets)
            and (self.countries is None or loc.country in self.countries)
        ]
        return tuple(loc.id for loc in sorted(hits, key=lambda loc: (loc.priority, loc.id)))


StrategyField = str | dict[str, Any]


class InventoryModelSpec(_Spec):
    """Which locations serve a market's channels, with which strategy, filters and cutoff."""

    name: str
    market: str
    channels: list[str] = Field(min_length=1)
    locations: list[str] | LocationSelector = Field(default_factory=LocationSelector)
    strategy: StrategyField = "split_shipments"
    cutoff: int = Field(default=10, ge=1)
    max_shipments: int = Field(default=10, ge=1)
    filters: list[StrategyField] = Field(default_factory=list)
    return_locations: list[str] | LocationSelector = Field(default_factory=list)

    def build(self, locations: list[Location], index: int) -> InventoryModel:
        """The engine's InventoryModel (strategy and filters built and validated)."""
        where = f"inventory_models[{index}]"

        def ids(value: list[str] | LocationSelector) -> tuple[str, ...]:
            return value.select(locations) if isinstance(value, LocationSelector) else tuple(value)

        return InventoryModel(
            name=self.name,
            market=self.market,
            channels=frozenset(self.channels),
            locations=ids(self.locations),
            strategy=build_strategy(self.strategy, f"{where}.strategy"),
            cutoff=self.cutoff,
            max_shipments=self.max_shipments,
            return_locations=ids(self.return_locations),
            filters=tuple(build_filter(f, f"{where}.filters[{i}]") for i, f in enumerate(self.filters)),
        )


class CarriersSpec(_Spec):
    """Carrier services: a preset (the shipped defaults, the literature's linear parcel cost for every
    parcel, or none) and the retailer's own ``services`` beside it.

    A listed service with a preset service's name replaces it. ``transfer_service`` names the service
    moving stock between locations (ship-to-store, transfers to the primary); when it is not given, the
    one listed service of mode ``transfer`` if there is one, else the preset's ``store_transfer``. With
    ``preset: none`` and no transfer service listed, the catalogue offers no transfers.
    """

    preset: Literal["default", "linear", "none"] = "default"
    per_package: float = Field(default=8.759, ge=0)
    per_item: float = Field(default=0.423, ge=0)
    per_item_mile: float = Field(default=0.000541, ge=0)
    services: list[CarrierServiceSpec] = Field(default_factory=list)
    transfer_service: str | None = Field(default=None, min_length=1)

    @field_validator("services")
    @classmethod
    def _unique_names(cls, services: list[CarrierServiceSpec]) -> list[CarrierServiceSpec]:
        seen: dict[str, int] = {}
        for i, service in enumerate(services):
            if service.name in seen:
                first = seen[service.name]
                raise ValueError(f"services[{i}].name {service.name!r} repeats services[{first}]")
            seen[service.name] = i
        return services

    @model_validator(mode="after")
    def _transfer_known(self) -> CarriersSpec:
        listed = {s.name: s for s in self.services}
        name = self.transfer_service
        if name is not None and name not in listed and (self.preset == "none" or name != TRANSFER):
            raise ValueError(f"transfer_service {name!r} is not a listed service")
        if name in listed and listed[name].mode is not Mode.TRANSFER:
            raise ValueError(f"transfer_service {name!r} must have mode: transfer")
        if name is None and sum(s.mode is Mode.TRANSFER for s in self.services) > 1:
            raise ValueError("several services have mode: transfer; name one as transfer_service")
        return self

    def _preset(self) -> CarrierCatalog:
        catalog = default_services()
        if self.preset != "linear":
            return catalog
        linear = LinearRateCard(self.per_package, self.per_item, self.per_item_mile)
        return CarrierCatalog(
            tuple(replace(s, rate_card=linear) for s in catalog.services), catalog.transfer_service
        )

    def build(self) -> CarrierCatalog:
        """The carrier catalogue: the preset's services, replaced or extended by the listed ones."""
        preset = self._preset()
        if not self.services and self.transfer_service is None and self.preset != "none":
            return preset
        own = {s.name: s.build() for s in self.services}
        base = () if self.preset == "none" else preset.services
        services = [own.pop(s.name, s) for s in base] + list(own.values())
        transfers = [s.name for s in self.services if s.mode is Mode.TRANSFER]
        transfer = self.transfer_service or (transfers[0] if transfers else TRANSFER)
        return CarrierCatalog(tuple(services), transfer)  # without that service: no transfers


class StockSpec(_Spec):
    """Initial stock of one SKU at one location."""

    location: str
    sku: str
    on_hand: int = Field(ge=0)
    safety: int = Field(default=0, ge=0)


class NetworkSpec(_Spec):
    """A network and its rules, as written in a scenario or rules file."""

    locations: list[LocationSpec] = Field(default_factory=list)
    skus: list[SkuSpec] = Field(default_factory=list)
    inventory_models: list[InventoryModelSpec] = Field(default_factory=list)
    carriers: CarriersSpec = Field(default_factory=CarriersSpec)
    stock: list[StockSpec] = Field(default_factory=list)

    def build(
        self, extra_locations: list[Location] | None = None, extra_skus: list[Sku] | None = None
    ) -> Network:
        """Build the Network (optionally with generated locations and SKUs appended)."""
        locations = [spec.build() for spec in self.locations] + list(extra_locations or [])
        skus = [spec.build() for spec in self.skus] + list(extra_skus or [])
        models = tuple(spec.build(locations, i) for i, spec in enumerate(self.inventory_models))
        return Network(tuple(locations), tuple(skus), models)

    def stock_ledger(self, network: Network) -> InventoryLedger:
        """A ledger holding the listed initial stock; errors name the stock entry."""
        ledger = InventoryLedger(network)
        for i, entry in enumerate(self.stock):
            network.loc_idx(entry.location, f"stock[{i}].location")
            network.sku_idx(entry.sku, f"stock[{i}].sku")
            if entry.on_hand:
                ledger.receive(entry.location, entry.sku, entry.on_hand, 0.0, "initial")
            if entry.safety:
                ledger.set_safety_stock(entry.location, entry.sku, entry.safety)
        return ledger


class RulesFile(_Spec):
    """A rules file: a network spec at its top level."""

    network: NetworkSpec


def parse_spec(
    model: type[BaseModel], data: Any, source: str, lines: dict[tuple[Any, ...], int] | None = None
) -> Any:
    """Validate data against a spec model; a ConfigError names the field path and line."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise validation_error(exc, source, lines) from None


def load_network(path: str | Path) -> tuple[Network, InventoryLedger, CarrierCatalog]:
    """Load a rules file (``network:`` at the top) into a network, its stocked ledger and carriers."""
    data, lines = load_yaml(path)
    spec: RulesFile = parse_spec(RulesFile, data, str(path), lines)
    try:
        network = spec.network.build()
        return network, spec.network.stock_ledger(network), spec.network.carriers.build()
    except DomError as exc:
        raise ConfigError(f"{path}: network.{exc.field}", exc.problem) from None


__all__ = [
    "CarrierServiceSpec",
    "CarriersSpec",
    "ConfigError",
    "InventoryModelSpec",
    "LocationSelector",
    "LocationSpec",
    "NetworkSpec",
    "SkuSpec",
    "StockSpec",
    "load_network",
    "parse_spec",
]
