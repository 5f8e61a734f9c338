"""JSON Schema of every documented file (``docs/schemas/<kind>.schema.json``), from the row models.

Each schema describes one row (a JSON object per row; CSV cells hold the same values as text) and
lists the other column names accepted under ``x-aliases``. Regenerate after changing a row model:

    .venv/bin/python -m retail.schema_export            # writes docs/schemas/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from retail.schemas import ALIASES, ROW_MODELS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one row of a ``kind`` file."""
    out = ROW_MODELS[kind].model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = f"{kind} row"
    out["x-aliases"] = dict(sorted(ALIASES.get(kind, {}).items()))
    return out


def text(kind: str) -> str:
    """The schema file's text."""
    return json.dumps(schema(kind), indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path = DOCS) -> list[Path]:
    """Write every file's schema into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in ROW_MODELS:
        path = folder / f"{kind}.schema.json"
        path.write_text(text(kind), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(written)
