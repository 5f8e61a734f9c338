"""Shadow mode: a candidate rule set decides every live order beside the live one, touching no stock.

Per order the agreement and the cost, promise and kg CO2e differences are stored; summaries group them
per market and channel, and the export is the Parquet file the dashboard's Shadow view reads.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from dom_core.decision import Decision
from dom_core.model import Order
from service.clock import utc
from service.db.tables import shadow
from service.rules import RuleSet

SEGMENTS = ("market", "channel")


def _plan(decision: Decision) -> list[tuple[str, str, tuple[tuple[str, int], ...]]]:
    return sorted(
        (s.location, s.service, tuple(sorted((ln.sku, ln.qty) for ln in s.lines))) for s in decision.shipments
    )


def agree(live: Decision, candidate: Decision) -> bool:
    """Whether both chose the same locations, units and carrier services (and the same transfers)."""
    return _plan(live) == _plan(candidate) and sorted(live.transfers) == sorted(candidate.transfers)


def _promise(decision: Decision, order: Order) -> float | None:
    promised = decision.promised_at
    return None if promised is None else promised - order.created_at


def shadow_row(
    conn: Connection,
    order: Order,
    placed: datetime,
    live_set: RuleSet,
    live: Decision,
    cand_set: RuleSet,
    cand: Decision,
) -> None:
    """Store the comparison of the live and the candidate decision of one order."""
    conn.execute(
        shadow.insert().values(
            order_id=order.id,
            placed_at=placed,
            market=order.market,
            channel=order.channel,
            live_version=live_set.version,
            candidate_version=cand_set.version,
            live_strategy=live.strategy,
            candidate_strategy=cand.strategy,
            agree=agree(live, cand),
            live_cost=live.cost,
            candidate_cost=cand.cost,
            live_promise_hours=_promise(live, order),
            candidate_promise_hours=_promise(cand, order),
            live_co2_kg=live.co2_kg,
            candidate_co2_kg=cand.co2_kg,
            live_units=live.units_allocated,
            candidate_units=cand.units_allocated,
            live_locations=",".join(sorted({s.location for s in live.shipments})),
            candidate_locations=",".join(sorted({s.location for s in cand.shipments})),
        )
    )


def frame(conn: Connection, candidate_version: int | None = None) -> pl.DataFrame:
    """Every stored comparison (of one candidate version, if given) with the differences computed."""
    query = select(shadow).order_by(shadow.c.placed_at, shadow.c.order_id)
    if candidate_version is not None:
        query = query.where(shadow.c.candidate_version == candidate_version)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    for r in rows:
        r["placed_at"] = utc(r["placed_at"])
    schema: dict[str, Any] = {c.name: _dtype(c.type.python_type) for c in shadow.columns}
    schema["placed_at"] = pl.Datetime("us", "UTC")
    df = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return df.with_columns(
        cost_diff=pl.col("candidate_cost") - pl.col("live_cost"),
        promise_diff_hours=pl.col("candidate_promise_hours") - pl.col("live_promise_hours"),
        co2_diff_kg=pl.col("candidate_co2_kg") - pl.col("live_co2_kg"),
    )


def _dtype(kind: type) -> Any:
    return {int: pl.Int64, float: pl.Float64, bool: pl.Boolean, str: pl.String}.get(kind, pl.String)


def summary(df: pl.DataFrame, by: tuple[str, ...] = SEGMENTS) -> list[dict[str, Any]]:
    """Per segment: orders compared, agreement rate and mean differences (candidate - live)."""
    if df.is_empty():
        return []
    grouped = df.group_by(list(by)) if by else df.group_by(pl.lit("all").alias("scope"))
    out = grouped.agg(
        orders=pl.len(),
        agreement_rate=pl.col("agree").mean(),
        cost_diff_mean=pl.col("cost_diff").mean(),
        promise_diff_hours_mean=pl.col("promise_diff_hours").mean(),
        co2_diff_kg_mean=pl.col("co2_diff_kg").mean(),
        units_diff=(pl.col("candidate_units") - pl.col("live_units")).sum(),
    )
    return out.sort(list(by) if by else "scope").to_dicts()


def parquet_bytes(df: pl.DataFrame) -> bytes:
    """The comparisons as a Parquet file."""
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()
