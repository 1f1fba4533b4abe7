"""Readings: the one bulk write path every ingestion channel uses, and raw-data retention.

Semantics (``docs/store.md``): one current reading per (site, parameter, period, period start).

* A new key is inserted with revision 1.
* An identical re-send (same value and flag) changes nothing — not even ``received_at`` or
  ``source`` — so retries from devices, HTTP clients and file re-imports are no-ops.
* A changed value or flag replaces the current reading and increments its revision; the
  database trigger on ``readings`` copies the old version into ``reading_revisions``.

Speed: both backends stage the batch in a temporary table and upsert it with one
``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE``: SQLite fills the table by ``executemany``
of a plain INSERT, PostgreSQL by ``COPY``. Batches are sorted by key first, so rows are
written (and on PostgreSQL locked) in key order and concurrent batches cannot deadlock: the
temporary table is emptied and filled once per batch and only this session can read it (no
parallel scan of temporary tables), so its sequential scan returns the rows in the order they
were added — cheaper than an ORDER BY in the statement. Sites and parameters are checked once
per batch, not once per row (see :class:`~qingshan.store.models.Reading` on why readings have
no foreign keys). ``benchmarks/bench_ingest.py`` measures both paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qingshan.store import audit
from qingshan.store.models import FLAGS, PERIODS, RAW_PERIODS, Parameter, Reading, Site
from qingshan.store.types import UTC_TEXT_FORMAT, utc_now

KEY_COLUMNS = ("site_id", "parameter_id", "period", "period_start")
INPUT_COLUMNS = (*KEY_COLUMNS, "value", "flag")
INPUT_SCHEMA = {
    "site_id": pl.Int64,
    "parameter_id": pl.Int64,
    "period": pl.String,
    "period_start": pl.Datetime("us", "UTC"),
    "value": pl.Float64,
    "flag": pl.String,
}
"""The frame :func:`upsert_readings` takes; ``period_start`` in any time zone (converted)."""

_SQLITE_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_readings (
    site_id INTEGER, parameter_id INTEGER, period TEXT, period_start TEXT, value REAL, flag TEXT
)
"""

_SQLITE_COPY = "INSERT INTO incoming_readings VALUES (?, ?, ?, ?, ?, ?)"

_SQLITE_UPSERT = """
INSERT INTO readings
    (site_id, parameter_id, period, period_start, value, flag, source, received_at, revision)
SELECT site_id, parameter_id, period, period_start, value, flag, ?, ?, 1
FROM incoming_readings WHERE true
ON CONFLICT (site_id, parameter_id, period, period_start) DO UPDATE SET
    value = excluded.value, flag = excluded.flag, source = excluded.source,
    received_at = excluded.received_at, revision = readings.revision + 1
WHERE readings.value IS NOT excluded.value OR readings.flag IS NOT excluded.flag
"""
"""SQLite: the batch goes into a temporary table without keys (``executemany`` of a plain
INSERT), then into ``readings`` by one ``INSERT … SELECT … ON CONFLICT``. One statement for the
batch instead of one upsert per row made new rows about 1.6 times faster; the ``WHERE true``
is SQLite's required disambiguation of an upsert from a SELECT. The temporary table is filled
in key order and scanned in rowid order, so rows reach ``readings`` in key order."""

_POSTGRESQL_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_readings (
    site_id integer, parameter_id integer, period text, period_start timestamptz,
    value double precision, flag text
) ON COMMIT DELETE ROWS
"""

_POSTGRESQL_COPY = (
    "COPY incoming_readings (site_id, parameter_id, period, period_start, value, flag) "
    "FROM STDIN (FORMAT csv)"
)

_POSTGRESQL_UPSERT = """
WITH upserted AS (
    INSERT INTO readings AS current
        (site_id, parameter_id, period, period_start, value, flag, source, received_at, revision)
    SELECT site_id, parameter_id, period, period_start, value, flag, %(source)s,
           %(received_at)s, 1
    FROM incoming_readings
    ON CONFLICT (site_id, parameter_id, period, period_start) DO UPDATE SET
        value = excluded.value, flag = excluded.flag, source = excluded.source,
        received_at = excluded.received_at, revision = current.revision + 1
    WHERE current.value IS DISTINCT FROM excluded.value
       OR current.flag IS DISTINCT FROM excluded.flag
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""


@dataclass(frozen=True)
class UpsertCounts:
    """What a batch did: new readings, changed readings (new revisions), identical re-sends."""

    inserted: int = 0
    revised: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted,
            self.revised + other.revised,
            self.unchanged + other.unchanged,
        )

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "revised": self.revised, "unchanged": self.unchanged}


def _has_duplicate_keys(batch: pl.DataFrame) -> bool:
    return bool(batch.select(pl.struct(KEY_COLUMNS).is_duplicated().any()).item())


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Check and prepare a batch: columns and types, flags, periods; drop identical duplicates.

    Raises
    ------
    ValueError
        On a missing column, a null, a naive time, an unknown flag or period, or one key with
        two different values in the batch (which of them is current would be arbitrary).
    """
    missing = [column for column in INPUT_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"readings batch lacks columns {missing}")
    start_type = frame.schema["period_start"]
    if not isinstance(start_type, pl.Datetime) or start_type.time_zone is None:
        raise ValueError("period_start must be timezone-aware")
    batch = frame.select(INPUT_COLUMNS).with_columns(
        pl.col("period_start").dt.convert_time_zone("UTC")
    )
    batch = batch.cast(INPUT_SCHEMA)  # type: ignore[arg-type]
    if batch.null_count().sum_horizontal().item():
        raise ValueError("readings batch has empty cells")
    if not batch["flag"].is_in(FLAGS).all() or not batch["period"].is_in(PERIODS).all():
        raise ValueError(f"flags must be among {FLAGS} and periods among {PERIODS}")
    if not batch["value"].is_finite().all():
        raise ValueError("readings batch has values that are not finite")
    if _has_duplicate_keys(batch):
        batch = batch.unique(maintain_order=True)
        if _has_duplicate_keys(batch):
            raise ValueError("readings batch has one key with different values or flags")
    return batch.sort(KEY_COLUMNS)  # key order: index pages fill in order, locks taken in order


def _check_references(session: Session, batch: pl.DataFrame) -> None:
    """Every site and parameter of the batch exists; on PostgreSQL they stay (FOR KEY SHARE).

    This is the set-wise stand-in for foreign keys on ``readings`` (see :class:`Reading`): one
    query per table and batch instead of one per row.
    """
    for model, column in ((Site, "site_id"), (Parameter, "parameter_id")):
        wanted = set(batch[column].unique().to_list())
        query = select(model.id).where(model.id.in_(wanted))
        found = set(session.scalars(query.with_for_update(read=True, key_share=True)))
        if wanted - found:
            missing = sorted(wanted - found)[:10]
            raise ValueError(f"readings refer to unknown {model.__tablename__} ids {missing}")


def _upsert_sqlite(
    session: Session, batch: pl.DataFrame, source: str, now: datetime
) -> tuple[int, int]:
    received = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = batch.with_columns(pl.col("period_start").dt.strftime(UTC_TEXT_FORMAT)).rows()
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        last_reading = cursor.execute("SELECT coalesce(max(id), 0) FROM readings").fetchone()[0]
        last_revision = cursor.execute(
            "SELECT coalesce(max(id), 0) FROM reading_revisions"
        ).fetchone()[0]
        cursor.execute(_SQLITE_STAGE)
        cursor.execute("DELETE FROM incoming_readings")
        cursor.executemany(_SQLITE_COPY, rows)
        cursor.execute(_SQLITE_UPSERT, (source, received))
        cursor.execute("DELETE FROM incoming_readings")
        # Within this write transaction (BEGIN IMMEDIATE) nobody else writes, so the rows past
        # the old maximum ids are exactly the ones this batch added.
        inserted = cursor.execute(
            "SELECT count(*) FROM readings WHERE id > ?", (last_reading,)
        ).fetchone()[0]
        revised = cursor.execute(
            "SELECT count(*) FROM reading_revisions WHERE id > ?", (last_revision,)
        ).fetchone()[0]
    finally:
        cursor.close()
    return int(inserted), int(revised)


def _upsert_postgresql(
    session: Session, batch: pl.DataFrame, source: str, now: datetime
) -> tuple[int, int]:
    csv = batch.with_columns(
        pl.col("period_start").dt.strftime(UTC_TEXT_FORMAT + "+00")
    ).write_csv(include_header=False)
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(_POSTGRESQL_STAGE)
        cursor.execute("TRUNCATE incoming_readings")
        with cursor.copy(_POSTGRESQL_COPY) as copy:
            copy.write(csv.encode())
        cursor.execute(_POSTGRESQL_UPSERT, {"source": source, "received_at": now})
        inserted, revised = cursor.fetchone()
    return int(inserted), int(revised)


def upsert_readings(
    session: Session, frame: pl.DataFrame, *, source: str, actor: str
) -> UpsertCounts:
    """Store a batch of readings in the session's transaction (see the module docstring).

    Parameters
    ----------
    session : a write session from :func:`qingshan.store.engine.writing`.
    frame : columns of :data:`INPUT_SCHEMA`; values in the parameter's canonical unit.
    source : where the batch came from (``file:name.csv``, ``hj212:MN``, ``http:user``…).
    actor : who is writing, for the audit log (one audit row per batch that changed anything).
    """
    batch = normalise(frame)
    if batch.is_empty():
        return UpsertCounts()
    _check_references(session, batch)
    now = utc_now()
    write = _upsert_sqlite if session.get_bind().dialect.name == "sqlite" else _upsert_postgresql
    inserted, revised = write(session, batch, source, now)
    counts = UpsertCounts(inserted, revised, batch.height - inserted - revised)
    if inserted or revised:
        summary: dict[str, Any] = {"source": source, "rows": batch.height, **counts.as_dict()}
        audit.record(session, actor, "upsert", "readings", after=summary)
    return counts


def prune_raw_readings(session: Session, *, older_than: datetime, actor: str) -> int:
    """Delete real-time and minute readings (and their revisions) that start before ``older_than``.

    Hour and day readings and aggregates are kept. Returns the number of readings deleted.
    """
    statement = delete(Reading).where(
        Reading.period.in_(RAW_PERIODS), Reading.period_start < older_than
    )
    deleted = session.execute(statement, execution_options={"synchronize_session": False})
    count = int(deleted.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        summary = {"periods": list(RAW_PERIODS), "older_than": older_than.isoformat()}
        audit.record(session, actor, "prune", "readings", before={"rows": count}, after=summary)
    return count


def current_readings(
    session: Session, site_id: int, parameter_id: int, period: str
) -> list[Reading]:
    """The current readings of one series, oldest first."""
    statement = (
        select(Reading)
        .where(
            Reading.site_id == site_id,
            Reading.parameter_id == parameter_id,
            Reading.period == period,
        )
        .order_by(Reading.period_start)
    )
    return list(session.scalars(statement))
