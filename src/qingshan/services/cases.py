"""The problem list (问题清单): open cases, move them through the workflow, keep the evidence and
the timeline, escalate overdue cases, export the list and summarise a week or a month.

The rules (states, moves, the permission matrix, numbering, overdue) are in the pure module
:mod:`qingshan.services.case_workflow`; this module applies them to the store. Every function
works in the caller's session (from :func:`qingshan.store.engine.writing` for writes), so each
change is also in the audit log, and every move is written to the case's timeline
(:class:`~qingshan.store.case_models.CaseEvent`, append-only in the database).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path, PurePath
from typing import Any

import polars as pl
from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from qingshan.config import get_settings
from qingshan.services import notifications
from qingshan.services.case_workflow import (
    BUREAU_ROLES,
    OPEN_STATES,
    SOURCES,
    Actor,
    Move,
    NotPermitted,
    State,
    WorkflowError,
    beijing_day,
    beijing_midnight,
    can_see,
    case_number,
    case_prefix,
    check_permitted,
    days_overdue,
    escalation_level,
    find_move,
    may_add_evidence,
    may_open,
    moves_for,
)
from qingshan.store.case_models import Case, CaseAlarm, CaseEvent, CaseEvidence
from qingshan.store.identity import grids_of_user
from qingshan.store.models import Grid, Site, User
from qingshan.store.types import utc_now

MAX_EVIDENCE_BYTES = 50 * 1024 * 1024
"""Largest evidence file accepted (50 MiB: phone photos and scanned PDFs fit comfortably)."""
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")
CASE_AUDIENCE = ("grid_officer", "analyst")
"""Who hears about a case's moves: the grid's officers and the bureau's analysts."""


class CaseNotFound(LookupError):
    """No such case, or one the actor may not see (the two are not told apart)."""


# ------------------------------------------------------------------------------------------
# Actors and grids
# ------------------------------------------------------------------------------------------


def actor_for_user(session: Session, user_id: int, name: str) -> Actor:
    """The workflow actor for a user: role and, for grid officers, the grids from ``user_grids``."""
    user = session.get_one(User, user_id)
    return Actor(name=name, role=user.role, grid_ids=grids_of_user(session, user_id))


def operator_actor(name: str) -> Actor:
    """The command line runs with the database's rights: it acts as an administrator."""
    return Actor(name=name, role="admin")


def grids_for(session: Session, actor: Actor) -> list[Grid]:
    """The grids whose cases ``actor`` sees and may open cases in, by code."""
    grids = session.scalars(select(Grid).order_by(Grid.code))
    return [grid for grid in grids if can_see(actor, grid.id)]


def site_id_by_code(session: Session, code: str) -> int:
    site_id = session.scalar(select(Site.id).where(Site.code == code))
    if site_id is None:
        raise WorkflowError(f"no site {code!r}")
    return site_id


def grid_by_code(session: Session, code: str) -> Grid:
    grid = session.scalar(select(Grid).where(Grid.code == code))
    if grid is None:
        raise WorkflowError(f"no grid {code!r}")
    return grid


# ------------------------------------------------------------------------------------------
# Opening
# ------------------------------------------------------------------------------------------


def _log(
    session: Session,
    case: Case,
    actor: Actor,
    action: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str = "",
    at: datetime | None = None,
    **details: Any,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        at=at or utc_now(),
        actor=actor.name,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        details=details,
    )
    session.add(event)
    return event


def _next_code(session: Session, grid: Grid, opened_at: datetime) -> str:
    """The next 编号 of the grid's month. The grid row is locked (PostgreSQL) so that two
    cases opened at once do not get the same number; SQLite writers are serialised anyway."""
    session.execute(select(Grid.id).where(Grid.id == grid.id).with_for_update())
    prefix = case_prefix(grid.code, opened_at)
    taken = session.scalar(
        select(func.count()).where(Case.code.startswith(prefix, autoescape=True))
    )
    return case_number(grid.code, opened_at, (taken or 0) + 1)


def _check_site_in_grid(session: Session, site_id: int, grid: Grid) -> None:
    site = session.get(Site, site_id)
    if site is None:
        raise WorkflowError(f"no site with id {site_id}")
    if site.grid_id is not None and site.grid_id != grid.id:
        raise WorkflowError(f"site {site.code} is not in grid {grid.code}")


def open_case(
    session: Session,
    actor: Actor,
    *,
    source: str,
    grid_id: int,
    category: str,
    description: str,
    location: str = "",
    site_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    alarm_ids: tuple[int, ...] = (),
) -> Case:
    """Put a problem on the list in state 待核实, numbered, with its timeline's first entry."""
    if source not in SOURCES:
        raise WorkflowError(f"source must be one of {', '.join(SOURCES)}")
    if not description.strip() or not category.strip():
        raise WorkflowError("a case needs a category and a description")
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise WorkflowError(f"no grid with id {grid_id}")
    if not may_open(actor, grid_id):
        raise NotPermitted(f"{actor.name} may not open cases in grid {grid.code}")
    if site_id is not None:
        _check_site_in_grid(session, site_id, grid)
    opened_at = utc_now()
    case = Case(
        code=_next_code(session, grid, opened_at),
        source=source,
        state=State.PENDING_VERIFICATION.value,
        grid_id=grid_id,
        site_id=site_id,
        category=category.strip(),
        description=description.strip(),
        location=location.strip(),
        latitude=latitude,
        longitude=longitude,
        opened_at=opened_at,
        opened_by=actor.name,
        escalation_level=0,
    )
    session.add(case)
    session.flush()
    session.add_all(CaseAlarm(case_id=case.id, alarm_id=alarm_id) for alarm_id in set(alarm_ids))
    _log(
        session,
        case,
        actor,
        "立案",
        to_state=case.state,
        at=opened_at,
        source=source,
        alarm_ids=sorted(set(alarm_ids)),
    )
    notifications.notify(
        session,
        kind="case.opened",
        title=f"新问题 {case.code}",
        body=f"{SOURCES[source]} · {case.category} · {case.description}",
        roles=CASE_AUDIENCE,
        grid_id=grid_id,
        case_id=case.id,
    )
    session.flush()
    return case


def open_case_from_alarm(
    session: Session,
    *,
    alarm_id: int,
    site_id: int | None,
    grid_id: int,
    description: str,
    actor: Actor,
    category: str = "预警",
) -> Case:
    """Open a case from an alarm, or return the open case already linked to it.

    For the alarms module: an alarm that re-triggers must not put the same problem on the list
    twice. A closed case does not count: a new occurrence after 销号 is a new case.
    """
    existing = session.scalar(
        select(Case)
        .join(CaseAlarm, CaseAlarm.case_id == Case.id)
        .where(CaseAlarm.alarm_id == alarm_id, Case.state.in_([s.value for s in OPEN_STATES]))
    )
    if existing is not None:
        return existing
    location = ""
    if site_id is not None and (site := session.get(Site, site_id)) is not None:
        location = f"{site.name}（{site.code}）"
    return open_case(
        session,
        actor,
        source="alarm",
        grid_id=grid_id,
        category=category,
        description=description,
        location=location,
        site_id=site_id,
        alarm_ids=(alarm_id,),
    )


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------


def get_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case, if ``actor`` may see it; :class:`CaseNotFound` otherwise (another grid's case
    is "not found", so its existence is not disclosed)."""
    case = session.get(Case, case_id)
    if case is None or not can_see(actor, case.grid_id):
        raise CaseNotFound(f"no case {case_id}")
    return case


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    grid_code: str | None = None
    source: str | None = None
    overdue: bool | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    """Beijing calendar days, both inclusive."""


def _visible(actor: Actor, query: Select[Any]) -> Select[Any]:
    if actor.role in BUREAU_ROLES:
        return query
    if actor.role != "grid_officer":
        return query.where(false())
    return query.where(Case.grid_id.in_(sorted(actor.grid_ids)))


def list_cases(
    session: Session,
    actor: Actor,
    filters: CaseFilter,
    *,
    limit: int = 1000,
    offset: int = 0,
    now: datetime | None = None,
) -> list[Case]:
    """The cases ``actor`` may see that pass ``filters``, newest first."""
    query = _visible(actor, select(Case).join(Grid, Grid.id == Case.grid_id))
    if filters.state:
        query = query.where(Case.state == State(filters.state).value)
    if filters.grid_code:
        query = query.where(Grid.code == filters.grid_code)
    if filters.source:
        query = query.where(Case.source == filters.source)
    if filters.opened_from:
        query = query.where(Case.opened_at >= beijing_midnight(filters.opened_from))
    if filters.opened_to:
        end = beijing_midnight(filters.opened_to + timedelta(days=1))
        query = query.where(Case.opened_at < end)
    cases = list(session.scalars(query.order_by(Case.opened_at.desc(), Case.id.desc())))
    if filters.overdue is not None:
        instant = now or utc_now()
        cases = [case for case in cases if (overdue_days(case, instant) > 0) == filters.overdue]
    return cases[offset : offset + limit]


def overdue_days(case: Case, now: datetime) -> int:
    return days_overdue(State(case.state), case.deadline, now)


def timeline(session: Session, actor: Actor, case_id: int) -> list[CaseEvent]:
    """The case's timeline, oldest first."""
    get_case(session, actor, case_id)
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
    )


def alarm_ids(session: Session, case_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CaseAlarm.alarm_id)
            .where(CaseAlarm.case_id == case_id)
            .order_by(CaseAlarm.alarm_id)
        )
    )


def cases_of_alarm(session: Session, actor: Actor, alarm_id: int) -> list[Case]:
    """The cases ``actor`` may see that were opened from (or linked to) an alarm."""
    query = select(Case).join(CaseAlarm, CaseAlarm.case_id == Case.id)
    query = _visible(actor, query.where(CaseAlarm.alarm_id == alarm_id))
    return list(session.scalars(query.order_by(Case.id)))


def evidence(session: Session, actor: Actor, case_id: int) -> list[CaseEvidence]:
    get_case(session, actor, case_id)
    return list(
        session.scalars(
            select(CaseEvidence).where(CaseEvidence.case_id == case_id).order_by(CaseEvidence.id)
        )
    )


# ------------------------------------------------------------------------------------------
# Moving
# ------------------------------------------------------------------------------------------


def _evidence_since_rectification(session: Session, case: Case) -> int:
    """Evidence added since the case last entered 整改中 (a case sent back from 待销号 needs new
    evidence, not the evidence that was just rejected)."""
    entered = session.scalar(
        select(func.max(CaseEvent.at)).where(
            CaseEvent.case_id == case.id, CaseEvent.to_state == State.RECTIFYING.value
        )
    )
    query = select(func.count()).where(CaseEvidence.case_id == case.id)
    if entered is not None:
        query = query.where(CaseEvidence.added_at >= entered)
    return session.scalar(query) or 0


def _closer(session: Session, case: Case) -> str | None:
    return session.scalar(
        select(CaseEvent.actor)
        .where(CaseEvent.case_id == case.id, CaseEvent.to_state == State.CLOSED.value)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )


def transition(
    session: Session,
    actor: Actor,
    case_id: int,
    to_state: str,
    *,
    reason: str = "",
    responsible_unit: str | None = None,
    deadline: date | None = None,
) -> Case:
    """Move a case one step, as the permission matrix allows, and write it on the timeline.

    Raises :class:`CaseNotFound` (not visible), :class:`NotPermitted` (role or grid) or
    :class:`WorkflowError` (a skipped state, a send-back without reason, missing responsible
    unit, deadline or evidence, the closer reviewing their own closure).
    """
    case = get_case(session, actor, case_id)
    move = find_move(State(case.state), State(to_state))
    check_permitted(move, actor, case.grid_id)
    reason = reason.strip()
    details: dict[str, Any] = {}
    if "reason" in move.requires and not reason:
        raise WorkflowError("a case is sent back only with a reason")
    if "responsible_unit" in move.requires:
        details = _assignment(case, responsible_unit, deadline)
    if "evidence" in move.requires and _evidence_since_rectification(session, case) == 0:
        raise WorkflowError("attach evidence of the rectification (text, photo or file) first")
    if "different_person" in move.requires and _closer(session, case) == actor.name:
        raise WorkflowError("the case must be reviewed by someone other than who closed it")
    now = utc_now()
    if move.to_state is State.CLOSED:
        case.closed_at = now
    if move.to_state is State.REVIEWED:
        case.reviewed_at = now
    if move.is_send_back and move.from_state is State.CLOSED:
        case.closed_at = None
    _log(
        session,
        case,
        actor,
        move.action,
        from_state=case.state,
        to_state=move.to_state.value,
        reason=reason,
        at=now,
        **details,
    )
    case.state = move.to_state.value
    notifications.notify(
        session,
        kind="case.sent_back" if move.is_send_back else "case.moved",
        title=f"{case.code} {move.action}: {move.from_state.label} → {move.to_state.label}",
        body=reason or case.description,
        roles=CASE_AUDIENCE,
        grid_id=case.grid_id,
        case_id=case.id,
    )
    session.flush()
    return case


def available_moves(session: Session, actor: Actor, case: Case) -> tuple[Move, ...]:
    """The moves ``actor`` may make on ``case`` now: the permission matrix's, less 复核 for the
    person who closed the case. Data a move needs (evidence, a reason) is checked when made."""
    closer = _closer(session, case) if case.state == State.CLOSED.value else None
    return tuple(
        move
        for move in moves_for(actor, State(case.state), case.grid_id)
        if not ("different_person" in move.requires and closer == actor.name)
    )


def _assignment(case: Case, responsible_unit: str | None, deadline: date | None) -> dict[str, Any]:
    """交办 needs a responsible unit (责任单位) and a deadline (整改时限) not in the past."""
    unit = (responsible_unit or "").strip()
    if not unit or deadline is None:
        raise WorkflowError("交办 needs a responsible unit and a deadline")
    if deadline < beijing_day(utc_now()):
        raise WorkflowError(f"the deadline {deadline} has already passed")
    case.responsible_unit = unit
    case.deadline = deadline
    case.escalation_level = 0
    return {"responsible_unit": unit, "deadline": deadline.isoformat()}


# ------------------------------------------------------------------------------------------
# Evidence
# ------------------------------------------------------------------------------------------


def _store_file(case_id: int, content: bytes, file_name: str, data_dir: Path) -> tuple[str, str]:
    """Write ``content`` as ``<data dir>/cases/<case id>/<sha256><suffix>`` (atomically, once);
    only the digest and a checked suffix make the name, never the uploader's path."""
    digest = hashlib.sha256(content).hexdigest()
    suffix = PurePath(file_name).suffix.lower()
    stored_name = digest + (suffix if _SAFE_SUFFIX.match(suffix) else "")
    folder = data_dir / "cases" / str(case_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / stored_name
    if not target.exists():
        handle, temporary = tempfile.mkstemp(prefix=".upload.", dir=folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return digest, stored_name


def add_evidence(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    text: str = "",
    file_name: str | None = None,
    content: bytes | None = None,
    content_type: str | None = None,
    data_dir: Path | None = None,
) -> CaseEvidence:
    """Attach a text and/or a file (a photo when its type is ``image/*``) to an open case."""
    case = get_case(session, actor, case_id)
    if not may_add_evidence(actor, case.grid_id, State(case.state)):
        raise NotPermitted(f"{actor.name} may not add evidence to {case.code} now")
    if content is None and not text.strip():
        raise WorkflowError("evidence needs a text or a file")
    record = CaseEvidence(case_id=case.id, kind="text", text=text.strip(), added_by=actor.name)
    if content is not None:
        if len(content) > MAX_EVIDENCE_BYTES:
            raise WorkflowError(f"files are limited to {MAX_EVIDENCE_BYTES // 2**20} MiB")
        name = PurePath((file_name or "file").replace("\\", "/")).name[:200] or "file"
        digest, stored = _store_file(case.id, content, name, data_dir or get_settings().data_dir)
        is_photo = (content_type or "").startswith("image/")
        record.kind = "photo" if is_photo else "file"
        record.file_name = name
        record.stored_name = stored
        record.content_type = content_type
        record.size_bytes = len(content)
        record.sha256 = digest
    record.added_at = utc_now()
    session.add(record)
    session.flush()
    _log(
        session,
        case,
        actor,
        "提交材料",
        at=record.added_at,
        evidence_id=record.id,
        kind=record.kind,
        sha256=record.sha256,
    )
    session.flush()
    return record


def evidence_file(
    session: Session, actor: Actor, case_id: int, evidence_id: int
) -> tuple[CaseEvidence, Path]:
    """An evidence item of a visible case and where its file is; :class:`CaseNotFound` when
    there is no such item, it is a text, or its file is missing."""
    record = next((r for r in evidence(session, actor, case_id) if r.id == evidence_id), None)
    path = evidence_path(record) if record else None
    if record is None or path is None or not path.is_file():
        raise CaseNotFound(f"no evidence file {evidence_id}")
    return record, path


def evidence_path(record: CaseEvidence, data_dir: Path | None = None) -> Path | None:
    """Where an evidence file is kept (None for a text)."""
    if record.stored_name is None:
        return None
    folder = (data_dir or get_settings().data_dir) / "cases" / str(record.case_id)
    return folder / record.stored_name


# ------------------------------------------------------------------------------------------
# Overdue cases
# ------------------------------------------------------------------------------------------


def escalate_overdue(session: Session, actor: Actor, *, now: datetime | None = None) -> list[Case]:
    """Flag and escalate cases whose deadline has passed; run periodically (``qingshan cases
    escalate``). Each case goes up at most once per level: level 1 tells the grid and the
    bureau's analysts, level 2 (overdue for a week) also the administrators."""
    now = now or utc_now()
    open_cases = session.scalars(
        select(Case).where(Case.state.in_([State.ASSIGNED.value, State.RECTIFYING.value]))
    )
    escalated = []
    for case in open_cases:
        level = escalation_level(State(case.state), case.deadline, now)
        if level <= case.escalation_level:
            continue
        late = overdue_days(case, now)
        _log(session, case, actor, "逾期督办", at=now, level=level, days_overdue=late)
        case.escalation_level = level
        roles = CASE_AUDIENCE if level == 1 else ("analyst", "admin")
        notifications.notify(
            session,
            kind="case.overdue",
            title=f"{case.code} 逾期 {late} 天（{level} 级督办）",
            body=f"责任单位 {case.responsible_unit}，整改时限 {case.deadline}：{case.description}",
            roles=roles,
            grid_id=case.grid_id,
            case_id=case.id,
            at=now,
        )
        escalated.append(case)
    session.flush()
    return escalated


# ------------------------------------------------------------------------------------------
# The 问题清单 and the summaries
# ------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "序号",
    "编号",
    "来源",
    "网格",
    "网格编码",
    "位置",
    "问题类别",
    "问题描述",
    "责任单位",
    "整改时限",
    "状态",
    "逾期天数",
    "立案日期",
    "销号日期",
    "复核日期",
    "关联预警",
)


def _day(instant: datetime | None) -> date | None:
    return beijing_day(instant) if instant else None


def export_frame(
    session: Session, actor: Actor, filters: CaseFilter, *, now: datetime | None = None
) -> pl.DataFrame:
    """The 问题清单 as reported upward: one row per case, oldest first, Chinese headers."""
    now = now or utc_now()
    cases = list(reversed(list_cases(session, actor, filters, limit=10**9, now=now)))
    grids = {grid.id: grid for grid in session.scalars(select(Grid))}
    rows = [
        (
            number,
            case.code,
            SOURCES[case.source],
            grids[case.grid_id].name,
            grids[case.grid_id].code,
            case.location,
            case.category,
            case.description,
            case.responsible_unit or "",
            case.deadline,
            State(case.state).label,
            overdue_days(case, now),
            _day(case.opened_at),
            _day(case.closed_at),
            _day(case.reviewed_at),
            ", ".join(str(alarm) for alarm in alarm_ids(session, case.id)),
        )
        for number, case in enumerate(cases, 1)
    ]
    schema: dict[str, Any] = dict.fromkeys(EXPORT_COLUMNS, pl.String)
    schema.update({"序号": pl.Int64, "逾期天数": pl.Int64})
    for column in ("整改时限", "立案日期", "销号日期", "复核日期"):
        schema[column] = pl.Date
    return pl.DataFrame(rows, schema=schema, orient="row")


def workbook(frame: pl.DataFrame, sheet: str) -> bytes:
    """A table as an XLSX workbook with one named sheet."""
    buffer = io.BytesIO()
    frame.write_excel(buffer, worksheet=sheet, autofit=False)
    return buffer.getvalue()


def export_xlsx(session: Session, actor: Actor, filters: CaseFilter) -> tuple[str, bytes]:
    """The 问题清单 as an XLSX workbook (sheet 问题清单): its file name and its bytes."""
    name = f"wentiqingdan-{beijing_day(utc_now()):%Y%m%d}.xlsx"
    return name, workbook(export_frame(session, actor, filters), "问题清单")


SUMMARY_TITLES = {"day": "日调度", "week": "周汇总", "month": "月通报"}
"""The reports of the problem list by period: the daily dispatch, the weekly summary and the
monthly bulletin."""


def period_bounds(kind: str, start: date) -> tuple[date, date]:
    """[start, end) of a day, a week (7 days from ``start``) or the calendar month holding it."""
    if kind == "day":
        return start, start + timedelta(days=1)
    if kind == "week":
        return start, start + timedelta(days=7)
    if kind == "month":
        first = start.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following
    raise WorkflowError("a summary covers a day, a week or a month")


def _states_at(session: Session, case_ids: list[int], end: datetime) -> dict[int, State]:
    """Each case's state at ``end``, replayed from the timeline."""
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.to_state)
        .where(
            CaseEvent.case_id.in_(case_ids),
            CaseEvent.to_state.is_not(None),
            CaseEvent.at < end,
        )
        .order_by(CaseEvent.id)
    )
    return {case_id: State(state) for case_id, state in rows if state is not None}


def _closed_in_time(case: Case) -> bool:
    return bool(case.deadline and case.closed_at and beijing_day(case.closed_at) <= case.deadline)


@dataclass(frozen=True)
class PeriodCase:
    """One case seen from a reporting period: what happened to it then, where it stood after."""

    code: str
    grid: str
    source: str
    opened: bool
    closed: bool
    closed_in_time: bool
    reviewed: bool
    sent_back: int
    """Send-backs (退回) in the period."""
    state_at_end: State
    overdue_at_end: bool


def period_cases(
    session: Session, actor: Actor, kind: str, start: date
) -> tuple[date, date, list[PeriodCase]]:
    """The period's [first day, end day) and every case the actor may see that was opened
    before its end, with the period's facts (states replayed from the timeline)."""
    first, end_day = period_bounds(kind, start)
    begin, end = beijing_midnight(first), beijing_midnight(end_day)
    visible = _visible(actor, select(Case).where(Case.opened_at < end))
    cases = list(session.scalars(visible.order_by(Case.id)))
    grids = {grid_id: code for grid_id, code in session.execute(select(Grid.id, Grid.code))}
    states = _states_at(session, [case.id for case in cases], end)
    sent_back = Counter(
        session.scalars(
            select(CaseEvent.case_id).where(
                CaseEvent.case_id.in_([case.id for case in cases]),
                CaseEvent.action == "退回",
                CaseEvent.at >= begin,
                CaseEvent.at < end,
            )
        )
    )
    last_instant = end - timedelta(microseconds=1)

    def within(instant: datetime | None) -> bool:
        return instant is not None and begin <= instant < end

    facts = [
        PeriodCase(
            code=case.code,
            grid=grids[case.grid_id],
            source=SOURCES[case.source],
            opened=within(case.opened_at),
            closed=within(case.closed_at),
            closed_in_time=within(case.closed_at) and _closed_in_time(case),
            reviewed=within(case.reviewed_at),
            sent_back=sent_back[case.id],
            state_at_end=states[case.id],
            overdue_at_end=days_overdue(states[case.id], case.deadline, last_instant) > 0,
        )
        for case in cases
    ]
    return first, end_day, facts


def summary(session: Session, actor: Actor, kind: str, start: date) -> dict[str, Any]:
    """日调度 / 周汇总 / 月通报: what was opened, closed and reviewed in the period, and where
    the list stood at its end (state of every case then, overdue cases then)."""
    first, end_day, facts = period_cases(session, actor, kind, start)
    opened = [fact for fact in facts if fact.opened]
    return {
        "period": kind,
        "title": SUMMARY_TITLES[kind],
        "start": first.isoformat(),
        "end": end_day.isoformat(),
        "opened": len(opened),
        "opened_by_source": dict(Counter(fact.source for fact in opened)),
        "opened_by_grid": dict(Counter(fact.grid for fact in opened)),
        "closed": sum(fact.closed for fact in facts),
        "closed_in_time": sum(fact.closed_in_time for fact in facts),
        "reviewed": sum(fact.reviewed for fact in facts),
        "sent_back": sum(fact.sent_back for fact in facts),
        "state_at_end": dict(Counter(fact.state_at_end.label for fact in facts)),
        "overdue_at_end": [fact.code for fact in facts if fact.overdue_at_end],
    }


SUMMARY_COLUMNS = (
    "网格",
    "新增",
    *SOURCES.values(),
    "销号",
    "按期销号",
    "复核",
    "退回",
    "期末在办",
    "期末逾期",
)


def summary_frame(session: Session, actor: Actor, kind: str, start: date) -> pl.DataFrame:
    """The summary as a table to send upward: one row per grid (by code) and a 合计 row.

    Columns: 新增 (opened, then by source 预警/投诉/巡查), 销号 (closed), 按期销号 (closed by the
    deadline), 复核 (reviewed), 退回 (send-backs), 期末在办 (open at the period's end: not yet
    销号), 期末逾期 (overdue at the end).
    """
    _, _, facts = period_cases(session, actor, kind, start)
    grids = sorted({fact.grid for fact in facts})
    rows = [_summary_row(grid, [f for f in facts if f.grid == grid]) for grid in grids]
    rows.append(_summary_row("合计", facts))
    schema: dict[str, Any] = dict.fromkeys(SUMMARY_COLUMNS, pl.Int64)
    schema["网格"] = pl.String
    return pl.DataFrame(rows, schema=schema, orient="row")


def _summary_row(label: str, facts: list[PeriodCase]) -> tuple[Any, ...]:
    opened = [fact for fact in facts if fact.opened]
    return (
        label,
        len(opened),
        *(sum(fact.source == source for fact in opened) for source in SOURCES.values()),
        sum(fact.closed for fact in facts),
        sum(fact.closed_in_time for fact in facts),
        sum(fact.reviewed for fact in facts),
        sum(fact.sent_back for fact in facts),
        sum(fact.state_at_end in OPEN_STATES for fact in facts),
        sum(fact.overdue_at_end for fact in facts),
    )
