"""Pareto fronts: strategies no other strategy beats on every objective at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from dashboard.kpis import BY_NAME, OBJECTIVES, KpiView, wide


def _cost(x: float, direction: int) -> float:
    """Objective as a cost to minimise; a missing value is the worst possible."""
    return math.inf if x is None or math.isnan(x) else -direction * x


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` on every (minimised) objective and strictly better on one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def pareto_mask(points: Sequence[Sequence[float]], directions: Sequence[int]) -> list[bool]:
    """True for the non-dominated points; ``directions`` +1 = higher is better, -1 = lower is better."""
    costs = [[_cost(x, d) for x, d in zip(p, directions, strict=True)] for p in points]
    return [not any(dominates(other, mine) for other in costs) for mine in costs]


@dataclass(frozen=True)
class Front:
    """Objective means per strategy, which ones are Pareto-optimal, and who dominates the rest."""

    # strategy, means and CIs (<kpi>_ci95) of OBJECTIVES and the objectives, pareto, dominated_by
    frame: pl.DataFrame
    objectives: tuple[str, ...]

    @property
    def optimal(self) -> list[str]:
        """The non-dominated strategies."""
        return self.frame.filter(pl.col("pareto"))["strategy"].to_list()


def front(comparison: pl.DataFrame, objectives: Sequence[str] = OBJECTIVES) -> Front:
    """The Pareto front of the experiment's strategies on the given KPI means."""
    objectives = tuple(objectives)
    shown = tuple(dict.fromkeys((*OBJECTIVES, *objectives)))  # the trade-off chart needs cost, days, CO2e
    means = wide(comparison, shown)
    cis = wide(comparison, shown, "ci95").rename({k: f"{k}_ci95" for k in shown})
    views: list[KpiView] = [BY_NAME[k] for k in objectives]
    points = [[row[k] for k in objectives] for row in means.iter_rows(named=True)]
    dirs = [v.direction or -1 for v in views]
    mask = pareto_mask(points, dirs)
    costs = [[_cost(x, d) for x, d in zip(p, dirs, strict=True)] for p in points]
    names = means["strategy"].to_list()
    dominated_by = [", ".join(n for n, other in zip(names, costs, strict=True) if dominates(other, mine))
                    for mine in costs]
    frame = means.join(cis, on="strategy", maintain_order="left").with_columns(
        pl.Series("pareto", mask), pl.Series("dominated_by", dominated_by)
    )
    return Front(frame, objectives)


def front_table(fr: Front, views: dict[str, KpiView] = BY_NAME) -> pl.DataFrame:
    """The front for reading: formatted objective means, best trade-off (Pareto-optimal) or beaten by whom."""
    rows = []
    for r in fr.frame.iter_rows(named=True):
        row = {"Strategy": r["strategy"]}
        for k in fr.objectives:
            row[views[k].title] = views[k].value(r[k])
        row["Best trade-off"] = "yes" if r["pareto"] else "no"
        row["Beaten on every objective by"] = r["dominated_by"] or "-"
        rows.append(row)
    return pl.DataFrame(rows)
