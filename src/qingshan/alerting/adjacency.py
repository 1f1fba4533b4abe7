"""Which management grids are neighbours: shared boundaries of their polygons (pure geometry).

The neighbour-anomaly rule compares a site with the sites of its own grid and of the grids
next to it (``docs/alerting.md``). Two grids are **neighbours when their boundaries share a
stretch of line** ("rook" contiguity, as in spatial statistics' contiguity weights): a grid
that meets another only at a corner point is not its neighbour. Air moves across an edge of
hundreds of metres, not through a point, and corner contacts are often accidents of
digitising. In a 3 × 3 tiling the corner grid thus has 2 neighbours, an edge grid 3 and the
centre 4.

Digitised boundaries rarely meet exactly: neighbouring polygons drawn separately leave slivers
and gaps of a few metres, or overlap a little. So a shared boundary is measured with a
tolerance: the length of grid A's boundary lying within ``tolerance_m`` of grid B. The grids
are neighbours when that length is at least ``min_shared_m`` in both directions (the smaller
of the two lengths counts). A corner contact gives at most about 2 × ``tolerance_m`` of such
boundary, well below the default ``min_shared_m``; a real common edge gives its whole length.

Coordinates are GeoJSON (WGS-84 longitude, latitude in degrees). Lengths are measured after a
local equirectangular projection about the grid set's mean latitude (x = R cos φ₀ λ, y = R φ,
R = 6 371 008.8 m, the IUGG mean Earth radius; Moritz 2000, *Geodetic Reference System 1980*,
J. Geodesy 74): over a district of some 50 km its scale error is below 0.1 %, far finer than
a tolerance of metres.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import shapely

EARTH_RADIUS_M = 6_371_008.8
"""IUGG mean Earth radius R₁ (Moritz 2000). [m]"""

TOLERANCE_M = 5.0
"""Gap or overlap between digitised neighbouring boundaries still counted as shared. [m]"""

MIN_SHARED_M = 50.0
"""Shortest shared stretch of boundary that makes two grids neighbours (10 × the tolerance:
a corner contact yields at most about 2 × the tolerance). [m]"""

GridKey = TypeVar("GridKey", bound=Hashable)


@dataclass(frozen=True)
class Adjacency:
    """Neighbours of every grid with a usable polygon; the grids whose boundary was unusable."""

    neighbours: dict[Any, frozenset[Any]]
    """Grid → the grids sharing a boundary with it (never itself)."""
    unreadable: dict[Any, str]
    """Grid → why its boundary could not be used (not GeoJSON, not a polygon, empty)."""


def read_polygon(boundary: str) -> shapely.Geometry:
    """A GeoJSON Polygon or MultiPolygon geometry (text) as a valid shapely geometry.

    Raises
    ------
    ValueError
        Not JSON, not a GeoJSON geometry, not a (multi)polygon, or empty.
    """
    try:
        geometry = shapely.from_geojson(boundary)
    except (TypeError, shapely.errors.GEOSException) as error:
        raise ValueError(f"not a GeoJSON geometry: {error}") from None
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
        raise ValueError(f"a grid boundary must be a non-empty polygon, not {geometry.geom_type}")
    return shapely.make_valid(geometry)


def _projected(geometries: Sequence[shapely.Geometry]) -> list[shapely.Geometry]:
    """Longitude/latitude degrees → local metres (equirectangular about the mean latitude)."""
    latitudes = [shapely.bounds(g)[[1, 3]].mean() for g in geometries]
    scale_y = EARTH_RADIUS_M * math.pi / 180
    scale_x = scale_y * math.cos(math.radians(float(np.mean(latitudes))))
    factors = np.array([scale_x, scale_y])
    return [shapely.transform(g, lambda xy: xy * factors) for g in geometries]


def shared_length(a: shapely.Geometry, b: shapely.Geometry, tolerance: float) -> float:
    """Length of boundary the two (projected) polygons share within ``tolerance``: the
    smaller of A's boundary near B and B's boundary near A. [projected unit]"""
    near_b = shapely.intersection(a.boundary, shapely.buffer(b, tolerance)).length
    near_a = shapely.intersection(b.boundary, shapely.buffer(a, tolerance)).length
    return float(min(near_a, near_b))


def polygon_neighbours(
    boundaries: Sequence[tuple[GridKey, str]],
    *,
    tolerance_m: float = TOLERANCE_M,
    min_shared_m: float = MIN_SHARED_M,
) -> Adjacency:
    """Which grids share a boundary, from their GeoJSON polygons (see the module docstring).

    Parameters
    ----------
    boundaries : sequence of (grid key, GeoJSON text)
        Each grid's boundary in WGS-84 degrees.
    tolerance_m : float
        Gap or overlap still counted as a common boundary. [m]
    min_shared_m : float
        Shortest common boundary that makes grids neighbours. [m]

    Returns
    -------
    Adjacency
        Symmetric neighbours of the readable grids; unreadable grids with the reason.
    """
    if tolerance_m < 0 or min_shared_m <= 0:
        raise ValueError("tolerance_m must be ≥ 0 and min_shared_m > 0")
    keys: list[GridKey] = []
    polygons: list[shapely.Geometry] = []
    unreadable: dict[Any, str] = {}
    for key, boundary in boundaries:
        try:
            polygons.append(read_polygon(boundary))
            keys.append(key)
        except ValueError as error:
            unreadable[key] = str(error)
    neighbours: dict[Any, set[GridKey]] = {key: set() for key in keys}
    if polygons:
        projected = _projected(polygons)
        tree = shapely.STRtree(projected)
        pairs = tree.query(projected, predicate="dwithin", distance=tolerance_m)
        for i, j in zip(pairs[0], pairs[1], strict=True):
            if i < j and shared_length(projected[i], projected[j], tolerance_m) >= min_shared_m:
                neighbours[keys[i]].add(keys[j])
                neighbours[keys[j]].add(keys[i])
    return Adjacency({key: frozenset(found) for key, found in neighbours.items()}, unreadable)


@lru_cache(maxsize=8)
def cached_polygon_neighbours(boundaries: tuple[tuple[GridKey, str], ...]) -> Adjacency:
    """:func:`polygon_neighbours` with the default tolerances, remembered per grid set (the
    grids of a district change rarely; any changed boundary is a different key)."""
    return polygon_neighbours(boundaries)
