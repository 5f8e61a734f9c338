"""A sweep's results: per point and KPI the mean with its 95% CI and the paired difference against the
baseline point, the Pareto front on cost, delivery time and kg CO2e, and a sensitivity summary (which knob
moves which KPI most), written as Parquet with a manifest.

Sensitivity is measured over the design's points (not the baseline) on the points' KPI means: standardized
regression coefficients (SRC: the KPI's change in standard deviations per standard deviation of the knob,
the other knobs held fixed; their squares add up to about R² when the knobs are uncorrelated, as in a
grid, Sobol or Latin hypercube design) and Spearman rank correlations (monotone effects, any shape).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sim.metrics import KPI_DIRECTION, KPI_NAMES
from sim.sweep_design import BASELINE_ID, Point
from sim.sweep_space import INTEGER_KNOBS

OBJECTIVES = ("cost_per_order", "delivery_days_mean", "co2_kg_per_order")  # all minimised
HEADLINE = (*OBJECTIVES, "on_time_rate", "fill_rate", "split_rate", "lost_sales_rate")
TABLES = ("points", "pareto", "sensitivity", "runs")


@dataclass(frozen=True)
class SweepReport:
    """The tables of a sweep and its manifest."""

    points: pl.DataFrame  # point_id, knobs, kpi, mean, ci95, replications, diff_vs_baseline, diff_ci95, ...
    pareto: pl.DataFrame  # per point: knobs, objective means and CIs, pareto, dominated_by
    sensitivity: pl.DataFrame  # kpi, knob, src, spearman, r2, rank
    runs: pl.DataFrame  # point_id, replication, seconds, orders and every KPI: one row per run
    manifest: dict[str, Any]

    def write(self, folder: Path) -> Path:
        """Write the four tables as Parquet and ``manifest.json`` (last: a folder with it is complete)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            getattr(self, name).write_parquet(folder / f"{name}.parquet")
        text = json.dumps(self.manifest, indent=2, default=str) + "\n"
        (folder / "manifest.json").write_text(text, encoding="utf-8")
        return folder


def knob_frame(points: list[Point], knobs: list[str]) -> pl.DataFrame:
    """point_id and one column per knob (whole-number knobs as integers; null: as configured)."""
    schema: dict[str, pl.DataType] = {"point_id": pl.Int64()}
    schema |= {k: pl.Int64() if k in INTEGER_KNOBS else pl.Float64() for k in knobs}
    rows = [{"point_id": p.point_id, **{k: p.values.get(k) for k in knobs}} for p in points]
    return pl.DataFrame(rows, schema=schema)


def point_stats(runs: pl.DataFrame) -> pl.DataFrame:
    """Per point and KPI: mean, 95% CI, replications, and the paired difference vs the baseline point."""
    from sim.runner import compare

    table = runs.with_columns(pl.col("point_id").cast(pl.String).alias("strategy"))
    for kpi in KPI_NAMES:  # compare() reads every KPI: absent ones (never measured) as NaN
        if kpi not in table.columns:
            table = table.with_columns(pl.lit(math.nan).alias(kpi))
    ids = [str(i) for i in runs["point_id"].unique(maintain_order=True)]
    stats = compare(table, str(BASELINE_ID), ids).drop("baseline")
    counts = runs.group_by("point_id").agg(pl.len().cast(pl.Int64).alias("replications"))
    stats = stats.with_columns(pl.col("strategy").cast(pl.Int64).alias("point_id")).drop("strategy")
    return stats.join(counts, on="point_id").select(
        "point_id", "kpi", "mean", "ci95", "replications", "diff_vs_baseline", "diff_ci95", "significant"
    )


def dominance(costs: np.ndarray) -> np.ndarray:
    """For each row of ``costs`` (objectives to minimise; NaN the worst), how many rows dominate it."""
    c = np.where(np.isnan(costs), np.inf, costs)
    count = np.zeros(len(c), dtype=np.int64)
    for i, mine in enumerate(c):
        count[i] = int(((c <= mine).all(axis=1) & (c < mine).any(axis=1)).sum())
    return count


def pareto_table(
    stats: pl.DataFrame, knobs: pl.DataFrame, objectives: tuple[str, ...] = OBJECTIVES
) -> pl.DataFrame:
    """Every point's objective means and CIs, whether it is on the Pareto front (no point is at least as
    good on every objective and better on one) and by how many points it is dominated."""
    wide = _wide(stats, "mean", objectives).join(
        _wide(stats, "ci95", objectives).rename({k: f"{k}_ci95" for k in objectives}), on="point_id"
    )
    frame = knobs.join(wide, on="point_id", how="inner")
    costs = np.column_stack([frame[k].to_numpy() * -(KPI_DIRECTION.get(k) or -1) for k in objectives])
    beaten = dominance(costs.astype(np.float64))
    return frame.with_columns(pl.Series("pareto", beaten == 0), pl.Series("dominated_by", beaten))


def _wide(stats: pl.DataFrame, value: str, kpis: tuple[str, ...]) -> pl.DataFrame:
    """point_id and one column per KPI holding ``value``."""
    frame = stats.filter(pl.col("kpi").is_in(kpis)).pivot("kpi", index="point_id", values=value)
    missing = [k for k in kpis if k not in frame.columns]
    return frame.with_columns(*(pl.lit(math.nan).alias(k) for k in missing)).select("point_id", *kpis)


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    ranked: np.ndarray = rankdata(x)
    return ranked


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else math.nan


def sensitivity(stats: pl.DataFrame, knobs: pl.DataFrame) -> pl.DataFrame:
    """Per KPI and knob over the design's points: SRC, Spearman rank correlation, the regression's R² and
    the knob's rank for that KPI (1: moves it most, by |SRC|, or |Spearman| when there are too few points
    for the regression). Knobs that do not vary over the points and KPIs that do not move are left out."""
    design = knobs.filter(pl.col("point_id") != BASELINE_ID)
    names = [k for k in knobs.columns if k != "point_id" and design[k].drop_nulls().n_unique() > 1]
    kpis = [k for k in KPI_NAMES if k in set(stats["kpi"])]
    means = _wide(stats, "mean", tuple(kpis))
    frame = design.join(means, on="point_id", how="inner").drop_nulls(names)
    rows: list[dict[str, Any]] = []
    if not names or frame.height < 3:
        return pl.DataFrame(rows, schema=SENSITIVITY_SCHEMA)
    X = frame.select(names).to_numpy().astype(np.float64)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    x_ranks = [_ranks(X[:, j]) for j in range(len(names))]
    for kpi in kpis:
        y = frame[kpi].to_numpy().astype(np.float64)
        if np.isnan(y).any() or y.std() == 0:
            continue
        ys = (y - y.mean()) / y.std()
        if frame.height > len(names) + 1:
            src, *_ = np.linalg.lstsq(Xs, ys, rcond=None)
            r2 = 1.0 - float(((ys - Xs @ src) ** 2).sum()) / float((ys * ys).sum())
        else:
            src, r2 = np.full(len(names), math.nan), math.nan
        y_ranks = _ranks(y)
        rho = [_corr(x_ranks[j], y_ranks) for j in range(len(names))]
        strength = [abs(s) if not math.isnan(s) else abs(r) for s, r in zip(src.tolist(), rho, strict=True)]
        order = sorted(range(len(names)), key=lambda j: -np.nan_to_num(strength[j], nan=-1.0))
        rank = {j: i + 1 for i, j in enumerate(order)}
        rows += [{"kpi": kpi, "knob": names[j], "src": float(src[j]), "spearman": rho[j], "r2": r2,
                  "rank": rank[j]} for j in range(len(names))]
    return pl.DataFrame(rows, schema=SENSITIVITY_SCHEMA)


SENSITIVITY_SCHEMA: dict[str, pl.DataType] = {
    "kpi": pl.String(), "knob": pl.String(), "src": pl.Float64(), "spearman": pl.Float64(),
    "r2": pl.Float64(), "rank": pl.Int64(),
}


def build(points: list[Point], knobs: list[str], runs: pl.DataFrame, manifest: dict[str, Any]) -> SweepReport:
    """The report of a sweep from its points and every run's KPI row."""
    kf = knob_frame(points, knobs)
    runs = runs.filter(pl.col("point_id").is_in([p.point_id for p in points])).sort("point_id", "replication")
    stats = point_stats(runs)
    long = kf.join(stats, on="point_id", how="inner").sort("point_id", maintain_order=True)
    return SweepReport(long, pareto_table(stats, kf), sensitivity(stats, kf), runs, manifest)
