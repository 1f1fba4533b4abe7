"""Shared by the alarms and cases page tests: the web world with alarms, and clients signed in
as its users through the login form (the officer holds grid G00 only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select

from alarm_world import raise_alarms
from qingshan.services import cases
from qingshan.services.case_workflow import beijing_day
from qingshan.store.engine import writing
from qingshan.store.identity import add_user
from qingshan.store.models import Alarm, User
from qingshan.store.types import utc_now
from qingshan.web.site import create_site
from web_world import PASSWORD, build_world

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass(frozen=True)
class PagesWorld:
    alarms: dict[str, int]
    """Site code → id of its alarm (see :mod:`alarm_world`)."""


def add_alarms_and_reviewer(engine: Engine) -> PagesWorld:
    """Over the web world: its alarms and a second analyst (复核 needs someone besides the
    closer)."""
    alarms = raise_alarms(engine)
    with writing(engine, "test:world") as session:
        add_user(session, "analyst2", "analyst", password=PASSWORD)
    return PagesWorld(alarms)


def build_pages_world(engine: Engine) -> PagesWorld:
    build_world(engine)
    return add_alarms_and_reviewer(engine)


def open_sample_case(engine: Engine, world: PagesWorld) -> int:
    """A case opened by the officer from the AIR-01 alarm and assigned (for page checks)."""
    with writing(engine, "test:world") as session:
        officer = session.scalars(select(User).where(User.username == "officer")).one()
        actor = cases.actor_for_user(session, officer.id, "user:officer")
        alarm = session.get_one(Alarm, world.alarms["AIR-01"])
        assert alarm.grid_id is not None
        case = cases.open_case_from_alarm(
            session,
            alarm_id=alarm.id,
            site_id=alarm.site_id,
            grid_id=alarm.grid_id,
            description="PM2.5 超标，疑似工地扬尘",
            actor=actor,
        )
        deadline = beijing_day(utc_now()) + timedelta(days=7)
        cases.transition(
            session, actor, case.id, "assigned", responsible_unit="某建筑公司", deadline=deadline
        )
        return case.id


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
