"""ECharts option objects for the pages, built in Python and embedded as JSON.

Only JSON goes to the browser (no functions), so labels use ECharts' string templates
(``"{b}: {c}"``). ``static/charts.js`` adds the accessibility description (``aria``) and the
click-through links (``links``: series item name → URL).
"""

from __future__ import annotations

from typing import Any

from qingshan.services.dashboard import DistrictView
from qingshan.web.i18n import N_
from qingshan.web.i18n import gettext_ as _
from qingshan.web.rendering import yuan

KIND_STYLE = {
    "air_station": (N_("Air stations"), "circle", "#1f77b4"),
    "water_section": (N_("Water sections"), "diamond", "#17becf"),
    "noise_point": (N_("Noise points"), "triangle", "#9467bd"),
    "source_outlet": (N_("Source outlets"), "rect", "#8c564b"),
    "energy_meter": (N_("Energy meters"), "pin", "#7f7f7f"),
}
"""Legend label, symbol and colour of each site kind on the map (shapes differ, so the map
is legible without colour vision)."""

SITE_PAGE = {
    "air_station": "/air/{code}",
    "water_section": "/water/{code}",
    "noise_point": "/noise/{code}",
    "source_outlet": "/sources/{code}",
    "energy_meter": "/carbon",
}


def site_url(kind: str, code: str) -> str:
    return SITE_PAGE[kind].format(code=code)


def district_map(
    view: DistrictView, *, site_colours: dict[str, str] | None = None
) -> dict[str, Any]:
    """The overview map: grids shaded by open alarms, one marker layer per site kind.

    ``site_colours`` (site code → colour of its current state, e.g. its AQI category) overrides
    the kind's colour, so the map shows today's state where it is known.
    """
    colours = site_colours or {}
    links = {grid.name: f"/alarms?grid={grid.code}" for grid in view.grids}
    series: list[dict[str, Any]] = [
        {
            "name": _("Grids"),
            "type": "map",
            "map": "district",
            "geoIndex": 0,
            "data": [{"name": grid.name, "value": grid.open_alarms} for grid in view.grids],
        }
    ]
    for kind, (label, symbol, colour) in KIND_STYLE.items():
        sites = [site for site in view.sites if site.kind == kind]
        if not sites:
            continue
        series.append(
            {
                "name": _(label),
                "type": "scatter",
                "coordinateSystem": "geo",
                "symbol": symbol,
                "symbolSize": 12,
                "itemStyle": {"color": colour, "borderColor": "#fff", "borderWidth": 1},
                "data": [
                    {
                        "name": site.name,
                        "value": [site.longitude, site.latitude, site.open_alarms],
                        "itemStyle": {"color": colours[site.code]} if site.code in colours else {},
                    }
                    for site in sites
                ],
            }
        )
        links.update({site.name: site_url(site.kind, site.code) for site in sites})
    most = max((grid.open_alarms for grid in view.grids), default=0)
    return {
        "map": {"name": "district", "geojson": view.feature_collection()},
        "links": links,
        "option": {
            "tooltip": {"trigger": "item"},
            "legend": {"bottom": 0, "type": "scroll"},
            "visualMap": {
                "min": 0,
                "max": max(most, 1),
                "seriesIndex": 0,
                "text": [_("Open alarms"), "0"],
                "inRange": {"color": ["#e8f5e9", "#ffcc80", "#e53935"]},
                "left": 0,
                "bottom": 40,
                "calculable": False,
            },
            "geo": {
                "map": "district",
                "roam": True,
                "nameProperty": "name",
                "label": {"show": False},
                "itemStyle": {"borderColor": "#455a64", "areaColor": "#eef3f1"},
                "emphasis": {"label": {"show": True}},
            },
            "series": series,
        },
    }


def _axis_chart(
    categories: list[str], unit: str, series: list[dict[str, Any]], *, scale: bool = False
) -> dict[str, Any]:
    """A category x-axis, a value y-axis in ``unit`` and the given series, with a legend."""
    return {
        "option": {
            "tooltip": {"trigger": "axis"},
            "legend": {"type": "scroll", "bottom": 0},
            "grid": {"left": 64, "right": 16, "top": 32, "bottom": 56},
            "xAxis": {"type": "category", "data": categories},
            "yAxis": {"type": "value", "name": unit, "scale": scale},
            "series": series,
        }
    }


def bar_chart(
    categories: list[str],
    series: dict[str, list[float | None]],
    *,
    unit: str,
    stacked: bool = False,
) -> dict[str, Any]:
    """Bars per category, one series per key of ``series`` (stacked when they add up)."""
    stack = {"stack": "total"} if stacked else {}
    return _axis_chart(
        categories,
        unit,
        [{"name": name, "type": "bar", "data": values, **stack} for name, values in series.items()],
    )


def line_chart(
    categories: list[str],
    series: dict[str, list[float | None]],
    *,
    unit: str,
    dashed: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Lines over ``categories``; names in ``dashed`` are reference paths (targets, limits)."""
    reference = {"lineStyle": {"type": "dashed"}, "symbol": "none"}
    return _axis_chart(
        categories,
        unit,
        [
            {
                "name": name,
                "type": "line",
                "data": values,
                "connectNulls": False,
                **(reference if name in dashed else {}),
            }
            for name, values in series.items()
        ],
        scale=True,
    )


def yuan_from_fen(fen: int) -> float:
    """Fen → yuan for a chart axis only (tables print the exact integer fen as yuan text)."""
    return fen / 100


def book_chart(bids: list[dict[str, int]], asks: list[dict[str, int]]) -> dict[str, Any]:
    """The order book's depth as bars: tonnes bid and offered at each price level (yuan/t,
    ascending), bids and asks in their own series so the spread shows as the gap between."""
    bid_tonnes = {level["price_fen_per_t"]: level["quantity_t"] for level in bids}
    ask_tonnes = {level["price_fen_per_t"]: level["quantity_t"] for level in asks}
    prices = sorted({*bid_tonnes, *ask_tonnes})
    chart = bar_chart(
        [yuan(price) for price in prices],
        {
            _("Bids"): [bid_tonnes.get(price) for price in prices],
            _("Asks"): [ask_tonnes.get(price) for price in prices],
        },
        unit=_("t CO2e"),
        stacked=True,
    )
    chart["option"]["color"] = ["#2e7d32", "#c62828"]
    for series in chart["option"]["series"]:
        series["barMaxWidth"] = 32
    chart["option"]["xAxis"]["name"] = _("yuan/t")
    return chart


def candlestick_chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Daily open/close/low/high as candles (red rising, green falling, as Chinese quote boards
    colour them), the VWAP as a line and the volume as bars on a second axis."""
    return {
        "option": {
            "tooltip": {"trigger": "axis"},
            "legend": {"bottom": 0},
            "grid": {"left": 64, "right": 64, "top": 32, "bottom": 56},
            "xAxis": {"type": "category", "data": [day["day"] for day in days]},
            "yAxis": [
                {"type": "value", "name": _("yuan/t"), "scale": True},
                {"type": "value", "name": _("t CO2e"), "splitLine": {"show": False}},
            ],
            "series": [
                {
                    "name": _("Daily price"),
                    "type": "candlestick",
                    "data": [
                        [
                            yuan_from_fen(day[f"{field}_fen_per_t"])
                            for field in ("open", "close", "low", "high")
                        ]
                        for day in days
                    ],
                    "itemStyle": {
                        "color": "#c62828",
                        "borderColor": "#c62828",
                        "color0": "#2e7d32",
                        "borderColor0": "#2e7d32",
                    },
                },
                {
                    "name": _("VWAP"),
                    "type": "line",
                    "data": [yuan_from_fen(day["vwap_fen_per_t"]) for day in days],
                },
                {
                    "name": _("Volume"),
                    "type": "bar",
                    "yAxisIndex": 1,
                    "barMaxWidth": 24,
                    "data": [day["volume_t"] for day in days],
                    "itemStyle": {"color": "#90a4ae"},
                },
            ],
        }
    }
