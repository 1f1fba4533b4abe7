"""Noise use-cases: the GB 3096 daily evaluation of hourly data and the HJ 640 grades.

Inputs are checked cell by cell before anything is computed; every bad cell is reported with
its file, row and column (:class:`~qingshan.services.tables.InputError`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from qingshan.services.tables import (
    FIRST_DATA_ROW,
    ProblemCollector,
    parse_numbers,
    parse_times,
    read_table,
    require_columns,
)
from qingshan.standards import noise
from qingshan.standards.rounding import round_half_even

HOURLY_COLUMNS = ("point", "zone", "time", "leq", "lmax")
HOURLY_REQUIRED = ("point", "zone", "time", "leq")
GRADE_COLUMNS = {
    "regional": ("point", "period", "leq"),
    "traffic": ("point", "period", "leq", "length"),
}

MAX_LEVEL_DB = 140.0
"""Highest plausible environmental sound level; a larger value is a unit or typing error.
(140 dB is the upper end of class-1 sound level meters and far above any ambient level.)"""

PERIOD_NAMES = {
    "day": "day",
    "昼间": "day",
    "昼": "day",
    "night": "night",
    "夜间": "night",
    "夜": "night",
}
"""Accepted spellings of the period column of the grade input."""

DAILY_COLUMNS = (
    "point",
    "zone",
    "date",
    "ld",
    "ln",
    "ldn",
    "day_limit",
    "night_limit",
    "day_exceed_db",
    "night_exceed_db",
    "day_ok",
    "night_ok",
    "night_lmax",
    "lmax_ok",
    "day_hours",
    "night_hours",
)


# --------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------


def _check_shape(
    frame: pl.DataFrame,
    allowed: tuple[str, ...],
    required: tuple[str, ...],
    problems: ProblemCollector,
) -> None:
    """Every column known, every required column present, and at least one data row."""
    for column in frame.columns:
        if column not in allowed:
            problems.add(f"unknown column; expected {', '.join(allowed)}", row=1, column=column)
    require_columns(frame, required, problems)
    if frame.is_empty():
        problems.add("the file has no data rows")
    problems.raise_if_any()


def _text(frame: pl.DataFrame, column: str) -> pl.Series:
    """Cells of ``column`` as stripped text, empty cells as null."""
    text = frame[column].cast(pl.String).str.strip_chars()
    return frame.select(pl.when(text == "").then(None).otherwise(text).alias(column)).to_series()


def _require_text(frame: pl.DataFrame, column: str, problems: ProblemCollector) -> pl.Series:
    text = _text(frame, column)
    problems.check(frame, text.is_null(), column, f"a {column} is required")
    return text


def _levels(
    frame: pl.DataFrame, columns: tuple[str, ...], problems: ProblemCollector
) -> pl.DataFrame:
    return parse_numbers(frame, columns, problems, minimum=0.0, maximum=MAX_LEVEL_DB, what="level")


def _repeated(
    frame: pl.DataFrame,
    keys: tuple[str, str],
    column: str,
    what: pl.Expr,
    problems: ProblemCollector,
) -> None:
    """Record every row whose ``keys`` repeat another row's, naming all the rows involved.

    ``what`` describes the repeated key in the message (``point A, hour 2025-01-01 22:00``).
    """
    keyed = frame.select(*keys).with_row_index("_row")
    repeats = (
        keyed.group_by(*keys)
        .agg(
            (pl.col("_row") + FIRST_DATA_ROW).sort().cast(pl.String).str.join(", ").alias("_rows"),
            pl.len().alias("_n"),
        )
        .filter(pl.col("_n") > 1)
    )
    if repeats.is_empty():
        return
    marked = keyed.join(repeats, on=list(keys), how="left", maintain_order="left")
    report = marked.select(
        pl.format("{} appears more than once (rows {})", what, pl.col("_rows")).alias(column)
    )
    problems.check(report, marked["_rows"].is_not_null(), column, "{value}")


# --------------------------------------------------------------------------------------------
# Hourly data → one row per point and date (GB 3096—2008)
# --------------------------------------------------------------------------------------------


def _zone_codes(frame: pl.DataFrame, problems: ProblemCollector) -> pl.Series:
    """Zone classes spelled ``0 1 2 3 4a 4b`` (case-insensitive, ``类`` suffix accepted)."""
    text = _require_text(frame, "zone", problems)
    codes = text.str.to_lowercase().str.strip_suffix("类").str.strip_chars()
    known = list(noise.zones())
    unknown = codes.is_not_null() & ~codes.is_in(known)
    problems.check(
        frame, unknown, "zone", "unknown zone {value!r}; GB 3096 Table 1 has " + ", ".join(known)
    )
    return codes


def load_hourly(path: str | Path) -> pl.DataFrame:
    """Read and check hourly noise data; raise :class:`InputError` naming every bad cell.

    Returns columns ``point`` (text), ``zone`` (``0``…``4b``), ``time`` (datetime, start of
    the hour), ``leq`` and ``lmax`` (Float64, null where missing; ``lmax`` all null when the
    file has no such column).
    """
    frame = read_table(path)
    problems = ProblemCollector(path)
    _check_shape(frame, HOURLY_COLUMNS, HOURLY_REQUIRED, problems)
    level_columns = tuple(c for c in ("leq", "lmax") if c in frame.columns)
    parsed = _levels(frame, level_columns, problems)
    parsed = parse_times(parsed, "time", problems)
    parsed = parsed.with_columns(
        _require_text(frame, "point", problems), _zone_codes(frame, problems)
    )
    if "lmax" not in parsed.columns:
        parsed = parsed.with_columns(pl.lit(None, dtype=pl.Float64).alias("lmax"))
    off_hour = (parsed["time"].dt.truncate("1h") != parsed["time"]).fill_null(False)
    problems.check(frame, off_hour, "time", "{value!r} is not the start of an hour")
    below = (parsed["lmax"] < parsed["leq"]).fill_null(False)
    problems.check(frame, below, "lmax", "Lmax {value} is below the hour's Leq")
    problems.raise_if_any()

    hour = pl.format("point {}, hour {}", "point", pl.col("time").dt.strftime("%Y-%m-%d %H:%M"))
    _repeated(parsed, ("point", "time"), "time", hour, problems)
    problems.raise_if_any()
    _check_one_zone_per_date(parsed, problems)
    problems.raise_if_any()
    return parsed.select(HOURLY_COLUMNS)


def _check_one_zone_per_date(parsed: pl.DataFrame, problems: ProblemCollector) -> None:
    """A point keeps one zone through each evaluation date (its day and the night after it)."""
    dates, _ = noise.hour_periods(parsed["time"].to_numpy())
    group = ("point", "_date")
    first = (
        parsed.with_columns(pl.Series("_date", dates))
        .with_row_index("_row")
        .select(
            pl.col("zone"),
            pl.col("zone").first().over(group).alias("_zone"),
            (pl.col("_row").first().over(group) + FIRST_DATA_ROW).alias("_first_row"),
            pl.col("_date"),
        )
    )
    report = first.select(
        pl.format(
            "zone {} differs from zone {} of the same point in row {} "
            "(same evaluation date {}, 06:00 to 06:00)",
            "zone",
            "_zone",
            "_first_row",
            "_date",
        ).alias("zone")
    )
    problems.check(report, first["zone"] != first["_zone"], "zone", "{value}")


def _point_chunks(frame: pl.DataFrame, chunk_rows: int) -> Iterator[pl.DataFrame]:
    """Slices of whole points with about ``chunk_rows`` rows each (a point is never split)."""
    parts: list[pl.DataFrame] = []
    rows = 0
    for part in frame.partition_by("point", maintain_order=True):
        parts.append(part)
        rows += part.height
        if rows >= chunk_rows:
            yield pl.concat(parts)
            parts, rows = [], 0
    if parts:
        yield pl.concat(parts)


def _daily_frame(result: noise.DailyNoise) -> pl.DataFrame:
    def levels(name: str, values: np.ndarray[Any, Any]) -> pl.Series:
        return pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)

    def flags(name: str, assessment: noise.Assessment) -> pl.Series:
        series = pl.Series(name, assessment.ok, dtype=pl.Boolean)
        return (
            pl.select(pl.when(pl.Series(assessment.evaluated)).then(series).otherwise(None))
            .to_series()
            .alias(name)
        )

    return pl.DataFrame(
        [
            pl.Series("point", result.point.astype(str), dtype=pl.String),
            pl.Series("zone", result.zone.astype(str), dtype=pl.String),
            pl.Series("date", result.date, dtype=pl.Date),
            levels("ld", result.ld),
            levels("ln", result.ln),
            levels("ldn", result.ldn),
            pl.Series("day_limit", result.day_limit.astype(np.int64)),
            pl.Series("night_limit", result.night_limit.astype(np.int64)),
            levels("day_exceed_db", result.day.exceed_db),
            levels("night_exceed_db", result.night.exceed_db),
            flags("day_ok", result.day),
            flags("night_ok", result.night),
            levels("night_lmax", result.night_lmax),
            flags("lmax_ok", result.lmax),
            pl.Series("day_hours", result.day_hours),
            pl.Series("night_hours", result.night_hours),
        ]
    )


def evaluate_daily(
    frame: pl.DataFrame,
    chunk_rows: int,
    on_rows: Callable[[int], None] = lambda rows: None,
    min_day_hours: int = 1,
    min_night_hours: int = 1,
) -> pl.DataFrame:
    """One row per point and evaluation date (:func:`qingshan.standards.noise.daily_noise`).

    Works through whole points in chunks of about ``chunk_rows`` rows; ``on_rows`` is told the
    rows of each finished chunk (for a progress bar). Rows are ordered by point, then date.
    """
    parts = []
    for chunk in _point_chunks(frame, chunk_rows):
        result = noise.daily_noise(
            chunk["point"].to_numpy(),
            chunk["zone"].to_numpy(),
            chunk["time"].to_numpy(),
            chunk["leq"].to_numpy(),
            chunk["lmax"].to_numpy(),
            min_day_hours=min_day_hours,
            min_night_hours=min_night_hours,
        )
        parts.append(_daily_frame(result))
        on_rows(chunk.height)
    return pl.concat(parts).sort("point", "date", maintain_order=True)


def _rate(flags: pl.Series) -> dict[str, Any]:
    rate = noise.Rate(compliant=int(flags.sum()), evaluated=int(flags.count()))
    percent = rate.percent
    return {
        "compliant": rate.compliant,
        "evaluated": rate.evaluated,
        "rate_percent": None if percent is None else round(percent, 1),
    }


def compliance_summary(daily: pl.DataFrame) -> dict[str, Any]:
    """Point-time compliance rates (HJ 640—2012 §6), day, night and night Lmax, per zone."""

    def rates(rows: pl.DataFrame) -> dict[str, Any]:
        return {
            "day": _rate(rows["day_ok"]),
            "night": _rate(rows["night_ok"]),
            "night_lmax": _rate(rows["lmax_ok"]),
        }

    by_zone = {
        zone: rates(daily.filter(pl.col("zone") == zone))
        for zone in noise.zones()
        if (daily["zone"] == zone).any()
    }
    return {**rates(daily), "by_zone": by_zone}


# --------------------------------------------------------------------------------------------
# HJ 640—2012 grades of regional and road-traffic noise
# --------------------------------------------------------------------------------------------


def load_grade_input(path: str | Path, kind: noise.GradeKind) -> pl.DataFrame:
    """Read and check point (or road-section) Leqs for the HJ 640 grades.

    Columns: ``point``, ``period`` (``day``/``night``, also 昼间/夜间), ``leq`` and, for road
    traffic, ``length`` (> 0, any unit). Each point may appear once per period.
    """
    frame = read_table(path)
    problems = ProblemCollector(path)
    columns = GRADE_COLUMNS[kind]
    _check_shape(frame, columns, columns, problems)
    parsed = _levels(frame, ("leq",), problems)
    problems.check(frame, parsed["leq"].is_null(), "leq", "a level is required")
    if kind == "traffic":
        parsed = parse_numbers(parsed, ("length",), problems, minimum=None, what="length")
        not_positive = (parsed["length"] <= 0).fill_null(True)
        problems.check(frame, not_positive, "length", "length {value!r} must be positive")
    period_text = _require_text(frame, "period", problems)
    period = period_text.str.to_lowercase().replace_strict(
        PERIOD_NAMES, default=None, return_dtype=pl.String
    )
    problems.check(
        frame,
        period_text.is_not_null() & period.is_null(),
        "period",
        "unknown period {value!r}; expected day or night (昼间/夜间)",
    )
    parsed = parsed.with_columns(_require_text(frame, "point", problems), period.alias("period"))
    problems.raise_if_any()
    what = pl.format("point {} in period {}", "point", "period")
    _repeated(parsed, ("period", "point"), "point", what, problems)
    problems.raise_if_any()
    return parsed.select(columns)


def grade_table(frame: pl.DataFrame, kind: noise.GradeKind) -> pl.DataFrame:
    """One row per period present: points, mean (0.1 dB), grade 1–5, its name and evaluation."""
    by_grade = {g.grade: g for g in noise.grades()}
    rows = []
    for period in ("day", "night"):
        part = frame.filter(pl.col("period") == period)
        if part.is_empty():
            continue
        levels = part["leq"].to_numpy()
        mean = (
            noise.traffic_mean(levels, part["length"].to_numpy())
            if kind == "traffic"
            else noise.regional_mean(levels)
        )
        level = int(noise.grade(mean, kind, period))
        row: dict[str, Any] = {"period": period, "points": part.height}
        if kind == "traffic":
            row["length"] = float(part["length"].sum())
        row["mean"] = float(round_half_even(mean, noise.LEVEL_DECIMALS))
        row |= {
            "grade": level,
            "grade_name": by_grade[level].name,
            "evaluation": by_grade[level].evaluation,
            "evaluation_en": by_grade[level].evaluation_en,
        }
        rows.append(row)
    return pl.DataFrame(rows)
