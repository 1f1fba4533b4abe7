"""Database use-cases: upgrade the schema (and seed the reference parameters), prune raw data."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from qingshan.store import journal, ledger, migrate
from qingshan.store.engine import create_store_engine, writing
from qingshan.store.readings import prune_raw_readings
from qingshan.store.registry import seed_parameters
from qingshan.store.types import utc_now

SYSTEM_ACTOR = "system:upgrade"


def cli_actor() -> str:
    """The audit actor for commands run from a shell: ``cli:<login name>``."""
    return f"cli:{getpass.getuser()}"


class StoreNotReady(RuntimeError):
    """The database is not at the schema this version of Qingshan needs."""


def open_store(url: str | None = None) -> Engine:
    """An engine on a database at the newest schema; raise :class:`StoreNotReady` otherwise."""
    engine = create_store_engine(url)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        engine.dispose()
        found = f"revision {current}" if current else "no Qingshan tables"
        raise StoreNotReady(
            f"the database has {found}, this version needs revision {head}: "
            "run `qingshan db upgrade`"
        )
    return engine


@dataclass(frozen=True)
class UpgradeResult:
    revision: str | None
    parameters_added: int


def upgrade(engine: Engine) -> UpgradeResult:
    """Run the migrations up to the newest, then add any shipped parameter still missing."""
    migrate.upgrade(engine)
    with writing(engine, SYSTEM_ACTOR) as session:
        added = seed_parameters(session)
        ledger.seed(session)  # registry system accounts, methodologies, compliance schemes
    with writing(engine, SYSTEM_ACTOR) as session:
        journal.seal(session)  # the opening entry of migration 0006, if any
    return UpgradeResult(migrate.current_revision(engine), added)


def prune(engine: Engine, retention_days: int, actor: str) -> int:
    """Delete raw readings older than ``retention_days``; returns how many."""
    if retention_days < 1:
        raise ValueError("retention must be at least one day")
    cutoff = utc_now() - timedelta(days=retention_days)
    with writing(engine, actor) as session:
        return prune_raw_readings(session, older_than=cutoff, actor=actor)
