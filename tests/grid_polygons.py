"""Constructed grid polygons for the adjacency tests: squares laid out in metres."""

from __future__ import annotations

import json
import math

from qingshan.alerting.adjacency import EARTH_RADIUS_M

LATITUDE = 30.5
"""The squares lie about 30.5° N, 114° E (a district in central China)."""
METRE_Y = 180 / (math.pi * EARTH_RADIUS_M)
METRE_X = METRE_Y / math.cos(math.radians(LATITUDE))
SIDE_M = 1_000.0


def square(x_m: float, y_m: float, side_m: float = SIDE_M) -> str:
    """A GeoJSON square whose south-west corner is ``(x_m, y_m)`` metres from 114° E, 30.5° N."""
    x0, y0 = 114.0 + x_m * METRE_X, LATITUDE + y_m * METRE_Y
    x1, y1 = x0 + side_m * METRE_X, y0 + side_m * METRE_Y
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})
