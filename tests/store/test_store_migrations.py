"""Migrations: from an empty database to the newest schema, matching the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from qingshan.services import database
from qingshan.store import create_store_engine, migrate
from qingshan.store.models import Base


def test_upgrade_from_empty_reaches_head_and_matches_models(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    result = database.upgrade(empty_engine)
    assert result.revision == migrate.head_revision() == "0002"
    assert result.parameters_added > 0
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())


def test_upgrade_again_changes_nothing(engine: Engine) -> None:
    again = database.upgrade(engine)
    assert again.revision == "0002"
    assert again.parameters_added == 0


def test_audit_log_refuses_update_and_delete(engine: Engine) -> None:
    """The append-only rule is enforced by the database, not only by the code."""
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar_one() > 0
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))


def test_embedded_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'qingshan.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


def test_migration_checks_are_the_models_checks(tmp_path: Path) -> None:
    """Alembic does not compare CHECK constraints, so compare their text here (SQLite keeps the
    text as written; PostgreSQL rewrites it)."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'qingshan.db'}")
    migrate.upgrade(engine)
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        prefix = f"ck_{table.name}_"
        expected = {
            prefix + str(constraint.name).removeprefix(prefix): str(constraint.sqltext)
            for constraint in table.constraints
            if isinstance(constraint, CheckConstraint)
        }
        found = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table.name)}
        assert found == expected, table.name
