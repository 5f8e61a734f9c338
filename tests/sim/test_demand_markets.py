"""Demand per market and channel: each segment's volume, profiles, channel and fulfilment mix, for
generated and explicit networks; segments draw independently; the single demand block is unchanged."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pydantic
import pytest

from dom_core.model import FulfilmentType
from sim.demand import generate_demand, hourly_rates
from sim.scenario import Scenario
from sim.world import World, build_world
from tests.sim.conftest import variant

FLAT = [1.0] * 24


def two_markets(segments: list[dict[str, Any]], **demand: Any) -> Scenario:
    """An explicit network of two markets (a DC and a store each), with the given segments."""
    locations = [
        {"id": "DE-DC", "kind": "dc", "lat": 50.1, "lon": 8.7, "country": "DE", "market": "DE"},
        {"id": "DE-S1", "kind": "store", "lat": 52.5, "lon": 13.4, "country": "DE", "market": "DE"},
        {"id": "FR-DC", "kind": "dc", "lat": 48.9, "lon": 2.3, "country": "FR", "market": "FR"},
        {"id": "FR-S1", "kind": "store", "lat": 45.8, "lon": 4.8, "country": "FR", "market": "FR"},
    ]
    skus = [{"id": f"K{i}"} for i in range(5)]
    stock = [{"location": loc["id"], "sku": s["id"], "on_hand": 500} for loc in locations for s in skus]
    return Scenario.model_validate(
        {
            "name": "two",
            "seed": 5,
            "horizon_days": 14,
            "network": {"locations": locations, "skus": skus, "stock": stock},
            "demand": {"segments": segments, **demand},
            "experiment": {"strategies": ["split_shipments"], "replications": 1, "workers": 1},
        }
    )


def per_market(world: World, replication: int = 0) -> dict[str, int]:
    d = generate_demand(world, replication)
    counts = np.bincount(d.market, minlength=len(world.market_names))
    return dict(zip(world.market_names, counts.tolist(), strict=True))


def test_a_market_with_twice_the_volume_gets_twice_the_orders() -> None:
    world = build_world(
        two_markets([{"market": "DE", "orders_per_day": 400}, {"market": "FR", "orders_per_day": 200}])
    )
    counts = per_market(world)
    assert counts["DE"] / counts["FR"] == pytest.approx(2.0, rel=0.08)
    assert sum(counts.values()) == pytest.approx(600 * 14, rel=0.05)
    assert world.market_share.tolist() == pytest.approx([2 / 3, 1 / 3])  # explicit network: not equal shares
    assert hourly_rates(world).sum() == pytest.approx(600 * 14)


def test_generated_markets_follow_their_segments(tiny: Scenario) -> None:
    sc = variant(
        tiny,
        generate__markets=[
            {"market": "DE", "country": "DE", "dcs": 1, "stores": 2},
            {"market": "AT", "country": "AT", "dcs": 1, "stores": 2},
        ],
        network__inventory_models=[],
        demand__orders_per_day=None,
        demand__segments=[
            {"market": "DE", "orders_per_day": 150},
            {"market": "AT", "channel": "app", "orders_per_day": 450},
        ],
    )
    world = build_world(sc)
    d = generate_demand(world, 1)
    at = d.market == world.market_names.index("AT")
    assert at.sum() / (~at).sum() == pytest.approx(3.0, rel=0.12)
    assert set(d.channel[at].tolist()) == {d.channels.index("app")}


def test_segments_have_independent_profiles_channels_and_fulfilment() -> None:
    only_ten = [0.0] * 24
    only_ten[10] = 1.0
    weekend = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    sc = two_markets(
        [
            {"market": "DE", "channel": "web", "orders_per_day": 300, "hour_profile": only_ten},
            {
                "market": "FR",
                "channel": "marketplace",
                "orders_per_day": 300,
                "weekday_profile": weekend,
                "fulfilment_mix": {"pickup_in_store": 1.0},
                "mean_lines": 3.0,
                "max_lines": 12,
            },
        ],
        hour_profile=FLAT,
    )
    world = build_world(sc)
    assert world.network.has_inventory_model("FR", "marketplace")  # default models serve every channel
    d = generate_demand(world, 0)
    de = d.market == world.market_names.index("DE")
    hours = np.floor(d.t % 24)
    assert set(hours[de].tolist()) == {10.0}
    assert len(set(hours[~de].tolist())) > 12  # FR keeps the block's flat hours
    assert set((np.floor(d.t[~de] / 24) % 7).tolist()) <= {5.0, 6.0}  # FR: weekends only
    assert len(set((np.floor(d.t[de] / 24) % 7).tolist())) == 7
    assert {d.channels[c] for c in d.channel[de].tolist()} == {"web"}
    assert {d.channels[c] for c in d.channel[~de].tolist()} == {"marketplace"}
    fr_kinds = {d.fulfilment[k] for k in np.flatnonzero(~de).tolist()}
    assert fr_kinds == {FulfilmentType.PICKUP_IN_STORE}
    n_lines = np.diff(d.line_start)
    assert n_lines[~de].mean() == pytest.approx(3.0, abs=0.15) and n_lines[de].mean() < 2.2
    assert np.all(np.diff(d.t) >= 0)  # merged in time order


def test_a_promotion_in_one_segment_leaves_the_other_alone() -> None:
    promo = [{"start_day": 7, "days": 7, "multiplier": 3.0}]
    base = [{"market": "DE", "orders_per_day": 200}, {"market": "FR", "orders_per_day": 200}]
    plain = build_world(two_markets(base))
    promoted = build_world(two_markets([base[0], {**base[1], "promotions": promo}]))
    a, b = generate_demand(plain, 0), generate_demand(promoted, 0)
    de = plain.market_names.index("DE")
    assert np.array_equal(a.t[a.market == de], b.t[b.market == de])  # DE's own stream: the same draws
    fr_a, fr_b = a.t[a.market != de], b.t[b.market != de]
    assert (fr_b >= 7 * 24).sum() / (fr_a >= 7 * 24).sum() == pytest.approx(3.0, rel=0.1)
    assert (fr_b < 7 * 24).sum() == (fr_a < 7 * 24).sum()


def test_segments_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown market 'XX'"):
        two_markets([{"market": "XX", "orders_per_day": 1}])
    with pytest.raises(pydantic.ValidationError, match="give it per segment"):
        two_markets([{"market": "DE", "orders_per_day": 1}], orders_per_day=5)
    with pytest.raises(pydantic.ValidationError, match="either channel or channels"):
        two_markets([{"market": "DE", "channel": "web", "channels": {"web": 1}, "orders_per_day": 1}])
    with pytest.raises(pydantic.ValidationError, match="listed twice"):
        two_markets([{"market": "DE", "orders_per_day": 1}, {"market": "DE", "orders_per_day": 2}])


def test_the_single_demand_block_draws_what_it_drew(tiny_world: World) -> None:
    """Seeded regression: the tiny scenario's demand stream (no segments) as before segments existed."""
    d = generate_demand(tiny_world, 0)
    h = hashlib.sha256()
    for arr in (
        d.t,
        d.market,
        d.channel,
        d.lat,
        d.lon,
        d.pickup,
        d.line_start,
        d.line_sku,
        d.line_qty,
        d.u_transit,
    ):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(",".join(f.value for f in d.fulfilment).encode())
    assert (len(d), int(d.line_start[-1])) == (1174, 2061)
    assert h.hexdigest() == PINNED


PINNED = "362083982f13a7a3adb87c87556e65809b9e70507dc2501bc551ba473d49a83a"  # on the code before segments
