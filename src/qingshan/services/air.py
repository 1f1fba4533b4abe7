"""Air use-cases: the AQI report and the HJ 663 evaluation of a user's file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import polars as pl

from qingshan.services.tables import (
    ProblemCollector,
    parse_numbers,
    parse_times,
    read_table,
)
from qingshan.standards import aqi

INDICATOR_LIKE = re.compile(r"^(so2|no2|co|o3|pm10|pm25|pm2\.5|pm2_5|nox|tsp)(_|$)", re.IGNORECASE)
"""Column names that name a pollutant; such a column must be a known indicator of the report."""

OUTPUT_COLUMNS = (
    "aqi", "level", "category", "category_en", "color", "primary_pollutants",
    "exceedance_pollutants", "rules", "missing_pollutants", "above_scale_pollutants", "notes",
)


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
        if column in OUTPUT_COLUMNS or column.startswith("iaqi_"):
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
