"""``qingshan cases …``: the problem list (问题清单) from a shell, for operators and cron jobs.

The command line runs with the database's own rights, so it acts as an administrator (audit
actor ``cli:<login>``); the permission matrix still forbids skipped states, send-backs without
reason, and a closer reviewing their own closure.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from qingshan.commands.common import EXIT_BAD_INPUT, JsonOption, emit_json, stderr
from qingshan.commands.db import store_engine
from qingshan.services import cases as service
from qingshan.services import notifications
from qingshan.services.case_workflow import NotPermitted, State, WorkflowError
from qingshan.services.database import cli_actor
from qingshan.services.tables import InputError, write_table
from qingshan.store.case_models import Case
from qingshan.store.engine import reading, writing
from qingshan.store.models import Site

app = typer.Typer(help="The problem list (问题清单): open, move, export, escalate; notifications.")


@contextmanager
def _refusals(as_json: bool) -> Iterator[None]:
    """A refused action is a clear message and exit code 2."""
    try:
        yield
    except (service.CaseNotFound, NotPermitted, WorkflowError, ValueError, InputError) as error:
        message = error.summary() if isinstance(error, InputError) else str(error)
        if as_json:
            emit_json({"ok": False, "error": message})
        else:
            stderr.print(f"[bold red]{message}[/]", markup=True, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "code": case.code,
        "state": case.state,
        "state_label": State(case.state).label,
        "responsible_unit": case.responsible_unit,
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "description": case.description,
    }


def _print(rows: list[dict[str, Any]], as_json: bool, key: str = "cases") -> None:
    if as_json:
        emit_json({"ok": True, key: rows})
        return
    for row in rows:
        deadline = f"\t{row['deadline']}" if row.get("deadline") else ""
        typer.echo(f"{row['code']}\t{row['state_label']}{deadline}\t{row['description']}")


@app.command("open")
def open_command(
    grid: Annotated[str, typer.Option(help="Grid code (网格编码).")],
    category: Annotated[str, typer.Option(help="Problem category (问题类别), e.g. 扬尘.")],
    description: Annotated[str, typer.Option(help="What the problem is (问题描述).")],
    source: Annotated[str, typer.Option(help="alarm, complaint or inspection.")] = "inspection",
    location: Annotated[str, typer.Option(help="Where (位置).")] = "",
    site: Annotated[str | None, typer.Option(help="Site code, when at a site.")] = None,
    alarm: Annotated[list[int] | None, typer.Option(help="Linked alarm id (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Put a problem on the list (state 待核实) and print its number (编号)."""
    with _refusals(as_json), writing(store_engine(), cli_actor()) as session:
        site_id = None
        if site is not None:
            found = session.scalar(select(Site).where(Site.code == site))
            if found is None:
                raise WorkflowError(f"no site {site!r}")
            site_id = found.id
        case = service.open_case(
            session,
            service.operator_actor(cli_actor()),
            source=source,
            grid_id=service.grid_by_code(session, grid).id,
            category=category,
            description=description,
            location=location,
            site_id=site_id,
            alarm_ids=tuple(alarm or ()),
        )
        row = _row(case)
    _print([row], as_json)


def _filters(
    state: str | None, grid: str | None, source: str | None, overdue: bool | None
) -> service.CaseFilter:
    if state is not None:
        State(state)  # a clear ValueError for an unknown state
    return service.CaseFilter(state=state, grid_code=grid, source=source, overdue=overdue)


StateOption = Annotated[
    str | None, typer.Option(help=f"Only this state: {', '.join(s.value for s in State)}.")
]
GridOption = Annotated[str | None, typer.Option(help="Only this grid (code).")]
SourceOption = Annotated[str | None, typer.Option(help="Only alarm, complaint or inspection.")]
OverdueOption = Annotated[
    bool | None, typer.Option("--overdue/--in-time", help="Only overdue / only in-time cases.")
]


@app.command("list")
def list_command(
    state: StateOption = None,
    grid: GridOption = None,
    source: SourceOption = None,
    overdue: OverdueOption = None,
    as_json: JsonOption = False,
) -> None:
    """List cases, newest first."""
    with _refusals(as_json), reading(store_engine()) as session:
        found = service.list_cases(
            session,
            service.operator_actor(cli_actor()),
            _filters(state, grid, source, overdue),
        )
        rows = [_row(case) for case in found]
    _print(rows, as_json)


def _case_id(session: Any, code: str) -> int:
    """A case by number (编号) or by id."""
    case_id = session.scalar(select(Case.id).where(Case.code == code))
    if case_id is None and code.isdigit():
        case_id = int(code)
    if case_id is None:
        raise service.CaseNotFound(f"no case {code!r}")
    return int(case_id)


@app.command("transition")
def transition_command(
    case: Annotated[str, typer.Argument(help="Case number (编号) or id.")],
    to_state: Annotated[str, typer.Argument(help="The next state, or the previous one.")],
    reason: Annotated[str, typer.Option(help="Why (required to send back).")] = "",
    responsible_unit: Annotated[str | None, typer.Option(help="责任单位 (for 交办).")] = None,
    deadline: Annotated[
        str | None, typer.Option(help="整改时限 YYYY-MM-DD, Beijing day (for 交办).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Move a case one step forward, or back with a reason."""
    with _refusals(as_json), writing(store_engine(), cli_actor()) as session:
        moved = service.transition(
            session,
            service.operator_actor(cli_actor()),
            _case_id(session, case),
            State(to_state).value,
            reason=reason,
            responsible_unit=responsible_unit,
            deadline=date.fromisoformat(deadline) if deadline else None,
        )
        row = _row(moved)
    _print([row], as_json)


@app.command("evidence")
def evidence_command(
    case: Annotated[str, typer.Argument(help="Case number (编号) or id.")],
    text: Annotated[str, typer.Option(help="What was done.")] = "",
    file: Annotated[Path | None, typer.Option(help="A photo or document.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Attach evidence of rectification (text and/or a file)."""
    content = file.read_bytes() if file else None
    content_type = mimetypes.guess_type(file.name)[0] if file else None
    with _refusals(as_json), writing(store_engine(), cli_actor()) as session:
        record = service.add_evidence(
            session,
            service.operator_actor(cli_actor()),
            _case_id(session, case),
            text=text,
            file_name=file.name if file else None,
            content=content,
            content_type=content_type,
        )
        result = {"id": record.id, "kind": record.kind, "sha256": record.sha256}
    if as_json:
        emit_json({"ok": True, "evidence": result})
    else:
        typer.echo(f"evidence {result['id']} ({result['kind']}) attached")


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .xlsx (or .csv).")],
    state: StateOption = None,
    grid: GridOption = None,
    source: SourceOption = None,
    overdue: OverdueOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the 问题清单 (编号, 来源, 网格, 问题描述, 责任单位, 整改时限, 状态, 销号日期 …)."""
    with _refusals(as_json), reading(store_engine()) as session:
        frame = service.export_frame(
            session,
            service.operator_actor(cli_actor()),
            _filters(state, grid, source, overdue),
        )
        write_table(frame, output)
    if as_json:
        emit_json({"ok": True, "output": str(output), "cases": frame.height})
    else:
        typer.echo(f"{frame.height} cases written to {output}")


@app.command("escalate")
def escalate_command(as_json: JsonOption = False) -> None:
    """Flag and escalate overdue cases, then send due notifications (run it periodically)."""
    with writing(store_engine(), cli_actor()) as session:
        escalated = service.escalate_overdue(session, service.operator_actor(cli_actor()))
        rows = [_row(case) | {"level": case.escalation_level} for case in escalated]
        sent = notifications.dispatch(session)
    if as_json:
        emit_json({"ok": True, "escalated": rows, "sent": sent.sent, "failed": sent.failed})
        return
    for row in rows:
        typer.echo(f"{row['code']}\tlevel {row['level']}\t{row['deadline']}")
    typer.echo(f"{len(rows)} escalated; {sent.sent} messages sent, {sent.failed} failed")


@app.command("summary")
def summary_command(
    period: Annotated[str, typer.Argument(help="day (日调度), week (周汇总) or month (月通报).")],
    start: Annotated[
        str, typer.Argument(help="The day, the week's first day, or a day of the month.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Also write the table by grid (.xlsx or .csv)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Summarise a day, a week or a month of the problem list (optionally as a table by grid)."""
    actor = service.operator_actor(cli_actor())
    with _refusals(as_json), reading(store_engine()) as session:
        day = date.fromisoformat(start)
        report = service.summary(session, actor, period, day)
        if output is not None:
            write_table(service.summary_frame(session, actor, period, day), output)
    if as_json:
        emit_json({"ok": True, **report} | ({"output": str(output)} if output else {}))
        return
    for key, value in report.items():
        typer.echo(f"{key}\t{value}")
    if output is not None:
        typer.echo(f"table by grid written to {output}")


@app.command("route")
def route_command(
    name: Annotated[str, typer.Argument()],
    channel: Annotated[str, typer.Option(help="log, webhook, or a channel a bureau added.")],
    target: Annotated[str, typer.Option(help="Webhook URL, or a logger name.")] = "",
    role: Annotated[str | None, typer.Option(help="Only notifications for this role.")] = None,
    grid: Annotated[str | None, typer.Option(help="Only this grid (code).")] = None,
    quiet: Annotated[
        str | None, typer.Option(help="Quiet hours, Beijing time, e.g. 22:00-07:00.")
    ] = None,
    group_wait: Annotated[int, typer.Option(help="Seconds to wait for more to group.")] = 0,
    min_severity: Annotated[
        str | None,
        typer.Option(help="Only alarms at or above this severity (red, orange… or critical…)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a notification route."""
    quiet_start, quiet_end = quiet.split("-", 1) if quiet else (None, None)
    with _refusals(as_json), writing(store_engine(), cli_actor()) as session:
        route = notifications.add_route(
            session,
            name,
            channel=channel,
            target=target,
            role=role,
            grid_id=service.grid_by_code(session, grid).id if grid else None,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            group_wait_seconds=group_wait,
            min_severity=min_severity,
        )
        route_id = route.id
    if as_json:
        emit_json({"ok": True, "id": route_id, "name": name})
    else:
        typer.echo(f"route {name} added")


@app.command("notify")
def notify_command(as_json: JsonOption = False) -> None:
    """Send the notifications that are due (grouped per route, outside quiet hours)."""
    with writing(store_engine(), cli_actor()) as session:
        result = notifications.dispatch(session)
    if as_json:
        emit_json({"ok": True, "sent": result.sent, "failed": result.failed, "held": result.held})
    else:
        typer.echo(f"{result.sent} sent, {result.failed} failed, {result.held} routes waiting")
