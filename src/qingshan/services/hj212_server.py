"""``qingshan hj212 serve``: the HJ 212 TCP receiver (asyncio) that feeds the store.

Per connection one :class:`~qingshan.protocols.hj212.StreamDecoder` and one
:class:`~qingshan.protocols.hj212.SplitAssembler`. Each packet is checked (decoded, MN of a
registered active device, PW) and turned into readings (uploads 2011, 2051, 2061, 2031), a
device event (2021, 2041, 2081 and other commands) or a reject kept with its raw bytes. What
one read produced goes to the shared :class:`~qingshan.services.device_store.BatchWriter`; the
answers (9014 for uploads with the A bit, 9013 for the 1013 notification, HJ 212—2017 表 C.14,
C.50, C.4) are written only after the commit, one per packet and so one per sub-packet.

Choices (``docs/devices.md``):

* value stored: ``-Rtd`` for 2011 (period ``realtime``, DataTime = sampling instant), ``-Avg``
  for 2051/2061/2031 (``minute``/``hour``/``day``, DataTime = period start, HJ 212—2017 表 4);
  the flag is the code's ``-Flag`` (N when absent). ``-Min``/``-Max``/``-Cou`` are not stored.
* codes: HJ/T 212—2005 codes are translated by ST (``hj212_codes.current_code``), then mapped
  with the site's kind and the factor of ``parameter_codes`` (``a21026`` = SO2 µg/m³ at an air
  station, flue SO2 mg/m³ at an outlet).
* a value that cannot be stored (unknown code, unknown flag, not a number, a period start off
  its boundary) is kept in one reject per packet (the packet's other values are stored and the
  packet is answered: re-sending cannot make it better).
* split packets: each part is self-contained (whole pollutant groups and DataTime, 表 C.50), so
  each part's readings are stored and answered on their own — a device that waits for the
  answer to part 1 before sending part 2 (表 C.50's exchange) is never stuck. The assembler
  tracks the groups; a group still incomplete when the connection ends is kept as a reject
  (``incomplete_split``) with the parts' raw bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from qingshan.protocols import hj212, hj212_codes
from qingshan.services import event_loop
from qingshan.services.device_store import BatchWriter, Delivery, Event, ReadingRow, Reject
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.engine import reading
from qingshan.store.models import HJ212_FLAGS, Device, Site
from qingshan.store.registry import ParameterIndex
from qingshan.store.types import utc_now

log = logging.getLogger(__name__)

CHANNEL = "hj212"
SOURCE = "hj212"
ACTOR = "hj212:server"
DEFAULT_PORT = 9212

READING_COMMANDS = {
    "2011": ("realtime", "Rtd"),
    "2051": ("minute", "Avg"),
    "2061": ("hour", "Avg"),
    "2031": ("day", "Avg"),
}
"""Upload → (period, field holding the value) (HJ 212—2017 表 9, 表 C.14–C.18)."""

ANSWERS = frozenset({"9011", "9012", "9013", "9014"})
"""Answers (表 9 交互命令): never answered, not events; they only show the device is alive."""

HEARTBEATS = frozenset({"9015", "9021"})
"""Heartbeats seen in the field (notes §2.4, not in HJ 212—2017 表 9): liveness only."""

NOTIFICATION = "1013"
"""现场机时间校准请求: answered with 9013 (表 C.4)."""

DIRECTORY_REFRESH_S = 0.05
"""An MN not found reloads the device list (devices registered while the server runs are found
without a restart) — once per MN, and at most this often, so that packets with made-up MNs
cannot turn into a query each."""

MISSING_RETRY_S = 5.0
"""An MN that a reload did not find triggers another reload after this long at the earliest."""

_ZONE = ZoneInfo(LOCAL_TIME_ZONE)
_CRC_VARIANTS = {
    "appendix_a": hj212.CrcVariant.HJ212,
    "modbus": hj212.CrcVariant.MODBUS,
    "modbus_swapped": hj212.CrcVariant.MODBUS_SWAPPED,
}


@dataclass(frozen=True)
class KnownDevice:
    id: int
    site_id: int
    site_kind: str
    password: str
    crc_variant: hj212.CrcVariant
    active: bool


class DeviceDirectory:
    """Registered devices by MN and the parameter codes, loaded from the store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.devices: dict[str, KnownDevice] = {}
        self.parameters: ParameterIndex | None = None
        self._missed_at = -math.inf
        """When an MN not found last made the list reload."""
        self._missing: dict[str, float] = {}
        """MN → when a reload last failed to find it."""
        self.reload()

    def reload(self) -> None:
        statement = select(
            Device.mn,
            Device.id,
            Device.site_id,
            Site.kind,
            Device.password,
            Device.crc_variant,
            Device.active & Site.active,
        ).join(Site, Site.id == Device.site_id)
        with reading(self.engine) as session:
            rows = session.execute(statement).all()
            self.parameters = ParameterIndex(session)
        self.devices = {
            mn: KnownDevice(did, sid, kind, pw, _CRC_VARIANTS[crc], bool(active))
            for mn, did, sid, kind, pw, crc, active in rows
        }
        _parameter_for.cache_clear()

    def find(self, mn: str | None) -> KnownDevice | None:
        if mn is None:
            return None
        device = self.devices.get(mn)
        now = time.monotonic()
        if device is None and now - self._missing.get(mn, -math.inf) > MISSING_RETRY_S:
            if now - self._missed_at > DIRECTORY_REFRESH_S:
                self._missed_at = now
                self.reload()
                device = self.devices.get(mn)
            if device is None:
                self._missing[mn] = now
        return device

    def parameter(self, code: str, st: str | None, site_kind: str) -> tuple[int, float] | None:
        """(parameter id, factor to the canonical unit) of an HJ 212 code at a kind of site."""
        assert self.parameters is not None
        return _parameter_for(self.parameters, code, st, site_kind)


@lru_cache(maxsize=4096)
def _parameter_for(
    index: ParameterIndex, code: str, st: str | None, site_kind: str
) -> tuple[int, float] | None:
    match = index.match(hj212_codes.current_code(code, st), site_kind)
    return None if match is None else (match.parameter_id, match.factor)


@lru_cache(maxsize=65_536)
def _utc_time(data_time: str) -> datetime | None:
    """DataTime (Beijing local time, HJ 212—2017 表 4) as a UTC instant."""
    local = hj212.Packet(raw=b"", data_time=data_time).time()
    return None if local is None else local.replace(tzinfo=_ZONE).astimezone(UTC)


_PERIOD_TAILS = {"realtime": "", "minute": "00", "hour": "0000", "day": "000000"}


def _on_boundary(period: str, data_time: str) -> bool:
    """Minute, hour and day data are labelled by the start of their period (表 4)."""
    return data_time[:14].endswith(_PERIOD_TAILS[period]) and data_time[14:].strip("0") == ""


@lru_cache(maxsize=65_536)
def _period_start(period: str, data_time: str) -> datetime | None:
    """The UTC start of the period a DataTime labels; None when it labels no period start.
    Cached: the devices of one server send the same few DataTimes."""
    start = _utc_time(data_time)
    return start if start is not None and _on_boundary(period, data_time) else None


# ------------------------------------------------------------------------------------------
# Packets → readings, events, rejects
# ------------------------------------------------------------------------------------------


@dataclass
class Intake:
    """What the packets of one read become, and the answers to send after the commit."""

    delivery: Delivery
    replies: list[bytes] = field(default_factory=list)


_NOT_VALUES = frozenset({"Flag", "EFlag", "SampleTime"})
"""Fields that qualify a value; a code with only these has nothing to store (no problem)."""


def _fields(
    values: tuple[hj212.Value, ...], value_field: str
) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """Value and flag text by code (first occurrence wins), and codes with other fields."""
    found: dict[str, str] = {}
    flags: dict[str, str] = {}
    others: set[str] = set()
    for code, name, text in values:
        if name == value_field:
            found.setdefault(code, text)
        elif name == "Flag":
            flags.setdefault(code, text)
        elif name not in _NOT_VALUES:
            others.add(code)
    return found, flags, others


def _readings_of(
    packet: hj212.Packet, device: KnownDevice, directory: DeviceDirectory
) -> tuple[list[ReadingRow], list[str]]:
    """The packet's readings, and the problems with values that cannot be stored."""
    period, value_field = READING_COMMANDS[packet.cn or ""]
    data_time = packet.data_time or ""
    start = _period_start(period, data_time)
    if start is None:
        return [], [f"DataTime {data_time} is not the start of a {period} period"]
    found, flags, others = _fields(packet.values, value_field)
    problems = [f"{code}: no -{value_field}" for code in sorted(others - found.keys())]
    rows: list[ReadingRow] = []
    for code, text in found.items():
        known = directory.parameter(code, packet.st, device.site_kind)
        flag = flags.get(code, "N")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if known is None:
            problems.append(f"{code}: unknown code at a {device.site_kind} (value {text})")
        elif flag not in HJ212_FLAGS:
            problems.append(f"{code}: flag {flag!r} is not one of {''.join(HJ212_FLAGS)}")
        elif not math.isfinite(value):
            problems.append(f"{code}: value {text!r} is not a number")
        else:
            rows.append((device.site_id, known[0], period, start, value * known[1], flag))
    return rows, problems


def _event_of(packet: hj212.Packet, device: KnownDevice) -> Event:
    data_time = None if packet.data_time is None else _utc_time(packet.data_time)
    payload: dict[str, Any] = {
        "values": [list(value) for value in packet.values],
        "params": dict(packet.params),
        "qn": packet.qn,
        "st": packet.st,
    }
    return Event(device.id, packet.cn or "", data_time, payload)


class ConnectionIntake:
    """Turns the packets of one connection into deliveries and answers."""

    def __init__(self, peer: str, directory: DeviceDirectory) -> None:
        self.peer = peer
        self.directory = directory
        self.decoder = hj212.StreamDecoder()
        self.assembler = hj212.SplitAssembler()
        self._split_raw: dict[hj212.SplitKey, list[bytes]] = {}

    def feed(self, data: bytes) -> Intake:
        return self._take(self.decoder.feed(data))

    def close(self) -> Intake:
        """End of the connection: leftover bytes and incomplete split packets become rejects."""
        intake = self._take(self.decoder.close())
        for key, numbers in self.assembler.incomplete().items():
            mn, _st, cn, data_time, pnum = key
            detail = f"CN={cn} DataTime={data_time}: parts {numbers} of {pnum} arrived"
            raw = b"".join(self._split_raw.pop(key, []))
            intake.delivery.rejects.append(self._reject("incomplete_split", detail, raw, mn))
        return intake

    def _reject(self, reason: str, detail: str, raw: bytes, mn: str | None) -> Reject:
        return Reject(CHANNEL, self.peer, reason, detail, raw, mn)

    def _take(self, packets: list[hj212.Packet]) -> Intake:
        intake = Intake(Delivery(CHANNEL, self.peer, SOURCE))
        now = utc_now()
        for packet in packets:
            intake.delivery.packets += 1
            self._one(packet, intake, now)
        return intake

    def _authenticated(
        self, packet: hj212.Packet, rejects: list[Reject]
    ) -> tuple[hj212.Packet, KnownDevice] | None:
        device = self.directory.find(packet.mn)
        if (
            packet.error is hj212.Reason.BAD_CRC
            and device is not None
            and device.crc_variant is not hj212.CrcVariant.HJ212  # configured for MODBUS
        ):
            line = packet.raw.rstrip(b"\r\n") + b"\r\n"
            packet = hj212.decode_packet(line, device.crc_variant)
        if not packet.ok:
            rejects.append(self._reject(str(packet.error), packet.detail, packet.raw, packet.mn))
            return None
        if device is None:
            detail = f"MN {packet.mn!r} is not a registered device"
            rejects.append(self._reject("unknown_mn", detail, packet.raw, packet.mn))
            return None
        if not device.active:
            detail = "the device or its site is deactivated"
            rejects.append(self._reject("inactive_device", detail, packet.raw, packet.mn))
            return None
        if packet.pw != device.password:
            rejects.append(self._reject("wrong_pw", "PW does not match", packet.raw, packet.mn))
            return None
        return packet, device

    def _one(self, packet: hj212.Packet, intake: Intake, now: datetime) -> None:
        delivery = intake.delivery
        checked = self._authenticated(packet, delivery.rejects)
        if checked is None:
            return
        packet, device = checked
        delivery.seen[device.id] = now
        if packet.cn in READING_COMMANDS:
            rows, problems = _readings_of(packet, device, self.directory)
            delivery.readings.extend(rows)
            delivery.raw.append(packet.raw)
            if problems:
                delivery.rejects.append(
                    self._reject("values_not_stored", "; ".join(problems), packet.raw, packet.mn)
                )
            self._track_split(packet, delivery)
        elif packet.cn not in ANSWERS | HEARTBEATS:
            delivery.events.append(_event_of(packet, device))
        if packet.ack_required and packet.cn not in ANSWERS:
            answer = "9013" if packet.cn == NOTIFICATION else "9014"
            intake.replies.append(hj212.reply(packet, answer))

    def _track_split(self, packet: hj212.Packet, delivery: Delivery) -> None:
        if packet.pnum is None:
            return
        key = (packet.mn, packet.st, packet.cn, packet.data_time, packet.pnum)
        self._split_raw.setdefault(key, []).append(packet.raw)
        if self.assembler.add(packet) is not None:
            self._split_raw.pop(key, None)


# ------------------------------------------------------------------------------------------
# The server
# ------------------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One device connection: decode what arrives, submit it, answer after the commit."""

    def __init__(self, server: Hj212Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.intake: ConnectionIntake | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no asyncio subclass
        host, port = self.transport.get_extra_info("peername")[:2]
        self.intake = ConnectionIntake(f"{host}:{port}", self.server.directory)
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        assert self.intake is not None
        self._submit(self.intake.feed(data))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.intake is not None:
            self._submit(self.intake.close())

    def _submit(self, intake: Intake) -> None:
        delivery = intake.delivery
        if not (
            delivery.readings
            or delivery.events
            or delivery.rejects
            or delivery.seen
            or intake.replies
        ):
            return
        future = self.server.writer.submit(delivery)
        if intake.replies:
            answers = b"".join(intake.replies)
            future.add_done_callback(lambda done: self._answer(done, answers))

    def _answer(self, done: asyncio.Future[None], answers: bytes) -> None:
        if done.cancelled() or done.exception() is not None:
            return  # not committed: no answer, the device re-sends
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answers)


class Hj212Server:
    """The listening server, its connections and the shared batch writer."""

    def __init__(
        self, engine: Engine, *, max_packets: int = 5000, max_delay: float = 0.02, commits: int = 1
    ) -> None:
        self.engine = engine
        self.directory = DeviceDirectory(engine)
        self.writer = BatchWriter(
            engine, ACTOR, max_packets=max_packets, max_delay=max_delay, commits=commits
        )
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(
        self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, reuse_port: bool = False
    ) -> None:
        """Listen; ``reuse_port``: share the port with other server processes (SO_REUSEPORT,
        the kernel spreads new connections over them, see :class:`ServerProcesses`)."""
        loop = asyncio.get_running_loop()
        self._writer_task = asyncio.create_task(self.writer.run())
        self._server = await loop.create_server(
            lambda: _Connection(self),
            host,
            port,
            reuse_address=True,
            reuse_port=reuse_port or None,
            backlog=1024,
        )

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop listening and close the connections.

        ``graceful``: commit and answer what is queued before closing. Without it (a crash, in
        the tests) connections are aborted and queued deliveries are dropped unanswered.
        Stopping a stopped server does nothing.
        """
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.close()
        if graceful:
            await self.writer.idle()
        for connection in list(self.connections):
            if connection.transport is not None:
                if graceful:
                    connection.transport.close()
                else:
                    connection.transport.abort()
        if graceful:
            await asyncio.sleep(0)  # connection_lost queues the leftovers
            await self.writer.idle()
        if self._writer_task is not None:
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer_task
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)


@contextlib.asynccontextmanager
async def running_server(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    reuse_port: bool = False,
    **options: Any,
) -> AsyncIterator[Hj212Server]:
    """A started server (port 0 = an ephemeral port, see :attr:`Hj212Server.port`)."""
    server = Hj212Server(engine, **options)
    await server.start(host, port, reuse_port=reuse_port)
    try:
        yield server
    finally:
        await server.stop()


async def serve_forever(
    engine: Engine,
    host: str,
    port: int,
    on_started: Callable[[Hj212Server], None] = lambda server: None,
    **options: Any,
) -> None:
    """Run the server until SIGINT (Ctrl-C) or SIGTERM, then commit and answer what is queued."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with running_server(engine, host, port, **options) as server:
        on_started(server)
        await stop.wait()


# ------------------------------------------------------------------------------------------
# Several server processes on one port
# ------------------------------------------------------------------------------------------


def _worker(url: str, host: str, port: int, options: dict[str, Any], ready: Any) -> None:
    """One server process: its own engine, device directory, event loop and batch writer."""
    from qingshan.store import create_store_engine

    def started(server: Hj212Server) -> None:
        ready.put(os.getpid())

    engine = create_store_engine(url)
    event_loop.run(serve_forever(engine, host, port, started, reuse_port=True, **options))
    engine.dispose()


class ServerProcesses:
    """``qingshan hj212 serve --workers N``: N server processes sharing one port.

    One interpreter cannot take much more than about 10,000 packets/s (its per-packet Python
    work, docs/devices.md), so the work is spread over processes: each binds the same port with
    SO_REUSEPORT — the kernel spreads new connections over them — and has its own engine,
    device directory and :class:`~qingshan.services.device_store.BatchWriter`. Nothing else is
    shared: a device's packets stay on its connection, so on one process, and every answer still
    follows the commit of what it answers. Concurrent writers are safe in the store (batches
    lock keys in key order; ``last_seen_at`` updates by device id).

    With port 0 the parent binds an ephemeral port with SO_REUSEPORT first (without listening,
    so it gets no connections) and keeps it for the workers. A worker that dies is replaced.
    """

    def __init__(self, url: str, host: str, port: int, workers: int, **options: Any) -> None:
        self.url = url
        self.host = host
        self.workers = workers
        self.options = options
        self._context = multiprocessing.get_context("spawn")
        self._ready = self._context.Queue()
        self._processes: list[Any] = []
        self._holder = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._holder.bind((host, port))
        self.port = int(self._holder.getsockname()[1])

    def _spawn(self) -> Any:
        process = self._context.Process(
            target=_worker,
            args=(self.url, self.host, self.port, self.options, self._ready),
            daemon=True,
        )
        process.start()
        return process

    def start(self, timeout: float = 60.0) -> None:
        """Start the workers and wait until every one listens."""
        self._processes = [self._spawn() for _ in range(self.workers)]
        for _ in range(self.workers):
            self._ready.get(timeout=timeout)

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [p.pid for p in self._processes if p.is_alive() and p.pid is not None]

    def watch(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Until ``stop`` is set: replace workers that died (a bug must not end the server)."""
        while not stop.wait(interval):
            for index, process in enumerate(self._processes):
                if not process.is_alive() and not stop.is_set():  # Ctrl-C ends workers too
                    log.error(
                        "HJ 212 worker %s ended (%s); starting another",
                        process.pid,
                        process.exitcode,
                    )
                    self._processes[index] = self._spawn()
                    self._ready.get(timeout=60.0)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to each worker: each commits and answers what it received, then exits."""
        for process in self._processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():  # stuck: end it; its unanswered packets are re-sent
                process.kill()
                process.join()
        self._holder.close()


def serve_processes(
    url: str,
    host: str,
    port: int,
    workers: int,
    on_started: Callable[[ServerProcesses], None] = lambda pool: None,
    **options: Any,
) -> None:
    """Run ``workers`` server processes until SIGINT or SIGTERM, then stop them gracefully."""
    pool = ServerProcesses(url, host, port, workers, **options)
    stop = threading.Event()
    previous = {
        number: signal.signal(number, lambda *_: stop.set())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        pool.start()
        on_started(pool)
        pool.watch(stop)
    finally:
        pool.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
