"""Eligibility filters: rules that remove candidate locations before a strategy ranks them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from dom_core.capacity import CapacityBook
from dom_core.model import LocationKind
from dom_core.registry import Registry
from dom_core.strategies.base import SourcingContext

Mask = npt.NDArray[np.bool_]


class Filter(Protocol):
    """Keeps or removes each candidate of a context."""

    name: ClassVar[str]

    def keep(self, ctx: SourcingContext, capacity: CapacityBook | None) -> Mask:
        """True for candidates that stay."""
        ...


FILTERS = Registry("filter")
register_filter = FILTERS.register


@register_filter("max_distance")
@dataclass(frozen=True)
class MaxDistance:
    """Remove locations (optionally only of some kinds) farther than ``km`` from the destination."""

    km: float
    kinds: tuple[LocationKind, ...] = ()
    name: ClassVar[str]

    def keep(self, ctx: SourcingContext, capacity: CapacityBook | None) -> Mask:
        """Within the radius, or of a kind the rule does not apply to."""
        near: Mask = ctx.dist <= self.km
        if self.kinds:
            applies = np.array([ctx.network.locations[i].kind in self.kinds for i in ctx.cand], dtype=bool)
            near = near | ~applies
        return near


@register_filter("in_stock")
@dataclass(frozen=True)
class InStock:
    """Remove locations holding none of the order's SKUs."""

    name: ClassVar[str]

    def keep(self, ctx: SourcingContext, capacity: CapacityBook | None) -> Mask:
        """Some ATP for at least one line."""
        has: Mask = np.asarray((ctx.atp > 0).any(axis=0), dtype=bool)
        return has


@register_filter("capacity_left")
@dataclass(frozen=True)
class CapacityLeft:
    """Remove locations that reached their daily pick capacity (HotWax's order limit per facility)."""

    share: float = 1.0  # fraction of pick_capacity_per_day that sourcing may use
    name: ClassVar[str]

    def keep(self, ctx: SourcingContext, capacity: CapacityBook | None) -> Mask:
        """Assigned today below share x capacity."""
        if capacity is None:
            return np.ones(len(ctx.cand), dtype=bool)
        locs = ctx.network.locations
        return np.array(
            [capacity.assigned(i, ctx.now) < self.share * locs[i].pick_capacity_per_day for i in ctx.cand],
            dtype=bool,
        )


@register_filter("same_market")
@dataclass(frozen=True)
class SameMarket:
    """Remove locations outside the order's market (no cross-border shipping)."""

    name: ClassVar[str]

    def keep(self, ctx: SourcingContext, capacity: CapacityBook | None) -> Mask:
        """Location market equals order market."""
        market = ctx.order.market
        return np.array([ctx.network.locations[i].market == market for i in ctx.cand], dtype=bool)


@register_filter("exclude_kinds")
@dataclass(frozen=True)
class ExcludeKinds:
    """Remove locations of the listed kinds (e.g. keep stores out of web fulfilment)."""

    kinds: tuple[LocationKind, ...]
    name: ClassVar[str]

    def keep(self, ctx: SourcingContext, capacity: CapacityBook | None) -> Mask:
        """Kind not listed."""
        return np.array([ctx.network.locations[i].kind not in self.kinds for i in ctx.cand], dtype=bool)


def build_filter(spec: str | Mapping[str, Any], field: str = "filters") -> Filter:
    """Build a filter from its name or ``{kind: name, **parameters}``; errors name the field."""
    built: Filter = FILTERS.build(spec, field)
    return built
