"""``qingshan mqtt run``: readings published as JSON on ``qingshan/<site>/readings``.

A message is a JSON object ``{"readings": [ … ]}`` (or the bare list), each reading
``{"parameter": "pm25", "period": "hour", "start": "2026-01-01T08:00:00+08:00",
"value": 35.0, "flag": "N"}`` — the fields of the HTTP batch: ``parameter`` is a canonical key
or an HJ 212 code (converted with its factor), ``period`` one of realtime/minute/hour/day,
``start`` the period start in ISO 8601 **with its offset** (the store never guesses a zone),
on the period's boundary (days: Beijing midnight), ``flag`` optional (N). The site is the topic's
second level (a site code).

A message is stored whole or not at all: any bad reading makes the whole message a reject
(table ``rejected_packets``, channel ``mqtt``, peer = the topic, raw = the payload) naming
each bad item. Stored through the same :class:`~qingshan.services.device_store.BatchWriter`
and ``upsert_readings`` path as HJ 212: a re-sent message changes nothing.

Acknowledgement after the commit: the subscription is QoS 1 in a persistent session
(``clean_session=False`` under a fixed client id) with manual acknowledgement, and a message's
PUBACK is sent only when the transaction holding it (as readings or as a reject) has
committed. A consumer that dies between receipt and commit has acknowledged nothing; the broker
keeps the session and redelivers those messages when the same client id connects again
(MQTT 3.1.1 §4.4), and the re-delivery is a no-op for whatever did get committed. PUBACKs go
out in the order the messages arrived (§4.6): batches commit one after the other and their
futures resolve in submission order.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
from sqlalchemy import Engine

from qingshan.services.device_store import BatchWriter, Delivery, ReadingRow, Reject
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.engine import reading
from qingshan.store.models import FLAGS, PERIODS
from qingshan.store.registry import ParameterIndex, site_index

log = logging.getLogger(__name__)

CHANNEL = "mqtt"
ACTOR = "mqtt:subscriber"
DEFAULT_PREFIX = "qingshan"
DEFAULT_CLIENT_ID = "qingshan-mqtt-ingest"
"""The persistent session's name: a restarted subscriber under the same id gets the messages it
had not acknowledged. Two subscribers must not share it (the broker drops the older one)."""
SITES_REFRESH_S = 1.0
_ZONE = ZoneInfo(LOCAL_TIME_ZONE)


class _BadMessage(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class Registry:
    """Sites by code and the parameter index, reloaded when an unknown site shows up."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sites: dict[str, tuple[int, str]] = {}
        self.parameters: ParameterIndex | None = None
        self._loaded_at = -math.inf
        self.reload()

    def reload(self) -> None:
        with reading(self.engine) as session:
            self.sites = site_index(session)
            self.parameters = ParameterIndex(session)
        self._loaded_at = time.monotonic()

    def site(self, code: str) -> tuple[int, str] | None:
        if code not in self.sites and time.monotonic() - self._loaded_at > SITES_REFRESH_S:
            self.reload()
        return self.sites.get(code)


def _on_boundary(period: str, start: datetime) -> bool:
    local = start.astimezone(_ZONE)
    if period == "realtime":
        return True
    if local.second or local.microsecond:
        return False
    return (period == "minute" or local.minute == 0) and (period != "day" or local.hour == 0)


def _reading(item: Any, site: tuple[int, str], registry: Registry) -> ReadingRow:
    """One reading of a message; raises ValueError saying what is wrong with it."""
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    missing = [name for name in ("parameter", "period", "start", "value") if name not in item]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    period, flag = item["period"], item.get("flag") or "N"
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    if flag not in FLAGS:
        raise ValueError(f"flag {flag!r} is not one of {' '.join(FLAGS)}")
    value = item["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"value {value!r} is not a finite number")
    start = datetime.fromisoformat(str(item["start"]))  # ValueError names the text
    if start.tzinfo is None:
        raise ValueError(f"start {item['start']!r} has no UTC offset")
    if not _on_boundary(period, start):
        raise ValueError(f"start {item['start']!r} is not the start of a {period} (Beijing time)")
    assert registry.parameters is not None
    match = registry.parameters.match(str(item["parameter"]), site[1])
    if match is None:
        raise ValueError(f"unknown parameter {item['parameter']!r} at a {site[1]}")
    utc = start.astimezone(UTC)
    return (site[0], match.parameter_id, period, utc, float(value) * match.factor, flag)


def parse_message(topic: str, payload: bytes, registry: Registry, prefix: str) -> Delivery:
    """The delivery for one message: its readings, or one reject saying why not."""
    levels = topic.split("/")
    code = levels[1] if len(levels) == 3 else ""
    delivery = Delivery(CHANNEL, topic, f"mqtt:{code}"[:64], packets=1)
    try:
        if levels[0] != prefix or levels[2:] != ["readings"] or not code:
            raise _BadMessage("bad_topic", f"expected {prefix}/<site>/readings")
        site = registry.site(code)
        if site is None:
            raise _BadMessage("unknown_site", f"no site with code {code!r}")
        delivery.readings = _readings(payload, site, registry)
    except _BadMessage as bad:
        delivery.rejects.append(Reject(CHANNEL, topic, bad.reason, str(bad), payload))
    return delivery


def _readings(payload: bytes, site: tuple[int, str], registry: Registry) -> list[ReadingRow]:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _BadMessage("bad_json", str(error)) from None
    items = document.get("readings") if isinstance(document, dict) else document
    if not isinstance(items, list) or not items:
        raise _BadMessage("bad_json", 'expected {"readings": [ … ]} or a non-empty list')
    rows, problems = [], []
    for number, item in enumerate(items):
        try:
            rows.append(_reading(item, site, registry))
        except ValueError as error:
            problems.append(f"readings[{number}]: {error}")
    if problems:
        raise _BadMessage("bad_reading", "; ".join(problems[:20]))
    return rows


@dataclass(frozen=True)
class Broker:
    host: str = "127.0.0.1"
    port: int = 1883

    @classmethod
    def parse(cls, text: str) -> Broker:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "1883")
        return cls(host or "127.0.0.1", int(port))


class StoreFailure(Exception):
    """The store failed (not a refusal of content): the subscriber stops without acknowledging,
    and the broker redelivers the unacknowledged messages at the next start."""


def _acknowledger(
    acknowledge: Callable[[], object], failed: asyncio.Future[BaseException]
) -> Callable[[asyncio.Future[None]], None]:
    """Done-callback of a delivery: acknowledge once it is committed (as readings or, when the
    store refused its content, as a reject — ``ValueError``, see ``BatchWriter``); on any other
    failure acknowledge nothing and report the failure."""

    def done(future: asyncio.Future[None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None or isinstance(error, ValueError):
            acknowledge()
        elif not failed.done():
            failed.set_result(error)

    return done


async def _consume(
    client: aiomqtt.Client,
    writer: BatchWriter,
    registry: Registry,
    prefix: str,
    failed: asyncio.Future[BaseException],
) -> None:
    paho = client._client  # aiomqtt 2.5 has no acknowledgement API; its paho 2 client has
    async for message in client.messages:
        payload = message.payload
        raw = payload if isinstance(payload, bytes) else str(payload).encode()
        delivery = parse_message(str(message.topic), raw, registry, prefix)
        acknowledge = functools.partial(paho.ack, message.mid, message.qos)
        writer.submit(delivery).add_done_callback(_acknowledger(acknowledge, failed))


async def subscribe(
    engine: Engine,
    broker: Broker,
    *,
    prefix: str = DEFAULT_PREFIX,
    client_id: str = DEFAULT_CLIENT_ID,
    ready: asyncio.Event | None = None,
    max_delay: float = 0.05,
) -> None:
    """Subscribe to ``<prefix>/+/readings`` (QoS 1) and store messages until cancelled.

    Each message is acknowledged to the broker after its commit (module docstring). Cancelling
    commits and acknowledges what was received before disconnecting.

    Raises
    ------
    StoreFailure
        When a commit failed for another reason than the content (database down): nothing
        after the failure is acknowledged.
    """
    registry = Registry(engine)
    writer = BatchWriter(engine, ACTOR, max_delay=max_delay)
    writing_task = asyncio.create_task(writer.run())
    failed: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    client = aiomqtt.Client(broker.host, broker.port, identifier=client_id, clean_session=False)
    client._client.manual_ack_set(True)  # before connecting: redeliveries arrive first
    try:
        async with client:
            await client.subscribe(f"{prefix}/+/readings", qos=1)
            if ready is not None:
                ready.set()
            consuming = asyncio.create_task(_consume(client, writer, registry, prefix, failed))
            try:
                either: set[asyncio.Future[Any]] = {consuming, failed}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                consuming.cancel()
                if not failed.done():
                    await writer.idle()  # commit and acknowledge before disconnecting
            if failed.done():
                raise StoreFailure(f"the store failed: {failed.result()}") from failed.result()
            await consuming  # it ended: re-raise the broker error that ended it
    finally:
        writing_task.cancel()
        await asyncio.gather(writing_task, return_exceptions=True)
