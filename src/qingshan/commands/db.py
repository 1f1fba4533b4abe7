"""``qingshan db …``: schema upgrade, aggregation and raw-data retention."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from qingshan.commands.common import JsonOption, emit_json, stderr
from qingshan.config import get_settings
from qingshan.services import database
from qingshan.store.aggregates import LOCAL_TIME_ZONE, aggregate
from qingshan.store.engine import create_store_engine, database_url, writing

app = typer.Typer(help="The database: upgrade the schema, aggregate readings, prune raw data.")


EXIT_NOT_READY = 1


def store_engine() -> Engine:
    """The configured database, ready for use; a clear message and exit 1 when it is not."""
    try:
        return database.open_store()
    except database.StoreNotReady as error:
        stderr.print(f"[bold red]{error}[/]")
        raise typer.Exit(EXIT_NOT_READY) from None


def _hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@app.command("upgrade")
def upgrade_command(as_json: JsonOption = False) -> None:
    """Create or migrate the schema to the newest revision and seed the parameters."""
    url = database_url()
    result = database.upgrade(create_store_engine(url))
    payload = {
        "ok": True,
        "database": _hide_password(url),
        "revision": result.revision,
        "parameters_added": result.parameters_added,
    }
    if as_json:
        emit_json(payload)
    else:
        typer.echo(
            f"{payload['database']}: at revision {result.revision}; "
            f"{result.parameters_added} parameters added"
        )


def _local_midnight(day: datetime) -> datetime:
    return datetime.combine(day.date(), time(), tzinfo=ZoneInfo(LOCAL_TIME_ZONE))


@app.command("aggregate")
def aggregate_command(
    first: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (Beijing time).")
    ],
    last: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Recompute hour and day aggregates (GB 3095 validity) for whole days."""
    start = _local_midnight(first)
    end = _local_midnight(last + timedelta(days=1))
    actor = database.cli_actor()
    with writing(store_engine(), actor) as session:
        counts = aggregate(session, start=start, end=end, actor=actor)
    if as_json:
        emit_json({"ok": True, "hours": counts.hours, "days": counts.days})
    else:
        typer.echo(f"{counts.hours} hour and {counts.days} day aggregates stored")


@app.command("prune")
def prune_command(
    days: Annotated[
        int | None,
        typer.Option(help="Keep this many days of raw data (default QINGSHAN_RAW_RETENTION_DAYS)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete real-time and minute readings older than the retention period."""
    retention = days if days is not None else get_settings().raw_retention_days
    deleted = database.prune(store_engine(), retention, database.cli_actor())
    if as_json:
        emit_json({"ok": True, "deleted": deleted, "retention_days": retention})
    else:
        typer.echo(f"{deleted} raw readings older than {retention} days deleted")
