"""The fulfilment network: locations, catalogue, markets, channels and inventory models."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dom_core.errors import DomError, UnknownLocationError, UnknownSkuError
from dom_core.geo import (
    FloatArray,
    haversine_prepared_few_km,
    haversine_prepared_grid_km,
    haversine_prepared_km,
)
from dom_core.model import Capability, Location, Sku

if TYPE_CHECKING:
    from dom_core.rules import Filter
    from dom_core.strategies.base import Strategy

# Nearness keys (minus a cosine) further apart than this order the computed distances strictly: their gap
# is a central angle over 1e-11 rad (6 cm) larger, while the dot product's and the haversine's rounding
# errors stay below 1e-14 in key units.
NEAR_TIE = 1e-11
# Points kept by the per-point caches: a simulation replication's customers are looked up again by every
# strategy run on it (and by their returns), so its ~50,000 points should fit.
POINT_CACHE_SIZE = 65_536


@lru_cache(maxsize=POINT_CACHE_SIZE, typed=True)
def _rounded_point(lat: float, lon: float) -> tuple[float, float]:
    return round(lat, 5), round(lon, 5)


@dataclass(frozen=True, slots=True)
class InventoryModel:
    """Which locations may serve a market/channel, in which priority, with which strategy.

    Commerce Layer calls this an inventory model, Magento MSI a stock. ``cutoff`` is the most
    locations the strategy considers (after its own ranking); ``max_shipments`` the most shipments
    (distinct shipping locations) one order may be split into.
    """

    name: str
    market: str
    channels: frozenset[str]
    locations: tuple[str, ...]
    strategy: Strategy | None = None
    cutoff: int = 10
    max_shipments: int = 10
    return_locations: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()

    def __post_init__(self) -> None:
        if self.cutoff < 1:
            raise DomError(f"inventory_model[{self.name}].cutoff", "must be >= 1")
        if self.max_shipments < 1:
            raise DomError(f"inventory_model[{self.name}].max_shipments", "must be >= 1")
        if not self.locations:
            raise DomError(f"inventory_model[{self.name}].locations", "needs at least one location")
        for i, loc_id in enumerate(self.locations):  # listed twice, a location would promise its stock twice
            if loc_id in self.locations[:i]:
                raise DomError(
                    f"inventory_model[{self.name}].locations[{i}]", f"duplicate location {loc_id!r}"
                )


@dataclass(slots=True)
class Network:
    """Locations and SKUs with dense integer indices, plus the inventory models per market/channel."""

    locations: tuple[Location, ...]
    skus: tuple[Sku, ...]
    inventory_models: tuple[InventoryModel, ...] = ()
    loc_index: dict[str, int] = field(init=False)
    sku_index: dict[str, int] = field(init=False)
    lats: FloatArray = field(init=False)
    lons: FloatArray = field(init=False)
    weights: FloatArray = field(init=False)
    cutoff_hours: FloatArray = field(init=False)  # per location, for vectorised carrier quotes
    handling_per_order: FloatArray = field(init=False)
    handling_per_line: FloatArray = field(init=False)
    _rad_lats: FloatArray = field(init=False, repr=False)  # radians and cosines of lats, for haversine
    _cos_lats: FloatArray = field(init=False, repr=False)
    _trig_rows: list[tuple[float, float, float]] = field(init=False, repr=False)  # (rad lat, cos lat, lon)
    _neg_unit: FloatArray = field(init=False, repr=False)  # minus each location's unit vector, (n, 3)
    _model_by_key: dict[tuple[str, str], InventoryModel] = field(init=False)
    _distances: dict[tuple[float, float], FloatArray] = field(init=False, repr=False)
    _distance_points: deque[tuple[float, float]] = field(init=False, repr=False)  # the keys, oldest first
    _nearness_cache: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.loc_index = _index([loc.id for loc in self.locations], "locations")
        self.sku_index = _index([sku.id for sku in self.skus], "skus")
        self.lats = np.array([loc.lat for loc in self.locations], dtype=np.float64)
        self.lons = np.array([loc.lon for loc in self.locations], dtype=np.float64)
        self.weights = np.array([sku.weight_kg for sku in self.skus], dtype=np.float64)
        self.cutoff_hours = np.array([loc.cutoff_hour for loc in self.locations], dtype=np.float64)
        self.handling_per_order = np.array(
            [loc.handling_cost_per_order for loc in self.locations], dtype=np.float64
        )
        self.handling_per_line = np.array(
            [loc.handling_cost_per_line for loc in self.locations], dtype=np.float64
        )
        self._rad_lats = np.radians(self.lats)
        self._cos_lats = np.cos(self._rad_lats)
        self._trig_rows = list(
            zip(self._rad_lats.tolist(), self._cos_lats.tolist(), self.lons.tolist(), strict=True)
        )
        rad_lons = np.radians(self.lons)
        unit = np.column_stack(
            (self._cos_lats * np.cos(rad_lons), self._cos_lats * np.sin(rad_lons), np.sin(self._rad_lats))
        )
        self._neg_unit = np.ascontiguousarray(-unit)
        self._model_by_key = {}
        _index([model.name for model in self.inventory_models], "inventory_models", "name")
        for model in self.inventory_models:
            for i, loc_id in enumerate(model.locations):
                if loc_id not in self.loc_index:
                    raise UnknownLocationError(
                        f"inventory_model[{model.name}].locations[{i}]", f"unknown location {loc_id!r}"
                    )
            for i, loc_id in enumerate(model.return_locations):
                if loc_id not in self.loc_index:
                    raise UnknownLocationError(
                        f"inventory_model[{model.name}].return_locations[{i}]", f"unknown location {loc_id!r}"
                    )
            for channel in model.channels:
                key = (model.market, channel)
                if key in self._model_by_key:
                    raise DomError(
                        f"inventory_model[{model.name}].channels",
                        f"market {model.market!r} channel {channel!r} already served by "
                        f"{self._model_by_key[key].name!r}",
                    )
                self._model_by_key[key] = model
        self._distances = {}
        self._distance_points = deque()
        self._nearness_cache = lru_cache(maxsize=POINT_CACHE_SIZE)(self._nearness_uncached)

    def location(self, loc_id: str) -> Location:
        """The location with this id, or an UnknownLocationError."""
        try:
            return self.locations[self.loc_index[loc_id]]
        except KeyError:
            raise UnknownLocationError("location", f"unknown location {loc_id!r}") from None

    def sku(self, sku_id: str) -> Sku:
        """The SKU with this id, or an UnknownSkuError."""
        try:
            return self.skus[self.sku_index[sku_id]]
        except KeyError:
            raise UnknownSkuError("sku", f"unknown SKU {sku_id!r}") from None

    def sku_idx(self, sku_id: str, field_name: str = "sku") -> int:
        """Dense index of a SKU, raising UnknownSkuError naming ``field_name``."""
        idx = self.sku_index.get(sku_id)
        if idx is None:
            raise UnknownSkuError(field_name, f"unknown SKU {sku_id!r}")
        return idx

    def loc_idx(self, loc_id: str, field_name: str = "location") -> int:
        """Dense index of a location, raising UnknownLocationError naming ``field_name``."""
        idx = self.loc_index.get(loc_id)
        if idx is None:
            raise UnknownLocationError(field_name, f"unknown location {loc_id!r}")
        return idx

    def inventory_model(self, market: str, channel: str) -> InventoryModel:
        """The inventory model serving this market and channel."""
        model = self._model_by_key.get((market, channel))
        if model is None:
            raise DomError(
                "order.market/channel", f"no inventory model serves market {market!r} channel {channel!r}"
            )
        return model

    def has_inventory_model(self, market: str, channel: str) -> bool:
        """Whether some inventory model serves this market and channel."""
        return (market, channel) in self._model_by_key

    def distances_km(self, lat: float, lon: float) -> FloatArray:
        """Great-circle km from a point to every location (cached per point; do not mutate)."""
        point = self.point(lat, lon)
        dist = self._distances.get(point)
        if dist is None:
            dist = self._distances_uncached(*point)
            self._keep_distances(point, dist)
        return dist

    def known_distances_km(self, point: tuple[float, float]) -> FloatArray | None:
        """``distances_km`` of ``point = point(lat, lon)`` if it is cached (computing nothing), else None."""
        return self._distances.get(point)

    def prime_distances(self, points: Sequence[tuple[float, float]], chunk: int = 4096) -> None:
        """Compute and cache ``distances_km`` of many ``point(lat, lon)`` points at once (equal rows, at a
        fraction of the cost of one call per point); at most as many as the cache keeps."""
        todo = list(dict.fromkeys(p for p in points if p not in self._distances))[:POINT_CACHE_SIZE]
        for start in range(0, len(todo), chunk):
            some = todo[start : start + chunk]
            grid = haversine_prepared_grid_km(some, self._rad_lats, self._cos_lats, self.lons)
            grid.setflags(write=False)
            for point, row in zip(some, grid, strict=True):
                self._keep_distances(point, row)

    def _keep_distances(self, point: tuple[float, float], row: FloatArray) -> None:
        # The oldest point comes from a queue of the keys: a dict's first key (next(iter(dict))) is found
        # by stepping over the slots of every key deleted before it: 20-28 us more per point once it was full.
        # pop(.., None): threads sharing a network may both queue a point; the cache must not fail for it.
        if point not in self._distances:
            if len(self._distances) >= POINT_CACHE_SIZE:  # forget the oldest point
                self._distances.pop(self._distance_points.popleft(), None)
            self._distance_points.append(point)
        self._distances[point] = row

    def distances_km_to(self, lat: float, lon: float, loc_idx: npt.NDArray[np.intp]) -> FloatArray:
        """Great-circle km from a point to the locations ``loc_idx``, uncached.

        Element for element equal to ``distances_km(lat, lon)[loc_idx]`` (same rounding of the point, same
        vectorised formula), but costs a few locations rather than all when only a few are needed.
        """
        return haversine_prepared_km(
            *self.point(lat, lon),
            self._rad_lats.take(loc_idx),
            self._cos_lats.take(loc_idx),
            self.lons.take(loc_idx),
        )

    @staticmethod
    def point(lat: float, lon: float) -> tuple[float, float]:
        """The point distances from (lat, lon) are computed for: rounded to 5 decimals (about a metre).

        Cached: rounding to decimals costs a few float-to-string conversions."""
        return _rounded_point(lat, lon)

    def distances_km_few(self, point: tuple[float, float], loc_idx: Sequence[int]) -> list[float]:
        """``distances_km(lat, lon)[loc_idx].tolist()`` (equal floats) for ``point = point(lat, lon)``.

        Uncached, in scalar arithmetic: cheaper than ``distances_km_to`` for a handful of locations.
        """
        rows = self._trig_rows
        return haversine_prepared_few_km(point[0], point[1], [rows[i] for i in loc_idx])

    def nearness(self, point: tuple[float, float]) -> FloatArray:
        """A key per location ordering them as ``distances_km(lat, lon)`` does, up to ``NEAR_TIE``, for
        ``point = point(lat, lon)``.

        Minus the cosine of the central angle (a dot product of unit vectors: no trigonometry per
        location). Where two keys differ by more than ``NEAR_TIE`` the distances differ the same way;
        closer keys say nothing (equal distances may have slightly different keys and vice versa).
        Cached per point, like ``distances_km``: do not mutate.
        """
        result: FloatArray = self._nearness_cache(point)
        return result

    def _nearness_uncached(self, point: tuple[float, float]) -> FloatArray:
        p, q = math.radians(point[0]), math.radians(point[1])
        cos_p = math.cos(p)
        key: FloatArray = self._neg_unit @ np.array((cos_p * math.cos(q), cos_p * math.sin(q), math.sin(p)))
        key.setflags(write=False)
        return key

    def _distances_uncached(self, lat: float, lon: float) -> FloatArray:
        dist = haversine_prepared_km(lat, lon, self._rad_lats, self._cos_lats, self.lons)
        dist.setflags(write=False)
        return dist

    def with_capability(self, capability: Capability, among: Iterable[int] | None = None) -> list[int]:
        """Indices of enabled locations with a capability, optionally restricted to ``among``."""
        pool = range(len(self.locations)) if among is None else among
        return [i for i in pool if self.locations[i].enabled and capability in self.locations[i].capabilities]


def _index(ids: Sequence[str], what: str, key: str = "id") -> dict[str, int]:
    index: dict[str, int] = {}
    for i, item_id in enumerate(ids):
        if item_id in index:
            raise DomError(f"{what}[{i}].{key}", f"duplicate {key} {item_id!r}")
        index[item_id] = i
    return index
