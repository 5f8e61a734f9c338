"""``dom import``: counts and the bad-row report printed, a folder or a YAML network section written."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dom_core.config import load_network
from retail.writing import read_folder
from service.cli import app  # the entry point: `dom import` registered through it
from tests.retail.conftest import DATA, NETWORK, append


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def test_import_writes_a_scenario_ready_folder(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "imported"
    result = cli.invoke(
        app,
        ["import", str(NETWORK), f"shopify={DATA / 'shopify' / 'orders_export_1.csv'}", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    stdout = flat(result.stdout)
    assert "locations.csv: 6 rows, 6 imported, 0 skipped" in stdout
    assert "orders_export_1.csv: 6 rows, 4 imported, 2 skipped" in stdout
    assert "orders_export_1.csv row 6, column qty: not a number" in flat(result.stderr)
    assert {p.name for p in out.iterdir()} == {
        "locations.parquet",
        "catalogue.parquet",
        "stock.parquet",
        "carriers.parquet",
        "carrier_rates.parquet",
        "history.parquet",
        "problems.csv",
        "manifest.json",
    }
    network, history = read_folder(out)
    assert network is not None and history is not None and history.height == 4
    assert len(network.network().locations) == 6
    assert pl.read_csv(out / "problems.csv").row(0) == (
        "orders_export_1.csv",
        6,
        "qty",
        "not a number",
        "lots",
    )
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["carrier_preset"] == "none"


def test_strict_refuses_everything_with_exit_code_2(
    cli: CliRunner, tmp_path: Path, network_copy: Path
) -> None:
    append(network_copy, "stock.csv", "DC-XXX,SKU-1,5,,,,")
    out = tmp_path / "never"
    result = cli.invoke(app, ["import", str(network_copy), "--out", str(out), "--strict"])
    assert result.exit_code == 2
    assert "stock.csv row 9, column location: unknown location DC-XXX" in flat(result.stderr)
    assert "refused" in result.stderr and not out.exists()
    lenient = cli.invoke(app, ["import", str(network_copy), "--out", str(out)])
    assert lenient.exit_code == 0 and "1 rows skipped" in flat(lenient.stdout)


def test_import_to_yaml_gives_a_loadable_network_section(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "rules.yaml"
    result = cli.invoke(app, ["import", str(NETWORK), "--out", str(out), "--carrier-preset", "default"])
    assert result.exit_code == 0, result.output
    network, ledger, carriers = load_network(out)
    assert len(network.locations) == 6 and int(ledger.on_hand.sum()) == 1063
    assert {"ground", "parcel_de", "line_haul"} <= {s.name for s in carriers.services}
    assert carriers.transfer_service == "line_haul"


def test_unusable_input_is_an_error(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    result = cli.invoke(app, ["import", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown kind of file" in flat(result.stderr)
    result = cli.invoke(app, ["import", f"stock={NETWORK / 'stock.csv'}", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "needs a locations file" in flat(result.stderr)
