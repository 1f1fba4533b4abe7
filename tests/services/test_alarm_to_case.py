"""End to end on the store: readings → an alarm that escalates → a case opened from it, worked
through 核实 → 交办 → 整改 → 销号 → 复核, and the day's 日调度 and the 问题清单 showing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from case_world import World, build_world
from qingshan.services import alerting, cases, notifications, rules
from qingshan.services.case_workflow import beijing_day
from qingshan.store.case_models import Notification
from qingshan.store.engine import reading, writing
from qingshan.store.models import Alarm, Parameter
from qingshan.store.readings import upsert_readings
from qingshan.store.types import utc_now

HOUR = timedelta(hours=1)


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def ingest_pm25(engine: Engine, site: int, start: datetime, values: list[float]) -> None:
    with reading(engine) as session:
        pm25 = session.scalar(select(Parameter.id).where(Parameter.key == "pm25"))
    frame = pl.DataFrame(
        {
            "site_id": [site] * len(values),
            "parameter_id": [pm25] * len(values),
            "period": ["hour"] * len(values),
            "period_start": [start + i * HOUR for i in range(len(values))],
            "value": values,
            "flag": ["N"] * len(values),
        },
        schema_overrides={"period_start": pl.Datetime("us", "UTC")},
    )
    with writing(engine, "test") as session:
        upsert_readings(session, frame, source="test", actor="test")
    alerting.evaluate_readings(engine, frame)


def test_a_reading_becomes_an_alarm_then_a_reviewed_case(engine, world, tmp_path: Path) -> None:
    """PM2.5 120 then 180 µg/m³ at AIR1 (G-01): hourly IAQI 158 then 230 (HJ 633), over a yellow
    rule at 150 with a red rung at 200 — the alarm opens yellow, escalates to red, is assigned
    to G-01's officer and routed to G-01's route; the officer opens a case from it."""
    with writing(engine, "test") as session:
        rule_id = rules.create_rule(
            session,
            code="pm25-graded",
            name="PM2.5 小时 IAQI",
            rule_type="aqi",
            parameters={"parameter": "pm25", "level": 150, "ladder": {"red": 200}},
            scope=None,
            severity="yellow",
            actor="test",
        ).id
        notifications.add_route(
            session, "一网格", channel="log", role="grid_officer", grid_id=world.grid1
        )
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    ingest_pm25(engine, world.site, hour, [120.0])
    ingest_pm25(engine, world.site, hour + HOUR, [180.0])
    with reading(engine) as session:
        [alarm] = session.scalars(select(Alarm).where(Alarm.rule_id == rule_id)).all()
        alarm_id = alarm.id
        assert (alarm.severity, alarm.peak_value, alarm.assignee) == ("critical", 230.0, "officer1")
        kinds = session.scalars(
            select(Notification.kind).where(Notification.alarm_id == alarm_id)
        ).all()
    assert kinds == ["alarm", "alarm.escalated"]

    officer = world.actor(engine, "officer1")
    with writing(engine, officer.name) as session:
        case = cases.open_case_from_alarm(
            session,
            alarm_id=alarm_id,
            site_id=world.site,
            grid_id=world.grid1,
            description="PM2.5 小时浓度 180 µg/m³，IAQI 230",
            actor=officer,
        )
        case_id = case.id
    steps = [
        ("officer1", "assigned", {"responsible_unit": "青山区城管局", "deadline": None}),
        ("officer1", "rectifying", {}),
        ("officer1", "pending_closure", {}),
        ("analyst", "closed", {}),
        ("analyst2", "reviewed", {}),
    ]
    for username, to_state, extra in steps:
        actor = world.actor(engine, username)
        if to_state == "pending_closure":
            with writing(engine, actor.name) as session:
                cases.add_evidence(
                    session, actor, case_id, data_dir=tmp_path, text="已清扫路面并洒水"
                )
        if "deadline" in extra:
            extra = extra | {"deadline": beijing_day(utc_now()) + timedelta(days=3)}
        with writing(engine, actor.name) as session:
            assert cases.transition(session, actor, case_id, to_state, **extra).state == to_state

    analyst = world.actor(engine, "analyst")
    with reading(engine) as session:
        listed = cases.export_frame(session, analyst, cases.CaseFilter()).to_dicts()
        day = cases.summary(session, analyst, "day", beijing_day(utc_now()))
    [row] = [r for r in listed if r["关联预警"] == str(alarm_id)]
    assert (row["来源"], row["网格编码"], row["状态"], row["责任单位"]) == (
        "预警",
        "G-01",
        "已复核",
        "青山区城管局",
    )
    assert (day["opened_by_source"], day["closed"], day["closed_in_time"], day["reviewed"]) == (
        {"预警": 1},
        1,
        1,
        1,
    )
