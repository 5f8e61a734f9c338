"""Shadow mode results: the summary per market and channel, and the Parquet export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from service import shadow
from service.routes.common import READ, Svc
from service.writes import ApiError

router = APIRouter(prefix="/shadow", tags=["shadow"])


@router.get("/summary", dependencies=READ)
def summary(
    svc: Svc,
    by: Annotated[
        str, Query(description="comma-separated: market, channel (empty: one overall row)")
    ] = "market,channel",
    candidate_version: int | None = None,
) -> dict[str, Any]:
    """Agreement rate and mean cost, promise and kg CO2e differences (candidate - live) per segment."""
    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    unknown = [k for k in keys if k not in shadow.SEGMENTS]
    if unknown:
        raise ApiError(422, "by", f"unknown segment {unknown}; use {list(shadow.SEGMENTS)}", where="query")
    with svc.read() as conn:
        df = shadow.frame(conn, candidate_version)
    return {"orders": df.height, "overall": shadow.summary(df, ()), "segments": shadow.summary(df, keys)}


@router.get("/export", dependencies=READ)
def export(svc: Svc, candidate_version: int | None = None) -> Response:
    """Every per-order comparison as Parquet (the dashboard's Shadow view reads it)."""
    with svc.read() as conn:
        df = shadow.frame(conn, candidate_version)
    return Response(shadow.parquet_bytes(df), media_type="application/vnd.apache.parquet")
