"""Column rules derived from the row models: the type, bounds and options ``retail.reading`` checks."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel

from retail.schemas import Parse

Kind = Literal[
    "str", "int", "float", "bool", "enum", "list", "weekdays", "time", "hours", "datetime", "country"
]
_MARKERS: dict[Parse, Kind] = {
    Parse.TIME_OF_DAY: "time",
    Parse.WEEKDAYS: "weekdays",
    Parse.LIST: "list",
    Parse.OPENING_HOURS: "hours",
    Parse.DATETIME: "datetime",
    Parse.COUNTRY: "country",
}


@dataclass(frozen=True)
class Column:
    """One column of a file: how to parse it and what to check."""

    name: str
    kind: Kind
    required: bool
    options: tuple[str, ...] | None = None  # enum values (of the list items, for lists)
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    min_length: int | None = None
    pattern: str | None = None


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The annotation without ``| None`` and ``Annotated``, and the Annotated metadata."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            metadata += list(annotation.__metadata__)
            annotation = annotation.__origin__
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation, metadata


def _enum_options(annotation: Any) -> tuple[str, ...] | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(str(m.value) for m in annotation)
    if typing.get_origin(annotation) is Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    return None


@cache
def columns_of(model: type[BaseModel]) -> tuple[Column, ...]:
    """The column rules of a row model, in field order."""
    out = []
    for name, info in model.model_fields.items():
        annotation, metadata = _unwrap(info.annotation)
        metadata += info.metadata
        marker = next((m for m in metadata if isinstance(m, Parse)), None)
        bounds: dict[str, Any] = {}
        for m in metadata:
            if isinstance(m, at.Ge):
                bounds["ge"] = m.ge
            elif isinstance(m, at.Gt):
                bounds["gt"] = m.gt
            elif isinstance(m, at.Le):
                bounds["le"] = m.le
            elif isinstance(m, at.MinLen):
                bounds["min_length"] = m.min_length
            elif getattr(m, "pattern", None) is not None:
                bounds["pattern"] = m.pattern
        options = _enum_options(annotation)
        kind: Kind
        if marker is not None:
            kind = _MARKERS[marker]
            if kind == "list":
                item = typing.get_args(annotation)[0]
                options = _enum_options(item)
        elif options is not None:
            kind = "enum"
        elif annotation is bool:
            kind = "bool"
        elif annotation is int:
            kind = "int"
        elif annotation is float:
            kind = "float"
        elif annotation is datetime:
            kind = "datetime"
        else:
            kind = "str"
        out.append(Column(name, kind, info.is_required(), options, **bounds))
    return tuple(out)
