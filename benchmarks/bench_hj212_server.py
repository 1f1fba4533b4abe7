"""HJ 212 end to end: packets/s durable in the store from many simultaneous device connections.

Run: ``PYTHONPATH=src python benchmarks/bench_hj212_server.py [--devices 500] [--packets 40]
[--window 8] [--batch-delay 0.02] [--workers 2] [--repeats 1] [--postgres-url URL] [--sqlite]``

Workload: ``--devices`` simulated ambient air stations (ST=22, 2011 real-time uploads of 9
channels, about 375 bytes each, A bit set), each on its own TCP connection on loopback, each
sending ``--packets`` uploads and keeping at most ``--window`` of them unanswered (a device
sending its backlog). The server (``qingshan hj212 serve``'s code: one process on uvloop when
installed, else asyncio, see ``services/event_loop.py``; the batch writer committing in a
worker thread, ``--commits`` batches at once) runs in this process; the devices run in a child
process with its own event loop, so that client and server do not share one interpreter lock.
Every device's packets are generated (distinct QNs and DataTimes) before the clock starts.

Measured:

* packets/s = answered packets / (first send → last answer); an answer (9014) is sent only
  after the commit of the packet's readings, so every answered packet is durable (PostgreSQL
  with its default ``synchronous_commit = on``); the store is checked afterwards to hold
  exactly ``devices × packets × 9`` readings;
* p50 / p99 of the answer latency (send → 9014 received) as the devices see it;
* the server as one process (the old path) and as ``--workers`` processes sharing the port
  (``qingshan hj212 serve --workers N``), alternately, ``--repeats`` times each, with the
  ratio of the best rates;
* baseline in the same run: the decode-only rate of the same packets through one
  ``StreamDecoder`` (CRC and full parse, one packet per read, one core) — the ratio says what
  share of a core's pure decoding speed survives sockets, checks, mapping and the database.

``--rate`` paces each device (uploads/s) to measure latency at an offered load below the
saturation point; without it devices send as fast as the window allows (throughput).

Targets (issue 4): ≥ 10,000 packets/s durable in PostgreSQL from 500 connections, 9014 p99
< 200 ms. Note: on a machine with few cores the client, the server and PostgreSQL compete for
them; the output prints the core count. Last measured (docs/hj212.md, "End to end"): 2 shared
cores, load 3.6–4.4, one process 4,349–5,010 packets/s (2,867–3,201 before the alarm rules
left the commit path and uvloop came in), p99 0.9–1.3 s at saturation — not met.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from qingshan.protocols.hj212 import StreamDecoder
from qingshan.services import database, event_loop
from qingshan.services.hj212_client import (
    RunSummary,
    register_simulated_devices,
    run_devices,
    simulated_mn,
    upload_packets,
)
from qingshan.services.hj212_server import ServerProcesses, running_server
from qingshan.store import create_store_engine

TARGET_RATE = 10_000
TARGET_P99_MS = 200
CHANNELS = 9
START = datetime(2026, 3, 1, 8, 0)


def uploads(devices: int, packets: int) -> dict[str, list[bytes]]:
    return {
        simulated_mn(index): upload_packets(
            simulated_mn(index),
            count=packets,
            start=START,
            interval=timedelta(seconds=30),
            seed=index,
        )
        for index in range(1, devices + 1)
    }


def decode_only_rate(packets: list[bytes], rounds: int = 3) -> float:
    """Best of ``rounds``: packets/s through one StreamDecoder, one packet per read."""
    best = 0.0
    for _ in range(rounds):
        decoder = StreamDecoder()
        began = time.perf_counter()
        for packet in packets:
            decoder.feed(packet)
        best = max(best, len(packets) / (time.perf_counter() - began))
    return best


def _client(
    port: int, devices: int, packets: int, window: int, rate: float | None, out: Any
) -> None:
    """Child process: generate the uploads, then send them all at once."""
    work = uploads(devices, packets)
    out.put("ready")
    began = time.perf_counter()
    runs = event_loop.run(
        run_devices("127.0.0.1", port, work, window=window, rate=rate, answer_timeout=30.0)
    )
    out.put(RunSummary.of(runs, time.perf_counter() - began))


def _run_client(port: int, arguments: argparse.Namespace) -> RunSummary:
    """The devices in a child process (its own interpreter); their summary."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    options = (arguments.devices, arguments.packets, arguments.window, arguments.rate)
    client = context.Process(target=_client, args=(port, *options, results))
    client.start()
    assert results.get() == "ready"
    summary: RunSummary = results.get()
    client.join()
    return summary


async def _serve_and_measure(engine: Engine, arguments: argparse.Namespace) -> RunSummary:
    options = {"max_delay": arguments.batch_delay, "commits": arguments.commits}
    async with running_server(engine, **options) as server:
        loop = asyncio.get_running_loop()
        summary = await loop.run_in_executor(None, _run_client, server.port, arguments)
        print(
            f"  server: {server.writer.batches} commits, "
            f"{server.writer.committed_packets / max(server.writer.batches, 1):.0f} "
            "packets per commit"
        )
        return summary


def _processes_measure(url: str, workers: int, arguments: argparse.Namespace) -> RunSummary:
    """``serve --workers N``: the server as N processes on one port."""
    options = {"max_delay": arguments.batch_delay, "commits": arguments.commits}
    pool = ServerProcesses(url, "127.0.0.1", 0, workers, **options)
    try:
        pool.start()
        return _run_client(pool.port, arguments)
    finally:
        pool.stop()


def _count_readings(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM readings")).scalar_one())


def run_backend(url: str, arguments: argparse.Namespace, label: str, workers: int) -> float:
    """One measurement on a fresh set of devices and readings; returns packets/s."""
    engine = create_store_engine(url)
    database.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM readings"))
    register_simulated_devices(engine, arguments.devices, "22", "bench:hj212")
    if workers == 1:
        summary = event_loop.run(_serve_and_measure(engine, arguments))
    else:
        summary = _processes_measure(url, workers, arguments)
    stored = _count_readings(engine)
    engine.dispose()
    expected = arguments.devices * arguments.packets * CHANNELS
    rate = summary.answered / summary.seconds
    print(
        f"{label}, {workers} server process(es): {summary.devices} connections, "
        f"{summary.sent} packets sent, {summary.answered} answered, "
        f"{summary.unanswered} unanswered, {len(summary.errors)} device errors"
    )
    print(
        f"  end to end: {rate:,.0f} packets/s durable ({rate * CHANNELS:,.0f} readings/s), "
        f"9014 latency p50 {summary.p50_ms} ms, p99 {summary.p99_ms} ms"
    )
    print(
        f"  store holds {stored:,} readings (expected {expected:,}: "
        f"{'exactly once' if stored == expected else 'MISMATCH'})"
    )
    print(
        f"  targets: ≥ {TARGET_RATE:,} packets/s → {'met' if rate >= TARGET_RATE else 'NOT met'};"
        f" p99 < {TARGET_P99_MS} ms → "
        f"{'met' if (summary.p99_ms or 1e9) < TARGET_P99_MS else 'NOT met'}"
    )
    return rate


def run_all(url: str, arguments: argparse.Namespace, label: str) -> None:
    """One process (the old path) and ``--workers`` processes, alternately, in the same run."""
    rates: dict[int, list[float]] = {1: [], arguments.workers: []}
    for _ in range(arguments.repeats):
        for workers in rates:
            rates[workers].append(run_backend(url, arguments, label, workers))
    baseline = decode_only_rate([p for ps in uploads(50, 200).values() for p in ps])
    print(
        f"{label}: best packets/s by server processes: "
        + ", ".join(f"{w}: {max(r):,.0f}" for w, r in rates.items())
    )
    if arguments.workers != 1:
        ratio = max(rates[arguments.workers]) / max(rates[1])
        print(f"  {arguments.workers} processes / 1 process = {ratio:.2f}×")
    print(
        f"  decode only (same packets, one core): {baseline:,.0f} packets/s → one process "
        f"end to end is {max(rates[1]) / baseline:.2f}× of it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--packets", type=int, default=40, help="uploads per device")
    parser.add_argument("--window", type=int, default=8, help="unanswered packets per device")
    parser.add_argument("--batch-delay", type=float, default=0.02)
    parser.add_argument(
        "--rate", type=float, default=None, help="uploads/s per device (default: as answered)"
    )
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--sqlite", action="store_true", help="measure SQLite as well")
    parser.add_argument(
        "--workers", type=int, default=2, help="server processes, compared with one (default 2)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each")
    parser.add_argument(
        "--commits", type=int, default=1, help="batches committing at once per server process"
    )
    arguments = parser.parse_args()
    print(
        f"{os.cpu_count()} cores; {arguments.devices} devices × {arguments.packets} packets, "
        f"window {arguments.window}, batch delay {arguments.batch_delay} s, "
        f"rate per device {arguments.rate or 'unlimited'}, {arguments.commits} commit(s) at once, "
        f"event loop {event_loop.loop_name()}"
    )
    schema = f"bench_hj212_{uuid.uuid4().hex[:8]}"
    admin = create_engine(arguments.postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = make_url(arguments.postgres_url).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        run_all(url.render_as_string(hide_password=False), arguments, "PostgreSQL")
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    if arguments.sqlite:
        with tempfile.TemporaryDirectory() as directory:
            run_all(f"sqlite:///{Path(directory) / 'bench.db'}", arguments, "SQLite")


if __name__ == "__main__":
    main()
