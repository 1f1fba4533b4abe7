"""Database fixtures for the store, services and commands tests: every test runs on SQLite and on
PostgreSQL.

PostgreSQL: ``QINGSHAN_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``,
as in CI). Each test gets its own fresh database (dropped afterwards), so runs are repeatable and
tests cannot see each other's rows. When the server is not reachable the PostgreSQL cases are
skipped with the reason.

A test that asks for ``engine`` gets a copy of a template migrated once per run and backend (a
file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL): the same schema and seeded
rows that running the migrations gives, at a tenth of the cost. A test that asks only for
``database_url`` or ``empty_engine`` gets an empty database, so migrations and commands that
create the schema are still tested from nothing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from qingshan.services import database
from qingshan.store import create_store_engine

POSTGRES_URL = os.environ.get(
    "QINGSHAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


@cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (None when it can)."""
    try:
        probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as error:  # any failure means: skip the PostgreSQL cases
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}"
    return None


def postgres_database_url(name: str) -> str:
    """The test server's URL for database ``name``."""
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the newest schema and close every connection to it."""
    engine = create_store_engine(url)
    database.upgrade(engine)
    if engine.dialect.name == "sqlite":  # the copy takes the main file only: empty the WAL
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema, copied by every test that asks for
    ``engine``."""
    path = tmp_path_factory.mktemp("template") / "qingshan.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to the newest schema, cloned by every test that
    asks for ``engine`` (unique per run, so runs from several checkouts do not meet)."""
    name = f"qs_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        migrate(postgres_database_url(name))
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database of its own on each backend: at the newest schema when the test asks
    for ``engine``, empty otherwise."""
    migrated = "engine" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "qingshan.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    template = f" TEMPLATE {request.getfixturevalue('postgres_template')}" if migrated else ""
    name = f"qs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}{template}"))
    try:
        yield postgres_database_url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's database (empty unless the test also asks for ``engine``)."""
    engine = create_store_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine on a database at the newest schema, with the parameters seeded (a copy of the
    run's migrated template)."""
    return empty_engine


SITES = {
    "AIR1": {"kind": "air_station", "reporting_interval_minutes": 1, "air_class": "II"},
    "AIR5": {"kind": "air_station", "reporting_interval_minutes": 5, "air_class": "I"},
    "RIVER": {"kind": "water_section", "water_target_class": "III", "waterbody_type": "river"},
    "STACK": {"kind": "source_outlet", "permit_limits": {"flue_so2": {"limit": 35.0}}},
}
"""Sites every registry test can use: code → fields."""


@pytest.fixture
def sites(engine: Engine) -> dict[str, int]:
    """The :data:`SITES`, created through the audited registry; code → site id."""
    from qingshan.store.engine import writing
    from qingshan.store.registry import ensure_grid, upsert_site

    with writing(engine, "test:fixture") as session:
        grid = ensure_grid(
            session,
            district=("420107", "青山区"),
            township=("420107001", "红卫路街道", "street"),
            grid=("G-01", "第一网格"),
        )
        created = {
            code: upsert_site(
                session,
                code,
                name=code,
                latitude=30.6,
                longitude=114.4,
                grid_id=grid.id,
                **fields,
            ).id
            for code, fields in SITES.items()
        }
    return created


@pytest.fixture
def parameters(engine: Engine) -> dict[str, int]:
    """Parameter key → id."""
    from sqlalchemy import select

    from qingshan.store.models import Parameter

    with engine.connect() as connection:
        return dict(connection.execute(select(Parameter.key, Parameter.id)).all())
