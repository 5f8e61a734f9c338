"""Real geography under the network map, offline: land, coastlines and country borders from the Natural
Earth 1:50m countries shipped in ``dashboard/data/`` (see its README for source and licence).

The TopoJSON file is decoded here (no topojson or GIS dependency) and cut to the map's view: land as
filled polygons (clipped to the view, lakes drawn back in sea colour), coastlines (arcs of one country)
and borders (arcs shared by two countries) as lines. Everything is plain longitude/latitude, drawn as
ordinary plotly traces, so neither the browser nor the server fetches map tiles or topojson.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "countries-50m.json.gz"
Box = tuple[float, float, float, float]  # lon_min, lon_max, lat_min, lat_max
Path2 = list[float | None]  # x or y of line/polygon pieces separated by None (plotly's gaps)


@dataclass(frozen=True)
class World:
    """The decoded topology: every arc in degrees, which arcs are coast or border, the land rings."""

    arcs: tuple[np.ndarray, ...]  # (n, 2) lon/lat per arc
    coast: tuple[int, ...]  # arcs of one country only: coastlines
    borders: tuple[int, ...]  # arcs shared by two countries: land borders
    land: tuple[np.ndarray, ...]  # outer rings of the land polygons
    lakes: tuple[np.ndarray, ...]  # their holes


@dataclass(frozen=True)
class Layers:
    """The geography inside one view, as x (lon) / y (lat) lists ready for plotly traces."""

    box: Box
    land: tuple[Path2, Path2]
    lakes: tuple[Path2, Path2]
    coast: tuple[Path2, Path2]
    borders: tuple[Path2, Path2]


def _ring(arcs: tuple[np.ndarray, ...], refs: list[int]) -> np.ndarray:
    """A closed ring stitched from arc references (``~i`` = arc ``i`` reversed)."""
    parts = [arcs[r] if r >= 0 else arcs[~r][::-1] for r in refs]
    return np.concatenate([parts[0], *(p[1:] for p in parts[1:])])


@lru_cache(maxsize=1)
def world(path: Path = DATA) -> World:
    """Decode the shipped TopoJSON (quantized, delta-encoded arcs) once per process."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        topo = json.load(f)
    scale, shift = np.asarray(topo["transform"]["scale"]), np.asarray(topo["transform"]["translate"])
    arcs = tuple(np.cumsum(np.asarray(a, dtype=np.float64), axis=0) * scale + shift for a in topo["arcs"])
    uses = np.zeros(len(arcs), dtype=np.int64)
    for g in topo["objects"]["countries"]["geometries"]:
        polygons = g.get("arcs", [])
        for polygon in polygons if g["type"] == "MultiPolygon" else [polygons]:
            for ring in polygon:
                for r in ring:
                    uses[r if r >= 0 else ~r] += 1
    land: list[np.ndarray] = []
    lakes: list[np.ndarray] = []
    for g in topo["objects"]["land"]["geometries"]:
        for polygon in g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]:
            land.append(_ring(arcs, polygon[0]))
            lakes += [_ring(arcs, hole) for hole in polygon[1:]]
    return World(arcs, tuple(np.flatnonzero(uses == 1).tolist()), tuple(np.flatnonzero(uses >= 2).tolist()),
                 tuple(land), tuple(lakes))


def view(
    lons: list[float], lats: list[float], aspect: float = 1.6, margin: float = 0.08, min_span: float = 2.0,
) -> Box:
    """A view around the given points: their extent plus ``margin`` of it on each side (at least
    ``min_span`` degrees), widened or heightened to ``aspect`` (width / height on screen, with longitude
    shrunk by the cosine of the mean latitude), within the world's limits."""
    if not lons:
        return (-180.0, 180.0, -60.0, 80.0)
    x0, x1, y0, y1 = min(lons), max(lons), min(lats), max(lats)
    dx, dy = max(x1 - x0, min_span), max(y1 - y0, min_span)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    shrink = max(0.2, math.cos(math.radians(cy)))
    if dx * shrink < aspect * dy:
        dx = aspect * dy / shrink
    else:
        dy = dx * shrink / aspect
    half_x, half_y = dx * (0.5 + margin), dy * (0.5 + margin)
    return (max(-180.0, cx - half_x), min(180.0, cx + half_x),
            max(-85.0, cy - half_y), min(85.0, cy + half_y))


def _meets(pts: np.ndarray, box: Box) -> bool:
    return bool(pts[:, 0].max() >= box[0] and pts[:, 0].min() <= box[1]
                and pts[:, 1].max() >= box[2] and pts[:, 1].min() <= box[3])


def clip_polygon(ring: np.ndarray, box: Box) -> np.ndarray:
    """The ring clipped to the box (Sutherland-Hodgman, one box side at a time, vectorised)."""
    pts = ring
    sides = ((0, box[0], True), (0, box[1], False), (1, box[2], True), (1, box[3], False))
    for axis, bound, keep_above in sides:
        if len(pts) == 0:
            break
        nxt = np.roll(pts, -1, axis=0)
        a, b = pts[:, axis], nxt[:, axis]
        cur_in, nxt_in = (a >= bound, b >= bound) if keep_above else (a <= bound, b <= bound)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(a != b, (bound - a) / (b - a), 0.0)
        cross = pts + t[:, None] * (nxt - pts)
        first = np.where((cur_in & nxt_in)[:, None], nxt, cross)  # in->in: next; in->out / out->in: crossing
        pair = np.stack([first, nxt], axis=1)  # out->in also keeps the next point
        keep = np.stack([cur_in | nxt_in, ~cur_in & nxt_in], axis=1)
        pts = pair[keep]
    return pts


def clip_line(line: np.ndarray, box: Box) -> list[np.ndarray]:
    """The pieces of a polyline inside the box, each extended by one point beyond it (the plot clips)."""
    inside = ((line[:, 0] >= box[0]) & (line[:, 0] <= box[1])
              & (line[:, 1] >= box[2]) & (line[:, 1] <= box[3]))
    near = inside.copy()
    near[1:] |= inside[:-1]
    near[:-1] |= inside[1:]
    idx = np.flatnonzero(near)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if len(idx) else []
    return [line[r] for r in runs if len(r) > 1]


def _paths(pieces: list[np.ndarray], closed: bool = False) -> tuple[Path2, Path2]:
    xs: Path2 = []
    ys: Path2 = []
    for p in pieces:
        if closed:
            p = np.vstack([p, p[:1]])
        xs += [*np.round(p[:, 0], 3).tolist(), None]
        ys += [*np.round(p[:, 1], 3).tolist(), None]
    return xs, ys


@lru_cache(maxsize=16)
def layers(box: Box) -> Layers:
    """Land, lakes, coastlines and borders inside ``box`` (cached per view)."""
    w = world()
    pad = (box[1] - box[0]) * 0.02 + 0.1, (box[3] - box[2]) * 0.02 + 0.1
    outer = (box[0] - pad[0], box[1] + pad[0], box[2] - pad[1], box[3] + pad[1])  # fills end off screen

    def polygons(rings: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        cut = (clip_polygon(r, outer) for r in rings if _meets(r, outer))
        return [c for c in cut if len(c) >= 3]

    def lines(ids: tuple[int, ...]) -> list[np.ndarray]:
        return [piece for i in ids if _meets(w.arcs[i], box) for piece in clip_line(w.arcs[i], box)]

    return Layers(box, _paths(polygons(w.land), closed=True), _paths(polygons(w.lakes), closed=True),
                  _paths(lines(w.coast)), _paths(lines(w.borders)))
