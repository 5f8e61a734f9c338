"""Importing a network's files: the valid sample, then each file broken in the ways a retailer's export is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dom_core.carriers import LinearRateCard, Mode, ZoneRateCard
from dom_core.geo import haversine_km
from dom_core.model import Capability
from retail.network import import_network
from retail.problems import FileError, ImportRefusedError
from retail.writing import read_folder, write_folder
from tests.retail.conftest import NETWORK, append

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


def test_the_sample_network_imports_whole() -> None:
    imported = import_network(NETWORK)
    assert imported.report.ok, imported.report.lines()
    assert [c.imported for c in imported.report.counts] == [6, 4, 8, 4, 13]
    network, ledger, carriers = imported.build()
    assert [loc.id for loc in network.locations] == [
        "DC-BER",
        "3PL-HAM",
        "S-MUC",
        "S-VIE",
        "DS-PAR",
        "PP-BER",
    ]
    places = {loc.id: (loc.lat, loc.lon) for loc in network.locations}
    assert haversine_km(*places["3PL-HAM"], 53.55, 10.0) < 5  # postcode 20095
    assert haversine_km(*places["S-MUC"], 48.137, 11.575) < 5  # city "München", country "Germany"
    assert haversine_km(*places["S-VIE"], 48.208, 16.372) < 5  # postcode 1010, AT
    assert haversine_km(*places["DS-PAR"], 48.857, 2.352) < 5
    kiosk = network.location("PP-BER")
    assert kiosk.capabilities == frozenset({Capability.PICKUP}) and kiosk.pick_capacity_per_day == 0
    hamburg = network.location("3PL-HAM")
    assert hamburg.capabilities == frozenset({Capability.SHIP_TO_HOME, Capability.ACCEPT_RETURNS})
    assert (hamburg.cutoff_hour, hamburg.priority, hamburg.market) == (17.5, 2, "DE")
    assert network.location("DS-PAR").cutoff_hour == 16.0 and network.location("DS-PAR").market == "FR"
    gift = network.skus[network.sku_idx("SKU-4")]
    assert gift.digital and not gift.returnable and gift.weight_kg == 0
    assert imported.catalogue.filter(pl.col("sku") == "SKU-1").item(0, "return_rate") == 0.28
    assert ledger.on_hand[network.sku_idx("SKU-1"), network.loc_idx("DC-BER")] == 500
    assert ledger.safety[network.sku_idx("SKU-1"), network.loc_idx("DC-BER")] == 10
    assert int(ledger.on_hand.sum()) == 500 + 120 + 40 + 300 + 60 + 12 + 6 + 25
    assert [s.name for s in carriers.services] == ["parcel_de", "express_eu", "bike_city", "line_haul"]
    assert carriers.transfer_service == "line_haul"


def test_carrier_services_keep_their_rate_cards_transit_and_pickup_days() -> None:
    carriers = import_network(NETWORK).carrier_catalog()
    parcel = carriers.service("parcel_de")
    assert isinstance(parcel.rate_card, ZoneRateCard)
    assert parcel.rate_card.zone_limits_km == (150.0, 800.0, 2500.0)
    assert parcel.rate_card.weight_limits_kg == (2.0, 10.0, 31.5)
    assert parcel.rate_card.prices[1] == (5.9, 7.9, 13.5) and parcel.rate_card.fuel_surcharge == 0.08
    assert parcel.rate_card.price(300, 1.0, 1) == pytest.approx(5.9 * 1.08)
    assert (parcel.transit.min_days, parcel.transit.mode_days, parcel.transit.max_days) == (1, 2, 3)
    assert not parcel.works_weekends and parcel.pickup_cutoff_hour == 17.0
    express = carriers.service("express_eu")
    assert express.mode is Mode.AIR and express.works_weekends and express.promise_quantile == 0.95
    bike = carriers.service("bike_city")
    assert bike.rate_card == LinearRateCard(2.5, 0.2, 0.001) and bike.max_km == 25 and bike.max_kg == 10
    assert carriers.service("line_haul").mode is Mode.TRANSFER


def test_calendar_fields_are_kept_typed() -> None:
    calendars = import_network(NETWORK).calendars()
    munich = calendars["S-MUC"]
    assert munich.pick_capacity == (120, 120, 120, 120, 120, 80, 0)
    assert munich.opening_hours is not None
    assert munich.opening_hours.days[0] == ((9.0, 20.0),) and munich.opening_hours.days[5] == ((10.0, 18.0),)
    assert munich.opening_hours.days[6] == () and munich.opening_hours.is_open(5, 17.5)
    assert (
        calendars["DC-BER"].pick_capacity == (6000,) * 6 + (0,) and calendars["DC-BER"].opening_hours is None
    )
    assert calendars["PP-BER"].opening_hours is not None and calendars["PP-BER"].opening_hours.is_open(6, 3.0)


def test_weekday_capacities_alone_give_the_engine_their_mean(network_copy: Path) -> None:
    append(network_copy, "locations.csv", "S-KOL,store,,50.94,6.96,,,DE,DE,,,,,,,,,")
    text = (network_copy / "locations.csv").read_text(encoding="utf-8")
    header = text.splitlines()[0] + ",pick_capacity_mon,pick_capacity_tue"
    rows = [line + ",," for line in text.splitlines()[1:-1]] + [text.splitlines()[-1] + ",100,200"]
    (network_copy / "locations.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    imported = import_network(network_copy)
    assert imported.report.ok, imported.report.lines()
    assert imported.network().location("S-KOL").pick_capacity_per_day == 150
    assert imported.calendars()["S-KOL"].pick_capacity == (100, 200, 150, 150, 150, 150, 150)


def test_inbound_stock_is_loaded_with_its_eta_in_engine_hours() -> None:
    imported = import_network(NETWORK)
    network = imported.network()
    with_epoch = imported.ledger(network, epoch=EPOCH)
    batches = {
        b.eta: (network.locations[b.loc].id, [network.skus[s].id for s in b.skus], b.qtys.tolist())
        for b in with_epoch.inbound_batches.values()
    }
    assert batches == {78.0: ("DC-BER", ["SKU-1"], [200]), 60.0: ("DC-BER", ["SKU-3"], [20])}
    without = imported.ledger(network)  # a date needs the epoch; days after the snapshot do not
    assert [b.eta for b in without.inbound_batches.values()] == [60.0]


def test_a_folder_written_reads_back_the_same(tmp_path: Path) -> None:
    imported = import_network(NETWORK)
    write_folder(tmp_path / "out", imported, None, imported.report, "none")
    again, history = read_folder(tmp_path / "out")
    assert history is None and again is not None
    assert again.spec == imported.spec
    for name in ("locations", "catalogue", "stock", "carriers", "carrier_rates"):
        assert getattr(again, name).equals(getattr(imported, name)), name


def test_frames_import_like_files() -> None:
    kinds = ("locations", "catalogue", "stock", "carriers", "carrier_rates")
    frames = {k: pl.read_csv(NETWORK / f"{k}.csv", infer_schema=False) for k in kinds}
    assert import_network(frames).spec == import_network(NETWORK).spec


# ------------------------------------------------------------------ broken files
BROKEN = [
    ("locations.csv", "X1,warehouse,,52,13,,,DE,,,,,,,,,,", "kind", "must be one of dc, store"),
    ("locations.csv", "X1,store,,95,13,,,DE,,,,,,,,,,", "lat", "must be <= 90"),
    ("locations.csv", "X1,store,,,,,Atlantis,DE,,,,,,,,,,", "city", "cannot place"),
    ("locations.csv", "X1,store,,,,99999,,ZZ,,,,,,,,,,", "country", "unknown country"),
    ("locations.csv", "DC-BER,dc,,52,13,,,DE,,,,,,,,,,", "id", "repeats row 1"),
    ("locations.csv", "X1,store,,52,13,,,DE,,,,,,,Mo-Fr 9-17,,,", "opening_hours", "not an interval"),
    ("locations.csv", "X1,store,,52,13,,,DE,,,,,,25:00,,,,", "cutoff_hour", "not between 00:00 and 24:00"),
    ("locations.csv", "X1,store,,52,,,,DE,,,,,,,,,,", "lat", "lat and lon go together"),
    ("catalogue.csv", "SKU-9,,-1,,,,,", "weight_kg", "must be >= 0"),
    ("catalogue.csv", "SKU-1,,1,,,,,", "sku", "repeats row 1"),
    ("catalogue.csv", "SKU-9,,1,,,maybe,,", "digital", "not true/false"),
    ("catalogue.csv", "SKU-9,,1,,,,,1.5", "return_rate", "must be <= 1"),
    ("stock.csv", "DC-XXX,SKU-1,5,,,,", "location", "unknown location DC-XXX"),
    ("stock.csv", "DC-BER,SKU-9,5,,,,", "sku", "unknown SKU SKU-9"),
    ("stock.csv", "S-VIE,SKU-1,-3,,,,", "on_hand", "must be >= 0"),
    ("stock.csv", "S-VIE,SKU-1,2.5,,,,", "on_hand", "not a whole number"),
    ("stock.csv", "S-VIE,SKU-1,,,,,", "on_hand", "required"),
    ("stock.csv", "DC-BER,SKU-2,5,,,,", "sku", "repeats row 2"),
    ("stock.csv", "S-VIE,SKU-1,5,,10,,", "inbound_eta", "needs inbound_eta or inbound_eta_days"),
    ("stock.csv", "S-VIE,SKU-1,5,,10,next week,", "inbound_eta", "not a date/time"),
    ("carriers.csv", "slow,road,,,linear,,1,,,3,2,1,,,,,,,,,", "transit_min_days", "min_days <= mode_days"),
    ("carriers.csv", "slow,road,,,linear,,1,,,1,2,3,,,funday,,,,,,", "pickup_days", "not a weekday"),
    ("carriers.csv", "slow,boat,,,linear,,1,,,1,2,3,,,,,,,,,", "mode", "must be one of road"),
    ("carriers.csv", "slow,road,,,zone,,,,,1,2,3,,,,,,,,,", "rate_card", "needs rows in carrier_rates"),
    ("carriers.csv", "parcel_de,road,,,linear,,1,,,1,2,3,,,,,,,,,", "name", "repeats row 1"),
    ("carriers.csv", "slow,road,,,linear,,1,,,1,2,3,,,,,,,,,true", "transfer", "only one service can be the"),
    ("carrier_rates.csv", "ups,,100,5,4", "service", "unknown service"),
    ("carrier_rates.csv", "parcel_de,,150,2,abc", "price", "not a number"),
]


@pytest.mark.parametrize(("name", "row", "column", "problem"), BROKEN, ids=[f"{b[0]}:{b[2]}" for b in BROKEN])
def test_a_bad_row_is_reported_skipped_by_default_and_refused_when_strict(
    network_copy: Path, name: str, row: str, column: str, problem: str
) -> None:
    good = import_network(NETWORK)
    folder = append(network_copy, name, row)
    rows = len((folder / name).read_text(encoding="utf-8").splitlines()) - 1
    imported = import_network(folder)
    found = imported.report.problems.filter(pl.col("file") == name)
    assert found.height >= 1, imported.report.lines()
    first = found.row(0, named=True)
    assert (first["row"], first["column"]) == (rows, column), imported.report.lines()
    assert problem in first["problem"]
    count = next(c for c in imported.report.counts if c.file == name)
    assert count.rows == rows and count.skipped >= 1
    assert imported.spec == good.spec or name == "carrier_rates.csv"  # the good rows, as before
    assert imported.stock.equals(good.stock)
    with pytest.raises(ImportRefusedError) as refused:
        import_network(folder, strict=True)
    assert refused.value.report.problems.equals(imported.report.problems)


def test_rows_depending_on_a_skipped_row_are_skipped_and_say_why(network_copy: Path) -> None:
    text = (network_copy / "locations.csv").read_text(encoding="utf-8").replace("S-VIE,store,", "S-VIE,shop,")
    (network_copy / "locations.csv").write_text(text, encoding="utf-8")
    imported = import_network(network_copy)
    assert "S-VIE" not in [loc.id for loc in imported.network().locations]
    stock = imported.report.problems.filter(pl.col("file") == "stock.csv").row(0, named=True)
    assert stock["row"] == 7 and "location S-VIE was skipped" in stock["problem"]
    assert imported.stock.height == 7
    network = imported.network()
    assert int(imported.ledger(network).on_hand.sum()) == 1063 - 6


def test_an_incomplete_rate_grid_skips_the_service_and_its_rates(broken: Callable[[str, str], Path]) -> None:
    text = (NETWORK / "carrier_rates.csv").read_text(encoding="utf-8").splitlines()
    folder = broken(
        "carrier_rates.csv", "\n".join(line for line in text if "express_eu,,3000,20" not in line)
    )
    imported = import_network(folder)
    problem = imported.report.problems.row(0, named=True)
    assert (problem["file"], problem["row"], problem["column"]) == ("carriers.csv", 2, "rate_card")
    assert "lacks prices for <= 3000 km x <= 20 kg" in problem["problem"]
    assert "express_eu" not in [s.name for s in imported.carrier_catalog().services]
    rates = next(c for c in imported.report.counts if c.file == "carrier_rates.csv")
    assert (rates.rows, rates.imported) == (12, 9)  # its three other rows go with it, unreported


def test_a_missing_required_column_fails_the_whole_import(broken: Callable[[str, str], Path]) -> None:
    folder = broken("stock.csv", "location,sku,qty_available\nDC-BER,SKU-1,5")
    with pytest.raises(FileError, match=r"required column.*on_hand"):
        import_network(folder)


def test_aliases_separators_and_parquet_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "locations.csv").write_text(
        "Location ID;Type;Latitude;Longitude;Country Code\nDC1;DC;52,52;13,40;de\n", encoding="utf-8"
    )
    pl.DataFrame({"sku": ["A"], "weight": [0.5]}).write_parquet(tmp_path / "catalogue.parquet")
    pl.DataFrame({"location_id": ["DC1"], "sku": ["A"], "quantity": [7]}).write_parquet(
        tmp_path / "stock.parquet"
    )
    imported = import_network(tmp_path)
    assert imported.report.ok, imported.report.lines()
    network, ledger, carriers = imported.build()
    assert network.location("DC1").lat == 52.52 and network.location("DC1").country == "DE"
    assert ledger.on_hand.tolist() == [[7]] and np.all(ledger.safety == 0)
    assert carriers.service("ground")  # no carriers file: the default preset


def test_the_transfer_service_needs_transfer_mode(network_copy: Path) -> None:
    path = network_copy / "carriers.csv"
    text = path.read_text(encoding="utf-8").replace("line_haul,transfer,", "line_haul,road,")
    path.write_text(text, encoding="utf-8")
    imported = import_network(network_copy)
    problem = imported.report.problems.row(0, named=True)
    assert (problem["row"], problem["column"], problem["problem"]) == (
        4,
        "transfer",
        "the transfer service needs mode transfer",
    )
    assert "line_haul" not in [s.name for s in imported.carrier_catalog().services]
    two = text.replace("line_haul,road,", "line_haul,transfer,").replace(",true\n", ",\n")
    path.write_text(two + "xfer,transfer,,,linear,,1,,,1,2,3,,,,,,,,,\n", encoding="utf-8")
    problems = import_network(network_copy).report.problems
    assert problems.get_column("row").to_list() == [4, 5]
    assert set(problems.get_column("problem")) == {
        "several services have mode transfer: set transfer=true on one"
    }
