"""KPIs of a run computed from its flat tables (only orders created after the warm-up count)."""

from __future__ import annotations

import polars as pl

from dom_core.model import HOURS_PER_DAY

KPI_NAMES = (
    "orders",
    "cost_total",
    "cost_over_bound",  # (cost_total + lost-sale penalty x lost units) / lower bound; NaN unless requested
    "cost_per_order",
    "shipping_per_order",
    "handling_per_order",
    "transfer_per_order",
    "delivery_days_mean",
    "delivery_days_p50",
    "delivery_days_p90",
    "delivery_days_p95",
    "on_time_rate",
    "co2_kg_per_order",
    "split_rate",
    "fill_rate",
    "lost_units",
    "lost_sales_rate",
    "stockout_days",
    "utilisation_mean",
    "utilisation_max",
    "returns_restocked",
)
# direction: +1 means higher is better, -1 lower is better (for dashboards and Pareto fronts)
KPI_DIRECTION = {
    "cost_total": -1,
    "cost_over_bound": -1,
    "cost_per_order": -1,
    "shipping_per_order": -1,
    "handling_per_order": -1,
    "transfer_per_order": -1,
    "delivery_days_mean": -1,
    "delivery_days_p50": -1,
    "delivery_days_p90": -1,
    "delivery_days_p95": -1,
    "on_time_rate": 1,
    "co2_kg_per_order": -1,
    "split_rate": -1,
    "fill_rate": 1,
    "lost_units": -1,
    "lost_sales_rate": -1,
    "stockout_days": -1,
    "utilisation_mean": 0,
    "utilisation_max": 0,
    "returns_restocked": 1,
    "orders": 0,
}


def kpis(
    orders: pl.DataFrame,
    shipments: pl.DataFrame,
    daily: pl.DataFrame,
    returns: pl.DataFrame,
    warmup_days: float,
    horizon_days: float,
) -> dict[str, float]:
    """The KPI row of one run."""
    start, end = warmup_days * HOURS_PER_DAY, horizon_days * HOURS_PER_DAY
    o = orders.filter((pl.col("created_at") >= start) & (pl.col("created_at") < end))
    first = o.filter(pl.col("attempt") == 0)
    n_orders = first.height
    per_order = (
        shipments.filter(pl.col("order_ref").is_in(o["order_ref"].implode()))
        .group_by("order_no", maintain_order=True)
        .agg(
            pl.col("delivered_at").max().alias("delivered_at"),
            (pl.col("delivered_at") <= pl.col("promised_at") + 1e-9).all().alias("on_time"),
            pl.len().alias("parcels"),
        )
        .join(first.select("order_no", "created_at"), on="order_no")
        .with_columns(((pl.col("delivered_at") - pl.col("created_at")) / HOURS_PER_DAY).alias("days"))
    )
    n_shipped = max(1, per_order.height)
    units = float(first["units"].sum())
    lost = float(o["units_lost"].sum())
    allocated = float(o["units_allocated"].sum())
    days = per_order["days"]
    d = daily.filter((pl.col("day") >= int(warmup_days)) & (pl.col("day") < int(horizon_days)))
    util = d.group_by("location", maintain_order=True).agg(
        (pl.col("picked_units").sum() / pl.col("capacity_units").sum()).alias("u")
    )
    r = returns.filter(pl.col("returned_at") >= start) if returns.height else returns

    def q(p: float) -> float:
        v = days.quantile(p, "linear") if days.len() else None
        return float(v) if v is not None else float("nan")

    cost_total = (
        float(o["shipping_cost"].sum()) + float(o["handling_cost"].sum()) + float(o["transfer_cost"].sum())
    )
    return {
        "orders": float(n_orders),
        "cost_total": cost_total,
        "cost_over_bound": float("nan"),  # set by the experiment runner when a bound is requested
        "cost_per_order": cost_total / n_shipped,
        "shipping_per_order": float(o["shipping_cost"].sum()) / n_shipped,
        "handling_per_order": float(o["handling_cost"].sum()) / n_shipped,
        "transfer_per_order": float(o["transfer_cost"].sum()) / n_shipped,
        "delivery_days_mean": float(days.mean()) if days.len() else float("nan"),  # type: ignore[arg-type]
        "delivery_days_p50": q(0.5),
        "delivery_days_p90": q(0.9),
        "delivery_days_p95": q(0.95),
        "on_time_rate": float(per_order["on_time"].mean()) if per_order.height else float("nan"),  # type: ignore[arg-type]
        "co2_kg_per_order": float(o["co2_kg"].sum()) / n_shipped,
        "split_rate": float((per_order["parcels"] > 1).mean()) if per_order.height else 0.0,  # type: ignore[arg-type]
        "fill_rate": allocated / units if units else float("nan"),
        "lost_units": lost,
        "lost_sales_rate": lost / units if units else float("nan"),
        "stockout_days": float(d["stockout_skus"].sum()),
        "utilisation_mean": float(util["u"].mean()) if util.height else 0.0,  # type: ignore[arg-type]
        "utilisation_max": float(util["u"].max()) if util.height else 0.0,  # type: ignore[arg-type]
        "returns_restocked": float(r["restocked"].sum()) if r.height else 0.0,
    }
