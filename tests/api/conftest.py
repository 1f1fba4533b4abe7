"""API test fixtures: a client over an upgraded store (SQLite and PostgreSQL), and tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from qingshan.api.app import create_app
from qingshan.store.engine import writing
from qingshan.store.identity import add_user, issue_token


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine)) as test_client:
        yield test_client


@pytest.fixture
def token_for(engine: Engine) -> Callable[[str], dict[str, str]]:
    """Authorization headers of a new user with ``role`` (named after the role)."""

    def make(role: str, password: str | None = None) -> dict[str, str]:
        with writing(engine, actor="test") as session:
            user = add_user(session, f"{role}-user", role, password=password)
            token = issue_token(session, user, "test")
        return {"Authorization": f"Bearer {token}"}

    return make
