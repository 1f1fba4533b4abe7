"""Environmental noise (声环境) per GB 3096—2008 and HJ 640—2012.

Three layers, all vectorised over numpy arrays:

* Levels: :func:`leq` (energy average, optionally duration-weighted), :func:`grouped_leq`,
  :func:`ldn` and :func:`percentile_level` (L10, L50, L90).
* Functional-zone evaluation: :func:`zone_limits`, :func:`assess` (level against a limit),
  :func:`night_lmax_ok` (GB 3096—2008 §5.4), :func:`daily_noise` (one result per point and
  date from hourly Leqs) and :func:`compliance_rate` (per point-time, HJ 640—2012 §6).
* HJ 640—2012 grades: :func:`regional_mean`, :func:`traffic_mean` and :func:`grade`.

Decibels are never averaged arithmetically where the standards mean energy: Leq, Ld, Ln and Ldn
are energy means. The HJ 640 regional and road-traffic means, by contrast, are arithmetic and
length-weighted means of Leq values, as HJ 640 defines them.

Reported levels are rounded to 0.1 dB per GB/T 8170 (half to even), and limits are compared
with the rounded level, so a day Leq of 55.04 dB(A) in a 55 dB(A) zone complies.

Choices where the texts are silent are documented in ``docs/noise.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from qingshan.standards import reference
from qingshan.standards.rounding import round_half_even

GradeKind = Literal["regional", "traffic"]
Period = Literal["day", "night"]

LEVEL_DECIMALS = 1
"""Reported levels carry one decimal (0.1 dB)."""

_HOUR = np.timedelta64(1, "h")


def _gb3096() -> dict[str, Any]:
    return reference.load("gb3096")


# --------------------------------------------------------------------------------------------
# Levels
# --------------------------------------------------------------------------------------------


def _decibels(
    reference_level: NDArray[np.float64], ratio: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``reference_level + 10·lg(ratio)``, NaN where the ratio is not positive and finite."""
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = np.isfinite(ratio) & (ratio > 0)
        result = reference_level + 10.0 * np.log10(np.where(usable, ratio, 1.0))
    return np.asarray(np.where(usable, result, np.nan), dtype=np.float64)


def leq(
    levels: ArrayLike, durations: ArrayLike | None = None, axis: int = -1
) -> NDArray[np.float64]:
    """Equivalent continuous sound level: the energy mean of levels along ``axis``.

    Leq = 10·lg[Σ tᵢ·10^(0.1·Lᵢ) / Σ tᵢ]; with equal durations Leq = 10·lg[(1/n)·Σ 10^(0.1·Lᵢ)].
    NaN levels are left out (a missing hour); all-NaN gives NaN.

    The sum is taken relative to the largest level, so equal levels return that level exactly
    and levels up to any magnitude cannot overflow.

    Parameters
    ----------
    levels : array-like
        A-weighted sound levels. [dB(A)]
    durations : array-like, optional
        Length of the period of each level, broadcastable to ``levels``; equal when omitted.
        [any time unit]
    axis : int
        Axis along which to average.

    Returns
    -------
    numpy.ndarray of float64
        Leq with ``axis`` removed (a 0-d array for 1-d input). [dB(A)]

    References
    ----------
    GB 3096—2008 §3 (等效连续A声级, the integral definition); GB/T 14623—93 eq. (2) for
    equal-interval samples (Qingshan reference notes water_noise.md §3.2).
    """
    values = np.asarray(levels, dtype=np.float64)
    weights = (
        np.ones_like(values)
        if durations is None
        else np.broadcast_to(np.asarray(durations, dtype=np.float64), values.shape)
    )
    present = ~np.isnan(values)
    top = np.fmax.reduce(values, axis=axis, initial=-np.inf, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        energy = np.where(present, weights * 10.0 ** (0.1 * (values - top)), 0.0)
    total_weight = np.where(present, weights, 0.0).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = energy.sum(axis=axis) / total_weight
    return _decibels(np.squeeze(top, axis=axis), np.asarray(ratio))


def grouped_leq(levels: ArrayLike, groups: NDArray[np.intp], n_groups: int) -> NDArray[np.float64]:
    """Energy mean (:func:`leq`) of ``levels`` within each group; NaN levels are left out.

    Parameters
    ----------
    levels : array-like
        Levels, one per row. [dB(A)]
    groups : numpy.ndarray of int
        Group number of each row, 0 … ``n_groups`` − 1.
    n_groups : int
        Number of groups; a group without a level gets NaN.

    Returns
    -------
    numpy.ndarray of float64
        Leq of each group. [dB(A)]
    """
    values = np.asarray(levels, dtype=np.float64)
    top = np.full(n_groups, -np.inf)
    np.fmax.at(top, groups, values)
    present = ~np.isnan(values)
    energy = np.zeros_like(values)
    energy[present] = 10.0 ** (0.1 * (values[present] - top[groups[present]]))
    count = np.bincount(groups[present], minlength=n_groups).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.bincount(groups, weights=energy, minlength=n_groups) / count
    return _decibels(top, ratio)


def ldn(day_level: ArrayLike, night_level: ArrayLike) -> NDArray[np.float64]:
    """Day-night equivalent level (昼夜等效声级) with the 10 dB night penalty.

    Ldn = 10·lg{[16·10^(0.1·Ld) + 8·10^(0.1·(Ln + 10))] / 24}: 16 day hours (06–22) and
    8 night hours (22–06), night levels raised by 10 dB. NaN if either level is NaN.

    Not used for GB 3096 compliance, which judges Ld and Ln separately (HJ 640—2012 §6).

    Parameters
    ----------
    day_level, night_level : array-like
        Ld and Ln. [dB(A)]

    References
    ----------
    Textbook definition with the GB 3096—2008 §3 day and night (reference notes §3.2;
    VERIFIED-2 in substance).
    """
    periods = _gb3096()["periods"]
    day_hours, night_hours = float(periods["day_hours"]), float(periods["night_hours"])
    day = np.asarray(day_level, dtype=np.float64)
    night = np.asarray(night_level, dtype=np.float64) + 10.0
    top = np.maximum(day, night)
    ratio = (
        day_hours * 10.0 ** (0.1 * (day - top)) + night_hours * 10.0 ** (0.1 * (night - top))
    ) / (day_hours + night_hours)
    return _decibels(np.asarray(top, dtype=np.float64), np.asarray(ratio, dtype=np.float64))


def percentile_level(samples: ArrayLike, percent: int, axis: int = -1) -> NDArray[np.float64]:
    """Percentile level L_N: the level exceeded during ``percent`` % of the time.

    With n equal-interval samples sorted from loudest down, L_N is the ⌈n·N/100⌉-th: for 100
    samples L10, L50 and L90 are the 10th, 50th and 90th (nearest rank, no interpolation).
    NaN samples are left out; with none left the result is NaN.

    Parameters
    ----------
    samples : array-like
        Instantaneous A-weighted levels at equal intervals. [dB(A)]
    percent : int
        N, 1–99 (10, 50, 90 for the peak, median and background levels).
    axis : int
        Axis holding the samples.

    References
    ----------
    累积百分声级 L10/L50/L90 as used by GB 3096—2008 Appendix B and HJ 640—2012 §6
    (reference notes water_noise.md §3.2, textbook definition).
    """
    if not 1 <= percent <= 99:
        raise ValueError(f"percent must be between 1 and 99, got {percent}")
    values = np.moveaxis(np.asarray(samples, dtype=np.float64), axis, -1)
    if values.shape[-1] == 0:
        return np.full(values.shape[:-1], np.nan)
    ascending = np.sort(values, axis=-1)  # NaN sorts last
    count = (~np.isnan(ascending)).sum(axis=-1)
    rank_from_top = (count * percent + 99) // 100  # ⌈n·N/100⌉, exact in integers
    index = np.maximum(count - rank_from_top, 0)
    picked = np.take_along_axis(ascending, index[..., np.newaxis], axis=-1)[..., 0]
    return np.where(count > 0, picked, np.nan)


# --------------------------------------------------------------------------------------------
# GB 3096—2008 limits and compliance
# --------------------------------------------------------------------------------------------


@cache
def zones() -> tuple[str, ...]:
    """Zone classes of GB 3096—2008 §4 and Table 1: ``0, 1, 2, 3, 4a, 4b``."""
    return tuple(_gb3096()["zones"])


def zone_limits(zone_codes: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Day and night L_Aeq limits of each zone (GB 3096—2008 §5.1, Table 1).

    Parameters
    ----------
    zone_codes : array-like of str
        ``0``, ``1``, ``2``, ``3``, ``4a`` or ``4b``.

    Returns
    -------
    (day, night) : numpy.ndarray of float64
        Limits. [dB(A)]

    Raises
    ------
    ValueError
        On a zone that Table 1 does not have (``4`` alone is not a class: 4a or 4b).
    """
    index = _zone_index(zone_codes)
    table = _gb3096()["zones"]
    day = np.array([float(table[z]["day"]) for z in zones()])
    night = np.array([float(table[z]["night"]) for z in zones()])
    return day[index], night[index]


def _zone_index(zone_codes: ArrayLike) -> NDArray[np.intp]:
    codes = np.asarray(zone_codes, dtype=object)
    known = {zone: position for position, zone in enumerate(zones())}
    labels, inverse = _factorize(codes.reshape(-1), what="zone")
    unknown = [str(label) for label in labels if label not in known]
    if unknown:
        raise ValueError(f"unknown GB 3096 zone(s) {unknown}; expected one of {list(zones())}")
    position = np.array([known[label] for label in labels], dtype=np.intp)
    return position[inverse].reshape(codes.shape)


@dataclass(frozen=True)
class Assessment:
    """A level judged against a limit; ``evaluated`` is false where there was no level."""

    ok: NDArray[np.bool_]
    """Rounded level ≤ limit (only meaningful where ``evaluated``)."""
    exceed_db: NDArray[np.float64]
    """Rounded level − limit when above the limit, 0.0 when within it, NaN when not evaluated."""
    evaluated: NDArray[np.bool_]


def assess(level: ArrayLike, limit: ArrayLike) -> Assessment:
    """Judge equivalent levels against limits: compliant when the 0.1 dB level ≤ the limit.

    The exceedance is given in dB (ΔL = L − limit): sound levels get no exceedance multiple.
    A level exactly at the limit complies: Table 1 values are maxima (GB 3096—2008 §5.1).

    Parameters
    ----------
    level : array-like
        Ld, Ln or any equivalent level; NaN where there is none. [dB(A)]
    limit : array-like
        The limit of the zone and period. [dB(A)]

    References
    ----------
    GB 3096—2008 §5.1, Table 1; HJ 640—2012 §6 (Ld and Ln judged separately).
    """
    rounded = round_half_even(level, LEVEL_DECIMALS)
    limits = np.asarray(limit, dtype=np.float64)
    evaluated = ~np.isnan(rounded)
    with np.errstate(invalid="ignore"):
        tenths_over = np.rint(rounded * 10.0) - np.rint(limits * 10.0)
        exceed = np.where(evaluated, np.maximum(tenths_over, 0.0) / 10.0, np.nan)
        ok = evaluated & (tenths_over <= 0)
    return Assessment(ok=ok, exceed_db=exceed, evaluated=evaluated)


def night_lmax_ok(night_lmax: ArrayLike, night_limit: ArrayLike) -> Assessment:
    """Night sudden-noise rule: Lmax ≤ night limit + 15 dB(A); exactly +15 complies.

    Parameters
    ----------
    night_lmax : array-like
        Highest maximum level of the night; NaN where none was measured. [dB(A)]
    night_limit : array-like
        Night L_Aeq limit of the zone. [dB(A)]

    References
    ----------
    GB 3096—2008 §5.4: "各类声环境功能区夜间突发噪声，其最大声级超过环境噪声限值的幅度不得高于
    15 dB(A)".
    """
    allowance = float(_gb3096()["night_lmax"]["allowance_db"])
    return assess(night_lmax, np.asarray(night_limit, dtype=np.float64) + allowance)


# --------------------------------------------------------------------------------------------
# Day and night of each hour
# --------------------------------------------------------------------------------------------


def hour_periods(times: ArrayLike) -> tuple[NDArray[np.datetime64], NDArray[np.bool_]]:
    """The date each hour is evaluated under, and whether it is a night hour.

    Day is 06:00–22:00 and night 22:00–06:00 of the next day (GB 3096—2008 §3). A night belongs
    to the date on which it starts: the hours 22:00 of date D to 05:00 of D + 1 are D's night.
    Equivalently, the evaluation date is the calendar date of ``time − 6 h``.

    Parameters
    ----------
    times : array-like of datetime64
        Start of each hour, local time, timezone-naive.

    Returns
    -------
    (dates, is_night) : datetime64[D] and bool arrays
    """
    periods = _gb3096()["periods"]
    day_start = int(periods["day_start_hour"])
    night_start = int(periods["night_start_hour"])
    stamps = np.asarray(times).astype("datetime64[us]")
    hour = (stamps - stamps.astype("datetime64[D]")) // _HOUR
    is_night = (hour >= night_start) | (hour < day_start)
    dates = (stamps - day_start * _HOUR).astype("datetime64[D]")
    return dates, is_night


# --------------------------------------------------------------------------------------------
# Daily evaluation of hourly data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyNoise:
    """One result per point and evaluation date, ordered by point then date."""

    point: NDArray[Any]
    date: NDArray[np.datetime64]
    zone: NDArray[Any]
    ld: NDArray[np.float64]
    """Day equivalent level, 0.1 dB; NaN without day hours. [dB(A)]"""
    ln: NDArray[np.float64]
    """Night equivalent level, 0.1 dB; NaN without night hours. [dB(A)]"""
    ldn: NDArray[np.float64]
    """Day-night level, 0.1 dB, from the unrounded Ld and Ln. [dB(A)]"""
    day_hours: NDArray[np.int64]
    night_hours: NDArray[np.int64]
    night_lmax: NDArray[np.float64]
    """Highest hourly Lmax of the night, 0.1 dB; NaN without any. [dB(A)]"""
    day_limit: NDArray[np.float64]
    night_limit: NDArray[np.float64]
    day: Assessment
    night: Assessment
    lmax: Assessment


def _factorize(values: NDArray[Any], what: str) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Sorted distinct ``values`` (as text) and each value's position among them."""
    try:
        series = pl.Series(values, dtype=pl.String)
    except (TypeError, pl.exceptions.PolarsError):  # not text: numbers as labels
        series = pl.Series(np.asarray(values).astype(str))
    if series.null_count():
        raise ValueError(f"every value needs a {what}")
    labels = series.unique().sort()
    codes = labels.search_sorted(series).to_numpy().astype(np.intp)
    return labels.to_numpy(), codes


def _check_hours(point_code: NDArray[np.intp], stamps: NDArray[np.datetime64]) -> None:
    if (stamps != stamps.astype("datetime64[h]")).any():
        raise ValueError("every time must be the start of an hour")
    hour_code = (stamps - stamps.min()) // _HOUR
    key = np.sort(point_code * (int(hour_code.max()) + 1) + hour_code)
    if (np.diff(key) == 0).any():
        raise ValueError("a point has the same hour more than once")


def _group_rows(
    point_code: NDArray[np.intp], dates: NDArray[np.datetime64]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.datetime64]]:
    """Group number of each row by (point, date), and each group's point code and date."""
    first = dates.min()
    day_code = (dates - first).astype(np.int64)
    n_days = int(day_code.max()) + 1
    keys, groups = np.unique(point_code * n_days + day_code, return_inverse=True)
    return groups.reshape(-1), keys // n_days, first + (keys % n_days)


def _group_zone(zone_index: NDArray[np.intp], groups: NDArray[np.intp], n: int) -> NDArray[Any]:
    lowest = np.full(n, len(zones()), dtype=np.intp)
    highest = np.full(n, -1, dtype=np.intp)
    np.minimum.at(lowest, groups, zone_index)
    np.maximum.at(highest, groups, zone_index)
    if (lowest != highest).any():
        raise ValueError("a point has more than one zone on the same evaluation date")
    return np.array(zones(), dtype=object)[lowest]


def daily_noise(
    points: ArrayLike,
    zone_codes: ArrayLike,
    times: ArrayLike,
    leq_values: ArrayLike,
    lmax_values: ArrayLike | None = None,
    min_day_hours: int = 1,
    min_night_hours: int = 1,
) -> DailyNoise:
    """Evaluate hourly Leqs per point and date against GB 3096—2008.

    Ld and Ln are the energy means of the hourly Leqs of the day (06–22) and of the night that
    starts on the date (22–06); each is judged on its own against the zone's limit; the night's
    highest hourly Lmax is judged against limit + 15 dB(A).

    Parameters
    ----------
    points : array-like
        Monitoring point of each hour (labels are compared, and returned, as text).
    zone_codes : array-like of str
        Zone class of each hour (``0 1 2 3 4a 4b``); constant per point and date.
    times : array-like of datetime64
        Start of each hour, local time. Each point may have each hour once.
    leq_values : array-like
        Hourly equivalent level; NaN for a missing hour (not counted). [dB(A)]
    lmax_values : array-like, optional
        Hourly maximum level; NaN where not measured. [dB(A)]
    min_day_hours, min_night_hours : int
        Fewest hours a day or night needs for its compliance to be judged. The levels and hour
        counts are reported regardless.

    Returns
    -------
    DailyNoise

    Raises
    ------
    ValueError
        On a time that is not the start of an hour, a repeated hour, an unknown zone, or a
        point with two zones on one evaluation date.

    References
    ----------
    GB 3096—2008 §3 (day and night), §5.1 and Table 1 (limits), §5.4 (night Lmax);
    HJ 640—2012 §6 (hourly Leq, Ld and Ln judged separately).
    """
    point_array = np.asarray(points, dtype=object)
    stamps = np.asarray(times).astype("datetime64[us]")
    levels = np.asarray(leq_values, dtype=np.float64)
    maxima = (
        np.full(levels.shape, np.nan)
        if lmax_values is None
        else np.asarray(lmax_values, dtype=np.float64)
    )
    if not point_array.size:
        raise ValueError("no hourly values to evaluate")
    if np.isnat(stamps).any():
        raise ValueError("every hour needs a time")
    point_labels, point_code = _factorize(point_array, what="point")
    _check_hours(point_code, stamps)
    dates, is_night = hour_periods(stamps)
    groups, group_point, group_date = _group_rows(point_code, dates)
    n = group_point.size
    zone = _group_zone(_zone_index(zone_codes), groups, n)
    day_limit, night_limit = zone_limits(zone)

    day_levels = np.where(is_night, np.nan, levels)
    night_levels = np.where(is_night, levels, np.nan)
    ld_raw = grouped_leq(day_levels, groups, n)
    ln_raw = grouped_leq(night_levels, groups, n)
    day_hours = np.bincount(groups[~np.isnan(day_levels)], minlength=n).astype(np.int64)
    night_hours = np.bincount(groups[~np.isnan(night_levels)], minlength=n).astype(np.int64)
    night_lmax = np.full(n, np.nan)
    np.fmax.at(night_lmax, groups, np.where(is_night, maxima, np.nan))

    return DailyNoise(
        point=point_labels[group_point],
        date=group_date,
        zone=zone,
        ld=round_half_even(ld_raw, LEVEL_DECIMALS),
        ln=round_half_even(ln_raw, LEVEL_DECIMALS),
        ldn=round_half_even(ldn(ld_raw, ln_raw), LEVEL_DECIMALS),
        day_hours=day_hours,
        night_hours=night_hours,
        night_lmax=round_half_even(night_lmax, LEVEL_DECIMALS),
        day_limit=day_limit,
        night_limit=night_limit,
        day=assess(np.where(day_hours >= min_day_hours, ld_raw, np.nan), day_limit),
        night=assess(np.where(night_hours >= min_night_hours, ln_raw, np.nan), night_limit),
        lmax=night_lmax_ok(night_lmax, night_limit),
    )


@dataclass(frozen=True)
class Rate:
    """Compliance rate over point-times (点次)."""

    compliant: int
    evaluated: int

    @property
    def percent(self) -> float | None:
        """Compliant share in percent; None when nothing was evaluated."""
        return None if self.evaluated == 0 else 100.0 * self.compliant / self.evaluated


def compliance_rate(assessment: Assessment, mask: ArrayLike | None = None) -> Rate:
    """Point-time compliance rate: compliant point-times / evaluated point-times.

    Each point's day (or night) of each date is one point-time (点次); day and night are
    counted separately by calling this once with each :class:`Assessment`.

    Parameters
    ----------
    assessment : Assessment
        Day or night (or night-Lmax) judgements.
    mask : array-like of bool, optional
        Rows to count (for example the rows of one zone class); all when omitted.

    References
    ----------
    HJ 640—2012 §6 (functional-zone compliance counted per point-time, day and night
    separately; reference notes water_noise.md §4).
    """
    selected = (
        np.ones(assessment.ok.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    )
    counted = selected & assessment.evaluated
    return Rate(compliant=int((counted & assessment.ok).sum()), evaluated=int(counted.sum()))


# --------------------------------------------------------------------------------------------
# HJ 640—2012 grades of regional and road-traffic noise
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grade:
    """One of the five grades shared by the HJ 640—2012 regional and road-traffic tables."""

    grade: int
    name: str
    evaluation: str
    evaluation_en: str


def grades() -> tuple[Grade, ...]:
    """Grades 1–5 (一级 好 … 五级 差) of HJ 640—2012 §4 and §5."""
    return tuple(
        Grade(row["grade"], row["name"], row["evaluation"], row["evaluation_en"])
        for row in reference.load("hj640")["grades"]
    )


def regional_mean(levels: ArrayLike) -> float:
    """Regional environmental noise mean S̄ = (1/n)·Σ Lᵢ over the grid points (NaN left out).

    An arithmetic mean of the grid-point Leqs, as HJ 640—2012 §4 defines it (not an energy
    mean), computed separately for day and night.

    Parameters
    ----------
    levels : array-like
        Leq of each valid grid point for one period. [dB(A)]
    """
    values = np.asarray(levels, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def traffic_mean(levels: ArrayLike, lengths: ArrayLike) -> float:
    """Road-traffic noise mean L̄ = Σ lᵢ·Lᵢ / Σ lᵢ, weighted by road-section length.

    Parameters
    ----------
    levels : array-like
        Leq of each road section for one period (NaN left out). [dB(A)]
    lengths : array-like
        Length of each section, > 0. [any length unit]

    References
    ----------
    HJ 640—2012 §5 (reference notes water_noise.md §4; the exact formula is UNVERIFIED, the
    weighting by road length is stated).
    """
    values = np.asarray(levels, dtype=np.float64)
    weights = np.asarray(lengths, dtype=np.float64)
    if (weights <= 0).any():
        raise ValueError("road-section lengths must be positive")
    present = ~np.isnan(values)
    if not present.any():
        return float("nan")
    return float(np.average(values[present], weights=weights[present]))


def grade(mean: ArrayLike, kind: GradeKind, period: Period) -> NDArray[np.float64]:
    """HJ 640—2012 grade 1–5 of a regional or road-traffic mean (NaN where the mean is NaN).

    The mean is rounded to 0.1 dB (GB/T 8170) first; upper ends are inclusive (regional day:
    ≤ 50.0 is grade 1, 50.1 is grade 2); above the last breakpoint is grade 5.

    Parameters
    ----------
    mean : array-like
        S̄ (regional) or L̄ (road traffic). [dB(A)]
    kind : {"regional", "traffic"}
    period : {"day", "night"}

    References
    ----------
    HJ 640—2012 §4 (城市区域环境噪声总体水平等级划分) and §5 (道路交通噪声强度等级划分);
    day breakpoints VERIFIED-2, night breakpoints from two code files only (reference notes §4).
    """
    if kind not in ("regional", "traffic"):
        raise ValueError(f"kind must be 'regional' or 'traffic', got {kind!r}")
    if period not in ("day", "night"):
        raise ValueError(f"period must be 'day' or 'night', got {period!r}")
    upper = np.asarray(reference.load("hj640")[kind][f"{period}_upper"], dtype=np.float64)
    rounded = round_half_even(mean, LEVEL_DECIMALS)
    result = (np.searchsorted(upper, rounded, side="left") + 1).astype(np.float64)
    return np.where(np.isnan(rounded), np.nan, result)
