"""The service's tables (SQLAlchemy Core). Alembic migrations create and change them; never create_all.

Stock balances are the source of truth; the movement journal records every change to them, so the
balances can be checked against it. JSON columns hold documents the service writes and reads whole.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

rules_versions = Table(
    "rules_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("role", String(16), nullable=False),  # live | candidate (what it was stored as)
    Column("kind", String(16), nullable=False),  # rules | scenario: how the document is read
    Column("document", JSON, nullable=False),
    Column("strategy", JSON, nullable=True),  # overrides every inventory model's strategy
    Column("note", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# one row (id 1): which version decides live orders, and which one is decided beside it in shadow
rules_state = Table(
    "rules_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("live_version", Integer, nullable=False),
    Column("candidate_version", Integer, nullable=True),
)

stock = Table(
    "stock",
    metadata,
    Column("location", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("on_hand", BigInteger, nullable=False, default=0),
    Column("reserved", BigInteger, nullable=False, default=0),
    Column("safety", BigInteger, nullable=False, default=0),
    CheckConstraint("reserved >= 0 AND reserved <= on_hand AND safety >= 0", name="stock_balances"),
    Index("ix_stock_sku", "sku"),
)

inbound = Table(
    "inbound",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False),
    Column("location", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("eta", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # open | received
    Index("ix_inbound_ref", "ref"),
)

movements = Table(
    "movements",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at_hours", Float, nullable=False),
    Column("kind", String(16), nullable=False),  # dom_core.inventory.MovementKind values
    Column("location", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("ref", String(128), nullable=False),
    Index("ix_movements_ref", "ref"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("market", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # reserved | refused | shipped | cancelled | expired
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("reserved_until", DateTime(timezone=True), nullable=True),
    Column("rules_version", Integer, nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("request", JSON, nullable=False),  # the order as placed: replayable
    Column("decision", JSON, nullable=False),
    Column("explanation", JSON, nullable=True),
    Column("held", JSON, nullable=False),  # reservations still held: [[location, sku, qty], ...]
    Column("units_requested", Integer, nullable=False),
    Column("units_allocated", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("co2_kg", Float, nullable=False),
    Index("ix_orders_status", "status", "reserved_until"),
    Index("ix_orders_segment", "market", "channel", "created_at"),
    Index("ix_orders_created", "created_at"),
)

capacity = Table(
    "capacity",
    metadata,
    Column("location", String(64), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("shipments", Integer, nullable=False),
)

returns = Table(
    "returns",
    metadata,
    Column("id", String(96), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("line_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # open | received | rejected
    Column("location", String(64), nullable=True),
    Column("disposition", String(16), nullable=True),
    Column("refund", Float, nullable=False),
    Column("fee", Float, nullable=False),
    Column("decision", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=True),
    Index("ix_returns_order", "order_id", "line_id"),
)

shadow = Table(
    "shadow",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("market", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("live_version", Integer, nullable=False),
    Column("candidate_version", Integer, nullable=False),
    Column("live_strategy", String(64), nullable=False),
    Column("candidate_strategy", String(64), nullable=False),
    Column("agree", Boolean, nullable=False),
    Column("live_cost", Float, nullable=False),
    Column("candidate_cost", Float, nullable=False),
    Column("live_promise_hours", Float, nullable=True),
    Column("candidate_promise_hours", Float, nullable=True),
    Column("live_co2_kg", Float, nullable=False),
    Column("candidate_co2_kg", Float, nullable=False),
    Column("live_units", Integer, nullable=False),
    Column("candidate_units", Integer, nullable=False),
    Column("live_locations", Text, nullable=False),
    Column("candidate_locations", Text, nullable=False),
    Index("ix_shadow_segment", "market", "channel"),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
