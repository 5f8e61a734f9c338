"""The documented files' JSON Schemas are the row models' (regenerate: python -m retail.schema_export), and
docs/data.md documents every column."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from retail.columns import columns_of
from retail.schema_export import DOCS, schema, text
from retail.schemas import ALIASES, ROW_MODELS

DATA_MD = Path(__file__).resolve().parents[2] / "docs" / "data.md"


@pytest.mark.parametrize("kind", list(ROW_MODELS))
def test_the_exported_schema_is_up_to_date(kind: str) -> None:
    path = DOCS / f"{kind}.schema.json"
    assert path.read_text(encoding="utf-8") == text(kind), "run: python -m retail.schema_export"
    jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("kind", list(ROW_MODELS))
def test_the_docs_name_every_column_and_alias(kind: str) -> None:
    docs = DATA_MD.read_text(encoding="utf-8")
    section = docs.split(f"\n## `{kind}`")[1].split("\n## ")[0]
    for col in columns_of(ROW_MODELS[kind]):
        assert f"`{col.name}`" in section, (kind, col.name)
    for alias in ALIASES.get(kind, {}):
        assert f"`{alias}`" in section, (kind, alias)


def test_a_schema_accepts_a_documented_row() -> None:
    validator = jsonschema.Draft202012Validator(schema("stock"))
    assert not list(validator.iter_errors({"location": "DC1", "sku": "A", "on_hand": 3}))
    assert list(validator.iter_errors({"location": "DC1", "sku": "A", "on_hand": -3}))
