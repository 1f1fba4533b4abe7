"""Identity and audit: argon2 passwords, hashed tokens, an audit row for every write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text

from qingshan.store import identity
from qingshan.store.audit import MissingActorError
from qingshan.store.engine import reading, writing
from qingshan.store.models import ApiToken, AuditEntry, Site, User
from qingshan.store.types import utc_now


def test_passwords_are_argon2id_hashes_that_verify(engine: Engine) -> None:
    with writing(engine, "cli:admin") as session:
        identity.add_user(session, "alice", "analyst", password="青山-secret")
    with reading(engine) as session:
        stored = session.scalar(select(User.password_hash))
        assert identity.authenticate(session, "alice", "青山-secret") is not None
        assert identity.authenticate(session, "alice", "青山-Secret") is None
        assert identity.authenticate(session, "bob", "青山-secret") is None
    assert stored.startswith("$argon2id$")
    assert "青山-secret" not in stored
    assert not identity.verify_password("not a hash", "青山-secret")


def test_unknown_role_and_duplicate_user_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown role"), writing(engine, "cli:admin") as s:
        identity.add_user(s, "carol", "superuser", password="x")
    with writing(engine, "cli:admin") as session:
        identity.add_user(session, "carol", "admin", password="x")
    with pytest.raises(ValueError, match="already exists"), writing(engine, "cli:admin") as s:
        identity.add_user(s, "carol", "admin", password="y")


def test_tokens_are_kept_only_as_hashes(engine: Engine) -> None:
    with writing(engine, "cli:admin") as session:
        user = identity.add_user(session, "station-7", "device")
        token = identity.issue_token(session, user, "mqtt")
    with engine.connect() as connection:
        dump = " ".join(
            str(value)
            for table in ("api_tokens", "audit_log")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
            for value in row
        )
    assert token.startswith("qs_") and len(token) > 40
    assert token not in dump
    assert identity.token_digest(token) in dump  # the hash is what is kept
    with reading(engine) as session:
        owner = identity.user_for_token(session, token)
        assert owner is not None and owner.username == "station-7"
        assert identity.user_for_token(session, token + "x") is None


def test_revoked_and_expired_tokens_are_refused(engine: Engine) -> None:
    with writing(engine, "cli:admin") as session:
        user = identity.add_user(session, "dave", "enterprise", password="pw")
        revoked = identity.issue_token(session, user, "old")
        expired = identity.issue_token(
            session, user, "short", expires_at=utc_now() - timedelta(seconds=1)
        )
        session.scalars(select(ApiToken).where(ApiToken.name == "old")).one().revoked_at = utc_now()
    with reading(engine) as session:
        assert identity.user_for_token(session, revoked) is None
        assert identity.user_for_token(session, expired) is None


def test_every_orm_write_leaves_an_audit_row_with_before_and_after(engine, sites) -> None:
    with writing(engine, "user:alice") as session:
        site = session.scalars(select(Site).where(Site.code == "AIR1")).one()
        site.name = "青山站"
        site.air_class = "I"
    with writing(engine, "user:alice") as session:
        identity.add_user(session, "erin", "grid_officer", password="pw")
    with writing(engine, "user:alice") as session:
        session.delete(session.scalars(select(User).where(User.username == "erin")).one())
    with reading(engine) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.actor == "user:alice").order_by(AuditEntry.id)
        ).all()
    assert [(e.action, e.entity) for e in entries] == [
        ("update", "sites"),
        ("insert", "users"),
        ("delete", "users"),
    ]
    update, insert, delete = entries
    assert update.entity_id == str(sites["AIR1"])
    assert update.before == {"name": "AIR1", "air_class": "II"}
    assert update.after == {"name": "青山站", "air_class": "I"}
    assert insert.after["username"] == "erin" and insert.after["password_hash"] == "***"
    assert insert.entity_id == delete.entity_id is not None
    assert delete.before["username"] == "erin" and delete.after is None


def test_fixture_writes_were_audited_too(engine, sites) -> None:
    with reading(engine) as session:
        entities = session.scalars(
            select(AuditEntry.entity).where(AuditEntry.actor == "test:fixture")
        ).all()
    assert sorted(entities) == ["districts", "grids"] + ["sites"] * len(sites) + ["townships"]


def test_a_write_without_an_actor_is_refused(engine: Engine) -> None:
    with reading(engine) as session:
        session.add(User(username="mallory", role="admin"))
        with pytest.raises(MissingActorError):
            session.flush()
    with pytest.raises(ValueError, match="actor"), writing(engine, ""):
        pass
