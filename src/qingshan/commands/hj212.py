"""``qingshan hj212 …``: the HJ 212 server and its simulated devices, the reject log, device
liveness, and tools to look at packets (decode) and produce sample uploads."""

from __future__ import annotations

import base64
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO
from zoneinfo import ZoneInfo

import typer

from qingshan.commands.common import EXIT_BAD_INPUT, JsonOption, emit_json, stderr
from qingshan.commands.db import store_engine
from qingshan.protocols.hj212 import CrcVariant, decode_packet
from qingshan.protocols.hj212_simulator import CHANNELS, DeviceSimulator
from qingshan.services import device_store, event_loop, hj212_client, hj212_server
from qingshan.services.database import cli_actor
from qingshan.store.aggregates import LOCAL_TIME_ZONE

_BOM = b"\xef\xbb\xbf"
"""UTF-8 byte-order mark that Windows editors put at the start of saved captures."""

app = typer.Typer(
    help="HJ 212 (污染物在线监控系统数据传输标准): server, simulated devices, rejects, liveness, "
    "packet tools."
)


class UploadChoice(StrEnum):
    realtime = "2011"
    minute = "2051"
    hour = "2061"
    day = "2031"


def _open_input(source: str) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if not path.is_file():
        raise typer.BadParameter(f"{source}: no such file", param_hint="FILE")
    return path.open("rb")


@app.command("decode")
def decode_command(
    source: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="Packets, one per line; - = stdin.")
    ] = "-",
    crc: Annotated[
        CrcVariant,
        typer.Option(help="CRC algorithm: hj212 (附录 A) or a MODBUS variant some devices use."),
    ] = CrcVariant.HJ212,
) -> None:
    """Print one JSON object per non-empty input line: the decoded packet or why it is bad.

    Exit code 0 when every line is a good packet, 2 when any is not (all lines are printed).
    """
    all_ok = True
    with _open_input(source) as stream:
        for line in stream:
            if not line.strip():
                continue
            packet = decode_packet(line.strip(b" \t\r\n").removeprefix(_BOM) + b"\r\n", crc)
            all_ok = all_ok and packet.ok
            emit_json(packet.as_dict())
    if not all_ok:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command("sample")
def sample_command(
    cn: Annotated[UploadChoice, typer.Option(help="Upload command.")] = UploadChoice.realtime,
    st: Annotated[
        str, typer.Option(help=f"System code, one of {', '.join(sorted(CHANNELS))}.")
    ] = "22",
    mn: Annotated[str, typer.Option(help="Device MN.")] = "010000A8900016F000169DC0",
    pw: Annotated[str, typer.Option(help="Device password.")] = "123456",
    count: Annotated[int, typer.Option(min=1, help="Number of uploads.")] = 3,
    start: Annotated[
        datetime, typer.Option(help="Time of the first upload (local time).")
    ] = datetime(2026, 1, 1, 8, 0, 0),
    interval: Annotated[int, typer.Option(min=1, help="Seconds between uploads.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same packets).")] = 0,
) -> None:
    """Print simulated upload packets, one per line (pipe into ``qingshan hj212 decode -``)."""
    if st not in CHANNELS:
        raise typer.BadParameter(f"choose one of {', '.join(sorted(CHANNELS))}", param_hint="--st")
    device = DeviceSimulator(mn, st, pw, seed=seed)
    for index in range(count):
        for packet in device.packets(cn.value, start + timedelta(seconds=interval * index)):
            sys.stdout.buffer.write(packet)
    sys.stdout.flush()


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = hj212_server.DEFAULT_PORT,
    batch_delay: Annotated[
        float, typer.Option(help="Longest wait [s] before a batch is committed and answered.")
    ] = 0.02,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port (SO_REUSEPORT), each with its own "
            "database writer. About one per core the database can spare.",
        ),
    ] = 1,
) -> None:
    """Receive HJ 212 packets from registered devices and store their readings.

    Uploads 2011/2051/2061/2031 become readings, 2021/2041/2081 device events; 9014 is sent
    after the commit. Every refused packet is kept (see `qingshan hj212 rejects`). Ctrl-C
    stops after committing what was received.
    """
    engine = store_engine()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if workers > 1:
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()

        def pool_started(pool: hj212_server.ServerProcesses) -> None:
            stderr.print(
                f"HJ 212 server listening on {host}:{pool.port}, {workers} processes "
                "(Ctrl-C to stop)"
            )

        hj212_server.serve_processes(url, host, port, workers, pool_started, max_delay=batch_delay)
        stderr.print("stopped; everything received was committed")
        return

    def started(server: hj212_server.Hj212Server) -> None:
        stderr.print(f"HJ 212 server listening on {host}:{server.port} (Ctrl-C to stop)")

    event_loop.run(hj212_server.serve_forever(engine, host, port, started, max_delay=batch_delay))
    stderr.print("stopped; everything received was committed")


@app.command("simulate")
def simulate_command(
    host: Annotated[str, typer.Option(help="Server address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Server port.")] = hj212_server.DEFAULT_PORT,
    devices: Annotated[int, typer.Option(min=1, help="Simultaneous device connections.")] = 5,
    packets: Annotated[int, typer.Option(min=1, help="Uploads per device.")] = 20,
    rate: Annotated[
        float, typer.Option(min=0, help="Uploads per second per device (0 = as fast as answered).")
    ] = 1.0,
    cn: Annotated[UploadChoice, typer.Option(help="Upload command.")] = UploadChoice.realtime,
    st: Annotated[str, typer.Option(help="System code: 21, 22, 31 or 32.")] = "22",
    interval: Annotated[int, typer.Option(min=1, help="Seconds between DataTimes.")] = 60,
    window: Annotated[int, typer.Option(min=1, help="Unanswered packets allowed per device.")] = 1,
    register: Annotated[
        bool,
        typer.Option(help="Create sites SIM-0001… and their devices in the configured store."),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Connect simulated devices to an HJ 212 server, send uploads, check every 9014 answer.

    DataTimes run up to now (Beijing time). Exit code 1 when any upload was not answered.
    """
    if st not in hj212_client.SITE_KIND_OF_SYSTEM:
        raise typer.BadParameter("choose 21, 22, 31 or 32", param_hint="--st")
    if register:
        mns = hj212_client.register_simulated_devices(store_engine(), devices, st, cli_actor())
    else:
        mns = [hj212_client.simulated_mn(index) for index in range(1, devices + 1)]
    step = timedelta(seconds=interval)
    now = datetime.now(ZoneInfo(LOCAL_TIME_ZONE)).replace(tzinfo=None, microsecond=0)
    start = now - step * packets
    uploads = {
        mn: hj212_client.upload_packets(
            mn, st=st, cn=cn.value, count=packets, start=start, interval=step, seed=index
        )
        for index, mn in enumerate(mns)
    }
    began = time.perf_counter()
    runs = event_loop.run(
        hj212_client.run_devices(host, port, uploads, window=window, rate=rate or None)
    )
    summary = hj212_client.RunSummary.of(runs, time.perf_counter() - began)
    if as_json:
        emit_json({"ok": summary.unanswered == 0, **summary.__dict__})
    else:
        typer.echo(
            f"{summary.devices} devices sent {summary.sent} packets in {summary.seconds} s; "
            f"answered {summary.answered}, unanswered {summary.unanswered}; "
            f"answer latency p50 {summary.p50_ms} ms, p99 {summary.p99_ms} ms"
        )
        for error in summary.errors[:10]:
            stderr.print(error, markup=False)
    if summary.unanswered:
        raise typer.Exit(1)


def _parse_since(text: str | None) -> datetime | None:
    """ISO 8601; without an offset, Beijing time."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        message = f"{text!r} is not an ISO 8601 time"
        raise typer.BadParameter(message, param_hint="--since") from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(LOCAL_TIME_ZONE))


@app.command("rejects")
def rejects_command(
    since: Annotated[
        str | None, typer.Option(help="Only rejects received since (ISO 8601; default Beijing).")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="hj212 or mqtt.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, oldest first.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """List kept rejects: time, channel, peer, MN, reason, detail and the raw bytes."""
    rows = device_store.list_rejects(
        store_engine(), since=_parse_since(since), channel=channel, limit=limit
    )
    zone = ZoneInfo(LOCAL_TIME_ZONE)
    for row in rows:
        record = {
            "received_at": row.received_at.astimezone(zone).isoformat(),
            "channel": row.channel,
            "peer": row.peer,
            "mn": row.mn,
            "reason": row.reason,
            "detail": row.detail,
        }
        if as_json:
            text = row.raw.decode("utf-8", errors="replace")
            raw = {"raw": text, "raw_base64": base64.b64encode(row.raw).decode("ascii")}
            emit_json({**record, **raw})
        else:
            typer.echo(
                f"{record['received_at']}  {row.channel:<5} {row.reason:<18} {row.mn or '-':<24} "
                f"{row.peer}  {row.detail}\n    {row.raw[:200]!r}"
            )


@app.command("devices")
def devices_command(as_json: JsonOption = False) -> None:
    """Registered devices: last seen and online/offline (offline after 3 silent intervals)."""
    statuses = device_store.device_statuses(store_engine(), datetime.now(UTC))
    for status in statuses:
        if as_json:
            emit_json(status.as_dict())
        else:
            seen = "never"
            if status.last_seen_at is not None:
                seen = status.last_seen_at.astimezone(ZoneInfo(LOCAL_TIME_ZONE)).isoformat()
            typer.echo(
                f"{status.mn:<24} {status.site:<16} every {status.interval_minutes:>4} min  "
                f"{status.status:<8} last seen {seen}"
            )
