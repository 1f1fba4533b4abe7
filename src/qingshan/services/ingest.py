"""``qingshan ingest FILE``: readings from CSV, XLSX or Parquet into the store, all or nothing.

Two layouts, told apart by the header:

* long — columns ``site, parameter, time, value`` and optionally ``flag``;
* wide — columns ``site, time`` and one column per parameter (``pm25``, ``cod``…), each with an
  optional ``<parameter>_flag`` column; an empty cell is no reading.

``site`` is a site code, ``parameter`` a canonical key (``pm25``) or an HJ 212 code (``a34004``,
converted to the canonical unit). ``time`` is the start of the period in Beijing time
(``YYYY-MM-DD HH:MM[:SS]``), as HJ 212 labels minute, hour and day data; it must fall on a period
boundary. ``flag`` is one of N F M S D C T B (HJ 212—2017 Table 8) or Qingshan's X R; empty = N.

Every bad cell is reported with its row and column and nothing is stored; a file that passes is
stored in one transaction. Re-running the same file stores nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from qingshan.services.tables import (
    FIRST_DATA_ROW,
    MAX_REPORTED_PROBLEMS,
    MISSING_MARKERS,
    ProblemCollector,
    parse_numbers,
    parse_times,
    read_table,
    require_columns,
)
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.engine import reading, writing
from qingshan.store.models import FLAGS, PERIODS
from qingshan.store.readings import UpsertCounts, upsert_readings
from qingshan.store.registry import ParameterIndex, site_index

LONG_COLUMNS = ("site", "parameter", "time", "value")
WIDE_KEY_COLUMNS = ("site", "time")
FLAG_SUFFIX = "_flag"
DEFAULT_FLAG = "N"

_ALIGNMENT = {
    "realtime": None,
    "minute": "1m",
    "hour": "1h",
    "day": "1d",
}
"""The boundary each period's start must fall on (days: Beijing-time midnight)."""


@dataclass(frozen=True)
class IngestPlan:
    """A checked file, ready to store: ``batch`` has the columns of ``upsert_readings``."""

    path: Path
    layout: str
    batch: pl.DataFrame


def _report(
    problems: ProblemCollector, bad: pl.DataFrame, column: str | pl.Expr, message: str
) -> None:
    """Record rows of ``bad`` (with ``_row``; ``column`` names the cell); ``{value}`` allowed."""
    if bad.is_empty():
        return
    shown = bad.head(MAX_REPORTED_PROBLEMS).with_columns(
        (pl.lit(column) if isinstance(column, str) else column).alias("_where")
    )
    for row in shown.iter_rows(named=True):
        problems.add(message.format(value=row.get("_value")), row=row["_row"], column=row["_where"])
    problems.total += bad.height - shown.height


def _long_cells(frame: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    require_columns(frame, LONG_COLUMNS, problems)
    problems.raise_if_any()
    text = pl.col("value").cast(pl.String).str.strip_chars()
    frame = frame.with_columns((text.is_null() | text.is_in(MISSING_MARKERS)).alias("_missing"))
    frame = parse_numbers(frame, ["value"], problems, minimum=None)
    frame = _parse_times(frame, problems).with_row_index("_row", offset=FIRST_DATA_ROW)
    _report(problems, frame.filter(pl.col("_missing")), "value", "a value is required")
    flag = pl.col("flag") if "flag" in frame.columns else pl.lit(None, dtype=pl.String)
    return frame.select(
        "_row",
        "site",
        "time",
        "_time_text",
        "parameter",
        "value",
        flag.cast(pl.String).alias("flag"),
        pl.lit("parameter").alias("_parameter_column"),
        pl.lit("value").alias("_value_column"),
        pl.lit("flag").alias("_flag_column"),
    )


def _wide_cells(frame: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    require_columns(frame, WIDE_KEY_COLUMNS, problems)
    value_columns = [
        column
        for column in frame.columns
        if column not in WIDE_KEY_COLUMNS and not column.endswith(FLAG_SUFFIX)
    ]
    for column in frame.columns:
        if column.endswith(FLAG_SUFFIX) and column.removesuffix(FLAG_SUFFIX) not in value_columns:
            problems.add("flag column without its parameter column", row=1, column=column)
    if not value_columns:
        problems.add(
            "no parameter columns: expected long (site, parameter, time, value) "
            "or wide (site, time, one column per parameter)",
            row=1,
        )
    problems.raise_if_any()
    frame = parse_numbers(frame, value_columns, problems, minimum=None)
    frame = _parse_times(frame, problems).with_row_index("_row", offset=FIRST_DATA_ROW)
    parts = []
    for column in value_columns:
        flag_column = column + FLAG_SUFFIX
        flag = pl.col(flag_column) if flag_column in frame.columns else pl.lit(None)
        parts.append(
            frame.filter(pl.col(column).is_not_null()).select(
                "_row",
                "site",
                "time",
                "_time_text",
                pl.lit(column).alias("parameter"),
                pl.col(column).alias("value"),
                flag.cast(pl.String).alias("flag"),
                pl.lit(column).alias("_parameter_column"),
                pl.lit(column).alias("_value_column"),
                pl.lit(flag_column).alias("_flag_column"),
            )
        )
    return pl.concat(parts).sort("_row")


def _parse_times(frame: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    """Parse ``time`` in the file's own row order (so problems name the right rows)."""
    frame = frame.with_columns(pl.col("time").cast(pl.String).alias("_time_text"))
    return parse_times(frame, "time", problems)


def _check_times(cells: pl.DataFrame, period: str, problems: ProblemCollector) -> pl.DataFrame:
    """Beijing time → UTC; each start must fall on a period boundary."""
    local = pl.col("time").dt.replace_time_zone(LOCAL_TIME_ZONE)
    cells = cells.with_columns(local.dt.convert_time_zone("UTC").alias("period_start"))
    every = _ALIGNMENT[period]
    if every is not None:
        misaligned = cells.filter(local.dt.truncate(every) != local).with_columns(
            pl.col("_time_text").alias("_value")
        )
        message = f"{{value}} is not the start of a whole {period} (Beijing time)"
        _report(problems, misaligned, "time", message)
    return cells


def _check_sites(
    cells: pl.DataFrame, sites: dict[str, tuple[int, str]], problems: ProblemCollector
) -> pl.DataFrame:
    known = pl.DataFrame(
        [(code, sid, kind) for code, (sid, kind) in sites.items()],
        schema={"site": pl.String, "site_id": pl.Int64, "site_kind": pl.String},
        orient="row",
    )
    cells = cells.with_columns(pl.col("site").cast(pl.String).str.strip_chars())
    cells = cells.join(known, on="site", how="left", maintain_order="left")
    missing = pl.col("site").is_null() | (pl.col("site") == "")
    _report(problems, cells.filter(missing), "site", "a site code is required")
    unknown = cells.filter(pl.col("site_id").is_null() & ~missing)
    _report(
        problems,
        unknown.with_columns(pl.col("site").alias("_value")),
        "site",
        "unknown site {value!r}",
    )
    return cells


def _check_parameters(
    cells: pl.DataFrame, index: ParameterIndex, problems: ProblemCollector
) -> pl.DataFrame:
    cells = cells.with_columns(pl.col("parameter").cast(pl.String).str.strip_chars())
    pairs = cells.select("site_kind", "parameter").unique().drop_nulls()
    resolved = [
        (kind, name, match.parameter_id if match else None, match.factor if match else None)
        for kind, name in pairs.iter_rows()
        for match in [index.match(name, kind)]
    ]
    table = pl.DataFrame(
        resolved,
        schema={
            "site_kind": pl.String,
            "parameter": pl.String,
            "parameter_id": pl.Int64,
            "factor": pl.Float64,
        },
        orient="row",
    )
    cells = cells.join(table, on=["site_kind", "parameter"], how="left", maintain_order="left")
    missing = pl.col("parameter").is_null() | (pl.col("parameter") == "")
    _report(problems, cells.filter(missing), pl.col("_parameter_column"), "a parameter is required")
    unknown = cells.filter(
        pl.col("parameter_id").is_null() & pl.col("site_id").is_not_null() & ~missing
    )
    _report(
        problems,
        unknown.with_columns(pl.col("parameter").alias("_value")),
        pl.col("_parameter_column"),
        "unknown parameter {value!r} for this site",
    )
    return cells


def _check_flags(cells: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    flag = pl.col("flag").str.strip_chars()
    cells = cells.with_columns(
        pl.when(flag.is_null() | (flag == ""))
        .then(pl.lit(DEFAULT_FLAG))
        .otherwise(flag)
        .alias("flag")
    )
    bad = cells.filter(~pl.col("flag").is_in(FLAGS)).with_columns(pl.col("flag").alias("_value"))
    _report(
        problems,
        bad,
        pl.col("_flag_column"),
        f"unknown flag {{value!r}}; flags are {' '.join(FLAGS)}",
    )
    return cells


def _check_duplicates(batch: pl.DataFrame, problems: ProblemCollector) -> None:
    """Rows repeating an earlier row's key with another value or flag (identical repeats pass)."""
    key = ["site_id", "parameter_id", "period_start"]
    first = batch.sort("_row").with_columns(
        pl.col("_row").first().over(key).alias("_value"),
        pl.col("value").first().over(key).alias("_first_value"),
        pl.col("flag").first().over(key).alias("_first_flag"),
    )
    clash = first.filter(
        (pl.col("value") != pl.col("_first_value")) | (pl.col("flag") != pl.col("_first_flag"))
    )
    _report(
        problems,
        clash,
        pl.col("_value_column"),
        "same site, parameter and time as row {value} with another value or flag",
    )


def load_readings_file(engine: Engine, path: str | Path, period: str) -> IngestPlan:
    """Read and check a readings file against the registry; raise ``InputError`` on any problem."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    path = Path(path)
    frame = read_table(path)
    problems = ProblemCollector(path)
    layout = "long" if "parameter" in frame.columns else "wide"
    cells = _long_cells(frame, problems) if layout == "long" else _wide_cells(frame, problems)
    with reading(engine) as session:
        sites, index = site_index(session), ParameterIndex(session)
    cells = _check_times(cells, period, problems)
    cells = _check_sites(cells, sites, problems)
    cells = _check_parameters(cells, index, problems)
    cells = _check_flags(cells, problems)
    problems.raise_if_any()
    batch = cells.select(
        "_row",
        "_value_column",
        "site_id",
        "parameter_id",
        pl.lit(period).alias("period"),
        "period_start",
        (pl.col("value") * pl.col("factor")).alias("value"),
        "flag",
    )
    _check_duplicates(batch, problems)
    problems.raise_if_any()
    batch = batch.drop("_row", "_value_column").unique(maintain_order=True)
    return IngestPlan(path, layout, batch)


def store_plan(
    engine: Engine,
    plan: IngestPlan,
    *,
    actor: str,
    chunk_rows: int,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> UpsertCounts:
    """Store a checked file in one transaction (chunks only feed the progress bar)."""
    counts = UpsertCounts()
    source = f"file:{plan.path.name}"
    with writing(engine, actor) as session:
        for offset in range(0, plan.batch.height, chunk_rows):
            chunk = plan.batch.slice(offset, chunk_rows)
            counts += upsert_readings(session, chunk, source=source, actor=actor)
            on_rows(chunk.height)
    return counts
