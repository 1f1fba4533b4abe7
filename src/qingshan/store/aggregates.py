"""Minute → hour → day means with the validity rules of GB 3095 (applied by HJ 663).

GB 3095—2026 Table 4 (数据有效性规定; the same counts as GB 3095—2012 Table 4):

* a 1-hour mean needs at least 45 minutes of sampling in the hour;
* a 24-hour (daily) mean needs at least 20 hourly means in the natural day.

How the store applies them (``docs/store.md``):

* A minute reading counts as ``reporting_interval_minutes`` of sampling (the site's minute-data
  interval); the hour expects ``60 / interval`` readings and is valid when
  ``valid_count × interval ≥ 45``. Only readings flagged ``N`` are valid data
  (HJ 212—2017 Table 8: the other flags mark stopped, maintenance, fault, calibration, over-range,
  communication failure or manually set values).
* The hourly values of a day are the site's reported hour readings where there are any
  (flag ``N`` = valid), else the hour aggregates computed here (valid ones count). The day is the
  natural day in Beijing time (UTC+8), 00:00–24:00; it expects 24 values and is valid with ≥ 20.
* Hours and days are labelled by their start. Aggregates are derived data: recomputing
  overwrites them (no revisions); each run is one audit entry.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from qingshan.store import audit
from qingshan.store.models import VALID_FLAGS, Aggregate, Reading, Site
from qingshan.store.types import UTC_TEXT_FORMAT, utc_now

HOUR_MIN_VALID_MINUTES = 45
"""GB 3095—2026 Table 4: a 1-hour mean needs ≥ 45 minutes of sampling in the hour."""

DAY_MIN_VALID_HOURS = 20
"""GB 3095—2026 Table 4: a daily mean needs ≥ 20 hourly means in the natural day."""

HOURS_PER_DAY = 24
MINUTES_PER_HOUR = 60
LOCAL_TIME_ZONE = "Asia/Shanghai"
"""The natural day of GB 3095 is the Beijing-time calendar day."""

_TIME = pl.Datetime("us", "UTC")
MINUTE_SCHEMA = {
    "site_id": pl.Int64,
    "parameter_id": pl.Int64,
    "period_start": _TIME,
    "value": pl.Float64,
    "flag": pl.String,
    "interval_minutes": pl.Int64,
}
HOURLY_SCHEMA = {
    "site_id": pl.Int64,
    "parameter_id": pl.Int64,
    "period_start": _TIME,
    "value": pl.Float64,
    "valid": pl.Boolean,
}
_GROUP = ("site_id", "parameter_id", "period_start")


def _mean_of_valid() -> pl.Expr:
    return pl.col("value").filter(pl.col("valid")).mean().alias("value")


def hours_from_minutes(minutes: pl.DataFrame) -> pl.DataFrame:
    """Hour aggregates of minute readings (columns of :data:`MINUTE_SCHEMA`).

    Returns site_id, parameter_id, period_start (the hour), value (mean of valid minutes),
    expected_count, valid_count and valid.
    """
    interval = pl.col("interval_minutes").clip(upper_bound=MINUTES_PER_HOUR)
    return (
        minutes.with_columns(
            pl.col("period_start").dt.truncate("1h"),
            pl.col("flag").is_in(VALID_FLAGS).alias("valid"),
            interval.alias("interval_minutes"),
        )
        .group_by(_GROUP)
        .agg(
            _mean_of_valid(),
            (MINUTES_PER_HOUR // pl.col("interval_minutes").first()).alias("expected_count"),
            pl.col("valid").sum().cast(pl.Int64).alias("valid_count"),
            (pl.col("valid").sum() * pl.col("interval_minutes").first()).alias("minutes"),
        )
        .with_columns((pl.col("minutes") >= HOUR_MIN_VALID_MINUTES).alias("valid"))
        .drop("minutes")
        .sort(_GROUP)
    )


def local_day_start(times: pl.Expr) -> pl.Expr:
    """The UTC instant at which each time's Beijing-time calendar day begins."""
    local = times.dt.convert_time_zone(LOCAL_TIME_ZONE).dt.truncate("1d")
    return local.dt.convert_time_zone("UTC")


def prefer_reported(reported: pl.DataFrame, computed: pl.DataFrame) -> pl.DataFrame:
    """The hourly values of a site: a reported hour reading takes the place of the computed
    aggregate of the same hour (both frames with the columns of :data:`HOURLY_SCHEMA`)."""
    return (
        pl.concat(
            [
                reported.with_columns(pl.lit(0).alias("rank")),
                computed.with_columns(pl.lit(1).alias("rank")),
            ]
        )
        .sort([*_GROUP, "rank"])
        .unique(subset=list(_GROUP), keep="first")
        .drop("rank")
    )


def days_from_hours(reported: pl.DataFrame, computed: pl.DataFrame) -> pl.DataFrame:
    """Day aggregates from hourly values (both frames with the columns of :data:`HOURLY_SCHEMA`).

    A reported hour reading takes the place of the computed aggregate of the same hour.
    """
    return (
        prefer_reported(reported, computed)
        .with_columns(local_day_start(pl.col("period_start")))
        .group_by(_GROUP)
        .agg(
            _mean_of_valid(),
            pl.lit(HOURS_PER_DAY, dtype=pl.Int64).alias("expected_count"),
            pl.col("valid").sum().cast(pl.Int64).alias("valid_count"),
        )
        .with_columns((pl.col("valid_count") >= DAY_MIN_VALID_HOURS).alias("valid"))
        .sort(_GROUP)
    )


@dataclass(frozen=True)
class AggregationCounts:
    hours: int
    days: int


def day_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The Beijing-time day boundaries enclosing [start, end)."""
    zone = ZoneInfo(LOCAL_TIME_ZONE)
    first = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    last = end.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if last < end.astimezone(zone):
        last += timedelta(days=1)
    return first, last


def _sqlite_parameter(value: Any) -> Any:
    """A bound value as the SQLite store keeps it (times: UTC text of :class:`UtcDateTime`)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _fetch(session: Session, statement: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """The rows of ``statement`` as a frame of ``schema`` (built column by column).

    On SQLite the query runs on the driver's cursor and the times come back as the stored UTC
    text, parsed by polars for the whole column at once: building a SQLAlchemy row and a
    ``datetime`` per reading made reading two years of hourly data take tens of seconds.
    """
    if session.get_bind().dialect.name != "sqlite":
        rows: Any = session.execute(statement).all()
    else:
        compiled = statement.compile(
            dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
        )
        names = compiled.positiontup or ()
        parameters = [_sqlite_parameter(compiled.params[name]) for name in names]
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = cursor.execute(str(compiled), parameters).fetchall()
        finally:
            cursor.close()
    columns = list(zip(*rows, strict=True)) or [() for _ in schema]
    data = dict(zip(schema, columns, strict=True))
    times = pl.Series("period_start", data.pop("period_start"))
    if times.dtype == pl.String:
        times = times.str.to_datetime(UTC_TEXT_FORMAT, time_unit="us", time_zone="UTC")
    rest = {name: dtype for name, dtype in schema.items() if name != "period_start"}
    frame = pl.DataFrame(data, schema=rest, strict=False)
    return frame.with_columns(times.cast(schema["period_start"])).select(list(schema))


def _minute_readings(session: Session, start: datetime, end: datetime) -> pl.DataFrame:
    statement = (
        select(
            Reading.site_id,
            Reading.parameter_id,
            Reading.period_start,
            Reading.value,
            Reading.flag,
            Site.reporting_interval_minutes,
        )
        .join(Site, Site.id == Reading.site_id)
        .where(
            Reading.period == "minute", Reading.period_start >= start, Reading.period_start < end
        )
    )
    return _fetch(session, statement, MINUTE_SCHEMA)


def _reported_hours(
    session: Session, start: datetime, end: datetime, site_ids: Collection[int] | None = None
) -> pl.DataFrame:
    statement = select(
        Reading.site_id,
        Reading.parameter_id,
        Reading.period_start,
        Reading.value,
        Reading.flag.in_(VALID_FLAGS),
    ).where(Reading.period == "hour", Reading.period_start >= start, Reading.period_start < end)
    if site_ids is not None:
        statement = statement.where(Reading.site_id.in_(list(site_ids)))
    return _fetch(session, statement, HOURLY_SCHEMA)


def _computed_hours(
    session: Session, start: datetime, end: datetime, site_ids: Collection[int]
) -> pl.DataFrame:
    statement = select(
        Aggregate.site_id,
        Aggregate.parameter_id,
        Aggregate.period_start,
        Aggregate.value,
        Aggregate.valid,
    ).where(
        Aggregate.period == "hour",
        Aggregate.period_start >= start,
        Aggregate.period_start < end,
        Aggregate.site_id.in_(list(site_ids)),
    )
    return _fetch(session, statement, HOURLY_SCHEMA)


def hourly_values(
    session: Session, *, start: datetime, end: datetime, site_ids: Collection[int]
) -> pl.DataFrame:
    """The hourly values of ``site_ids`` in [start, end) as the daily means see them: reported
    hour readings, else the stored hour aggregates of the minute data (:func:`aggregate`).

    Columns of :data:`HOURLY_SCHEMA`; ``valid`` is false for flagged readings and for hours
    short of 45 minutes, whose values must not be used (GB 3095 Table 4).
    """
    return prefer_reported(
        _reported_hours(session, start, end, site_ids),
        _computed_hours(session, start, end, site_ids),
    )


_SQLITE_STORE = """
INSERT INTO aggregates (site_id, parameter_id, period, period_start, value, expected_count,
                        valid_count, valid, computed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (site_id, parameter_id, period, period_start) DO UPDATE SET
    value = excluded.value, expected_count = excluded.expected_count,
    valid_count = excluded.valid_count, valid = excluded.valid, computed_at = excluded.computed_at
"""


def _store(session: Session, frame: pl.DataFrame, period: str, now: datetime) -> None:
    """Insert or overwrite aggregates; on SQLite in one ``executemany`` on the driver's cursor
    (times as the stored UTC text), elsewhere through SQLAlchemy's bulk insert."""
    if frame.is_empty():
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        rows = frame.select(
            "site_id",
            "parameter_id",
            pl.lit(period).alias("period"),
            pl.col("period_start").dt.strftime(UTC_TEXT_FORMAT),
            "value",
            "expected_count",
            "valid_count",
            "valid",
            pl.lit(_sqlite_parameter(now)).alias("computed_at"),
        ).rows()
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(_SQLITE_STORE, rows)
        finally:
            cursor.close()
        return
    records = [{**row, "period": period, "computed_at": now} for row in frame.iter_rows(named=True)]
    statement = postgresql.insert(Aggregate)
    updated = ("value", "expected_count", "valid_count", "valid", "computed_at")
    statement = statement.on_conflict_do_update(
        index_elements=["site_id", "parameter_id", "period", "period_start"],
        set_={name: statement.excluded[name] for name in updated},
    )
    session.execute(statement, records)


def _record(
    session: Session, actor: str, first: datetime, last: datetime, counts: AggregationCounts
) -> None:
    summary = {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "hours": counts.hours,
        "days": counts.days,
    }
    audit.record(session, actor, "aggregate", "aggregates", after=summary)


def aggregate(session: Session, *, start: datetime, end: datetime, actor: str) -> AggregationCounts:
    """Recompute the hour and day aggregates of every whole Beijing day touching [start, end)."""
    first, last = day_bounds(start, end)
    hours = hours_from_minutes(_minute_readings(session, first, last))
    days = days_from_hours(_reported_hours(session, first, last), hours.select(list(HOURLY_SCHEMA)))
    now = utc_now()
    _store(session, hours, "hour", now)
    _store(session, days, "day", now)
    counts = AggregationCounts(hours.height, days.height)
    _record(session, actor, first, last, counts)
    return counts


def aggregate_hour_batch(session: Session, hours: pl.DataFrame, *, actor: str) -> AggregationCounts:
    """Day aggregates of a batch of hour readings just written, computed from the batch itself.

    For bulk loaders (the demo) that write whole Beijing days of hourly readings of sites with
    no minute data: the days are those :func:`aggregate` would compute, without reading back
    the rows that were just written. ``hours`` is an ``upsert_readings`` frame of period
    ``hour`` holding every reading of its days.
    """
    if hours.is_empty():
        return AggregationCounts(0, 0)
    if (hours["period"] != "hour").any():
        raise ValueError("aggregate_hour_batch takes hour readings only")
    reported = hours.select(
        "site_id",
        "parameter_id",
        pl.col("period_start").dt.convert_time_zone("UTC"),
        "value",
        pl.col("flag").is_in(VALID_FLAGS).alias("valid"),
    ).cast(HOURLY_SCHEMA)  # type: ignore[arg-type]
    days = days_from_hours(reported, pl.DataFrame(schema=HOURLY_SCHEMA))
    _store(session, days, "day", utc_now())
    counts = AggregationCounts(0, days.height)
    first, last = reported["period_start"].min(), reported["period_start"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    _record(session, actor, *day_bounds(first, last + timedelta(hours=1)), counts)
    return counts
