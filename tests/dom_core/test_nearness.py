"""Distance shortcuts must give exactly what the full haversine arrays give.

``Network.distances_km_few`` (scalar haversine), ``SourcingContext.nearest`` and the ranked strategy's
nearness-key ranking are checked element for element (and position for position) against
``Network.distances_km`` and stable sorts of it, on networks full of exact ties (locations sharing
coordinates, or mirrored around the customer) and near-ties (a few metres apart).
"""

from __future__ import annotations

import numpy as np
import pytest

from dom_core.carriers import default_services
from dom_core.inventory import InventoryLedger
from dom_core.model import Capability, Location, LocationKind, Order, OrderLine, Sku
from dom_core.network import InventoryModel, Network
from dom_core.strategies.base import SourcingContext
from dom_core.strategies.ranked import RankingRule, _first, _rank, _ranking

SKUS = (Sku("A", weight_kg=1.0), Sku("B", weight_kg=2.0))


def _valid(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) clipped to the poles, wrapped to [-180, 180), rounded to 5 decimals."""
    return round(min(max(lat, -89.0), 89.0), 5), round((lon + 180.0) % 360.0 - 180.0, 5)


def _network(rng: np.random.Generator, n: int, centre: tuple[float, float]) -> Network:
    """``n`` locations around ``centre``: some shared coordinates, some mirrored, some metres apart."""
    lat0, lon0 = centre
    points: list[tuple[float, float]] = []
    while len(points) < n:
        kind = rng.integers(4)
        if kind == 0 and points:  # the same place as an earlier location
            points.append(points[int(rng.integers(len(points)))])
        elif kind == 1:  # mirrored around the centre's meridian: equal distances to the centre
            dlat, dlon = rng.normal(0.0, 0.5), rng.normal(0.0, 0.5)
            points += [(lat0 + dlat, lon0 + dlon), (lat0 + dlat, lon0 - dlon)]
        elif kind == 2 and points:  # a few metres from an earlier location
            lat, lon = points[int(rng.integers(len(points)))]
            points.append((lat + rng.choice([1e-5, -1e-5, 2e-5]), lon))
        else:
            points.append((lat0 + rng.normal(0.0, 2.0), lon0 + rng.normal(0.0, 3.0)))
    locs = tuple(
        Location(f"L{i}", LocationKind.STORE, *_valid(lat, lon), "DE", "DE", frozenset(Capability))
        for i, (lat, lon) in enumerate(points[:n])
    )
    model = InventoryModel("m", "DE", frozenset({"web"}), tuple(loc.id for loc in locs))
    return Network(locs, SKUS, (model,))


def _context(net: Network, lat: float, lon: float, atp: np.ndarray) -> SourcingContext:
    order = Order("O1", "DE", "web", 9.0, lat, lon, (OrderLine("1", "A", 2), OrderLine("2", "B", 1)))
    return SourcingContext(
        order=order, network=net, model=net.inventory_models[0], ledger=InventoryLedger(net),
        carriers=default_services(), now=9.0, dest_lat=lat, dest_lon=lon, deadline=None, line_qty=[2, 1],
        line_kg=[1.0, 2.0], line_row=[0, 1], row_sku=[0, 1], cand=np.arange(len(net.locations)), atp=atp,
    )


def _destinations(rng: np.random.Generator, net: Network, count: int) -> list[tuple[float, float]]:
    """Random points, and points exactly at (or mirrored between) locations, where ties abound."""
    out = []
    for _ in range(count):
        loc = net.locations[int(rng.integers(len(net.locations)))]
        out += [(loc.lat, loc.lon), _valid(loc.lat + rng.normal(0, 1), loc.lon + rng.normal(0, 1))]
    return out


@pytest.mark.parametrize("centre", [(51.0, 10.0), (0.0, 0.0), (-60.0, 179.0)])
def test_scalar_distances_equal_the_vectorised_ones(centre: tuple[float, float]) -> None:
    rng = np.random.default_rng(1)
    net = _network(rng, 120, centre)
    for lat, lon in [*_destinations(rng, net, 40), _valid(-centre[0], centre[1] - 180.0)]:  # antipode too
        full = net.distances_km(lat, lon)
        idx = rng.integers(0, len(net.locations), 7).tolist()
        assert net.distances_km_few(net.point(lat, lon), idx) == full.take(idx).tolist()
        assert net.distances_km_few(net.point(lat, lon), range(len(full))) == full.tolist()


@pytest.mark.parametrize("n", [1, 2, 12, 200, 300])
def test_nearest_is_the_stable_distance_order(n: int) -> None:
    rng = np.random.default_rng(n)
    net = _network(rng, n, (51.0, 10.0))
    atp = np.zeros((2, n), dtype=np.int64)
    for lat, lon in _destinations(rng, net, 30):
        dist = net.distances_km(lat, lon)
        for k in sorted({1, 2, min(10, n), n}):
            expected = np.argsort(dist, kind="stable")[:k].tolist()
            assert _context(net, lat, lon, atp).nearest(k) == expected


RULES = [
    (RankingRule.MINIMISE_SPLITS, RankingRule.CLOSEST),
    (RankingRule.CLOSEST,),
    (RankingRule.HIGHEST_STOCK, RankingRule.CLOSEST),
    (RankingRule.CLOSEST, RankingRule.HIGHEST_STOCK),
    (RankingRule.IN_MARKET, RankingRule.MINIMISE_SPLITS, RankingRule.CLOSEST),
]


@pytest.mark.parametrize("rules", RULES, ids=lambda r: ",".join(x.value for x in r))
def test_ranking_by_nearness_is_the_ranking_by_distance(rules: tuple[RankingRule, ...]) -> None:
    rng = np.random.default_rng(7)
    n = 60
    net = _network(rng, n, (51.0, 10.0))
    for lat, lon in _destinations(rng, net, 40):
        atp = rng.integers(0, 3, size=(2, n)).astype(np.int64)  # few stock levels: many ties
        for k in (1, 3, 10):
            exact = _context(net, lat, lon, atp)
            expected = _rank(exact, rules, exact.units_coverable(), k, exact=True)
            ctx = _context(net, lat, lon, atp)
            assert _ranking(ctx, rules, ctx.units_coverable(), k) == expected
            ctx = _context(net, lat, lon, atp)
            assert expected is not None and _first(ctx, rules, ctx.units_coverable()) == expected[0]


def test_cached_points_and_nearness_keys_are_the_computed_ones() -> None:
    rng = np.random.default_rng(7)
    net = _network(rng, 30, (51.0, 10.0))
    for lat, lon in _destinations(rng, net, 20):
        for raw in ((lat + 1.234567e-6, lon - 7.654321e-6), (lat, lon)):
            point = net.point(*raw)
            assert point == (round(raw[0], 5), round(raw[1], 5))
            assert net.point(*raw) is point  # cached: asked again, not rounded again
            keys = net.nearness(point)
            assert np.array_equal(keys, net._nearness_uncached(point))
            assert net.nearness(point) is keys
            with pytest.raises(ValueError, match="read-only"):
                keys[0] = 0.0  # shared by every later caller: nobody may change it
    # an int is rounded as an int (the cache keeps ints and floats apart), as round() does
    assert net.point(52, 13) == (52, 13) and type(net.point(52, 13)[0]) is int
    assert type(net.point(52.0, 13.0)[0]) is float


def test_shipping_distances_are_read_from_a_cached_row_when_there_is_one() -> None:
    rng = np.random.default_rng(11)
    net = _network(rng, 40, (51.0, 10.0))
    atp = np.zeros((2, 40), dtype=np.int64)
    for lat, lon in _destinations(rng, net, 10):
        point = net.point(lat, lon)
        picks = rng.integers(0, 40, 3).tolist()
        if net.known_distances_km(point) is None:
            assert _context(net, lat, lon, atp).dist_of(picks) == net.distances_km_few(point, picks)
        row = net.distances_km(lat, lon)
        assert net.known_distances_km(point) is row
        assert _context(net, lat, lon, atp).dist_of(picks) == row.take(picks).tolist()


@pytest.mark.parametrize("centre", [(51.0, 10.0), (0.0, 0.0), (-60.0, 179.0)])
def test_distances_primed_at_once_equal_those_computed_one_by_one(centre: tuple[float, float]) -> None:
    rng = np.random.default_rng(5)
    net = _network(rng, 57, centre)  # not a multiple of any vector width
    points = [net.point(*p) for p in _destinations(rng, net, 150)]
    points.append(net.point(-centre[0], centre[1] - 180.0))  # the antipode
    first = net.distances_km(*points[0])
    net.prime_distances([*points, points[1]], chunk=64)  # duplicates and known points are fine
    assert net.known_distances_km(points[0]) is first  # kept, not recomputed
    for point in points:
        row = net.known_distances_km(point)
        assert row is not None and not row.flags.writeable
        assert np.array_equal(row, net._distances_uncached(*point)), point
        assert row.tolist() == net.distances_km_few(point, range(len(net.locations)))


def test_the_distance_cache_forgets_its_oldest_points_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from dom_core import network

    monkeypatch.setattr(network, "POINT_CACHE_SIZE", 8)
    net = _network(np.random.default_rng(3), 10, (51.0, 10.0))
    points = [(50.0 + k / 100, 10.0) for k in range(12)]
    net.prime_distances(points[:10])  # primes at most what the cache keeps
    assert [p for p in points if net.known_distances_km(p) is not None] == points[:8]
    net.distances_km(*points[11])  # one more: the oldest goes
    assert net.known_distances_km(points[0]) is None and net.known_distances_km(points[11]) is not None
    assert len([p for p in points if net.known_distances_km(p) is not None]) == 8


def test_the_distance_cache_keeps_the_newest_points_through_many_evictions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dom_core import network

    monkeypatch.setattr(network, "POINT_CACHE_SIZE", 8)
    net = _network(np.random.default_rng(4), 6, (51.0, 10.0))
    points = [(50.0 + k / 100, 10.0) for k in range(40)]
    net.prime_distances(points[:5], chunk=2)
    for point in points[5:30]:
        net.distances_km(*point)
    net.distances_km(*points[29])  # a point already kept is not queued twice
    net.prime_distances(points[25:35])  # five kept, five new
    assert [p for p in points if net.known_distances_km(p) is not None] == points[27:35]
    assert list(net._distance_points) == points[27:35] and len(net._distances) == 8
    for point in points[27:35]:
        assert np.array_equal(net.distances_km(*point), net._distances_uncached(*point))
