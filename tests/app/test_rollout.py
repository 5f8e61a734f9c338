"""The rollout page (a staged rollout rehearsed in the simulation) and ``dashboard.rollout``."""

from __future__ import annotations

import json
import math
import os
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import rollout
from tests.app.conftest import APP

SEGMENTS = [("DE", "web"), ("FR", "web"), ("DE", "marketplace"), ("FR", "marketplace")]
STAGES = [  # name, start day, end day, segments live from this stage on
    ("Stage 1: DE web", 0.0, 14.0, ["DE/web"]),
    ("Stage 2: all web", 14.0, 28.0, ["DE/web", "FR/web"]),
    ("Stage 3: marketplaces", 28.0, 42.0, ["DE/web", "FR/web", "DE/marketplace", "FR/marketplace"]),
]
PLANS = ("staged", "big_bang")
KPIS = ("cost_per_order", "on_time_rate", "fill_rate", "delivery_days_mean", "co2_kg_per_order",
        "split_rate", "orders")
# overall verdict and the criterion that decided it, per plan and stage
VERDICTS = {"staged": ("go", "no-go", "inconclusive"), "big_bang": ("no-go", "no-go", "go")}
CRITERIA = (("on-time rate may drop at most 1 point", "on_time_rate", -0.01),
            ("cost per order must fall", "cost_per_order", 0.0))


def tables() -> dict[str, pl.DataFrame]:
    """3 stages x 2 plans x 4 segments x 7 KPIs, every difference distinct."""
    stages = pl.DataFrame([
        {"stage": name, "stage_index": i, "start_day": a, "end_day": b, "segments": ", ".join(live),
         "inventory_models": "de-online" if i == 0 else "de-online, fr-online"}
        for i, (name, a, b, live) in enumerate(STAGES)
    ])
    segments, risks, verdicts = [], [], []
    for p, plan in enumerate(PLANS):
        for s, (stage, _, _, live) in enumerate(STAGES):
            for g, (market, channel) in enumerate(SEGMENTS):
                inside = plan == "big_bang" or f"{market}/{channel}" in live
                for k, kpi in enumerate(KPIS):
                    diff = round((-1) ** (g + k) * (0.001 + p * 0.3 + s * 0.1 + g * 0.01 + k * 0.001), 6)
                    segments.append({
                        "plan": plan, "stage": stage, "market": market, "channel": channel,
                        "in_stage": inside, "kpi": kpi, "baseline_mean": 5.0, "plan_mean": 5.0 + diff,
                        "diff_mean": diff,
                        "diff_ci95": math.nan if k == 6 else 0.05, "significant": abs(diff) > 0.05,
                        "replications": 5,
                    })
            risks += [
                {"plan": plan, "stage": stage, "signal": "stockout_days", "scope": "DC-DE-1",
                 "in_stage": True, "baseline": 2.0, "diff": 1.0 + s, "diff_ci95": 0.5},
                {"plan": plan, "stage": stage, "signal": "capacity_overload_days", "scope": "S-FR-3",
                 "in_stage": True, "baseline": 0.0, "diff": 4.0 + s, "diff_ci95": 1.0},
                {"plan": plan, "stage": stage, "signal": "spillover_fill_rate", "scope": "DE/marketplace",
                 "in_stage": False, "baseline": 0.97, "diff": -0.02, "diff_ci95": 0.03},
                {"plan": plan, "stage": stage, "signal": "late_orders", "scope": "FR/web", "in_stage": True,
                 "baseline": 40.0, "diff": -3.0, "diff_ci95": math.nan},
            ]
            verdict = VERDICTS[plan][s]
            for c, (criterion, kpi, threshold) in enumerate(CRITERIA):
                passed = {"go": True, "no-go": c == 1, "inconclusive": None if c == 0 else True}[verdict]
                verdicts.append({"plan": plan, "stage": stage, "criterion": criterion, "kpi": kpi,
                                 "threshold": threshold, "diff_mean": -0.015, "ci_low": -0.02,
                                 "ci_high": -0.01, "passed": passed, "verdict": "go" if passed else "no-go"})
            verdicts.append({"plan": plan, "stage": stage, "criterion": "overall", "kpi": None,
                             "threshold": None, "diff_mean": None, "ci_low": None, "ci_high": None,
                             "passed": {"go": True, "no-go": False}.get(verdict), "verdict": verdict})
    return {"stages": stages, "segments": pl.DataFrame(segments), "risks": pl.DataFrame(risks),
            "verdicts": pl.DataFrame(verdicts)}


def write(folder: Path, manifest: dict[str, Any] | None = None) -> Path:
    """A rehearsal folder holding the generated tables."""
    folder.mkdir(parents=True)
    for name, frame in tables().items():
        frame.write_parquet(folder / f"{name}.parquet")
    scenario = {"name": folder.parent.name, "seed": 11}
    (folder / "manifest.json").write_text(json.dumps(manifest or {"seed": 11, "scenario": scenario}),
                                          encoding="utf-8")
    return folder


@pytest.fixture
def results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A results folder with one rehearsal (``rollout/rehearsal/``) and one plain result folder."""
    root = tmp_path / "results"
    write(root / "rollout" / "rehearsal")
    (root / "plain").mkdir()
    (root / "plain" / "manifest.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("DOM_RESULTS_DIR", str(root))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(tmp_path / "no-scenarios"))
    return root


def run_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["page"] = "Rollout"
    return at.run()


def specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def table_rows(at: AppTest, head: str) -> list[list[str]]:
    """A Markdown table whose header starts with ``head``, as rows of cells."""
    table = next(m.value for m in at.markdown if m.value.startswith(head))
    return [line.strip("| ").split(" | ") for line in table.splitlines()[2:]]


def heat_cells(spec: dict[str, Any]) -> dict[tuple[str, str], float | None]:
    """(segment, KPI label) -> z of every heat-map cell."""
    return {(y, t["x"][0]): z[0] for t in spec["data"] for y, z in zip(t["y"], t["z"], strict=True)}


def expected(plan: str, stage: str) -> dict[tuple[str, str], float]:
    rows = tables()["segments"].filter((pl.col("plan") == plan) & (pl.col("stage") == stage))
    return {(f"{r['market']}/{r['channel']}", rollout.view_of(r["kpi"]).label): r["diff_mean"]
            for r in rows.iter_rows(named=True)}


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# ------------------------------------------------------------------------------------------ the page
def test_page_shows_timeline_heat_map_risks_and_verdicts(results: Path) -> None:
    at = run_page()
    assert_clean(at)
    assert at.title[0].value == "Is it safe to go on to the next rollout stage?"
    assert at.sidebar.selectbox(key="rehearsal").value == results / "rollout" / "rehearsal"
    timeline, heat = specs(at)
    (bars,) = timeline["data"]
    assert bars["y"] == [name for name, *_ in STAGES]
    assert bars["base"] == [0.0, 14.0, 28.0]
    assert [b + w for b, w in zip(bars["base"], bars["x"], strict=True)] == [14.0, 28.0, 42.0]
    assert bars["text"] == ["DE/web", "DE/web, FR/web", "DE/web, FR/web, DE/marketplace, FR/marketplace"]
    assert bars["customdata"][1][:2] == ["day 14", "day 28"]
    # the default: the staged plan, stage 1; only DE/web is live, the other three are spillover
    assert heat_cells(heat) == pytest.approx(expected("staged", "Stage 1: DE web"))
    assert heat["layout"]["yaxis"]["ticktext"][:2] == ["DE/web", "<i>DE/marketplace</i> (not live yet)"]
    risks = table_rows(at, "| Risk signal |")
    assert [r[0] for r in risks] == [
        "Days a store ran over its pick capacity", "Days a location ran out of stock",
        "Fill rate where the new rules are not live yet", "Orders delivered later than promised",
    ]
    assert risks[0][1:] == ["S-FR-3", "yes", "0.0", "4.0", "+4.0 ± 1.0", "yes"]
    assert risks[2][2:6] == ["no (spillover)", "97.0%", "95.0%", "-2.0 ± 3.0 pp"]


def test_verdict_table_has_the_overall_verdict_per_stage(results: Path) -> None:
    at = run_page()
    rows = table_rows(at, "| Stage | Where | Verdict | Decided by |")
    assert [(r[0], r[2]) for r in rows] == [
        ("Stage 1: DE web", ":green-badge[Go]"), ("Stage 2: all web", ":red-badge[No-go]"),
        ("Stage 3: marketplaces", ":orange-badge[Inconclusive]"),
    ]
    assert rows[0][3] == "all 2 criteria met"
    assert rows[1][3].startswith("on-time rate may drop at most 1 point (change -1.5 pp")
    assert "cost per order" not in rows[1][3]  # it passed: it did not decide the no-go
    assert any("Go on up to **Stage 1: DE web**" in m.value for m in at.markdown)
    at.radio(key="rollout:rollout:plan").set_value("big_bang").run()
    rows = table_rows(at, "| Stage | Where | Verdict | Decided by |")
    assert [r[2] for r in rows] == [":red-badge[No-go]", ":red-badge[No-go]", ":green-badge[Go]"]
    assert any("**Do not start**" in m.value for m in at.markdown)


def test_heat_map_follows_the_chosen_plan_and_stage(results: Path) -> None:
    at = run_page()
    at.radio(key="rollout:rollout:plan").set_value("big_bang")
    at.selectbox(key="rollout:rollout:stage").select("Stage 2: all web").run()
    assert_clean(at)
    heat = specs(at)[1]
    cells = heat_cells(heat)
    assert len(cells) == 4 * 7
    assert cells == pytest.approx(expected("big_bang", "Stage 2: all web"))
    assert cells != pytest.approx(expected("staged", "Stage 2: all web"))
    assert [t["x"][0] for t in heat["data"]] == [rollout.view_of(k).label for k in rollout.KPI_ORDER]
    assert not any("not live yet" in t for t in heat["layout"]["yaxis"]["ticktext"])  # big bang: all live
    at.radio(key="rollout:rollout:plan").set_value("staged").run()
    heat = specs(at)[1]
    ticks = heat["layout"]["yaxis"]["ticktext"]
    assert ticks[:3] == ["DE/web", "FR/web", "<i>DE/marketplace</i> (not live yet)"]
    assert heat["layout"]["shapes"][0]["y0"] == 1.5  # the line between live and spillover segments


def test_missing_verdicts_gives_an_error_naming_it(results: Path) -> None:
    (results / "rollout" / "rehearsal" / "verdicts.parquet").unlink()
    at = run_page()
    assert not at.exception
    (err,) = at.error
    assert "rollout cannot be shown" in err.value and "lacks verdicts.parquet" in err.value
    assert not at.get("plotly_chart")


def test_missing_column_gives_an_error_naming_it(results: Path) -> None:
    folder = results / "rollout" / "rehearsal"
    tables()["segments"].drop("significant").write_parquet(folder / "segments.parquet")
    at = run_page()
    (err,) = at.error
    assert "segments.parquet lacks the columns significant" in err.value


def test_no_rehearsal_tells_how_to_run_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    monkeypatch.setenv("DOM_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(tmp_path / "no-scenarios"))
    at = run_page()
    assert not at.exception and not at.error
    (info,) = at.info
    assert "No rollout rehearsals" in info.value and "`dom rehearse scenarios/rollout.yaml`" in info.value
    assert at.sidebar.radio(key="page").options == ["Simulation results", "Shadow", "Rollout", "Sweep"]


# ------------------------------------------------------------------------------------------ the module
def test_discover_finds_rehearsals_newest_first(tmp_path: Path) -> None:
    old, new = write(tmp_path / "a" / "rehearsal"), write(tmp_path / "b" / "rehearsal")
    for k, folder in enumerate((new, old)):
        for f in (folder, *folder.iterdir()):
            os.utime(f, (2e9 - k * 1e6, 2e9 - k * 1e6))
    (tmp_path / "c").mkdir()  # a result folder without a rehearsal
    assert rollout.discover(tmp_path) == [new, old]
    os.utime(old / "verdicts.parquet", (2.1e9, 2.1e9))  # re-written: now the newest
    assert rollout.discover(tmp_path) == [old, new]
    assert rollout.discover(tmp_path / "absent") == []


def test_load_checks_files_columns_and_types(tmp_path: Path) -> None:
    folder = write(tmp_path / "s" / "rehearsal")
    r = rollout.load(folder)
    assert r.stages["stage"].to_list() == [name for name, *_ in STAGES]
    assert rollout.plans(r) == ["staged", "big_bang"]
    assert rollout.describe(r).startswith("s · seed 11 · 5 replications")
    (folder / "risks.parquet").unlink()
    (folder / "manifest.json").unlink()
    with pytest.raises(rollout.RolloutError, match=r"lacks manifest\.json, risks\.parquet"):
        rollout.load(folder)
    with pytest.raises(rollout.RolloutError, match="lacks the columns end_day, segments"):
        rollout.validate(tables()["stages"].drop("end_day", "segments"), "stages")
    bad = tables()["stages"].with_columns(pl.lit("soon").alias("start_day"))
    with pytest.raises(rollout.RolloutError, match="column start_day is String, expected Float64"):
        rollout.validate(bad, "stages")


def test_timeline_in_calendar_dates(tmp_path: Path) -> None:
    manifest = {"seed": 1, "scenario": {"name": "x", "start_date": "2027-03-01"}}
    assert rollout.start_date(manifest) == date(2027, 3, 1)
    assert rollout.start_date({"scenario_spec": {"start_date": "2027-03-01"}}) == date(2027, 3, 1)
    assert rollout.start_date({"scenario": {"calendar": {"start_date": "2027-03-01"}}}) == date(2027, 3, 1)
    assert rollout.start_date({"scenario": "x"}) is None
    assert rollout.start_date({"scenario": {"start_date": "soon"}}) is None
    (bars,) = rollout.timeline(tables()["stages"], date(2027, 3, 1)).to_dict()["data"]
    assert list(bars["base"]) == ["2027-03-01T00:00:00", "2027-03-15T00:00:00", "2027-03-29T00:00:00"]
    assert list(bars["x"]) == [14 * 86_400_000] * 3
    assert bars["customdata"][2][:2] == ["29 Mar 2027", "12 Apr 2027"]
    assert rollout.when(3.5) == "day 3.5" and rollout.when(3.0) == "day 3"


def test_verdicts_and_advice(tmp_path: Path) -> None:
    r = rollout.load(write(tmp_path / "s" / "rehearsal"))
    table = rollout.verdict_table(r, "staged")
    assert table["Verdict"].to_list() == [rollout.BADGES[v] for v in VERDICTS["staged"]]
    assert table["Decided by"][2].startswith("on-time rate may drop at most 1 point")  # the undecided one
    assert rollout.advice(r, "staged") == (
        "Staged rollout: Go on up to **Stage 1: DE web**; **Stage 2: all web** fails its criteria.")
    everything_go = r.verdicts.with_columns(verdict=pl.lit("go"))
    r2 = rollout.Rehearsal(r.folder, r.manifest, r.stages, r.segments, r.risks, everything_go)
    assert "every stage meets its criteria" in rollout.advice(r2, "big_bang")
    unknown = rollout.verdict_table(r, "cautious")
    assert unknown["Decided by"].to_list() == ["no verdict recorded"] * 3


def test_risk_table_puts_the_biggest_harm_first_and_marks_clear_changes(tmp_path: Path) -> None:
    r = rollout.load(write(tmp_path / "s" / "rehearsal"))
    t = rollout.risk_table(r, "staged", "Stage 3: marketplaces")
    assert t["Change"].to_list() == ["+6.0 ± 1.0", "+3.0 ± 0.5", "-2.0 ± 3.0 pp", "-3.0"]
    assert t["Clear change?"].to_list() == ["yes", "yes", "could be chance", "could be chance"]
    assert rollout.risk_table(r, "staged", "no such stage").height == 0
