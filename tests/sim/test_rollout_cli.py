"""``dom rehearse`` on a tiny two-market scenario: the verdict table, and the four result tables with the
columns the dashboard's Rollout view reads."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from sim.cli import app
from tests.sim.conftest import DATA, TINY

ROLLOUT = DATA / "rollout_tiny.yaml"
CONTRACT = {
    "stages": {
        "stage": pl.Utf8,
        "stage_index": pl.Int64,
        "start_day": pl.Float64,
        "end_day": pl.Float64,
        "segments": pl.Utf8,
        "inventory_models": pl.Utf8,
    },
    "segments": {
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
    },
    "risks": {
        "plan": pl.Utf8,
        "stage": pl.Utf8,
        "signal": pl.Utf8,
        "scope": pl.Utf8,
        "in_stage": pl.Boolean,
        "baseline": pl.Float64,
        "plan_value": pl.Float64,
        "diff": pl.Float64,
        "diff_ci95": pl.Float64,
    },
    "verdicts": {
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
    },
}


def test_rehearse_prints_verdicts_and_writes_the_four_tables(tmp_path: Path) -> None:
    out = tmp_path / "rehearsal"
    args = ["rehearse", str(ROLLOUT), "--replications", "2", "--workers", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "verdicts per stage" in text and "fr-web" in text and "all-web" in text
    assert "6 runs" in text and f"results in {out}" in text
    assert "rollout_tiny: baseline replication 1 done" in result.stderr  # plain progress off a terminal
    plan, *done = result.stderr.splitlines()
    assert plan.startswith(
        "rehearsing rollout_tiny: 3 plans (big_bang, staged, baseline) x 2 replications = 6 runs on 1 worker;"
    )
    assert len(done) == 6 and "(6/6 runs, " in done[-1]
    tables = {name: pl.read_parquet(out / f"{name}.parquet") for name in CONTRACT}
    for name, schema in CONTRACT.items():
        assert dict(tables[name].schema) == schema, name
    assert tables["stages"].select("stage", "segments").rows() == [
        ("fr-web", "FR/web"),
        ("all-web", "DE/web, FR/web"),
    ]
    kpis = set(tables["segments"]["kpi"])
    assert kpis == {
        "cost_per_order",
        "on_time_rate",
        "fill_rate",
        "delivery_days_mean",
        "co2_kg_per_order",
        "split_rate",
        "orders",
    }
    assert set(tables["segments"]["plan"]) == set(tables["verdicts"]["plan"]) == {"staged", "big_bang"}
    assert (tables["segments"]["replications"] == 2).all()
    verdicts = tables["verdicts"]
    overall = verdicts.filter(criterion="overall")
    assert overall.height == 4 and set(overall["verdict"]) <= {"go", "no-go", "inconclusive"}
    assert verdicts.height == 4 * 5  # four criteria and the overall verdict per plan and stage
    signals = set(tables["risks"]["signal"])
    assert {"late_orders", "stockout_days", "spillover_cost_per_order"} <= signals
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["replications"] == 2
    assert manifest["scenario_spec"]["rollout"]["stages"][0]["name"] == "fr-web"


def test_rehearse_needs_a_rollout_section(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rehearse", str(TINY), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "has no rollout section" in " ".join(result.stderr.split())


def test_rehearse_checks_its_numbers_before_any_work(tmp_path: Path) -> None:
    for option, value in (("--replications", "0"), ("--workers", "0"), ("--workers", "-1")):
        started = time.perf_counter()
        result = CliRunner().invoke(app, ["rehearse", str(ROLLOUT), option, value, "--out", str(tmp_path)])
        assert time.perf_counter() - started < 5.0
        assert result.exit_code == 2
        assert f"error {option}: must be at least 1, got {value}" in " ".join(result.stderr.split())
