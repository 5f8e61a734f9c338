"""Stored rules versions, which one is live and which is the shadow candidate, and service settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from service.clock import now
from service.db.tables import meta, rules_state, rules_versions


def get_meta(conn: Connection, key: str) -> str | None:
    """A stored setting (such as the epoch), None when unset."""
    return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Store a setting."""
    if get_meta(conn, key) is None:
        conn.execute(meta.insert().values(key=key, value=value))
    else:
        conn.execute(meta.update().where(meta.c.key == key).values(value=value))


_STATE = select(rules_state.c.live_version, rules_state.c.candidate_version).where(rules_state.c.id == 1)


def state(conn: Connection) -> tuple[int, int | None] | None:
    """(live version, candidate version) or None before any rules were stored."""
    row = conn.execute(_STATE).first()
    return None if row is None else (int(row[0]), row[1])


def version(conn: Connection, number: int) -> dict[str, Any] | None:
    """A stored version: number, role, kind, document, strategy, note and created_at."""
    row = conn.execute(select(rules_versions).where(rules_versions.c.version == number)).mappings().first()
    return None if row is None else dict(row)


def versions(conn: Connection) -> list[dict[str, Any]]:
    """Every stored version without its document, newest first."""
    c = rules_versions.c
    rows = conn.execute(
        select(c.version, c.role, c.kind, c.strategy, c.note, c.created_at).order_by(c.version.desc())
    )
    return [dict(r) for r in rows.mappings()]


def store(conn: Connection, role: str, kind: str, document: Any, strategy: Any, note: str) -> int:
    """Store a new version; returns its number."""
    result = conn.execute(
        rules_versions.insert().values(
            role=role, kind=kind, document=document, strategy=strategy, note=note, created_at=now()
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_live(conn: Connection, number: int) -> None:
    """Make a version live (creating the state row on first use); the candidate is kept."""
    if state(conn) is None:
        conn.execute(rules_state.insert().values(id=1, live_version=number, candidate_version=None))
    else:
        conn.execute(rules_state.update().where(rules_state.c.id == 1).values(live_version=number))


def set_candidate(conn: Connection, number: int | None) -> None:
    """Set (or clear, with None) the version decided in shadow beside the live one."""
    conn.execute(rules_state.update().where(rules_state.c.id == 1).values(candidate_version=number))
