"""The problem list (问题清单) over HTTP: open, read, move, evidence, timeline, export, summaries.

Role checks come in two layers: :func:`require_roles` admits the roles that take part in the
workflow at all (analysts, grid officers, admins); the permission matrix of
:mod:`qingshan.services.case_workflow` then decides per case and move (grid officers act only
in their grids). Another grid's case answers 404, so its existence is not disclosed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from qingshan.api.deps import Caller, EngineDep, ReadSession, require_roles
from qingshan.services import cases as service
from qingshan.services.case_workflow import (
    Actor,
    NotPermitted,
    State,
    WorkflowError,
)
from qingshan.store.case_models import Case, CaseEvent, CaseEvidence
from qingshan.store.engine import writing
from qingshan.store.models import Grid, Site
from qingshan.store.types import utc_now

router = APIRouter(prefix="/cases", tags=["cases 问题清单"])

Participant = Annotated[Caller, Depends(require_roles("analyst", "grid_officer"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CaseOpen(BaseModel):
    source: Literal["alarm", "complaint", "inspection"]
    grid: str = Field(description="Grid code (网格编码).")
    category: str = Field(min_length=1, max_length=50)
    description: str = Field(min_length=1)
    location: str = ""
    site: str | None = Field(default=None, description="Site code, when the problem is at one.")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    alarm_ids: list[int] = []


class CaseMove(BaseModel):
    to_state: State
    reason: str = ""
    responsible_unit: str | None = None
    deadline: date | None = Field(default=None, description="整改时限, a Beijing calendar day.")


class CaseOut(BaseModel):
    id: int
    code: str
    source: str
    state: str
    state_label: str
    grid: str
    site: str | None
    category: str
    description: str
    location: str
    latitude: float | None
    longitude: float | None
    responsible_unit: str | None
    deadline: date | None
    days_overdue: int
    escalation_level: int
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    reviewed_at: datetime | None
    alarm_ids: list[int]


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str
    details: dict[str, Any]


class EvidenceOut(BaseModel):
    id: int
    kind: str
    text: str
    file_name: str | None
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    added_at: datetime
    added_by: str


def _actor(session: Session, caller: Caller) -> Actor:
    return service.actor_for_user(session, caller.user_id, caller.actor)


@contextmanager
def workflow_errors() -> Iterator[None]:
    """Map the service's refusals to HTTP: 404 unseen, 403 not permitted, 409 wrong move."""
    try:
        yield
    except service.CaseNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except NotPermitted as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
    except WorkflowError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


def _out(session: Session, case: Case) -> CaseOut:
    grid = session.get_one(Grid, case.grid_id)
    site = session.get(Site, case.site_id) if case.site_id else None
    return CaseOut(
        id=case.id,
        code=case.code,
        source=case.source,
        state=case.state,
        state_label=State(case.state).label,
        grid=grid.code,
        site=site.code if site else None,
        category=case.category,
        description=case.description,
        location=case.location,
        latitude=case.latitude,
        longitude=case.longitude,
        responsible_unit=case.responsible_unit,
        deadline=case.deadline,
        days_overdue=service.overdue_days(case, utc_now()),
        escalation_level=case.escalation_level,
        opened_at=case.opened_at,
        opened_by=case.opened_by,
        closed_at=case.closed_at,
        reviewed_at=case.reviewed_at,
        alarm_ids=service.alarm_ids(session, case.id),
    )


def _event_out(event: CaseEvent) -> EventOut:
    return EventOut.model_validate(event, from_attributes=True)


def _evidence_out(record: CaseEvidence) -> EvidenceOut:
    return EvidenceOut.model_validate(record, from_attributes=True)


def _filters(
    state: State | None = None,
    grid: str | None = None,
    source: Literal["alarm", "complaint", "inspection"] | None = None,
    overdue: bool | None = None,
    opened_from: Annotated[date | None, Query(description="Beijing day, inclusive.")] = None,
    opened_to: Annotated[date | None, Query(description="Beijing day, inclusive.")] = None,
) -> service.CaseFilter:
    return service.CaseFilter(
        state=state.value if state else None,
        grid_code=grid,
        source=source,
        overdue=overdue,
        opened_from=opened_from,
        opened_to=opened_to,
    )


Filters = Annotated[service.CaseFilter, Depends(_filters)]


@router.post("", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
def open_case(body: CaseOpen, caller: Participant, engine: EngineDep) -> CaseOut:
    """Put a problem on the list (state 待核实); grid officers only in their grids."""
    with workflow_errors(), writing(engine, caller.actor) as session:
        site_id = service.site_id_by_code(session, body.site) if body.site is not None else None
        case = service.open_case(
            session,
            _actor(session, caller),
            source=body.source,
            grid_id=service.grid_by_code(session, body.grid).id,
            category=body.category,
            description=body.description,
            location=body.location,
            site_id=site_id,
            latitude=body.latitude,
            longitude=body.longitude,
            alarm_ids=tuple(body.alarm_ids),
        )
        return _out(session, case)


@router.get("", response_model=list[CaseOut])
def list_cases(
    caller: Participant,
    session: ReadSession,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CaseOut]:
    """The cases the caller may see, newest first, filtered."""
    actor = _actor(session, caller)
    found = service.list_cases(session, actor, filters, limit=limit, offset=offset)
    return [_out(session, case) for case in found]


@router.get("/export.xlsx", response_class=StreamingResponse)
def export_list(caller: Participant, session: ReadSession, filters: Filters) -> StreamingResponse:
    """The 问题清单 as XLSX (编号, 来源, 网格, 问题描述, 责任单位, 整改时限, 状态, 销号日期 …)."""
    name, content = service.export_xlsx(session, _actor(session, caller), filters)
    return _download(content, name)


def _download(content: bytes, name: str) -> StreamingResponse:
    """An XLSX workbook as a download named ``name``."""
    return StreamingResponse(
        iter([content]),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


SummaryPeriod = Annotated[
    Literal["day", "week", "month"],
    Query(description="day (日调度), week (周汇总: 7 days from start) or month (月通报)."),
]
SummaryStart = Annotated[
    date, Query(description="The day, the first day of the week, or a day of the month.")
]


@router.get("/summary")
def summary(
    caller: Participant, session: ReadSession, period: SummaryPeriod, start: SummaryStart
) -> dict[str, Any]:
    """日调度 (the day), 周汇总 (7 days from ``start``) or 月通报 (the calendar month)."""
    with workflow_errors():
        return service.summary(session, _actor(session, caller), period, start)


@router.get("/summary.xlsx", response_class=StreamingResponse)
def summary_export(
    caller: Participant, session: ReadSession, period: SummaryPeriod, start: SummaryStart
) -> StreamingResponse:
    """The same summary as XLSX: one row per grid and a 合计 row (sheet 日调度/周汇总/月通报)."""
    with workflow_errors():
        frame = service.summary_frame(session, _actor(session, caller), period, start)
    content = service.workbook(frame, service.SUMMARY_TITLES[period])
    return _download(content, f"{period}-summary-{start:%Y%m%d}.xlsx")


@router.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: int, caller: Participant, session: ReadSession) -> CaseOut:
    """One case (404 for another grid's case)."""
    with workflow_errors():
        return _out(session, service.get_case(session, _actor(session, caller), case_id))


@router.post("/{case_id}/transitions", response_model=CaseOut)
def move_case(case_id: int, body: CaseMove, caller: Participant, engine: EngineDep) -> CaseOut:
    """Move a case one step forward, or back with a reason, as the permission matrix allows."""
    with workflow_errors(), writing(engine, caller.actor) as session:
        case = service.transition(
            session,
            _actor(session, caller),
            case_id,
            body.to_state.value,
            reason=body.reason,
            responsible_unit=body.responsible_unit,
            deadline=body.deadline,
        )
        return _out(session, case)


@router.post("/{case_id}/evidence", response_model=EvidenceOut, status_code=status.HTTP_201_CREATED)
def attach_evidence(
    case_id: int,
    caller: Participant,
    engine: EngineDep,
    text: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> EvidenceOut:
    """Attach a text and/or a file (photos: ``image/*``) as multipart form data."""
    content = file.file.read(service.MAX_EVIDENCE_BYTES + 1) if file is not None else None
    with workflow_errors(), writing(engine, caller.actor) as session:
        record = service.add_evidence(
            session,
            _actor(session, caller),
            case_id,
            text=text,
            file_name=file.filename if file else None,
            content=content,
            content_type=file.content_type if file else None,
        )
        return _evidence_out(record)


@router.get("/{case_id}/evidence", response_model=list[EvidenceOut])
def list_evidence(case_id: int, caller: Participant, session: ReadSession) -> list[EvidenceOut]:
    """The case's evidence, oldest first."""
    with workflow_errors():
        records = service.evidence(session, _actor(session, caller), case_id)
    return [_evidence_out(record) for record in records]


@router.get("/{case_id}/evidence/{evidence_id}/file", response_class=FileResponse)
def evidence_file(
    case_id: int, evidence_id: int, caller: Participant, session: ReadSession
) -> FileResponse:
    """Download an evidence file."""
    with workflow_errors():
        record, path = service.evidence_file(session, _actor(session, caller), case_id, evidence_id)
    return FileResponse(path, media_type=record.content_type, filename=record.file_name)


@router.get("/{case_id}/timeline", response_model=list[EventOut])
def case_timeline(case_id: int, caller: Participant, session: ReadSession) -> list[EventOut]:
    """Who did what, when, from which state to which, and why; oldest first."""
    with workflow_errors():
        events = service.timeline(session, _actor(session, caller), case_id)
    return [_event_out(event) for event in events]
