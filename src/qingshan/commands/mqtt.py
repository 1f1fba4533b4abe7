"""``qingshan mqtt run``: store readings published on ``qingshan/<site>/readings``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Annotated

import aiomqtt
import typer

from qingshan.commands.common import stderr
from qingshan.commands.db import store_engine
from qingshan.services import mqtt_ingest

app = typer.Typer(help="MQTT: readings as JSON messages on qingshan/<site>/readings.")


async def _run_until_signal(coroutine: asyncio.Future[None] | asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, coroutine.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await coroutine


@app.command("run")
def run_command(
    broker: Annotated[str, typer.Option(help="Broker HOST:PORT.")] = "127.0.0.1:1883",
    prefix: Annotated[
        str, typer.Option(help="First topic level: subscribes to PREFIX/+/readings.")
    ] = mqtt_ingest.DEFAULT_PREFIX,
    client_id: Annotated[
        str,
        typer.Option(
            help="Persistent session name: a restart under the same id receives what was not "
            "yet acknowledged. One subscriber per id."
        ),
    ] = mqtt_ingest.DEFAULT_CLIENT_ID,
) -> None:
    """Subscribe and store every valid message; malformed ones are kept as rejects
    (`qingshan hj212 rejects --channel mqtt`). Each message is acknowledged to the broker only
    after its commit. Ctrl-C stops after committing and acknowledging what was received."""
    engine = store_engine()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    target = mqtt_ingest.Broker.parse(broker)

    async def main() -> None:
        task = asyncio.create_task(
            mqtt_ingest.subscribe(engine, target, prefix=prefix, client_id=client_id)
        )
        stderr.print(f"subscribing to {prefix}/+/readings at {target.host}:{target.port}")
        await _run_until_signal(task)

    try:
        asyncio.run(main())
    except aiomqtt.MqttError as error:
        stderr.print(f"[bold red]MQTT broker {broker}: {error}[/]")
        raise typer.Exit(1) from None
    except mqtt_ingest.StoreFailure as error:
        stderr.print(f"[bold red]{error}; unacknowledged messages come again at the next start[/]")
        raise typer.Exit(1) from None
    stderr.print("stopped")
