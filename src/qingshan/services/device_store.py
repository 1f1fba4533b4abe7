"""What the device channels (HJ 212 over TCP, MQTT) write, and the writer that commits it.

Every channel turns what it receives into :class:`Delivery` objects — readings, device events,
rejects, "device seen" times — and hands them to one :class:`BatchWriter`. The writer commits
the deliveries of many connections together, in one transaction every ``max_delay`` seconds
(or sooner when ``max_packets`` have queued), and only then resolves each delivery's future;
the channel answers the device (HJ 212 9014) in that future's callback. So an answer always
follows the commit of what it answers, while the database sees a few large batches per second
instead of one small transaction per packet (``benchmarks/bench_hj212_server.py``).

Several batches may commit at once on PostgreSQL (``commits``, default 1): while one waits
for the database (COPY, the commit's flush to disk) the next is prepared and sent. On the
2-core development VM two gave no measurable gain (5,010 packets/s with one, 4,349–4,912 with
two, same load; docs/hj212.md), hence the default. Concurrent batches are safe in the store
(keys locked in key order, see ``store/readings.py``; the same holds for several server
processes). The alarm rules are
evaluated after the commit, off the commit path: one evaluation at a time, over everything
committed since the last one began, so a slow evaluation delays alarms, never answers.

If a batch is refused because of its content (``ValueError`` from the readings path — one key
with two values in the batch, an unknown site), its deliveries are committed one by one; one
that is refused on its own becomes a reject (``store_refused``) and is not answered. A database
failure resolves the futures with the error: nothing is answered, devices re-send.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from qingshan.services.alerting import evaluate_after_commit
from qingshan.store import audit
from qingshan.store.engine import reading, writing
from qingshan.store.models import Device, DeviceEvent, RejectedPacket, Site
from qingshan.store.readings import INPUT_SCHEMA, upsert_readings
from qingshan.store.types import utc_now

log = logging.getLogger(__name__)

ReadingRow = tuple[int, int, str, datetime, float, str]
"""(site_id, parameter_id, period, period_start in UTC, value in the canonical unit, flag)."""

LIVENESS_WRITE_INTERVAL_S = 10.0
"""A device's ``last_seen_at`` is written at most this often: liveness is judged in reporting
intervals (minutes), and one UPDATE per packet would double the database's work."""

OFFLINE_AFTER_INTERVALS = 3
"""A device is offline when silent for more than this many reporting intervals (issue 4,
shared/reference/platform.md finding 10)."""


@dataclass(frozen=True)
class Reject:
    """One refused packet or message, kept with its raw bytes (table ``rejected_packets``)."""

    channel: str
    peer: str
    reason: str
    detail: str
    raw: bytes
    mn: str | None = None
    received_at: datetime = field(default_factory=utc_now)

    def row(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at,
            "channel": self.channel,
            "peer": self.peer[:200],
            "mn": None if self.mn is None else self.mn[:64],
            "reason": self.reason,
            "detail": self.detail,
            "raw": self.raw,
        }


@dataclass(frozen=True)
class Event:
    """A device's report that is not a reading (table ``device_events``)."""

    device_id: int
    cn: str
    data_time: datetime | None
    payload: dict[str, Any]
    received_at: datetime = field(default_factory=utc_now)


@dataclass
class Delivery:
    """What one read from one connection (or one MQTT message) asks the store to keep.

    ``raw`` holds the bytes of the packets whose readings are in ``readings``, so that they can
    be kept as a reject if the store refuses them.
    """

    channel: str
    peer: str
    source: str
    readings: list[ReadingRow] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    seen: dict[int, datetime] = field(default_factory=dict)
    raw: list[bytes] = field(default_factory=list)
    packets: int = 0

    def refused(self, error: Exception) -> Delivery:
        """This delivery as the store could keep it: its readings turned into a reject."""
        reject = Reject(self.channel, self.peer, "store_refused", str(error), b"".join(self.raw))
        return Delivery(
            self.channel,
            self.peer,
            self.source,
            events=self.events,
            rejects=[*self.rejects, reject],
            seen=self.seen,
            packets=self.packets,
        )


# ------------------------------------------------------------------------------------------
# Committing
# ------------------------------------------------------------------------------------------


def readings_frame(rows: list[ReadingRow]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=INPUT_SCHEMA, orient="row")


def _seen_updates(
    deliveries: Iterable[Delivery], persisted: dict[int, datetime]
) -> dict[int, datetime]:
    """The ``last_seen_at`` values worth writing (none younger than the write interval)."""
    latest: dict[int, datetime] = {}
    for delivery in deliveries:
        for device_id, when in delivery.seen.items():
            if device_id not in latest or when > latest[device_id]:
                latest[device_id] = when
    return {
        device_id: when
        for device_id, when in latest.items()
        if device_id not in persisted
        or (when - persisted[device_id]).total_seconds() >= LIVENESS_WRITE_INTERVAL_S
    }


def _write_side_tables(
    session: Session, deliveries: list[Delivery], seen: dict[int, datetime], actor: str
) -> None:
    rejects = [reject.row() for delivery in deliveries for reject in delivery.rejects]
    events = [
        {
            "device_id": event.device_id,
            "cn": event.cn,
            "data_time": event.data_time,
            "received_at": event.received_at,
            "payload": event.payload,
        }
        for delivery in deliveries
        for event in delivery.events
    ]
    if rejects:
        session.execute(insert(RejectedPacket), rejects)
    if events:
        session.execute(insert(DeviceEvent), events)
    if seen:
        table = Device.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("device"))
            .values(last_seen_at=bindparam("seen"))
        )
        session.connection().execute(
            statement, [{"device": key, "seen": when} for key, when in sorted(seen.items())]
        )
    if rejects or events or seen:
        summary = {"rejects": len(rejects), "events": len(events), "devices_seen": len(seen)}
        audit.record(session, actor, "receive", "device_channels", after=summary)


def commit_deliveries(
    engine: Engine, deliveries: list[Delivery], actor: str, persisted: dict[int, datetime]
) -> list[pl.DataFrame]:
    """Store ``deliveries`` in one transaction; raise if the store refuses any of them.

    ``persisted`` (device id → last written ``last_seen_at``) is updated after the commit.
    Returns the committed readings (one frame per source), for the alarm rules.
    """
    seen = _seen_updates(deliveries, persisted)
    by_source: dict[str, list[ReadingRow]] = defaultdict(list)
    for delivery in deliveries:
        by_source[delivery.source].extend(delivery.readings)
    frames = [(source, readings_frame(rows)) for source, rows in sorted(by_source.items()) if rows]
    with writing(engine, actor) as session:
        for source, frame in frames:
            upsert_readings(session, frame, source=source, actor=actor)
        _write_side_tables(session, deliveries, seen, actor)
    persisted.update(seen)
    return [frame for _source, frame in frames]


@dataclass
class _Queued:
    delivery: Delivery
    future: asyncio.Future[None]


class BatchWriter:
    """Commits deliveries in batches in worker threads; futures resolve after the commit.

    At most ``commits`` batches commit at once; deliveries arriving meanwhile form the next
    batch, so under load batches grow and transactions stay few. ``max_delay`` bounds how long
    a lone delivery waits. SQLite has one writer at a time, so there ``commits`` is 1.
    """

    def __init__(
        self,
        engine: Engine,
        actor: str,
        *,
        max_packets: int = 5000,
        max_delay: float = 0.02,
        commits: int = 1,
    ) -> None:
        self.engine = engine
        self.actor = actor
        self.max_packets = max_packets
        self.max_delay = max_delay
        self.commits = 1 if engine.dialect.name == "sqlite" else max(1, commits)
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._persisted: dict[int, datetime] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._collecting = False
        self._running = False
        self._to_evaluate: list[pl.DataFrame] = []
        self._evaluating: asyncio.Task[None] | None = None
        self.batches = 0
        self.committed_packets = 0

    def submit(self, delivery: Delivery) -> asyncio.Future[None]:
        """Queue ``delivery``; the future resolves once it is committed (or fails)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Queued(delivery, future))
        return future

    async def run(self) -> None:
        """Commit batches until cancelled; on cancellation nothing queued is answered."""
        self._running = True
        slots = asyncio.Semaphore(self.commits)
        try:
            while True:
                await slots.acquire()
                batch = await self._next_batch()
                task = asyncio.create_task(self._commit(batch))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                task.add_done_callback(lambda _done: slots.release())
                self._collecting = False
        finally:
            self._running = False
            for task in self._in_flight:
                task.cancel()
            if self._evaluating is not None:
                self._evaluating.cancel()

    def _busy(self) -> bool:
        return bool(
            not self._queue.empty()
            or self._collecting
            or self._in_flight
            or self._to_evaluate
            or (self._evaluating is not None and not self._evaluating.done())
        )

    async def idle(self) -> None:
        """Wait until everything queued so far is committed and evaluated (a graceful stop)."""
        while self._running and self._busy():
            await asyncio.sleep(self.max_delay / 2)

    async def _next_batch(self) -> list[_Queued]:
        batch = [await self._queue.get()]
        self._collecting = True  # from here until the batch is handed on, the writer is busy
        packets = batch[0].delivery.packets
        deadline = asyncio.get_running_loop().time() + self.max_delay
        while packets < self.max_packets:
            if self._queue.empty():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:  # not wait_for: on 3.11 it can swallow a cancellation (a stop)
                    async with asyncio.timeout(remaining):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            batch.append(item)
            packets += item.delivery.packets
        return batch

    async def _commit(self, batch: list[_Queued]) -> None:
        deliveries = [item.delivery for item in batch]
        outcomes, stored = await asyncio.to_thread(self._commit_in_thread, deliveries)
        for item, outcome in zip(batch, outcomes, strict=True):
            if item.future.done():
                continue
            if outcome is None:
                item.future.set_result(None)
            else:
                item.future.set_exception(outcome)
        self.batches += 1
        self.committed_packets += sum(d.packets for d in deliveries)
        if stored:  # the devices are answered already; now the alarm rules (docs/alerting.md)
            self._to_evaluate.extend(stored)
            if self._evaluating is None or self._evaluating.done():
                self._evaluating = asyncio.create_task(self._evaluate())

    async def _evaluate(self) -> None:
        """Evaluate the alarm rules over what was committed, until nothing is left."""
        while self._to_evaluate:
            frames, self._to_evaluate = self._to_evaluate, []
            batch = pl.concat(frames) if len(frames) > 1 else frames[0]
            await asyncio.to_thread(evaluate_after_commit, self.engine, batch, actor=self.actor)

    def _commit_in_thread(
        self, deliveries: list[Delivery]
    ) -> tuple[list[Exception | None], list[pl.DataFrame]]:
        """None per committed delivery, else the error that refused it; the stored readings."""
        try:
            stored = commit_deliveries(self.engine, deliveries, self.actor, self._persisted)
            return [None] * len(deliveries), stored
        except ValueError as refusal:
            if len(deliveries) == 1:
                return [self._keep_refused(deliveries[0], refusal)], []
        except Exception as error:  # the database itself failed: answer nothing
            log.exception("commit of %d deliveries failed", len(deliveries))
            return [error] * len(deliveries), []
        stored = []
        outcomes = [self._commit_alone(delivery, stored) for delivery in deliveries]
        return outcomes, stored

    def _commit_alone(self, delivery: Delivery, stored: list[pl.DataFrame]) -> Exception | None:
        try:
            stored += commit_deliveries(self.engine, [delivery], self.actor, self._persisted)
        except ValueError as refusal:
            return self._keep_refused(delivery, refusal)
        except Exception as error:
            log.exception("commit of a delivery from %s failed", delivery.peer)
            return error
        return None

    def _keep_refused(self, delivery: Delivery, refusal: ValueError) -> Exception:
        """Keep what the store refused as a reject; the delivery is not answered."""
        try:
            kept = delivery.refused(refusal)
            commit_deliveries(self.engine, [kept], self.actor, self._persisted)
        except Exception as error:
            log.exception("could not keep a refused delivery from %s", delivery.peer)
            return error
        return refusal


# ------------------------------------------------------------------------------------------
# Reading back: rejects and liveness
# ------------------------------------------------------------------------------------------


def list_rejects(
    engine: Engine, *, since: datetime | None = None, channel: str | None = None, limit: int = 1000
) -> list[RejectedPacket]:
    """Kept rejects, oldest first."""
    statement = select(RejectedPacket).order_by(RejectedPacket.received_at, RejectedPacket.id)
    if since is not None:
        statement = statement.where(RejectedPacket.received_at >= since)
    if channel is not None:
        statement = statement.where(RejectedPacket.channel == channel)
    with reading(engine) as session:
        return list(session.scalars(statement.limit(limit)))


def liveness(last_seen: datetime | None, interval_minutes: int, now: datetime) -> str:
    """``online``, ``offline`` (silent for more than 3 reporting intervals) or ``never``."""
    if last_seen is None:
        return "never"
    silent = (now - last_seen).total_seconds()
    return "offline" if silent > OFFLINE_AFTER_INTERVALS * interval_minutes * 60 else "online"


@dataclass(frozen=True)
class DeviceStatus:
    mn: str
    site: str
    interval_minutes: int
    last_seen_at: datetime | None
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "mn": self.mn,
            "site": self.site,
            "interval_minutes": self.interval_minutes,
            "last_seen_at": None if self.last_seen_at is None else self.last_seen_at.isoformat(),
            "status": self.status,
        }


def device_statuses(engine: Engine, now: datetime | None = None) -> list[DeviceStatus]:
    """Every active device with its last-seen time and liveness, by MN."""
    now = now or utc_now()
    statement = (
        select(Device.mn, Site.code, Site.reporting_interval_minutes, Device.last_seen_at)
        .join(Site, Site.id == Device.site_id)
        .where(Device.active)
        .order_by(Device.mn)
    )
    with reading(engine) as session:
        rows = session.execute(statement).all()
    return [
        DeviceStatus(mn, site, interval, seen, liveness(seen, interval, now))
        for mn, site, interval, seen in rows
    ]
