"""The working calendar: public holidays and closures stop picking, carrier pickups and deliveries, and move
promises past them; opening hours bound pickup in store; without a calendar nothing changes."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from dom_core.calendar import WorkCalendar
from dom_core.engine import SourcingEngine
from dom_core.errors import DomError
from dom_core.model import FulfilmentType, Order, OrderLine
from dom_core.strategies import build_strategy
from sim.runner import run_one
from sim.scenario import Scenario, StrategyRun
from sim.workdays import build_calendar, holiday_days
from sim.world import World, build_world
from tests.sim.conftest import digest, variant

CHRISTMAS_WEEK = "2026-12-21"  # a Monday: day 4 is Christmas Day (Friday), day 5 Boxing Day (Saturday)
DAY = 24.0


def with_calendar(tiny: Scenario, **calendar: object) -> Scenario:
    return variant(tiny, calendar={"start_date": CHRISTMAS_WEEK, **calendar})


# ------------------------------------------------------------------------------ the calendar itself
def test_dispatch_moves_a_pickup_past_closed_days_and_weekends() -> None:
    cal = WorkCalendar((frozenset({2, 3}),))
    assert cal.dispatch(0, 1 * DAY + 17, True) == 1 * DAY + 17  # open: unchanged
    assert cal.dispatch(0, 2 * DAY + 17, True) == 4 * DAY + 17  # Wed, Thu closed -> Friday
    assert cal.dispatch(0, 3 * DAY + 17, True) == 4 * DAY + 17
    weekend = WorkCalendar((frozenset({4}),))
    assert weekend.dispatch(0, 4 * DAY + 17, True) == 7 * DAY + 17  # Friday closed, weekend -> Monday
    assert weekend.dispatch(0, 4 * DAY + 17, False) == 5 * DAY + 17  # a weekend service: Saturday


def test_arrival_moves_on_one_day_per_holiday_in_transit() -> None:
    cal = WorkCalendar((frozenset(),), {"DE": frozenset({2, 4})})
    assert cal.arrival("DE", 0 * DAY + 17, 1 * DAY + 12) == 1 * DAY + 12  # no holiday on the way
    assert cal.arrival("DE", 0 * DAY + 17, 2 * DAY + 12) == 3 * DAY + 12  # day 2 skipped
    assert cal.arrival("DE", 0 * DAY + 17, 3 * DAY + 12) == 5 * DAY + 12  # days 2 and (then) 4 skipped
    assert cal.arrival("FR", 0 * DAY + 17, 2 * DAY + 12) == 2 * DAY + 12  # another market: no holiday


def test_pickup_ready_within_opening_hours() -> None:
    week = ((9.0, 20.0),) * 5 + ((10.0, 16.0), (0.0, 0.0))  # Mon-Fri 9-20, Sat 10-16, Sun closed
    cal = WorkCalendar((frozenset({2}),), {}, (week,))
    assert cal.pickup_ready(0, 0 * DAY + 8, 2.0, 16.0) == 0 * DAY + 10  # 8:00 + 2 h = 10:00
    assert cal.pickup_ready(0, 0 * DAY + 5, 2.0, 16.0) == 0 * DAY + 9  # not before opening
    assert cal.pickup_ready(0, 1 * DAY + 19, 2.0, 16.0) == 3 * DAY + 9  # Tue after hours, Wed closed
    assert cal.pickup_ready(0, 5 * DAY + 15, 2.0, 16.0) == 7 * DAY + 9  # Sat late, Sun closed
    plain = WorkCalendar((frozenset({1}),))  # no hours: the cutoff rule, next open day at 10:00
    assert plain.pickup_ready(0, 0 * DAY + 8, 2.0, 16.0) == 0 * DAY + 10
    assert plain.pickup_ready(0, 0 * DAY + 15, 2.0, 16.0) == 2 * DAY + 10


def test_holidays_come_from_the_holidays_package_as_day_numbers() -> None:
    days = holiday_days("DE", None, dt.date(2026, 12, 21), 14)
    assert days == {4: "Christmas Day", 5: "Second Day of Christmas", 11: "New Year's Day"}
    assert 9 in holiday_days("DE", "BY", dt.date(2026, 12, 28), 14)  # Epiphany (Jan 6) in Bavaria only
    assert 9 not in holiday_days("DE", None, dt.date(2026, 12, 28), 14)


def test_scenario_calendar_is_checked(tiny: Scenario, tiny_world: World) -> None:
    with pytest.raises(ValueError, match="must be a Monday"):
        variant(tiny, calendar={"start_date": "2026-12-22"})
    with pytest.raises(ValueError, match="opening hours"):
        with_calendar(tiny, opening_hours={"default": "9-20"})
    bad = with_calendar(tiny, closures=[{"location": "NOPE", "from": "2026-12-21", "to": "2026-12-22"}])
    with pytest.raises(DomError, match=r"calendar\.closures\[0\]\.location"):
        build_calendar(bad, tiny_world.network)
    with pytest.raises(DomError, match=r"calendar\.start_date"):
        build_calendar(variant(tiny, calendar={"holidays": True}), tiny_world.network)


# ------------------------------------------------------------------------------ engine
def order_before_holiday(world: World, fulfilment: FulfilmentType = FulfilmentType.HOME_DELIVERY) -> Order:
    net = world.network
    store = next(loc for loc in net.locations if loc.is_store)
    return Order(
        "o1",
        "DE",
        "web",
        3 * DAY + 20.0,  # Thursday 20:00, the eve of Christmas Day: past every cutoff
        store.lat + 0.5,
        store.lon + 0.5,
        (OrderLine("1", net.skus[0].id, 1),),
        fulfilment,
        store.id if fulfilment is FulfilmentType.PICKUP_IN_STORE else None,
    )


@pytest.mark.parametrize("strategy", ["split_shipments", "cheapest", "fastest"])
def test_engine_ships_after_the_holidays_and_promises_later(tiny: Scenario, strategy: str) -> None:
    plain = build_world(tiny)
    world = build_world(with_calendar(tiny))
    assert world.calendar is not None and 4 in world.calendar.closed[0] and 5 in world.calendar.closed[0]
    order = order_before_holiday(world)
    before = SourcingEngine(plain.network, plain.carriers, strategy=build_strategy(strategy))
    after = SourcingEngine(
        world.network, world.carriers, strategy=build_strategy(strategy), calendar=world.calendar
    )
    old = before.decide(order, plain.initial.copy())
    new = after.decide(order, world.initial.copy())
    assert old.shipments and new.shipments
    for s in new.shipments:
        day = math.floor(s.ship_at / DAY)
        assert day not in world.calendar.closed[world.network.loc_index[s.location]]
        assert day == 7  # Friday and Saturday are holidays, Sunday no pickup: Monday
    assert max(s.promised_at for s in new.shipments) >= max(s.promised_at for s in old.shipments) + 3 * DAY


def test_engine_pickup_in_store_waits_for_opening_hours(tiny: Scenario) -> None:
    world = build_world(
        with_calendar(tiny, opening_hours={"default": {"mon": "09:00-18:00", "tue": "09:00-18:00"}})
    )
    order = order_before_holiday(world, FulfilmentType.PICKUP_IN_STORE)
    engine = SourcingEngine(world.network, world.carriers, calendar=world.calendar)
    (shipment,) = engine.decide(order, world.initial.copy()).shipments
    assert shipment.service == "pickup"
    assert shipment.promised_at == 7 * DAY + 9.0  # Thu evening, Fri/Sat holidays, Sun closed: Monday 9:00


# ------------------------------------------------------------------------------ simulation
def test_no_picking_no_collection_on_holidays_and_closures(tiny: Scenario) -> None:
    closed_store = "DE-S001"
    sc = with_calendar(tiny, closures=[{"location": closed_store, "from": "2026-12-21", "to": "2026-12-22"}])
    world = build_world(sc)
    result = run_one(world, StrategyRun(strategy="split_shipments"), 0)
    daily, shipments = result.tables["daily"], result.tables["shipments"]
    # the daily row of day d is taken at its start: it holds the picks (and capacity) of day d - 1
    holidays = daily.filter(pl.col("day").is_in([5, 6]))
    assert holidays.height and holidays["picked_units"].sum() == 0 and holidays["capacity_units"].sum() == 0
    closed = daily.filter(pl.col("location") == closed_store, pl.col("day").is_in([1, 2]))
    assert closed["picked_units"].sum() == 0 and closed["capacity_units"].sum() == 0
    assert daily.filter(pl.col("day").is_in([3, 4]))["picked_units"].sum() > 0
    picked_day = ((shipments["picked_at"] - 1e-9) // DAY).cast(pl.Int64)
    assert not picked_day.is_in([4, 5]).any()
    parcels = shipments.filter(pl.col("service") != "pickup")
    assert not (parcels["shipped_at"] // DAY).cast(pl.Int64).is_in([4, 5]).any()  # no carrier pickups
    assert not parcels.filter(pl.col("location") == closed_store, pl.col("shipped_at") < 2 * DAY).height
    delivered = (parcels["delivered_at"] // DAY).cast(pl.Int64)
    assert not delivered.is_in([4, 5]).any()  # nor deliveries


def test_holidays_delay_deliveries_against_the_same_draws(tiny: Scenario) -> None:
    run = StrategyRun(strategy="split_shipments")
    plain = run_one(build_world(tiny), run, 0).kpis
    holiday = run_one(build_world(with_calendar(tiny)), run, 0).kpis
    assert holiday["delivery_days_mean"] > plain["delivery_days_mean"] + 0.5


def test_a_calendar_without_holidays_changes_nothing(tiny: Scenario, tiny_world: World) -> None:
    empty = build_world(with_calendar(tiny, holidays=False))
    for strategy in ("split_shipments", "cheapest"):
        run = StrategyRun(strategy=strategy)
        assert digest(run_one(empty, run, 0)) == digest(run_one(tiny_world, run, 0))


def test_pick_capacity_per_weekday(tiny: Scenario) -> None:
    week = [400, 400, 400, 400, 0, 100, 0]  # no Friday or Sunday shift, a short Saturday
    sc = with_calendar(tiny, holidays=False, pick_capacity={"DE-DC1": week})
    result = run_one(build_world(sc), StrategyRun(strategy="split_shipments"), 0)
    dc = result.tables["daily"].filter(pl.col("location") == "DE-DC1").sort("day")
    by_day = dict(
        zip(dc["day"].to_list(), zip(dc["picked_units"], dc["capacity_units"], strict=True), strict=True)
    )
    assert by_day[5] == (0.0, 0.0)  # row 5: Friday (day 4)
    assert (
        by_day[6][1] == 100 and by_day[6][0] <= 100 + 60
    )  # Saturday: its own capacity (one big job may pass)
    assert by_day[2][1] == 400
    with pytest.raises(ValueError, match="7 non-negative capacities"):
        with_calendar(tiny, pick_capacity={"DE-DC1": [1, 2]})
