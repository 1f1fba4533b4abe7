"""A small district for the problem-list tests: two grids, a site, and one user per role (grid
officers assigned to one grid each through ``user_grids``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from qingshan.services import cases, rules
from qingshan.services.case_workflow import Actor
from qingshan.store.engine import reading, writing
from qingshan.store.identity import add_user, set_user_grids
from qingshan.store.models import Alarm
from qingshan.store.registry import ensure_grid, upsert_site

USERS = {
    "officer1": ("grid_officer", ["G-01"]),
    "officer2": ("grid_officer", ["G-02"]),
    "analyst": ("analyst", []),
    "analyst2": ("analyst", []),
    "factory": ("enterprise", []),
}


@dataclass(frozen=True)
class World:
    grid1: int
    grid2: int
    site: int
    user_ids: dict[str, int]
    alarm_ids: list[int]

    def actor(self, engine: Engine, username: str) -> Actor:
        with reading(engine) as session:
            return cases.actor_for_user(session, self.user_ids[username], f"user:{username}")


def build_world(engine: Engine) -> World:
    with writing(engine, "test:fixture") as session:
        grids = [
            ensure_grid(
                session,
                district=("420107", "青山区"),
                township=("420107001", "红卫路街道", "street"),
                grid=(code, name),
            ).id
            for code, name in (("G-01", "第一网格"), ("G-02", "第二网格"))
        ]
        site = upsert_site(
            session,
            "AIR1",
            name="红卫路站",
            kind="air_station",
            latitude=30.6,
            longitude=114.4,
            grid_id=grids[0],
        )
        user_ids = {}
        for username, (role, grid_codes) in USERS.items():
            user_ids[username] = add_user(session, username, role).id
            if grid_codes:
                set_user_grids(session, username, grid_codes)
        alarm_ids = _alarms(session, site.id, grids[0], count=3)
        return World(grids[0], grids[1], site.id, user_ids, alarm_ids)


def _alarms(session: Session, site_id: int, grid_id: int, count: int) -> list[int]:
    """``count`` active alarms of one AQI rule at the site, for cases to be opened from."""
    rule = rules.create_rule(
        session,
        code="pm25-150",
        name="PM2.5 IAQI > 150",
        rule_type="aqi",
        parameters={"parameter": "pm25", "level": 150},
        scope=None,
        severity="major",
        actor="test:fixture",
    )
    start = datetime(2026, 6, 1, tzinfo=UTC)
    alarms = [
        Alarm(
            series_key=f"pm25-150:{site_id}:{index}",
            rule_id=rule.id,
            rule_version=1,
            site_id=site_id,
            grid_id=grid_id,
            severity="major",
            started_at=start + timedelta(hours=index),
            last_triggered_at=start + timedelta(hours=index),
        )
        for index in range(count)
    ]
    session.add_all(alarms)
    session.flush()
    return [alarm.id for alarm in alarms]
