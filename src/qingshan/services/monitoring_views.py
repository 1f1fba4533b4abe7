"""What the monitoring pages show, read from the store and judged by the standards' kernels.

Readings are read set-wise (one query per table and page), valid flags only (HJ 212—2017
Table 8: ``N``), and handed to the kernels that the command-line evaluations use:

* air — :func:`qingshan.standards.aqi.aqi_table` (HJ 633) for hourly AQI and
  :func:`qingshan.standards.air_evaluation.evaluate` (HJ 663, GB 3095) for daily AQI and annual
  statistics, on the hourly table :func:`hourly_air_table` shapes (rule evaluation uses it too);
* water — :func:`qingshan.services.water.evaluate_sections` / ``evaluate_rivers`` (GB 3838—2002
  and the 2011 method) on the section's means of the day or month;
* noise — :func:`qingshan.standards.noise.daily_noise` (GB 3096—2008 Table 1, HJ 640—2012);
* sources — hourly values against the outlet's permit limits (``Site.permit_limits``).

Times: the store is UTC; days and months are Beijing-time calendar periods (GB 3095's natural
day), and tables show local (Asia/Shanghai) times.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from qingshan.alerting.catalogue import WATER_ITEMS
from qingshan.services import water as water_service
from qingshan.services.device_store import OFFLINE_AFTER_INTERVALS, liveness
from qingshan.services.monitoring_readings import (
    AIR_POLLUTANTS,
    AirSite,
    air_wide,
    hourly_air_table,
    local_naive,
    parameter_ids,
    stored_time,
    time_dtype,
    times_of,
    valid_values,
    with_keys,
)
from qingshan.standards import air_evaluation, aqi, noise, water
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.models import (
    VALID_FLAGS,
    Device,
    DeviceEvent,
    District,
    Parameter,
    Reading,
    ReadingRevision,
    RegistryAccount,
    RejectedPacket,
    Site,
)

BEIJING = ZoneInfo(LOCAL_TIME_ZONE)
LAKE_TYPES = ("lake", "reservoir")
"""Waterbody types evaluated as lakes (a river-type reservoir is stored as ``river``)."""
TARGET_CODES = {label: code for code, label in enumerate(water.CLASS_LABELS) if label}
"""GB 3838 class label (I … V) → class code 1 … 5."""
NOISE_KEYS = ("leq", "lmax")


# ------------------------------------------------------------------------------------------
# Reading the store
# ------------------------------------------------------------------------------------------


def latest_times(
    session: Session,
    site_ids: Sequence[int],
    parameters: Mapping[int, str],
    period: str = "hour",
) -> dict[int, datetime]:
    """Site id → start of its latest reading (any flag) of the given parameters.

    One correlated ``max`` per (site, parameter) pair: each is a seek on the readings' unique
    index, however many years of readings the store holds.
    """
    if not site_ids or not parameters:
        return {}
    pairs = (
        select(Site.id.label("site_id"), Parameter.id.label("parameter_id"))
        .select_from(Site)
        .join(Parameter, true())  # every (site, parameter) pair
        .where(Site.id.in_(list(site_ids)), Parameter.id.in_(list(parameters)))
        .subquery()
    )
    latest = (
        select(func.max(Reading.period_start))
        .where(
            Reading.site_id == pairs.c.site_id,
            Reading.parameter_id == pairs.c.parameter_id,
            Reading.period == period,
        )
        .scalar_subquery()
    )
    result: dict[int, datetime] = {}
    for site_id, moment in session.execute(select(pairs.c.site_id, latest)):
        if moment is not None and (site_id not in result or moment > result[site_id]):
            result[site_id] = moment
    return result


def is_offline(latest: datetime | None, interval_minutes: int, now: datetime) -> bool:
    """No reading within the last 3 reporting intervals (the device liveness rule)."""
    return liveness(latest, interval_minutes, now) != "online"


def year_start(now: datetime) -> datetime:
    """1 January 00:00 Beijing time of ``now``'s Beijing year, as a UTC instant."""
    local = now.astimezone(BEIJING)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def sites_of_kind(
    session: Session, kind: str, visible: Collection[int] | None = None
) -> list[Site]:
    """Active sites of one kind, by code; only those in ``visible`` (None: all), the ids a
    caller may see (``services.sites.visible_sites``)."""
    statement = select(Site).where(Site.active, Site.kind == kind)
    if visible is not None:
        statement = statement.where(Site.id.in_(sorted(visible)))
    return list(session.scalars(statement.order_by(Site.code)))


def owner_names(session: Session, sites: Sequence[Site]) -> dict[int, str]:
    """Site id → the name of the enterprise that operates it (outlets with an owner)."""
    owned = {site.owner_account_id: site.id for site in sites if site.owner_account_id}
    if not owned:
        return {}
    statement = select(RegistryAccount.id, RegistryAccount.name).where(
        RegistryAccount.id.in_(sorted(owned))
    )
    names: dict[int, str] = dict(session.execute(statement).all())
    return {
        site.id: names[site.owner_account_id] for site in sites if site.owner_account_id in names
    }


def district_name(session: Session) -> str:
    """The store's district name ('' before any district is imported)."""
    return session.scalar(select(District.name).order_by(District.id)) or ""


def parameters_by_key(session: Session, keys: Iterable[str]) -> dict[str, Parameter]:
    """The parameters with the given keys, by key (names and canonical units)."""
    statement = select(Parameter).where(Parameter.key.in_(list(keys)))
    return {parameter.key: parameter for parameter in session.scalars(statement)}


def site_by_code(session: Session, code: str, kind: str) -> Site | None:
    """The active site ``code`` when it is of ``kind``."""
    return session.scalar(select(Site).where(Site.code == code, Site.kind == kind, Site.active))


# ------------------------------------------------------------------------------------------
# Air
# ------------------------------------------------------------------------------------------


def _station_means(
    session: Session,
    site_ids: list[int],
    parameters: Mapping[int, str],
    since: datetime,
    end: datetime,
) -> pl.DataFrame:
    """Per parameter and hour in [since, end], the mean of the stations' valid values:
    ``key, time, value`` (one grouped query; the database averages)."""
    time = stored_time(session, Reading.period_start)
    statement = (
        select(Reading.parameter_id, time, func.avg(Reading.value))
        .where(
            Reading.site_id.in_(site_ids),
            Reading.parameter_id.in_(list(parameters)),
            Reading.period == "hour",
            Reading.period_start >= since,
            Reading.period_start <= end,
            Reading.flag.in_(VALID_FLAGS),
        )
        .group_by(Reading.parameter_id, time)
    )
    means = pl.DataFrame(
        session.connection().execute(statement).all(),
        schema={"parameter_id": pl.Int64, "time": time_dtype(session), "value": pl.Float64},
        orient="row",
    )
    return with_keys(means, parameters).with_columns(
        times_of("time") if means.schema["time"] == pl.String else pl.col("time")
    )


@dataclass(frozen=True)
class _Means:
    """Station means up to ``end``, as of the store's last reading and revision ids."""

    reading_id: int
    revision_id: int
    end: datetime
    frame: pl.DataFrame


_MEANS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], _Means]] = weakref.WeakKeyDictionary()
"""Per engine: the district's station means of a year, kept between page loads."""
_MEANS_LOCK = threading.Lock()


def _changed_since(session: Session, cached: _Means, site_ids: list[int]) -> datetime | None:
    """The earliest hour of the stations whose reading was added or revised after ``cached``
    was computed, None when there is none. Only the new rows are read, by their (growing) key:
    ``site_id + 0`` keeps the database from scanning the readings' site index instead."""
    site = (Reading.site_id + 0).in_(site_ids)
    added = select(func.min(Reading.period_start)).where(
        Reading.id > cached.reading_id, Reading.period == "hour", site
    )
    revised = (
        select(func.min(Reading.period_start))
        .select_from(ReadingRevision)
        .join(Reading, Reading.id == ReadingRevision.reading_id)
        .where(ReadingRevision.id > cached.revision_id, Reading.period == "hour", site)
    )
    moments = [m for m in (session.scalar(added), session.scalar(revised)) if m is not None]
    return min(moments) if moments else None


def district_hourly_air(
    session: Session, sites: Sequence[AirSite], start: datetime, end: datetime, name: str
) -> pl.DataFrame:
    """The district's hourly concentrations: per pollutant and hour, the mean of the stations'
    valid values, computed by the database.

    A city's (here: the district's) concentration is the arithmetic mean of its evaluation
    stations, per pollutant, before any IAQI (HJ 633—2026 §4.2.2 citing HJ 663; reference
    notes shared/reference/air.md "City value"). Class II limits apply to the district.

    A year of means takes the database a good part of a second, so they are kept per engine
    and only the hours after the last call, or after the earliest hour added or revised since
    (new reading or revision ids), are averaged again: the result is always the store's.
    """
    parameters = parameter_ids(session, AIR_POLLUTANTS)
    site_ids = sorted(s.id for s in sites)
    marks = (  # a bare max of the key: read from the end of the index
        session.scalar(select(func.max(Reading.id))) or 0,
        session.scalar(select(func.max(ReadingRevision.id))) or 0,
    )
    key = (tuple(site_ids), start)
    with _MEANS_LOCK:
        cached = _MEANS.setdefault(session.get_bind(), {}).get(key)
    if cached is None or end < cached.end:
        frame = _station_means(session, site_ids, parameters, start, end)
    else:
        changed = _changed_since(session, cached, site_ids)
        since = cached.end if changed is None else min(changed, cached.end)
        kept = cached.frame.filter(pl.col("time") < since)
        frame = pl.concat([kept, _station_means(session, site_ids, parameters, since, end)])
    with _MEANS_LOCK:
        _MEANS[session.get_bind()][key] = _Means(marks[0], marks[1], end, frame)
    values = frame.select(pl.lit(0, pl.Int64).alias("site_id"), "key", "time", "value")
    return air_wide(values, {0: name}).with_columns(pl.lit("II").alias("class"))


def hourly_aqi(hourly: pl.DataFrame) -> pl.DataFrame:
    """The HJ 633 real-time report of each hour (edition by date: ``rules="auto"``)."""
    return aqi.aqi_table(hourly, report="hourly", rules="auto", time_column="time")


@dataclass(frozen=True)
class AirNow:
    """A station's latest hour with an AQI."""

    time: datetime | None
    """Local (Beijing) start of the hour, None when no recent hour has an AQI."""
    aqi: int | None
    category: str | None
    category_en: str | None
    color: str | None
    primary: str | None
    iaqi: dict[str, float | None]
    concentrations: dict[str, float | None]


NO_AIR = AirNow(None, None, None, None, None, None, {}, {})


def air_now(session: Session, sites: Sequence[Site], now: datetime) -> dict[str, AirNow]:
    """Station code → the AQI of its latest hour within 3 reporting intervals of ``now``."""
    if not sites:
        return {}
    longest = max(s.reporting_interval_minutes for s in sites)
    since = now - timedelta(minutes=OFFLINE_AFTER_INTERVALS * max(longest, 60))
    hourly = hourly_air_table(session, sites, since, now)
    if hourly.is_empty():
        return {}
    report = hourly_aqi(hourly).filter(pl.col("aqi").is_not_null())
    latest = report.sort("time").group_by("station").last()
    return {row["station"]: _air_now(row) for row in latest.iter_rows(named=True)}


def _air_now(row: Mapping[str, Any]) -> AirNow:
    indicators = aqi.report_indicators("hourly", row["rules"])
    return AirNow(
        time=row["time"],
        aqi=int(row["aqi"]),
        category=row["category"],
        category_en=row["category_en"],
        color=row["color"],
        primary=row["primary_pollutants"],
        iaqi={name: row.get(f"iaqi_{name}") for name in indicators},
        concentrations={name: row.get(name) for name in indicators},
    )


@dataclass(frozen=True)
class AirDetail:
    """One station's page: last 7 days of hours, this year's days and annual statistics."""

    site: Site
    now: AirNow
    hours: pl.DataFrame
    """Hourly report of the last 7 days (``time`` local)."""
    daily: pl.DataFrame
    """This year's days: ``date``, daily indicators, ``aqi``, ``category``, ``good_day`` …"""
    annual: list[AnnualStatistic]
    year: dict[str, Any]
    """This year's row of the evaluation (good days, valid days, ratio …), empty without data."""


@dataclass(frozen=True)
class AnnualStatistic:
    """One HJ 663 annual statistic with its GB 3095 limit."""

    name: str
    value: float | None
    limit: float | None
    exceeds: bool | None


def annual_statistics(annual_row: Mapping[str, Any]) -> list[AnnualStatistic]:
    """The statistics of an annual evaluation row: every column that has a ``_limit`` twin
    (annual means and percentiles of HJ 663 Appendix A, as :func:`evaluate` names them)."""
    names = [
        name
        for name in annual_row
        if f"{name}_limit" in annual_row and f"{name}_exceeds" in annual_row
    ]
    return [
        AnnualStatistic(
            name, annual_row[name], annual_row[f"{name}_limit"], annual_row[f"{name}_exceeds"]
        )
        for name in names
    ]


def air_detail(session: Session, site: Site, now: datetime) -> AirDetail:
    """The station's hours of the last 7 days, and its evaluation since 1 January."""
    first = year_start(now)
    week = now - timedelta(days=7)
    hourly = hourly_air_table(session, [site], min(first, week), now)
    recent = hourly.filter(pl.col("time") >= local_naive(pl.lit(week)))
    hours = hourly_aqi(recent) if recent.height else recent
    this_year = hourly.filter(pl.col("time") >= local_naive(pl.lit(first)))
    daily, annual_rows = pl.DataFrame(), []
    if this_year.height:
        evaluation = air_evaluation.evaluate(this_year)
        daily = evaluation.daily
        annual_rows = evaluation.annual.to_dicts()
    latest = air_now(session, [site], now).get(site.code, NO_AIR)
    year = annual_rows[-1] if annual_rows else {}
    return AirDetail(site, latest, hours, daily, annual_statistics(year) if year else [], year)


# ------------------------------------------------------------------------------------------
# Water
# ------------------------------------------------------------------------------------------


def water_frame(
    session: Session, sites: Sequence[Site], start: datetime, end: datetime, basin: str
) -> pl.DataFrame:
    """Valid hourly water readings as the table :mod:`qingshan.services.water` evaluates:
    ``section, river, waterbody, lake, target, time`` (local) and the GB 3838 item columns.

    The store has no river of a section, so rivers are one basin (``basin``, the district)
    and each lake or reservoir is its own waterbody.
    """
    parameters = parameter_ids(session, WATER_ITEMS)
    by_id = {site.id: site for site in sites}
    values = valid_values(session, list(by_id), parameters, start, end)
    wide = values.with_columns(
        local_naive(pl.col("time")).alias("time"),
        pl.col("key").replace_strict(WATER_ITEMS, return_dtype=pl.String),
    ).pivot(on="key", index=["site_id", "time"], values="value")
    info = pl.DataFrame(
        {
            "site_id": list(by_id),
            "section": [s.code for s in sites],
            "river": [basin if s.waterbody_type not in LAKE_TYPES else s.name for s in sites],
            "waterbody": [s.waterbody_type or "river" for s in sites],
            "lake": [s.waterbody_type in LAKE_TYPES for s in sites],
            "target": [TARGET_CODES.get(s.water_target_class or "", 0) for s in sites],
        },
        schema={
            "site_id": pl.Int64,
            "section": pl.String,
            "river": pl.String,
            "waterbody": pl.String,
            "lake": pl.Boolean,
            "target": pl.Int64,
        },
    )
    items = [c for c in water_service.ITEM_COLUMNS if c in wide.columns]
    return wide.join(info, on="site_id").select(
        "section", "river", "waterbody", "lake", "target", "time", *items
    )


def latest_day(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Each ``key`` group's rows of its latest local calendar day."""
    day = pl.col("time").dt.date()
    return frame.filter(day == day.max().over(key))


def water_now(session: Session, sites: Sequence[Site], now: datetime, basin: str) -> pl.DataFrame:
    """Per section, the evaluation of its latest day's mean within the last 3 days (the day's
    mean is its monthly mean of a single day, so :func:`evaluate_sections` evaluates it)."""
    frame = water_frame(session, sites, now - timedelta(days=3), now, basin)
    if frame.is_empty():
        return pl.DataFrame()
    return water_service.evaluate_sections(latest_day(frame, "section"), "month")


@dataclass(frozen=True)
class WaterOverview:
    """The sections' latest month and the basin status of that month."""

    sections: pl.DataFrame
    basins: pl.DataFrame


def water_months(
    session: Session, sites: Sequence[Site], now: datetime, basin: str, months: int = 12
) -> pl.DataFrame:
    """Monthly evaluation of the sections over the last ``months`` months."""
    frame = water_frame(session, sites, now - timedelta(days=31 * months), now, basin)
    if frame.is_empty():
        return pl.DataFrame()
    return water_service.evaluate_sections(frame, "month")


def water_overview(
    session: Session, sites: Sequence[Site], now: datetime, basin: str
) -> WaterOverview:
    """Each section's latest month (class, target, meeting it, main pollutants) and the
    status of the basin and lakes in that month, per the 2011 method. Only the month of the
    latest reading (found by index seeks) is read, if it is within the last two months."""
    latest = latest_times(session, [s.id for s in sites], parameter_ids(session, WATER_ITEMS))
    newest = max((moment for moment in latest.values() if moment <= now), default=None)
    if newest is None or newest < now - timedelta(days=62):
        return WaterOverview(pl.DataFrame(), pl.DataFrame())
    local = newest.astimezone(BEIJING)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    frame = water_frame(session, sites, month_start.astimezone(UTC), now, basin)
    if frame.is_empty():
        return WaterOverview(pl.DataFrame(), pl.DataFrame())
    sections = water_service.evaluate_sections(frame, "month")
    return WaterOverview(sections, water_service.evaluate_rivers(frame, "month"))


# ------------------------------------------------------------------------------------------
# Noise
# ------------------------------------------------------------------------------------------


NOISE_DAILY_SCHEMA = {
    "point": pl.String,
    "date": pl.Date,
    "zone": pl.String,
    "ld": pl.Float64,
    "ln": pl.Float64,
    "day_limit": pl.Float64,
    "night_limit": pl.Float64,
    "day_hours": pl.Int64,
    "night_hours": pl.Int64,
    "day_ok": pl.Boolean,
    "night_ok": pl.Boolean,
}


def daily_noise_frame(
    session: Session, sites: Sequence[Site], start: datetime, end: datetime
) -> pl.DataFrame:
    """Per point and date: Ld, Ln, their limits and compliance (GB 3096—2008 Table 1,
    HJ 640—2012 §6) from the valid hourly Leq (and Lmax) readings."""
    parameters = parameter_ids(session, NOISE_KEYS)
    zoned = {site.id: site for site in sites if site.noise_zone}
    values = valid_values(session, list(zoned), parameters, start, end)
    if values.filter(pl.col("key") == "leq").is_empty():
        return pl.DataFrame(schema=NOISE_DAILY_SCHEMA)
    wide = (
        values.with_columns(local_naive(pl.col("time")).alias("time"))
        .pivot(on="key", index=["site_id", "time"], values="value")
        .filter(pl.col("leq").is_not_null())
        .sort("site_id", "time")
    )
    lmax = wide["lmax"].to_numpy() if "lmax" in wide.columns else None
    codes = {sid: site.code for sid, site in zoned.items()}
    zones = {sid: site.noise_zone for sid, site in zoned.items()}
    result = noise.daily_noise(
        wide["site_id"].replace_strict(codes, return_dtype=pl.String).to_numpy(),
        wide["site_id"].replace_strict(zones, return_dtype=pl.String).to_numpy(),
        wide["time"].to_numpy(),
        wide["leq"].to_numpy(),
        lmax,
    )
    return pl.DataFrame(
        {
            "point": result.point.tolist(),
            "date": result.date,
            "zone": result.zone.tolist(),
            "ld": result.ld,
            "ln": result.ln,
            "day_limit": result.day_limit,
            "night_limit": result.night_limit,
            "day_hours": result.day_hours,
            "night_hours": result.night_hours,
            "day_ok": np.where(result.day.evaluated, result.day.ok, None).tolist(),
            "night_ok": np.where(result.night.evaluated, result.night.ok, None).tolist(),
        },
        schema=NOISE_DAILY_SCHEMA,
        nan_to_null=True,
    )


def latest_noise_days(daily: pl.DataFrame) -> pl.DataFrame:
    """Each point's latest date whose day and night were both judged, else its latest date
    with either (today's night is not over yet, so today alone would hide last night)."""
    both = pl.col("day_ok").is_not_null() & pl.col("night_ok").is_not_null()
    either = pl.col("day_ok").is_not_null() | pl.col("night_ok").is_not_null()
    ranked = daily.filter(either).with_columns(both.alias("_complete"))
    return ranked.sort("point", "_complete", "date").group_by("point").last().drop("_complete")


@dataclass(frozen=True)
class NoiseRate:
    """Point-time compliance rates (HJ 640—2012 §6: day and night counted separately)."""

    day: noise.Rate
    night: noise.Rate


def noise_rates(daily: pl.DataFrame) -> NoiseRate:
    """Compliance rates of the point-days in ``daily`` (from :func:`daily_noise_frame`)."""

    def rate(column: str) -> noise.Rate:
        flags = daily[column] if daily.height else pl.Series(column, [], pl.Boolean)
        judged = flags.is_not_null().to_numpy()
        return noise.compliance_rate(
            noise.Assessment(
                ok=flags.fill_null(False).to_numpy(),
                exceed_db=np.full(len(flags), np.nan),
                evaluated=judged,
            )
        )

    return NoiseRate(rate("day_ok"), rate("night_ok"))


# ------------------------------------------------------------------------------------------
# Sources
# ------------------------------------------------------------------------------------------


def permit_values(
    session: Session, sites: Sequence[Site], start: datetime, end: datetime
) -> pl.DataFrame:
    """Hourly valid values of each outlet's permitted parameters with the permit limit:
    ``site, key, time`` (local), ``value``, ``limit``, ``over`` (value > limit)."""
    keys = {key for site in sites for key in (site.permit_limits or {})}
    parameters = parameter_ids(session, keys)
    values = valid_values(session, [s.id for s in sites], parameters, start, end)
    limits = pl.DataFrame(
        [
            (site.id, site.code, key, float(spec["limit"]))
            for site in sites
            for key, spec in (site.permit_limits or {}).items()
        ],
        schema={"site_id": pl.Int64, "site": pl.String, "key": pl.String, "limit": pl.Float64},
        orient="row",
    )
    return (
        values.join(limits, on=["site_id", "key"])
        .select(
            "site",
            "key",
            local_naive(pl.col("time")).alias("time"),
            "value",
            "limit",
            (pl.col("value") > pl.col("limit")).alias("over"),
        )
        .sort("site", "key", "time")
    )


def sources_now(session: Session, sites: Sequence[Site], now: datetime) -> dict[str, bool]:
    """Outlet code → whether its latest hour (within 3 intervals) is over any permit limit."""
    if not sites:
        return {}
    longest = max(s.reporting_interval_minutes for s in sites)
    since = now - timedelta(minutes=OFFLINE_AFTER_INTERVALS * max(longest, 60))
    values = permit_values(session, sites, since, now)
    if values.is_empty():
        return {}
    latest = values.filter(pl.col("time") == pl.col("time").max().over("site"))
    over = latest.group_by("site").agg(pl.col("over").any())
    return dict(over.iter_rows())


@dataclass(frozen=True)
class DeviceView:
    mn: str
    last_seen_at: datetime | None
    status: str
    """``online``, ``offline`` (silent > 3 intervals) or ``never``."""


@dataclass(frozen=True)
class SourceDetail:
    site: Site
    values: pl.DataFrame
    devices: list[DeviceView]
    rejects: list[RejectedPacket]
    events: list[DeviceEvent]


RECENT_ROWS = 20


def source_detail(session: Session, site: Site, now: datetime, days: int = 7) -> SourceDetail:
    """The outlet's hourly values vs limits over ``days`` days, its devices with their
    liveness, and the latest rejected packets and device events of its devices' MNs."""
    devices = list(
        session.scalars(select(Device).where(Device.site_id == site.id).order_by(Device.mn))
    )
    mns = [device.mn for device in devices]
    rejects = list(
        session.scalars(
            select(RejectedPacket)
            .where(RejectedPacket.mn.in_(mns))
            .order_by(RejectedPacket.received_at.desc())
            .limit(RECENT_ROWS)
        )
    )
    events = list(
        session.scalars(
            select(DeviceEvent)
            .where(DeviceEvent.device_id.in_([d.id for d in devices]))
            .order_by(DeviceEvent.received_at.desc())
            .limit(RECENT_ROWS)
        )
    )
    return SourceDetail(
        site=site,
        values=permit_values(session, [site], now - timedelta(days=days), now),
        devices=[
            DeviceView(
                d.mn, d.last_seen_at, liveness(d.last_seen_at, site.reporting_interval_minutes, now)
            )
            for d in devices
        ],
        rejects=rejects,
        events=events,
    )


@dataclass(frozen=True)
class ItemLimit:
    """A water item's value against the limit of the section's target class."""

    key: str
    name: str
    name_en: str
    unit: str
    value: float | None
    limit: float | None
    """Upper limit (lower for dissolved oxygen) of the target class, None without one."""
    direction: str
    item_class: str | None


def water_item_limits(row: Mapping[str, Any], site: Site) -> list[ItemLimit]:
    """The items of an evaluated period row against the GB 3838—2002 Table 1 limits of the
    section's target class (Class III when it has none; the 2011 method's reference)."""
    target = TARGET_CODES.get(site.water_target_class or "", water.REFERENCE_CLASS)
    lake = site.waterbody_type in LAKE_TYPES
    limits = []
    for key in water_service.ITEM_COLUMNS:
        if key not in row or key not in water.ITEMS:
            continue
        spec = water.item(key)
        limit = float(water.limit_micro(key, [target], [lake])[0]) / 1_000_000
        value = row[key]
        code = int(water.item_class(key, [value], [lake])[0]) if value is not None else 0
        limits.append(
            ItemLimit(
                key,
                spec.name,
                spec.name_en,
                spec.unit,
                value,
                None if np.isnan(limit) else limit,
                spec.direction,
                water.class_label([code])[0],
            )
        )
    return limits
