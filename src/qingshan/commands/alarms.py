"""``qingshan alarms …``: list, acknowledge, clear, comment, evaluate (officers' grids are set
with ``qingshan users grids``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import polars as pl
import typer
from sqlalchemy.orm import Session

from qingshan.commands.common import (
    EXIT_BAD_INPUT,
    JsonOption,
    OutputOption,
    emit_json,
    finish,
    stderr,
)
from qingshan.commands.db import store_engine
from qingshan.services import alarms as alarm_service
from qingshan.services import alerting
from qingshan.services.database import cli_actor
from qingshan.services.tables import write_table
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.engine import reading, writing
from qingshan.store.types import utc_now

app = typer.Typer(help="Alarms (报警): list and handle them; evaluate rules.", no_args_is_help=True)

TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
LocalTime = Annotated[datetime | None, typer.Option(formats=TIME_FORMATS, help="Beijing time.")]


def _beijing(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=ZoneInfo(LOCAL_TIME_ZONE))


@app.command("list")
def list_command(
    state: Annotated[
        str | None, typer.Option(help="active, cleared, acknowledged, unacknowledged.")
    ] = None,
    severity: Annotated[str | None, typer.Option(help="critical, major, minor, warning.")] = None,
    grid: Annotated[str | None, typer.Option(help="Grid code.")] = None,
    site: Annotated[str | None, typer.Option(help="Site code.")] = None,
    rule: Annotated[str | None, typer.Option(help="Rule code.")] = None,
    since: LocalTime = None,
    until: LocalTime = None,
    limit: Annotated[int, typer.Option(min=1)] = 500,
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> None:
    """Alarms, newest first, as CSV (or a file with -o, or --json)."""
    chosen = alarm_service.AlarmFilter(
        state, severity, grid, site, rule, _beijing(since), _beijing(until), limit
    )
    try:
        with reading(store_engine()) as session:
            found = alarm_service.list_alarms(session, chosen)
    except ValueError as error:
        stderr.print(f"[bold red]{error}[/]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json and output is None:
        emit_json({"ok": True, "alarms": found})
        return
    flat = [row | {"context": _json_text(row["context"])} for row in found]
    table = pl.DataFrame(flat, infer_schema_length=None) if found else pl.DataFrame()
    if output is not None:
        write_table(table, output)
    finish(table, output, as_json, alarms=len(found))


def _json_text(value: object) -> str | None:
    """A nested value as one JSON cell (CSV has no nested columns)."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _handled(action: str, alarm_id: int, as_json: bool, run: Callable[[Session], object]) -> None:
    try:
        with writing(store_engine(), cli_actor()) as session:
            run(session)
            data = alarm_service.describe(session, alarm_id)
    except (alarm_service.AlarmNotFound, ValueError) as error:
        stderr.print(f"[bold red]{error.args[0]}[/]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json:
        emit_json({"ok": True, **data})
    else:
        typer.echo(f"alarm {alarm_id} {action}: {data['status']}")


@app.command("ack")
def ack_command(alarm_id: int, as_json: JsonOption = False) -> None:
    """Acknowledge an alarm."""
    who = cli_actor()
    _handled(
        "acknowledged",
        alarm_id,
        as_json,
        lambda session: alarm_service.acknowledge(session, alarm_id, who=who),
    )


@app.command("clear")
def clear_command(
    alarm_id: int,
    reason: Annotated[str, typer.Option(help="Why it is cleared by hand.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Clear an active alarm by hand."""
    who = cli_actor()
    _handled(
        "cleared",
        alarm_id,
        as_json,
        lambda session: alarm_service.clear(session, alarm_id, who=who, reason=reason),
    )


@app.command("comment")
def comment_command(alarm_id: int, text: str, as_json: JsonOption = False) -> None:
    """Comment on an alarm."""
    who = cli_actor()
    _handled(
        "commented",
        alarm_id,
        as_json,
        lambda session: alarm_service.comment(session, alarm_id, who=who, body=text),
    )


@app.command("evaluate")
def evaluate_command(
    since: Annotated[datetime, typer.Option("--from", formats=TIME_FORMATS, help="Beijing time.")],
    until: Annotated[
        datetime | None,
        typer.Option("--to", formats=TIME_FORMATS, help="Beijing time (default: now)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every rule over a period (default: up to now). Run it from a scheduler every
    few minutes: silence and the good-day target pace are judged by the clock."""
    start = _beijing(since)
    end = _beijing(until) or utc_now()
    assert start is not None
    counts = alerting.evaluate_period(store_engine(), start, end, actor=cli_actor())
    if as_json:
        emit_json({"ok": True, **counts.as_dict()})
    else:
        typer.echo(
            f"alarms: {counts.opened} opened, {counts.updated} updated, {counts.cleared} cleared"
        )
