"""Engines and sessions: embedded SQLite by default, PostgreSQL when configured.

* No ``QINGSHAN_DATABASE_URL``: SQLite file ``qingshan.db`` in ``QINGSHAN_DATA_DIR``, in WAL mode
  (readers never wait for the writer), with foreign keys enforced and a 30 s busy timeout.
* ``QINGSHAN_DATABASE_URL=postgresql+psycopg://user@host:5432/db``: PostgreSQL through psycopg 3.

Writes go through :func:`writing`, which needs an actor for the audit log and, on SQLite, starts
the transaction with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the busy timeout
instead of failing when a read lock cannot be upgraded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from qingshan.config import Settings, get_settings

SQLITE_BUSY_TIMEOUT_S = 30.0
SQLITE_CACHE_KIB = 65_536
"""Page cache per connection (64 MiB; SQLite's default 2 MiB makes index upkeep of bulk
ingests read pages again and again)."""
WRITE_OPTION = "qingshan_write"
"""Execution option marking a connection that will write (``BEGIN IMMEDIATE`` on SQLite)."""


def database_url(settings: Settings | None = None) -> str:
    """The configured database URL, or the embedded SQLite file in the data directory."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.database_path}"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event opens transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at WAL checkpoints; safe in WAL
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def create_store_engine(url: str | None = None) -> Engine:
    """Create the engine for ``url`` (default: :func:`database_url`)."""
    url = url or database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def writing(engine: Engine, actor: str) -> Iterator[Session]:
    """A session in one transaction that commits on success; every flush is audited as ``actor``."""
    if not actor:
        raise ValueError("every write needs an actor for the audit log")
    with Session(engine.execution_options(**{WRITE_OPTION: True})) as session:
        session.info["actor"] = actor
        with session.begin():
            yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only session (flushing anything from it fails: it has no actor)."""
    with Session(engine) as session:
        yield session
