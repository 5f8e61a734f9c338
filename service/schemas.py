"""Request bodies of the API (pydantic): every field checked, a 422 naming the field otherwise."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from dom_core.model import FulfilmentType
from dom_core.returns import Grade, ReturnReason

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-/]+$")]
OrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]  # a path segment
Qty = Annotated[StrictInt, Field(gt=0, le=1_000_000)]
MAX_ITEMS = 10_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderLineIn(_Body):
    """One order line."""

    line_id: Id
    sku: Id
    qty: Qty


class OrderIn(_Body):
    """An order to source. ``created_at`` defaults to now; a past time replays a historical order."""

    id: OrderId
    market: Id
    channel: Id
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)
    fulfilment: FulfilmentType = FulfilmentType.HOME_DELIVERY
    pickup_location: Id | None = Field(default=None, validate_default=True)
    max_delivery_days: float | None = Field(default=None, gt=0)
    created_at: AwareDatetime | None = None

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, lines: list[OrderLineIn]) -> list[OrderLineIn]:
        ids = [ln.line_id for ln in lines]
        if len(set(ids)) != len(ids):
            raise ValueError("line_id must be unique within the order")
        return lines

    @field_validator("pickup_location")
    @classmethod
    def _store_when_needed(cls, value: str | None, info: ValidationInfo) -> str | None:
        fulfilment = info.data.get("fulfilment")
        if value is None and fulfilment in (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE):
            raise ValueError(f"required for {fulfilment.value}")
        return value


class StockCell(_Body):
    """Units of one SKU at one location."""

    location: Id
    sku: Id
    qty: Qty


class StockReceipt(_Body):
    """Units that arrived (bulk)."""

    items: list[StockCell] = Field(min_length=1, max_length=MAX_ITEMS)
    ref: Id = "receipt"


class StockDelta(_Body):
    """A count correction of one cell: positive found, negative shrinkage or damage."""

    location: Id
    sku: Id
    delta: StrictInt = Field(ge=-1_000_000, le=1_000_000)

    @field_validator("delta")
    @classmethod
    def _nonzero(cls, delta: int) -> int:
        if delta == 0:
            raise ValueError("must not be 0")
        return delta


class StockAdjustment(_Body):
    """Count corrections (bulk, all or nothing)."""

    items: list[StockDelta] = Field(min_length=1, max_length=MAX_ITEMS)
    ref: Id = "adjust"


class StockLevel(_Body):
    """The counted on hand (and optionally safety stock) of one cell."""

    location: Id
    sku: Id
    on_hand: StrictInt = Field(ge=0, le=1_000_000_000)
    safety: StrictInt | None = Field(default=None, ge=0, le=1_000_000_000)


class StockLevels(_Body):
    """Counted levels (bulk, all or nothing): on hand moves by the difference, journalled."""

    items: list[StockLevel] = Field(min_length=1, max_length=MAX_ITEMS)
    ref: Id = "count"


class InboundLine(_Body):
    """Units expected at a location."""

    location: Id
    sku: Id
    qty: Qty


class InboundIn(_Body):
    """An expected receipt (purchase order or transfer) with its ETA."""

    ref: Id
    eta: AwareDatetime
    items: list[InboundLine] = Field(min_length=1, max_length=MAX_ITEMS)


class RulesIn(_Body):
    """A rules version: a document (a rules or scenario file as JSON; default: the live one) and an
    optional strategy overriding every inventory model's (a name or ``{kind: name, ...}``)."""

    document: dict[str, Any] | None = None
    strategy: str | dict[str, Any] | None = None
    note: str = Field(default="", max_length=500)


class ShipIn(_Body):
    """Confirm shipment: every held reservation, or only those at ``location``."""

    location: Id | None = None


class ExpireIn(_Body):
    """Release reservations whose hold ran out by ``now`` (default: the current time)."""

    now: AwareDatetime | None = None


class ReturnIn(_Body):
    """A customer return of units of one shipped order line."""

    order_id: OrderId
    line_id: Id
    qty: Qty
    reason: ReturnReason
    grade: Grade
    days_since_delivery: float = Field(default=0.0, ge=0, le=3650)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    requested_location: Id | None = None
    id: Id | None = None


def iso(at: datetime | None) -> str | None:
    """ISO text of a time (None stays None)."""
    return None if at is None else at.isoformat()
