"""The HJ 212 TCP server end to end, on SQLite and PostgreSQL: simulated devices on loopback,
readings in the store exactly once, answers only after the commit (HJ 212—2017 表 C.14, C.50),
rejects kept with their raw bytes while the connection stays open, and a crash mid-ingestion."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text

from qingshan.protocols import hj212
from qingshan.services.device_store import device_statuses, list_rejects, liveness
from qingshan.services.hj212_client import (
    register_simulated_devices,
    run_device,
    run_devices,
    upload_packets,
)
from qingshan.services.hj212_server import ServerProcesses, running_server
from qingshan.services.rules import create_rule
from qingshan.store.engine import writing
from qingshan.store.models import Alarm, Device, DeviceEvent, Reading, ReadingRevision

START = datetime(2026, 1, 1, 8, 0)
STEP = timedelta(seconds=30)
CHANNELS_PER_AIR_PACKET = 9
"""The air-station simulator sends 9 codes (a34004 … a01006), all in the shipped table."""


def _aware(value: datetime | str) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _utc(packet: hj212.Packet) -> datetime:
    local = packet.time()
    assert local is not None
    return local.replace(tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def uploads_for(mns: Sequence[str], packets: int, **options: object) -> dict[str, list[bytes]]:
    options = {"interval": STEP, **options}
    return {
        mn: upload_packets(mn, count=packets, start=START, seed=index, **options)  # type: ignore[arg-type]
        for index, mn in enumerate(mns)
    }


async def exchange(port: int, payload: bytes, answers: int = 0, wait: float = 2.0) -> bytes:
    """Send raw bytes on one connection; return what came back (``answers`` 9014s expected)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    received = b""
    try:
        while received.count(b"CN=9014") < answers:
            received += await asyncio.wait_for(reader.read(65536), wait)
    finally:
        writer.close()
    return received


def test_simulated_devices_store_every_reading_exactly_once(engine: Engine) -> None:
    mns = register_simulated_devices(engine, 12, "22", "test:fixture")
    uploads = uploads_for(mns, 25)

    async def scenario() -> list:
        async with running_server(engine) as server:
            first = await run_devices("127.0.0.1", server.port, uploads)
            again = await run_devices("127.0.0.1", server.port, uploads)  # devices re-send
            return first + again

    runs = asyncio.run(scenario())
    assert all(not run.unanswered and not run.error for run in runs)
    assert sum(len(run.latencies) for run in runs) == 2 * 12 * 25
    assert count(engine, Reading) == 12 * 25 * CHANNELS_PER_AIR_PACKET
    assert count(engine, ReadingRevision) == 0  # identical re-sends changed nothing
    assert list_rejects(engine) == []
    with engine.connect() as connection:
        pm25 = connection.execute(
            text(
                "SELECT r.value, r.flag, r.period, r.source FROM readings r "
                "JOIN parameters p ON p.id = r.parameter_id JOIN sites s ON s.id = r.site_id "
                "WHERE p.key = 'pm25' AND s.code = 'SIM-0001' ORDER BY r.period_start LIMIT 1"
            )
        ).one()
    first_packet = hj212.decode_packet(uploads[mns[0]][0])
    sent = dict(((code, name), value) for code, name, value in first_packet.values)
    assert pm25 == (float(sent["a34004", "Rtd"]), sent["a34004", "Flag"], "realtime", "hj212")
    statuses = device_statuses(engine)
    assert {status.status for status in statuses} == {"online"}


def test_answer_comes_only_after_the_readings_are_committed(engine: Engine) -> None:
    """When the 9014 of a packet arrives, a separate connection already sees its readings."""
    (mn,) = register_simulated_devices(engine, 1, "22", "test:fixture")
    packets = uploads_for([mn], 5)[mn]
    seen_at_answer: list[int] = []

    async def scenario() -> None:
        async with running_server(engine, max_delay=0.05) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            decoder = hj212.StreamDecoder()
            for packet in packets:
                writer.write(packet)
                await writer.drain()
                answers: list[hj212.Packet] = []
                while not answers:
                    answers = decoder.feed(await asyncio.wait_for(reader.read(4096), 5))
                assert answers[0].cn == "9014"
                assert answers[0].qn == hj212.decode_packet(packet).qn
                seen_at_answer.append(count(engine, Reading))
            writer.close()

    asyncio.run(scenario())
    assert seen_at_answer == [CHANNELS_PER_AIR_PACKET * n for n in range(1, 6)]


def test_bad_packets_are_kept_and_the_connection_stays_open(engine: Engine) -> None:
    (mn,) = register_simulated_devices(engine, 1, "22", "test:fixture")
    good, second = uploads_for([mn], 2)[mn]
    wrong_pw = upload_packets(mn, count=1, start=START, interval=STEP, password="999999")[0]
    unknown = upload_packets("NOTREGISTERED0001", count=1, start=START, interval=STEP)[0]
    bad_crc = good[:-6] + (b"0000" if not good.endswith(b"0000\r\n") else b"1111") + b"\r\n"
    garbage = b"hello\r\n"
    stream = bad_crc + wrong_pw + garbage + unknown + good + second

    async def scenario() -> bytes:
        async with running_server(engine) as server:
            return await exchange(server.port, stream, answers=2)

    answers = hj212.decode_stream([asyncio.run(scenario())])
    assert [answer.qn for answer in answers] == [
        hj212.decode_packet(good).qn,
        hj212.decode_packet(second).qn,
    ]
    rejects = list_rejects(engine)
    assert [(r.reason, r.mn) for r in rejects] == [
        ("bad_crc", mn),
        ("wrong_pw", mn),
        ("bad_frame", None),
        ("unknown_mn", "NOTREGISTERED0001"),
    ]
    tail = b"\r\n"  # a decoded packet's raw bytes end at its CRC; a reject's at the next ##
    assert [r.raw for r in rejects] == [bad_crc, wrong_pw[:-2], garbage, unknown[:-2]]
    assert not wrong_pw[:-2].endswith(tail) and bad_crc.endswith(tail)
    assert all(r.channel == "hj212" and r.peer.startswith("127.0.0.1:") for r in rejects)
    assert count(engine, Reading) == 2 * CHANNELS_PER_AIR_PACKET


def test_split_packets_are_answered_part_by_part_and_stored_whole(engine: Engine) -> None:
    """Uploads over ``max_segment`` come in parts (表 C.50): one 9014 per part, all values."""
    (mn,) = register_simulated_devices(engine, 1, "22", "test:fixture")
    packets = uploads_for([mn], 3, max_segment=200)[mn]
    parts = [hj212.decode_packet(packet) for packet in packets]
    assert all(part.pnum and part.pnum > 1 for part in parts)

    async def scenario() -> list:
        async with running_server(engine) as server:
            return [await run_device("127.0.0.1", server.port, mn, packets, window=1)]

    (run,) = asyncio.run(scenario())
    assert (run.sent, len(run.latencies), run.unanswered) == (len(packets), len(packets), [])
    assert count(engine, Reading) == 3 * CHANNELS_PER_AIR_PACKET
    assert list_rejects(engine) == []


def test_an_incomplete_split_packet_is_kept_as_a_reject(engine: Engine) -> None:
    (mn,) = register_simulated_devices(engine, 1, "22", "test:fixture")
    first_part = uploads_for([mn], 1, max_segment=200)[mn][0]

    async def scenario() -> None:
        async with running_server(engine) as server:
            await exchange(server.port, first_part, answers=1)
            await asyncio.sleep(0.2)  # the disconnection is handled

    asyncio.run(scenario())
    (reject,) = list_rejects(engine)
    assert (reject.reason, reject.mn, reject.raw) == ("incomplete_split", mn, first_part[:-2])


def test_device_events_and_unknown_codes(engine: Engine) -> None:
    """2021 running state becomes an event; an unknown code is kept, the rest stored."""
    (mn,) = register_simulated_devices(engine, 1, "22", "test:fixture")
    segment = hj212.format_segment(
        qn="20260101080000001",
        st="22",
        cn="2021",
        pw="123456",
        mn=mn,
        flag=5,
        cp="DataTime=20260101080000;SB1-RS=1",
    )
    status = hj212.frame(segment)
    cp = "DataTime=20260101080000;a34004-Rtd=35,a34004-Flag=N;zz9999-Rtd=1,zz9999-Flag=N"
    upload = hj212.frame(
        hj212.format_segment(
            qn="20260101080000002", st="22", cn="2011", pw="123456", mn=mn, flag=5, cp=cp
        )
    )

    async def scenario() -> bytes:
        async with running_server(engine) as server:
            return await exchange(server.port, status + upload, answers=2)

    asyncio.run(scenario())
    with engine.connect() as connection:
        event = connection.execute(select(DeviceEvent.cn, DeviceEvent.payload)).one()
    assert event.cn == "2021" and event.payload["values"] == [["SB1", "RS", "1"]]
    assert count(engine, Reading) == 1
    (reject,) = list_rejects(engine)
    assert reject.reason == "values_not_stored" and "zz9999" in reject.detail


def test_a_crash_mid_ingestion_loses_no_answered_reading(engine: Engine) -> None:
    """Abort the server while devices send; every answered packet is in the store. Devices
    then re-send everything to a new server: each reading is stored exactly once."""
    mns = register_simulated_devices(engine, 8, "22", "test:fixture")
    uploads = uploads_for(mns, 40)

    async def crash() -> list:
        async with running_server(engine, max_delay=0.01) as server:
            sending = asyncio.ensure_future(
                run_devices("127.0.0.1", server.port, uploads, window=2, answer_timeout=1.0)
            )
            for _ in range(2000):  # at most 10 s
                if server.writer.committed_packets >= 60:
                    break
                await asyncio.sleep(0.005)
            await server.stop(graceful=False)
            return await asyncio.wait_for(sending, 30)

    runs = asyncio.run(crash())
    answered = {(run.mn, qn) for run in runs for qn in run.answered}
    assert 0 < len(answered) < 8 * 40
    with engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT d.mn, r.period_start, count(*) FROM readings r "
                "JOIN devices d ON d.site_id = r.site_id GROUP BY d.mn, r.period_start"
            )
        ).all()
    per_upload = {(mn, _aware(start)): number for mn, start, number in stored}
    for mn, packets in uploads.items():
        for packet in map(hj212.decode_packet, packets):
            if (mn, packet.qn) in answered:  # nothing answered is missing
                assert per_upload[mn, _utc(packet)] == CHANNELS_PER_AIR_PACKET

    async def resend() -> list:
        async with running_server(engine) as server:
            return await run_devices("127.0.0.1", server.port, uploads)

    assert all(not run.unanswered for run in asyncio.run(resend()))
    assert count(engine, Reading) == 8 * 40 * CHANNELS_PER_AIR_PACKET
    assert count(engine, ReadingRevision) == 0


def test_a_device_configured_for_modbus_crc_is_read_with_it(engine: Engine) -> None:
    """MODBUS CRCs only for a device registered with that variant, never tried silently."""
    mns = register_simulated_devices(engine, 2, "22", "test:fixture")
    with writing(engine, "test:fixture") as session:
        device = session.scalar(select(Device).where(Device.mn == mns[0]))
        assert device is not None
        device.crc_variant = "modbus"
    cp = "DataTime=20260101080000;a34004-Rtd=35,a34004-Flag=N"

    def modbus_upload(mn: str) -> bytes:
        segment = hj212.format_segment(
            qn="20260101080000001", st="22", cn="2011", pw="123456", mn=mn, flag=5, cp=cp
        )
        return hj212.frame(segment, hj212.CrcVariant.MODBUS)

    async def scenario() -> bytes:
        async with running_server(engine) as server:
            return await exchange(server.port, modbus_upload(mns[1]) + modbus_upload(mns[0]), 1)

    (answer,) = hj212.decode_stream([asyncio.run(scenario())])
    assert answer.mn == mns[0]
    assert count(engine, Reading) == 1
    assert [(r.reason, r.mn) for r in list_rejects(engine)] == [("bad_crc", mns[1])]


@pytest.mark.parametrize(
    ("minutes_silent", "expected"),
    [(None, "never"), (14, "online"), (15, "online"), (16, "offline")],
)
def test_liveness_is_offline_after_three_reporting_intervals(
    minutes_silent: int | None, expected: str
) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    seen = None if minutes_silent is None else now - timedelta(minutes=minutes_silent)
    assert liveness(seen, 5, now) == expected


def test_hourly_uploads_are_judged_by_the_alarm_rules(engine: Engine) -> None:
    """Readings from the device channel go through the same rule evaluation as files and HTTP:
    with a rule PM2.5 IAQI > 0 every site that sent an hour has an active alarm once the
    devices are answered and the writer has run (docs/alerting.md)."""
    with writing(engine, "test:fixture") as session:
        create_rule(
            session,
            code="pm25-any",
            name="PM2.5 IAQI > 0",
            rule_type="aqi",
            parameters={"parameter": "pm25", "level": 0},
            scope=None,
            severity="blue",
            actor="test:fixture",
        )
    mns = register_simulated_devices(engine, 2, "22", "test:fixture")
    uploads = uploads_for(mns, 2, cn="2061", interval=timedelta(hours=1))

    async def scenario() -> list:
        async with running_server(engine) as server:
            return await run_devices("127.0.0.1", server.port, uploads)

    runs = asyncio.run(scenario())
    assert all(not run.unanswered and not run.error for run in runs)
    with engine.connect() as connection:
        alarmed = connection.execute(
            select(func.count(func.distinct(Alarm.site_id))).where(Alarm.active)
        ).scalar_one()
    assert alarmed == 2


def test_several_server_processes_share_one_port(engine: Engine) -> None:
    """``serve --workers 2``: two processes on one port (SO_REUSEPORT), each with its own writer;
    every reading stored once. One worker SIGKILLed: it is replaced, the devices' re-sends are
    all answered, and nothing is stored twice."""
    mns = register_simulated_devices(engine, 12, "22", "test:fixture")
    uploads = uploads_for(mns, 10)
    url = engine.url.render_as_string(hide_password=False)
    pool = ServerProcesses(url, "127.0.0.1", 0, 2, max_delay=0.01)
    stop = threading.Event()
    watcher = threading.Thread(target=pool.watch, args=(stop, 0.05))
    try:
        pool.start()
        watcher.start()
        first = asyncio.run(run_devices("127.0.0.1", pool.port, uploads))
        killed = pool.pids()[0]
        os.kill(killed, signal.SIGKILL)
        for _ in range(600):
            if killed not in pool.pids() and len(pool.pids()) == 2:
                break
            time.sleep(0.05)
        replaced = pool.pids()
        again = asyncio.run(run_devices("127.0.0.1", pool.port, uploads))
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
        pool.stop()
    assert killed not in replaced and len(replaced) == 2
    assert all(not run.unanswered and not run.error for run in first + again)
    assert count(engine, Reading) == 12 * 10 * CHANNELS_PER_AIR_PACKET
    assert count(engine, ReadingRevision) == 0
