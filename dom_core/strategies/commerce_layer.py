"""Commerce Layer's inventory-model strategies, honouring location priority and the cutoff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dom_core.carriers import Objective
from dom_core.strategies.base import Plan, SourcingContext, register, walk

NO_TRANSFER = "no transfer can bring it: the carrier catalogue has no transfer service"


def _primary_ships_and_pulls(ctx: SourcingContext, plan: Plan) -> Plan:
    """Ship everything from the primary (position 0), pulling missing units by transfer from others
    (none when the carrier catalogue offers no transfers: the primary ships what it holds)."""
    pulls = ctx.carriers.transfer() is not None
    limit = min(ctx.model.cutoff, len(ctx.cand)) if pulls else 1
    stock = ctx.stock(range(limit))
    plan.considered = list(range(limit))
    for i, need in enumerate(ctx.line_qty):
        r = ctx.line_row[i]
        take = min(stock[0][r], need)
        if take:
            plan.take(0, i, take)
            stock[0][r] -= take
            need -= take
        for j in range(1, limit):
            if need == 0:
                break
            moved = min(stock[j][r], need)
            if moved:
                plan.transfers.append((j, 0, i, moved))
                plan.take(0, i, moved)
                stock[j][r] -= moved
                need -= moved
    plan.shortfall = (
        f"primary plus transfers from the first {limit} locations lack stock"
        if pulls
        else f"the primary lacks stock and {NO_TRANSFER}"
    )
    return plan


@register("no_split")
@dataclass(frozen=True)
class NoSplit:
    """Only the primary location is checked; it ships what it has in one shipment."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Take every line from the primary, never splitting."""
        plan = walk(ctx, [0], max_shipments=1)
        plan.why = f"no_split: only the primary {ctx.network.locations[ctx.cand[0]].id} is checked"
        plan.shortfall = "no_split: the primary location lacks stock"
        return plan


@register("split_shipments")
@dataclass(frozen=True)
class SplitShipments:
    """Walk locations in priority order; split into one shipment per location as stock needs."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Priority walk over the first ``cutoff`` locations."""
        plan = walk(ctx, range(min(ctx.model.cutoff, len(ctx.cand))))
        plan.why = "split_shipments: locations in priority order, split as availability needs"
        return plan


@register("split_by_line_items")
@dataclass(frozen=True)
class SplitByLineItems:
    """Like split_shipments, but each line ships whole from one location."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Priority walk taking only whole lines."""
        plan = walk(ctx, range(min(ctx.model.cutoff, len(ctx.cand))), whole_lines=True)
        plan.why = (
            "split_by_line_items: each line whole from the first location in priority order that has it"
        )
        if plan.shortfall.startswith("not enough"):
            plan.shortfall = "no location within the cutoff holds the whole line"
        return plan


@register("ship_from_primary")
@dataclass(frozen=True)
class ShipFromPrimary:
    """Everything ships from the primary; missing stock is first transferred there from the others."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Primary ships, others transfer to it."""
        plan = _primary_ships_and_pulls(ctx, Plan())
        primary = ctx.network.locations[ctx.cand[0]].id
        pulls = "others transfer to it" if ctx.carriers.transfer() is not None else "no transfer service"
        plan.why = f"ship_from_primary: {primary} ships, {pulls}"
        return plan


@register("ship_from_first_available_or_primary")
@dataclass(frozen=True)
class ShipFromFirstAvailableOrPrimary:
    """Ship from the first location (in priority order) holding the whole order, else from the primary."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """First full location, or primary with transfers."""
        limit = min(ctx.model.cutoff, len(ctx.cand))
        covers = ctx.covers_order()[:limit]
        hits = np.flatnonzero(covers)
        if hits.size:
            j = int(hits[0])
            plan = walk(ctx, [j], max_shipments=1)
            plan.considered = list(range(j + 1))
            first = ctx.network.locations[ctx.cand[j]].id
            plan.why = f"first location in priority order with the whole order: {first}"
            return plan
        plan = _primary_ships_and_pulls(ctx, Plan())
        pulls = (
            "with transfers" if ctx.carriers.transfer() is not None else "what it holds (no transfer service)"
        )
        plan.why = f"no location holds the whole order: the primary ships {pulls}"
        return plan
