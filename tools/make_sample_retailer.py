"""Write the sample retailer into ``data/sample_retailer/``: a small European retailer in the documented
file formats (docs/data.md), and a few thousand orders of its history to replay.

Three markets (NL, BE, DE), two DCs (Tilburg, Dortmund), a 3PL (Antwerp) and eight stores; 60 SKUs; the
stock snapshot; six carrier services with their zone rate cards; three weeks of order history from
Monday 2026-11-09 with Belgium's Armistice Day (11 November) and a Black Friday promotion (27-29
November), returns as recorded, and a few rows the replay cannot place (a gift card SKU, marketplace
orders in BE where no inventory model serves that channel, cross-border orders to FR, pickups at a
closed store). Deterministic: running it again writes the same files.

    python tools/make_sample_retailer.py [--out data/sample_retailer]
    dom replay data/sample_retailer/scenario.yaml --network data/sample_retailer \\
        --history data/sample_retailer/history.csv
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
from pathlib import Path

import numpy as np
import polars as pl

from sim.demand import generate_demand
from sim.history_synth import history_frame
from sim.retail_files import scenario_with_network
from sim.world import build_world

ROOT = Path(__file__).resolve().parent.parent
START = dt.date(2026, 11, 9)  # a Monday
ZONE = "Europe/Amsterdam"
SEED = 20261109
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The locations: pick capacity Monday to Friday, Saturday, Sunday; stores open per OSM-style hours.
LOCATIONS = """\
id,kind,name,country,lat,lon,weekday,sat,sun,cutoff_hour,opening_hours,per_order,per_line,priority
DC-TIL,dc,DC Tilburg,NL,51.5555,5.0913,600,250,0,17:00,,1.1,0.25,1
DC-DOR,dc,DC Dortmund,DE,51.5136,7.4653,500,200,0,17:00,,1.2,0.25,1
3PL-ANT,3pl,3PL Antwerp,BE,51.2194,4.4025,400,0,0,16:00,,1.6,0.35,2
NL-AMS,store,Amsterdam Kalverstr.,NL,52.3702,4.8920,70,70,0,16:00,Mo-Sa 09:00-20:00;Su 12:00-18:00,2.8,0.6,10
NL-RTM,store,Rotterdam Lijnbaan,NL,51.9205,4.4750,60,60,0,16:00,Mo-Sa 09:00-19:00,2.8,0.6,11
NL-UTR,store,Utrecht Hoog Catharijne,NL,52.0894,5.1107,60,60,0,16:00,Mo-Sa 09:30-19:00,2.8,0.6,12
BE-BRU,store,Brussel Nieuwstraat,BE,50.8515,4.3560,60,60,0,16:00,Mo-Sa 10:00-19:00,3.0,0.6,10
BE-GNT,store,Gent Veldstraat,BE,51.0522,3.7234,50,50,0,16:00,Mo-Sa 10:00-18:30,3.0,0.6,11
DE-KOE,store,Koeln Schildergasse,DE,50.9365,6.9530,70,70,0,16:00,Mo-Sa 10:00-20:00,3.0,0.6,10
DE-DUS,store,Duesseldorf Koenigsallee,DE,51.2237,6.7802,60,60,0,16:00,Mo-Sa 10:00-20:00,3.0,0.6,11
DE-ESS,store,Essen Limbecker Platz,DE,51.4583,7.0043,50,50,0,16:00,Mo-Sa 10:00-20:00,3.0,0.6,12
"""
CATEGORIES = {  # category: (share of SKUs, weight kg median, price median, return rate)
    "apparel": (0.4, 0.5, 39.0, 0.24),
    "footwear": (0.2, 1.2, 79.0, 0.18),
    "home": (0.15, 2.0, 29.0, 0.06),
    "beauty": (0.15, 0.3, 19.0, 0.03),
    "electronics": (0.1, 0.8, 99.0, 0.07),
}
BANDS_KM, BRACKETS_KG = (50, 150, 400, 1000), (2, 5, 10, 31.5)
# The carriers; each zone card's price: base + per_band x band number + per_bracket x bracket number.
CARRIER_COLUMNS = (
    "name,mode,markets,base,per_band,per_bracket,transit_min_days,transit_mode_days,transit_max_days,"
    "transit_extra_days_per_1000_km,pickup_cutoff_hour,pickup_days,max_km,max_kg,linehaul_kg_co2_per_tkm,"
    "last_mile_kg_co2_per_parcel,transfer"
)
CARRIERS = """\
postnl_standard,road,NL;BE,4.95,0.9,1.4,1,1,2,0.5,18:00,mon-sat,400,31.5,0.102,0.19,false
bpost_standard,road,BE,5.40,1.0,1.5,1,1,3,0.5,17:00,mon-fri,300,31.5,0.102,0.20,false
dhl_paket,road,DE;NL;BE,4.60,1.1,1.3,1,2,3,0.5,18:00,mon-sat,,31.5,0.102,0.18,false
dpd_express,road,NL;BE;DE,9.90,1.8,2.6,0.8,1,1.5,0,16:00,mon-fri,,31.5,0.34,0.20,false
city_courier,courier,NL;BE;DE,8.50,3.0,1.0,0.2,0.3,0.5,0,14:00,mon-sun,40,15,0.22,0.07,false
store_transfer,transfer,NL;BE;DE,1.80,0.4,0.0,1,2,3,0.5,20:00,mon-fri,,31.5,0.102,0.02,true
"""
SEGMENTS = """\
    - {market: NL, channel: web, orders_per_day: 42}
    - market: NL
      channel: app
      orders_per_day: 18
      hour_profile: [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 1.2, 1.4, 1.2, 1.0, 1.0,
                     1.2, 1.0, 0.9, 0.9, 1.0, 1.3, 1.6, 2.0, 2.4, 2.2, 1.5, 0.6]
    - market: BE
      channel: web
      orders_per_day: 26
      fulfilment_mix: {home_delivery: 0.75, pickup_in_store: 0.15, ship_to_store: 0.1}
    - {market: DE, channel: web, orders_per_day: 36, weekday_profile: [1.1, 1.0, 1.0, 1.0, 0.95, 0.85, 1.1]}
    - {market: DE, channel: marketplace, orders_per_day: 14, mean_lines: 1.1,
       fulfilment_mix: {home_delivery: 1.0}}
"""
SCENARIO = f"""\
# The sample retailer's rules; its network, stock and carriers come from the files beside this one
# (dom replay ... --network data/sample_retailer). Written by tools/make_sample_retailer.py.
name: sample_retailer
description: NL, BE and DE; 2 DCs, a 3PL and 8 stores; 60 SKUs; three weeks of November 2026
seed: 7
horizon_days: 21
warmup_days: 0
calendar:
  start_date: {START.isoformat()}
  timezone: {ZONE}
  holidays: true
  closures:
    - {{location: NL-UTR, from: 2026-11-16, to: 2026-11-17, reason: refit}}
network:
  inventory_models:
    - {{name: nl-online, market: NL, channels: [web, app],
       locations: [DC-TIL, NL-AMS, NL-RTM, NL-UTR, 3PL-ANT], cutoff: 4, max_shipments: 2,
       filters: [in_stock], return_locations: [DC-TIL, NL-AMS, NL-RTM, NL-UTR]}}
    - {{name: be-online, market: BE, channels: [web, app], locations: [3PL-ANT, BE-BRU, BE-GNT, DC-TIL],
       cutoff: 4, max_shipments: 2, filters: [in_stock], return_locations: [3PL-ANT, BE-BRU, BE-GNT]}}
    - {{name: de-online, market: DE, channels: [web, app], locations: [DC-DOR, DE-KOE, DE-DUS, DE-ESS],
       cutoff: 4, max_shipments: 2, filters: [in_stock], return_locations: [DC-DOR, DE-KOE, DE-DUS, DE-ESS]}}
    - {{name: de-marketplace, market: DE, channels: [marketplace], locations: [DC-DOR], strategy: no_split,
       max_shipments: 1, return_locations: [DC-DOR]}}
demand:
  mean_lines: 1.6
  walk_in_units_per_store_day: 20
  promotions: [{{start_day: 18, days: 3, multiplier: 2.2}}]
  segments:
{SEGMENTS}operations: {{stockout: backorder, backorder_max_days: 3}}
replenishment:
  supplier_lead_time: {{min: 3, mode: 5, max: 8}}
  transfer_lead_time: {{min: 1, mode: 2, max: 3}}
returns:
  rate_by_category: {{{", ".join(f"{c}: {v[3]}" for c, v in CATEGORIES.items())}}}
  delay_days: {{min: 3, mode: 8, max: 25}}
experiment:
  baseline: as-configured
  replications: 3
  workers: 2
  strategies:
    - {{label: as-configured, strategy: as_configured}}
    - cheapest
    - fastest
    - greenest
"""


def _csv(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), infer_schema=False)


def write_network(out: Path, rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray]:
    """Locations, catalogue, stock, carriers and rates; returns the catalogue and the SKUs' popularity."""
    table = _csv(LOCATIONS)
    week = [pl.col("weekday").alias(f"pick_capacity_{d}") for d in WEEKDAYS[:5]]
    week += [pl.col(d).alias(f"pick_capacity_{d}") for d in WEEKDAYS[5:]]
    table.select(
        "id",
        "kind",
        "name",
        "country",
        pl.col("country").alias("market"),
        "lat",
        "lon",
        *week,
        "cutoff_hour",
        "opening_hours",
        pl.col("per_order").alias("handling_cost_per_order"),
        pl.col("per_line").alias("handling_cost_per_line"),
        "priority",
    ).write_csv(out / "locations.csv")
    names = list(CATEGORIES)
    share = np.array([CATEGORIES[c][0] for c in names])
    cats = [names[i] for i in rng.choice(len(names), size=60, p=share / share.sum())]
    catalogue = pl.DataFrame(
        {
            "sku": [f"RS-{k + 1:03d}" for k in range(60)],
            "name": [f"{c.title()} item {k + 1}" for k, c in enumerate(cats)],
            "category": cats,
            "weight_kg": [round(CATEGORIES[c][1] * float(rng.lognormal(0, 0.35)), 2) for c in cats],
            "price": [round(CATEGORIES[c][2] * float(rng.lognormal(0, 0.3)), 2) for c in cats],
            "returnable": [True] * 60,
            "return_rate": [CATEGORIES[c][3] for c in cats],
        }
    )
    catalogue.write_csv(out / "catalogue.csv")
    popularity = 1.0 / np.arange(1, 61) ** 0.9
    popularity /= popularity.sum()
    units_per_day = 136 * 1.6 * 1.2 * popularity  # orders a day x lines x units per line, per SKU
    share_of = {"DC-TIL": 0.5, "DC-DOR": 0.4, "3PL-ANT": 0.25}  # of all demand; a store 6%
    stock = []
    for lid, kind in table.select("id", "kind").iter_rows():
        cover, carried = {"dc": (22, 60), "3pl": (12, 40)}.get(kind, (5, 25))  # days, SKUs (best sellers)
        for k in range(carried):
            units = units_per_day[k] * share_of.get(lid, 0.06) * cover * rng.uniform(0.8, 1.2)
            safety = 2 if kind != "store" else 0
            stock.append(
                {"location": lid, "sku": f"RS-{k + 1:03d}", "on_hand": int(np.ceil(units)), "safety": safety}
            )
    pl.DataFrame(stock).write_csv(out / "stock.csv")
    carriers = _csv(CARRIER_COLUMNS + "\n" + CARRIERS)
    rates = []
    for r in carriers.iter_rows(named=True):
        courier = r["name"] == "city_courier"
        bands = (20, 40) if courier else BANDS_KM
        brackets = (2, 5, 15) if courier else (31.5,) if r["mode"] == "transfer" else BRACKETS_KG
        base, per_band, per_bracket = (float(r[c]) for c in ("base", "per_band", "per_bracket"))
        rates += [
            {
                "service": r["name"],
                "zone": f"Z{b + 1}",
                "max_km": km,
                "max_kg": kg,
                "price": round(base + per_band * b + per_bracket * w, 2),
            }
            for b, km in enumerate(bands)
            for w, kg in enumerate(brackets)
        ]
    carriers = carriers.drop("base", "per_band", "per_bracket").with_columns(
        pl.lit("zone").alias("rate_card"),
        pl.when(pl.col("mode") == "transfer").then(0.0).otherwise(0.08).alias("fuel_surcharge"),
    )
    carriers.write_csv(out / "carriers.csv")
    pl.DataFrame(rates).write_csv(out / "carrier_rates.csv")
    return catalogue, popularity


def write_history(
    out: Path, catalogue: pl.DataFrame, popularity: np.ndarray, rng: np.random.Generator
) -> int:
    """Three weeks of orders (the scenario's segments and promotion) with returns and a few bad rows."""
    scenario, _ = scenario_with_network(out / "scenario.yaml", out)
    world = build_world(scenario)
    world.popularity = popularity  # the SKUs sell along a long tail, not evenly
    frame = history_frame(world, generate_demand(world, 0), START, prefix="RS", timezone=ZONE)
    rate = dict(zip(catalogue["sku"], catalogue["return_rate"], strict=True))
    returned = (
        rng.random(frame.height) < frame["sku"].replace_strict(rate, return_dtype=pl.Float64).to_numpy()
    )
    days = np.round(rng.triangular(4, 9, 25, frame.height), 1)
    frame = frame.with_columns(
        pl.Series("return_qty", np.where(returned, frame["qty"].to_numpy(), 0)),
        pl.Series("return_days", np.where(returned, days, np.nan)).fill_nan(None),
    )
    frame = pl.concat([frame, _bad_rows(frame, rng)]).sort("created_at", "order_id", maintain_order=True)
    local = pl.col("created_at").dt.convert_time_zone(ZONE).dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    frame.with_columns(local, pl.col("lat").round(4), pl.col("lon").round(4)).write_csv(out / "history.csv")
    return frame["order_id"].n_unique()


def _bad_rows(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Rows as real exports have them and the replay reports: a gift card line on a dozen orders,
    marketplace orders in BE (no inventory model serves that), orders to France, pickups at a store
    that closed before the snapshot."""
    some = frame.filter(pl.col("line_id") == "1").sample(40, seed=int(rng.integers(1 << 31)))
    gift = some.head(12).with_columns(
        pl.lit("GIFT-25").alias("sku"),
        pl.lit("9").alias("line_id"),
        pl.lit(1, pl.Int64).alias("qty"),
        pl.lit(0, pl.Int64).alias("return_qty"),
        pl.lit(None, pl.Float64).alias("return_days"),
    )
    be = some.slice(12, 8).with_columns(
        pl.lit("BE").alias("market"),
        pl.lit("marketplace").alias("channel"),
        (pl.col("order_id") + "-BE").alias("order_id"),
    )
    fr = some.slice(20, 5).with_columns(
        pl.lit("FR").alias("market"),
        pl.lit(48.8566).alias("lat"),
        pl.lit(2.3522).alias("lon"),
        (pl.col("order_id") + "-FR").alias("order_id"),
    )
    closed = some.slice(25, 3).with_columns(
        pl.lit("pickup_in_store").alias("fulfilment"),
        pl.lit("NL-HLM").alias("pickup_location"),
        (pl.col("order_id") + "-HLM").alias("order_id"),
    )
    return pl.concat([gift, be, fr, closed])


def main() -> None:
    """Write the files."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample_retailer")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    (args.out / "scenario.yaml").write_text(SCENARIO, encoding="utf-8")
    catalogue, popularity = write_network(args.out, rng)
    orders = write_history(args.out, catalogue, popularity, rng)
    sizes = ", ".join(f"{p.name} {p.stat().st_size // 1024} KiB" for p in sorted(args.out.iterdir()))
    print(f"wrote {args.out}: {orders} orders; {sizes}")


if __name__ == "__main__":
    main()
