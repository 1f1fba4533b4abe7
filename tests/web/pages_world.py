"""Shared by the alarms and cases page tests: the web world with alarms, and clients signed in
as its users through the login form (the officer holds grid G00 only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from alarm_world import raise_alarms
from qingshan.store.engine import writing
from qingshan.store.identity import add_user
from qingshan.web.site import create_site
from web_world import PASSWORD, build_world

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass(frozen=True)
class PagesWorld:
    grids: dict[str, int]
    alarms: dict[str, int]


def build_pages_world(engine: Engine) -> PagesWorld:
    """The web world, its alarms and a second analyst (复核 needs someone besides the closer)."""
    grids = build_world(engine)
    alarms = raise_alarms(engine)
    with writing(engine, "test:world") as session:
        add_user(session, "analyst2", "analyst", password=PASSWORD)
    return PagesWorld(grids, alarms)


class Visitor:
    """A signed-in browser of the site: GETs, and form POSTs carrying the page's CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def get(self, url: str, **options: Any) -> Response:
        return self.client.get(url, **options)

    def csrf(self) -> str:
        found = CSRF.search(self.client.get("/").text)
        assert found is not None
        return found.group(1)

    def post(self, url: str, data: dict[str, str] | None = None, **options: Any) -> Response:
        form = {"csrf": self.csrf(), **(data or {})}
        return self.client.post(url, data=form, follow_redirects=False, **options)


def signed_in_as(engine: Engine, username: str) -> Visitor:
    """A new client signed in through the login form as ``username`` (password PASSWORD)."""
    client = TestClient(create_site(engine))
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return Visitor(client)
