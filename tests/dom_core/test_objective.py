"""The objective strategies' promise-free scoring equals quote_many's figures, float for float."""

from __future__ import annotations

import math

import numpy as np
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
from dom_core.quoting import quote_many
from dom_core.strategies.objective import _ParcelTable

ZONES = ((50.0, 150.0, 400.0), (25.0, 60.0))
WEIGHTS = ((1.0, 5.0, 20.0), (0.5, 2.0, 31.5))


@st.composite
def catalogs(draw: st.DrawFn) -> CarrierCatalog:
    """Two to four parcel services with zone or linear cards; prices from a few values, so ties happen.

    Zone cards have one of two zone tables and one of two weight tables, so the services' zones,
    weight brackets and distance limits interleave."""
    price = st.sampled_from([4.0, 5.5, 7.25, 9.0])
    services = []
    for i in range(draw(st.integers(2, 4))):
        if draw(st.booleans()):
            zones, weights = draw(st.sampled_from(ZONES)), draw(st.sampled_from(WEIGHTS))
            table = tuple(tuple(draw(price) for _ in weights) for _ in zones)
            card: ZoneRateCard | LinearRateCard = ZoneRateCard(
                zones, weights, table, draw(st.sampled_from([0.0, 0.1]))
            )
        else:
            card = LinearRateCard(draw(price), 0.4, draw(st.sampled_from([0.0, 0.0005])))
        services.append(
            CarrierService(
                f"s{i}",
                Mode.ROAD,
                card,
                TransitTime(1.0, 2.0, 3.0, 0.5),
                pickup_cutoff_hour=draw(st.sampled_from([14.0, 17.0])),
                max_km=draw(st.sampled_from([60.0, 100.0, math.inf])),
                max_kg=draw(st.sampled_from([20.0, 31.5])),
                linehaul_kg_co2_per_tkm=draw(st.sampled_from([0.1, 0.2])),
                last_mile_kg_co2_per_parcel=draw(st.sampled_from([0.1, 0.2])),
            )
        )
    return CarrierCatalog(tuple(services))


@settings(max_examples=300, deadline=None)
@given(
    catalog=st.one_of(st.just(default_services()), catalogs()),
    km=st.lists(
        st.sampled_from([0.0, 10.0, 25.0, 50.0, 60.0, 61.5, 100.0, 100.5, 149.9, 150.0, 420.0, 3000.0]),
        min_size=1,
    ),
    kg=st.sampled_from([0.0, 0.2, 0.5, 1.0, 1.7, 3.3, 19.9, 20.0, 25.0, 31.5, 40.0]),
    items=st.integers(1, 6),
    greenest=st.booleans(),
)
def test_best_service_figures_equal_quote_many(
    catalog: CarrierCatalog, km: list[float], kg: float, items: int, greenest: bool
) -> None:
    dist = np.array(km)
    objective = Objective.GREENEST if greenest else Objective.CHEAPEST
    q = quote_many(catalog, objective, 30.5, np.full(dist.size, 16.0), dist, kg, items)
    best = _ParcelTable.of(catalog).best(dist, kg, items, with_co2=greenest)
    if (q.service < 0).any():
        assert best is None
        return
    assert best is not None
    cost, co2 = best
    assert np.array_equal(cost, q.cost)
    if greenest:
        assert np.array_equal(co2, q.co2_kg)
