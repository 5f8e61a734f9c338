"""Stock balances and their movement journal: snapshots, conditional reservations and every movement.

Every change to a balance is made by one UPDATE whose WHERE clause re-checks what the change needs
(ATP covers a reservation, on hand stays at or above reserved), so two transactions racing for the
last units cannot both win: the loser's row count is 0 and it decides again on a fresh snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from dom_core.inventory import MovementKind
from service.db.connect import LostRace
from service.db.tables import movements, stock

Cell = tuple[str, str, int]  # (location, sku, qty)


_s = stock.c
# the statements every order runs, built once (building one costs more than running it)
_SNAPSHOT = select(_s.location, _s.sku, _s.on_hand, _s.reserved, _s.safety).where(
    _s.sku.in_(bindparam("skus", expanding=True))
)
_RESERVE = (
    stock.update()
    .where(
        _s.location == bindparam("b_loc"),
        _s.sku == bindparam("b_sku"),
        _s.on_hand - _s.reserved - _s.safety >= bindparam("b_qty"),
    )
    .values(reserved=_s.reserved + bindparam("b_qty"))
)


def snapshot(conn: Connection, skus: Sequence[str]) -> list[tuple[str, str, int, int, int]]:
    """(location, sku, on hand, reserved, safety) of every stocked location of these SKUs."""
    rows = conn.execute(_SNAPSHOT, {"skus": sorted(set(skus))})
    return [(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]


def balances(conn: Connection) -> list[tuple[str, str, int, int, int]]:
    """Every stock row: (location, sku, on hand, reserved, safety)."""
    s = stock.c
    rows = conn.execute(select(s.location, s.sku, s.on_hand, s.reserved, s.safety))
    return [(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]


def merged(cells: Iterable[Cell]) -> list[Cell]:
    """Quantities summed per (location, SKU), sorted: rows are always locked in one order (no deadlocks)."""
    total: dict[tuple[str, str], int] = {}
    for loc, sku, qty in cells:
        total[(loc, sku)] = total.get((loc, sku), 0) + qty
    return [(loc, sku, qty) for (loc, sku), qty in sorted(total.items())]


def reserve(conn: Connection, cells: Sequence[Cell]) -> None:
    """Reserve each cell's units where ATP still covers them; LostRace (roll back) where it does not."""
    for loc, sku, qty in merged(cells):
        done = conn.execute(_RESERVE, {"b_loc": loc, "b_sku": sku, "b_qty": qty})
        if done.rowcount != 1:
            raise LostRace(f"{loc}/{sku}")


def release(conn: Connection, cells: Sequence[Cell]) -> None:
    """Give reserved units back to ATP."""
    s = stock.c
    for loc, sku, qty in merged(cells):
        conn.execute(stock.update().where(s.location == loc, s.sku == sku).values(reserved=s.reserved - qty))


def commit(conn: Connection, cells: Sequence[Cell]) -> None:
    """Reserved units leave: on hand and reserved both go down."""
    s = stock.c
    for loc, sku, qty in merged(cells):
        conn.execute(
            stock.update()
            .where(s.location == loc, s.sku == sku)
            .values(reserved=s.reserved - qty, on_hand=s.on_hand - qty)
        )


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def receive(conn: Connection, cells: Sequence[Cell]) -> None:
    """Units arrive: on hand goes up (the row is created on a first receipt)."""
    insert = _insert(conn)
    for loc, sku, qty in merged(cells):
        stmt = insert(stock).values(location=loc, sku=sku, on_hand=qty, reserved=0, safety=0)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["location", "sku"], set_={"on_hand": stock.c.on_hand + qty}
            )
        )


def adjust(conn: Connection, loc: str, sku: str, delta: int) -> bool:
    """Change on hand by ``delta`` unless that leaves it below reserved; whether it was applied."""
    s = stock.c
    if delta > 0:
        receive(conn, [(loc, sku, delta)])
        return True
    done = conn.execute(
        stock.update()
        .where(s.location == loc, s.sku == sku, s.on_hand + delta >= s.reserved)
        .values(on_hand=s.on_hand + delta)
    )
    return done.rowcount == 1


def current(conn: Connection, loc: str, sku: str, lock: bool = True) -> tuple[int, int, int]:
    """(on hand, reserved, safety) of one cell, zeros when it has no row; locked for update on PostgreSQL."""
    s = stock.c
    query = select(s.on_hand, s.reserved, s.safety).where(s.location == loc, s.sku == sku)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return (0, 0, 0) if row is None else (int(row[0]), int(row[1]), int(row[2]))


def set_safety(conn: Connection, loc: str, sku: str, qty: int) -> None:
    """Set the safety stock of one cell (the row is created if needed)."""
    stmt = _insert(conn)(stock).values(location=loc, sku=sku, on_hand=0, reserved=0, safety=qty)
    conn.execute(stmt.on_conflict_do_update(index_elements=["location", "sku"], set_={"safety": qty}))


def journal(conn: Connection, at_hours: float, kind: MovementKind, cells: Sequence[Cell], ref: str) -> None:
    """Append movements (one per cell) to the journal."""
    if cells:
        conn.execute(
            movements.insert(),
            [
                {
                    "at_hours": at_hours,
                    "kind": kind.value,
                    "location": loc,
                    "sku": sku,
                    "qty": qty,
                    "ref": ref,
                }
                for loc, sku, qty in cells
            ],
        )


def journal_totals(conn: Connection) -> dict[tuple[str, str], dict[str, int]]:
    """Per (location, SKU) the sum of each movement kind's quantities (for balance checks)."""
    m = movements.c
    out: dict[tuple[str, str], dict[str, int]] = {}
    rows = conn.execute(
        select(m.location, m.sku, m.kind, func.sum(m.qty)).group_by(m.location, m.sku, m.kind)
    )
    for loc, sku, kind, qty in rows:
        out.setdefault((loc, sku), {})[kind] = int(qty)
    return out
