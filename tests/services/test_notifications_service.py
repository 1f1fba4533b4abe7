"""Notifications on the store (SQLite and PostgreSQL): routing by role and grid, grouping,
group wait, quiet hours, failed deliveries retried, and a webhook to a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import Engine, select

from case_world import World, build_world
from qingshan.services import cases, notifications
from qingshan.store.case_models import NotificationDelivery, NotificationQueue
from qingshan.store.engine import reading, writing
from qingshan.store.types import utc_now

# 2026-11-25 10:00 and 23:30 in Beijing (UTC+8).
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


class Recorder:
    """A channel that keeps what it is given (as an SMS adapter would send it)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, notifications.Message]] = []

    def send(self, target: str, message: notifications.Message) -> None:
        self.sent.append((target, message))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    channel = Recorder()
    monkeypatch.setitem(notifications.CHANNELS, "recorder", channel)
    return channel


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def route(engine: Engine, name: str, **fields) -> int:
    with writing(engine, "test") as session:
        return notifications.add_route(session, name, **fields).id


def tell(engine: Engine, grid_id: int, title: str, roles=("grid_officer", "analyst"), at=DAYTIME):
    with writing(engine, "test") as session:
        return notifications.notify(
            session,
            kind="case.opened",
            title=title,
            body="扬尘",
            roles=roles,
            grid_id=grid_id,
            at=at,
        ).id


def dispatch(engine: Engine, now: datetime) -> notifications.DispatchResult:
    with writing(engine, "test") as session:
        return notifications.dispatch(session, now=now)


def test_routing_by_role_and_grid_with_grouping(engine, world, recorder) -> None:
    route(
        engine, "网格一", channel="recorder", target="g1", role="grid_officer", grid_id=world.grid1
    )
    route(
        engine, "网格二", channel="recorder", target="g2", role="grid_officer", grid_id=world.grid2
    )
    route(engine, "分局", channel="recorder", target="bureau", role="analyst")
    route(engine, "领导", channel="recorder", target="admin", role="admin")
    first = tell(engine, world.grid1, "新问题 1")
    second = tell(engine, world.grid1, "新问题 2")
    third = tell(engine, world.grid2, "新问题 3")
    result = dispatch(engine, DAYTIME)
    assert (result.sent, result.failed, result.held) == (3, 0, 0)
    received = {target: message for target, message in recorder.sent}
    assert set(received) == {"g1", "g2", "bureau"}  # nothing is addressed to admins
    assert received["g1"].notification_ids == (first, second)  # grouped in one message
    assert received["g1"].subject == "2 条通知"
    assert received["g2"].notification_ids == (third,)
    assert received["bureau"].notification_ids == (first, second, third)
    assert dispatch(engine, DAYTIME).sent == 0  # delivered once only
    with reading(engine) as session:
        deliveries = session.scalars(select(NotificationDelivery)).all()
    assert sorted(d.target for d in deliveries) == ["bureau", "g1", "g2"]
    assert all(d.status == "sent" for d in deliveries)


def test_quiet_hours_hold_then_send_grouped(engine, world, recorder) -> None:
    route(
        engine,
        "夜间静默",
        channel="recorder",
        role="grid_officer",
        quiet_start="22:00",
        quiet_end="07:00",
    )
    tell(engine, world.grid1, "夜里 1", at=NIGHT)
    tell(engine, world.grid2, "夜里 2", at=NIGHT + timedelta(minutes=20))
    assert dispatch(engine, NIGHT + timedelta(hours=1)).held == 1
    assert recorder.sent == []
    morning = datetime(2026, 11, 25, 23, 5, tzinfo=UTC)  # 07:05 on the 26th in Beijing
    assert dispatch(engine, morning).sent == 1
    ((_, message),) = recorder.sent
    assert message.text.splitlines() == ["1. 夜里 1: 扬尘", "2. 夜里 2: 扬尘"]


def test_group_wait_lets_a_group_fill(engine, world, recorder) -> None:
    route(engine, "等一等", channel="recorder", group_wait_seconds=300)
    tell(engine, world.grid1, "第一条", at=DAYTIME)
    assert dispatch(engine, DAYTIME + timedelta(minutes=4)).held == 1
    tell(engine, world.grid1, "第二条", at=DAYTIME + timedelta(minutes=4))
    assert dispatch(engine, DAYTIME + timedelta(minutes=5)).sent == 1
    assert len(recorder.sent[0][1].notification_ids) == 2


def test_unknown_channel_or_bad_quiet_hours_are_refused(engine, world) -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        route(engine, "短信", channel="sms")
    with pytest.raises(ValueError, match="HH:MM"):
        route(engine, "坏", channel="log", quiet_start="25:00", quiet_end="07:00")


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    answer = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Hook.received.append(json.loads(self.rfile.read(length).decode("utf-8")))
        self.send_response(Hook.answer)
        self.end_headers()

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Hook.received, Hook.answer = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


def test_webhook_delivery_to_a_local_server(engine, world, webhook) -> None:
    route(engine, "企业微信群", channel="webhook", target=webhook, grid_id=world.grid1)
    Hook.answer = 500
    first = tell(engine, world.grid1, "新问题 QS-G-01")
    assert dispatch(engine, DAYTIME).failed == 1
    with reading(engine) as session:
        failed = session.scalars(select(NotificationDelivery)).one()
        waiting = session.scalars(select(NotificationQueue)).one()
    assert failed.status == "failed" and "500" in failed.error
    assert waiting.delivery_id is None  # kept for the next run
    Hook.answer = 200
    second = tell(engine, world.grid1, "逾期督办")
    assert dispatch(engine, DAYTIME).sent == 1
    assert len(Hook.received) == 2
    body = Hook.received[-1]
    assert body["route"] == "企业微信群"
    assert body["notification_ids"] == [first, second]
    assert "新问题 QS-G-01" in body["text"] and "逾期督办" in body["text"]


def test_case_moves_reach_only_their_grids_route(engine, world, recorder) -> None:
    route(
        engine, "网格一", channel="recorder", target="g1", role="grid_officer", grid_id=world.grid1
    )
    analyst = world.actor(engine, "analyst")
    with writing(engine, analyst.name) as session:
        for grid_id, text in ((world.grid1, "油烟扰民"), (world.grid2, "噪声扰民")):
            cases.open_case(
                session,
                analyst,
                source="complaint",
                grid_id=grid_id,
                category="投诉",
                description=text,
            )
    dispatch(engine, utc_now())
    ((target, message),) = recorder.sent
    assert target == "g1"
    assert message.subject.startswith("新问题 QS-G-01-") and "油烟扰民" in message.text
