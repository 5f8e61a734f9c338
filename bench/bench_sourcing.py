"""Sourcing throughput benchmark: orders/s of ``SourcingEngine.source`` for every registered strategy.

A synthetic German network (10 DCs + 190 stores, all capabilities), 5,000 SKUs, one inventory model
listing every location (DCs first) with cutoff 10 and max_shipments 3, and home-delivery orders of 1-5
lines (qty 1-3) from customers spread by city population. DCs hold most SKUs, stores a random subset.

Per strategy, on a fresh network (cold distance cache) and a fresh ledger:

* ``source`` (decide + reserve) is timed over ``--orders`` orders after ``--warmup`` other orders. Between
  batches of ``--batch`` orders, with the clock stopped, the batch's reservations are committed (shipped),
  the journal is drained and every (SKU, location) that fell below half its initial stock is topped up,
  so late orders are not trivially unfulfilled.
* ``decide`` alone is timed over the same orders on the initial stock (no reservations).

Every strategy is measured ``--rounds`` times (default 3), the strategies taking turns round by round, and
the table reports the median round's orders/s (a moment of load on a shared machine moves one round, not
the figure). Decisions, hence split rates and unfulfilled units, are the same in every round.

Run ``python bench/bench_sourcing.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dom_core.engine import SourcingEngine
from dom_core.inventory import InventoryLedger
from dom_core.model import Capability, FulfilmentType, Location, LocationKind, Order, OrderLine, Sku
from dom_core.network import InventoryModel, Network
from dom_core.rules import build_filter
from dom_core.strategies import available, build_strategy

RULE_BASED = (
    "no_split",
    "split_shipments",
    "split_by_line_items",
    "ship_from_primary",
    "ship_from_first_available_or_primary",
    "priority",
    "distance",
    "ranked",
)
TARGET_ORDERS_PER_S = 20_000
RESULTS = Path(__file__).resolve().parent / "results" / "sourcing.md"

# (city, lat, lon, population in thousands): the 40 largest German cities.
CITIES: tuple[tuple[str, float, float, int], ...] = (
    ("Berlin", 52.520, 13.405, 3878), ("Hamburg", 53.551, 9.994, 1892), ("Munich", 48.137, 11.576, 1512),
    ("Cologne", 50.938, 6.960, 1084), ("Frankfurt", 50.110, 8.682, 773), ("Stuttgart", 48.776, 9.183, 633),
    ("Dusseldorf", 51.228, 6.774, 629), ("Leipzig", 51.340, 12.375, 616), ("Dortmund", 51.514, 7.466, 595),
    ("Essen", 51.456, 7.012, 584), ("Bremen", 53.079, 8.802, 577), ("Dresden", 51.050, 13.738, 563),
    ("Hanover", 52.376, 9.732, 548), ("Nuremberg", 49.452, 11.077, 526), ("Duisburg", 51.432, 6.762, 503),
    ("Bochum", 51.482, 7.216, 365), ("Wuppertal", 51.256, 7.150, 358), ("Bielefeld", 52.030, 8.532, 337),
    ("Bonn", 50.737, 7.098, 336), ("Munster", 51.960, 7.626, 320), ("Mannheim", 49.487, 8.466, 316),
    ("Karlsruhe", 49.007, 8.404, 308), ("Augsburg", 48.371, 10.898, 301), ("Wiesbaden", 50.078, 8.240, 283),
    ("Mönchengladbach", 51.185, 6.442, 268), ("Gelsenkirchen", 51.517, 7.086, 263),
    ("Aachen", 50.776, 6.084, 252), ("Braunschweig", 52.269, 10.520, 251), ("Kiel", 54.323, 10.123, 248),
    ("Chemnitz", 50.828, 12.921, 248), ("Halle", 51.483, 11.970, 242), ("Magdeburg", 52.121, 11.628, 240),
    ("Freiburg", 47.999, 7.842, 237), ("Krefeld", 51.339, 6.586, 228), ("Mainz", 49.993, 8.247, 221),
    ("Lübeck", 53.866, 10.687, 218), ("Erfurt", 50.985, 11.030, 216), ("Oberhausen", 51.470, 6.852, 210),
    ("Rostock", 54.092, 12.099, 210), ("Kassel", 51.313, 9.480, 204),
)
# Distribution centres at the usual German logistics hubs (priority order).
DC_SITES: tuple[tuple[str, float, float], ...] = (
    ("Kassel", 51.30, 9.50), ("Hamm", 51.68, 7.82), ("Erfurt", 50.98, 11.03), ("Hanover", 52.37, 9.73),
    ("Duisburg", 51.43, 6.76), ("Frankfurt", 50.05, 8.57), ("Nuremberg", 49.45, 11.08),
    ("Leipzig", 51.42, 12.24), ("Hamburg", 53.55, 10.00), ("Munich", 48.25, 11.65),
)


@dataclass(frozen=True)
class Scenario:
    """The generated network, its initial stock and the order streams."""

    locations: tuple[Location, ...]
    skus: tuple[Sku, ...]
    model: InventoryModel
    stock: npt.NDArray[np.int64]  # units on hand, [sku, location]
    warmup: tuple[Order, ...]
    orders: tuple[Order, ...]


def build_scenario(
    seed: int,
    n_orders: int,
    n_warmup: int,
    *,
    n_dcs: int = 10,
    n_stores: int = 190,
    n_skus: int = 5_000,
    mixed_fulfilment: bool = False,
    filters: Sequence[str] = (),
) -> Scenario:
    """Generate the network, stock and orders from ``seed`` (numpy ``default_rng``)."""
    rng = np.random.default_rng(seed)
    everything = frozenset(Capability)
    city_lat = np.array([c[1] for c in CITIES])
    city_lon = np.array([c[2] for c in CITIES])
    city_p = np.array([c[3] for c in CITIES], dtype=np.float64)
    city_p /= city_p.sum()

    locations: list[Location] = []
    for k in range(n_dcs):
        name, lat, lon = DC_SITES[k % len(DC_SITES)]
        locations.append(Location(
            f"DC{k + 1:02d}", LocationKind.DC, lat, lon, "DE", "DE", everything,
            pick_capacity_per_day=20_000, cutoff_hour=18.0, handling_cost_per_order=1.2,
            handling_cost_per_line=0.2, priority=k + 1, name=f"DC {name}",
        ))
    store_city = rng.choice(len(CITIES), size=n_stores, p=city_p)
    for k in range(n_stores):
        c = int(store_city[k])
        lat = float(city_lat[c] + rng.normal(0.0, 0.04))
        lon = float(city_lon[c] + rng.normal(0.0, 0.06))
        locations.append(Location(
            f"S{k + 1:03d}", LocationKind.STORE, round(lat, 5), round(lon, 5), "DE", "DE", everything,
            pick_capacity_per_day=int(rng.integers(50, 300)),
            cutoff_hour=float(rng.choice([14.0, 15.0, 16.0, 17.0])), handling_cost_per_order=2.5,
            handling_cost_per_line=0.5, priority=100 + k, name=f"Store {CITIES[c][0]}",
        ))

    weights = np.clip(rng.lognormal(np.log(0.6), 0.9, size=n_skus), 0.05, 25.0)
    prices = np.round(np.clip(rng.lognormal(np.log(30.0), 0.8, size=n_skus), 2.0, 900.0), 2)
    skus = tuple(Sku(f"SKU{s:05d}", round(float(weights[s]), 3), float(prices[s])) for s in range(n_skus))
    popularity = 1.0 / np.arange(1, n_skus + 1) ** 0.8  # Zipf-like demand over a shuffled catalogue
    popularity = popularity[rng.permutation(n_skus)]
    popularity /= popularity.sum()

    n_loc = n_dcs + n_stores
    stock = np.zeros((n_skus, n_loc), dtype=np.int64)
    dc_has = rng.random((n_skus, n_dcs)) < 0.85  # DCs hold most of the catalogue
    stock[:, :n_dcs] = np.where(dc_has, rng.integers(20, 300, size=(n_skus, n_dcs)), 0)
    for j in range(n_dcs, n_loc):  # each store a random, popularity-biased assortment
        assortment = rng.choice(n_skus, size=int(rng.integers(400, 1200)), replace=False, p=popularity)
        stock[assortment, j] = rng.integers(1, 7, size=assortment.size)

    model = InventoryModel(
        "web_de", "DE", frozenset({"web"}), tuple(loc.id for loc in locations), cutoff=10, max_shipments=3,
        filters=tuple(build_filter(f) for f in filters),
    )

    def orders(n: int, prefix: str, start_hour: float) -> tuple[Order, ...]:
        created = np.sort(rng.uniform(start_hour, start_hour + 28 * 24.0, size=n))
        city = rng.choice(len(CITIES), size=n, p=city_p)
        lats = city_lat[city] + rng.normal(0.0, 0.12, size=n)
        lons = city_lon[city] + rng.normal(0.0, 0.18, size=n)
        n_lines = rng.choice(5, size=n, p=[0.45, 0.25, 0.15, 0.1, 0.05]) + 1
        express = rng.random(n) < 0.15  # promised within 2 days: carrier choice must meet the deadline
        kind = rng.random(n)
        out = []
        for o in range(n):
            sku_ids = rng.choice(n_skus, size=int(n_lines[o]), replace=False, p=popularity)
            qty = rng.integers(1, 4, size=sku_ids.size)
            lines = tuple(
                OrderLine(str(i + 1), skus[int(s)].id, int(q))
                for i, (s, q) in enumerate(zip(sku_ids, qty, strict=True))
            )
            fulfilment, pickup = FulfilmentType.HOME_DELIVERY, None
            if mixed_fulfilment and kind[o] < 0.3:
                fulfilment = (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE,
                              FulfilmentType.SHIP_FROM_STORE)[int(kind[o] * 10)]
                pickup = locations[n_dcs + int(rng.integers(n_stores))].id
            out.append(Order(
                f"{prefix}{o:06d}", "DE", "web", float(created[o]), round(float(lats[o]), 5),
                round(float(lons[o]), 5), lines, fulfilment=fulfilment, pickup_location=pickup,
                max_delivery_days=2.0 if express[o] else None,
            ))
        return tuple(out)

    warm = orders(n_warmup, "W", 0.0)
    return Scenario(tuple(locations), skus, model, stock, warm, orders(n_orders, "O", 28 * 24.0))


def fresh_state(sc: Scenario) -> tuple[Network, InventoryLedger]:
    """A new network (cold distance cache) and a ledger holding the initial stock."""
    net = Network(sc.locations, sc.skus, (sc.model,))
    ledger = InventoryLedger(net, record=False)
    for s, j in zip(*np.nonzero(sc.stock), strict=True):
        ledger.receive(sc.locations[j].id, sc.skus[s].id, int(sc.stock[s, j]))
    ledger.record = True
    return net, ledger


def replenish(ledger: InventoryLedger, sc: Scenario, refs: Sequence[str], at: float) -> None:
    """Ship the batch's reservations, drain the journal, top up cells below half their initial stock."""
    for ref in refs:
        if ref in ledger.reservations:
            ledger.commit(ref, at)
    low = np.nonzero(ledger.on_hand * 2 < sc.stock)
    for s, j in zip(*low, strict=True):
        top_up = int(sc.stock[s, j] - ledger.on_hand[s, j])
        ledger.receive(sc.locations[j].id, sc.skus[s].id, top_up, at, "replenish")
    ledger.drain_journal()


@dataclass(frozen=True)
class Result:
    """One strategy's measurements."""

    strategy: str
    source_s: float
    decide_s: float
    orders: int
    split: int
    units: int
    unfulfilled: int

    @property
    def source_rate(self) -> float:
        return self.orders / self.source_s

    @property
    def decide_rate(self) -> float:
        return self.orders / self.decide_s


def run(sc: Scenario, name: str, batch: int, budget: float = float("inf")) -> Result:
    """Time source() (with replenishment between batches) and decide() for one strategy.

    A strategy whose source() time passes ``budget`` seconds stops after the batch (fewer orders).
    """
    strategy = build_strategy(name)
    _, ledger = fresh_state(sc)
    engine = SourcingEngine(ledger.network, strategy=strategy)
    for k in range(0, len(sc.warmup), batch):
        chunk = sc.warmup[k:k + batch]
        for order in chunk:
            engine.source(order, ledger)
        replenish(ledger, sc, [o.id for o in chunk], chunk[-1].created_at)
    elapsed, split, units, unfulfilled, done = 0.0, 0, 0, 0, 0
    clock = time.perf_counter
    gc.collect()
    for k in range(0, len(sc.orders), batch):
        chunk = sc.orders[k:k + batch]
        for order in chunk:  # each decision is dropped after its counts, as a streaming service would
            t0 = clock()
            d = engine.source(order, ledger)
            elapsed += clock() - t0
            split += d.is_split
            units += d.units_allocated + d.units_unfulfilled
            unfulfilled += d.units_unfulfilled
        done += len(chunk)
        replenish(ledger, sc, [o.id for o in chunk], chunk[-1].created_at)
        if elapsed > budget:
            break

    _, ledger = fresh_state(sc)  # decide only: cold cache again, initial stock throughout
    engine = SourcingEngine(ledger.network, strategy=strategy)
    for order in sc.warmup:
        engine.decide(order, ledger)
    gc.collect()
    t0 = clock()
    for order in sc.orders[:done]:
        engine.decide(order, ledger)
    decide_s = clock() - t0
    return Result(name, elapsed, decide_s, done, split, units, unfulfilled)


@dataclass(frozen=True)
class Summary:
    """One strategy over all rounds: the median round, and the spread of the source rate."""

    median: Result  # source_s and decide_s give the median orders/s of the rounds
    rounds: tuple[Result, ...]

    @classmethod
    def of(cls, rounds: Sequence[Result]) -> Summary:
        """The median round by source orders/s (the lower middle one of an even number) with the median
        decide orders/s (likewise)."""
        mid = sorted(rounds, key=lambda r: r.source_rate)[(len(rounds) - 1) // 2]
        decide_s = mid.orders / statistics.median_low(r.decide_rate for r in rounds)
        median = Result(
            mid.strategy, mid.source_s, decide_s, mid.orders, mid.split, mid.units, mid.unfulfilled
        )
        return cls(median, tuple(rounds))


def table(summaries: Sequence[Summary]) -> str:
    """The results as a markdown table (medians over the rounds)."""
    n = max(len(s.rounds) for s in summaries)
    rows = [
        f"| strategy | orders | source orders/s | source µs/order | decide orders/s | decide µs/order "
        f"| split rate | unfulfilled units % | ≥ 20k/s target | source orders/s, {n} rounds (min-max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|---:|",
    ]
    for s in summaries:
        r = s.median
        target = "n/a"
        if r.strategy in RULE_BASED:
            target = "yes" if r.source_rate >= TARGET_ORDERS_PER_S else "**no**"
        rates = [x.source_rate for x in s.rounds]
        rows.append(
            f"| {r.strategy} | {r.orders:,} | {r.source_rate:,.0f} | {1e6 / r.source_rate:.1f} "
            f"| {r.decide_rate:,.0f} | {1e6 / r.decide_rate:.1f} | {r.split / r.orders:.1%} "
            f"| {100 * r.unfulfilled / max(r.units, 1):.2f} | {target} "
            f"| {min(rates):,.0f}-{max(rates):,.0f} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20_000, help="timed orders per strategy")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed warm-up orders per strategy")
    parser.add_argument("--batch", type=int, default=1_000, help="orders between replenishments")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds of source() per strategy; a slower one stops early (fewer orders)")
    parser.add_argument("--seed", type=int, default=7, help="numpy default_rng seed (default 7)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measurements per strategy, strategies taking turns; the median is reported")
    parser.add_argument("--strategies", nargs="*", default=None, help="subset of strategies (default: all)")
    parser.add_argument("--filter", action="append", default=[], help="add a filter, e.g. in_stock")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"markdown output (default {RESULTS})")
    args = parser.parse_args(argv)

    names = args.strategies or available()
    t0 = time.perf_counter()
    sc = build_scenario(args.seed, args.orders, args.warmup, filters=args.filter)
    # A live engine receives orders one by one: keep the pre-generated stream (100k+ objects) out of the
    # garbage collector's full passes, which would otherwise bill its traversal to sourcing.
    gc.collect()
    gc.freeze()
    print(f"scenario built in {time.perf_counter() - t0:.1f}s: {len(sc.locations)} locations, "
          f"{len(sc.skus)} SKUs, {len(sc.orders)} orders (+{len(sc.warmup)} warm-up), seed {args.seed}",
          flush=True)
    rounds: dict[str, list[Result]] = {name: [] for name in names}
    for i in range(args.rounds):
        for name in names:
            r = run(sc, name, args.batch, args.budget)
            print(f"  round {i + 1}/{args.rounds} {name:<38} source {r.source_rate:>9,.0f}/s  "
                  f"decide {r.decide_rate:>9,.0f}/s", flush=True)
            rounds[name].append(r)
    summaries = [Summary.of(rounds[name]) for name in names]
    lines_per_order = np.mean([len(o.lines) for o in sc.orders])
    header = (
        f"Sourcing throughput, single core: {len(sc.locations)} locations, {len(sc.skus)} SKUs, "
        f"{len(sc.orders):,} orders per strategy ({lines_per_order:.2f} lines/order), seed {args.seed}, "
        f"median of {args.rounds} round{'s' if args.rounds > 1 else ''}"
        f"{', filters ' + ', '.join(args.filter) if args.filter else ''}.  \n"
        f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {platform.processor() or platform.platform()}."
    )
    text = f"{header}\n\n{table(summaries)}\n"
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
