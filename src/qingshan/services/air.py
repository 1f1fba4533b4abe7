"""Air use-cases: the AQI report and the HJ 663 evaluation of a user's file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from qingshan.services.tables import (
    InputError,
    ProblemCollector,
    parse_numbers,
    parse_times,
    read_table,
    require_columns,
    write_table,
)
from qingshan.standards import air_evaluation, aqi

INDICATOR_LIKE = re.compile(r"^(so2|no2|co|o3|pm10|pm25|pm2\.5|pm2_5|nox|tsp)(_|$)", re.IGNORECASE)
"""Column names that name a pollutant; such a column must be a known indicator of the report."""


def time_column_of(frame: pl.DataFrame) -> str | None:
    """The column holding each row's period start: ``time``, else ``date``."""
    return next((name for name in ("time", "date") if name in frame.columns), None)


def load_aqi_input(
    path: str | Path, report: aqi.Report, rules: aqi.Rules
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read and check an AQI input; raise :class:`InputError` naming every bad cell.

    Returns the table as read (its cells are what the output repeats) and the same table with
    the indicator and time columns parsed (what the calculation reads).
    """
    frame = read_table(path)
    original = frame
    problems = ProblemCollector(path)
    known = aqi.report_columns(report)
    for column in frame.columns:
        if INDICATOR_LIKE.match(column) and column not in known:
            problems.add(
                f"unknown indicator column for the {report} report; expected one of "
                + ", ".join(known),
                row=1,
                column=column,
            )
        if column in aqi.ADDED_COLUMNS or column.startswith("iaqi_"):
            problems.add("the output would overwrite this column; rename it", row=1, column=column)
    present = [column for column in known if column in frame.columns]
    if not present:
        problems.add(f"no indicator column found; expected some of {', '.join(known)}")
    time_column = time_column_of(frame)
    if rules == "auto" and time_column is None:
        problems.add("rules 'auto' needs a 'time' (or 'date') column to choose the edition", row=1)
    problems.raise_if_any()
    frame = parse_numbers(frame, present, problems, what="concentration")
    if time_column is not None:
        frame = parse_times(frame, time_column, problems, required=rules == "auto")
    problems.raise_if_any()
    return original, frame


def compute_aqi(
    original: pl.DataFrame,
    frame: pl.DataFrame,
    report: aqi.Report,
    rules: aqi.Rules,
    chunk_rows: int,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> pl.DataFrame:
    """Run :func:`qingshan.standards.aqi.aqi_table` over ``frame`` in chunks of rows.

    ``on_rows`` is told how many rows each finished chunk had (for a progress bar). The
    input's own cells are written back unchanged, so that ``8`` stays ``8`` and times keep
    the user's spelling.
    """
    time_column = time_column_of(frame) or "time"
    parts = []
    for offset in range(0, max(frame.height, 1), chunk_rows):
        chunk = frame.slice(offset, chunk_rows)
        parts.append(aqi.aqi_table(chunk, report=report, rules=rules, time_column=time_column))
        on_rows(chunk.height)
    result = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    return result.with_columns(original)


def count_by_category(result: pl.DataFrame) -> dict[str, int]:
    """Rows per AQI category (``NA`` for rows without an AQI), for summaries."""
    counts = result.group_by("category").len().sort("category")
    return {(row["category"] or "NA"): int(row["len"]) for row in counts.iter_rows(named=True)}


# --------------------------------------------------------------------------------------------
# Evaluation (HJ 663, GB 3095) of hourly data
# --------------------------------------------------------------------------------------------

EVALUATION_OUTPUTS = ("daily.csv", "annual.csv")
"""Files ``qingshan air evaluate`` writes into its output directory."""

CLASS_SPELLINGS = {
    "I": "I",
    "1": "I",
    "一类": "I",
    "一类区": "I",
    "II": "II",
    "2": "II",
    "二类": "II",
    "二类区": "II",
}
"""Accepted spellings of a station's area class (GB 3095 §4.1), case-insensitive."""


def load_hourly_input(path: str | Path) -> pl.DataFrame:
    """Read and check an hourly input for the evaluation; raise :class:`InputError` on any bad cell.

    Columns: ``station``, ``time`` (start of the hour), any of
    :data:`~qingshan.standards.air_evaluation.HOURLY_COLUMNS`, optionally ``class`` (I/II);
    other columns are ignored, except that a pollutant-like name must be a known hourly column.

    Returns the parsed table: station (text), time (datetime), class (I/II or null) and the
    concentration columns (Float64, null where missing).
    """
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, ("station", "time"), problems)
    known = air_evaluation.HOURLY_COLUMNS
    for column in frame.columns:
        if INDICATOR_LIKE.match(column) and column not in known:
            problems.add(
                "unknown indicator column for hourly evaluation data; expected one of "
                + ", ".join(known),
                row=1,
                column=column,
            )
    present = [column for column in known if column in frame.columns]
    if not present:
        problems.add(f"no hourly indicator column found; expected some of {', '.join(known)}")
    problems.raise_if_any()

    original = frame
    frame = parse_numbers(frame, present, problems, what="concentration")
    frame = parse_times(frame, "time", problems, required=True)
    frame = _parse_stations(frame, problems)
    frame = _parse_classes(frame, problems)
    problems.raise_if_any()
    _check_hours(original, frame, problems)
    problems.raise_if_any()
    optional = ["class"] if "class" in frame.columns else []
    return frame.select("station", "time", *optional, *present)


def _parse_stations(frame: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    station = frame["station"].cast(pl.String).str.strip_chars()
    problems.check(frame, station.is_null() | (station == ""), "station", "a station is required")
    return frame.with_columns(station.alias("station"))


def _parse_classes(frame: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    """Normalise ``class`` to I/II (empty → null, the default class applies)."""
    if "class" not in frame.columns:
        return frame
    text = frame["class"].cast(pl.String).str.strip_chars().str.to_uppercase()
    text = pl.select(pl.when(text != "").then(text)).to_series()
    parsed = text.replace_strict(CLASS_SPELLINGS, default=None, return_dtype=pl.String)
    problems.check(
        frame,
        text.is_not_null() & parsed.is_null(),
        "class",
        "{value!r} is not an area class; use I or II",
    )
    frame = frame.with_columns(parsed.alias("class"))
    station_class = pl.col("class").drop_nulls().first().over("station")
    mixed = frame.select(
        (pl.col("class").is_not_null() & (pl.col("class") != station_class)).alias("mixed")
    ).to_series()
    problems.check(frame, mixed, "class", "class {value} differs from this station's earlier rows")
    return frame


def _check_hours(original: pl.DataFrame, frame: pl.DataFrame, problems: ProblemCollector) -> None:
    """Every time is the start of an hour, and a station has at most one row per hour."""
    time = frame["time"]
    off_hour = (time.dt.minute() != 0) | (time.dt.second() != 0) | (time.dt.nanosecond() != 0)
    problems.check(original, off_hour, "time", "{value!r} is not the start of an hour (HH:00)")
    repeated = ~frame.select(pl.struct("station", "time").is_first_distinct()).to_series()
    problems.check(
        original, repeated, "time", "{value!r}: this station already has a row for this hour"
    )


def parse_weights(text: str | None) -> dict[str, float]:
    """Composite-index weights from ``"PM2.5=3,NO2=2,O3=2"`` (pollutants not named weigh 1).

    Raises
    ------
    ValueError
        On a malformed pair, an unknown pollutant or a weight that is not a positive number.
    """
    if not text:
        return {}
    names = [term["pollutant"] for term in air_evaluation.composite_terms()]
    weights: dict[str, float] = {}
    for pair in text.split(","):
        name, _, value = pair.partition("=")
        name = name.strip()
        if name not in names:
            raise ValueError(f"unknown pollutant {name!r}; use {', '.join(names)}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"weight of {name} must be a number, got {value.strip()!r}") from None
        if not weight > 0:
            raise ValueError(f"weight of {name} must be positive, got {weight:g}")
        weights[name] = weight
    return weights


def evaluate_hourly(
    frame: pl.DataFrame,
    *,
    rules: aqi.Rules = "auto",
    limits: air_evaluation.LimitChoice = "auto",
    default_class: air_evaluation.AreaClass = "II",
    weights: dict[str, float] | None = None,
    comparison: air_evaluation.Comparison = "rounded",
    chunk_rows: int = 100_000,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> air_evaluation.Evaluation:
    """Run :func:`qingshan.standards.air_evaluation.evaluate` station group by station group.

    Stations are independent, so the table is split at station boundaries into chunks of about
    ``chunk_rows`` rows; ``on_rows`` is told the rows of each finished chunk (progress bar).
    """
    frame = frame.sort("station", "time")
    per_station = frame.group_by("station", maintain_order=True).len()["len"].to_numpy()
    ends = np.cumsum(per_station)
    chunk_of_station = (ends - per_station) // max(chunk_rows, 1)
    boundaries = [*ends[np.flatnonzero(np.diff(chunk_of_station))], frame.height]
    results = []
    start = 0
    for end in boundaries:
        chunk = frame.slice(start, end - start)
        result = air_evaluation.evaluate(
            chunk,
            rules=rules,
            limits=limits,
            default_class=default_class,
            weights=weights,
            comparison=comparison,
        )
        results.append(result)
        on_rows(chunk.height)
        start = end
    return air_evaluation.Evaluation(
        daily=pl.concat([r.daily for r in results], how="vertical"),
        annual=pl.concat([r.annual for r in results], how="vertical"),
        daily_values={
            key: np.concatenate([r.daily_values[key] for r in results])
            for key in results[0].daily_values
        },
    )


def write_evaluation(result: air_evaluation.Evaluation, directory: str | Path) -> list[Path]:
    """Write ``daily.csv`` and ``annual.csv`` (utf-8-sig) into ``directory``; return the paths."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError.single(directory, "the output must be a directory")
    daily_name, annual_name = EVALUATION_OUTPUTS
    return [
        write_table(result.daily, directory / daily_name),
        write_table(result.annual, directory / annual_name),
    ]


def annual_summary(annual: pl.DataFrame) -> list[dict[str, object]]:
    """Per station-year: good-day ratio, composite index and pollutants not in compliance."""
    compliance = [column for column in annual.columns if column.endswith("_compliant")]
    rows = annual.select(
        "station",
        "year",
        "limits",
        "aqi_valid_days",
        "good_days",
        "good_day_ratio",
        "composite_index",
        *compliance,
    ).iter_rows(named=True)
    summary = []
    for row in rows:
        verdicts = {column.removesuffix("_compliant"): row.pop(column) for column in compliance}
        row["not_compliant"] = [name for name, ok in verdicts.items() if ok is False]
        row["not_assessed"] = [name for name, ok in verdicts.items() if ok is None]
        summary.append(row)
    return summary
