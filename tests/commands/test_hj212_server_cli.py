"""``qingshan hj212 simulate|rejects|devices`` against a server on an ephemeral port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import qingshan
from qingshan.cli import app
from qingshan.services.hj212_server import running_server
from qingshan.store import create_store_engine

runner = CliRunner()


def json_lines(*args: str) -> tuple[int, list[dict]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines() if line]


@pytest.fixture
def server_port(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[int]:
    """A configured store and an HJ 212 server on it, in a background thread."""
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = create_store_engine(database_url)
    loop = asyncio.new_event_loop()
    started, stop = threading.Event(), asyncio.Event()
    ports: list[int] = []

    async def serve() -> None:
        async with running_server(engine) as server:
            ports.append(server.port)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    assert started.wait(10)
    yield ports[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()
    engine.dispose()


def test_simulate_then_list_devices_and_rejects(server_port: int) -> None:
    code, (summary,) = json_lines(
        "hj212",
        "simulate",
        "--port",
        str(server_port),
        "--devices",
        "3",
        "--packets",
        "4",
        "--rate",
        "0",
    )
    assert code == 0, (summary, json_lines("hj212", "rejects"))
    assert (summary["sent"], summary["answered"], summary["unanswered"]) == (12, 12, 0)
    code, devices = json_lines("hj212", "devices")
    assert [(d["mn"], d["site"], d["status"]) for d in devices] == [
        ("QSSIM0000000000000000001", "SIM-0001", "online"),
        ("QSSIM0000000000000000002", "SIM-0002", "online"),
        ("QSSIM0000000000000000003", "SIM-0003", "online"),
    ]
    with socket.create_connection(("127.0.0.1", server_port)) as connection:
        connection.sendall(b"##0010not a packet\r\n")
    for _ in range(100):
        code, rejects = json_lines("hj212", "rejects", "--since", "2000-01-01")
        if rejects:
            break
        threading.Event().wait(0.05)
    assert [(r["channel"], r["reason"], r["raw"]) for r in rejects] == [
        ("hj212", "bad_length", "##0010not a packet\r\n")
    ]
    assert json_lines("hj212", "rejects", "--since", "2999-01-01") == (0, [])


def test_serve_with_two_workers_answers_then_stops_on_ctrl_c(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --workers 2`` as a real process: devices answered, every reading stored once;
    SIGINT stops the workers after their commits, exit code 0."""
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    with socket.socket() as probe:  # a free port; the server binds it with SO_REUSEPORT
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source_root = str(Path(qingshan.__file__).parents[1])
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from qingshan.cli import app; app()",
            "hj212",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": source_root},
    )
    watchdog = threading.Timer(180, server.kill)  # a server that never starts fails the test
    watchdog.start()
    try:
        assert server.stderr is not None
        assert any("listening" in line for line in server.stderr), "the server did not start"
        code, (summary,) = json_lines(
            "hj212",
            "simulate",
            "--port",
            str(port),
            "--devices",
            "4",
            "--packets",
            "3",
            "--rate",
            "0",
        )
        assert code == 0 and summary["answered"] == 12
        server.send_signal(signal.SIGINT)
        assert server.wait(60) == 0
        assert "everything received was committed" in server.stderr.read()
    finally:
        watchdog.cancel()
        server.kill()
    engine = create_store_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM readings")).scalar_one() == 4 * 3 * 9
    engine.dispose()
