"""The monthly environmental-quality bulletin (环境质量月报) of the district, from the store.

For one calendar month in Beijing time:

* **Air** (per station, and for the district): valid AQI days, days per AQI category, good-day
  ratio, the PM2.5 / PM10 / SO2 / NO2 monthly means, the CO 24-h P95 and the O3 MDA8 P90, the
  composite index and the days each pollutant was primary. Daily values and the daily AQI come
  from :func:`qingshan.services.air.evaluate_hourly` (HJ 663, GB 3095 Table 4, HJ 633); the
  monthly statistics are taken from the unrounded daily values and published once (GB/T 8170).
  The district's hourly concentration is the mean of its stations' valid hourly values, before
  any IAQI (HJ 663 city value = mean of the stations; air.md §9.2).
* **Water** (per section): the month's class by the single-factor method (GB 3838—2002, 2011
  method) from the mean of the month's samples, whether it meets its target class, the main
  pollutants, and the share of sections meeting their target (:mod:`qingshan.services.water`).
* **Noise** (per point): the month's Ld and Ln (energy means of the day and night hours) against
  the zone's GB 3096—2008 Table 1 limits, and the point-days complying (HJ 640—2012 §6;
  :mod:`qingshan.services.noise`).

Missing data stay missing: every statistic has its coverage (valid days, samples, hours) next to
it, and a station, section or point without data is listed with empty values, never zeros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingshan.services import air, noise, pdf, water
from qingshan.services.report_document import (
    Heading,
    Paragraph,
    ReportDocument,
    bullets,
    frame_table,
    write_atomically,
)
from qingshan.standards import air_evaluation, aqi
from qingshan.standards import noise as noise_standard
from qingshan.standards import water as water_standard
from qingshan.standards.rounding import round_half_even
from qingshan.store.aggregates import LOCAL_TIME_ZONE, hourly_values
from qingshan.store.models import VALID_FLAGS, District, Parameter, Reading, Site

BEIJING = ZoneInfo(LOCAL_TIME_ZONE)
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
DISTRICT_ROW = "全区 District"
"""The label of the district row of the air table."""

MONTHLY_STATISTICS: tuple[tuple[str, str, float | None, str], ...] = (
    ("so2_mean", "so2_24h", None, "so2_annual_mean"),
    ("no2_mean", "no2_24h", None, "no2_annual_mean"),
    ("pm10_mean", "pm10_24h", None, "pm10_annual_mean"),
    ("pm25_mean", "pm25_24h", None, "pm25_annual_mean"),
    ("co_24h_p95", "co_24h", 95.0, "co_24h_p95"),
    ("o3_8h_max_p90", "o3_8h_max", 90.0, "o3_8h_max_p90"),
)
"""Monthly statistic, the daily indicator it is taken from, its HJ 663 percentile (None: the
arithmetic mean, GB 3095—2026 §3.11), and the composite-index statistic it stands for."""

WATER_ITEMS = {"water_temperature": "water_temp"}
"""Store parameter keys that the water standard names otherwise."""
WATER_PERIODS = ("hour", "day")
"""Readings of these periods are the samples of a section (one reading, one sample): its hour
readings when it has any in the month, else its day readings (never both, which would count an
automatic station's day twice)."""

NOISE_NIGHT_SPILL = timedelta(hours=6)
"""The night of a month's last day ends at 06:00 of the next month (GB 3096—2008 §3)."""

NOTES = (
    "空气：日均值及有效性按 GB 3095—2012/2026 表 4（日均值需 ≥ 20 个小时值），O3 日最大 8 小时"
    "平均按 HJ 663 §6.1.2（≥ 14 个有效 8 小时值或超标），日 AQI、类别与首要污染物按 HJ 633—2012/"
    "2026（2026-03-01 起新版）。Air: daily means and validity per GB 3095 Table 4; MDA8 per "
    "HJ 663 §6.1.2; daily AQI, categories and primary pollutants per HJ 633.",
    "空气：优良天数比例 = 优良天数 ÷ 有效 AQI 天数 × 100%，修约至 0.1%（HJ 663）；有效天为全部"
    "项目有 AQI，或缺项但 AQI > 100（HJ 633—2026 §5.3.1）。Good-day ratio = good days ÷ valid AQI "
    "days (HJ 663); a valid day has every IAQI, or AQI > 100 (HJ 633—2026 §5.3.1).",
    "空气：月均值为当月有效日均值的算术平均（GB 3095—2026 §3.11）；CO 日均值第 95 百分位、O3 "
    "日最大 8 小时平均第 90 百分位按 HJ 663—2013 附录 A 的百分位公式；"
    "修约按 GB/T 8170（一次修约）。"
    "GB 3095 对月均值未规定最少天数；有效天数少于 27 天（2 月 25 天）的月值仅供参考（同行做法，"
    "UNVERIFIED）。Monthly means per GB 3095—2026 §3.11; percentiles per HJ 663 Appendix A; "
    "fewer than 27 (Feb 25) valid days: indicative only.",
    "空气：综合指数 = Σ C_i / S_i（二级年均值限值，CO 日均、O3 8 小时限值），城市环境空气质量排名"
    "技术规定（环办〔2014〕64号）；全区浓度为各站点有效小时浓度的算术平均，再计算 IAQI（HJ 663）。"
    "Composite index per 环办〔2014〕64号; district concentrations = mean of the stations "
    "(HJ 663).",
    "地表水：月值为当月样品的算术平均（pH 以氢离子浓度平均），按 GB 3838—2002 表 1 单因子评价"
    "21 项，状况与主要污染物按《地表水环境质量评价办法（试行）》（环办〔2011〕22号）；达标 = 各项目"
    "均不劣于目标类别。Surface water: monthly means, single-factor class over the 21 items of "
    "GB 3838—2002 Table 1, status and main pollutants per the 2011 method.",
    "噪声：昼间 06:00–22:00、夜间 22:00–06:00（GB 3096—2008 §3）；月 Ld、Ln 为当月昼间、夜间小时"
    "Leq 的能量平均，与 GB 3096—2008 表 1 所在功能区限值比较（≤ 限值为达标）；点次达标按 HJ 640—"
    "2012 §6 昼、夜分别统计。Noise: Ld/Ln energy means against GB 3096—2008 Table 1; point-day "
    "compliance per HJ 640—2012 §6.",
    "缺测不记为零：各项统计旁列出有效天数、样品数或小时数；无数据的站点、断面、点位留空。"
    "Missing data are shown as missing with their coverage, never as zero.",
)
"""What every figure of the bulletin rests on (printed in the notes of the PDF and XLSX)."""

AIR_HEADERS = {
    "station": "站点 / Station",
    "days_expected": "当月天数 / Days in month",
    "aqi_valid_days": "有效天数 / Valid AQI days",
    **{
        f"days_{c.name_en.lower().replace(' ', '_')}": f"{c.name}天数 / {c.name_en} days"
        for c in aqi.categories()
    },
    "good_days": "优良天数 / Good days",
    "good_day_ratio": "优良天数比例(%) / Good-day ratio (%)",
    "pm25_mean": "PM2.5(μg/m³)",
    "pm10_mean": "PM10(μg/m³)",
    "so2_mean": "SO2(μg/m³)",
    "no2_mean": "NO2(μg/m³)",
    "co_24h_p95": "CO-95per(mg/m³)",
    "o3_8h_max_p90": "O3-8h-90per(μg/m³)",
    "pm25_days_valid": "PM2.5有效天数 / PM2.5 valid days",
    "o3_8h_max_days_valid": "O3-8h有效天数 / O3-8h valid days",
    "composite_index": "综合指数 / Composite index",
    "composite_primary": "综合指数首要污染物 / Largest single index",
    "primary_days": "首要污染物天数 / Days as primary pollutant",
}
WATER_HEADERS = {
    "section": "断面 / Section",
    "waterbody": "水体 / Waterbody",
    "samples": "样品数 / Samples",
    "target_class": "目标类别 / Target class",
    "class": "水质类别 / Class",
    "status": "水质状况 / Status",
    "meets_target": "是否达标 / Meets target",
    "main_pollutants": "主要污染物 / Main pollutants",
    "exceedance": "超标项目(倍数) / Exceedances",
}
NOISE_HEADERS = {
    "point": "点位 / Point",
    "zone": "功能区 / Zone",
    "day_hours": "昼间小时数 / Day hours",
    "ld": "Ld(dB(A))",
    "day_limit": "昼间限值 / Day limit",
    "day_ok": "昼间达标 / Day complies",
    "night_hours": "夜间小时数 / Night hours",
    "ln": "Ln(dB(A))",
    "night_limit": "夜间限值 / Night limit",
    "night_ok": "夜间达标 / Night complies",
    "days_evaluated": "监测天数 / Days evaluated",
    "days_day_ok": "昼间达标天数 / Compliant days",
    "nights_ok": "夜间达标天数 / Compliant nights",
}
SHEETS = {
    "summary": "概况 Summary",
    "air": "空气 Air",
    "water": "地表水 Water",
    "noise": "噪声 Noise",
    "notes": "依据 Notes",
}


@dataclass(frozen=True)
class Bulletin:
    """The bulletin's tables (English column keys) and its headline figures."""

    month: str
    district: str
    air: pl.DataFrame
    water: pl.DataFrame
    noise: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = NOTES


# ------------------------------------------------------------------------------------ month


def parse_month(text: str) -> date:
    """The first day of ``YYYY-MM``; ValueError naming the text otherwise."""
    match = MONTH.match(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"month {text!r}: use YYYY-MM, e.g. 2026-10")
    return date(int(match[1]), int(match[2]), 1)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_bounds(first: date) -> tuple[datetime, datetime]:
    """The month's start and end instants: Beijing-time midnights (GB 3095 natural days)."""
    start = datetime(first.year, first.month, 1, tzinfo=BEIJING)
    end_day = _next_month(first)
    return start, datetime(end_day.year, end_day.month, 1, tzinfo=BEIJING)


def _local(times: pl.Expr) -> pl.Expr:
    """UTC instants as timezone-naive Beijing times (what the kernels take)."""
    return times.dt.convert_time_zone(LOCAL_TIME_ZONE).dt.replace_time_zone(None)


# ------------------------------------------------------------------------------------ store


def _sites(session: Session, kind: str) -> list[Site]:
    return list(
        session.scalars(select(Site).where(Site.kind == kind, Site.active).order_by(Site.code))
    )


def _district_name(session: Session) -> str:
    names = session.scalars(select(District.name).order_by(District.id)).all()
    return "、".join(names) or "—"


def _parameter_keys(session: Session, medium: str) -> dict[int, str]:
    rows = session.execute(select(Parameter.id, Parameter.key).where(Parameter.medium == medium))
    return {key_id: key for key_id, key in rows}


def _readings(
    session: Session,
    sites: list[Site],
    keys: dict[int, str],
    start: datetime,
    end: datetime,
    periods: tuple[str, ...],
) -> pl.DataFrame:
    """Valid (flag N) readings of ``sites`` and parameters ``keys``: site, key, time, value,
    period."""
    statement = select(
        Reading.site_id, Reading.parameter_id, Reading.period_start, Reading.value, Reading.period
    ).where(
        Reading.site_id.in_([s.id for s in sites]),
        Reading.parameter_id.in_(list(keys)),
        Reading.period.in_(periods),
        Reading.flag.in_(VALID_FLAGS),
        Reading.period_start >= start,
        Reading.period_start < end,
    )
    schema = {
        "site_id": pl.Int64,
        "parameter_id": pl.Int64,
        "period_start": pl.Datetime("us", "UTC"),
        "value": pl.Float64,
        "period": pl.String,
    }
    frame = pl.DataFrame(
        [tuple(row) for row in session.execute(statement)], schema=schema, orient="row"
    )
    return _named(frame, sites, keys).with_columns(frame["period"])


def _named(frame: pl.DataFrame, sites: list[Site], keys: dict[int, str]) -> pl.DataFrame:
    codes = {s.id: s.code for s in sites}
    return frame.select(
        pl.col("site_id").replace_strict(codes, return_dtype=pl.String).alias("site"),
        pl.col("parameter_id").replace_strict(keys, return_dtype=pl.String).alias("key"),
        _local(pl.col("period_start")).alias("time"),
        "value",
    )


def _wide(frame: pl.DataFrame, index: str, columns: list[str]) -> pl.DataFrame:
    """One row per site and time, one column per parameter (null where missing)."""
    if frame.is_empty():
        wide = pl.DataFrame(schema={"site": pl.String, "time": pl.Datetime("us")})
    else:
        wide = frame.select("site", "key", "time", "value").pivot(
            on="key", index=["site", "time"], values="value"
        )
    missing = [pl.lit(None, pl.Float64).alias(c) for c in columns if c not in wide.columns]
    return wide.with_columns(missing).rename({"site": index}).select(index, "time", *columns)


# -------------------------------------------------------------------------------------- air


def _air_hours(session: Session, sites: list[Site], start: datetime, end: datetime) -> pl.DataFrame:
    keys = {
        k: v
        for k, v in _parameter_keys(session, "air").items()
        if f"{v}_1h" in air_evaluation.HOURLY_COLUMNS
    }
    hours = hourly_values(session, start=start, end=end, site_ids=[s.id for s in sites])
    hours = hours.filter(pl.col("parameter_id").is_in(list(keys)) & pl.col("valid"))
    named = _named(hours.select("site_id", "parameter_id", "period_start", "value"), sites, keys)
    named = named.with_columns(pl.col("key") + "_1h")
    return _wide(named, "station", list(air_evaluation.HOURLY_COLUMNS))


def _with_district(hourly: pl.DataFrame) -> pl.DataFrame:
    """Add the district pseudo-station: each hour's mean of the stations' valid values."""
    columns = list(air_evaluation.HOURLY_COLUMNS)
    district = (
        hourly.group_by("time")
        .agg(pl.col(columns).mean())
        .with_columns(pl.lit(DISTRICT_ROW).alias("station"), pl.lit("II").alias("class"))
    )
    return pl.concat([hourly, district.select(hourly.columns)])


def _monthly_statistic(
    groups: NDArray[np.int64], values: NDArray[np.float64], p: float | None, n: int
) -> NDArray[np.float64]:
    if p is not None:
        return air_evaluation.grouped_percentile(groups, values, p, n)
    present = ~np.isnan(values)
    total = np.bincount(groups, weights=np.where(present, values, 0.0), minlength=n)
    count = np.bincount(groups, weights=present, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _category_key(category: aqi.Category) -> str:
    return f"days_{category.name_en.lower().replace(' ', '_')}"


def _primary_days(daily: pl.DataFrame) -> pl.DataFrame:
    """Per station, ``PM2.5 12; O3 5``: valid days on which each pollutant was primary."""
    return (
        daily.filter(pl.col("aqi_valid_day"))
        .select("station", pl.col("primary_pollutants").cast(pl.String).str.split(";"))
        .explode("primary_pollutants")
        .drop_nulls()
        .group_by("station", "primary_pollutants")
        .len()
        .sort("station", "len", "primary_pollutants", descending=[False, True, False])
        .group_by("station", maintain_order=True)
        .agg(pl.format("{} {}", "primary_pollutants", "len").str.join("; ").alias("primary_days"))
    )


def _air_table(
    evaluation: air_evaluation.Evaluation, stations: list[str], first: date
) -> pl.DataFrame:
    daily = evaluation.daily
    order = {name: position for position, name in enumerate(stations)}
    groups = daily["station"].replace_strict(order, return_dtype=pl.Int64).to_numpy()
    n = len(stations)
    valid = daily["aqi_valid_day"].to_numpy()
    good = np.bincount(groups, weights=daily["good_day"].to_numpy(), minlength=n)
    valid_days = np.bincount(groups, weights=valid, minlength=n)
    levels = daily["level"].fill_null(0).to_numpy()
    columns: dict[str, Any] = {
        "station": stations,
        "days_expected": [(_next_month(first) - first).days] * n,
        "aqi_valid_days": valid_days.astype(np.int64),
    }
    for category in aqi.categories():
        on_level = valid & (levels == category.level)
        columns[_category_key(category)] = np.bincount(
            groups, weights=on_level, minlength=n
        ).astype(np.int64)
    columns["good_days"] = good.astype(np.int64)
    ratio = air_evaluation.good_day_ratio(good, valid_days)
    columns["good_day_ratio"] = pl.Series(ratio, nan_to_null=True)
    statistics: dict[str, NDArray[np.float64]] = {}
    for name, indicator, p, composite_name in MONTHLY_STATISTICS:
        values = np.asarray(evaluation.daily_values[indicator], dtype=np.float64)
        published = air_evaluation.publish(indicator, _monthly_statistic(groups, values, p, n))
        statistics[composite_name] = published
        columns[name] = pl.Series(published, nan_to_null=True)
        if indicator in ("pm25_24h", "o3_8h_max"):
            present = ~np.isnan(values)
            columns[f"{indicator.removesuffix('_24h')}_days_valid"] = np.bincount(
                groups, weights=present, minlength=n
            ).astype(np.int64)
    last_day = np.datetime64(_next_month(first), "D") - 1
    limit_set = air_evaluation.limit_set_for(np.full(n, last_day))
    index = air_evaluation.composite_index(statistics, limit_set)
    columns["composite_index"] = pl.Series(index.value, nan_to_null=True)
    columns["composite_primary"] = pl.Series(index.primary.tolist(), dtype=pl.String)
    table = pl.DataFrame(columns)
    return table.join(_primary_days(daily), on="station", how="left", maintain_order="left")


def _air(session: Session, first: date, start: datetime, end: datetime) -> pl.DataFrame:
    sites = _sites(session, "air_station")
    stations = [s.code for s in sites] + [DISTRICT_ROW]
    hourly = _air_hours(session, sites, start, end)
    classes = {s.code: s.air_class or "II" for s in sites}
    hourly = hourly.with_columns(
        pl.col("station").replace_strict(classes, return_dtype=pl.String).alias("class")
    ).select("station", "time", "class", *air_evaluation.HOURLY_COLUMNS)
    if hourly.is_empty():
        return _air_table_without_data(stations, first)
    evaluation = air.evaluate_hourly(_with_district(hourly))
    return _air_table(evaluation, stations, first)


def _air_table_without_data(stations: list[str], first: date) -> pl.DataFrame:
    """No air data in the month: every station listed with 0 valid days and every figure
    missing."""
    text = ("station", "composite_primary", "primary_days")
    missing = [
        pl.lit(None, pl.String if key in text else pl.Float64).alias(key)
        for key in AIR_HEADERS
        if key not in ("station", "days_expected", "aqi_valid_days")
    ]
    return pl.DataFrame({"station": stations}).with_columns(
        pl.lit((_next_month(first) - first).days).alias("days_expected"),
        pl.lit(0).alias("aqi_valid_days"),
        *missing,
    )


# ------------------------------------------------------------------------------------ water


def _water(session: Session, start: datetime, end: datetime) -> pl.DataFrame:
    sites = _sites(session, "water_section")
    keys = {k: WATER_ITEMS.get(v, v) for k, v in _parameter_keys(session, "water").items()}
    keys = {k: v for k, v in keys.items() if v in water.ITEM_COLUMNS}
    readings = _readings(session, sites, keys, start, end, WATER_PERIODS)
    rank = pl.col("period").replace_strict(
        {period: order for order, period in enumerate(WATER_PERIODS)}, return_dtype=pl.Int64
    )
    finest = readings.filter(rank == rank.min().over("site"))
    samples = _wide(finest, "section", sorted(set(keys.values())))
    listed = pl.DataFrame(
        {
            "section": [s.code for s in sites],
            "waterbody": [s.waterbody_type or "river" for s in sites],
            "target_class": [s.water_target_class for s in sites],
        }
    )
    if samples.is_empty():
        return listed.with_columns(pl.lit(0).alias("samples"))
    targets = {s.code: water_standard.CLASS_LABELS.index(s.water_target_class or "") for s in sites}
    waterbodies = dict(zip(listed["section"], listed["waterbody"], strict=True))
    frame = samples.with_columns(
        pl.lit(None, pl.String).alias("river"),
        pl.col("section").replace_strict(waterbodies, return_dtype=pl.String).alias("waterbody"),
        pl.col("section").replace_strict(targets, return_dtype=pl.Int64).alias("target"),
        pl.col("time").dt.strftime("%Y-%m-%d %H:%M").alias("time_text"),
    ).with_columns((pl.col("waterbody") != "river").alias("lake"))
    evaluated = water.evaluate_sections(frame, "month").drop("waterbody", "target_class")
    return listed.join(evaluated, on="section", how="left", maintain_order="left").with_columns(
        pl.col("samples").fill_null(0)
    )


# ------------------------------------------------------------------------------------ noise


def _noise(session: Session, first: date, start: datetime, end: datetime) -> pl.DataFrame:
    sites = _sites(session, "noise_point")
    keys = {k: v for k, v in _parameter_keys(session, "noise").items() if v in ("leq", "lmax")}
    hours = _wide(
        _readings(session, sites, keys, start, end + NOISE_NIGHT_SPILL, ("hour",)),
        "point",
        ["leq", "lmax"],
    )
    zones = {s.code: s.noise_zone for s in sites}
    listed = pl.DataFrame(
        {"point": [s.code for s in sites], "zone": [s.noise_zone for s in sites]},
        schema={"point": pl.String, "zone": pl.String},
    )
    hours = (
        hours.with_columns(
            pl.col("point").replace_strict(zones, return_dtype=pl.String).alias("zone")
        )
        # A point without a GB 3096 zone has no limit to be judged against: listed, not judged.
        .filter(pl.col("leq").is_not_null() & pl.col("zone").is_not_null())
    )
    dates, is_night = noise_standard.hour_periods(hours["time"].to_numpy())
    in_month = (dates >= np.datetime64(first, "D")) & (dates < np.datetime64(_next_month(first)))
    hours = hours.filter(pl.Series(in_month)).with_columns(is_night=pl.Series(is_night[in_month]))
    if hours.is_empty() or listed.is_empty():
        return listed.with_columns(pl.lit(0).alias("day_hours"), pl.lit(0).alias("night_hours"))
    return listed.join(_noise_month(hours), on="point", how="left", maintain_order="left")


def _noise_month(hours: pl.DataFrame) -> pl.DataFrame:
    """Per point: the month's Ld and Ln against the zone limits, and the compliant days."""
    points = hours["point"].unique().sort()
    group = points.search_sorted(hours["point"]).to_numpy().astype(np.intp)
    n = points.len()
    night = hours["is_night"].to_numpy()
    leq = hours["leq"].to_numpy()
    zone = hours.group_by("point").agg(pl.col("zone").first()).sort("point")["zone"]
    day_limit, night_limit = noise_standard.zone_limits(zone.to_numpy())
    ld = noise_standard.grouped_leq(np.where(night, np.nan, leq), group, n)
    ln = noise_standard.grouped_leq(np.where(night, leq, np.nan), group, n)
    day_ok = noise_standard.assess(ld, day_limit)
    night_ok = noise_standard.assess(ln, night_limit)
    daily = noise.evaluate_daily(hours.select("point", "zone", "time", "leq", "lmax"), 100_000)
    per_day = daily.group_by("point").agg(
        pl.len().alias("days_evaluated"),
        pl.col("day_ok").sum().alias("days_day_ok"),
        pl.col("night_ok").sum().alias("nights_ok"),
    )

    def flag(assessment: noise_standard.Assessment) -> pl.Series:
        return pl.Series(
            [
                bool(ok) if seen else None
                for ok, seen in zip(assessment.ok, assessment.evaluated, strict=True)
            ],
            dtype=pl.Boolean,
        )

    return pl.DataFrame(
        {
            "point": points,
            "day_hours": np.bincount(group, weights=~night, minlength=n).astype(np.int64),
            "ld": pl.Series(round_half_even(ld, 1), nan_to_null=True),
            "day_limit": day_limit,
            "day_ok": flag(day_ok),
            "night_hours": np.bincount(group, weights=night, minlength=n).astype(np.int64),
            "ln": pl.Series(round_half_even(ln, 1), nan_to_null=True),
            "night_limit": night_limit,
            "night_ok": flag(night_ok),
        }
    ).join(per_day, on="point", how="left")


# ---------------------------------------------------------------------------------- summary


def _share(flags: pl.Series) -> dict[str, Any]:
    judged = int(flags.count())
    yes = int(flags.sum() or 0)
    return {
        "meeting": yes,
        "judged": judged,
        "percent": None if judged == 0 else round(100.0 * yes / judged, 1),
    }


def _summary(
    bulletin_air: pl.DataFrame, sections: pl.DataFrame, points: pl.DataFrame
) -> dict[str, Any]:
    district = bulletin_air.filter(pl.col("station") == DISTRICT_ROW).row(0, named=True)
    meets = (sections["meets_target"] == "yes") if "meets_target" in sections.columns else None
    return {
        "air_valid_days": district["aqi_valid_days"],
        "air_good_days": district["good_days"],
        "air_good_day_ratio": district["good_day_ratio"],
        "air_pm25_mean": district["pm25_mean"],
        "water_sections_meeting_target": _share(
            meets if meets is not None else pl.Series([], dtype=pl.Boolean)
        ),
        "noise_points_day_ok": _share(
            points["day_ok"] if "day_ok" in points.columns else pl.Series([], dtype=pl.Boolean)
        ),
        "noise_points_night_ok": _share(
            points["night_ok"] if "night_ok" in points.columns else pl.Series([], dtype=pl.Boolean)
        ),
    }


def build_bulletin(session: Session, month: str) -> Bulletin:
    """The bulletin of ``month`` (``YYYY-MM``, Beijing calendar) from the store."""
    first = parse_month(month)
    start, end = month_bounds(first)
    start_utc, end_utc = (t.astimezone(ZoneInfo("UTC")) for t in (start, end))
    air_table = _air(session, first, start_utc, end_utc)
    sections = _water(session, start_utc, end_utc)
    points = _noise(session, first, start_utc, end_utc)
    return Bulletin(
        month=f"{first:%Y-%m}",
        district=_district_name(session),
        air=air_table,
        water=sections,
        noise=points,
        summary=_summary(air_table, sections, points),
    )


# ---------------------------------------------------------------------------------- outputs


def _columns(frame: pl.DataFrame, headers: dict[str, str]) -> dict[str, str]:
    return {key: header for key, header in headers.items() if key in frame.columns}


def summary_lines(bulletin: Bulletin) -> list[str]:
    summary = bulletin.summary

    def shown(value: Any) -> str:
        return "—" if value is None else str(value)

    water_share = summary["water_sections_meeting_target"]
    day, night = summary["noise_points_day_ok"], summary["noise_points_night_ok"]
    return [
        f"环境空气：有效监测 {shown(summary['air_valid_days'])} 天，优良 "
        f"{shown(summary['air_good_days'])} 天，"
        f"优良天数比例 {shown(summary['air_good_day_ratio'])}%；"
        f"PM2.5 月均浓度 {shown(summary['air_pm25_mean'])} μg/m³。",
        f"地表水：{water_share['judged']} 个有评价结果的断面中 {water_share['meeting']} 个达到目标"
        f"（{shown(water_share['percent'])}%）。",
        f"声环境：昼间 {day['meeting']}/{day['judged']} 个点位达标，夜间 "
        f"{night['meeting']}/{night['judged']} 个点位达标。",
    ]


def bulletin_document(bulletin: Bulletin) -> ReportDocument:
    """The bulletin as a report (bilingual headings; the notes cite every standard)."""
    year, month = bulletin.month.split("-")
    document = ReportDocument(
        f"{bulletin.district}环境质量月报 {year}年{int(month)}月",
        meta=[f"Monthly environmental-quality bulletin, {bulletin.month} (Beijing time)"],
    )
    digits = {
        "good_day_ratio": 1,
        "composite_index": 2,
        "co_24h_p95": 1,
        "ld": 1,
        "ln": 1,
        "pm25_mean": 0,
        "pm10_mean": 0,
        "so2_mean": 0,
        "no2_mean": 0,
        "o3_8h_max_p90": 0,
        "day_limit": 0,
        "night_limit": 0,
    }
    air_overview = {
        k: AIR_HEADERS[k]
        for k in (
            "station",
            "aqi_valid_days",
            "good_days",
            "good_day_ratio",
            "composite_index",
            "primary_days",
        )
    }
    air_categories = {
        k: v for k, v in AIR_HEADERS.items() if k == "station" or k.startswith("days_")
    }
    air_concentrations = {
        k: AIR_HEADERS[k]
        for k in (
            "station",
            "pm25_mean",
            "pm10_mean",
            "so2_mean",
            "no2_mean",
            "co_24h_p95",
            "o3_8h_max_p90",
            "pm25_days_valid",
            "o3_8h_max_days_valid",
        )
    }
    return document.add(
        Heading("概况 Summary"),
        bullets(summary_lines(bulletin)),
        Heading("一、环境空气 Ambient air"),
        frame_table(bulletin.air, _columns(bulletin.air, air_overview), digits),
        frame_table(bulletin.air, _columns(bulletin.air, air_categories), digits),
        frame_table(bulletin.air, _columns(bulletin.air, air_concentrations), digits),
        Heading("二、地表水 Surface water"),
        frame_table(bulletin.water, _columns(bulletin.water, WATER_HEADERS), digits),
        Heading("三、声环境 Noise"),
        frame_table(bulletin.noise, _columns(bulletin.noise, NOISE_HEADERS), digits),
        Heading("依据与说明 Standards and notes"),
        bullets(bulletin.notes),
        Paragraph("“—”表示缺测或无法评价 “—” marks a missing value."),
    )


def bulletin_pdf(bulletin: Bulletin) -> bytes:
    return pdf.render(bulletin_document(bulletin))


def bulletin_tables(bulletin: Bulletin) -> dict[str, pl.DataFrame]:
    """The sheets of the XLSX: summary, air, water, noise, notes (bilingual headers)."""
    summary = pl.DataFrame({"概况 / Summary": summary_lines(bulletin)})
    return {
        "summary": summary,
        "air": bulletin.air.select(
            pl.col(k).alias(v) for k, v in _columns(bulletin.air, AIR_HEADERS).items()
        ),
        "water": bulletin.water.select(
            pl.col(k).alias(v) for k, v in _columns(bulletin.water, WATER_HEADERS).items()
        ),
        "noise": bulletin.noise.select(
            pl.col(k).alias(v) for k, v in _columns(bulletin.noise, NOISE_HEADERS).items()
        ),
        "notes": pl.DataFrame({"依据 / Notes": list(bulletin.notes)}),
    }


def bulletin_xlsx(bulletin: Bulletin) -> bytes:
    from xlsxwriter import Workbook

    buffer = BytesIO()
    with Workbook(buffer, {"in_memory": True}) as workbook:
        for name, frame in bulletin_tables(bulletin).items():
            frame.write_excel(workbook, worksheet=SHEETS[name], autofit=True)
    return buffer.getvalue()


FORMATS = {".pdf": bulletin_pdf, ".xlsx": bulletin_xlsx}


def bulletin_download(session: Session, month: str, file_format: str) -> tuple[str, bytes]:
    """The bulletin of ``month`` as ``pdf`` or ``xlsx``: its file name and its bytes.

    Raises ValueError for a month that is not YYYY-MM or a format that is neither.
    """
    render = FORMATS.get(f".{file_format}")
    if render is None:
        raise ValueError(f"the bulletin is given as pdf or xlsx, not {file_format!r}")
    report = build_bulletin(session, month)
    return f"bulletin_{report.month}.{file_format}", render(report)


def write_bulletin(bulletin: Bulletin, path: Path) -> Path:
    """Write the bulletin as PDF or XLSX (by the suffix), atomically."""
    render = FORMATS.get(path.suffix.lower())
    if render is None:
        raise ValueError(f"{path}: the bulletin is written as .pdf or .xlsx")
    return write_atomically(path, render(bulletin))
