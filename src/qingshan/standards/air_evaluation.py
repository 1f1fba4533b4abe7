"""Ambient air quality evaluation per HJ 663 against the limits of GB 3095—2012 / GB 3095—2026.

From hourly concentrations per station this module derives, without I/O:

* daily values with their validity (GB 3095 Table 4): 24-h means of SO2, NO2, CO, PM10, PM2.5
  (≥ 20 hourly values), the O3 daily maximum 1-h value, the 8-h moving averages (≥ 6 of 8
  hourly values) and the O3 daily maximum 8-h average (MDA8) over the 17 windows of the day
  (≥ 14 valid windows, or an exceedance of the limit: HJ 663 §6.1.2 as cited, air.md §9.1);
* the daily AQI (HJ 633, through :func:`qingshan.standards.aqi.aqi_table`), valid AQI days and
  good days (AQI ≤ 100);
* annual statistics per station and calendar year: means and the HJ 663 Appendix A percentiles
  (SO2/NO2 P98, PM10/PM2.5/CO P95, O3 MDA8 P90) with the 324-day / 27-per-month (25 in
  February) validity, the good-day ratio over valid AQI days and the composite index (综合指数);
* compliance per pollutant against the Class I or Class II limits of the GB 3095 edition and
  phase in force (or a fixed one), with the limits used and the coverage on every row.

Rounding. Intermediate values are kept unrounded; published values are rounded once per GB/T
8170 (half to even; §3.4 forbids successive rounding): concentrations to integers in µg/m³, CO
to 0.1 mg/m³, the composite index to 0.01, ratios to 0.1 %. A value exceeds a limit when its
*published* (rounded) value is greater than the limit (``comparison="rounded"``, the default),
or, with ``comparison="full"``, when the unrounded value (to 10⁻⁶ of its unit) is greater.

Times are local (Asia/Shanghai), timezone-naive; an hourly value is labelled by the start of its
hour, so the calendar day holds hours 00:00 … 23:00. The choices made where the sources are
silent are listed in ``docs/air-evaluation.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from qingshan.standards import aqi, reference
from qingshan.standards.rounding import round_half_even, to_micro

LimitChoice = Literal["auto", "2012", "2026-transitional", "2026-final"]
Comparison = Literal["rounded", "full"]
AreaClass = Literal["I", "II"]

LIMIT_SETS: tuple[str, ...] = ("2012", "2026-transitional", "2026-final")
"""GB 3095 limit sets in time order (keys of ``standards/data/gb3095.toml``)."""

GB3095_2026_FROM = np.datetime64("2026-03-01", "D")
"""GB 3095—2026 replaces GB 3095—2012 on this day (GB 3095—2026 foreword)."""

GB3095_2026_FINAL_FROM = np.datetime64("2031-01-01", "D")
"""GB 3095—2026 §4.4: the final limits apply nationwide from this day."""

HOURS_PER_DAY = 24

HOURLY_COLUMNS: tuple[str, ...] = ("so2_1h", "no2_1h", "co_1h", "o3_1h", "pm10_1h", "pm25_1h")
"""Hourly input columns (µg/m³, CO mg/m³), each labelled by the start of its hour."""

DAILY_MEANS: dict[str, str] = {
    "so2_24h": "so2_1h",
    "no2_24h": "no2_1h",
    "co_24h": "co_1h",
    "pm10_24h": "pm10_1h",
    "pm25_24h": "pm25_1h",
}
"""24-h mean indicators and the hourly column each averages."""

DAILY_INDICATORS: tuple[str, ...] = (*DAILY_MEANS, "o3_1h_max", "o3_8h_max")
"""The indicators of a daily row, named as in the HJ 633 daily report."""

DAILY_LIMIT_KEY: dict[str, str] = {
    "so2_24h": "so2_24h",
    "no2_24h": "no2_24h",
    "co_24h": "co_24h",
    "pm10_24h": "pm10_24h",
    "pm25_24h": "pm25_24h",
    "o3_1h_max": "o3_1h",
    "o3_8h_max": "o3_8h",
}
"""GB 3095 Table 1 limit each daily indicator is compared with."""

ANNUAL_INDICATORS: tuple[str, ...] = (*DAILY_MEANS, "o3_8h_max")
"""Daily indicators that enter annual statistics (HJ 663; air.md §2.3)."""


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


def _gb3095() -> dict[str, Any]:
    return reference.load("gb3095")


def _hj663() -> dict[str, Any]:
    return reference.load("hj663")


def validity_rule(name: str) -> int:
    """A minimum count of GB 3095 Table 4 (``hourly_values_per_day`` …)."""
    value: int = _gb3095()["validity"][name]
    return value


def limit(key: str, limit_set: str, area_class: AreaClass) -> float:
    """One GB 3095 limit, e.g. ``limit("pm25_24h", "2026-final", "II")`` → 50.

    Parameters
    ----------
    key : str
        ``<pollutant>_<averaging>`` of Table 1 (basic items) or Table 2 (other items).
    limit_set : {"2012", "2026-transitional", "2026-final"}
    area_class : {"I", "II"}

    Returns
    -------
    float
        The limit. [µg/m³; CO mg/m³]
    """
    spec = _gb3095()["limit_sets"][limit_set]
    table = spec["basic"] if key in spec["basic"] else spec["other"]
    return float(table[key][area_class])


def limit_label(limit_set: str) -> str:
    """Human label of a limit set, e.g. ``"GB 3095—2026 transitional"``."""
    label: str = _gb3095()["limit_sets"][limit_set]["label"]
    return label


@cache
def _limit_lookup(key: str) -> NDArray[np.float64]:
    """Limits of ``key`` as a (limit set, class I/II) array for vectorised lookup."""
    return np.array(
        [[limit(key, name, "I"), limit(key, name, "II")] for name in LIMIT_SETS], dtype=np.float64
    )


def limits_for(
    key: str, limit_set: NDArray[np.int8], class_one: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """The limit of ``key`` for each row's limit set (index into :data:`LIMIT_SETS`) and class."""
    return _limit_lookup(key)[limit_set, np.where(class_one, 0, 1)]


def limit_set_for(dates: ArrayLike, choice: LimitChoice = "auto") -> NDArray[np.int8]:
    """Index into :data:`LIMIT_SETS` of the GB 3095 limits that apply on each date.

    ``"auto"``: GB 3095—2012 before 2026-03-01 (the day GB 3095—2026 takes effect), the
    GB 3095—2026 transitional limits to 2030-12-31 and its final limits from 2031-01-01
    (GB 3095—2026 §4.4). Any other choice fixes the set for every date.

    Parameters
    ----------
    dates : array-like of datetime64
        Days (or any instant within them).
    choice : {"auto", "2012", "2026-transitional", "2026-final"}
    """
    days = np.asarray(dates).astype("datetime64[D]")
    if choice == "auto":
        return (days >= GB3095_2026_FROM).astype(np.int8) + (days >= GB3095_2026_FINAL_FROM).astype(
            np.int8
        )
    if choice not in LIMIT_SETS:
        raise ValueError(f"limits must be 'auto' or one of {', '.join(LIMIT_SETS)}, got {choice!r}")
    return np.full(days.shape, LIMIT_SETS.index(choice), dtype=np.int8)


# --------------------------------------------------------------------------------------------
# Rounding and comparison with limits
# --------------------------------------------------------------------------------------------


def concentration_decimals(indicator: str) -> int:
    """Published decimals of an indicator's concentration: 0 (µg/m³), CO 1 (mg/m³)."""
    decimals: int = _hj663()["rounding"]["concentration_decimals"][indicator.split("_", 1)[0]]
    return decimals


def publish(indicator: str, values: ArrayLike) -> NDArray[np.float64]:
    """Round concentrations of ``indicator`` as published, per GB/T 8170 (half to even)."""
    return round_half_even(values, concentration_decimals(indicator))


def exceeds(
    indicator: str, values: ArrayLike, limits: ArrayLike, comparison: Comparison = "rounded"
) -> NDArray[np.bool_]:
    """Whether each value exceeds its limit (False where the value is NaN).

    ``"rounded"``: the published value (GB/T 8170 rounding, :func:`publish`) is greater than
    the limit (修约值比较法). ``"full"``: the unrounded value, to 10⁻⁶ of its unit, is greater
    (全数值比较法, GB/T 8170 §4.3). Equal to the limit is compliant in both.
    """
    if comparison == "rounded":
        compared = to_micro(publish(indicator, values))
    elif comparison == "full":
        compared = to_micro(values)
    else:
        raise ValueError(f"comparison must be 'rounded' or 'full', got {comparison!r}")
    with np.errstate(invalid="ignore"):
        return np.asarray(compared > to_micro(limits), dtype=np.bool_)


# --------------------------------------------------------------------------------------------
# Daily values from a (days × 24 hours) array
# --------------------------------------------------------------------------------------------


def daily_mean(hours: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """24-h mean of each day and its count of hourly values.

    GB 3095 §3 (日平均: mean of the hourly averages of a natural day) and Table 4: a daily
    mean needs at least 20 hourly values; with fewer it is NaN.

    Parameters
    ----------
    hours : ndarray, shape (days, 24)
        Hourly values, NaN where missing. [µg/m³; CO mg/m³]

    Returns
    -------
    mean : ndarray, shape (days,)
    count : ndarray of int, shape (days,)
        Hourly values present.
    """
    present = ~np.isnan(hours)
    count = present.sum(axis=1)
    total = np.where(present, hours, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= validity_rule("hourly_values_per_day"), mean, np.nan), count


def daily_max_1h(hours: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """O3 daily maximum 1-h value and the day's count of hourly values.

    HJ 633—2012 Table 3 (O3 日最大1小时平均). No source states a validity rule for it; the
    day's hourly values must meet the daily rule of GB 3095 Table 4 (≥ 20), else NaN.
    """
    count = (~np.isnan(hours)).sum(axis=1)
    maximum = np.fmax.reduce(hours, axis=1)
    return np.where(count >= validity_rule("hourly_values_per_day"), maximum, np.nan), count


def eight_hour_means(hours: NDArray[np.float64]) -> NDArray[np.float64]:
    """The 17 8-h moving averages of each day, starting at 00:00 … 16:00 (NaN if invalid).

    GB 3095—2026 §3 (8小时平均: mean of 8 consecutive hourly averages) and Table 4 (≥ 6 hourly
    values in the 8 hours). The windows are those labelled 08:00 … 24:00 by their end hour
    (HJ 663 §6.1.2 as cited; air.md §9.1); none reaches into the previous or the next day.

    Parameters
    ----------
    hours : ndarray, shape (days, 24)
        Hourly O3, NaN where missing. [µg/m³]

    Returns
    -------
    ndarray, shape (days, 17)
    """
    width = int(_hj663()["mda8"]["hours_per_window"])
    present = ~np.isnan(hours)
    count = _window_sums(present.astype(np.int64), width)
    total = _window_sums(np.where(present, hours, 0.0), width)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= validity_rule("hourly_values_per_8h"), mean, np.nan)


def _window_sums(values: NDArray[Any], width: int) -> NDArray[Any]:
    """Sums of ``width`` consecutive columns, by differences of a cumulative sum per row."""
    cumulative = np.zeros((values.shape[0], values.shape[1] + 1), dtype=values.dtype)
    np.cumsum(values, axis=1, out=cumulative[:, 1:])
    return cumulative[:, width:] - cumulative[:, :-width]


def daily_max_8h(
    hours: NDArray[np.float64], limits: ArrayLike, comparison: Comparison = "rounded"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """O3 daily maximum 8-h average (MDA8) and its count of valid windows.

    The maximum of :func:`eight_hour_means` over the 17 windows of the day. Valid with at least
    14 valid windows; with fewer, valid only when it exceeds the day's O3 8-h limit (HJ 663
    §6.1.2 as cited by R1; air.md §9.1) — a short day can be an exceedance day, never a clean one.

    Parameters
    ----------
    hours : ndarray, shape (days, 24)
        Hourly O3. [µg/m³]
    limits : array-like, shape (days,)
        O3 8-h limit of each day (its GB 3095 limit set and the station's class). [µg/m³]
    comparison : {"rounded", "full"}
        How "exceeds" is judged (:func:`exceeds`).
    """
    means = eight_hour_means(hours)
    windows = (~np.isnan(means)).sum(axis=1)
    maximum = np.fmax.reduce(means, axis=1)
    enough = windows >= int(_hj663()["mda8"]["valid_windows_per_day"])
    valid = enough | exceeds("o3_8h", maximum, limits, comparison)
    return np.where(valid, maximum, np.nan), windows


# --------------------------------------------------------------------------------------------
# Percentiles and annual validity
# --------------------------------------------------------------------------------------------


def grouped_percentile(
    groups: NDArray[np.int64], values: NDArray[np.float64], p: float, n_groups: int
) -> NDArray[np.float64]:
    """HJ 663 percentile of the values of each group (NaN values ignored; NaN for no values).

    HJ 663—2013 Appendix A: sort ascending, k = 1 + (n − 1)·p/100, s = ⌊k⌋,
    m_p = X(s) + (X(s+1) − X(s))·(k − s) — numpy's ``method="linear"`` (air.md §2.2).

    Parameters
    ----------
    groups : ndarray of int, shape (n,)
        Group of each value, 0 … n_groups − 1.
    values : ndarray, shape (n,)
    p : float
        Percentile, 0 … 100.
    n_groups : int
    """
    if not 0 <= p <= 100:
        raise ValueError(f"p must be between 0 and 100, got {p}")
    keep = ~np.isnan(values)
    group, value = groups[keep], values[keep]
    order = np.lexsort((value, group))
    value = value[order]
    count = np.bincount(group, minlength=n_groups)
    start = np.cumsum(count) - count
    result = np.full(n_groups, np.nan)
    has = count > 0
    n, first = count[has], start[has]
    rank = (n - 1) * p  # (k − 1)·100, exact for integer p
    s = np.floor(rank / 100).astype(np.int64)  # s − 1: zero-based index of X(s)
    fraction = (rank - 100 * s) / 100
    lower = value[first + s]
    upper = value[first + np.minimum(s + 1, n - 1)]
    result[has] = lower + (upper - lower) * fraction
    return result


def percentile(values: ArrayLike, p: float) -> float:
    """HJ 663 percentile of one set of values (see :func:`grouped_percentile`)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return float(grouped_percentile(np.zeros(array.size, np.int64), array, p, 1)[0])


def month_minimum(months: ArrayLike) -> NDArray[np.int64]:
    """Daily values each month (1–12) needs for an annual statistic: 27, February 25.

    GB 3095 Table 4 (annual mean row); applied to every annual statistic (air.md §9.2).
    """
    month = np.asarray(months)
    return np.where(
        month == 2,
        validity_rule("daily_values_per_february"),
        validity_rule("daily_values_per_month"),
    ).astype(np.int64)


def annual_valid(days_valid: ArrayLike, days_per_month: ArrayLike) -> NDArray[np.bool_]:
    """Whether a year's daily values suffice: ≥ 324 in the year, ≥ 27 each month (Feb 25).

    Parameters
    ----------
    days_valid : array-like of int, shape (years,)
    days_per_month : array-like of int, shape (years, 12)
        Valid daily values in January … December.
    """
    per_month = np.asarray(days_per_month)
    enough_months = (per_month >= month_minimum(np.arange(1, 13))).all(axis=-1)
    return (np.asarray(days_valid) >= validity_rule("daily_values_per_year")) & enough_months


def good_day_ratio(good_days: ArrayLike, valid_days: ArrayLike) -> NDArray[np.float64]:
    """优良天数比例 [%]: good days (AQI ≤ 100) ÷ valid AQI days × 100, rounded to 0.1 %.

    HJ 663 (air.md §2.4, §9.6: 27 of 29 → 93.1 %). NaN when there is no valid day.
    """
    good = np.asarray(good_days, dtype=np.float64)
    valid = np.asarray(valid_days, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(valid > 0, good * 100.0 / valid, np.nan)
    return round_half_even(ratio, int(_hj663()["rounding"]["ratio_percent_decimals"]))


# --------------------------------------------------------------------------------------------
# Composite index
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompositeIndex:
    """综合指数 of each row, with its single indices and primary pollutant(s)."""

    value: NDArray[np.float64]
    """Σ w_i·I_i rounded to 0.01 (NaN when a term is missing)."""
    single: dict[str, NDArray[np.float64]]
    """I_i = C_i / S_i per pollutant, unrounded and unweighted."""
    primary: NDArray[Any]
    """Pollutant(s) with the largest I_i, joined with ``;`` (None when the index is NaN)."""


def composite_terms() -> list[dict[str, str]]:
    """The six terms of the composite index: pollutant, statistic and GB 3095 limit key."""
    terms: list[dict[str, str]] = _hj663()["composite_index"]["terms"]
    return terms


def composite_index(
    statistics: Mapping[str, ArrayLike],
    limit_set: NDArray[np.int8],
    weights: Mapping[str, float] | None = None,
) -> CompositeIndex:
    """环境空气质量综合指数: I_sum = Σ w_i · C_i / S_i.

    C_i: the published (rounded) annual means of SO2, NO2, PM10, PM2.5, the CO 24-h P95 and
    the O3 MDA8 P90; S_i: the Class II limits (annual for the four, CO 24-h, O3 8-h) of each
    row's limit set. 城市环境空气质量排名技术规定 (环办〔2014〕64号); air.md §2.5, §9.4.
    The unweighted form (all w = 1) is the default; weights (e.g. PM2.5 3, NO2 2, O3 2, an
    UNVERIFIED reading of HJ 663—2026) are configuration, by pollutant name.

    Parameters
    ----------
    statistics : mapping of statistic name to array
        ``so2_annual_mean, no2_annual_mean, pm10_annual_mean, pm25_annual_mean, co_24h_p95,
        o3_8h_max_p90``. [µg/m³; CO mg/m³]
    limit_set : ndarray of int8
        Index into :data:`LIMIT_SETS` per row.
    weights : mapping of pollutant to weight, optional
        ``{"PM2.5": 3, "NO2": 2, "O3": 2}``; pollutants not named weigh 1.
    """
    weights = dict(weights or {})
    names = [term["pollutant"] for term in composite_terms()]
    unknown = set(weights) - set(names)
    if unknown:
        raise ValueError(f"unknown pollutant(s) in weights: {', '.join(sorted(unknown))}")
    class_two = np.zeros(len(limit_set), dtype=np.bool_)
    single: dict[str, NDArray[np.float64]] = {}
    total = np.zeros(len(limit_set))
    for term in composite_terms():
        concentration = np.asarray(statistics[term["statistic"]], dtype=np.float64)
        index = concentration / limits_for(term["limit"], limit_set, class_two)
        single[term["pollutant"]] = index
        total = total + weights.get(term["pollutant"], 1.0) * index
    decimals = int(_hj663()["rounding"]["composite_index_decimals"])
    stacked = np.vstack(list(single.values()))
    largest = np.fmax.reduce(stacked, axis=0)
    with np.errstate(invalid="ignore"):
        is_primary = {name: (index == largest) & ~np.isnan(total) for name, index in single.items()}
    return CompositeIndex(
        value=round_half_even(total, decimals),
        single=single,
        primary=_join_names(is_primary, len(limit_set)),
    )


def _join_names(masks: Mapping[Any, NDArray[np.bool_]], n: int) -> NDArray[Any]:
    """Per row, the names whose mask is true joined with ``;`` (None when none is)."""
    names = list(masks)
    bits = np.zeros(n, dtype=np.int64)
    for position, name in enumerate(names):
        bits |= masks[name].astype(np.int64) << position
    lookup = np.array(
        [
            ";".join(name for position, name in enumerate(names) if combo >> position & 1) or None
            for combo in range(1 << len(names))
        ],
        dtype=object,
    )
    return np.asarray(lookup[bits])


# --------------------------------------------------------------------------------------------
# From an hourly table to daily and annual tables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Daily and annual results, one row per station-day and per station-year."""

    daily: pl.DataFrame
    annual: pl.DataFrame
    daily_values: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    """Unrounded daily values per indicator (NaN where invalid), row-aligned with ``daily``:
    statistics over other periods (a month) are taken from these and published once
    (GB/T 8170 §3.4 forbids successive rounding)."""


@dataclass(frozen=True)
class _Days:
    """Every calendar day from each station's first to last day, in station-date order."""

    frame: pl.DataFrame
    """Columns ``station, date, class`` — one row per day."""
    hourly_slot: NDArray[np.int64]
    """For each input row, its position day × 24 + hour in the dense (days × 24) layout."""

    @property
    def count(self) -> int:
        return self.frame.height


def _station_days(hourly: pl.DataFrame, default_class: AreaClass) -> _Days:
    frame = hourly.select(
        "station",
        pl.col("time").dt.date().alias("date"),
        pl.col("time").dt.hour().cast(pl.Int64).alias("hour"),
        (pl.col("class") if "class" in hourly.columns else pl.lit(None, pl.String)).alias("class"),
    )
    spans = (
        frame.group_by("station")
        .agg(
            pl.col("date").min().alias("first"),
            pl.col("date").max().alias("last"),
            pl.col("class").drop_nulls().unique().alias("classes"),
        )
        .sort("station")
    )
    if (spans["classes"].list.len() > 1).any():
        raise ValueError("a station has more than one class; give each station one class")
    unknown = ~spans["classes"].list.eval(pl.element().is_in(["I", "II"])).list.all()
    if unknown.any():
        raise ValueError("class must be 'I' or 'II'")
    spans = spans.with_columns(
        pl.col("classes").list.first().fill_null(default_class).alias("class"),
        ((pl.col("last") - pl.col("first")).dt.total_days() + 1).alias("days"),
    ).with_columns((pl.col("days").cum_sum() - pl.col("days")).alias("offset"))
    located = frame.join(spans.select("station", "first", "offset"), on="station", how="left")
    day = located["offset"] + (located["date"] - located["first"]).dt.total_days()
    slot = (day * HOURS_PER_DAY + located["hour"]).to_numpy()
    if np.bincount(slot).max() > 1:
        raise ValueError("a station has two rows for the same hour")
    days = (
        spans.select(
            "station",
            "class",
            pl.date_ranges("first", "last", interval="1d").alias("date"),
        )
        .explode("date")
        .select("station", "date", "class")
    )
    return _Days(frame=days, hourly_slot=slot)


def _dense(values: NDArray[np.float64], days: _Days) -> NDArray[np.float64]:
    """Hourly values laid out as (days × 24), NaN where no value was given."""
    dense = np.full(days.count * HOURS_PER_DAY, np.nan)
    dense[days.hourly_slot] = values
    return dense.reshape(days.count, HOURS_PER_DAY)


def _check_hourly(hourly: pl.DataFrame) -> None:
    for column in ("station", "time"):
        if column not in hourly.columns:
            raise ValueError(f"the hourly table needs a {column!r} column")
    if hourly["station"].null_count() or hourly["time"].null_count():
        raise ValueError("every row needs a station and a time")
    time = hourly["time"]
    if not ((time.dt.minute() == 0) & (time.dt.second() == 0) & (time.dt.nanosecond() == 0)).all():
        raise ValueError("times must be the start of an hour (HH:00:00)")
    for column in HOURLY_COLUMNS:
        if column in hourly.columns and (hourly[column] < 0).any():
            raise ValueError(f"{column}: concentrations must not be negative")


def _hourly_values(hourly: pl.DataFrame, column: str) -> NDArray[np.float64]:
    if column not in hourly.columns:
        return np.full(hourly.height, np.nan)
    return np.asarray(hourly[column].cast(pl.Float64).to_numpy(), dtype=np.float64)


def _nullable(values: NDArray[np.float64], name: str, integer: bool = False) -> pl.Series:
    series = pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)
    return series.cast(pl.Int64) if integer else series


def _nullable_bool(values: NDArray[np.bool_], known: NDArray[np.bool_], name: str) -> pl.Series:
    """Booleans with null where the underlying value is unknown (NA)."""
    return pl.select(pl.when(pl.Series(known)).then(pl.Series(values)).alias(name)).to_series()


def _published_series(indicator: str, values: NDArray[np.float64], name: str) -> pl.Series:
    integer = concentration_decimals(indicator) == 0
    return _nullable(publish(indicator, values), name, integer=integer)


def _limit_series(indicator: str, values: NDArray[np.float64], name: str) -> pl.Series:
    return _nullable(values, name, integer=concentration_decimals(indicator) == 0)


def _labels(limit_set: NDArray[np.int8], area_class: pl.Series) -> pl.Series:
    """``"<edition and phase>, Class <I|II>"`` per row, e.g. ``GB 3095—2012, Class II``."""
    labels = np.array([limit_label(name) for name in LIMIT_SETS], dtype=object)[limit_set]
    return (
        pl.DataFrame({"label": pl.Series(labels, dtype=pl.String), "class": area_class})
        .select(pl.format("{}, Class {}", "label", "class").alias("limits"))
        .to_series()
    )


@dataclass(frozen=True)
class _DailyValues:
    """Unrounded daily values (NaN where invalid) and counts, for the annual statistics."""

    values: dict[str, NDArray[np.float64]]
    aqi_valid: NDArray[np.bool_]
    good: NDArray[np.bool_]
    aqi_rules: NDArray[Any]


def _daily(
    hourly: pl.DataFrame,
    days: _Days,
    rules: aqi.Rules,
    limit_choice: LimitChoice,
    comparison: Comparison,
) -> tuple[pl.DataFrame, _DailyValues]:
    dates = days.frame["date"].to_numpy()
    limit_set = limit_set_for(dates, limit_choice)
    class_one = (days.frame["class"] == "I").to_numpy()
    values: dict[str, NDArray[np.float64]] = {}
    counts: dict[str, NDArray[np.int64]] = {}
    for indicator, column in DAILY_MEANS.items():
        hours = _dense(_hourly_values(hourly, column), days)
        values[indicator], counts[indicator] = daily_mean(hours)
    ozone = _dense(_hourly_values(hourly, "o3_1h"), days)
    values["o3_1h_max"], counts["o3_1h_max"] = daily_max_1h(ozone)
    o3_8h_limit = limits_for("o3_8h", limit_set, class_one)
    values["o3_8h_max"], counts["o3_8h_max"] = daily_max_8h(ozone, o3_8h_limit, comparison)

    columns: list[pl.Series] = [
        pl.Series("limit_set", np.array(LIMIT_SETS, dtype=object)[limit_set], dtype=pl.String),
        _labels(limit_set, days.frame["class"]),
        pl.Series("hours_expected", np.full(days.count, HOURS_PER_DAY)),
    ]
    for indicator in DAILY_INDICATORS:
        limits = limits_for(DAILY_LIMIT_KEY[indicator], limit_set, class_one)
        known = ~np.isnan(values[indicator])
        count_name = "windows" if indicator == "o3_8h_max" else "hours"
        columns += [
            _published_series(indicator, values[indicator], indicator),
            pl.Series(f"{indicator}_{count_name}", counts[indicator]),
            _limit_series(indicator, limits, f"{indicator}_limit"),
            _nullable_bool(
                exceeds(indicator, values[indicator], limits, comparison),
                known,
                f"{indicator}_exceeds",
            ),
        ]
        if indicator == "o3_8h_max":
            expected = np.full(days.count, _hj663()["mda8"]["window_starts"])
            columns.append(pl.Series("o3_8h_windows_expected", expected))
    daily = _with_daily_aqi(days.frame.with_columns(columns), rules)
    return daily, _DailyValues(
        values=values,
        aqi_valid=daily["aqi_valid_day"].to_numpy(),
        good=daily["good_day"].to_numpy(),
        aqi_rules=daily["aqi_rules"].to_numpy(),
    )


def _with_daily_aqi(daily: pl.DataFrame, rules: aqi.Rules) -> pl.DataFrame:
    """Add the HJ 633 daily report of each day (from the published values) and good days.

    A valid AQI day has an AQI from all indicators of the daily report, or an AQI above 100
    from those present (HJ 633—2026 §5.3.1, applied to both editions; air.md §9.6). A good day
    is a valid AQI day with AQI ≤ 100 (HJ 663; air.md §2.4).
    """
    report_input = daily.select(
        pl.col("date").cast(pl.Datetime("us")).alias("time"), *DAILY_INDICATORS
    )
    report = aqi.aqi_table(report_input, report="daily", rules=rules, time_column="time")
    added = report.drop(report_input.columns).rename({"rules": "aqi_rules", "notes": "aqi_notes"})
    aqi_value = added["aqi"]
    valid = aqi_value.is_not_null() & (added["missing_pollutants"].is_null() | (aqi_value > 100))
    good = valid & (aqi_value <= 100)
    added = added.with_columns(valid.alias("aqi_valid_day"), good.alias("good_day"))
    return daily.hstack(added)


@dataclass(frozen=True)
class _Years:
    """Station-years: contiguous runs of the station-date ordered days."""

    group: NDArray[np.int64]
    """Station-year of each day, 0 … count − 1."""
    month: NDArray[np.int64]
    """Month (1–12) of each day."""
    first: NDArray[np.int64]
    """Position of the first day of each station-year."""
    year: NDArray[np.int64]
    limit_set: NDArray[np.int8]
    area_class: pl.Series

    @property
    def count(self) -> int:
        return len(self.first)

    @property
    def class_one(self) -> NDArray[np.bool_]:
        return np.asarray((self.area_class == "I").to_numpy(), dtype=np.bool_)


def _station_years(days: _Days, limit_choice: LimitChoice) -> _Years:
    """Group the days by station and calendar year; a year's limits are those in force on its
    last day (31 December), unless ``limit_choice`` fixes them."""
    dates = days.frame["date"]
    day_year = dates.dt.year().to_numpy().astype(np.int64)
    station = days.frame["station"]
    new_group = np.ones(days.count, dtype=np.bool_)
    new_group[1:] = (station[1:] != station[:-1]).to_numpy() | (day_year[1:] != day_year[:-1])
    first = np.flatnonzero(new_group)
    year = day_year[first]
    year_end = (year - 1969).astype("datetime64[Y]").astype("datetime64[D]") - 1
    return _Years(
        group=np.cumsum(new_group) - 1,
        month=dates.dt.month().to_numpy().astype(np.int64),
        first=first,
        year=year,
        limit_set=limit_set_for(year_end, limit_choice),
        area_class=days.frame["class"].gather(first),
    )


def _annual(
    days: _Days,
    daily: _DailyValues,
    limit_choice: LimitChoice,
    weights: Mapping[str, float] | None,
    comparison: Comparison,
) -> pl.DataFrame:
    years = _station_years(days, limit_choice)
    leap = (years.year % 4 == 0) & ((years.year % 100 != 0) | (years.year % 400 == 0))
    columns: list[pl.Series] = [
        days.frame["station"].gather(years.first),
        pl.Series("year", years.year),
        years.area_class,
        pl.Series("limit_set", np.array(LIMIT_SETS, dtype=object)[years.limit_set], pl.String),
        _labels(years.limit_set, years.area_class),
        pl.Series("days_expected", np.where(leap, 366, 365)),
    ]
    valid_year: dict[str, NDArray[np.bool_]] = {}
    for indicator in ANNUAL_INDICATORS:
        coverage, valid_year[indicator] = _coverage_columns(indicator, years, daily)
        columns += coverage
    statistics, statistic_columns = _statistic_columns(years, daily, valid_year, comparison)
    columns += statistic_columns
    columns += _good_day_columns(years, daily)
    columns += _composite_columns(statistics, valid_year, years.limit_set, weights)
    return pl.DataFrame(columns)


def _coverage_columns(
    indicator: str, years: _Years, daily: _DailyValues
) -> tuple[list[pl.Series], NDArray[np.bool_]]:
    """Valid days in the year and months short of the GB 3095 Table 4 minimum."""
    present = ~np.isnan(daily.values[indicator])
    days_valid = np.bincount(years.group, weights=present, minlength=years.count)
    per_month = np.bincount(
        years.group * 12 + years.month - 1, weights=present, minlength=years.count * 12
    ).reshape(years.count, 12)
    valid = annual_valid(days_valid, per_month)
    return [
        pl.Series(f"{indicator}_days_valid", days_valid.astype(np.int64)),
        _short_months(per_month.astype(np.int64)).alias(f"{indicator}_months_short"),
        pl.Series(f"{indicator}_annual_valid", valid),
    ], valid


def _statistic_columns(
    years: _Years,
    daily: _DailyValues,
    valid_year: Mapping[str, NDArray[np.bool_]],
    comparison: Comparison,
) -> tuple[dict[str, NDArray[np.float64]], list[pl.Series]]:
    """Annual means and percentiles with their limits, exceedances and per-pollutant compliance.

    A statistic is always computed from the valid days; its exceedance (and the pollutant's
    compliance) is NA unless the year meets the annual validity rule (air.md §9.2).
    """
    statistics: dict[str, NDArray[np.float64]] = {}
    columns: list[pl.Series] = []
    outcomes: dict[str, list[tuple[NDArray[np.bool_], NDArray[np.bool_]]]] = {}
    for spec in _hj663()["annual_statistics"]:
        of: str = spec["daily"]
        value = _annual_statistic(years, daily.values[of], spec)
        statistics[spec["name"]] = publish(of, value)
        limits = limits_for(spec["limit"], years.limit_set, years.class_one)
        known = valid_year[of] & ~np.isnan(value)
        over = exceeds(of, value, limits, comparison)
        outcomes.setdefault(aqi.pollutant_of(of), []).append((over, known))
        columns += [
            _published_series(of, value, spec["name"]),
            _limit_series(of, limits, f"{spec['name']}_limit"),
            _nullable_bool(over, known, f"{spec['name']}_exceeds"),
        ]
    for pollutant, parts in outcomes.items():
        known = np.logical_and.reduce([k for _, k in parts])
        compliant = ~np.logical_or.reduce([over for over, _ in parts])
        name = pollutant.lower().replace(".", "") + "_compliant"
        columns.append(_nullable_bool(compliant, known, name))
    return statistics, columns


def _annual_statistic(
    years: _Years, values: NDArray[np.float64], spec: Mapping[str, Any]
) -> NDArray[np.float64]:
    """Annual mean or HJ 663 percentile (``spec`` from hj663.toml) of the valid daily values."""
    if spec["kind"] == "percentile":
        return grouped_percentile(years.group, values, float(spec["p"]), years.count)
    present = ~np.isnan(values)
    weights = np.where(present, values, 0.0)
    total = np.bincount(years.group, weights=weights, minlength=years.count)
    count = np.bincount(years.group, weights=present, minlength=years.count)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _short_months(per_month: NDArray[np.int64]) -> pl.Series:
    """Months (1–12) below the monthly minimum, joined with ``;`` (None when none).

    One entry per station-year (not per input row), so a comprehension is cheap here.
    """
    short = per_month < month_minimum(np.arange(1, 13))
    text = [";".join(str(m + 1) for m in np.flatnonzero(row)) or None for row in short]
    return pl.Series(text, dtype=pl.String)


def _good_day_columns(years: _Years, daily: _DailyValues) -> list[pl.Series]:
    """Valid AQI days, good days and their ratio; the HJ 633 editions of the daily AQIs."""

    def per_year(flags: NDArray[np.bool_]) -> NDArray[np.int64]:
        counts = np.bincount(years.group, weights=flags, minlength=years.count)
        return counts.astype(np.int64)

    valid = per_year(daily.aqi_valid)
    good = per_year(daily.good)
    editions = {edition: per_year(daily.aqi_rules == edition) > 0 for edition in aqi.EDITIONS}
    return [
        pl.Series("aqi_rules", _join_names(editions, years.count).tolist(), dtype=pl.String),
        pl.Series("aqi_valid_days", valid),
        pl.Series("good_days", good),
        _nullable(good_day_ratio(good, valid), "good_day_ratio"),
    ]


def _composite_columns(
    statistics: Mapping[str, NDArray[np.float64]],
    valid_year: Mapping[str, NDArray[np.bool_]],
    limit_set: NDArray[np.int8],
    weights: Mapping[str, float] | None,
) -> list[pl.Series]:
    index = composite_index(statistics, limit_set, weights)
    daily_of = {spec["name"]: spec["daily"] for spec in _hj663()["annual_statistics"]}
    all_valid = np.logical_and.reduce(
        [valid_year[daily_of[term["statistic"]]] for term in composite_terms()]
    )
    weight_text = ";".join(
        f"{term['pollutant']}={(weights or {}).get(term['pollutant'], 1):g}"
        for term in composite_terms()
    )
    class_two = pl.Series(np.full(len(limit_set), "II", dtype=object), dtype=pl.String)
    return [
        _nullable(index.value, "composite_index"),
        pl.Series("composite_primary_pollutants", index.primary.tolist(), dtype=pl.String),
        pl.Series("composite_index_valid", all_valid & ~np.isnan(index.value)),
        _labels(limit_set, class_two).alias("composite_limits"),
        pl.Series("composite_weights", np.full(len(limit_set), weight_text, dtype=object)),
    ]


def evaluate(
    hourly: pl.DataFrame,
    *,
    rules: aqi.Rules = "auto",
    limits: LimitChoice = "auto",
    default_class: AreaClass = "II",
    weights: Mapping[str, float] | None = None,
    comparison: Comparison = "rounded",
) -> Evaluation:
    """Evaluate hourly air data per station: daily values and AQI, annual statistics, compliance.

    Parameters
    ----------
    hourly : polars.DataFrame
        ``station`` (text), ``time`` (Datetime, start of the hour, local time), any of
        ``so2_1h, no2_1h, co_1h, o3_1h, pm10_1h, pm25_1h`` (null where missing; an absent
        column is missing throughout) [µg/m³; CO mg/m³], and optionally ``class`` ("I"/"II",
        one per station; null → ``default_class``). At most one row per station and hour.
    rules : {"auto", "2012", "2026"}
        HJ 633 edition of the daily AQI; ``auto`` by date (2026 from 2026-03-01).
    limits : {"auto", "2012", "2026-transitional", "2026-final"}
        GB 3095 limits; ``auto`` = in force on each day, and for a year on its last day.
    default_class : {"I", "II"}
        Class of stations without one.
    weights : mapping, optional
        Composite-index weights by pollutant (default unweighted).
    comparison : {"rounded", "full"}
        Whether limits are compared with published or unrounded values (:func:`exceeds`).

    Returns
    -------
    Evaluation
        ``daily``: one row per station and calendar day from its first to its last day;
        ``annual``: one row per station and calendar year. Column meanings are listed in
        ``docs/air-evaluation.md``.

    Raises
    ------
    ValueError
        On missing columns, a missing station or time, a time not at the start of an hour, two
        rows for one station-hour, a negative concentration, or an invalid class.
    """
    if hourly.height == 0:
        raise ValueError("the hourly table has no rows")
    if default_class not in ("I", "II"):
        raise ValueError(f"default_class must be 'I' or 'II', got {default_class!r}")
    _check_hourly(hourly)
    hourly = hourly.with_columns(pl.col("station").cast(pl.String))
    days = _station_days(hourly, default_class)
    daily_frame, daily_values = _daily(hourly, days, rules, limits, comparison)
    annual = _annual(days, daily_values, limits, weights, comparison)
    return Evaluation(daily=daily_frame, annual=annual, daily_values=daily_values.values)
