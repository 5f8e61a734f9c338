"""Carrier services: rate cards, transit quantiles, pickup cutoffs, CO2e, selection and quote_many.

Default tables (``carriers._table``): price[zone][bracket] = base + per_zone x zone + per_kg x bracket,
zones up to 80 / 240 / 480 / 965 / 1450 / 2900 km, brackets up to 0.5 / 1 / 2 / 5 / 10 / 20 / 31.5 kg;
ground (4.2, 0.9, 1.6), express (9.5, 2.2, 3.1), same day (7.9, 3.0, 1.0; zones 25 / 60 km only).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dom_core.carriers import (
    CarrierCatalog,
    CarrierService,
    LinearRateCard,
    Mode,
    Objective,
    TransitTime,
    ZoneRateCard,
    default_services,
)
from dom_core.errors import DomError
from dom_core.quoting import quote_many

CATALOG = default_services()
GROUND = CATALOG.service("ground")
EXPRESS = CATALOG.service("express")
SAME_DAY = CATALOG.service("same_day")
FRIDAY, SATURDAY = 4 * 24.0, 5 * 24.0


# ------------------------------------------------------------------ rate cards
@pytest.mark.parametrize(
    ("km", "kg", "price"),
    [
        (80.0, 0.5, 4.2),  # a limit belongs to its own zone / bracket
        (80.01, 0.51, 4.2 + 0.9 + 1.6),
        (100.0, 1.5, 4.2 + 0.9 + 3.2),
        (5000.0, 31.5, 4.2 + 0.9 * 5 + 1.6 * 6),  # beyond the last zone: the last zone
        (100.0, 40.0, (4.2 + 0.9 + 1.6 * 6) * 1.1),  # one bracket of 31.5 kg over the top: +10%
        (100.0, 70.0, (4.2 + 0.9 + 1.6 * 6) * 1.2),  # two
    ],
)
def test_zone_rate_card_lookup(km: float, kg: float, price: float) -> None:
    assert GROUND.rate_card.price(km, kg, 1) == pytest.approx(price)


def test_zone_rate_card_fuel_surcharge_and_same_day_zones() -> None:
    card = ZoneRateCard((100.0,), (1.0,), ((10.0,),), fuel_surcharge=0.1)
    assert card.price(50.0, 0.5, 3) == pytest.approx(11.0)
    assert SAME_DAY.rate_card.price(30.0, 2.0, 1) == pytest.approx(7.9 + 3.0 + 2.0)
    assert EXPRESS.rate_card.price(500.0, 4.0, 1) == pytest.approx(9.5 + 2.2 * 3 + 3.1 * 3)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (((100.0, 200.0), (1.0,), ((1.0,),)), "rate_card.prices"),
        (((100.0,), (1.0, 2.0), ((1.0,),)), "rate_card.prices[0]"),
        (((200.0, 100.0), (1.0,), ((1.0,), (2.0,))), "rate_card.zone_limits_km"),
        (((100.0,), (2.0, 1.0), ((1.0, 2.0),)), "rate_card.weight_limits_kg"),
    ],
)
def test_zone_rate_card_validation(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(DomError) as err:
        ZoneRateCard(*args)  # type: ignore[arg-type]
    assert err.value.field == field


def test_linear_rate_card_of_the_literature() -> None:
    card = LinearRateCard()
    # 8.759 per package + 0.423 per item + 0.000541 per item-mile; 160.9344 km = 100 miles
    assert card.price(160.9344, 2.0, 3) == pytest.approx(8.759 + 3 * (0.423 + 0.0541))
    assert card.price(0.0, 9.0, 1) == pytest.approx(9.182)
    assert card.price(1609.344, 0.0, 2) - card.price(0.0, 0.0, 2) == pytest.approx(2 * 0.541)


# --------------------------------------------------------------- transit times
def test_triangular_quantiles() -> None:
    t = TransitTime(1.0, 2.0, 4.0)
    assert t.quantile(0.0) == 1.0 and t.quantile(1.0) == 4.0
    assert t.quantile(1 / 3) == pytest.approx(2.0)  # F(mode) = (c - a) / (b - a)
    assert t.quantile(0.9) == pytest.approx(4.0 - math.sqrt(0.1 * 3 * 2))
    assert t.quantile(0.1) == pytest.approx(1.0 + math.sqrt(0.1 * 3 * 1))
    assert t.mean() == pytest.approx(7 / 3)
    with_km = TransitTime(1.0, 2.0, 4.0, extra_days_per_1000_km=0.5)
    assert with_km.quantile(0.9, 2000.0) == pytest.approx(t.quantile(0.9) + 1.0)
    assert with_km.mean(2000.0) == pytest.approx(7 / 3 + 1.0)
    assert TransitTime(2.0, 2.0, 2.0).quantile(0.7, 1000.0) == 2.0


def test_transit_time_validation() -> None:
    with pytest.raises(DomError) as err:
        TransitTime(2.0, 1.0, 3.0)
    assert err.value.field == "transit"


@settings(deadline=None, max_examples=200)
@given(
    a=st.floats(0, 5), c_off=st.just(0.0) | st.floats(1e-3, 5), b_off=st.just(0.0) | st.floats(1e-3, 5),
    p=st.floats(0, 1), q=st.floats(0, 1),
)
def test_triangular_quantile_inverts_the_cdf(
    a: float, c_off: float, b_off: float, p: float, q: float
) -> None:
    c, b = a + c_off, a + c_off + b_off
    t = TransitTime(a, c, b)
    x = t.quantile(p)
    assert a - 1e-9 <= x <= b + 1e-9
    if p <= q:
        assert x <= t.quantile(q) + 1e-9
    if b - a > 1e-6:
        if a < c and x < c:
            cdf = (x - a) ** 2 / ((b - a) * (c - a))
        else:
            cdf = 1 - (b - x) ** 2 / ((b - a) * (b - c)) if b > c else 1.0
        assert cdf == pytest.approx(p, abs=1e-6)


# ------------------------------------------------------------------ ship times
@pytest.mark.parametrize(
    ("service", "now", "loc_cutoff", "ship_at"),
    [
        (GROUND, 10.0, 16.0, 17.0),  # Monday 10:00: today 17:00
        (GROUND, 16.0, 16.0, 24 + 17.0),  # at the location's cutoff: tomorrow
        (GROUND, 16.5, 20.0, 17.0),  # the carrier's 17:00 pickup is the earlier cutoff
        (GROUND, 17.0, 20.0, 24 + 17.0),
        (GROUND, FRIDAY + 18.0, 20.0, 7 * 24 + 17.0),  # Friday evening: Monday
        (GROUND, SATURDAY + 9.0, 16.0, 7 * 24 + 17.0),
        (SAME_DAY, SATURDAY + 9.0, 16.0, SATURDAY + 14.0),  # the courier works weekends
        (SAME_DAY, SATURDAY + 15.0, 16.0, SATURDAY + 24 + 14.0),
        (EXPRESS, FRIDAY + 10.0, 16.0, FRIDAY + 18.0),
    ],
)
def test_pickup_cutoffs_and_weekends(
    service: CarrierService, now: float, loc_cutoff: float, ship_at: float
) -> None:
    assert service.ship_time(now, loc_cutoff) == ship_at
    cut, km = np.array([loc_cutoff]), np.array([10.0])
    arrays = quote_many(CarrierCatalog((service,)), Objective.CHEAPEST, now, cut, km, 1.0, 1)
    assert arrays.ship_at[0] == ship_at


def test_quote_promise_and_co2() -> None:
    q = GROUND.quote(10.0, 16.0, 100.0, 2.0, 1)
    assert q.service == "ground" and q.ship_at == 17.0
    assert q.cost == pytest.approx(4.2 + 0.9 + 1.6 * 2)
    assert q.promised_at == pytest.approx(17.0 + (4.0 - math.sqrt(0.1 * 3 * 2) + 0.05) * 24)
    assert q.co2_kg == pytest.approx(0.102 * 0.002 * 100 * 1.25 + 0.20)


# -------------------------------------------------------------------- choose
def test_choose_by_objective_near_the_customer() -> None:
    # 30 km, 2 kg, Monday 10:00: ground 7.4, express 15.7, same day 12.9 (leaves 14:00, 0.42 days)
    cheapest = CATALOG.choose(Objective.CHEAPEST, 10.0, 16.0, 30.0, 2.0, 1)
    fastest = CATALOG.choose(Objective.FASTEST, 10.0, 16.0, 30.0, 2.0, 1)
    greenest = CATALOG.choose(Objective.GREENEST, 10.0, 16.0, 30.0, 2.0, 1)
    assert cheapest is not None and (cheapest.service, cheapest.cost) == ("ground", pytest.approx(7.4))
    assert fastest is not None and fastest.service == "same_day"
    assert fastest.promised_at == pytest.approx(14.0 + (0.5 - math.sqrt(0.1 * 0.3 * 0.2)) * 24)
    assert greenest is not None and greenest.service == "same_day"
    assert greenest.co2_kg == pytest.approx(0.22 * 0.002 * 30 * 1.25 + 0.105)


def test_choose_beyond_same_day_range_and_with_deadlines() -> None:
    far = (10.0, 16.0, 100.0, 2.0, 1)
    green = CATALOG.choose(Objective.GREENEST, *far)
    assert green is not None and green.service == "ground"  # same day serves only 60 km
    # ground promises hour 95.6, express 49.5: a deadline of 60 leaves express only
    q = CATALOG.choose(Objective.CHEAPEST, *far, deadline=60.0)
    assert q is not None and q.service == "express"
    # nobody meets hour 20: the fastest comes closest
    q = CATALOG.choose(Objective.CHEAPEST, *far, deadline=20.0)
    assert q is not None and q.service == "express"
    assert CATALOG.choose(Objective.CHEAPEST, 10.0, 16.0, 100.0, 40.0, 1) is None  # over 31.5 kg


def test_catalog_lookup_and_validation() -> None:
    assert [s.name for s in CATALOG.parcel_services()] == ["ground", "express", "same_day"]
    assert CATALOG.service("store_transfer").mode is Mode.TRANSFER
    with pytest.raises(DomError) as err:
        CATALOG.service("pigeon")
    assert err.value.field == "carrier_service"
    with pytest.raises(DomError) as err:
        CarrierCatalog((GROUND, GROUND))
    assert err.value.field == "carriers"


# -------------------------------------------------- quote_many agrees with choose
def _card(draw: st.DrawFn) -> ZoneRateCard | LinearRateCard:
    if draw(st.booleans()):
        return LinearRateCard(
            draw(st.floats(0, 20)), draw(st.floats(0, 2)), draw(st.floats(0, 0.01)),
        )
    zones = sorted(draw(st.lists(st.floats(1, 3000), min_size=1, max_size=4, unique=True)))
    weights = sorted(draw(st.lists(st.floats(0.1, 40), min_size=1, max_size=3, unique=True)))
    prices = tuple(
        tuple(draw(st.sampled_from([2.5, 4.0, 6.0, 7.5, 10.0, 15.0])) for _ in weights) for _ in zones
    )
    return ZoneRateCard(tuple(zones), tuple(weights), prices, draw(st.sampled_from([0.0, 0.1])))


@st.composite
def catalogs(draw: st.DrawFn) -> CarrierCatalog:
    n = draw(st.integers(1, 4))
    names = draw(st.permutations(["a", "b", "c", "d"]))[:n]
    services = []
    for name in names:
        lo = draw(st.floats(0, 3))
        mode = draw(st.floats(0, 3))
        hi = draw(st.floats(0, 3))
        services.append(
            CarrierService(
                name, Mode.ROAD, _card(draw),
                TransitTime(lo, lo + mode, lo + mode + hi, draw(st.sampled_from([0.0, 0.5]))),
                pickup_cutoff_hour=draw(st.sampled_from([12.0, 17.0, 20.0])),
                max_km=draw(st.sampled_from([60.0, 1000.0, math.inf])),
                max_kg=draw(st.sampled_from([5.0, 31.5])),
                linehaul_kg_co2_per_tkm=draw(st.sampled_from([0.1, 0.22, 0.755])),
                last_mile_kg_co2_per_parcel=draw(st.sampled_from([0.1, 0.2])),
                promise_quantile=draw(st.sampled_from([0.5, 0.9])),
                works_weekends=draw(st.booleans()),
            )
        )
    services.append(CATALOG.service("store_transfer"))  # never quoted for parcels
    return CarrierCatalog(tuple(services))


def _agree(
    catalog: CarrierCatalog, *, objective: Objective, now: float, cutoffs: list[float], kms: list[float],
    kg: float, items: int, deadline: float | None,
) -> None:
    arrays = quote_many(catalog, objective, now, np.array(cutoffs), np.array(kms), kg, items, deadline)
    names = [s.name for s in catalog.parcel_services()]
    for j, (cut, km) in enumerate(zip(cutoffs, kms, strict=True)):
        best = catalog.choose(objective, now, cut, km, kg, items, deadline)
        if best is None:
            assert arrays.service[j] == -1
            continue
        assert names[arrays.service[j]] == best.service
        assert arrays.cost[j] == pytest.approx(best.cost)
        assert arrays.ship_at[j] == best.ship_at
        assert arrays.promised_at[j] == pytest.approx(best.promised_at)
        assert arrays.co2_kg[j] == pytest.approx(best.co2_kg)


CASES = st.fixed_dictionaries({
    "objective": st.sampled_from(list(Objective)),
    "now": st.floats(0, 14 * 24),
    "cutoffs": st.lists(st.sampled_from([8.0, 14.0, 16.0, 18.0, 24.0]), min_size=5, max_size=5),
    "kms": st.lists(st.floats(0, 4000), min_size=5, max_size=5),
    "kg": st.floats(0, 45),
    "items": st.integers(1, 6),
    "deadline": st.none() | st.floats(0, 20 * 24),
})


@settings(deadline=None, max_examples=300)
@given(case=CASES)
def test_quote_many_agrees_with_choose_on_default_services(case: dict[str, Any]) -> None:
    _agree(CATALOG, **case)


@settings(deadline=None, max_examples=300)
@given(catalog=catalogs(), case=CASES)
def test_quote_many_agrees_with_choose_on_random_catalogs(
    catalog: CarrierCatalog, case: dict[str, Any]
) -> None:
    _agree(catalog, **case)


def test_quote_many_breaks_exact_ties_like_choose() -> None:
    # two identical services listed out of name order: choose takes the first name
    twin = CarrierService("b_twin", GROUND.mode, GROUND.rate_card, GROUND.transit)
    first = CarrierService("a_twin", GROUND.mode, GROUND.rate_card, GROUND.transit)
    catalog = CarrierCatalog((twin, first))
    _agree(
        catalog, objective=Objective.CHEAPEST, now=10.0, cutoffs=[16.0], kms=[100.0], kg=2.0, items=1,
        deadline=None,
    )
