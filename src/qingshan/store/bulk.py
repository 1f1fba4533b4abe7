"""Set-based reads and writes for large batches, one code path per backend.

* Lookups by a long list of values: PostgreSQL takes the whole list as one array parameter
  (``column IN (SELECT unnest(:array))``, one round trip, no SQL text the size of the list);
  SQLite gets ``IN`` lists of :data:`CHUNK` values (under its limit on bound variables).
* Inserts: from :data:`COPY_MIN_ROWS` rows on, the rows go into a polars frame and
  :func:`insert_frame` writes it: PostgreSQL ``COPY … FROM STDIN`` of CSV written by polars (as
  :mod:`qingshan.store.readings` does), SQLite one driver-level ``executemany`` of plain tuples
  (times as the UTC text SQLAlchemy writes, days as ISO text), skipping SQLAlchemy's per-value
  processing; fewer rows go by SQLAlchemy's ``executemany`` (a frame of fewer rows by the
  driver's ``executemany`` on PostgreSQL too).
  A few rows of one shape written per request (journal lines, audit rows):
  :func:`insert_values`, one ``INSERT … SELECT unnest(…)`` on PostgreSQL.; updates of a few rows
  by id: :func:`update_values`, one ``UPDATE … FROM (SELECT unnest(…))``.

Rows written here bypass the ORM, so callers write their own audit summary
(:func:`qingshan.store.audit.record`).
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

import polars as pl
from sqlalchemy import JSON, ColumnElement, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable, TableClause

from qingshan.store.types import UTC_TEXT_FORMAT, UtcDateTime

CHUNK = 10_000
"""Values per ``IN`` list on SQLite."""
COPY_MIN_ROWS = 100
"""Fewer rows go by SQLAlchemy's ``executemany`` (building a frame costs more than it saves)."""
ANALYZE_MIN_ROWS = 10_000
"""After a COPY of this many rows PostgreSQL re-analyses the table in the same transaction.
Autovacuum analyses a table only some time after it grew, so the statistics of a table that a
batch just filled still describe it as it was (often empty); the next batch's lookups were
then planned as nested loops over sequential scans (and a connection's prepared statements
kept such plans) and one lookup ran for minutes. ``ANALYZE`` samples at most 30,000 rows (a
fraction of a second), counts the transaction's own new rows, and invalidates cached plans."""


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def matching(session: Session, column: Any, values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select the rows whose ``column`` is one of ``values``: one
    array parameter on PostgreSQL, ``IN`` chunks on SQLite (run one query per condition).

    PostgreSQL gets ``column IN (SELECT unnest(:array))``, a join the planner can hash, not
    ``column = ANY(:array)``: with stale statistics (a table that grew by a batch since the
    last analyse) the planner took a sequential scan comparing each row with the whole array,
    and a 100,000-key lookup in 900,000 actions ran for minutes."""
    if not values:
        return
    if is_postgresql(session):
        array = bindparam(None, list(values), type_=ARRAY(column.type))
        yield column.in_(select(func.unnest(array)))
        return
    for start in range(0, len(values), CHUNK):
        yield column.in_(values[start : start + CHUNK])


def insert_values(
    session: Session, table: Table, rows: list[dict[str, Any]], *, returning: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (dicts with the same keys) in one statement: on PostgreSQL ``INSERT …
    SELECT unnest(:column_1), unnest(:column_2), …`` with one array parameter per column (the
    statement text does not grow with the rows, so it is compiled and parsed once, where a
    multi-row ``VALUES`` is parsed again each time — psycopg caches no query text over 4 KiB —
    and an ``executemany`` runs one statement per row); on SQLite (in-process) one
    ``executemany``. The values of a column must be of one Python type (psycopg sends each list
    as an array of one type). Returns the ``returning`` columns of the inserted rows, in no
    particular order (return a unique column to match them to ``rows``)."""
    if not rows:
        return []
    columns = tuple(rows[0])
    postgresql = is_postgresql(session)
    statement = _insert_statement(table, columns, tuple(returning), postgresql)
    if postgresql:
        rows = [{f"column_{name}": [row[name] for row in rows] for name in columns}]
    result = session.connection().execute(statement, rows)
    return [tuple(row) for row in result] if returning else []


@functools.cache
def _insert_statement(
    table: Table, columns: tuple[str, ...], returning: tuple[str, ...], postgresql: bool
) -> Executable:
    """The statement of :func:`insert_values`, built once per shape (building one costs more
    Python than sending it)."""
    statement = insert(table)
    if postgresql:
        arrays = select(
            *(
                func.unnest(bindparam(f"column_{name}", type_=ARRAY(table.c[name].type)))
                for name in columns
            )
        )
        statement = statement.from_select(columns, arrays)
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def update_values(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Set columns of rows found by ``id``: ``rows`` are dicts with the same keys, ``id`` and
    the columns to set. On PostgreSQL one ``UPDATE … FROM (SELECT unnest(:id), unnest(:c), …)``
    with one array parameter per column (an ``executemany`` runs one statement per row); on
    SQLite one ``executemany``."""
    if not rows:
        return
    columns = tuple(name for name in rows[0] if name != "id")
    postgresql = is_postgresql(session)
    statement = _update_statement(table, columns, postgresql)
    if postgresql:
        parameters = [{f"column_{name}": [row[name] for row in rows] for name in ("id", *columns)}]
    else:
        parameters = [
            {"row_id": row["id"]} | {f"new_{name}": row[name] for name in columns} for row in rows
        ]
    session.connection().execute(statement, parameters)


@functools.cache
def _update_statement(table: Table, columns: tuple[str, ...], postgresql: bool) -> Executable:
    """The statement of :func:`update_values`, built once per shape."""
    if not postgresql:
        return (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(f"new_{name}") for name in columns})
        )
    values = select(
        *(
            func.unnest(bindparam(f"column_{name}", type_=ARRAY(table.c[name].type))).label(name)
            for name in ("id", *columns)
        )
    ).subquery("v")
    return (
        update(table)
        .where(table.c.id == values.c.id)
        .values({name: values.c[name] for name in columns})
    )


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's transaction."""
    if not rows:
        return
    if len(rows) < COPY_MIN_ROWS:
        session.connection().execute(insert(table), rows)
        return
    columns = list(rows[0])
    documents = {name for name in columns if isinstance(table.c[name].type, JSON)}
    times = {name for name in columns if isinstance(table.c[name].type, UtcDateTime)}
    frame = pl.DataFrame(
        [_column(name, [row[name] for row in rows], documents, times) for name in columns]
    )
    insert_frame(session, table, frame)


def _column(name: str, values: list[Any], documents: set[str], times: set[str]) -> pl.Series:
    if name in documents:
        return pl.Series(name, [json.dumps(v, ensure_ascii=False) for v in values], pl.String)
    if name in times:
        return pl.Series(name, values, pl.Datetime("us", UTC))
    return pl.Series(name, values, strict=False)


def insert_frame(session: Session, table: TableClause, frame: pl.DataFrame) -> None:
    """Insert the rows of ``frame`` (its columns named as ``table``'s; times timezone-aware
    ``Datetime``, JSON already as text) in the session's transaction."""
    if frame.is_empty():
        return
    columns = ", ".join(frame.columns)
    frame = frame.with_columns(pl.col(pl.Datetime).dt.convert_time_zone("UTC"))
    postgresql = is_postgresql(session)
    if not postgresql or frame.height < COPY_MIN_ROWS:
        if not postgresql:
            frame = frame.with_columns(
                pl.col(pl.Datetime).dt.strftime(UTC_TEXT_FORMAT),
                pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
            )
        marks = ", ".join(["%s" if postgresql else "?"] * frame.width)
        session.connection().exec_driver_sql(
            f"INSERT INTO {table.name} ({columns}) VALUES ({marks})", frame.rows()
        )
        return
    buffer = io.BytesIO()
    frame.write_csv(
        buffer,
        include_header=False,
        quote_style="non_numeric",
        datetime_format=f"{UTC_TEXT_FORMAT}+00",
    )
    raw: Any = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
    ):
        copy.write(buffer.getvalue())
    if frame.height >= ANALYZE_MIN_ROWS:
        session.connection().exec_driver_sql(f"ANALYZE {table.name}")
