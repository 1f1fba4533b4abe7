"""Column types shared by the models: UTC time stamps and JSON that work on SQLite and PostgreSQL.

Time convention (see ``docs/store.md``): every instant is stored in UTC. Python code hands the
store timezone-aware ``datetime`` values and gets aware UTC values back; a naive value is refused,
because a naive "08:00" could be Beijing time or UTC and the store must never guess.

* PostgreSQL: ``timestamp with time zone``.
* SQLite: text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (SQLAlchemy's SQLite format, fixed width, so
  text order is time order). The bulk path writes the same text with :data:`UTC_TEXT_FORMAT`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

UTC_TEXT_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"
"""polars ``strftime`` format of a UTC time as SQLAlchemy stores it on SQLite; with ``+00``
appended, the text the PostgreSQL bulk path COPYs into ``timestamptz``."""

JsonDocument = JSON().with_variant(JSONB(), "postgresql")
"""JSON on SQLite, JSONB on PostgreSQL."""

Identifier = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit key; on SQLite an ``INTEGER`` so that it is the row id (auto-assigned)."""


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC; accepts and returns timezone-aware datetimes only."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text (e.g. from a textual query)
            value = datetime.fromisoformat(value)
        instant: datetime = value
        if instant.tzinfo is None:
            return instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
