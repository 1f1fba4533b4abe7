"""The problem list (问题清单): the list with filters, overdue flags and its XLSX export, the
weekly and monthly summaries (周汇总/月通报), opening a case, and one case with its alarms,
evidence, timeline and the moves the caller may make.

Every decision is the services': :func:`qingshan.services.cases.available_moves` chooses the
forms shown, :func:`qingshan.services.cases.transition` checks each posted move again, and
another grid's case is "not found" (404) to a grid officer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from qingshan.api.deps import Caller, EngineDep
from qingshan.api.routers.cases import XLSX, workflow_errors
from qingshan.services import alarms as alarm_service
from qingshan.services import cases as service
from qingshan.services.case_workflow import (
    OPEN_STATES,
    ORDER,
    SOURCES,
    Actor,
    State,
    WorkflowError,
    beijing_day,
    may_add_evidence,
)
from qingshan.store.case_models import Case
from qingshan.store.engine import reading, writing
from qingshan.store.models import Grid, Site
from qingshan.store.types import utc_now
from qingshan.web.dates import beijing_time, optional_day
from qingshan.web.i18n import N_
from qingshan.web.i18n import gettext_ as _
from qingshan.web.rendering import grid_choices, render
from qingshan.web.session import CheckedForm, signed_in

router = APIRouter(include_in_schema=False)
Participant = Annotated[Caller, Depends(signed_in("analyst", "grid_officer"))]

PAGE_SIZE = 50
STATE_NAMES = {
    State.PENDING_VERIFICATION: N_("Pending verification"),
    State.ASSIGNED: N_("Assigned"),
    State.RECTIFYING: N_("Rectifying"),
    State.PENDING_CLOSURE: N_("Pending closure"),
    State.CLOSED: N_("Closed"),
    State.REVIEWED: N_("Reviewed"),
}
"""English names of the states; the catalog gives back the service's labels (待核实 …)."""
SOURCE_NAMES = {"alarm": N_("Alarm"), "complaint": N_("Complaint"), "inspection": N_("Inspection")}
ACTION_NAMES = {
    "立案": N_("Opened"),
    "交办": N_("Assign"),
    "开始整改": N_("Start rectification"),
    "提交材料": N_("Evidence added"),
    "提交销号": N_("Submit for closure"),
    "销号": N_("Close"),
    "复核": N_("Review"),
    "退回": N_("Send back"),
    "逾期督办": N_("Overdue escalation"),
}
"""The timeline's actions (stored in Chinese, as the 问题清单 reports them) in the catalog."""
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Photos shown in the page; any other upload (SVG included: it may hold scripts) is a download."""


def _label_names() -> dict[str, str]:
    """Service labels (待核实, 预警 …, used in summaries) → the messages that translate them."""
    names = {state.label: STATE_NAMES[state] for state in State}
    names.update({SOURCES[key]: name for key, name in SOURCE_NAMES.items()})
    return names


LABEL_NAMES = _label_names()


def case_filter(
    grid: str = "",
    state: str = "",
    source: str = "",
    overdue: str = "",
    opened_from: str = "",
    opened_to: str = "",
) -> service.CaseFilter:
    """The list's filters from the query string (empty: no restriction)."""
    if state and state not in set(State):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no state {state!r}")
    if source and source not in SOURCES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no source {source!r}")
    return service.CaseFilter(
        state=state or None,
        grid_code=grid or None,
        source=source or None,
        overdue={"yes": True, "no": False}.get(overdue),
        opened_from=optional_day(opened_from, "opened_from"),
        opened_to=optional_day(opened_to, "opened_to"),
    )


Filter = Annotated[service.CaseFilter, Depends(case_filter)]
FILTER_FIELDS = ("grid", "state", "source", "overdue", "opened_from", "opened_to")


def _actor(session: Session, caller: Caller) -> Actor:
    return service.actor_for_user(session, caller.user_id, caller.actor)


def _names() -> dict[str, Any]:
    return {
        "state_names": STATE_NAMES,
        "source_names": SOURCE_NAMES,
        "action_names": ACTION_NAMES,
        "label_names": LABEL_NAMES,
        "beijing_time": beijing_time,
    }


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request, engine: EngineDep, caller: Participant, chosen: Filter, page: int = 1
) -> HTMLResponse:
    page = max(page, 1)
    now = utc_now()
    with reading(engine) as session:
        actor = _actor(session, caller)
        found = service.list_cases(
            session, actor, chosen, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, now=now
        )
        grids = service.grids_for(session, actor)
        rows = [
            {"case": case, "overdue": service.overdue_days(case, now)} for case in found[:PAGE_SIZE]
        ]
    fields = {field: request.query_params.get(field, "") for field in FILTER_FIELDS}
    return render(
        request,
        "cases.html",
        caller,
        {
            "rows": rows,
            "grids": grids,
            "grid_codes": {grid.id: grid.code for grid in grids},
            "grid_choices": grid_choices(grids),
            "state_choices": {state.value: STATE_NAMES[state] for state in ORDER},
            "fields": fields,
            "query": {name: value for name, value in fields.items() if value},
            "page": page,
            "more": len(found) > PAGE_SIZE,
            **_names(),
        },
    )


@router.get("/cases/export.xlsx")
def case_export(engine: EngineDep, caller: Participant, chosen: Filter) -> Response:
    """The 问题清单 with the columns reported upward (the API's export)."""
    with reading(engine) as session:
        name, content = service.export_xlsx(session, _actor(session, caller), chosen)
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _default_start(period: str) -> date:
    """This Beijing week's Monday (周汇总) or today (月通报: its calendar month)."""
    today = beijing_day(utc_now())
    return today - timedelta(days=today.weekday()) if period == "week" else today


@router.get("/cases/summary", response_class=HTMLResponse)
def case_summary(
    request: Request, engine: EngineDep, caller: Participant, period: str = "week", start: str = ""
) -> HTMLResponse:
    """周汇总 (seven days from ``start``) or 月通报 (the calendar month holding ``start``)."""
    first = optional_day(start, "start") or _default_start(period)
    with workflow_errors(), reading(engine) as session:
        summary = service.summary(session, _actor(session, caller), period, first)
    return render(
        request,
        "case_summary.html",
        caller,
        {"summary": summary, "period": period, "start": first.isoformat(), **_names()},
    )


# ------------------------------------------------------------------------------------------
# Opening
# ------------------------------------------------------------------------------------------


def _visible_alarm(session: Session, caller: Caller, alarm_id: str) -> dict[str, Any]:
    """The alarm a case is opened from, if the caller may see it (404 otherwise)."""
    grids = alarm_service.visible_grids(session, caller.user_id, caller.role)
    try:
        return alarm_service.describe(session, int(alarm_id), grids)
    except (ValueError, alarm_service.AlarmNotFound):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm {alarm_id}") from None


def _new_form(
    request: Request,
    session: Session,
    caller: Caller,
    values: dict[str, str],
    *,
    error: str | None = None,
) -> HTMLResponse:
    alarm = _visible_alarm(session, caller, values["alarm"]) if values.get("alarm") else None
    return render(
        request,
        "case_new.html",
        caller,
        {
            "values": values,
            "alarm": alarm,
            "grids": service.grids_for(session, _actor(session, caller)),
            "sources": SOURCES,
            "error": error,
            **_names(),
        },
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if error else status.HTTP_200_OK,
    )


@router.get("/cases/new", response_class=HTMLResponse)
def new_case(
    request: Request, engine: EngineDep, caller: Participant, alarm: str = "", source: str = ""
) -> HTMLResponse:
    """A blank case, or one prefilled from an alarm (its grid, site and rule)."""
    values = {"alarm": alarm, "source": "alarm" if alarm else source or "complaint"}
    with reading(engine) as session:
        if alarm:
            found = _visible_alarm(session, caller, alarm)
            values.update(
                grid=found["grid"] or "",
                site=found["site"],
                category=_("Alarm"),
                description=_("Alarm #%(id)s: rule %(rule)s at %(site)s")
                % {"id": found["id"], "rule": found["rule"], "site": found["site"]},
            )
        return _new_form(request, session, caller, values)


def _text(form: FormData, field: str, limit: int = 4000) -> str:
    value = form.get(field, "")
    return value[:limit] if isinstance(value, str) else ""


def _open(session: Session, caller: Caller, values: dict[str, str]) -> Case:
    """Open the case as the services do: from an alarm (one open case per alarm) or not."""
    actor = _actor(session, caller)
    if values["alarm"]:
        alarm_id = int(_visible_alarm(session, caller, values["alarm"])["id"])
        alarm = alarm_service.get_alarm(session, alarm_id)
        if alarm.grid_id is None:
            raise WorkflowError("the alarm's site lies in no grid; open the case by hand")
        return service.open_case_from_alarm(
            session,
            alarm_id=alarm.id,
            site_id=alarm.site_id,
            grid_id=alarm.grid_id,
            description=values["description"],
            actor=actor,
            category=values["category"] or "预警",
        )
    return service.open_case(
        session,
        actor,
        source=values["source"],
        grid_id=service.grid_by_code(session, values["grid"]).id,
        category=values["category"],
        description=values["description"],
        location=values["location"],
        site_id=service.site_id_by_code(session, values["site"]) if values["site"] else None,
    )


@router.post("/cases/new", response_model=None)
def create_case(
    request: Request, engine: EngineDep, caller: Participant, form: CheckedForm
) -> Response:
    fields = ("alarm", "source", "grid", "site", "category", "description", "location")
    values = {field: _text(form, field).strip() for field in fields}
    try:
        with workflow_errors(), writing(engine, caller.actor) as session:
            case_id = _open(session, caller, values).id
    except HTTPException as error:
        if error.status_code != status.HTTP_409_CONFLICT:
            raise
        with reading(engine) as session:
            return _new_form(request, session, caller, values, error=str(error.detail))
    return RedirectResponse(f"/cases/{case_id}", status_code=status.HTTP_303_SEE_OTHER)


# ------------------------------------------------------------------------------------------
# One case
# ------------------------------------------------------------------------------------------


def _case_page(
    request: Request,
    engine: EngineDep,
    caller: Caller,
    case_id: int,
    *,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    now = utc_now()
    with workflow_errors(), reading(engine) as session:
        actor = _actor(session, caller)
        case = service.get_case(session, actor, case_id)
        state = State(case.state)
        return render(
            request,
            "case.html",
            caller,
            {
                "case": case,
                "state": state,
                "grid": session.get_one(Grid, case.grid_id),
                "site": session.get(Site, case.site_id) if case.site_id else None,
                "alarm_ids": service.alarm_ids(session, case.id),
                "evidence": service.evidence(session, actor, case.id),
                "events": service.timeline(session, actor, case.id),
                "moves": service.available_moves(session, actor, case),
                "may_add_evidence": may_add_evidence(actor, case.grid_id, state),
                "overdue": service.overdue_days(case, now),
                "is_open": state in OPEN_STATES,
                "inline_types": INLINE_IMAGE_TYPES,
                "today": beijing_day(now).isoformat(),
                "error": error,
                **_names(),
            },
            status_code=status_code,
        )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, engine: EngineDep, caller: Participant, case_id: int) -> Response:
    return _case_page(request, engine, caller, case_id)


def _after(
    request: Request, engine: EngineDep, caller: Caller, case_id: int, work: Any
) -> Response:
    """Run ``work(session, actor)`` in one audited write and show the case again; a move the
    workflow refuses (missing evidence, a skipped state) is shown on the case's page."""
    try:
        with workflow_errors(), writing(engine, caller.actor) as session:
            work(session, _actor(session, caller))
    except HTTPException as error:
        if error.status_code != status.HTTP_409_CONFLICT:
            raise
        return _case_page(
            request, engine, caller, case_id, error=str(error.detail), status_code=error.status_code
        )
    return RedirectResponse(f"/cases/{case_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/cases/{case_id}/move", response_model=None)
def move_case(
    request: Request, engine: EngineDep, caller: Participant, case_id: int, form: CheckedForm
) -> Response:
    """One move of the workflow, as the posted form names it; the service checks it."""
    to_state = _text(form, "to_state")
    if to_state not in set(State):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no state {to_state!r}")
    deadline = optional_day(_text(form, "deadline"), "deadline")
    return _after(
        request,
        engine,
        caller,
        case_id,
        lambda session, actor: service.transition(
            session,
            actor,
            case_id,
            to_state,
            reason=_text(form, "reason", 1000),
            responsible_unit=_text(form, "responsible_unit", 200) or None,
            deadline=deadline,
        ),
    )


@router.post("/cases/{case_id}/evidence", response_model=None)
async def add_evidence(
    request: Request, engine: EngineDep, caller: Participant, case_id: int, form: CheckedForm
) -> Response:
    """A text and/or a file through the evidence service (images become photos)."""
    upload = form.get("file")
    content = None
    file_name = content_type = None
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(service.MAX_EVIDENCE_BYTES + 1)
        file_name, content_type = upload.filename, upload.content_type
    return _after(
        request,
        engine,
        caller,
        case_id,
        lambda session, actor: service.add_evidence(
            session,
            actor,
            case_id,
            text=_text(form, "text"),
            file_name=file_name,
            content=content,
            content_type=content_type,
        ),
    )


@router.get("/cases/{case_id}/evidence/{evidence_id}")
def evidence_file(
    engine: EngineDep, caller: Participant, case_id: int, evidence_id: int
) -> FileResponse:
    """An evidence file: photos inline (shown in the page), anything else as a download."""
    with workflow_errors(), reading(engine) as session:
        record, path = service.evidence_file(session, _actor(session, caller), case_id, evidence_id)
    inline = record.content_type in INLINE_IMAGE_TYPES
    return FileResponse(
        path,
        media_type=record.content_type if inline else "application/octet-stream",
        filename=record.file_name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )
