"""Places to coordinates offline: known cities and postcodes land within a few km; unknown places are
bad rows."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from dom_core.geo import haversine_km
from retail import geocode
from retail.network import import_network
from tests.retail.conftest import append

KNOWN = [  # country, postcode, city, true lat, lon, km allowed
    ("DE", None, "Berlin", 52.520, 13.405, 3),
    ("DE", None, "Muenchen", 48.137, 11.575, 3),  # transliterated
    ("DE", None, "Köln", 50.938, 6.960, 3),
    ("FR", None, "Saint-Étienne", 45.434, 4.390, 3),
    ("US", None, "New York", 40.713, -74.006, 3),  # the city, not a borough sharing the name
    ("BR", None, "sao paulo", -23.550, -46.633, 3),
    ("DE", "10115", None, 52.532, 13.385, 5),  # via its locality, Berlin
    ("NL", "1011 AB", None, 52.374, 4.890, 5),  # via its 4-digit prefix, Amsterdam
    ("US", "10001-1234", None, 40.750, -73.997, 3),  # ZIP+4: its ZIP's own centroid
    ("PL", "00-001", None, 52.235, 21.010, 3),
    ("CA", "K1A 0B1", None, 45.42, -75.70, 10),  # its FSA
    ("GB", "SW1A 1AA", None, 51.50, -0.14, 10),  # its postcode area (SW)
]


@pytest.mark.parametrize(("country", "postcode", "city", "lat", "lon", "km"), KNOWN)
def test_a_known_place_lands_within_a_few_km(
    country: str, postcode: str | None, city: str | None, lat: float, lon: float, km: float
) -> None:
    frame = pl.DataFrame(
        {"country": [country], "postcode": [postcode], "city": [city]},
        schema=dict.fromkeys(("country", "postcode", "city"), pl.String),
    )
    found = geocode.locate(frame).row(0, named=True)
    assert found["geo_from"] == ("postcode" if postcode else "city")
    assert haversine_km(found["geo_lat"], found["geo_lon"], lat, lon) < km


def test_unknown_places_are_not_placed() -> None:
    frame = pl.DataFrame(
        {
            "country": ["DE", "DE", "XX"],
            "postcode": ["00000", None, "12345"],
            "city": [None, "Atlantis", None],
        }
    )
    assert geocode.locate(frame).get_column("geo_from").to_list() == [None, None, None]


def test_a_postcode_that_fails_falls_back_to_the_city() -> None:
    frame = pl.DataFrame({"country": ["DE"], "postcode": ["00000"], "city": ["Hamburg"]})
    found = geocode.locate(frame).row(0, named=True)
    assert found["geo_from"] == "city" and abs(found["geo_lat"] - 53.55) < 0.05


def test_an_unknown_place_is_a_bad_row_of_the_locations_file(network_copy: Path) -> None:
    append(network_copy, "locations.csv", "S-X,store,,,,99999,Nowhere-on-Sea,DE,DE,,,,,,,,,")
    imported = import_network(network_copy)
    problem = imported.report.problems.row(0, named=True)
    assert (problem["file"], problem["row"], problem["column"]) == ("locations.csv", 7, "postcode")
    assert "cannot place postcode 99999 / city Nowhere-on-Sea in country DE" in problem["problem"]
    assert "S-X" not in [loc.id for loc in imported.network().locations]
