"""Database fixtures for the store, services and commands tests: every test runs on SQLite and on
PostgreSQL.

PostgreSQL: ``QINGSHAN_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``,
as in CI). Each test gets its own fresh schema (dropped afterwards), so runs are repeatable and
tests cannot see each other's rows. When the server is not reachable the PostgreSQL cases are
skipped with the reason.
"""

from __future__ import annotations

import os
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


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'qingshan.db'}"
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"qs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database."""
    engine = create_store_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine on a database upgraded to the newest schema, with the parameters seeded."""
    database.upgrade(empty_engine)
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
