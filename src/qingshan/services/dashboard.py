"""The district at a glance (一张图): grids, sites and what needs someone, for the overview page.

Everything here is read from the store in a few set-wise queries (one per table), so the
overview of a district with years of data loads in well under a second: grids with their
polygons, sites with their position and open alarms, and open cases per grid.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingshan.alerting.catalogue import WATER_ITEMS
from qingshan.services import monitoring_views as views
from qingshan.services.case_workflow import OPEN_STATES
from qingshan.services.sites import OWNED_KIND
from qingshan.services.targets import AirTargets, TargetsError, load_air_targets
from qingshan.standards import air_evaluation
from qingshan.store.case_models import Case
from qingshan.store.models import Alarm, District, Grid, Site, Township


@dataclass(frozen=True)
class GridView:
    """A grid on the map, with what is open in it."""

    id: int
    code: str
    name: str
    township: str
    boundary: dict[str, Any] | None
    """GeoJSON geometry (WGS-84), None when the grid has no polygon."""
    responsible: list[dict[str, str]]
    open_alarms: int
    open_cases: int


@dataclass(frozen=True)
class SiteView:
    """A site on the map."""

    id: int
    code: str
    name: str
    kind: str
    longitude: float
    latitude: float
    grid_code: str | None
    open_alarms: int


@dataclass(frozen=True)
class DistrictView:
    """The district's grids and sites, and counts of what is open."""

    name: str
    grids: list[GridView] = field(default_factory=list)
    sites: list[SiteView] = field(default_factory=list)

    @property
    def open_alarms(self) -> int:
        return sum(site.open_alarms for site in self.sites)

    @property
    def open_cases(self) -> int:
        return sum(grid.open_cases for grid in self.grids)

    def feature_collection(self) -> dict[str, Any]:
        """The grids as a GeoJSON FeatureCollection named by grid name (for ECharts' map)."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": grid.name, "code": grid.code},
                    "geometry": grid.boundary,
                }
                for grid in self.grids
                if grid.boundary is not None
            ],
        }


def _open_alarms_by(session: Session, column: Any) -> Counter[int]:
    rows = session.execute(select(column, func.count()).where(Alarm.active).group_by(column)).all()
    return Counter({key: count for key, count in rows if key is not None})


def _shown(site: Site, outlets: Collection[int] | None) -> bool:
    """Whether the overview shows ``site``: outlets only among ``outlets`` (an enterprise
    user's own, ``services.sites.visible_sites``; None: every outlet), other sites always."""
    return outlets is None or site.kind != OWNED_KIND or site.id in outlets


def district_view(session: Session, outlets: Collection[int] | None = None) -> DistrictView:
    """Grids and sites of the store's district, each with its open alarms (and cases); of the
    source outlets, only those in ``outlets`` (None: all)."""
    district_name = session.scalar(select(District.name).order_by(District.id)) or ""
    alarms_by_site = _open_alarms_by(session, Alarm.site_id)
    alarms_by_grid = _open_alarms_by(session, Alarm.grid_id)
    cases_by_grid = Counter(
        dict(
            session.execute(
                select(Case.grid_id, func.count())
                .where(Case.state.in_([str(state) for state in OPEN_STATES]))
                .group_by(Case.grid_id)
            ).all()
        )
    )
    grid_rows = session.execute(
        select(Grid, Township.name).join(Township).order_by(Grid.code)
    ).all()
    grids = [
        GridView(
            id=grid.id,
            code=grid.code,
            name=grid.name,
            township=township,
            boundary=json.loads(grid.boundary) if grid.boundary else None,
            responsible=list(grid.responsible or []),
            open_alarms=alarms_by_grid[grid.id],
            open_cases=cases_by_grid[grid.id],
        )
        for grid, township in grid_rows
    ]
    grid_codes = {grid.id: grid.code for grid in grids}
    sites = [
        SiteView(
            id=site.id,
            code=site.code,
            name=site.name,
            kind=site.kind,
            longitude=site.longitude,
            latitude=site.latitude,
            grid_code=grid_codes.get(site.grid_id) if site.grid_id is not None else None,
            open_alarms=alarms_by_site[site.id],
        )
        for site in session.scalars(select(Site).where(Site.active).order_by(Site.code))
        if _shown(site, outlets)
    ]
    return DistrictView(name=district_name, grids=grids, sites=sites)


def township_boundaries(session: Session) -> dict[str, Any]:
    """Each township as a GeoJSON MultiPolygon made of its grids' polygons, named by township.

    Townships have no polygon of their own in the store; their grids tile them, so the grids'
    polygons together draw the township (for maps of township results such as GEP).
    """
    polygons: dict[str, list[Any]] = {}
    for township, boundary in session.execute(
        select(Township.name, Grid.boundary).join(Grid).where(Grid.boundary.is_not(None))
    ):
        geometry = json.loads(boundary)
        parts = (
            geometry["coordinates"]
            if geometry["type"] == "MultiPolygon"
            else [geometry["coordinates"]]
        )
        polygons.setdefault(township, []).extend(parts)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {"type": "MultiPolygon", "coordinates": parts},
            }
            for name, parts in polygons.items()
        ],
    }


# ------------------------------------------------------------------------------------------
# Today's state of each site, and the year's headline figures
# ------------------------------------------------------------------------------------------

OFFLINE_COLOUR = "#9e9e9e"
"""Grey: no reading within the last 3 reporting intervals (an offline device)."""
MEETS_COLOUR = "#2e7d32"
EXCEEDS_COLOUR = "#c62828"


@dataclass(frozen=True)
class SiteState:
    """A site's current state: its map colour and what the colour says."""

    colour: str
    offline: bool
    ok: bool | None = None
    """Within its standard or target (None: nothing to judge)."""
    detail: str = ""
    """The figure judged, e.g. ``AQI 152``, ``IV / III``, ``Ld 58.0 · Ln 52.0``."""


def _offline_sites(
    session: Session, sites: list[Site], keys: Iterable[str], now: datetime
) -> set[int]:
    """Ids of the sites with no reading of ``keys`` in their last 3 reporting intervals."""
    latest = views.latest_times(session, [s.id for s in sites], views.parameter_ids(session, keys))
    return {
        site.id
        for site in sites
        if views.is_offline(latest.get(site.id), site.reporting_interval_minutes, now)
    }


def _air_states(session: Session, sites: list[Site], now: datetime) -> dict[str, SiteState]:
    latest = views.air_now(session, sites, now)
    states = {}
    for site in sites:
        hour = latest.get(site.code)
        if hour is None or hour.color is None:
            states[site.code] = SiteState(OFFLINE_COLOUR, offline=True)
        else:
            detail = f"AQI {hour.aqi}"  # the colour is the category; no words to translate
            states[site.code] = SiteState(hour.color, False, (hour.aqi or 0) <= 100, detail)
    return states


def _water_states(
    session: Session, sites: list[Site], now: datetime, basin: str
) -> dict[str, SiteState]:
    silent = _offline_sites(session, sites, WATER_ITEMS, now)
    latest = views.water_now(session, sites, now, basin)
    rows = {row["section"]: row for row in latest.iter_rows(named=True)} if latest.height else {}
    states = {}
    for site in sites:
        row = rows.get(site.code)
        if site.id in silent or row is None or row["class"] is None:
            states[site.code] = SiteState(OFFLINE_COLOUR, offline=True)
            continue
        meets = None if row["meets_target"] is None else row["meets_target"] == "yes"
        detail = f"{row['class']} / {site.water_target_class or '—'}"
        states[site.code] = SiteState(row["color"], False, meets, detail)
    return states


def _judged(ok: bool | None) -> str:
    return MEETS_COLOUR if ok else EXCEEDS_COLOUR


def _noise_states(session: Session, sites: list[Site], now: datetime) -> dict[str, SiteState]:
    silent = _offline_sites(session, sites, ["leq"], now)
    daily = views.daily_noise_frame(session, sites, now - timedelta(days=2), now)
    latest = {row["point"]: row for row in views.latest_noise_days(daily).to_dicts()}
    states = {}
    for site in sites:
        row = latest.get(site.code)
        if site.id in silent or row is None:
            states[site.code] = SiteState(OFFLINE_COLOUR, offline=True)
            continue
        ok = all(flag is not False for flag in (row["day_ok"], row["night_ok"]))
        levels = [
            f"{name} {row[key]:.1f}"
            for name, key in (("Ld", "ld"), ("Ln", "ln"))
            if row[key] is not None
        ]
        states[site.code] = SiteState(_judged(ok), False, ok, " · ".join(levels))
    return states


def _source_states(session: Session, sites: list[Site], now: datetime) -> dict[str, SiteState]:
    permitted = [site for site in sites if site.permit_limits]
    over = views.sources_now(session, permitted, now)
    states = {}
    for site in permitted:
        if site.code not in over:
            states[site.code] = SiteState(OFFLINE_COLOUR, offline=True)
        else:
            states[site.code] = SiteState(_judged(not over[site.code]), False, not over[site.code])
    return states


def site_states(
    session: Session, now: datetime, basin: str = "", outlets: Collection[int] | None = None
) -> dict[str, SiteState]:
    """Site code → current state, for every active site that has a standard to be judged by:
    air stations by the HJ 633 category of their latest hour with an AQI; water sections by
    the GB 3838 class of their latest day against the target; noise points by the latest
    day's Ld and Ln against GB 3096—2008 Table 1; outlets by their latest hour against the
    permit limits (only those in ``outlets``; None: all). A site silent for 3 reporting
    intervals is offline (grey)."""
    states: dict[str, SiteState] = {}
    states.update(_air_states(session, views.sites_of_kind(session, "air_station"), now))
    states.update(_water_states(session, views.sites_of_kind(session, "water_section"), now, basin))
    states.update(_noise_states(session, views.sites_of_kind(session, "noise_point"), now))
    states.update(
        _source_states(session, views.sites_of_kind(session, "source_outlet", outlets), now)
    )
    return states


@dataclass(frozen=True)
class Headline:
    """The year so far: air quality against its target and limit, water sections on target."""

    year: int
    good_days: int | None = None
    valid_days: int | None = None
    good_day_ratio: float | None = None
    """Good days / valid AQI days [%] to 0.1 (HJ 663), None without a valid day."""
    good_day_target: float | None = None
    pm25_mean: float | None = None
    """Mean of the valid daily PM2.5 values this year [µg/m³], published to an integer."""
    pm25_limit: float | None = None
    """GB 3095 Class II annual limit of the year's limit set (from ``gb3095.toml``)."""
    pm25_target: float | None = None
    sections: int = 0
    sections_meeting: int = 0
    targets_error: str | None = None

    @property
    def sections_meeting_percent(self) -> float | None:
        return 100.0 * self.sections_meeting / self.sections if self.sections else None


def headline(session: Session, now: datetime, basin: str = "") -> Headline:
    """This (Beijing) year's good-day ratio and PM2.5 mean of the district (the stations'
    mean, HJ 663) with the targets of ``targets.toml``, and the water sections meeting their
    target class in their latest month."""
    first = views.year_start(now)
    year = first.astimezone(views.BEIJING).year
    error, target = None, AirTargets(year)
    try:
        target = load_air_targets().get(year, target)
    except TargetsError as problem:
        error = str(problem)
    air: dict[str, Any] = {}
    stations = views.sites_of_kind(session, "air_station")
    if stations:
        hourly = views.district_hourly_air(session, stations, first, now, "district")
        if hourly.height:
            air = air_evaluation.evaluate(hourly).annual.to_dicts()[-1]
    water = views.water_overview(
        session, views.sites_of_kind(session, "water_section"), now, basin
    ).sections
    judged = water.filter(pl.col("meets_target").is_not_null()) if water.height else water
    return Headline(
        year=year,
        good_days=air.get("good_days"),
        valid_days=air.get("aqi_valid_days"),
        good_day_ratio=air.get("good_day_ratio"),
        good_day_target=target.good_day_ratio,
        pm25_mean=air.get("pm25_annual_mean"),
        pm25_limit=air_evaluation.limit("pm25_annual", _limit_set(now), "II"),
        pm25_target=target.pm25_annual_mean,
        sections=judged.height,
        sections_meeting=judged.filter(pl.col("meets_target") == "yes").height
        if judged.height
        else 0,
        targets_error=error,
    )


def _limit_set(now: datetime) -> str:
    """The GB 3095 limit set in force at the end of ``now``'s year (as HJ 663 judges a year)."""
    year_end = np.datetime64(f"{now.astimezone(views.BEIJING).year}-12-31")
    return air_evaluation.LIMIT_SETS[int(air_evaluation.limit_set_for([year_end])[0])]
