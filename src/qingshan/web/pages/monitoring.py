"""Air, water, noise and source pages: lists of sites with their state, and one page per site.

The figures come from :mod:`qingshan.services.monitoring_views`; this module only picks what
each chart and table shows. Air, water and noise are for staff; enterprise users also see
sources, read-only and only their company's outlets (``Site.owner_account_id``; another's
outlet is "not found").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from qingshan.api.deps import Caller, EngineDep
from qingshan.services import monitoring_views as views
from qingshan.services.sites import visible_sites
from qingshan.standards import aqi, water
from qingshan.store.engine import reading
from qingshan.store.models import Site
from qingshan.store.types import utc_now
from qingshan.web import charts
from qingshan.web.i18n import N_
from qingshan.web.i18n import gettext_ as _
from qingshan.web.rendering import render
from qingshan.web.session import signed_in

router = APIRouter(include_in_schema=False)

Staff = Annotated[Caller, Depends(signed_in("analyst", "grid_officer"))]
SourceReader = Annotated[Caller, Depends(signed_in("analyst", "grid_officer", "enterprise"))]


def page_now() -> datetime:
    """The instant the pages judge "now" by (a dependency, so tests can fix it)."""
    return utc_now()


Now = Annotated[datetime, Depends(page_now)]

POLLUTANT_NAMES = {
    "so2": "SO₂",
    "no2": "NO₂",
    "co": "CO",
    "o3": "O₃",
    "pm10": "PM₁₀",
    "pm25": "PM₂.₅",
}
STATISTIC_LABELS = {
    "so2_annual_mean": N_("SO₂ annual mean"),
    "so2_24h_p98": N_("SO₂ 24-hour mean, 98th percentile"),
    "no2_annual_mean": N_("NO₂ annual mean"),
    "no2_24h_p98": N_("NO₂ 24-hour mean, 98th percentile"),
    "pm10_annual_mean": N_("PM₁₀ annual mean"),
    "pm10_24h_p95": N_("PM₁₀ 24-hour mean, 95th percentile"),
    "pm25_annual_mean": N_("PM₂.₅ annual mean"),
    "pm25_24h_p95": N_("PM₂.₅ 24-hour mean, 95th percentile"),
    "co_24h_p95": N_("CO 24-hour mean, 95th percentile"),
    "o3_8h_max_p90": N_("O₃ daily maximum 8-hour mean, 90th percentile"),
}
"""HJ 663 annual statistics (Appendix A) as :func:`air_evaluation.evaluate` names them."""
LIMIT_SET_NAMES = {
    "2012": N_("GB 3095—2012 limits"),
    "2026-transitional": N_("GB 3095—2026, transitional limits"),
    "2026-final": N_("GB 3095—2026, final limits"),
}
"""The limit sets of :data:`air_evaluation.LIMIT_SETS` in the reader's language (the kernel's
``limits`` column is an English label for files)."""
WATERBODY_NAMES = {"river": N_("river"), "lake": N_("lake"), "reservoir": N_("reservoir")}
""":data:`store.models.WATERBODY_TYPES` in the reader's language (no type recorded: a river,
as the 2011 evaluation method assumes)."""


def _site_or_404(session: Any, code: str, kind: str, caller: Caller | None = None) -> Site:
    """The active site ``code`` of ``kind``; 404 when there is none or (given the caller) it is
    not one the caller may see."""
    site = views.site_by_code(session, code, kind)
    visible = visible_sites(session, caller.user_id, caller.role) if caller else None
    if site is None or (visible is not None and site.id not in visible):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {kind} {code}")
    return site


def _text(times: pl.Series, pattern: str) -> list[str]:
    return times.dt.strftime(pattern).to_list()


def _rounded(values: pl.Series, decimals: int) -> list[float | None]:
    return values.round(decimals).to_list()


# ------------------------------------------------------------------------------------------
# Air
# ------------------------------------------------------------------------------------------


@router.get("/air", response_class=HTMLResponse)
def air_list(request: Request, engine: EngineDep, caller: Staff, now: Now) -> HTMLResponse:
    with reading(engine) as session:
        stations = views.sites_of_kind(session, "air_station")
        latest = views.air_now(session, stations, now)
    rows = [(site, latest.get(site.code, views.NO_AIR)) for site in stations]
    return render(request, "air_list.html", caller, {"rows": rows, "names": POLLUTANT_NAMES})


def _hourly_charts(hours: pl.DataFrame) -> dict[str, Any]:
    if hours.is_empty():
        return {}
    times = _text(hours["time"], "%m-%d %H:00")
    columns = {key: f"{key}_1h" for key in POLLUTANT_NAMES}
    concentrations = {
        POLLUTANT_NAMES[key]: _rounded(hours[column], 1) for key, column in columns.items()
    }
    return {
        "concentrations": charts.line_chart(times, concentrations, unit=_("µg/m³ (CO: mg/m³)")),
        "hourly_aqi": charts.aqi_bars(times, hours["aqi"].to_list()),
    }


def _daily_charts(daily: pl.DataFrame, year: int) -> dict[str, Any]:
    if daily.is_empty():
        return {}
    days = _text(daily["date"], "%Y-%m-%d")
    return {
        "daily_aqi": charts.aqi_bars(days, daily["aqi"].to_list()),
        "calendar": charts.aqi_calendar(year, days, daily["aqi"].to_list()),
    }


def _iaqi_chart(latest: views.AirNow) -> dict[str, Any] | None:
    if not latest.iaqi:
        return None
    names = [POLLUTANT_NAMES[aqi_key.split("_")[0]] for aqi_key in latest.iaqi]
    return charts.bar_chart(names, list(latest.iaqi.values()), unit="IAQI")


@router.get("/air/{code}", response_class=HTMLResponse)
def air_station(
    request: Request, engine: EngineDep, caller: Staff, now: Now, code: str
) -> HTMLResponse:
    with reading(engine) as session:
        site = _site_or_404(session, code, "air_station")
        detail = views.air_detail(session, site, now)
    year = views.year_start(now).astimezone(views.BEIJING).year
    context = {
        "site": site,
        "detail": detail,
        "year": year,
        "charts": {**_hourly_charts(detail.hours), **_daily_charts(detail.daily, year)},
        "iaqi_chart": _iaqi_chart(detail.now),
        "statistic_labels": STATISTIC_LABELS,
        "limit_set_names": LIMIT_SET_NAMES,
        "categories": aqi.categories(),
        "category_name": charts.category_name,
    }
    return render(request, "air_station.html", caller, context)


# ------------------------------------------------------------------------------------------
# Water
# ------------------------------------------------------------------------------------------


def _named_pollutants(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``main_pollutants`` (item keys joined by ``;``) as item names."""
    for row in rows:
        keys = (row.get("main_pollutants") or "").split(";")
        row["main_pollutants"] = "、".join(charts.water_item_name(key) for key in keys if key)
    return rows


@router.get("/water", response_class=HTMLResponse)
def water_list(request: Request, engine: EngineDep, caller: Staff, now: Now) -> HTMLResponse:
    with reading(engine) as session:
        sections = views.sites_of_kind(session, "water_section")
        overview = views.water_overview(session, sections, now, views.district_name(session))
    rows = _named_pollutants(overview.sections.to_dicts()) if overview.sections.height else []
    evaluated = {row["section"]: row for row in rows}
    context = {
        "rows": [(site, evaluated.get(site.code)) for site in sections],
        "basins": _named_pollutants(overview.basins.to_dicts()) if overview.basins.height else [],
    }
    return render(request, "water_list.html", caller, context)


@router.get("/water/{code}", response_class=HTMLResponse)
def water_section(
    request: Request, engine: EngineDep, caller: Staff, now: Now, code: str
) -> HTMLResponse:
    with reading(engine) as session:
        site = _site_or_404(session, code, "water_section")
        months = views.water_months(session, [site], now, views.district_name(session))
    rows = _named_pollutants(months.to_dicts()) if months.height else []
    chart = (
        charts.class_chart(
            [row["period"] for row in rows],
            [row["class"] for row in rows],
            site.water_target_class,
        )
        if rows
        else None
    )
    latest = rows[-1] if rows else None
    context = {
        "site": site,
        "months": rows,
        "class_spec": chart,
        "latest": latest,
        "items": views.water_item_limits(latest, site) if latest else [],
        "reference_class": water.CLASS_LABELS[water.REFERENCE_CLASS],
        "waterbody": WATERBODY_NAMES[site.waterbody_type or "river"],
    }
    return render(request, "water_section.html", caller, context)


# ------------------------------------------------------------------------------------------
# Noise
# ------------------------------------------------------------------------------------------

NOISE_DAYS = 90
"""Days of daily Ld and Ln shown and counted in the compliance rate."""


def _noise_daily(session: Any, sites: list[Site], now: datetime) -> pl.DataFrame:
    return views.daily_noise_frame(session, sites, now - timedelta(days=NOISE_DAYS), now)


@router.get("/noise", response_class=HTMLResponse)
def noise_list(request: Request, engine: EngineDep, caller: Staff, now: Now) -> HTMLResponse:
    with reading(engine) as session:
        points = views.sites_of_kind(session, "noise_point")
        daily = _noise_daily(session, points, now)
    rows = []
    for site in points:
        mine = daily.filter(pl.col("point") == site.code) if daily.height else daily
        latest = mine.sort("date").row(-1, named=True) if mine.height else None
        rows.append((site, latest, views.noise_rates(mine)))
    return render(request, "noise_list.html", caller, {"rows": rows, "days": NOISE_DAYS})


@router.get("/noise/{code}", response_class=HTMLResponse)
def noise_point(
    request: Request, engine: EngineDep, caller: Staff, now: Now, code: str
) -> HTMLResponse:
    with reading(engine) as session:
        site = _site_or_404(session, code, "noise_point")
        daily = _noise_daily(session, [site], now)
    chart = None
    if daily.height:
        daily = daily.sort("date")
        chart = charts.line_chart(
            _text(daily["date"], "%Y-%m-%d"),
            {_("Ld (day)"): daily["ld"].to_list(), _("Ln (night)"): daily["ln"].to_list()},
            unit="dB(A)",
            limits=[
                (_("Day limit"), float(daily["day_limit"][0])),
                (_("Night limit"), float(daily["night_limit"][0])),
            ],
        )
    context = {
        "site": site,
        "days": daily.to_dicts() if daily.height else [],
        "levels_spec": chart,
        "rate": views.noise_rates(daily),
        "period": NOISE_DAYS,
    }
    return render(request, "noise_point.html", caller, context)


# ------------------------------------------------------------------------------------------
# Sources
# ------------------------------------------------------------------------------------------


@router.get("/sources", response_class=HTMLResponse)
def sources_list(
    request: Request, engine: EngineDep, caller: SourceReader, now: Now
) -> HTMLResponse:
    with reading(engine) as session:
        visible = visible_sites(session, caller.user_id, caller.role)
        outlets = views.sites_of_kind(session, "source_outlet", visible)
        over = views.sources_now(session, [s for s in outlets if s.permit_limits], now)
        latest = views.latest_times(
            session,
            [s.id for s in outlets],
            views.parameter_ids(session, {k for s in outlets for k in s.permit_limits or {}}),
        )
        owners = views.owner_names(session, outlets)
    rows = [
        (
            site,
            over.get(site.code),
            latest.get(site.id),
            views.is_offline(latest.get(site.id), site.reporting_interval_minutes, now),
        )
        for site in outlets
    ]
    context = {
        "rows": rows,
        "owners": owners,
        "own_only": visible is not None,
        "beijing": views.BEIJING,
    }
    return render(request, "sources_list.html", caller, context)


@router.get("/sources/{code}", response_class=HTMLResponse)
def source_outlet(
    request: Request, engine: EngineDep, caller: SourceReader, now: Now, code: str
) -> HTMLResponse:
    with reading(engine) as session:
        site = _site_or_404(session, code, "source_outlet", caller)
        detail = views.source_detail(session, site, now)
        owner = views.owner_names(session, [site]).get(site.id)
        parameters = views.parameters_by_key(session, list(site.permit_limits or {}))
    parameter_charts = []
    for key, spec in (site.permit_limits or {}).items():
        mine = detail.values.filter(pl.col("key") == key)
        if mine.is_empty():
            continue
        parameter = parameters.get(key)
        name = charts.parameter_name(parameter) if parameter else key
        chart = charts.line_chart(
            _text(mine["time"], "%m-%d %H:00"),
            {name: _rounded(mine["value"], 3)},
            unit=spec.get("unit") or (parameter.unit if parameter else ""),
            limits=[(_("Permit limit"), float(spec["limit"]))],
        )
        parameter_charts.append((key, name, chart))
    context = {
        "site": site,
        "owner": owner,
        "detail": detail,
        "parameter_charts": parameter_charts,
        "beijing": views.BEIJING,
    }
    return render(request, "source_outlet.html", caller, context)
