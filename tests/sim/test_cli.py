"""The ``dom`` command: validate, simulate and schema, driven in-process with typer's CliRunner."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.scenario import Scenario
from sim.tables import TABLES
from tests.sim.conftest import BASE_STOCK, TINY

ROOT = Path(__file__).resolve().parents[2]


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def test_validate_accepts_good_files(cli: CliRunner) -> None:
    result = cli.invoke(app, ["validate", str(TINY), str(BASE_STOCK)])
    assert result.exit_code == 0, result.output
    assert f"ok {TINY}" in flat(result.stdout) and f"ok {BASE_STOCK}" in flat(result.stdout)


def test_validate_fails_with_exit_code_2_and_the_message(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = TINY.read_text(encoding="utf-8").replace("  orders_per_day: 300", "  orders_per_day: -1")
    bad.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  orders_per_day: -1") + 1
    result = cli.invoke(app, ["validate", str(TINY), str(bad)])
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "invalid" in message and str(bad) in message
    assert f"demand.orders_per_day (line {line}): Input should be greater than 0" in message
    assert f"ok {TINY}" in flat(result.stdout)  # the good file is still checked


def test_validate_reports_broken_yaml(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "indent.yaml"
    bad.write_text(
        "name: x\nhorizon_days: 3\ndemand:\n  orders_per_day: 10\n   mean_lines: 2\n", encoding="utf-8"
    )
    result = cli.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:line 5: not valid YAML" in flat(result.stderr)


def test_simulate_prints_the_comparison_and_writes_results(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "results"
    # --workers 1 keeps the CLI test quick (worker processes are spawned, which costs start-up time)
    args = ["simulate", str(TINY), "--replications", "1", "--workers", "1", "--out", str(out)]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "tiny: 1 replications, baseline split_shipments" in flat(text)
    for header in ("strategy", "cost/order", "on-time", "fill", "lost units"):
        assert header in text
    assert "split_shipments" in text and "cheapest" in text
    assert f"results in {out}" in flat(text)
    for name in [*TABLES, "kpis", "comparison"]:
        assert (out / f"{name}.parquet").is_file(), name
    kpis = pl.read_parquet(out / "kpis.parquet")
    assert kpis.select("strategy", "replication").rows() == [("split_shipments", 0), ("cheapest", 0)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications"] == 1 and manifest["scenario"] == "tiny"


def test_simulate_rejects_unknown_strategies_and_broken_files(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["simulate", str(TINY), "--strategies", "fastest", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--strategies: not in the scenario: ['fastest']" in flat(result.stderr)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        TINY.read_text(encoding="utf-8").replace("horizon_days: 4", "horizon_days: -4"), encoding="utf-8"
    )
    result = cli.invoke(app, ["simulate", str(bad), "--out", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert "horizon_days (line 5)" in flat(result.stderr)
    assert not (tmp_path / "never").exists()


def test_schema_export_is_valid_json_schema_of_the_scenario(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "scenario.schema.json"
    result = cli.invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    schema = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == Scenario.model_json_schema()
    assert set(Scenario.model_fields) == set(schema["properties"])
    assert {"name", "horizon_days", "demand", "experiment"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    validator = jsonschema.Draft202012Validator(schema)
    for path in [TINY, BASE_STOCK, *sorted((ROOT / "scenarios").glob("*.yaml"))]:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert not errors, (path, errors[:1])
    wrong = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    wrong["demand"]["colour"] = "red"
    wrong["horizon_days"] = "four"
    assert len(list(validator.iter_errors(wrong))) == 2


# Every numeric option is checked before any work starts: exit code 2 and an error naming the option and
# its range, at once (``--replications 0`` used to fall back to the scenario's replications and run them
# all without a word when the output was not a terminal).
BAD_NUMBERS = [
    (["simulate", "--replications", "0"], "--replications: must be at least 1, got 0"),
    (["simulate", "--replications", "-2"], "--replications: must be at least 1, got -2"),
    (["simulate", "--workers", "0"], "--workers: must be at least 1, got 0"),
    (["simulate", "--demand-factor", "0"], "--demand-factor: must be greater than 0, got 0"),
    (["simulate", "--demand-factor", "nan"], "--demand-factor: must be a finite number greater than 0"),
    (["simulate", "--capacity-factor", "-0.5"], "--capacity-factor: must be greater than 0, got -0.5"),
    (["simulate", "--capacity-factor", "inf"], "--capacity-factor: must be a finite number greater than 0"),
    (["simulate", "--max-shipments", "0"], "--max-shipments: must be at least 1, got 0"),
    (["simulate", "--safety-stock", "-1"], "--safety-stock: must be at least 0, got -1"),
    (["simulate", "--store-participation", "1.5"], "--store-participation: must be from 0 to 1, got 1.5"),
    (["simulate", "--store-participation", "-0.1"], "--store-participation: must be from 0 to 1, got -0.1"),
    (["compare", "--orders", "0"], "--orders: must be at least 1, got 0"),
    (["explain", "--order", "-1"], "--order: must be at least 0, got -1"),
]


@pytest.mark.parametrize(("args", "message"), BAD_NUMBERS, ids=[" ".join(a[1:]) for a, _ in BAD_NUMBERS])
def test_numeric_options_out_of_range_fail_at_once_naming_option_and_range(
    cli: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "never"
    command, *options = args
    extra = ["--out", str(out)] if command == "simulate" else []
    started = time.perf_counter()
    result = cli.invoke(app, [command, str(TINY), *options, *extra])
    assert time.perf_counter() - started < 5.0  # checked before the scenario is even loaded
    assert result.exit_code == 2, result.output
    assert f"error {message}" in flat(result.stderr)
    assert not out.exists()


def test_explain_names_the_orders_the_stream_holds(cli: CliRunner) -> None:
    result = cli.invoke(app, ["explain", str(TINY), "--order", "100000"])
    assert result.exit_code == 2
    assert "--order: must be from 0 to " in flat(result.stderr)


def test_simulate_writes_its_plan_and_a_line_per_run_when_not_on_a_terminal(
    cli: CliRunner, tmp_path: Path
) -> None:
    args = ["simulate", str(TINY), "--replications", "2", "--workers", "1", "--out", str(tmp_path / "r")]
    result = cli.invoke(app, args)  # CliRunner's stderr is not a terminal: plain lines, no progress bar
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "simulating tiny: 2 strategies (split_shipments, cheapest) x 2 replications = 4 runs on 1 worker; "
        "about 1,200 orders per run, 4,800 in all"
    )
    runs = [(s, r) for r in (0, 1) for s in ("split_shipments", "cheapest")]
    assert len(lines) == 1 + len(runs)
    for n, (line, (strategy, rep)) in enumerate(zip(lines[1:], runs, strict=True), start=1):
        assert line.startswith(f"simulating tiny: {strategy} replication {rep} done in "), line
        assert f"({n}/4 runs, " in line
    assert "s left)" in lines[1] and lines[-1].endswith("s elapsed)")
    assert "━" not in result.stderr  # no bar
