"""Great-circle distances (haversine), scalar and vectorised."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
KM_PER_MILE = 1.609344

FloatArray = npt.NDArray[np.float64]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_many_km(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Distances in km from one point to many (arrays in degrees), vectorised."""
    p2 = np.radians(lats)
    return haversine_prepared_km(lat, lon, p2, np.cos(p2), lons)


def haversine_prepared_km(
    lat: float, lon: float, rad_lats: FloatArray, cos_lats: FloatArray, lons: FloatArray
) -> FloatArray:
    """``haversine_many_km`` with ``np.radians(lats)`` and their cosines precomputed (identical results)."""
    p1 = math.radians(lat)
    dp = rad_lats - p1
    dl = np.radians(lons - lon)
    a = np.sin(dp / 2.0) ** 2 + math.cos(p1) * cos_lats * np.sin(dl / 2.0) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return result


def haversine_prepared_grid_km(
    points: Sequence[tuple[float, float]], rad_lats: FloatArray, cos_lats: FloatArray, lons: FloatArray
) -> FloatArray:
    """``haversine_prepared_km`` of many (lat, lon) points at once, one row per point.

    Element for element the same operations (each point's radians and cosine by ``math``, as there), so
    each row equals that function's result for its point.
    """
    p1 = [math.radians(lat) for lat, _ in points]
    cos_p1 = np.array([math.cos(p) for p in p1])[:, None]
    dp = rad_lats - np.array(p1)[:, None]
    dl = np.radians(lons - np.array([lon for _, lon in points])[:, None])
    a = np.sin(dp / 2.0) ** 2 + cos_p1 * cos_lats * np.sin(dl / 2.0) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return result


def haversine_prepared_few_km(
    lat: float, lon: float, points: Iterable[tuple[float, float, float]]
) -> list[float]:
    """``haversine_prepared_km`` for a few points given as (radians of lat, its cosine, lon), in scalar
    arithmetic: identical results for a fraction of the cost of a dozen and a half numpy calls.

    Each step is the same IEEE operation as the vectorised one (``math.sin`` and ``math.radians`` agree
    with numpy's, ``x * x`` is numpy's ``x ** 2``); only ``arcsin`` is left to numpy, whose float64
    arcsin differs from libm's ``asin`` in the last bit now and then.
    """
    p1 = math.radians(lat)
    cos_p1 = math.cos(p1)
    out = []
    for rad_lat, cos_lat, lon2 in points:
        s1 = math.sin((rad_lat - p1) / 2.0)
        s2 = math.sin(math.radians(lon2 - lon) / 2.0)
        root = min(1.0, math.sqrt(s1 * s1 + cos_p1 * cos_lat * (s2 * s2)))
        out.append(2 * EARTH_RADIUS_KM * float(np.arcsin(root)))
    return out
