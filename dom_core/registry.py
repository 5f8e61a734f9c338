"""Named registries of configurable classes (strategies, filters), built from YAML-style specs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pydantic

from dom_core.errors import DomError

T = TypeVar("T")


class Registry:
    """Maps a ``kind`` name to a dataclass; builds instances from ``{kind: name, **params}``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: make the class available under ``name`` (sets ``cls.name``)."""

        def wrap(cls: type[T]) -> type[T]:
            if name in self.classes:
                raise ValueError(f"{self.what} {name!r} registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self.classes[name] = cls
            return cls

        return wrap

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self.classes)

    def build(self, spec: str | Mapping[str, Any], field: str) -> Any:
        """Instantiate from a name or mapping; a DomError names the field for any bad kind/parameter/value."""
        if isinstance(spec, str):
            params: dict[str, Any] = {"kind": spec}
        elif isinstance(spec, Mapping):
            params = dict(spec)
        else:
            raise DomError(field, f"expected a {self.what} name or mapping, got {type(spec).__name__}")
        kind = params.pop("kind", None)
        if kind not in self.classes:
            raise DomError(
                f"{field}.kind", f"unknown {self.what} {kind!r}; choose one of {', '.join(self.names())}"
            )
        cls = self.classes[kind]
        known = {f.name for f in dataclasses.fields(cls)}
        for key in params:
            if key not in known:
                raise DomError(
                    f"{field}.{key}", f"{self.what} {kind!r} has no parameter {key!r} (has: {sorted(known)})"
                )
        try:
            return pydantic.TypeAdapter(cls).validate_python(params)
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise DomError(f"{field}.{loc}" if loc else field, err["msg"]) from None
