"""A retailer's own carrier services in a rules or scenario file (``carriers: services:``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dom_core.carriers import Mode, default_services
from dom_core.config import CarriersSpec, ConfigError, load_network
from dom_core.engine import SourcingEngine
from dom_core.model import Order, OrderLine
from dom_core.strategies import build_strategy
from retail.network import import_network
from tests.retail.conftest import NETWORK

RULES = """\
network:
  locations:
    - {id: DC-BER, kind: dc, lat: 52.52, lon: 13.40, country: DE, market: DE}
  skus:
    - {id: TEE, weight_kg: 0.3}
  inventory_models:
    - {name: de, market: DE, channels: [web], locations: [DC-BER], strategy: cheapest}
  carriers:
    preset: default
    services:
      - name: budget_post
        mode: road
        rate_card:
          kind: zone
          zone_limits_km: [300, 1000]
          weight_limits_kg: [2, 31.5]
          prices: [[1.5, 3.0], [2.5, 4.0]]
        transit: {min_days: 2, mode_days: 3, max_days: 5}
        pickup_cutoff_hour: 16
        pickup_days: [mon, tue, wed, thu, fri]
        linehaul_kg_co2_per_tkm: 0.08
        last_mile_kg_co2_per_parcel: 0.15
        markets: [DE]
  stock:
    - {location: DC-BER, sku: TEE, on_hand: 10}
"""
ORDER = Order("o1", "DE", "web", 9.0, 52.50, 13.30, (OrderLine("1", "TEE", 1),))


def rules(tmp_path: Path, text: str = RULES) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_engine_picks_a_listed_service_when_it_is_cheapest(tmp_path: Path) -> None:
    network, ledger, carriers = load_network(rules(tmp_path))
    assert [s.name for s in carriers.services] == [
        "ground",
        "express",
        "same_day",
        "store_transfer",
        "budget_post",
    ]
    cheapest = SourcingEngine(network, carriers).decide(ORDER, ledger)
    (shipment,) = cheapest.shipments
    assert shipment.service == "budget_post"
    assert shipment.cost == pytest.approx(1.5 + 1.5 + 0.3)  # its price + the DC's handling per order and line
    fastest = SourcingEngine(network, carriers, strategy=build_strategy("fastest")).decide(ORDER, ledger)
    assert fastest.shipments[0].service != "budget_post"  # 2-5 days: never the fastest


def test_a_listed_service_replaces_the_preset_one_of_its_name(tmp_path: Path) -> None:
    _, _, carriers = load_network(rules(tmp_path, RULES.replace("name: budget_post", "name: ground")))
    assert [s.name for s in carriers.services] == ["ground", "express", "same_day", "store_transfer"]
    assert carriers.service("ground").rate_card.price(100, 1, 1) == 1.5


def test_without_services_the_presets_are_unchanged() -> None:
    assert CarriersSpec().build() == default_services()
    linear = CarriersSpec(preset="linear").build()
    assert [s.name for s in linear.services] == [s.name for s in default_services().services]


def test_preset_none_keeps_only_the_listed_services(tmp_path: Path) -> None:
    _, _, carriers = load_network(rules(tmp_path, RULES.replace("preset: default", "preset: none")))
    assert [s.name for s in carriers.services] == ["budget_post"]
    assert carriers.transfer_service not in [s.name for s in carriers.services]  # no transfers offered


def test_a_listed_transfer_service_is_the_transfer_service(tmp_path: Path) -> None:
    text = RULES.replace("mode: road", "mode: transfer").replace("preset: default", "preset: none")
    _, _, carriers = load_network(rules(tmp_path, text))
    assert (
        carriers.transfer_service == "budget_post" and carriers.service("budget_post").mode is Mode.TRANSFER
    )


ERRORS = [
    (
        "prices: [[1.5, 3.0], [2.5, 4.0]]",
        "prices: [[1.5, 3.0]]",
        "carriers.services.0.rate_card",
        "one row per distance band",
    ),
    (
        "zone_limits_km: [300, 1000]",
        "zone_limits_km: [1000, 300]",
        "carriers.services.0.rate_card.zone_limits_km (line 15)",
        "strictly increasing",
    ),
    (
        "transit: {min_days: 2, mode_days: 3, max_days: 5}",
        "transit: {min_days: 4, mode_days: 3, max_days: 5}",
        "carriers.services.0.transit",
        "min_days <= mode_days <= max_days",
    ),
    (
        "pickup_days: [mon, tue, wed, thu, fri]",
        "pickup_days: [mon, funday]",
        "carriers.services.0.pickup_days.1",
        "Input should be",
    ),
    ("kind: zone", "kind: table", "carriers.services.0.rate_card", "does not match any of the expected tags"),
    (
        "    services:",
        "    transfer_service: nope\n    services:",
        "carriers",
        "transfer_service 'nope' is not a listed service",
    ),
    (
        "        mode: road",
        "        mode: road\n        max_kg: -1",
        "carriers.services.0.max_kg",
        "greater than 0",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "field", "message"), ERRORS, ids=[e[2].split(".")[-1] + ":" + e[3][:12] for e in ERRORS]
)
def test_errors_name_the_field_and_its_line(
    tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    text = RULES.replace(old, new)
    assert text != RULES
    with pytest.raises(ConfigError) as error:
        load_network(rules(tmp_path, text))
    shown = str(error.value)
    assert f"network.{field}" in shown and message in shown
    assert "(line " in shown


def test_the_importer_builds_the_same_spec_as_a_yaml_file(tmp_path: Path) -> None:
    imported = import_network(NETWORK).spec.carriers
    dumped = imported.model_dump(mode="json", exclude_none=True)
    assert CarriersSpec.model_validate(dumped) == imported
