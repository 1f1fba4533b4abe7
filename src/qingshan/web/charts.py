"""ECharts option objects for the pages, built in Python and embedded as JSON.

Only JSON goes to the browser (no functions), so labels use ECharts' string templates
(``"{b}: {c}"``). ``static/charts.js`` adds the accessibility description (``aria``) and the
click-through links (``links``: series item name → URL).
"""

from __future__ import annotations

import math
from typing import Any

from qingshan.services.dashboard import DistrictView
from qingshan.standards import aqi, water
from qingshan.store.models import Parameter
from qingshan.web.i18n import N_, current_locale
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


# ------------------------------------------------------------------------------------------
# Monitoring charts: every chart carries its data as a table (``table``) that the page shows
# in a <details> under it, so the numbers are readable without the canvas.
# ------------------------------------------------------------------------------------------

Number = float | int | None


def _table(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": columns, "rows": rows}


def _nice_ceiling(value: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ) at or above ``value``
    (> 0), for an axis end."""
    scale = 10.0 ** math.floor(math.log10(value))
    return next(
        step * scale for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * scale >= value
    )


def _value_axis(
    unit: str, series: dict[str, list[Number]], limits: list[tuple[str, float]]
) -> dict[str, Any]:
    """A value axis that reaches the highest limit: ECharts scales the axis to the data only,
    so a permit limit above every reading (an outlet at half its limit) was drawn off the
    chart."""
    axis: dict[str, Any] = {"type": "value", "name": unit, "scale": True}
    highest_limit = max((value for _, value in limits), default=None)
    values = [v for values in series.values() for v in values if v is not None]
    if highest_limit is not None and highest_limit > 0 and highest_limit >= max(values, default=0):
        axis["max"] = _nice_ceiling(highest_limit * 1.1)
    return axis


def _limit_lines(limits: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "symbol": "none",
        "lineStyle": {"type": "dashed", "color": "#c62828"},
        "label": {"formatter": "{b}: {c}", "position": "insideEndTop"},
        "data": [{"name": name, "yAxis": value} for name, value in limits],
    }


PLOT_TOP = 60
"""Pixels above the plot of a chart with a legend on top and a named value axis: a row for the
legend, a row for the axis name under it (at 36 a wide legend — the inventory's seven sectors —
covered the unit)."""


def line_chart(
    times: list[str],
    series: dict[str, list[Number]],
    *,
    unit: str,
    limits: list[tuple[str, float]] | None = None,
    step: bool = False,
    dashed: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Lines over a shared time axis; ``limits`` are dashed horizontal lines (on the first
    series) and the series named in ``dashed`` are reference paths (a target's required
    path), drawn dashed. The data table lists every series by time."""
    names = list(series)
    lines = [
        {
            "name": name,
            "type": "line",
            "showSymbol": len(times) < 60,
            "connectNulls": False,
            "step": "end" if step else False,
            "data": values,
            **({"lineStyle": {"type": "dashed"}} if name in dashed else {}),
        }
        for name, values in series.items()
    ]
    if limits and lines:
        lines[0]["markLine"] = _limit_lines(limits)
    rows = [[t, *(series[n][i] for n in names)] for i, t in enumerate(times)]
    return {
        "option": {
            "tooltip": {"trigger": "axis"},
            "legend": {"type": "scroll", "top": 0},
            "grid": {"left": 48, "right": 24, "top": PLOT_TOP, "bottom": 56},
            "xAxis": {"type": "category", "data": times},
            "yAxis": _value_axis(unit, series, limits or []),
            "dataZoom": [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 8}],
            "series": lines,
        },
        "table": _table([_("Time"), *names], rows),
    }


def _calendar_names() -> str:
    """ECharts' built-in day and month names of the page's language."""
    return "ZH" if current_locale() == "zh_CN" else "EN"


def category_name(category: aqi.Category) -> str:
    """An AQI category's name in the page's language (HJ 633 Table A.1; CNEMC English)."""
    return category.name if current_locale() == "zh_CN" else category.name_en


def parameter_name(parameter: Parameter) -> str:
    """A parameter's name in the page's language."""
    return parameter.name_zh if current_locale() == "zh_CN" else parameter.name_en


def water_item_name(key: str) -> str:
    """A GB 3838 item's name in the page's language (Table 1); the key when it is not one."""
    if key not in water.ITEMS:
        return key
    item = water.item(key)
    return item.name if current_locale() == "zh_CN" else item.name_en


def aqi_pieces() -> list[dict[str, Any]]:
    """visualMap pieces: the six AQI categories with their HJ 633 colours (Table A.1)."""
    pieces: list[dict[str, Any]] = []
    lower = 0
    for category in aqi.categories():
        piece: dict[str, Any] = {
            "min": lower,
            "color": category.color,
            "label": category_name(category),
        }
        if category.level < 6:
            piece["max"] = category.upper
        pieces.append(piece)
        lower = category.upper + 1
    return pieces


def aqi_bars(days: list[str], values: list[Number]) -> dict[str, Any]:
    """Daily AQI as bars coloured by category."""
    return {
        "option": {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 48, "right": 24, "top": 24, "bottom": 56},
            "xAxis": {"type": "category", "data": days},
            "yAxis": {"type": "value", "name": "AQI"},
            "visualMap": {
                "show": False,
                "type": "piecewise",
                "pieces": aqi_pieces(),
                "dimension": 1,
            },
            "dataZoom": [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 8}],
            "series": [{"name": "AQI", "type": "bar", "data": values}],
        },
        "table": _table([_("Date"), "AQI"], [[d, v] for d, v in zip(days, values, strict=True)]),
    }


def aqi_calendar(year: int, days: list[str], values: list[Number]) -> dict[str, Any]:
    """Calendar heat-map of the year's daily AQI, coloured by HJ 633 category."""
    data = [[d, v] for d, v in zip(days, values, strict=True) if v is not None]
    return {
        "option": {
            "tooltip": {"formatter": "{c}"},
            "visualMap": {
                "type": "piecewise",
                "pieces": aqi_pieces(),
                "orient": "horizontal",
                "left": "center",
                "bottom": 0,
            },
            "calendar": {
                "range": str(year),
                "cellSize": ["auto", 14],
                "top": 30,
                "left": 40,
                "right": 16,
                "yearLabel": {"show": False},
                "dayLabel": {"firstDay": 1, "nameMap": _calendar_names()},
                "monthLabel": {"nameMap": _calendar_names()},
            },
            "series": [{"type": "heatmap", "coordinateSystem": "calendar", "data": data}],
        },
        "table": _table([_("Date"), "AQI"], data),
    }


def bar_chart(
    names: list[str], values: list[Number], *, unit: str, limit: tuple[str, float] | None = None
) -> dict[str, Any]:
    """Bars by name (e.g. the IAQI of each pollutant), with an optional limit line."""
    series: dict[str, Any] = {
        "type": "bar",
        "name": unit,
        "data": values,
        "label": {"show": True, "position": "top"},
    }
    if limit is not None:
        series["markLine"] = _limit_lines([limit])
    return {
        "option": {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 48, "right": 24, "top": 24, "bottom": 32},
            "xAxis": {"type": "category", "data": names},
            "yAxis": {"type": "value", "name": unit},
            "series": [series],
        },
        "table": _table(["", unit], [[n, v] for n, v in zip(names, values, strict=True)]),
    }


def grouped_bars(
    categories: list[str],
    series: dict[str, list[Number]],
    *,
    unit: str,
    stacked: bool = False,
) -> dict[str, Any]:
    """Bars per category, one series per key of ``series`` (stacked when they add up, e.g.
    the sectors of an inventory)."""
    names = list(series)
    stack = {"stack": "total"} if stacked else {}
    rows = [[c, *(series[n][i] for n in names)] for i, c in enumerate(categories)]
    return {
        "option": {
            "tooltip": {"trigger": "axis"},
            "legend": {"type": "scroll", "top": 0},
            "grid": {"left": 64, "right": 24, "top": PLOT_TOP, "bottom": 32},
            "xAxis": {"type": "category", "data": categories},
            "yAxis": {"type": "value", "name": unit},
            "series": [
                {"name": name, "type": "bar", "data": values, **stack}
                for name, values in series.items()
            ],
        },
        "table": _table(["", *names], rows),
    }


def class_chart(months: list[str], classes: list[str | None], target: str | None) -> dict[str, Any]:
    """A section's GB 3838 class per month (I … 劣V, worse downwards) with its target class."""
    option_series: dict[str, Any] = {
        "name": _("Class"),
        "type": "line",
        "step": "middle",
        "data": classes,
    }
    if target:
        option_series["markLine"] = {
            **_limit_lines([]),
            "data": [{"name": _("Target"), "yAxis": target}],
        }
    return {
        "option": {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 48, "right": 24, "top": 24, "bottom": 32},
            "xAxis": {"type": "category", "data": months},
            "yAxis": {
                "type": "category",
                "data": list(water.CLASS_LABELS[1:]),
                "name": _("Class"),
                "boundaryGap": False,
            },
            "series": [option_series],
        },
        "table": _table(
            [_("Month"), _("Class")],
            [[m, c] for m, c in zip(months, classes, strict=True)],
        ),
    }


def yuan_from_fen(fen: int) -> float:
    """Fen → yuan for a chart axis only (tables print the exact integer fen as yuan text)."""
    return fen / 100


def book_chart(bids: list[dict[str, int]], asks: list[dict[str, int]]) -> dict[str, Any]:
    """The order book's depth as bars: tonnes bid and offered at each price level (yuan/t,
    ascending), bids and asks in their own series so the spread shows as the gap between."""
    bid_tonnes = {level["price_fen_per_t"]: level["quantity_t"] for level in bids}
    ask_tonnes = {level["price_fen_per_t"]: level["quantity_t"] for level in asks}
    prices = sorted({*bid_tonnes, *ask_tonnes})
    chart = grouped_bars(
        [yuan(price) for price in prices],
        {
            _("Bids"): [bid_tonnes.get(price) for price in prices],
            _("Asks"): [ask_tonnes.get(price) for price in prices],
        },
        unit=_("t CO2e"),
        stacked=True,
    )
    chart.pop("table")  # the page prints the book as its own table (side, price, tonnes, orders)
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
