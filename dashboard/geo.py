"""Where goods flow: locations of the world, customer places, and shipments aggregated into flows from
shipping locations to customer areas (customers are recomputed from the deterministic demand stream)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:  # loaded by the caller only when the map is drawn
    from sim.demand import DemandStream
    from sim.world import World


def locations(world: World) -> pl.DataFrame:
    """One row per location of the world's network: id, name, kind, market, lat, lon."""
    locs = world.network.locations
    return pl.DataFrame({
        "location": [loc.id for loc in locs], "name": [loc.name or loc.id for loc in locs],
        "kind": [str(loc.kind) for loc in locs], "market": [loc.market for loc in locs],
        "lat": [loc.lat for loc in locs], "lon": [loc.lon for loc in locs],
    })


def customer_places(world: World) -> pl.DataFrame:
    """The places customers are drawn from, with their population weight (a backdrop for the map)."""
    frames = [
        pl.DataFrame({"place": p.names, "lat": p.lats, "lon": p.lons,
                      "weight": p.weights * world.market_share[i]})
        for i, p in enumerate(world.customers[m] for m in world.market_names)
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema={"place": pl.Utf8, "lat": pl.Float64,
                                                                 "lon": pl.Float64, "weight": pl.Float64})


def destinations(world: World, demand: DemandStream) -> pl.DataFrame:
    """Where each order of the stream goes: the pickup store for click-and-collect, else the customer."""
    pickup = demand.pickup
    has_store = pickup >= 0
    idx = np.where(has_store, pickup, 0)
    lat = np.where(has_store, world.network.lats[idx], demand.lat)
    lon = np.where(has_store, world.network.lons[idx], demand.lon)
    order_no = np.arange(len(demand), dtype=np.int64)
    return pl.DataFrame({"order_no": order_no, "dest_lat": lat, "dest_lon": lon})


def flows(shipments: pl.DataFrame, dest: pl.DataFrame, locs: pl.DataFrame, cell_deg: float = 0.5,
          top: int = 300) -> pl.DataFrame:
    """Shipments aggregated by (shipping location, customer area of ``cell_deg`` degrees).

    Returns the ``top`` largest flows by units: location, kind, from (lat, lon), to (units-weighted mean
    destination of the area), units and parcels.
    """
    cell = pl.lit(cell_deg)
    agg = (
        shipments.join(dest, on="order_no", how="inner")
        .with_columns((pl.col("dest_lat") / cell).floor().alias("cy"),
                      (pl.col("dest_lon") / cell).floor().alias("cx"))
        .group_by("location", "cy", "cx")
        .agg(
            ((pl.col("dest_lat") * pl.col("units")).sum() / pl.col("units").sum()).alias("to_lat"),
            ((pl.col("dest_lon") * pl.col("units")).sum() / pl.col("units").sum()).alias("to_lon"),
            pl.col("units").sum().alias("units"), pl.len().alias("parcels"),
        )
    )
    return (
        agg.join(locs.select("location", "kind", from_lat="lat", from_lon="lon"), on="location")
        .sort("units", "location", "cy", "cx", descending=[True, False, False, False]).head(top)
        .select("location", "kind", "from_lat", "from_lon", "to_lat", "to_lon", "units", "parcels")
    )


def volumes(shipped: pl.DataFrame, locs: pl.DataFrame, strategy: str) -> pl.DataFrame:
    """Every location with the units and parcels one strategy shipped from it (0 where nothing)."""
    mine = shipped.filter(pl.col("strategy") == strategy).select("location", "units", "parcels")
    total = float(mine["units"].sum()) or 1.0
    return (
        locs.join(mine, on="location", how="left").fill_null(0.0)
        .with_columns((pl.col("units") / total).alias("share"))
    )


def kind_shares(shipped: pl.DataFrame) -> pl.DataFrame:
    """Share of units shipped per location kind, per strategy."""
    return (
        shipped.group_by("strategy", "location_kind").agg(pl.col("units").sum())
        .with_columns((pl.col("units") / pl.col("units").sum().over("strategy")).alias("share"))
        .sort("strategy", "location_kind")
    )
