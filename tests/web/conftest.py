"""Web test fixtures: the whole site over an upgraded store, and signed-in browsers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from qingshan.store.engine import writing
from qingshan.store.identity import add_user
from qingshan.web.site import create_site
from web.pages_world import Visitor, signed_in_as
from web_world import PASSWORD


@pytest.fixture
def site(engine: Engine) -> Iterator[TestClient]:
    """An anonymous visitor of the site (pages and API)."""
    with TestClient(create_site(engine)) as client:
        yield client


@pytest.fixture
def signed_in(engine: Engine) -> Iterator[Callable[[str], TestClient]]:
    """A client signed in through the login form as a new user of ``role``."""
    clients: list[TestClient] = []

    def sign_in(role: str) -> TestClient:
        with writing(engine, actor="test") as session:
            add_user(session, f"{role}-{len(clients)}", role, password=PASSWORD)
        client = TestClient(create_site(engine))
        clients.append(client)
        response = client.post(
            "/login",
            data={"username": f"{role}-{len(clients) - 1}", "password": PASSWORD, "next": "/"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client

    yield sign_in
    for client in clients:
        client.close()


@pytest.fixture
def as_user(engine: Engine) -> Iterator[Callable[[str], Visitor]]:
    """Clients signed in as existing users (of the world a test built), closed afterwards."""
    visitors: list[Visitor] = []

    def sign_in(username: str) -> Visitor:
        visitors.append(signed_in_as(engine, username))
        return visitors[-1]

    yield sign_in
    for visitor in visitors:
        visitor.client.close()
