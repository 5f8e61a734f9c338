"""Returns engine: location policies, disposition, refunds, ledger effects and input errors."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dom_core.errors import DomError, InvalidQuantityError, UnknownLocationError, UnknownSkuError
from dom_core.geo import haversine_km
from dom_core.inventory import InventoryLedger, MovementKind
from dom_core.model import Capability, Location, LocationKind, Sku
from dom_core.network import InventoryModel, Network
from dom_core.returns import (
    RETURN_POLICIES,
    Disposition,
    Grade,
    NeedsStock,
    ReturnDecision,
    ReturnReason,
    ReturnRequest,
    ReturnsEngine,
    ReturnTerms,
    build_return_policy,
)

RET = frozenset({Capability.ACCEPT_RETURNS, Capability.SHIP_TO_HOME})
SHIP = frozenset({Capability.SHIP_TO_HOME})


def _loc(loc_id: str, lat: float, lon: float, caps: frozenset[Capability] = RET, **kw: Any) -> Location:
    kind = LocationKind.DC if loc_id.startswith("dc") else LocationKind.STORE
    return Location(loc_id, kind, lat, lon, "GB", "UK", caps, **kw)


# The customer stands at (0, 0); one degree on the equator is about 111.2 km.
LOCATIONS = (
    _loc("dc_far", 0.0, 3.0, priority=1),  # ~333.6 km
    _loc("s_near", 0.0, 0.5),  # ~55.6 km: the nearest that takes returns
    _loc("s_mid", 1.0, 0.0),  # ~111.2 km
    _loc("s_noret", 0.2, 0.0, SHIP),  # ~22.2 km but does not accept returns
    _loc("s_off", 0.1, 0.0, enabled=False),  # ~11.1 km but disabled
)
SKUS = (Sku("shirt", price=40.0), Sku("gift_card", returnable=False), Sku("mug", price=12.0))
ALL = tuple(loc.id for loc in LOCATIONS)
MODELS = (
    InventoryModel("web", "UK", frozenset({"web"}), ALL),  # any location that accepts returns
    InventoryModel("app", "UK", frozenset({"app"}), ALL, return_locations=("dc_far", "s_mid", "s_noret")),
    InventoryModel("b2b", "UK", frozenset({"b2b"}), ALL, return_locations=("s_noret", "s_off")),
)
NET = Network(LOCATIONS, SKUS, MODELS)


def _request(**kw: Any) -> ReturnRequest:
    base: dict[str, Any] = {
        "order_id": "O1",
        "line_id": "L1",
        "sku": "shirt",
        "qty": 2,
        "reason": ReturnReason.CHANGED_MIND,
        "grade": Grade.A,
        "lat": 0.0,
        "lon": 0.0,
        "market": "UK",
        "channel": "web",
        "unit_price_paid": 40.0,
        "days_since_delivery": 5.0,
    }
    base.update(kw)
    return ReturnRequest(**base)


def _ledger(stock: dict[str, int] | None = None, sku: str = "shirt") -> InventoryLedger:
    ledger = InventoryLedger(NET)
    for loc_id, qty in (stock or {}).items():
        ledger.receive(loc_id, sku, qty, ref="seed")
    return ledger


def _engine(policy: str | dict[str, Any] = "nearest", **terms: Any) -> ReturnsEngine:
    return ReturnsEngine.from_spec(NET, policy, ReturnTerms(**terms))


def _state(ledger: InventoryLedger) -> tuple[list[list[int]], list[Any]]:
    return ledger.on_hand.tolist(), ledger.movements()


def test_hand_computed_distances() -> None:
    assert haversine_km(0, 0, 0, 0.5) == pytest.approx(55.6, abs=0.1)
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.2, abs=0.1)
    assert haversine_km(0, 0, 0, 3) == pytest.approx(333.6, abs=0.1)


def test_registry_names() -> None:
    assert RETURN_POLICIES.names() == ["customer_choice", "nearest", "needs_stock", "original_shipper"]


# ---------------------------------------------------------------- location policies
def test_nearest_skips_locations_without_returns_and_disabled_ones() -> None:
    d = _engine("nearest").decide(_request(), _ledger())
    assert d.accepted and d.location == "s_near"
    assert [c.location for c in d.explanation.candidates] == ["s_near", "s_mid", "dc_far"]
    assert d.explanation.candidates[0].score == pytest.approx(55.6, abs=0.1)


def test_model_return_locations_restrict_candidates() -> None:
    # "app" lists dc_far, s_mid and s_noret; s_noret does not accept returns, so s_mid is nearest.
    d = _engine("nearest").decide(_request(channel="app"), _ledger())
    assert d.location == "s_mid"
    assert {c.location for c in d.explanation.candidates} == {"s_mid", "dc_far"}


def test_no_eligible_location_rejects() -> None:
    d = _engine("nearest").decide(_request(channel="b2b"), _ledger())
    assert not d.accepted and d.location is None and d.refund == 0.0
    assert d.rejected is not None and "no enabled location" in d.rejected


@pytest.mark.parametrize(
    ("requested", "channel", "expected"),
    [
        ("s_mid", "web", "s_mid"),  # honoured
        ("dc_far", "web", "dc_far"),
        ("s_noret", "web", "s_near"),  # does not accept returns -> nearest
        ("s_off", "web", "s_near"),  # disabled -> nearest
        (None, "web", "s_near"),  # nothing requested -> nearest
        ("s_near", "app", "s_mid"),  # not among the model's return locations -> nearest of those
    ],
)
def test_customer_choice(requested: str | None, channel: str, expected: str) -> None:
    d = _engine("customer_choice").decide(_request(requested_location=requested, channel=channel), _ledger())
    assert d.location == expected
    assert expected in d.explanation.why


@pytest.mark.parametrize(
    ("shipped_from", "expected"),
    [("dc_far", "dc_far"), ("s_mid", "s_mid"), ("s_noret", "s_near"), ("s_off", "s_near"), (None, "s_near")],
)
def test_original_shipper(shipped_from: str | None, expected: str) -> None:
    d = _engine("original_shipper").decide(_request(shipped_from=shipped_from), _ledger())
    assert d.location == expected


def test_needs_stock_picks_lowest_atp_within_radius() -> None:
    ledger = _ledger({"s_near": 10, "s_mid": 2})
    d = _engine("needs_stock").decide(_request(), ledger)
    assert d.location == "s_mid"  # dc_far has less but lies outside 150 km
    notes = {c.location: c for c in d.explanation.candidates}
    assert notes["dc_far"].status == "outside 150 km"
    assert notes["s_mid"].status.startswith("chosen") and notes["s_mid"].atp == (2,)
    wide = _engine({"kind": "needs_stock", "radius_km": 400}).decide(_request(), ledger)
    assert wide.location == "dc_far"


def test_needs_stock_uses_days_of_cover() -> None:
    ledger = _ledger({"s_near": 10, "s_mid": 2})
    rate = np.ones((len(SKUS), len(LOCATIONS)))
    rate[0, NET.loc_index["s_near"]] = 20.0  # 0.5 days of cover vs 2 days at s_mid
    ledger.demand_rate = rate
    assert _engine("needs_stock").decide(_request(), ledger).location == "s_near"


def test_needs_stock_ties_go_to_nearest_and_empty_radius_to_nearest() -> None:
    ledger = _ledger({"s_near": 3, "s_mid": 3})
    assert _engine("needs_stock").decide(_request(), ledger).location == "s_near"
    d = _engine({"kind": "needs_stock", "radius_km": 10}).decide(_request(), ledger)
    assert d.location == "s_near" and "none within 10 km" in d.explanation.why


def test_needs_stock_ignores_other_skus() -> None:
    ledger = _ledger({"s_mid": 5})
    ledger.receive("s_near", "mug", 50)
    assert _engine("needs_stock").decide(_request(), ledger).location == "s_near"


# ---------------------------------------------------------------- disposition
@pytest.mark.parametrize(
    ("grade", "disposition"),
    [
        (Grade.A, Disposition.RESTOCK),
        (Grade.B, Disposition.RESTOCK),
        (Grade.C, Disposition.REFURBISH),
        (Grade.D, Disposition.DISPOSE),
    ],
)
def test_default_disposition(grade: Grade, disposition: Disposition) -> None:
    d = _engine().decide(_request(grade=grade), _ledger())
    assert d.disposition is disposition
    assert d.restocked_qty == (2 if disposition is Disposition.RESTOCK else 0)


def test_custom_disposition_mapping() -> None:
    mapping = {Grade.A: "restock", Grade.B: "refurbish", Grade.C: "restock", Grade.D: "dispose"}
    engine = _engine(disposition={Grade(k): Disposition(v) for k, v in mapping.items()})
    assert engine.decide(_request(grade=Grade.B), _ledger()).disposition is Disposition.REFURBISH
    assert engine.decide(_request(grade=Grade.C), _ledger()).disposition is Disposition.RESTOCK


def test_non_returnable_sku_is_rejected() -> None:
    d = _engine().decide(_request(sku="gift_card"), _ledger())
    assert not d.accepted and d.rejected == "SKU gift_card is not returnable"
    assert d.location is None and d.disposition is None and d.refund == 0.0 and d.restocked_qty == 0
    assert "not returnable" in d.explanation.as_text()


# ---------------------------------------------------------------- refunds
@pytest.mark.parametrize(
    ("reason", "grade", "price", "refund", "fee"),
    [
        (ReturnReason.CHANGED_MIND, Grade.A, 40.0, 80.0 - 4.95, 4.95),
        (ReturnReason.DOES_NOT_FIT, Grade.B, 40.0, 80.0 - 4.95, 4.95),
        (ReturnReason.CHANGED_MIND, Grade.C, 40.0, 40.0 - 4.95, 4.95),  # 50% for grade C
        (ReturnReason.CHANGED_MIND, Grade.D, 40.0, 0.0, 0.0),  # share 0: nothing to deduct from
        (ReturnReason.DEFECTIVE, Grade.D, 40.0, 80.0, 0.0),  # merchant fault: full, no fee
        (ReturnReason.WRONG_ITEM, Grade.C, 40.0, 80.0, 0.0),
        (ReturnReason.DAMAGED_IN_TRANSIT, Grade.B, 40.0, 80.0, 0.0),
        (ReturnReason.CHANGED_MIND, Grade.A, 2.0, 0.0, 4.0),  # fee above the price: refund 0, not < 0
        (ReturnReason.CHANGED_MIND, Grade.A, 0.0, 0.0, 0.0),
    ],
)
def test_refund_rules(reason: ReturnReason, grade: Grade, price: float, refund: float, fee: float) -> None:
    d = _engine().decide(_request(reason=reason, grade=grade, unit_price_paid=price), _ledger())
    assert d.refund == pytest.approx(refund)
    assert d.fee == pytest.approx(fee)


def test_return_window_is_inclusive() -> None:
    engine = _engine()
    assert engine.decide(_request(days_since_delivery=30.0), _ledger()).accepted
    late = engine.decide(_request(days_since_delivery=30.5), _ledger())
    assert not late.accepted and late.refund == 0.0 and late.rejected is not None
    assert "30-day window" in late.rejected
    assert _engine(window_days=60).decide(_request(days_since_delivery=45), _ledger()).accepted


def test_configurable_fee_and_partial_share() -> None:
    shares = {Grade.A: 1.0, Grade.B: 0.9, Grade.C: 0.25, Grade.D: 0.0}
    engine = _engine(return_fee=0.0, refund_share=shares)
    assert engine.decide(_request(grade=Grade.C), _ledger()).refund == pytest.approx(20.0)
    assert engine.decide(_request(grade=Grade.B), _ledger()).refund == pytest.approx(72.0)
    no_fault = _engine(merchant_fault=frozenset())
    assert no_fault.decide(_request(reason=ReturnReason.DEFECTIVE), _ledger()).fee == pytest.approx(4.95)


@given(
    price=st.floats(0, 10_000, allow_nan=False),
    qty=st.integers(1, 50),
    fee=st.floats(0, 500, allow_nan=False),
    share=st.floats(0, 1),
    reason=st.sampled_from(ReturnReason),
    grade=st.sampled_from(Grade),
)
def test_refund_is_between_zero_and_price_paid(
    *, price: float, qty: int, fee: float, share: float, reason: ReturnReason, grade: Grade
) -> None:
    terms = ReturnTerms(return_fee=fee, refund_share=dict.fromkeys(Grade, share))
    refund, deducted = terms.refund(_request(unit_price_paid=price, qty=qty, reason=reason, grade=grade))
    paid = price * qty
    assert 0.0 <= refund <= paid
    assert 0.0 <= deducted <= fee
    assert refund + deducted <= paid * (1 + 1e-12)


# ---------------------------------------------------------------- process and the ledger
def test_process_restocks_only_for_restock() -> None:
    engine = _engine()
    ledger = _ledger({"s_near": 1})
    d = engine.process(_request(qty=3), ledger, at=48.0)
    assert d.restocked_qty == 3 and ledger.atp("s_near", "shirt") == 4
    last = ledger.movements()[-1]
    assert (last.kind, last.location, last.sku, last.qty, last.at, last.ref) == (
        MovementKind.RESTOCK,
        "s_near",
        "shirt",
        3,
        48.0,
        "return:O1/L1",
    )
    for grade in (Grade.C, Grade.D):
        before = _state(ledger)
        assert engine.process(_request(grade=grade), ledger, at=50.0).restocked_qty == 0
        assert _state(ledger) == before


def test_decide_is_pure_and_rejections_do_not_restock() -> None:
    engine, ledger = _engine(), _ledger({"s_near": 1})
    before = _state(ledger)
    engine.decide(_request(), ledger)
    engine.process(_request(sku="gift_card"), ledger, at=1.0)
    engine.process(_request(days_since_delivery=99), ledger, at=1.0)
    assert _state(ledger) == before


@settings(max_examples=60, deadline=None)
@given(
    qty=st.integers(1, 20),
    grade=st.sampled_from(Grade),
    reason=st.sampled_from(ReturnReason),
    policy=st.sampled_from(RETURN_POLICIES.names()),
    sku=st.sampled_from([s.id for s in SKUS]),
    days=st.floats(0, 60),
    lat=st.floats(-5, 5),
    lon=st.floats(-5, 5),
)
def test_ledger_changes_by_exactly_the_restocked_qty(
    *,
    qty: int,
    grade: Grade,
    reason: ReturnReason,
    policy: str,
    sku: str,
    days: float,
    lat: float,
    lon: float,
) -> None:
    ledger = _ledger({"s_near": 4, "s_mid": 1, "dc_far": 7})
    before, on_hand = ledger.totals(), ledger.on_hand.copy()
    req = _request(qty=qty, grade=grade, reason=reason, sku=sku, days_since_delivery=days, lat=lat, lon=lon)
    d = _engine(policy).process(req, ledger, at=10.0)
    after = ledger.totals()
    accepted = sku != "gift_card" and days <= 30.0
    assert d.accepted is accepted
    expected = qty if accepted and grade in (Grade.A, Grade.B) else 0
    assert d.restocked_qty == expected
    assert after["on_hand"] - before["on_hand"] == expected
    del after["on_hand"], before["on_hand"]
    assert after == before  # reserved, safety and inbound untouched
    diff = ledger.on_hand - on_hand
    if expected:
        assert d.location is not None
        assert diff[NET.sku_index[sku], NET.loc_index[d.location]] == expected  # all of it, in one cell
    else:
        assert not diff.any()


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kw", "error", "field"),
    [
        ({"qty": 0}, InvalidQuantityError, "return[O1/L1].qty"),
        ({"qty": -1}, InvalidQuantityError, "return[O1/L1].qty"),
        ({"qty": True}, InvalidQuantityError, "return[O1/L1].qty"),
        ({"qty": 1.5}, InvalidQuantityError, "return[O1/L1].qty"),
        ({"lat": 91.0}, DomError, "return[O1/L1].lat"),
        ({"lon": -181.0}, DomError, "return[O1/L1].lon"),
        ({"lat": math.nan}, DomError, "return[O1/L1].lat"),
        ({"days_since_delivery": -1.0}, DomError, "return[O1/L1].days_since_delivery"),
        ({"days_since_delivery": math.nan}, DomError, "return[O1/L1].days_since_delivery"),
        ({"unit_price_paid": -0.01}, DomError, "return[O1/L1].unit_price_paid"),
        ({"unit_price_paid": math.inf}, DomError, "return[O1/L1].unit_price_paid"),
        ({"reason": "bored"}, DomError, "return[O1/L1].reason"),
        ({"grade": "E"}, DomError, "return[O1/L1].grade"),
    ],
)
def test_invalid_request_values(kw: dict[str, Any], error: type[DomError], field: str) -> None:
    with pytest.raises(error) as info:
        _request(**kw)
    assert info.value.field == field


def test_string_reason_and_grade_are_coerced() -> None:
    req = _request(reason="defective", grade="C")
    assert req.reason is ReturnReason.DEFECTIVE and req.grade is Grade.C


@pytest.mark.parametrize(
    ("kw", "error", "field"),
    [
        ({"sku": "nope"}, UnknownSkuError, "return[O1/L1].sku"),
        ({"shipped_from": "nowhere"}, UnknownLocationError, "return[O1/L1].shipped_from"),
        ({"requested_location": "nowhere"}, UnknownLocationError, "return[O1/L1].requested_location"),
        ({"channel": "fax"}, DomError, "return[O1/L1].market"),
    ],
)
def test_unknown_references_raise_and_leave_ledger_unchanged(
    kw: dict[str, Any], error: type[DomError], field: str
) -> None:
    ledger = _ledger({"s_near": 2})
    before = _state(ledger)
    for policy in RETURN_POLICIES.names():
        with pytest.raises(error) as info:
            _engine(policy).process(_request(**kw), ledger, at=1.0)
        assert info.value.field == field
    assert _state(ledger) == before


def test_ledger_of_another_network_is_refused() -> None:
    other = Network(LOCATIONS, SKUS, MODELS)
    with pytest.raises(DomError) as info:
        _engine().process(_request(), InventoryLedger(other), at=0.0)
    assert info.value.field == "ledger"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("closest", "returns.policy.kind"),
        ({"kind": "needs_stock", "radius_km": -1}, "returns.policy.radius_km"),
        ({"kind": "nearest", "radius_km": 5}, "returns.policy.radius_km"),
    ],
)
def test_bad_policy_spec_names_the_field(spec: Any, field: str) -> None:
    with pytest.raises(DomError) as info:
        build_return_policy(spec)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"window_days": -1}, "returns.window_days"),
        ({"return_fee": math.nan}, "returns.return_fee"),
        (
            {"refund_share": {Grade.A: 1.0, Grade.B: 1.0, Grade.C: 1.5, Grade.D: 0.0}},
            "returns.refund_share.C",
        ),
        ({"refund_share": {Grade.A: 1.0}}, "returns.refund_share.B"),
        ({"disposition": {Grade.A: Disposition.RESTOCK}}, "returns.disposition.B"),
    ],
)
def test_bad_terms_name_the_field(terms: dict[str, Any], field: str) -> None:
    with pytest.raises(DomError) as info:
        ReturnTerms(**terms)
    assert info.value.field == field


def test_needs_stock_direct_construction_validates_radius() -> None:
    with pytest.raises(DomError):
        NeedsStock(radius_km=-5)


def test_decision_is_frozen_and_explained() -> None:
    d = _engine("customer_choice").decide(_request(requested_location="s_noret"), _ledger())
    assert isinstance(d, ReturnDecision)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.refund = 1.0  # type: ignore[misc]
    text = d.explanation.as_text()
    assert "customer_choice" in text and "s_noret does not take this return" in text and "s_near" in text
