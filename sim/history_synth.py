"""A generated demand stream written out as an order history in the normalised frame (one row per order
line): for tests, benchmarks and sample data. Replaying it places exactly the generated orders."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from sim.demand import DemandStream
from sim.history import SCHEMA
from sim.world import World


def history_frame(
    world: World, demand: DemandStream, start: dt.date, *, prefix: str = "H", timezone: str = "UTC"
) -> pl.DataFrame:
    """The orders of ``demand`` as history rows: times from ``start`` 00:00 local time (``timezone``),
    customers' coordinates, pickup stores, SKUs and quantities; no returns recorded."""
    n = len(demand)
    n_lines = np.diff(demand.line_start)
    order = np.repeat(np.arange(n), n_lines)
    line_no = np.arange(int(demand.line_start[-1])) - np.repeat(demand.line_start[:-1], n_lines) + 1
    loc_ids = [loc.id for loc in world.network.locations]
    us = np.round(demand.t * 3.6e9).astype(np.int64)
    local = pl.Series(us, dtype=pl.Int64).cast(pl.Duration("us")) + pl.lit(
        dt.datetime.combine(start, dt.time())
    )
    created = pl.select(local.dt.replace_time_zone(timezone).dt.convert_time_zone("UTC")).to_series()
    orders = pl.DataFrame(
        {
            "order_id": [f"{prefix}{k:07d}" for k in range(n)],
            "created_at": created,
            "market": [world.market_names[m] for m in demand.market.tolist()],
            "channel": [demand.channels[c] for c in demand.channel.tolist()],
            "lat": demand.lat,
            "lon": demand.lon,
            "fulfilment": [f.value for f in demand.fulfilment],
            "pickup_location": [loc_ids[p] if p >= 0 else None for p in demand.pickup.tolist()],
        }
    )
    lines = pl.DataFrame(
        {
            "k": order,
            "line_id": line_no.astype(str),
            "sku": [world.network.skus[s].id for s in demand.line_sku.tolist()],
            "qty": demand.line_qty,
            "return_qty": np.zeros(order.shape[0], dtype=np.int64),
            "return_days": pl.Series([None] * order.shape[0], dtype=pl.Float64),
        }
    )
    frame = orders.with_row_index("k").with_columns(pl.col("k").cast(pl.Int64))
    joined = lines.with_columns(pl.col("k").cast(pl.Int64)).join(
        frame, on="k", how="left", maintain_order="left"
    )
    return joined.select([pl.col(c).cast(t) for c, t in SCHEMA.items()])
