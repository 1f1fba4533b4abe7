"""``qingshan hj212 simulate``: simulated devices that connect to an HJ 212 server over TCP,
send :class:`~qingshan.protocols.hj212_simulator.DeviceSimulator` uploads and check that every
packet is answered with a 9014 echoing its QN (HJ 212—2017 表 C.14).

Each device keeps at most ``window`` packets unanswered (a device sending its backlog after a
reconnection; ``window=1`` is the strict send-and-wait of 表 C.50), optionally paced at ``rate``
packets per second. Used by the demo, the tests and ``benchmarks/bench_hj212_server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from qingshan.protocols import hj212
from qingshan.protocols.hj212_simulator import DeviceSimulator
from qingshan.store.engine import writing
from qingshan.store.registry import upsert_device, upsert_site

SITE_KIND_OF_SYSTEM = {
    "21": "water_section",
    "22": "air_station",
    "31": "source_outlet",
    "32": "source_outlet",
}
"""HJ 212—2017 表 5 system code → the kind of site such a device reports for."""

DEFAULT_PASSWORD = "123456"


def simulated_mn(index: int) -> str:
    """A 24-character MN (HJ 212—2017 表 3) for simulated device ``index``."""
    return f"QSSIM{index:019d}"


def register_simulated_devices(
    engine: Engine, count: int, st: str, actor: str, password: str = DEFAULT_PASSWORD
) -> list[str]:
    """Create (or keep) sites ``SIM-0001…`` and their devices; returns the MNs."""
    kind = SITE_KIND_OF_SYSTEM[st]
    mns = []
    with writing(engine, actor) as session:
        for index in range(1, count + 1):
            site = upsert_site(
                session,
                f"SIM-{index:04d}",
                name=f"模拟站点 {index}",
                kind=kind,
                latitude=30.6,
                longitude=114.4,
                reporting_interval_minutes=1,
            )
            mns.append(simulated_mn(index))
            upsert_device(session, mns[-1], site_id=site.id, password=password)
    return mns


def upload_packets(
    mn: str,
    *,
    st: str = "22",
    cn: str = "2011",
    count: int = 10,
    start: datetime,
    interval: timedelta,
    password: str = DEFAULT_PASSWORD,
    seed: int = 0,
    max_segment: int = hj212.SEGMENT_LIMIT,
) -> list[bytes]:
    """``count`` uploads of one device at ``start``, ``start + interval`` … (framed packets;
    an upload longer than ``max_segment`` gives several parts)."""
    device = DeviceSimulator(mn, st, password, seed=seed, max_segment=max_segment)
    return [
        packet for index in range(count) for packet in device.packets(cn, start + index * interval)
    ]


def _qn(packet: bytes) -> str:
    start = packet.index(b"QN=") + 3
    return packet[start : packet.index(b";", start)].decode("ascii")


@dataclass
class DeviceRun:
    """What one simulated device saw: answer latencies [s] by QN, and packets left unanswered."""

    mn: str
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    error: str | None = None


async def run_device(
    host: str,
    port: int,
    mn: str,
    packets: Sequence[bytes],
    *,
    window: int = 8,
    rate: float | None = None,
    answer_timeout: float = 10.0,
) -> DeviceRun:
    """Send ``packets`` on one connection and collect the 9014 answers."""
    result = DeviceRun(mn)
    sent_at: dict[str, float] = {}
    slots = asyncio.Semaphore(window)
    all_answered = asyncio.Event()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        result.error = f"cannot connect: {error}"
        result.unanswered = [_qn(packet) for packet in packets]
        return result

    closed = asyncio.Event()

    async def receive() -> None:
        decoder = hj212.StreamDecoder()
        try:
            while data := await reader.read(65536):
                for answer in decoder.feed(data):
                    if answer.ok and answer.cn == "9014" and answer.qn in sent_at:
                        result.latencies.append(time.perf_counter() - sent_at.pop(answer.qn))
                        result.answered.append(answer.qn)
                        slots.release()
                if result.sent == len(packets) and not sent_at:
                    all_answered.set()
        except OSError:
            pass
        closed.set()  # the server went away: stop sending, stop waiting
        all_answered.set()
        for _ in range(window):
            slots.release()

    receiver = asyncio.create_task(receive())
    try:
        await _send_all(writer, packets, result, sent_at, slots, rate, closed, answer_timeout)
        if not sent_at:
            all_answered.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_answered.wait(), answer_timeout)
    except (OSError, TimeoutError) as error:
        result.error = f"{type(error).__name__}: {error}"
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await receiver
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    result.unanswered = sorted(sent_at)
    return result


async def _send_all(
    writer: asyncio.StreamWriter,
    packets: Sequence[bytes],
    result: DeviceRun,
    sent_at: dict[str, float],
    slots: asyncio.Semaphore,
    rate: float | None,
    closed: asyncio.Event,
    answer_timeout: float,
) -> None:
    began = time.perf_counter()
    for index, packet in enumerate(packets):
        if rate:
            delay = began + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.wait_for(slots.acquire(), answer_timeout)
        if closed.is_set():
            result.error = "the server closed the connection"
            return
        sent_at[_qn(packet)] = time.perf_counter()
        writer.write(packet)
        result.sent += 1
        await writer.drain()


async def run_devices(
    host: str,
    port: int,
    uploads: dict[str, Sequence[bytes]],
    **options: float | int | None,
) -> list[DeviceRun]:
    """Every device of ``uploads`` (MN → its packets) on its own connection, all at once."""
    return list(
        await asyncio.gather(
            *(run_device(host, port, mn, packets, **options) for mn, packets in uploads.items())  # type: ignore[arg-type]
        )
    )


@dataclass(frozen=True)
class RunSummary:
    devices: int
    sent: int
    answered: int
    unanswered: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    errors: list[str]

    @classmethod
    def of(cls, runs: list[DeviceRun], seconds: float) -> RunSummary:
        latencies = sorted(value for run in runs for value in run.latencies)

        def quantile(q: float) -> float | None:
            if not latencies:
                return None
            return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

        return cls(
            devices=len(runs),
            sent=sum(run.sent for run in runs),
            answered=len(latencies),
            unanswered=sum(len(run.unanswered) for run in runs),
            seconds=round(seconds, 3),
            p50_ms=quantile(0.50),
            p99_ms=quantile(0.99),
            errors=[f"{run.mn}: {run.error}" for run in runs if run.error],
        )
