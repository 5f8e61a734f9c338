"""The dashboard's reads, cached by Streamlit per (result folder, manifest time stamp)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pydantic
import streamlit as st

from dashboard import geo, results
from dashboard.results import ResultsError, ResultSet
from dom_core.errors import DomError

if TYPE_CHECKING:
    from sim.world import World


@st.cache_data(show_spinner=False, max_entries=8)
def result_set(folder: str, stamp: int) -> ResultSet:
    """Manifest, KPI rows and comparison of a result folder."""
    del stamp  # part of the cache key only
    return results.load_result_set(Path(folder))


@st.cache_data(show_spinner=False, max_entries=8)
def daily(folder: str, stamp: int) -> pl.DataFrame:
    """Daily location snapshots."""
    del stamp
    return results.daily(Path(folder))


@st.cache_data(show_spinner=False, max_entries=8)
def orders_per_day(folder: str, stamp: int) -> pl.DataFrame:
    """Orders per (strategy, replication, day)."""
    del stamp
    return results.orders_per_day(Path(folder))


@st.cache_data(show_spinner=False, max_entries=8)
def shipped_by_location(folder: str, stamp: int, replications: int) -> pl.DataFrame:
    """Units and parcels per (strategy, location), mean over replications."""
    del stamp
    return results.shipped_by_location(Path(folder), replications)


@st.cache_data(show_spinner=False, max_entries=8)
def explanations(folder: str, stamp: int) -> pl.DataFrame:
    """Sampled decision explanations."""
    del stamp
    return results.explanations(Path(folder))


@st.cache_data(show_spinner=False, max_entries=64)
def order_detail(
    folder: str, stamp: int, strategy: str, replication: int, ref: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Order rows and shipments of one order in one run."""
    del stamp
    return results.order_detail(Path(folder), strategy, replication, ref)


@st.cache_resource(show_spinner=False, max_entries=4)
def world(folder: str, stamp: int) -> World:
    """The world of the results' scenario (rebuilt from the manifest's scenario spec; deterministic)."""
    del stamp
    spec = results.load_result_set(Path(folder)).manifest.get("scenario_spec")
    if not spec:
        raise ResultsError(f"{folder}/manifest.json has no scenario_spec: locations cannot be placed")
    from sim.scenario import Scenario
    from sim.world import build_world

    try:
        return build_world(Scenario.model_validate(spec))
    except (DomError, pydantic.ValidationError, ValueError) as exc:
        raise ResultsError(f"{folder}/manifest.json: its scenario no longer builds ({exc})") from None


@st.cache_data(show_spinner=False, max_entries=4)
def locations(folder: str, stamp: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Locations and customer places of the results' world."""
    w = world(folder, stamp)
    return geo.locations(w), geo.customer_places(w)


@st.cache_data(show_spinner=False, max_entries=32)
def flows(folder: str, stamp: int, strategy: str, replication: int, demand_factor: float) -> pl.DataFrame:
    """Flows of one run from shipping locations to customer areas (customers from the demand stream)."""
    from sim.demand import generate_demand

    w = world(folder, stamp)
    dest = geo.destinations(w, generate_demand(w, replication, demand_factor))
    ships = results.shipments_of(Path(folder), strategy, replication)
    return geo.flows(ships, dest, geo.locations(w))
