"""The order history: the normalised frame (the replay's contract), bad lines, and the live service's
export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from retail.history import HISTORY_SCHEMA, import_history, normalise
from retail.problems import FileError, ImportRefusedError
from service.views import log_rows

HEADER = ",".join(HISTORY_SCHEMA).replace("lon,", "lon,postcode,city,country,")
GOOD = [
    "o1,2026-01-05 10:00,DE,web,52.5,13.4,,,,home_delivery,,1,A,2,1,12",
    "o1,2026-01-05 10:00,DE,web,52.5,13.4,,,,home_delivery,,2,B,1,,",
    "o2,2026-01-05T09:00:00+01:00,,app,,,80331,,DE,pickup_in_store,S1,,A,1,,",
    "o3,2026-01-04 23:30,AT,,,,,Wien,AT,,,,C,3,0,",
]


def history(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "history.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_good_history_is_one_typed_row_per_line_in_time_order(tmp_path: Path) -> None:
    result = import_history(history(tmp_path, *GOOD))
    frame = result.frame
    assert result.report.ok and dict(frame.schema) == HISTORY_SCHEMA
    assert frame.get_column("order_id").to_list() == ["o3", "o2", "o1", "o1"]
    assert frame.get_column("created_at").to_list()[:2] == [
        datetime(2026, 1, 4, 23, 30, tzinfo=UTC),
        datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
    ]
    o2 = frame.row(1, named=True)
    assert (o2["market"], o2["channel"], o2["fulfilment"], o2["pickup_location"]) == (
        "DE",
        "app",
        "pickup_in_store",
        "S1",
    )
    assert abs(o2["lat"] - 48.14) < 0.05 and o2["line_id"] == "1"  # postcode 80331 is Munich
    o3 = frame.row(0, named=True)
    assert (o3["channel"], o3["fulfilment"], o3["return_qty"], o3["return_days"]) == (
        "web",
        "home_delivery",
        0,
        None,
    )
    assert frame.row(2, named=True)["return_qty"] == 1 and frame.row(2, named=True)["return_days"] == 12.0


def test_a_time_without_zone_takes_the_given_one(tmp_path: Path) -> None:
    frame = normalise(history(tmp_path, GOOD[3]), timezone="Europe/Vienna")
    assert frame.item(0, "created_at") == datetime(2026, 1, 4, 22, 30, tzinfo=UTC)


BAD = [
    ("o4,2026-01-06 11:00,DE,web,52.5,13.4,,,,,,1,A,0,,", "qty", "must be > 0"),
    ("o4,yesterday,DE,web,52.5,13.4,,,,,,1,A,1,,", "created_at", "not a date/time"),
    ("o4,2026-01-06 11:00,DE,web,,,,Atlantis,DE,,,1,A,1,,", "city", "cannot place"),
    (
        "o4,2026-01-06 11:00,DE,web,52.5,13.4,,,,ship_to_store,,1,A,1,,",
        "pickup_location",
        "required for ship_to_store",
    ),
    ("o4,2026-01-06 11:00,DE,web,52.5,13.4,,,,teleport,,1,A,1,,", "fulfilment", "must be one of"),
    ("o4,2026-01-06 11:00,DE,web,52.5,13.4,,,,,,1,A,1,3,", "return_qty", "more than qty"),
    ("o4,2026-01-06 11:00,,web,52.5,13.4,,,,,,1,A,1,,", "market", "required"),
    ("o1,2026-01-05 10:00,DE,web,52.5,13.4,,,,home_delivery,,2,C,1,,", "line_id", "repeats row 2"),
    (
        "o1,2026-01-05 11:00,DE,web,52.5,13.4,,,,home_delivery,,3,C,1,,",
        "created_at",
        "differs from the order's",
    ),
]


@pytest.mark.parametrize(("row", "column", "problem"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_line_skips_its_whole_order(tmp_path: Path, row: str, column: str, problem: str) -> None:
    path = history(tmp_path, *GOOD, row)
    result = import_history(path)
    found = result.report.problems.row(0, named=True)
    assert (found["file"], found["row"], found["column"]) == ("history.csv", 5, column), result.report.lines()
    assert problem in found["problem"]
    order = row.split(",", maxsplit=1)[0]
    assert order not in result.frame.get_column("order_id").to_list()
    skipped = 3 if order == "o1" else 1  # o1's two good lines go with the bad one
    assert result.report.counts[0].skipped == skipped
    with pytest.raises(ImportRefusedError):
        import_history(path, strict=True)


def test_normalise_warns_how_many_rows_it_skipped(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="1 history rows skipped"):
        frame = normalise(history(tmp_path, *GOOD, BAD[0][0]))
    assert frame.height == 4


def test_a_history_needs_its_required_columns(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("order_id,created_at,sku\no1,2026-01-05,A\n", encoding="utf-8")
    with pytest.raises(FileError, match="qty"):
        import_history(path)


def _service_row(order: str, at: str, lines: list[dict[str, object]], **extra: object) -> dict[str, object]:
    request = {"created_at": at, "created_hours": 10.0, "lat": 52.5, "lon": 13.4, "lines": lines, **extra}
    return {
        "id": order,
        "request": request,
        "market": "DE",
        "channel": "web",
        "status": "shipped",
        "rules_version": 1,
        "strategy": "split_shipments",
    }


def test_the_live_services_order_export_normalises_too(tmp_path: Path) -> None:
    rows = [
        *log_rows(
            _service_row(
                "web-1",
                "2026-01-05T10:00:00+00:00",
                [{"line_id": "1", "sku": "A", "qty": 2}, {"line_id": "2", "sku": "B", "qty": 1}],
            )
        ),
        *log_rows(
            _service_row(
                "web-2",
                "2026-01-05T09:00:00+00:00",
                [{"line_id": "1", "sku": "C", "qty": 1}],
                fulfilment="pickup_in_store",
                pickup_location="S-HAM",
                max_delivery_days=2.0,
            )
        ),
    ]
    path = tmp_path / "orders_log.parquet"
    pl.DataFrame(rows, infer_schema_length=None).write_parquet(path)  # as GET /orders/export writes it
    result = import_history(path)
    assert result.report.ok, result.report.lines()
    frame = result.frame
    assert dict(frame.schema) == HISTORY_SCHEMA
    assert frame.get_column("order_id").to_list() == ["web-2", "web-1", "web-1"]
    assert frame.row(0, named=True)["pickup_location"] == "S-HAM"
    assert frame.get_column("return_qty").to_list() == [0, 0, 0]
    assert any("ignored columns" in note and "status" in note for note in result.report.notes)
