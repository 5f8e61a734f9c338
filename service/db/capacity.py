"""Shipments assigned to each location per day (the engine's capacity book, kept in the database)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from service.db.tables import capacity


def used_on(conn: Connection, day: int) -> list[tuple[str, int, int]]:
    """(location, day, shipments) of one day."""
    c = capacity.c
    return [
        (r[0], int(r[1]), int(r[2]))
        for r in conn.execute(select(c.location, c.day, c.shipments).where(c.day == day))
    ]


def add(conn: Connection, assignments: Iterable[tuple[str, int]]) -> None:
    """Count one more shipment for each (location, day)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for loc, day in sorted(assignments):
        stmt = insert(capacity).values(location=loc, day=day, shipments=1)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["location", "day"], set_={"shipments": capacity.c.shipments + 1}
            )
        )
