"""The nearest return location found through the grid index must be the one the distances give.

Checked against a brute force (smallest ``Network.distances_km``, ties by priority, then network order)
and against the context without an index (``Network.nearness`` over every candidate), on networks full
of exact ties (shared coordinates, mirrored locations) and near-ties (a metre or two apart), at points
on the locations themselves, on cell borders, around the antimeridian and close to the poles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dom_core.inventory import InventoryLedger
from dom_core.model import Capability, Location, LocationKind, Sku
from dom_core.network import InventoryModel, Network
from dom_core.returns import (
    Grade,
    ReturnContext,
    ReturnReason,
    ReturnRequest,
    ReturnsEngine,
    _NearestIndex,
)

SKUS = (Sku("A", price=10.0),)
CELL = _NearestIndex.CELL_DEG


def _valid(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) clipped to the poles, wrapped to [-180, 180), rounded to 5 decimals."""
    return round(min(max(lat, -89.5), 89.5), 5), round((lon + 180.0) % 360.0 - 180.0, 5)


def _network(rng: np.random.Generator, n: int, centre: tuple[float, float], spread: float) -> Network:
    """``n`` locations around ``centre``: shared, mirrored and metres apart; a few refuse returns."""
    lat0, lon0 = centre
    points: list[tuple[float, float]] = []
    while len(points) < n:
        kind = rng.integers(4)
        if kind == 0 and points:
            points.append(points[int(rng.integers(len(points)))])
        elif kind == 1:
            dlat, dlon = rng.normal(0.0, spread / 4), rng.normal(0.0, spread / 4)
            points += [(lat0 + dlat, lon0 + dlon), (lat0 + dlat, lon0 - dlon)]
        elif kind == 2 and points:
            lat, lon = points[int(rng.integers(len(points)))]
            points.append((lat + rng.choice([1e-5, -1e-5, 2e-5]), lon))
        else:
            points.append((lat0 + rng.normal(0.0, spread), lon0 + rng.normal(0.0, 1.5 * spread)))
    caps = (frozenset(Capability), frozenset({Capability.SHIP_TO_HOME}))
    locs = tuple(
        Location(
            f"L{i}",
            LocationKind.STORE,
            *_valid(lat, lon),
            "DE",
            "DE",
            caps[int(rng.random() < 0.1)],
            priority=int(rng.integers(1, 4)),
        )
        for i, (lat, lon) in enumerate(points[:n])
    )
    model = InventoryModel("m", "DE", frozenset({"web"}), tuple(loc.id for loc in locs))
    return Network(locs, SKUS, (model,))


def _points(rng: np.random.Generator, net: Network, count: int) -> list[tuple[float, float]]:
    """At locations, near them, mirrored between two of them and on cell borders."""
    out = []
    for _ in range(count):
        a = net.locations[int(rng.integers(len(net.locations)))]
        b = net.locations[int(rng.integers(len(net.locations)))]
        out += [
            (a.lat, a.lon),
            _valid(a.lat + rng.normal(0, 0.3), a.lon + rng.normal(0, 0.3)),
            _valid((a.lat + b.lat) / 2, (a.lon + b.lon) / 2),
            _valid(round(a.lat / CELL) * CELL, round(a.lon / CELL) * CELL),
        ]
    return out


def _brute(net: Network, cand: list[int], lat: float, lon: float) -> str:
    km = net.distances_km(lat, lon)
    best = min(cand, key=lambda i: (km[i], net.locations[i].priority, i))
    return net.locations[best].id


def _request(lat: float, lon: float, **kw: Any) -> ReturnRequest:
    return ReturnRequest(
        "O1", "1", "A", 1, ReturnReason.CHANGED_MIND, Grade.A, lat, lon, "DE", "web", 10.0, 1.0, **kw
    )


@pytest.mark.parametrize(
    ("centre", "spread"),
    [((51.0, 10.0), 2.0), ((51.0, 10.0), 0.05), ((0.0, 0.0), 1.0), ((-60.0, 179.0), 2.0), ((88.0, 0.0), 1.0)],
)
def test_nearest_equals_the_smallest_distance(centre: tuple[float, float], spread: float) -> None:
    rng = np.random.default_rng(7)
    net = _network(rng, 60, centre, spread)
    engine = ReturnsEngine.from_spec(net, "nearest")
    ledger = InventoryLedger(net)
    cand = list(engine.candidates(net.inventory_models[0]))
    for lat, lon in _points(rng, net, 60):
        expected = _brute(net, cand, lat, lon)
        for explain in (False, True):
            assert engine.decide(_request(lat, lon), ledger, explain).location == expected, (lat, lon)
        arrays = engine._arrays(net.inventory_models[0])
        plain = ReturnContext(_request(lat, lon), net, ledger, 0, arrays.idx, arrays.priority, arrays.members)
        assert net.locations[plain.nearest()].id == expected


def test_index_keeps_every_location_that_can_be_nearest_in_a_cell() -> None:
    rng = np.random.default_rng(3)
    net = _network(rng, 80, (48.0, 8.0), 3.0)
    index = _NearestIndex(net, np.arange(len(net.locations)))
    for lat, lon in _points(rng, net, 100):
        km = net.distances_km(lat, lon)
        index.nearest(lat, lon)
        kept = index._cells[(int(np.floor(lat / CELL)), int(np.floor(lon / CELL)))]
        assert set(np.flatnonzero(km == km.min()).tolist()) <= set(kept)
        at = index.nearest(lat, lon)
        assert at is None or km[at] == km.min()


def test_customer_choice_and_original_shipper_fall_back_to_the_nearest() -> None:
    rng = np.random.default_rng(11)
    net = _network(rng, 40, (51.0, 10.0), 1.0)
    ledger = InventoryLedger(net)
    cand = list(ReturnsEngine(net).candidates(net.inventory_models[0]))
    refuses = next(loc.id for loc in net.locations if Capability.ACCEPT_RETURNS not in loc.capabilities)
    for policy, key in (("customer_choice", "requested_location"), ("original_shipper", "shipped_from")):
        engine = ReturnsEngine.from_spec(net, policy)
        for lat, lon in _points(rng, net, 20):
            d = engine.decide(_request(lat, lon, **{key: refuses}), ledger, explain=False)
            assert d.location == _brute(net, cand, lat, lon)
