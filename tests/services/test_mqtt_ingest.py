"""MQTT readings through the real Mosquitto (127.0.0.1:1883), on SQLite and PostgreSQL: stored
through the same upsert path, idempotent, malformed messages kept as rejects, acknowledged only
after the commit (a consumer killed before its commit gets the message again)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import qingshan
from qingshan.services.device_store import list_rejects
from qingshan.services.mqtt_ingest import (
    Broker,
    Registry,
    _acknowledger,
    parse_message,
    subscribe,
)
from qingshan.store.models import Reading, ReadingRevision

BROKER = Broker("127.0.0.1", 1883)


def broker_unreachable() -> str | None:
    try:
        socket.create_connection((BROKER.host, BROKER.port), timeout=1).close()
    except OSError as error:
        return f"no MQTT broker at {BROKER.host}:{BROKER.port} ({error})"
    return None


def readings(*items: dict) -> bytes:
    return json.dumps({"readings": list(items)}).encode()


GOOD = readings(
    {"parameter": "pm25", "period": "hour", "start": "2026-01-01T08:00:00+08:00", "value": 35},
    {
        "parameter": "a34002",
        "period": "hour",
        "start": "2026-01-01T08:00:00+08:00",
        "value": 61.5,
        "flag": "M",
    },
)


def stored(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        query = select(Reading.value, Reading.flag, Reading.source).order_by(Reading.value)
        return [tuple(row) for row in connection.execute(query)]


async def forget_session(client_id: str) -> None:
    """Drop the broker's persistent session of ``client_id`` (tests leave none behind)."""
    import aiomqtt

    async with aiomqtt.Client(BROKER.host, BROKER.port, identifier=client_id, clean_session=True):
        pass


async def publish(topic: str, *payloads: bytes) -> None:
    import aiomqtt

    async with aiomqtt.Client(BROKER.host, BROKER.port) as client:
        for payload in payloads:
            await client.publish(topic, payload, qos=1)


needs_broker = pytest.mark.skipif(
    broker_unreachable() is not None, reason=str(broker_unreachable())
)


@needs_broker
def test_round_trip_through_mosquitto(engine: Engine, sites: dict[str, int]) -> None:
    import aiomqtt

    prefix = f"qs-test-{uuid.uuid4().hex[:8]}"  # no other test run sees these topics
    bad_json = b'{"readings": [ {"parameter": '
    bad_items = readings(
        {"parameter": "pm25", "period": "hour", "start": "2026-01-01T08:30:00+08:00", "value": 1},
        {"parameter": "pm25", "period": "hour", "start": "2026-01-01T09:00:00", "value": 1},
    )

    async def scenario() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(
            subscribe(engine, BROKER, prefix=prefix, client_id=prefix, ready=ready, max_delay=0.01)
        )
        await asyncio.wait_for(ready.wait(), 5)
        async with aiomqtt.Client(BROKER.host, BROKER.port) as client:
            for payload in (GOOD, GOOD, bad_json, bad_items):
                await client.publish(f"{prefix}/AIR1/readings", payload, qos=1)
            await client.publish(f"{prefix}/NOWHERE/readings", GOOD, qos=1)
        for _ in range(200):
            if len(list_rejects(engine)) == 3:
                break
            await asyncio.sleep(0.025)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await forget_session(prefix)

    asyncio.run(scenario())
    assert stored(engine) == [(35.0, "N", "mqtt:AIR1"), (61.5, "M", "mqtt:AIR1")]
    rejects = list_rejects(engine)
    assert [(r.channel, r.reason, r.raw) for r in rejects] == [
        ("mqtt", "bad_json", bad_json),
        ("mqtt", "bad_reading", bad_items),
        ("mqtt", "unknown_site", GOOD),
    ]
    assert "readings[0]: start '2026-01-01T08:30:00+08:00' is not the start of a hour" in (
        rejects[1].detail
    )
    assert "readings[1]: start '2026-01-01T09:00:00' has no UTC offset" in rejects[1].detail


def test_a_message_is_stored_whole_or_not_at_all(engine: Engine, sites: dict[str, int]) -> None:
    registry = Registry(engine)
    one_bad = readings(
        {"parameter": "pm25", "period": "day", "start": "2026-01-01T00:00:00+08:00", "value": 9},
        {
            "parameter": "pm25",
            "period": "day",
            "start": "2026-01-02T00:00:00+08:00",
            "value": "nine",
        },
        {
            "parameter": "nonsense",
            "period": "day",
            "start": "2026-01-03T00:00:00+08:00",
            "value": 9,
        },
    )
    delivery = parse_message("qingshan/AIR1/readings", one_bad, registry, "qingshan")
    assert delivery.readings == []
    (reject,) = delivery.rejects
    assert reject.detail == (
        "readings[1]: value 'nine' is not a finite number; "
        "readings[2]: unknown parameter 'nonsense' at a air_station"
    )
    topic = parse_message("qingshan/AIR1/values", GOOD, registry, "qingshan")
    assert topic.rejects[0].reason == "bad_topic"
    good = parse_message("qingshan/AIR1/readings", GOOD, registry, "qingshan")
    utc_start = good.readings[0][3]  # 08:00 Beijing time
    assert (utc_start.isoformat(), len(good.readings)) == ("2026-01-01T00:00:00+00:00", 2)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Reading)).scalar_one() == 0


SUBSCRIBER = """
import asyncio, logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(message)s")
from qingshan.services.mqtt_ingest import Broker, subscribe
from qingshan.store import create_store_engine
logging.getLogger("mqtt").setLevel(logging.DEBUG)  # paho's packet log (aiomqtt sets WARNING)
url, prefix, client_id = sys.argv[1:4]
asyncio.run(subscribe(create_store_engine(url), Broker("127.0.0.1", 1883), prefix=prefix,
                      client_id=client_id, max_delay=3600))  # never commits on its own
"""


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for(lines: queue.Queue[str], marker: str, timeout: float = 15.0) -> str:
    while True:
        line = lines.get(timeout=timeout)  # queue.Empty ends the test if it never comes
        if marker in line:
            return line


@needs_broker
def test_a_consumer_killed_before_its_commit_gets_the_message_again(
    engine: Engine, sites: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    """Received but not committed (the first subscriber is SIGKILLed while the message waits in
    its batch): nothing was acknowledged, so the broker redelivers it (DUP set) to the next
    subscriber with the same client id, which stores it — exactly once, no revision."""
    prefix = f"qs-test-{uuid.uuid4().hex[:8]}"
    url = engine.url.render_as_string(hide_password=False)
    source_root = str(Path(qingshan.__file__).parents[1])
    environment = {**os.environ, "PYTHONPATH": source_root}
    first = subprocess.Popen(
        [sys.executable, "-c", SUBSCRIBER, url, prefix, prefix],
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        lines = lines_of(first)
        wait_for(lines, "Received SUBACK")
        asyncio.run(publish(f"{prefix}/AIR1/readings", GOOD))
        assert "q1" in wait_for(lines, "Received PUBLISH")
        time.sleep(0.5)  # time enough for an acknowledgement on receipt to reach the broker
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert stored(engine) == []

    async def restart() -> None:
        task = asyncio.create_task(
            subscribe(engine, BROKER, prefix=prefix, client_id=prefix, max_delay=0.01)
        )
        for _ in range(400):
            if len(stored(engine)) == 2:
                break
            await asyncio.sleep(0.025)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await forget_session(prefix)

    with caplog.at_level("DEBUG", logger="mqtt"):
        asyncio.run(restart())
    assert stored(engine) == [(35.0, "N", "mqtt:AIR1"), (61.5, "M", "mqtt:AIR1")]
    assert any("Received PUBLISH (d1, q1" in record.getMessage() for record in caplog.records)
    with engine.connect() as connection:
        revisions = select(func.count()).select_from(ReadingRevision)
        assert connection.execute(revisions).scalar_one() == 0


def test_acknowledged_only_once_kept_in_the_store() -> None:
    """Committed → ack; refused content (kept as a reject, ValueError) → ack; a store failure →
    no ack, the failure reported; a cancelled delivery → nothing."""

    async def outcome(result: BaseException | None, cancel: bool = False) -> tuple[int, bool]:
        acks: list[int] = []
        failed: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_acknowledger(lambda: acks.append(1), failed))
        if cancel:
            future.cancel()
        elif result is None:
            future.set_result(None)
        else:
            future.set_exception(result)
        await asyncio.sleep(0)
        return len(acks), failed.done()

    assert asyncio.run(outcome(None)) == (1, False)
    assert asyncio.run(outcome(ValueError("one key, two values"))) == (1, False)
    assert asyncio.run(outcome(ConnectionError("database down"))) == (0, True)
    assert asyncio.run(outcome(None, cancel=True)) == (0, False)
