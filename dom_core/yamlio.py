"""YAML loading that remembers the line of every value, so validation errors can name the line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from dom_core.errors import DomError

# libyaml's parser when PyYAML has it (about 10x faster on long stock lists), the same safe constructor
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(DomError):
    """A configuration file that does not validate: names the file, the field path and the line."""

    field_path: str = ""


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value
            out[(*path, k)] = key.start_mark.line + 1
            _lines(value, (*path, k), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def load_yaml(path: str | Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse a YAML file safely; return the data and a map from field path to line number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read file: {exc.strerror}") from None
    loader = _LOADER(text)  # one parse gives both the nodes (for their lines) and the data
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise ConfigError(f"{path}:{where}", f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def line_of(lines: dict[tuple[Any, ...], int], loc: Sequence[Any]) -> int | None:
    """The line of the deepest known prefix of a field path."""
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _in_document(loc: list[Any], lines: dict[tuple[Any, ...], int] | None) -> list[Any]:
    """A field path without the steps pydantic adds between the document's own keys (the tag of a
    discriminated union's member, a union member's type): a step inside the path that the document
    does not hold. The last step stays (a missing field is named by it)."""
    if not lines:
        return loc
    kept: list[Any] = []
    for i, part in enumerate(loc):
        if i == len(loc) - 1 or (*kept, part) in lines:
            kept.append(part)
    return kept


def validation_error(
    exc: pydantic.ValidationError, source: str, lines: dict[tuple[Any, ...], int] | None = None
) -> ConfigError:
    """Turn a pydantic error into a ConfigError naming the field path and (when known) the line."""
    parts = []
    for err in exc.errors()[:5]:
        loc = [
            p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union")))
        ]
        loc = _in_document(loc, lines)
        field = ".".join(str(p) for p in loc) or "(root)"
        line = line_of(lines, loc) if lines else None
        parts.append(f"{field}{f' (line {line})' if line else ''}: {err['msg']}")
    error = ConfigError(source, "; ".join(parts))
    first = [p for p in exc.errors()[0]["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    first = _in_document(first, lines)
    error.field_path = ".".join(str(p) for p in first)  # the first failing field, for programs
    return error
