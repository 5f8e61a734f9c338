"""The inventory ledger: ATP, all-or-nothing reservations, movements, journal replay, conservation."""

from __future__ import annotations

import numpy as np
import pytest

from dom_core.errors import DomError, InsufficientStockError, InvalidQuantityError
from dom_core.inventory import InventoryLedger, MovementKind
from dom_core.network import Network
from tests.dom_core.conftest import make_network


@pytest.fixture
def net() -> Network:
    return make_network()


def idx(net: Network, loc: str, sku: str) -> tuple[int, int]:
    return net.loc_index[loc], net.sku_index[sku]


def state(ledger: InventoryLedger) -> tuple[object, ...]:
    return (
        ledger.on_hand.tolist(), ledger.reserved.tolist(), ledger.safety.tolist(),
        {k: list(v) for k, v in ledger.reservations.items()}, ledger.totals(), ledger.movements(),
        [[ledger.atp(loc.id, sku.id) for loc in ledger.network.locations] for sku in ledger.network.skus],
    )


def test_atp_is_on_hand_minus_reserved_minus_safety(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 10)
    s1 = net.loc_index["S1"]
    ledger.reserve("o1", [(s1, net.sku_index["A"], 3)])
    ledger.set_safety_stock("S1", "A", 2)
    assert ledger.atp("S1", "A") == 10 - 3 - 2
    assert ledger.atp_network("A") == 5
    assert ledger.atp_for_model(net.inventory_models[0], "A") == 5


def test_atp_never_negative(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 3)
    ledger.receive("S2", "A", 4)
    ledger.set_safety_stock("S1", "A", 5)  # 2 more than on hand
    assert ledger.atp("S1", "A") == 0
    assert ledger.atp_network("A") == 4  # S1 does not subtract from S2
    cols = np.array([net.loc_index["S1"], net.loc_index["S2"]], dtype=np.intp)
    assert ledger.atp_matrix([net.sku_index["A"]], cols).tolist() == [[0, 4]]
    # a receipt first fills the safety gap
    ledger.receive("S1", "A", 3)
    assert ledger.atp("S1", "A") == 1
    with pytest.raises(InsufficientStockError):
        ledger.reserve("o1", [(*idx(net, "S1", "A"), 2)])


def test_set_safety_stock_all(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 3)
    ledger.set_safety_stock_all(1)
    assert ledger.atp("S1", "A") == 2 and ledger.atp("S2", "A") == 0
    assert ledger.totals()["safety"] == len(net.skus) * len(net.locations)
    ledger.set_safety_stock_all(0)
    assert ledger.atp("S1", "A") == 3


def test_reserve_is_all_or_nothing(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 2)
    ledger.receive("S2", "B", 1)
    before = state(ledger)
    with pytest.raises(InsufficientStockError) as err:
        ledger.reserve("o1", [(*idx(net, "S1", "A"), 2), (*idx(net, "S2", "B"), 2)])
    assert err.value.field == "qty" and "exceeds ATP 1" in str(err.value)
    assert state(ledger) == before and "o1" not in ledger.reservations
    # two items of one cell that each fit but together do not
    with pytest.raises(InsufficientStockError):
        ledger.reserve("o1", [(*idx(net, "S1", "A"), 1), (*idx(net, "S1", "A"), 2)])
    assert state(ledger) == before
    # a bad quantity anywhere in the list changes nothing either
    with pytest.raises(InvalidQuantityError):
        ledger.reserve("o1", [(*idx(net, "S1", "A"), 1), (*idx(net, "S2", "B"), 0)])
    assert state(ledger) == before
    ledger.reserve("o1", [(*idx(net, "S1", "A"), 2), (*idx(net, "S2", "B"), 1)])
    assert ledger.atp("S1", "A") == 0 and ledger.atp("S2", "B") == 0
    assert ledger.totals() == {"on_hand": 3, "reserved": 3, "safety": 0, "inbound": 0}


def test_commit_ships_reserved_units(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 5)
    ledger.receive("S2", "A", 5)
    ledger.reserve("o1", [(*idx(net, "S1", "A"), 2), (*idx(net, "S2", "A"), 3)])
    taken = ledger.commit("o1", loc=net.loc_index["S1"])
    assert taken == [(*idx(net, "S1", "A"), 2)]
    assert (ledger.on_hand[net.sku_index["A"], net.loc_index["S1"]], ledger.atp("S1", "A")) == (3, 3)
    assert ledger.reservations == {"o1": [(*idx(net, "S2", "A"), 3)]}
    ledger.commit("o1")
    assert ledger.totals() == {"on_hand": 5, "reserved": 0, "safety": 0, "inbound": 0}
    assert ledger.atp("S2", "A") == 2 and "o1" not in ledger.reservations
    with pytest.raises(DomError) as err:
        ledger.commit("o1")
    assert err.value.field == "ref"


def test_release_gives_atp_back(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 5)
    ledger.reserve("o1", [(*idx(net, "S1", "A"), 4)])
    assert ledger.atp("S1", "A") == 1
    assert ledger.release("o1") == [(*idx(net, "S1", "A"), 4)]
    assert ledger.atp("S1", "A") == 5 and ledger.totals()["reserved"] == 0
    with pytest.raises(DomError):
        ledger.release("o1")


def test_receive_restock_adjust(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 4, at=1.0, ref="po1")
    ledger.restock("S1", "A", 1, at=2.0, ref="rma1")
    ledger.reserve("o1", [(*idx(net, "S1", "A"), 3)])
    ledger.adjust("S1", "A", -2, at=3.0, ref="shrink")  # 5 - 2 = 3 still covers the 3 reserved
    assert ledger.atp("S1", "A") == 0 and ledger.totals()["on_hand"] == 3
    before = state(ledger)
    with pytest.raises(InsufficientStockError) as err:
        ledger.adjust("S1", "A", -1)
    assert err.value.field == "delta" and state(ledger) == before
    ledger.adjust("S1", "A", 2)
    assert ledger.atp("S1", "A") == 2
    kinds = [m.kind for m in ledger.movements()]
    k = MovementKind
    assert kinds == [k.RECEIVE, k.RESTOCK, k.RESERVE, k.ADJUST, k.ADJUST]
    assert [m.seq for m in ledger.movements()] == [1, 2, 3, 4, 5]


def test_take_unreserved_never_touches_reservations(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 5)
    ledger.reserve("o1", [(*idx(net, "S1", "A"), 3)])
    s1, a = idx(net, "S1", "A")
    assert ledger.take_unreserved(s1, a, 4, at=1.0, ref="walk-in") == 2
    assert ledger.on_hand[a, s1] == 3 and ledger.reserved[a, s1] == 3
    assert ledger.take_unreserved(s1, a, 1, at=1.0, ref="walk-in") == 0
    assert ledger.movements()[-1].qty == -2


def test_inbound_does_not_count_until_received(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.add_inbound("po7", "DC1", "A", 6, eta=48.0)
    ledger.add_inbound("po7", "DC1", "B", 2, eta=48.0)
    assert ledger.atp("DC1", "A") == 0 and ledger.inbound_qty("DC1", "A") == 6
    assert ledger.totals() == {"on_hand": 0, "reserved": 0, "safety": 0, "inbound": 8}
    arrived = ledger.receive_inbound("po7", at=48.0)
    assert [(i.qty, i.eta) for i in arrived] == [(6, 48.0), (2, 48.0)]
    assert ledger.atp("DC1", "A") == 6 and ledger.inbound_qty("DC1", "A") == 0
    assert ledger.totals() == {"on_hand": 8, "reserved": 0, "safety": 0, "inbound": 0}
    with pytest.raises(DomError) as err:
        ledger.receive_inbound("po7")
    assert err.value.field == "ref"


def test_days_of_cover(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 6)
    cols = np.array([net.loc_index["S1"], net.loc_index["S2"]], dtype=np.intp)
    assert ledger.days_of_cover(net.sku_index["A"], cols).tolist() == [6.0, 0.0]  # no rate: ATP
    ledger.demand_rate = np.full((len(net.skus), len(net.locations)), 2.0)
    assert ledger.days_of_cover(net.sku_index["A"], cols).tolist() == [3.0, 0.0]


def _busy_ledger(net: Network) -> InventoryLedger:
    """A ledger that went through every kind of movement."""
    ledger = InventoryLedger(net)
    a, b = net.sku_index["A"], net.sku_index["B"]
    s1, s2, dc = net.loc_index["S1"], net.loc_index["S2"], net.loc_index["DC1"]
    ledger.receive("S1", "A", 10, at=0.0, ref="init")
    ledger.receive("S2", "B", 5, at=0.0, ref="init")
    ledger.set_safety_stock("S1", "A", 2, at=0.5)
    ledger.reserve("o1", [(s1, a, 3), (s2, b, 2), (s1, a, 1)], at=1.0)
    ledger.reserve("o2", [(s1, a, 2)], at=1.5)
    ledger.commit("o1", at=2.0, loc=s1)
    ledger.release("o2", at=2.5)
    ledger.add_inbound("po1", "DC1", "A", 4, eta=30.0, at=3.0)
    ledger.add_inbound("po1", "DC1", "B", 1, eta=30.0, at=3.0)
    ledger.add_inbound("po2", "S2", "B", 9, eta=99.0, at=3.0)
    ledger.receive_inbound("po1", at=30.0)
    ledger.restock("S2", "B", 1, at=31.0, ref="rma")
    ledger.adjust("S1", "A", -1, at=32.0, ref="count")
    ledger.take_unreserved(s2, b, 1, at=33.0, ref="walk-in")
    ledger.reserve("o3", [(dc, a, 4)], at=34.0)
    ledger.commit("o1", at=35.0)
    return ledger


def test_journal_replays_to_the_same_balances(net: Network) -> None:
    ledger = _busy_ledger(net)
    twin = InventoryLedger.replay(net, ledger.movements())
    assert np.array_equal(twin.on_hand, ledger.on_hand)
    assert np.array_equal(twin.reserved, ledger.reserved)
    assert np.array_equal(twin.safety, ledger.safety)
    assert twin.reservations == ledger.reservations
    assert twin.totals() == ledger.totals()
    assert state(twin) == state(ledger)
    assert {ref: [(i.loc, i.sku, i.qty) for i in v] for ref, v in twin.inbound.items()} == {
        "po2": [(net.loc_index["S2"], net.sku_index["B"], 9)]
    }


def test_journal_replays_a_network_wide_safety_stock(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 4)
    ledger.set_safety_stock_all(3)
    twin = InventoryLedger.replay(net, ledger.movements())
    assert twin.atp("S1", "A") == ledger.atp("S1", "A") == 1
    assert np.array_equal(twin.safety, ledger.safety)


def test_hand_computed_totals_of_the_busy_ledger(net: Network) -> None:
    ledger = _busy_ledger(net)
    # on hand: A 10 + 4 - 4 committed (o1 at S1: 3 + 1) - 1 count = 9; B 5 + 1 + 1 - 2 (o1 at S2) - 1 = 4
    # reserved: o3 4 at DC1; inbound: po2 9
    assert ledger.totals() == {"on_hand": 13, "reserved": 4, "safety": 2, "inbound": 9}
    assert ledger.atp("S1", "A") == 10 - 4 - 1 - 2
    assert ledger.atp("DC1", "A") == 0 and ledger.atp("DC1", "B") == 1


def test_replay_rejects_a_settlement_without_reservation(net: Network) -> None:
    ledger = _busy_ledger(net)
    moves = [m for m in ledger.movements() if m.kind is not MovementKind.RESERVE]
    with pytest.raises(DomError) as err:
        InventoryLedger.replay(net, moves)
    assert err.value.field == "journal"


def test_copy_is_independent(net: Network) -> None:
    ledger = _busy_ledger(net)
    twin = ledger.copy()
    twin.receive("S1", "A", 5)
    twin.commit("o3")
    assert ledger.atp("S1", "A") == 3 and "o3" in ledger.reservations
    assert twin.atp("S1", "A") == 8 and "o3" not in twin.reservations


def test_unrecorded_ledger_keeps_balances_but_no_journal(net: Network) -> None:
    ledger = InventoryLedger(net, record=False)
    ledger.receive("S1", "A", 5)
    ledger.reserve("o1", [(*idx(net, "S1", "A"), 2)])
    assert ledger.atp("S1", "A") == 3 and ledger.movements() == []


def test_drain_journal_hands_over_and_clears(net: Network) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 5)
    raw = ledger.drain_journal()
    assert [(kind, loc, sku, qty) for _, _, kind, loc, sku, qty, _ in raw] == [
        (MovementKind.RECEIVE, *idx(net, "S1", "A"), 5)
    ]
    assert ledger.movements() == []
    ledger.receive("S1", "A", 1)
    assert ledger.movements()[0].seq == 2  # sequence numbers keep counting


@pytest.mark.parametrize("qty", [0, -1, 1.5, True, "3", None])
def test_bad_quantities_are_refused_without_change(net: Network, qty: object) -> None:
    ledger = InventoryLedger(net)
    ledger.receive("S1", "A", 5)
    before = state(ledger)
    for call in (
        lambda: ledger.receive("S1", "A", qty),  # type: ignore[arg-type]
        lambda: ledger.restock("S1", "A", qty),  # type: ignore[arg-type]
        lambda: ledger.add_inbound("po", "S1", "A", qty, eta=1.0),  # type: ignore[arg-type]
        lambda: ledger.reserve("o", [(*idx(net, "S1", "A"), qty)]),  # type: ignore[list-item]
    ):
        with pytest.raises(InvalidQuantityError) as err:
            call()
        assert err.value.field == "qty"
    assert state(ledger) == before


def test_negative_safety_stock_and_non_integer_delta_are_refused(net: Network) -> None:
    ledger = InventoryLedger(net)
    with pytest.raises(InvalidQuantityError) as err:
        ledger.set_safety_stock("S1", "A", -1)
    assert err.value.field == "safety_stock"
    with pytest.raises(InvalidQuantityError) as err:
        ledger.adjust("S1", "A", 0.5)  # type: ignore[arg-type]
    assert err.value.field == "delta"
    assert ledger.movements() == []


def test_loaded_balances_replay(net: Network) -> None:
    ledger = InventoryLedger(net)
    on_hand = np.zeros_like(ledger.on_hand)
    safety = np.zeros_like(ledger.safety)
    on_hand[net.sku_index["A"], net.loc_index["S1"]] = 7
    safety[net.sku_index["A"], net.loc_index["S1"]] = 2
    ledger.load_balances(on_hand, safety)
    assert ledger.atp("S1", "A") == 5
    twin = InventoryLedger.replay(net, ledger.movements())
    assert state(twin) == state(ledger)
