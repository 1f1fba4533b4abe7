"""Keyset paging, opaque cursors and CSV/XLSX export for the API's list queries.

Every list query is a :class:`Listing`: a SELECT with its filters applied, a unique key it is
ordered by, and a function turning a row into the flat record the API shows. Paging is by key
(``WHERE key > last key ORDER BY key LIMIT n``), never by offset, so a client walking the pages
sees every row that existed when it started exactly once even while readings are being inserted:
new rows land either before its position (not shown) or after it (shown once), and no existing
row moves. Each listing's key is a unique index of its table, so every page is an index range
scan on SQLite and PostgreSQL.

The cursor is URL-safe base64 of JSON holding the last key and a fingerprint of the filters; a
cursor presented with other filters is refused rather than silently giving a wrong page.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import xlsxwriter
from sqlalchemy import ColumnElement, Engine, Row, Select, func, literal, select, tuple_
from sqlalchemy.orm import Session

from qingshan.services.tables import XLSX_MAX_DATA_ROWS
from qingshan.store.engine import reading

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
"""Rows per page (OpenAQ's convention: default 100, at most 1000)."""

FOUND_COUNT_CAP = 100_000
"""``found`` is counted exactly up to this many rows; beyond, it says "at least" (counting a
whole table of readings on every page request would cost more than the page itself)."""

EXPORT_CHUNK_ROWS = 5_000
"""Rows read per step of an export (each step is one keyset page in its own short read)."""


class CursorError(ValueError):
    """A cursor that cannot be decoded or belongs to another query."""


class ExportTooLarge(ValueError):
    """More rows than an XLSX worksheet can hold."""


@dataclass(frozen=True)
class KeyPart:
    """One column of a listing's ordering key; ``is_time`` parts travel as ISO text in cursors."""

    column: ColumnElement[Any]
    is_time: bool = False


@dataclass(frozen=True)
class Listing:
    """A list query ready for paging or export.

    Attributes
    ----------
    name : what is listed (``readings``…), used in export file names.
    statement : the SELECT with every filter applied, without ORDER BY or LIMIT.
    key : the unique key the rows are ordered by (columns of the statement's tables).
    render : one result row → the flat record shown (JSON object, CSV row).
    columns : the record's fields in export column order.
    query : the filters as given, echoed in ``meta.query`` and fingerprinted into cursors.
    """

    name: str
    statement: Select[Any]
    key: tuple[KeyPart, ...]
    render: Callable[[Row[Any]], dict[str, Any]]
    columns: tuple[str, ...]
    query: Mapping[str, Any]

    def fingerprint(self) -> str:
        text = json.dumps([self.name, self.query], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Page:
    results: list[dict[str, Any]]
    found: int
    found_exact: bool
    next: str | None


_KEY_LABEL = "_key{}"


def _key_values(listing: Listing, row: Row[Any]) -> list[Any]:
    mapping = row._mapping
    return [mapping[_KEY_LABEL.format(index)] for index in range(len(listing.key))]


def encode_cursor(listing: Listing, row: Row[Any]) -> str:
    """The cursor pointing just after ``row``."""
    values = [
        value.isoformat() if part.is_time else value
        for part, value in zip(listing.key, _key_values(listing, row), strict=True)
    ]
    payload = json.dumps({"q": listing.fingerprint(), "k": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(listing: Listing, cursor: str) -> list[Any]:
    """The key values a cursor points after; :class:`CursorError` if it is not for ``listing``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        fingerprint, values = payload["q"], payload["k"]
        if len(values) != len(listing.key):
            raise ValueError("wrong key length")
        decoded = [
            datetime.fromisoformat(value) if part.is_time else value
            for part, value in zip(listing.key, values, strict=True)
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise CursorError("cursor is not valid; use meta.next of a previous page") from error
    if fingerprint != listing.fingerprint():
        raise CursorError("cursor belongs to a query with other filters; repeat those filters")
    return decoded


def _keyed(listing: Listing, after: list[Any] | None) -> Select[Any]:
    columns = [part.column for part in listing.key]
    statement = listing.statement.add_columns(
        *(column.label(_KEY_LABEL.format(index)) for index, column in enumerate(columns))
    )
    if after is not None:
        bounds = [literal(value, column.type) for value, column in zip(after, columns, strict=True)]
        statement = statement.where(tuple_(*columns) > tuple_(*bounds))
    return statement.order_by(*columns)


def count_rows(session: Session, listing: Listing, cap: int) -> int:
    """The number of rows of ``listing``, counting at most ``cap + 1``."""
    limited = listing.statement.order_by(None).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(limited)) or 0)


def fetch_page(session: Session, listing: Listing, *, cursor: str | None, limit: int) -> Page:
    """One page of ``limit`` rows after ``cursor`` (None: the first page)."""
    after = decode_cursor(listing, cursor) if cursor else None
    rows = session.execute(_keyed(listing, after).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    found = count_rows(session, listing, FOUND_COUNT_CAP)
    return Page(
        results=[listing.render(row) for row in rows],
        found=min(found, FOUND_COUNT_CAP),
        found_exact=found <= FOUND_COUNT_CAP,
        next=encode_cursor(listing, rows[-1]) if more else None,
    )


def iterate_records(
    engine: Engine, listing: Listing, *, cursor: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every record of ``listing`` after ``cursor``, read in keyset chunks.

    Each chunk is read in its own short transaction, so a long export neither holds a snapshot
    nor blocks SQLite's checkpoints; keyset order still yields each row exactly once.
    """
    after = decode_cursor(listing, cursor) if cursor else None
    while True:
        with reading(engine) as session:
            rows = session.execute(_keyed(listing, after).limit(EXPORT_CHUNK_ROWS)).all()
        yield from (listing.render(row) for row in rows)
        if len(rows) < EXPORT_CHUNK_ROWS:
            return
        after = _key_values(listing, rows[-1])


def cell_text(value: Any) -> Any:
    """A record value as a spreadsheet cell: nested values as JSON text, None as empty."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def csv_chunks(columns: tuple[str, ...], records: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """CSV in UTF-8 with a byte-order mark (so Excel reads Chinese text), in pieces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(columns)
    yield _drain(buffer)
    for number, record in enumerate(records, start=1):
        writer.writerow([cell_text(record.get(column)) for column in columns])
        if number % 1000 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


def write_xlsx(columns: tuple[str, ...], records: Iterator[dict[str, Any]], sheet: str) -> str:
    """Write an XLSX file (constant memory: rows go to disk as they come); returns its path.

    Raises :class:`ExportTooLarge` past :data:`XLSX_MAX_DATA_ROWS` (the caller checks the
    count first; this guards against rows inserted meanwhile).
    """
    handle, path = tempfile.mkstemp(prefix="qingshan-export-", suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
        worksheet = workbook.add_worksheet(sheet[:31])
        worksheet.write_row(0, 0, columns, workbook.add_format({"bold": True}))
        for number, record in enumerate(records, start=1):
            if number > XLSX_MAX_DATA_ROWS:
                raise ExportTooLarge("more rows than an XLSX worksheet holds; use format=csv")
            worksheet.write_row(number, 0, [cell_text(record.get(column)) for column in columns])
        workbook.close()
    except BaseException:
        os.unlink(path)
        raise
    return path
