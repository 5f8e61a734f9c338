"""The fulfilment literature's test network (Jasin and Sinha, 2015; Ma, 2023), built with dom_core objects.

Five US fulfilment centres, ten demand cities (population-weighted), twenty items with city-specific
popularity, orders of 1-5 distinct items (one unit each) arriving uniformly over the horizon, a fixed
starting stock and no replenishment. Shipping uses the linear parcel cost (8.759 per package + 0.423
per item + 0.000541 per item-mile, ``LinearRateCard``) and no handling cost, so the bounds' affine
costs are exact. Stock per item is ``stock_factor`` x its expected demand, placed at the FCs nearest
to where it sells with random imbalance, so myopic sourcing has to split and cross-ship late in the
horizon. Randomness comes from ``random.Random(seed)`` only (dom_core keeps numpy generators out).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from dom_core.carriers import CarrierCatalog, CarrierService, LinearRateCard, Mode, TransitTime
from dom_core.geo import haversine_km
from dom_core.inventory import InventoryLedger
from dom_core.model import HOURS_PER_DAY, Capability, Location, LocationKind, Order, OrderLine, Sku
from dom_core.network import InventoryModel, Network

FCS = (("FC-Allentown", 40.60, -75.49), ("FC-Atlanta", 33.75, -84.39), ("FC-Dallas", 32.78, -96.80),
       ("FC-Reno", 39.53, -119.81), ("FC-Indianapolis", 39.77, -86.16))
CITIES = (  # (name, lat, lon, population in millions)
    ("New York", 40.71, -74.01, 8.3), ("Los Angeles", 34.05, -118.24, 3.9), ("Chicago", 41.88, -87.63, 2.7),
    ("Houston", 29.76, -95.37, 2.3), ("Phoenix", 33.45, -112.07, 1.6), ("Philadelphia", 39.95, -75.17, 1.6),
    ("Seattle", 47.61, -122.33, 0.75), ("Miami", 25.76, -80.19, 0.45), ("Denver", 39.74, -104.99, 0.7),
    ("Boston", 42.36, -71.06, 0.68),
)


@dataclass
class Instance:
    """A generated instance: network, carriers, starting stock, the realised orders and the forecast."""

    network: Network
    carriers: CarrierCatalog
    ledger: InventoryLedger
    orders: list[Order]
    forecast: list[tuple[Order, float]]  # order types (a sample of the distribution) with expected counts
    horizon_hours: float


def linear_carriers() -> CarrierCatalog:
    """One ground service and a transfer service, both priced with the literature's ``LinearRateCard``."""
    card = LinearRateCard()
    return CarrierCatalog((
        CarrierService("ground", Mode.ROAD, card, TransitTime(1.0, 2.0, 4.0, 0.5), max_kg=1000.0),
        CarrierService("store_transfer", Mode.TRANSFER, card, TransitTime(1.0, 2.0, 3.0, 0.5), max_kg=1000.0),
    ))


def _network(n_fcs: int, n_items: int) -> Network:
    caps = frozenset({Capability.SHIP_TO_HOME, Capability.ACCEPT_RETURNS})
    locs = tuple(
        Location(name, LocationKind.DC, lat, lon, "US", "US", caps, 100_000, 18.0, 0.0, 0.0, k + 1)
        for k, (name, lat, lon) in enumerate(FCS[:n_fcs])
    )
    skus = tuple(Sku(f"I{k:02d}", 0.5) for k in range(n_items))
    model = InventoryModel("us", "US", frozenset({"web"}), tuple(loc.id for loc in locs), cutoff=n_fcs,
                           max_shipments=n_fcs)
    return Network(locs, skus, (model,))


def _draw_orders(
    rng: random.Random, n: int, pop: list[list[float]], prefix: str, horizon: float, max_items: int
) -> list[Order]:
    city_w = [c[3] for c in CITIES[:len(pop)]]
    times = sorted(rng.uniform(0.0, horizon) for _ in range(n))
    out = []
    for k, t in enumerate(times):
        c = rng.choices(range(len(pop)), weights=city_w)[0]
        size = rng.randint(1, max_items)
        weights = list(pop[c])
        items: list[int] = []
        for _ in range(size):  # without replacement, by popularity
            i = rng.choices(range(len(weights)), weights=weights)[0]
            items.append(i)
            weights[i] = 0.0
        _, lat, lon, _ = CITIES[c]
        lines = tuple(OrderLine(str(n_line + 1), f"I{i:02d}", 1) for n_line, i in enumerate(sorted(items)))
        out.append(Order(f"{prefix}{k:05d}", "US", "web", t, lat, lon, lines))
    return out


def jasin_sinha(
    n_orders: int = 10_000,
    seed: int = 0,
    *,
    n_items: int = 20,
    n_cities: int = 10,
    n_fcs: int = 5,
    max_items: int = 5,
    stock_factor: float = 1.0,
    horizon_days: float = 10.0,
    forecast_sample: int = 2000,
) -> Instance:
    """Generate an instance; ``forecast`` is an independent sample with counts scaled to ``n_orders``."""
    rng = random.Random(seed)
    network = _network(n_fcs, n_items)
    base = [1.0 / (k + 1) ** 0.6 for k in range(n_items)]
    pop = [[b * rng.uniform(0.4, 1.6) for b in base] for _ in range(n_cities)]
    horizon = horizon_days * HOURS_PER_DAY
    orders = _draw_orders(rng, n_orders, pop, "JS", horizon, max_items)
    sample = _draw_orders(random.Random(seed + 7919), forecast_sample, pop, "F", horizon, max_items)
    forecast = [(o, n_orders / forecast_sample) for o in sample]
    expected = np.zeros((n_items, n_fcs))  # expected units per item, at the FC nearest to the city
    for o, w in forecast:
        near = min(range(n_fcs), key=lambda j: haversine_km(o.lat, o.lon, FCS[j][1], FCS[j][2]))
        for line in o.lines:
            expected[network.sku_index[line.sku], near] += w
    on_hand = np.zeros((n_items, n_fcs), dtype=np.int64)
    for s in range(n_items):
        share = expected[s] * np.array([rng.lognormvariate(0.0, 0.6) for _ in range(n_fcs)]) + 1e-9
        total = stock_factor * expected[s].sum()
        raw = total * share / share.sum()
        units = np.floor(raw).astype(np.int64)
        rest = round(total) - int(units.sum())
        for j in np.argsort(-(raw - units), kind="stable")[:max(0, rest)]:
            units[j] += 1
        on_hand[s] = units
    ledger = InventoryLedger(network, record=False)
    ledger.load_balances(on_hand, np.zeros_like(on_hand))
    return Instance(network, linear_carriers(), ledger, orders, forecast, math.ceil(horizon))
