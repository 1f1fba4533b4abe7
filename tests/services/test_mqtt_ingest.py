"""MQTT readings through the real Mosquitto (127.0.0.1:1883), on SQLite and PostgreSQL: stored
through the same upsert path, idempotent, malformed messages kept as rejects."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import pytest
from sqlalchemy import Engine, func, select

from qingshan.services.device_store import list_rejects
from qingshan.services.mqtt_ingest import Broker, Registry, parse_message, subscribe
from qingshan.store.models import Reading

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
    {"parameter": "a34002", "period": "hour", "start": "2026-01-01T08:00:00+08:00",
     "value": 61.5, "flag": "M"},
)


def stored(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        query = select(Reading.value, Reading.flag, Reading.source).order_by(Reading.value)
        return [tuple(row) for row in connection.execute(query)]


@pytest.mark.skipif(broker_unreachable() is not None, reason=str(broker_unreachable()))
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
            subscribe(engine, BROKER, prefix=prefix, ready=ready, max_delay=0.01)
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
        {"parameter": "pm25", "period": "day", "start": "2026-01-02T00:00:00+08:00",
         "value": "nine"},
        {"parameter": "nonsense", "period": "day", "start": "2026-01-03T00:00:00+08:00",
         "value": 9},
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
