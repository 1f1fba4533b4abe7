"""``qingshan demo``: the synthetic 青山示范区 in an embedded database, served with live data.

The demo is a data directory of its own, ``<QINGSHAN_DATA_DIR>/demo/`` — its SQLite database
(WAL), carbon books, GEP inputs and runs, and air targets — so it never mixes with a bureau's
data. The database is migrated, seeded when it holds no sites (a second run starts at once;
``--reseed`` starts over), and served with the pages and the API at http://HOST:PORT. Unless
``--no-live``, the HJ 212 server runs too and the demo's own devices send to it
(docs/demo.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from qingshan.commands.common import stderr
from qingshan.commands.serve import site_server
from qingshan.config import Settings, get_settings, settings_in_use
from qingshan.services import database, demo, demo_live, hj212_server
from qingshan.store.engine import create_store_engine

DEMO_FOLDER = "demo"


def demo_settings() -> Settings:
    """The demo's settings: its own data directory inside the configured one, with that
    directory's default database, carbon books and targets (nothing of the bureau's)."""
    return Settings(data_dir=get_settings().data_dir / DEMO_FOLDER, database_url=None,
                    carbon_books_dir=None, carbon_factor_dir=None)  # fmt: skip


def _seed(engine: Engine, seed: int, until: date | None, days: int) -> demo.DemoSummary:
    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:
        task = progress.add_task("青山示范区 demo", total=None)

        def report(stage: str, done: int, total: int) -> None:
            progress.update(task, description=stage, completed=done, total=total)

        return demo.seed_demo(engine, seed=seed, until=until, days=days, progress=report)


def _print_welcome(url: str, summary: demo.DemoSummary | None, live: bool) -> None:
    if summary is not None:
        typer.echo(
            f"seeded {summary.district} in {summary.seconds} s: {summary.grids} grids, "
            f"{summary.sites} sites, {summary.devices} devices, {summary.readings:,} readings "
            f"({summary.start:%Y-%m-%d} – {summary.end:%Y-%m-%d} UTC), {summary.alarms} alarms, "
            f"cases {summary.cases}, {summary.registry_accounts} registry accounts"
        )
    typer.echo(f"\n青山 Qingshan demo: {url}   (API {url}/api/v1, reference {url}/docs)")
    typer.echo("users (username / password, role):")
    for person in demo.users():
        grids = f"  grids {', '.join(person.grids)}" if person.grids else ""
        typer.echo(f"  {person.username:<11} {person.password:<16} {person.role}{grids}")
    if live:
        typer.echo("live: the demo's HJ 212 devices are sending data (Ctrl-C stops everything)")


async def _serve(
    engine: Engine, host: str, port: int, hj212_port: int, live: bool, seed: int
) -> None:
    """The API, and with ``live`` the HJ 212 server and the demo's devices; until Ctrl-C."""
    server = site_server(engine, host, port)
    if not live:
        await server.serve()
        return
    async with hj212_server.running_server(engine, host, hj212_port) as receiver:
        devices = demo_live.demo_devices(engine)
        senders = [
            asyncio.create_task(demo_live.run_live(host, receiver.port, devices, seed=seed)),
            asyncio.create_task(demo_live.run_hours(engine, seed=seed)),
        ]
        try:
            await server.serve()
        finally:
            for sender in senders:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender


def demo_command(
    host: Annotated[str, typer.Option(help="Address of the web server.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web server.")] = 8000,
    hj212_port: Annotated[
        int, typer.Option("--hj212-port", help="Port of the demo's HJ 212 server.")
    ] = hj212_server.DEFAULT_PORT,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = demo.DEFAULT_SEED,
    until: Annotated[
        str | None,
        typer.Option(help="Last day of data is the day before this date (default: today)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Days of hourly data.")] = demo.DEFAULT_DAYS,
    reseed: Annotated[bool, typer.Option(help="Delete the demo database and seed it again.")] = (
        False
    ),
    live: Annotated[bool, typer.Option(help="Run the HJ 212 server and the demo's devices.")] = (
        True
    ),
    seed_only: Annotated[bool, typer.Option(help="Seed (if needed) and exit.")] = False,
) -> None:
    """Seed the 青山示范区 demo (once) and serve it at http://HOST:PORT with live device data."""
    try:
        end = date.fromisoformat(until) if until else None
    except ValueError:
        raise typer.BadParameter(
            f"{until!r} is not a date (YYYY-MM-DD)", param_hint="--until"
        ) from None
    run = DemoRun(host, port, hj212_port, seed, end, days, reseed, live, seed_only)
    with settings_in_use(demo_settings()) as settings:
        _run_demo(settings, run)


@dataclass(frozen=True)
class DemoRun:
    """The options of one ``qingshan demo``."""

    host: str
    port: int
    hj212_port: int
    seed: int
    until: date | None
    days: int
    reseed: bool
    live: bool
    seed_only: bool


def _run_demo(settings: Settings, run: DemoRun) -> None:
    if run.reseed:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_store_engine(f"sqlite:///{settings.database_path}")
    database.upgrade(engine)
    summary = None
    if not demo.is_seeded(engine):
        summary = _seed(engine, run.seed, run.until, run.days)
    _print_welcome(f"http://{run.host}:{run.port}", summary, run.live and not run.seed_only)
    if run.seed_only:
        engine.dispose()
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(engine, run.host, run.port, run.hj212_port, run.live, run.seed))
    engine.dispose()
    stderr.print("demo stopped")
