"""Migrations: from an empty database to the newest schema, matching the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
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
    assert result.revision == migrate.head_revision()
    assert result.parameters_added > 0
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())


def test_upgrade_again_changes_nothing(engine: Engine) -> None:
    again = database.upgrade(engine)
    assert again.revision == migrate.head_revision()
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


def test_0009_moves_accrual_operations_onto_their_actions_and_back(empty_engine: Engine) -> None:
    """Upgrade: the actor of an ``accrue`` operation moves to its action, the operation goes
    (the timeline reads the action); downgrade rebuilds the operation from the action."""
    migrate.upgrade(empty_engine, "0008")
    now = "2024-03-01 01:00:00+00:00"
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO registry_accounts (id, code, name, kind, points_centi, created_at) "
                "VALUES (1, 'R1', '居民', 'individual', 110, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO registry_methodologies (id, code, name, version, scheme, kind, "
                "document, source, unit, grams_per_unit, points_per_unit, parameters, active) "
                "VALUES (1, 'BUS', 'bus', '1', 'CQ', 'action', 'doc', 'src', 'trip', 120, 1.1, "
                "'{}', true)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO registry_actions (idempotency_key, account_id, methodology_id, "
                "quantity, occurred_at, local_day, evidence, status, reduction_mg, points_centi, "
                "recorded_at) VALUES ('a1', 1, 1, 1, :now, '2024-03-01', '', 'accepted', "
                "120000, 110, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO registry_operations (idempotency_key, kind, at, actor, "
                "counterparty_id, details) VALUES ('accrue:a1', 'accrue', :now, 'user:clerk', 1, "
                "'{}')"
            ),
            {"now": now},
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT actor FROM registry_actions")).scalar_one() == (
            "user:clerk"
        )
        assert connection.execute(text("SELECT count(*) FROM registry_operations")).scalar() == 0
    config = migrate.alembic_config()
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with empty_engine.connect() as connection:
        kind, actor, account, key = connection.execute(
            text("SELECT kind, actor, counterparty_id, idempotency_key FROM registry_operations")
        ).one()
    assert (kind, actor, account, key) == ("accrue", "user:clerk", 1, "accrue:a1")
