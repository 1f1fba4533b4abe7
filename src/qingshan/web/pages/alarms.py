"""Alarms (报警): the list with filters, keyset pages and its XLSX export; one alarm with its
comments and the actions the caller's role allows (acknowledge, comment, clear by hand, open a
case from it).

Everything goes through :mod:`qingshan.services.alarms` with the caller's grids and sites,
like the API: a grid officer's list holds only their grids, an enterprise user's only its
company's outlets (read-only), and another's alarm is "not found".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qingshan.api.deps import Caller, EngineDep
from qingshan.api.listing import Paging, respond
from qingshan.services import alarms as alarm_service
from qingshan.services import cases as case_service
from qingshan.services.listing import CursorError, fetch_page
from qingshan.services.rules import list_rules
from qingshan.services.sites import visible_sites
from qingshan.store.engine import reading, writing
from qingshan.web.dates import beijing_time, day_end, day_start, optional_day
from qingshan.web.i18n import N_
from qingshan.web.rendering import grid_choices, render
from qingshan.web.session import CheckedForm, signed_in

router = APIRouter(include_in_schema=False)
Reader = Annotated[Caller, Depends(signed_in(*alarm_service.READER_ROLES))]
Handler = Annotated[Caller, Depends(signed_in(*alarm_service.HANDLER_ROLES))]

PAGE_SIZE = 50
SEVERITY_LABELS = {
    "critical": N_("Red · critical"),
    "major": N_("Orange · major"),
    "minor": N_("Yellow · minor"),
    "warning": N_("Blue · warning"),
}
"""Severity badges say the level in words as well as in colour (keys: ``SEVERITIES``)."""
STATE_LABELS = {"active": N_("Active"), "cleared": N_("Cleared")}
ACKNOWLEDGEMENT_LABELS = {
    "unacknowledged": N_("Unacknowledged"),
    "acknowledged": N_("Acknowledged"),
}
FILTER_FIELDS = ("grid", "site", "severity", "state", "acknowledgement", "rule", "since", "until")


def alarm_filter(
    grid: str = "",
    site: str = "",
    severity: str = "",
    state: str = "",
    acknowledgement: str = "",
    rule: str = "",
    since: str = "",
    until: str = "",
) -> alarm_service.AlarmFilter:
    """The list's filters from the query string (empty fields: no restriction); the period is
    of Beijing days, both inclusive, bounding when alarms started."""
    return alarm_service.AlarmFilter(
        state=state or None,
        severity=severity or None,
        grid=grid or None,
        site=site.strip() or None,
        rule=rule or None,
        since=day_start(optional_day(since, "since")),
        until=day_end(optional_day(until, "until")),
        acknowledgement=acknowledgement or None,
    )


Filter = Annotated[alarm_service.AlarmFilter, Depends(alarm_filter)]


def _scope(session: Any, caller: Caller) -> tuple[Any, frozenset[int] | None]:
    """The grids and sites the caller's alarms lie in (None: no limit)."""
    return (
        alarm_service.visible_grids(session, caller.user_id, caller.role),
        visible_sites(session, caller.user_id, caller.role),
    )


def _listing(engine: EngineDep, caller: Caller, chosen: alarm_service.AlarmFilter) -> Any:
    with reading(engine) as session:
        grids, sites = _scope(session, caller)
    try:
        return alarm_service.alarm_listing(chosen, grids, sites)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


def _chosen_fields(request: Request) -> dict[str, str]:
    return {field: request.query_params.get(field, "") for field in FILTER_FIELDS}


@router.get("/alarms", response_class=HTMLResponse)
def alarm_list(
    request: Request, engine: EngineDep, caller: Reader, chosen: Filter, cursor: str = ""
) -> HTMLResponse:
    listing = _listing(engine, caller, chosen)
    with reading(engine) as session:
        try:
            page = fetch_page(session, listing, cursor=cursor or None, limit=PAGE_SIZE)
        except CursorError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        actor = case_service.actor_for_user(session, caller.user_id, caller.actor)
        grids = case_service.grids_for(session, actor)
        rules = [rule.code for rule in list_rules(session)]
    fields = _chosen_fields(request)
    return render(
        request,
        "alarms.html",
        caller,
        {
            "page": page,
            "fields": fields,
            "query": {name: value for name, value in fields.items() if value},
            "grid_choices": grid_choices(grids),
            "rule_choices": {code: code for code in rules},
            "severity_labels": SEVERITY_LABELS,
            "state_labels": STATE_LABELS,
            "acknowledgement_labels": ACKNOWLEDGEMENT_LABELS,
            "beijing_time": beijing_time,
        },
    )


@router.get("/alarms/export.xlsx")
def alarm_export(engine: EngineDep, caller: Reader, chosen: Filter) -> Any:
    """Every alarm of the filtered list (not only one page), through the API's export."""
    return respond(engine, _listing(engine, caller, chosen), Paging(format="xlsx"))


@router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
def alarm_page(request: Request, engine: EngineDep, caller: Reader, alarm_id: int) -> Response:
    with reading(engine) as session:
        grids, sites = _scope(session, caller)
        try:
            alarm = alarm_service.describe(session, alarm_id, grids, sites)
        except alarm_service.AlarmNotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
        actor = case_service.actor_for_user(session, caller.user_id, caller.actor)
        linked = case_service.cases_of_alarm(session, actor, alarm_id)
        may_open_case = alarm["grid"] is not None and any(
            grid.code == alarm["grid"] for grid in case_service.grids_for(session, actor)
        )
        return render(
            request,
            "alarm.html",
            caller,
            {
                "alarm": alarm,
                "cases": linked,
                "may_handle": alarm_service.may_handle(caller.role),
                "may_clear": alarm_service.may_clear(caller.role),
                "may_open_case": may_open_case,
                "severity_labels": SEVERITY_LABELS,
                "beijing_time": beijing_time,
            },
        )


def _act(engine: EngineDep, caller: Caller, alarm_id: int, action: Any) -> RedirectResponse:
    """Run ``action(session, grids)`` in one audited write, then show the alarm again."""
    try:
        with writing(engine, caller.actor) as session:
            action(session, alarm_service.visible_grids(session, caller.user_id, caller.role))
    except alarm_service.AlarmNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return RedirectResponse(f"/alarms/{alarm_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge(
    engine: EngineDep, caller: Handler, alarm_id: int, _form: CheckedForm
) -> RedirectResponse:
    return _act(
        engine,
        caller,
        alarm_id,
        lambda session, grids: alarm_service.acknowledge(
            session, alarm_id, who=caller.actor, grids=grids
        ),
    )


@router.post("/alarms/{alarm_id}/comment")
def comment(
    engine: EngineDep, caller: Handler, alarm_id: int, form: CheckedForm
) -> RedirectResponse:
    body = str(form.get("body", ""))[:4000]
    return _act(
        engine,
        caller,
        alarm_id,
        lambda session, grids: alarm_service.comment(
            session, alarm_id, who=caller.actor, body=body, grids=grids
        ),
    )


@router.post("/alarms/{alarm_id}/clear")
def clear(engine: EngineDep, caller: Handler, alarm_id: int, form: CheckedForm) -> RedirectResponse:
    """Clear by hand: the bureau's decision (:func:`~qingshan.services.alarms.may_clear`)."""
    if not alarm_service.may_clear(caller.role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "clearing an alarm is for the bureau")
    reason = str(form.get("reason", ""))[:1000]
    return _act(
        engine,
        caller,
        alarm_id,
        lambda session, grids: alarm_service.clear(
            session, alarm_id, who=caller.actor, reason=reason, grids=grids
        ),
    )
