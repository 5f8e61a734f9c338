"""The results of a rollout rehearsal: per stage and segment, KPI differences against the all-current
baseline (paired over replications, 95% CIs); risk signals by location and segment; and the verdicts of
the scenario's criteria. Written as ``stages``, ``segments``, ``risks`` and ``verdicts`` Parquet tables
and a manifest (the dashboard's Rollout view reads them)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sim.rehearsal import BASELINE, SEGMENT_SUMS, RunSummary
from sim.rollout import (
    BIG_BANG,
    PLANS,
    Segment,
    Stage,
    candidate_network,
    segments,
    serving_locations,
    stages,
)
from sim.rollout_spec import LOCATION_SIGNALS, SEGMENT_KPIS, CriterionKpi, CriterionSpec
from sim.runner import mean_ci95
from sim.verdicts import RELATIVE, Judgement, judge, overall
from sim.world import World

SPILLOVER_KPIS = ("cost_per_order", "fill_rate", "on_time_rate")  # reported for segments not yet live
Key = tuple[str, int, int]  # (plan, replication, stage index)


def kpi_value(kpi: str, sums: np.ndarray) -> float:
    """A KPI from segment sums (in SEGMENT_SUMS order), pooled over any set of segments by adding them."""
    s: dict[str, float] = dict(zip(SEGMENT_SUMS, sums.tolist(), strict=True))
    if kpi == "orders":
        return s["orders"]
    if kpi == "late_orders":
        return s["shipped"] - s["on_time"]
    if kpi == "fill_rate":
        return s["allocated"] / s["units"] if s["units"] else math.nan
    per_shipped = {
        "cost_per_order": "cost",
        "on_time_rate": "on_time",
        "delivery_days_mean": "days",
        "co2_kg_per_order": "co2",
        "split_rate": "split",
    }
    return s[per_shipped[kpi]] / s["shipped"] if s["shipped"] else math.nan


@dataclass
class Rehearsal:
    """A rehearsal's result tables."""

    stages: pl.DataFrame
    segments: pl.DataFrame
    risks: pl.DataFrame
    verdicts: pl.DataFrame
    manifest: dict[str, Any]

    def write(self, out_dir: str | Path) -> Path:
        """Write the four tables as Parquet and the manifest as JSON into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("stages", "segments", "risks", "verdicts"):
            getattr(self, name).write_parquet(out / f"{name}.parquet")
        (out / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")
        return out


class _Runs:
    """The summaries indexed for look-ups: segment sums and location signals per (plan, rep, stage)."""

    def __init__(self, world: World, runs: list[RunSummary]) -> None:
        self.reps = sorted({r.replication for r in runs})
        self.seg: dict[Key, dict[tuple[str, str], np.ndarray]] = {}
        self.loc: dict[Key, dict[str, dict[str, float]]] = {}
        for r in runs:
            for row in r.segments.iter_rows(named=True):
                key = (r.plan, r.replication, row["stage_index"])
                sums = np.array([row[name] for name in SEGMENT_SUMS], dtype=np.float64)
                self.seg.setdefault(key, {})[(row["market"], row["channel"])] = sums
            for row in r.locations.iter_rows(named=True):
                key = (r.plan, r.replication, row["stage_index"])
                self.loc.setdefault(key, {})[row["location"]] = {s: row[s] for s in LOCATION_SIGNALS}
        self.locations = [loc.id for loc in world.network.locations]

    def kpi(self, plan: str, stage: int, segs: list[Segment], kpi: str) -> list[float]:
        """Per replication: the KPI pooled over ``segs``."""
        out = []
        for rep in self.reps:
            by_seg = self.seg.get((plan, rep, stage), {})
            total = sum((by_seg[(s.market, s.channel)] for s in segs), np.zeros(len(SEGMENT_SUMS)))
            out.append(kpi_value(kpi, total))
        return out

    def signal(self, plan: str, stage: int, locations: list[str], signal: str) -> list[float]:
        """Per replication: a location signal over ``locations`` (the most overloaded one's days for
        capacity_overload_days, the sum otherwise)."""
        out = []
        for rep in self.reps:
            by_loc = self.loc.get((plan, rep, stage), {})
            values = [by_loc[loc][signal] if loc in by_loc else 0.0 for loc in locations]
            agg = max if signal == "capacity_overload_days" else sum
            out.append(float(agg(values)) if values else 0.0)
        return out


def _diff_row(base: list[float], mine: list[float]) -> dict[str, Any]:
    diffs = [m - b for b, m in zip(base, mine, strict=True)]
    dmean, dhalf = mean_ci95(diffs)
    return {
        "baseline_mean": mean_ci95(base)[0],
        "plan_mean": mean_ci95(mine)[0],
        "diff_mean": dmean,
        "diff_ci95": dhalf,
        "significant": bool(not math.isnan(dhalf) and abs(dmean) > dhalf),
    }


def build(world: World, runs: list[RunSummary], manifest: dict[str, Any]) -> Rehearsal:
    """The rehearsal's tables from the summaries of every run (each plan, the baseline, every replication)."""
    spec = world.scenario.rollout
    assert spec is not None
    idx = _Runs(world, runs)
    all_segs = segments(world)
    stage_list = stages(world, spec)
    cand_net = candidate_network(world.network, spec.candidate)
    live = {(p, st.index): list(all_segs if p == BIG_BANG else st.live) for p in PLANS for st in stage_list}
    seg_rows, risk_rows, verdict_rows = [], [], []
    for p in PLANS:
        for st in stage_list:
            in_stage = live[(p, st.index)]
            stage_locs = serving_locations(cand_net, in_stage)
            head = {"plan": p, "stage": st.name}
            for s in all_segs:
                for kpi in SEGMENT_KPIS:
                    row = _diff_row(idx.kpi(BASELINE, st.index, [s], kpi), idx.kpi(p, st.index, [s], kpi))
                    seg_rows.append(
                        {
                            **head,
                            "market": s.market,
                            "channel": s.channel,
                            "in_stage": s in in_stage,
                            "kpi": kpi,
                            **row,
                            "replications": len(idx.reps),
                        }
                    )
            risk_rows += _risks(idx, p, st, all_segs, in_stage, stage_locs)
            verdict_rows += _verdicts(idx, spec.criteria, p, st, all_segs, in_stage, stage_locs)
    return Rehearsal(
        _stages_table(stage_list),
        _frame(seg_rows, SEGMENTS),
        _frame(risk_rows, RISKS),
        _frame(verdict_rows, VERDICTS),
        manifest,
    )


def _risks(
    idx: _Runs, p: str, st: Stage, all_segs: list[Segment], in_stage: list[Segment], stage_locs: set[str]
) -> list[dict[str, Any]]:
    rows = []
    head = {"plan": p, "stage": st.name}
    for loc in idx.locations:
        for signal in LOCATION_SIGNALS:
            base, mine = idx.signal(BASELINE, st.index, [loc], signal), idx.signal(p, st.index, [loc], signal)
            if any(base) or any(mine):  # locations where nothing happens are left out
                rows.append(
                    {
                        **head,
                        "signal": signal,
                        "scope": loc,
                        "in_stage": loc in stage_locs,
                        **_risk(base, mine),
                    }
                )
    for s in all_segs:
        live = s in in_stage
        kpis = [("late_orders", "late_orders")] + (
            [] if live else [(f"spillover_{k}", k) for k in SPILLOVER_KPIS]
        )
        for signal, kpi in kpis:
            base, mine = idx.kpi(BASELINE, st.index, [s], kpi), idx.kpi(p, st.index, [s], kpi)
            rows.append({**head, "signal": signal, "scope": s.label, "in_stage": live, **_risk(base, mine)})
    return rows


def _risk(base: list[float], mine: list[float]) -> dict[str, float]:
    row = _diff_row(base, mine)
    return {
        "baseline": row["baseline_mean"],
        "plan_value": row["plan_mean"],
        "diff": row["diff_mean"],
        "diff_ci95": row["diff_ci95"],
    }


def _verdicts(
    idx: _Runs,
    criteria: Mapping[CriterionKpi, CriterionSpec],
    p: str,
    st: Stage,
    all_segs: list[Segment],
    in_stage: list[Segment],
    stage_locs: set[str],
) -> list[dict[str, Any]]:
    judgements: list[Judgement] = []
    for kpi, spec in criteria.items():
        location_signal = kpi in LOCATION_SIGNALS
        scope = spec.scope or ("network" if location_signal else "stage")
        for test, threshold in spec.tests():
            if location_signal:
                locs = idx.locations if scope == "network" else [x for x in idx.locations if x in stage_locs]
                mine, base = idx.signal(p, st.index, locs, kpi), idx.signal(BASELINE, st.index, locs, kpi)
            else:
                segs = all_segs if scope == "network" else in_stage
                mine, base = idx.kpi(p, st.index, segs, kpi), idx.kpi(BASELINE, st.index, segs, kpi)
            values = [m - b for m, b in zip(mine, base, strict=True)] if test in RELATIVE else mine
            judgements.append(judge(kpi, test, threshold, values))
    head = {"plan": p, "stage": st.name}
    rows = [
        {
            **head,
            "criterion": j.criterion,
            "kpi": j.kpi,
            "threshold": j.threshold,
            "diff_mean": j.mean,
            "ci_low": j.low,
            "ci_high": j.high,
            "passed": j.passed,
            "verdict": j.verdict,
        }
        for j in judgements
    ]
    verdict = overall(judgements)
    rows.append(
        {
            **head,
            "criterion": "overall",
            "kpi": "",
            "threshold": math.nan,
            "diff_mean": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "passed": None if verdict == "inconclusive" else verdict == "go",
            "verdict": verdict,
        }
    )
    return rows


def _stages_table(stage_list: list[Stage]) -> pl.DataFrame:
    rows = [
        {
            "stage": st.name,
            "stage_index": st.index,
            "start_day": float(st.start_day),
            "end_day": float(st.end_day),
            "segments": ", ".join(s.label for s in st.live),
            "inventory_models": ", ".join(dict.fromkeys(s.model for s in st.live)),
        }
        for st in stage_list
    ]
    return _frame(rows, STAGES)


def _frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


STAGES = {
    "stage": pl.Utf8,
    "stage_index": pl.Int64,
    "start_day": pl.Float64,
    "end_day": pl.Float64,
    "segments": pl.Utf8,
    "inventory_models": pl.Utf8,
}
SEGMENTS = {
    "plan": pl.Utf8,
    "stage": pl.Utf8,
    "market": pl.Utf8,
    "channel": pl.Utf8,
    "in_stage": pl.Boolean,
    "kpi": pl.Utf8,
    "baseline_mean": pl.Float64,
    "plan_mean": pl.Float64,
    "diff_mean": pl.Float64,
    "diff_ci95": pl.Float64,
    "significant": pl.Boolean,
    "replications": pl.Int64,
}
RISKS = {
    "plan": pl.Utf8,
    "stage": pl.Utf8,
    "signal": pl.Utf8,
    "scope": pl.Utf8,
    "in_stage": pl.Boolean,
    "baseline": pl.Float64,
    "plan_value": pl.Float64,
    "diff": pl.Float64,
    "diff_ci95": pl.Float64,
}
VERDICTS = {
    "plan": pl.Utf8,
    "stage": pl.Utf8,
    "criterion": pl.Utf8,
    "kpi": pl.Utf8,
    "threshold": pl.Float64,
    "diff_mean": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "passed": pl.Boolean,
    "verdict": pl.Utf8,
}
