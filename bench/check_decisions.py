"""Before/after guard for engine optimisations: every decision (and explanation) must stay identical.

Sources ``--orders`` orders per strategy on the benchmark network (home delivery, as benchmarked) and on
a mixed variant (pickup in store, ship to store, ship from store; ``in_stock`` filter), with the same
replenishment as the benchmark, and writes the full ``repr`` of every decision; the first 200 orders of
each run are also decided with ``explain=True``. Floats are compared exactly (``repr`` round-trips).

    python bench/check_decisions.py --save /tmp/decisions-before.txt     # on the old code
    python bench/check_decisions.py --compare /tmp/decisions-before.txt  # on the new code
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

from bench_sourcing import build_scenario, fresh_state, replenish

from dom_core.engine import SourcingEngine
from dom_core.strategies import available, build_strategy

RANKED_RULES = (  # ranked with other rule lists than the default
    "ranked:closest",
    "ranked:priority",
    "ranked:highest_stock,closest",
    "ranked:in_market,minimise_splits,closest",
    "ranked:minimise_splits,highest_stock",
)


def decisions(n_orders: int, seed: int) -> Iterator[str]:
    """One line per decision, for every strategy and both scenario variants."""
    variants = {
        "home": build_scenario(seed, n_orders, 0),
        "mixed": build_scenario(seed + 1, n_orders, 0, mixed_fulfilment=True, filters=("in_stock",)),
    }
    for variant, sc in variants.items():
        for name in [*available(), *RANKED_RULES]:
            _, ledger = fresh_state(sc)
            spec: str | dict[str, object] = name
            if name in RANKED_RULES:
                spec = {"kind": "ranked", "rules": name.split(":")[1].split(",")}
            engine = SourcingEngine(ledger.network, strategy=build_strategy(spec))
            for k, order in enumerate(sc.orders):
                if k < 200:
                    yield f"{variant} {name} explain {engine.decide(order, ledger, explain=True)!r}"
                yield f"{variant} {name} {engine.source(order, ledger)!r}"
                if (k + 1) % 500 == 0:
                    replenish(ledger, sc, [o.id for o in sc.orders[k - 499:k + 1]], order.created_at)
            yield f"{variant} {name} ledger {ledger.totals()!r} {ledger.on_hand.sum(axis=0).tolist()!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description="decision equality check")
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=11)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path)
    group.add_argument("--compare", type=Path)
    args = parser.parse_args()
    lines = list(decisions(args.orders, args.seed))
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    if args.save:
        args.save.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(lines)} decisions saved to {args.save}, sha256 {digest}")
        return
    before, after = _by_run(args.compare.read_text(encoding="utf-8").splitlines()), _by_run(lines)
    for run in sorted(before.keys() ^ after.keys()):  # a strategy registered or removed meanwhile
        print(f"skipped {' '.join(run)}: only {'before' if run in before else 'now'}")
    common = [run for run in before if run in after]
    diffs = [(a, b) for run in common for a, b in zip(before[run], after[run], strict=False) if a != b]
    if diffs or any(len(before[run]) != len(after[run]) for run in common):
        print(f"MISMATCH: {len(diffs)} decisions differ")
        for a, b in diffs[:5]:
            print(f"- {a[:400]}\n+ {b[:400]}")
        sys.exit(1)
    print(f"{sum(len(after[run]) for run in common)} decisions identical in {len(common)} runs")


def _by_run(lines: list[str]) -> dict[tuple[str, str], list[str]]:
    """Lines grouped by (scenario variant, strategy)."""
    runs: dict[tuple[str, str], list[str]] = {}
    for line in lines:
        variant, name, _ = line.split(" ", 2)
        runs.setdefault((variant, name), []).append(line)
    return runs


if __name__ == "__main__":
    main()
