"""Inventory conservation at every simulation event, from the ledger's own journal.

The run is stepped one SimPy event at a time (``Simulation.run`` is kept, its ``env.run`` is replaced
by a stepping loop) and after every event (and every order the arrivals process places by moving the
clock without an event) the journal movements since the last check are folded in:

* per (SKU, location): on hand - initial == receipts + restocks + adjustments - commits;
* no balance is negative, reserved never exceeds on hand, reserved equals the open reservations;
* the model's counters agree with the journal (units received, restocked, sold to walk-ins);
* units are conserved across the network: on hand + store replenishment in transit ==
  initial + supplier receipts + restocked returns - units committed to orders - walk-in units.
  Store replenishment is reserved and committed at the supplying DC when ordered and received at the
  store after the transfer lead time; only DC receipts (from suppliers) bring new units in.

At the end every allocated unit has been picked, every reservation settled, and the shipped units
agree between the counters, the journal and the orders and shipments tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_core.inventory import MovementKind
from sim.model import Simulation
from sim.runner import run_one
from sim.scenario import Scenario, StrategyRun
from sim.tables import TABLES, frame
from sim.world import World, build_world
from tests.sim.conftest import variant

SIGN = {MovementKind.RECEIVE: 1, MovementKind.RESTOCK: 1, MovementKind.COMMIT: -1}


class Audit:
    """Folds the ledger journal in after every event and checks the balances against it."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        led = sim.ledger
        led.record = True
        led.drain_journal()
        self.initial = led.on_hand.copy()
        self.delta = np.zeros_like(led.on_hand)
        self.totals = dict.fromkeys(MovementKind, 0)
        self.supplier_in = self.transfer_in = self.transfer_out = self.order_commits = 0
        self.walkin = self.restocked = 0
        self.by_dc = sim.world.supply_dc >= 0  # locations replenished from a DC (stores)
        self.steps = self.max_in_transit = 0

    def fold(self) -> None:
        """Fold in the journal since the last call; classify movements by reference, not by kind.

        References: ``R<day>-<loc>`` replenishment (receipts; the DC's side of a store transfer),
        ``walk-in`` store sales, ``O<k>`` / ``O<k>-b<n>`` order commits; restocks are returns.
        """
        for _seq, _at, kind, loc, s, qty, ref in self.sim.ledger.drain_journal():
            signed = qty if kind is MovementKind.ADJUST else SIGN.get(kind, 0) * qty
            self.delta[s, loc] += signed
            self.totals[kind] += qty
            if signed == 0:
                continue
            if ref == "walk-in":
                assert kind is MovementKind.ADJUST and signed < 0, (kind, ref, qty)
                self.walkin -= signed
            elif ref.startswith("R"):
                if signed < 0:  # a DC ships a store's replenishment
                    assert not self.by_dc[loc], (kind, ref, loc)
                    self.transfer_out -= signed
                elif self.by_dc[loc]:
                    self.transfer_in += signed
                else:
                    self.supplier_in += signed
            elif kind is MovementKind.RESTOCK:
                self.restocked += qty
            else:
                assert kind is MovementKind.COMMIT and ref.startswith("O"), (kind, ref)
                self.order_commits += qty

    def check(self) -> None:
        self.fold()
        self.steps += 1
        sim, led = self.sim, self.sim.ledger
        on_hand, reserved = led.on_hand, led.reserved
        assert (on_hand >= 0).all() and (reserved >= 0).all() and (led.safety >= 0).all()
        assert (reserved <= on_hand).all(), "reserved exceeds on hand"
        assert np.array_equal(on_hand - self.initial, self.delta), "on hand drifted from the journal"
        held = np.zeros_like(reserved)
        for items in led.reservations.values():
            for loc, s, qty in items:
                held[s, loc] += qty
        assert np.array_equal(held, reserved), "reserved differs from the open reservations"
        assert self.supplier_in + self.transfer_in == sim.units_received
        assert self.restocked == sim.units_restocked
        assert self.walkin == sim.units_walkin
        assert self.transfer_out == getattr(sim, "units_transferred", self.transfer_out)
        in_transit = self.transfer_out - self.transfer_in
        assert in_transit == int(sim.pipeline[:, self.by_dc].sum()) >= 0
        self.max_in_transit = max(self.max_in_transit, in_transit)
        assert led.totals()["inbound"] == int(sim.pipeline.sum())
        assert int(on_hand.sum()) + in_transit == (
            int(self.initial.sum())
            + self.supplier_in
            + sim.units_restocked
            - self.order_commits
            - sim.units_walkin
        )
        # transfer sources commit when the order is sourced, the shipping location when it picks
        assert self.order_commits >= sim.units_shipped

    def run(self) -> None:
        env = self.sim.env

        def stepping(until: float) -> None:
            while env.peek() < until:
                env.step()
                self.check()

        advance = env.advance_to

        def advancing(t: float) -> bool:
            # orders placed without a SimPy event (the clock jumps to them) are checked one by one too
            moved = advance(t)
            if moved:
                self.check()
            return moved

        env.run = stepping  # type: ignore[method-assign,assignment]
        env.advance_to = advancing  # type: ignore[method-assign]
        self.sim.run()


def audited_run(world: World, strategy: str, replication: int = 0) -> Audit:
    sim = Simulation(world, StrategyRun(strategy=strategy), replication)
    audit = Audit(sim)
    audit.check()
    audit.run()
    final_checks(audit)
    return audit


def final_checks(audit: Audit) -> None:
    sim = audit.sim
    rec = sim.records
    orders, shipments = frame(rec.orders, TABLES["orders"]), frame(rec.shipments, TABLES["shipments"])
    assert not any(sim.queues), "parcels still queued after the drain period"
    assert not sim.ledger.reservations, "reservations left after the drain period"
    assert (
        audit.order_commits
        == sim.units_shipped
        == shipments["units"].sum()
        == orders["units_allocated"].sum()
    )
    assert int(sim.ledger.on_hand.sum()) + audit.transfer_out - audit.transfer_in == (
        int(audit.initial.sum())
        + audit.supplier_in
        + sim.units_restocked
        - sim.units_shipped
        - sim.units_walkin
    )


def exercised(audit: Audit, scenario: Scenario) -> None:
    """The run really moved stock in every way the identity covers."""
    assert audit.steps > 1000
    assert audit.supplier_in > 0 and audit.transfer_in > 0 and audit.max_in_transit > 0
    assert audit.sim.units_restocked > 0 and audit.sim.units_walkin > 0 and audit.sim.units_shipped > 0
    events = {e[1] for e in audit.sim.records.events}
    missed = "backordered" if scenario.operations.stockout == "backorder" else "lost"
    assert missed in events


@pytest.mark.parametrize("stockout", ["lost_sale", "backorder"])
@pytest.mark.parametrize("strategy", ["split_shipments", "cheapest"])
def test_conservation_at_every_event(tiny: Scenario, stockout: str, strategy: str) -> None:
    scenario = variant(tiny, operations__stockout=stockout)
    audit = audited_run(build_world(scenario), strategy)
    exercised(audit, scenario)


@pytest.mark.parametrize("stockout", ["lost_sale", "backorder"])
def test_conservation_with_transfers(tiny: Scenario, stockout: str) -> None:
    scenario = variant(tiny, operations__stockout=stockout)
    audit = audited_run(build_world(scenario), "ship_from_primary")
    exercised(audit, scenario)
    orders = frame(audit.sim.records.orders, TABLES["orders"])
    assert orders["transfer_cost"].sum() > 0


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    replication=st.integers(0, 50),
    stockout=st.sampled_from(["lost_sale", "backorder"]),
    strategy=st.sampled_from(["split_shipments", "distance", "greenest", "ranked"]),
)
def test_conservation_for_any_seed(
    tiny: Scenario, seed: int, replication: int, stockout: str, strategy: str
) -> None:
    scenario = variant(tiny, seed=seed, horizon_days=3, operations__stockout=stockout)
    audited_run(build_world(scenario), strategy, replication)


def test_run_one_tables_agree_with_the_counters(tiny_world: World) -> None:
    """The tables a run hands out tell the same story as the ledger (no row lost in conversion)."""
    result = run_one(tiny_world, StrategyRun(strategy="split_shipments"), 1)
    t: dict[str, Any] = result.tables
    assert t["shipments"]["units"].sum() == t["orders"]["units_allocated"].sum()
    assert t["returns"]["restocked"].sum() <= t["returns"]["qty"].sum()
    first = t["orders"].filter(t["orders"]["attempt"] == 0)
    assert first.height == result.orders
    assert (
        first["units_allocated"] + first["units_lost"] + first["units_backordered"] == first["units"]
    ).all()
