"""The append-only audit log: every write says who made it, when, and what changed.

Auditing is not left to callers:

* ORM writes: a flush of any model object in a session without an actor fails
  (:class:`MissingActorError`), and after each flush one audit row per inserted, updated or
  deleted object is written in the same transaction, with the changed columns before and after.
  Secrets (password and token hashes, device passwords) are masked.
* Bulk writes (readings, aggregates) bypass the ORM for speed; the functions doing them take an
  actor and call :func:`record` with a summary (counts, source) in the same transaction.
* The database refuses UPDATE and DELETE on ``audit_log`` (triggers in the initial migration).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from itertools import chain
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.base import PASSIVE_NO_INITIALIZE

from qingshan.store import bulk
from qingshan.store.models import AuditEntry, Base
from qingshan.store.types import utc_now

SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "password"})
MASK = "***"


class MissingActorError(RuntimeError):
    """A write was attempted in a session that does not say who is writing."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _column_value(key: str, value: Any) -> Any:
    return MASK if key in SECRET_COLUMNS and value is not None else _jsonable(value)


def _values(instance: Base) -> dict[str, Any]:
    mapper = inspect(instance).mapper
    return {
        attribute.key: _column_value(attribute.key, getattr(instance, attribute.key))
        for attribute in mapper.column_attrs
    }


def _changes(instance: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(instance)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attribute in state.mapper.column_attrs:  # not state.attrs: it builds them all anew
        history = state.get_history(attribute.key, PASSIVE_NO_INITIALIZE)
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            before[attribute.key] = _column_value(attribute.key, old)
            after[attribute.key] = _column_value(attribute.key, new)
    return before, after


def _entity_id(instance: Base) -> str | None:
    key = inspect(instance).mapper.primary_key_from_instance(instance)
    return ",".join(str(part) for part in key) if all(part is not None for part in key) else None


def _audited(instance: object) -> bool:
    return isinstance(instance, Base) and not isinstance(instance, AuditEntry)


def _entry(actor: str, action: str, instance: Base, before: Any, after: Any) -> dict[str, Any]:
    return {
        "at": utc_now(),
        "actor": actor,
        "action": action,
        "entity": str(type(instance).__tablename__),
        "entity_id": _entity_id(instance),
        "before": before,
        "after": after,
    }


def record(
    connection: Connection | Session,
    actor: str,
    action: str,
    entity: str,
    *,
    entity_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one audit row in the caller's transaction (for writes that bypass the ORM)."""
    if not actor:
        raise MissingActorError(f"{action} on {entity} without an actor")
    connection.execute(
        insert(AuditEntry),
        [
            {
                "at": utc_now(),
                "actor": actor,
                "action": action,
                "entity": entity,
                "entity_id": entity_id,
                "before": before,
                "after": after,
            }
        ],
    )


@event.listens_for(Session, "before_flush")
def _require_actor(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    pending = chain(session.new, session.dirty, session.deleted)
    if not session.info.get("actor") and any(_audited(instance) for instance in pending):
        raise MissingActorError("writes need a session from qingshan.store.engine.writing()")


def rows_for(
    actor: str,
    inserted: Iterable[object] = (),
    updated: Iterable[object] = (),
    deleted: Iterable[object] = (),
) -> list[dict[str, Any]]:
    """The audit rows a flush writes for these objects, in this order: the full row of each
    inserted and deleted one, the changed columns of each updated one (none: no row). Callers
    that write model rows with Core (:func:`qingshan.store.ledger.move_many`) write exactly the
    rows the ORM would have, from the objects, before resetting their history."""
    rows = [_entry(actor, "insert", obj, None, _values(obj)) for obj in inserted if _audited(obj)]
    for instance in updated:
        if _audited(instance):
            before, after = _changes(instance)
            if after:
                rows.append(_entry(actor, "update", instance, before, after))
    rows += [_entry(actor, "delete", obj, _values(obj), None) for obj in deleted if _audited(obj)]
    return rows


@event.listens_for(Session, "after_flush")
def _audit_flush(session: Session, _context: UOWTransaction) -> None:
    actor = session.info.get("actor", "")
    rows = rows_for(actor, session.new, session.dirty, session.deleted)
    bulk.insert_values(session, AuditEntry.__table__, rows)
