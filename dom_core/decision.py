"""What the engine decides for an order: shipments, transfers, unfulfilled lines and the explanation.

The decision and its records (shipments and their lines, transfers, unfulfilled units), made for every
order, are NamedTuples: immutable, with a dataclass's repr, at a fifth of a frozen dataclass's
construction cost. The explanation, only made on request, is built of frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class ShipmentLine(NamedTuple):
    """Units of one order line in one shipment."""

    line_id: str
    sku: str
    qty: int


class Shipment(NamedTuple):
    """One parcel flow from one location, with its carrier service, cost, promise and emissions."""

    location: str
    lines: tuple[ShipmentLine, ...]
    service: str
    destination: str  # "customer" or the pickup store id
    distance_km: float
    weight_kg: float
    shipping_cost: float
    handling_cost: float
    ship_at: float
    promised_at: float
    co2_kg: float

    @property
    def cost(self) -> float:
        """Shipping plus handling."""
        return self.shipping_cost + self.handling_cost

    @property
    def units(self) -> int:
        """Units in the shipment."""
        return sum(line.qty for line in self.lines)


class Transfer(NamedTuple):
    """A stock transfer between locations that a shipment waits for (ship-from-primary)."""

    from_location: str
    to_location: str
    sku: str
    qty: int
    cost: float
    co2_kg: float
    arrive_at: float


class Unfulfilled(NamedTuple):
    """Units of a line the engine could not serve, and why."""

    line_id: str
    sku: str
    qty: int
    reason: str


@dataclass(frozen=True, slots=True)
class CandidateNote:
    """How one candidate location fared: removed by a rule, ranked, chosen or not needed."""

    location: str
    status: str
    atp: tuple[int, ...]
    rank: int | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why the decision is what it is."""

    strategy: str
    inventory_model: str
    candidates: tuple[CandidateNote, ...]
    why: str

    def as_text(self) -> str:
        """A readable multi-line account of the decision."""
        rows = [f"strategy {self.strategy} on inventory model {self.inventory_model}: {self.why}"]
        for c in self.candidates:
            rank = f"#{c.rank}" if c.rank is not None else "-"
            score = f" score={c.score:.2f}" if c.score is not None else ""
            rows.append(f"  {rank:>4} {c.location:<12} atp={list(c.atp)} {c.status}{score}")
        return "\n".join(rows)


class Decision(NamedTuple):
    """The sourcing decision for one order.

    ``reservations`` holds (location index, SKU index, qty) of every unit to reserve, including
    transfer sources, so the ledger can apply the decision atomically.
    """

    order_id: str
    strategy: str
    inventory_model: str
    decided_at: float
    shipments: tuple[Shipment, ...]
    transfers: tuple[Transfer, ...]
    unfulfilled: tuple[Unfulfilled, ...]
    digital_lines: tuple[ShipmentLine, ...]
    reservations: tuple[tuple[int, int, int], ...]
    explanation: Explanation | None = None

    @property
    def cost(self) -> float:
        """Fulfilment cost: shipping + handling of every shipment + transfers."""
        return sum(s.cost for s in self.shipments) + sum(t.cost for t in self.transfers)

    @property
    def co2_kg(self) -> float:
        """kg CO2e of shipments and transfers."""
        return sum(s.co2_kg for s in self.shipments) + sum(t.co2_kg for t in self.transfers)

    @property
    def is_split(self) -> bool:
        """More than one shipment."""
        return len(self.shipments) > 1

    @property
    def units_allocated(self) -> int:
        """Units placed in shipments (digital lines excluded)."""
        return sum(s.units for s in self.shipments)

    @property
    def units_unfulfilled(self) -> int:
        """Units reported unfulfilled."""
        return sum(u.qty for u in self.unfulfilled)

    @property
    def promised_at(self) -> float | None:
        """The latest promise over the shipments (the order is complete then)."""
        return max((s.promised_at for s in self.shipments), default=None)
