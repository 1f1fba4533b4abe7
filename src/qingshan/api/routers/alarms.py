"""Alarms: list with filters, read one with its comments, acknowledge, clear, comment.

Grid officers see, acknowledge and comment only on alarms of the grids linked to them
(``user_grids``); another grid's alarm is "not found" to them. Enterprise users list and read
the alarms of their company's outlets (another's is "not found") and handle none. Clearing by
hand is for admins and analysts.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from qingshan.api.deps import Caller, EngineDep, ReadSession, require_roles
from qingshan.services import alarms as alarm_service
from qingshan.services.sites import visible_sites
from qingshan.store.engine import writing

router = APIRouter(prefix="/alarms", tags=["alarms 报警"])

Readers = Annotated[Caller, Depends(require_roles(*alarm_service.READER_ROLES))]
Handlers = Annotated[Caller, Depends(require_roles(*alarm_service.HANDLER_ROLES))]
Managers = Annotated[Caller, Depends(require_roles(*alarm_service.MANAGER_ROLES))]


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


class ClearIn(BaseModel):
    reason: str = Field(default="", max_length=1000)


def visible_grids(session: Session, caller: Caller) -> Collection[int] | None:
    """The grids a caller is limited to (None: every grid)."""
    return alarm_service.visible_grids(session, caller.user_id, caller.role)


def _not_found(error: LookupError) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(error.args[0]))


@router.get("")
def list_alarms(
    caller: Readers,
    session: ReadSession,
    state: Annotated[
        str | None, Query(description="active, cleared, acknowledged, unacknowledged")
    ] = None,
    severity: Annotated[str | None, Query(description="critical, major, minor, warning")] = None,
    grid: Annotated[str | None, Query(description="grid code")] = None,
    site: Annotated[str | None, Query(description="site code")] = None,
    rule: Annotated[str | None, Query(description="rule code")] = None,
    since: Annotated[
        datetime | None, Query(description="started at or after (ISO 8601 with offset)")
    ] = None,
    until: Annotated[datetime | None, Query(description="started before")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    """Alarms, newest first."""
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "times need an offset")
    chosen = alarm_service.AlarmFilter(state, severity, grid, site, rule, since, until, limit)
    grids = visible_grids(session, caller)
    sites = visible_sites(session, caller.user_id, caller.role)
    try:
        return alarm_service.list_alarms(session, chosen, grids, sites)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


@router.get("/{alarm_id}")
def get_alarm(alarm_id: int, caller: Readers, session: ReadSession) -> dict[str, Any]:
    """One alarm with its comments."""
    grids = visible_grids(session, caller)
    sites = visible_sites(session, caller.user_id, caller.role)
    try:
        return alarm_service.describe(session, alarm_id, grids, sites)
    except alarm_service.AlarmNotFound as error:
        raise _not_found(error) from None


@router.post("/{alarm_id}/acknowledge")
def acknowledge(alarm_id: int, caller: Handlers, engine: EngineDep) -> dict[str, Any]:
    """Acknowledge: someone has seen the alarm (repeating it changes nothing)."""
    try:
        with writing(engine, caller.actor) as session:
            grids = visible_grids(session, caller)
            alarm_service.acknowledge(session, alarm_id, who=caller.actor, grids=grids)
            return alarm_service.describe(session, alarm_id, grids)
    except alarm_service.AlarmNotFound as error:
        raise _not_found(error) from None


@router.post("/{alarm_id}/clear")
def clear(alarm_id: int, body: ClearIn, caller: Managers, engine: EngineDep) -> dict[str, Any]:
    """Clear an active alarm by hand (a new alarm opens if the condition holds again)."""
    try:
        with writing(engine, caller.actor) as session:
            alarm_service.clear(session, alarm_id, who=caller.actor, reason=body.reason)
            return alarm_service.describe(session, alarm_id)
    except alarm_service.AlarmNotFound as error:
        raise _not_found(error) from None


@router.post("/{alarm_id}/comments", status_code=status.HTTP_201_CREATED)
def add_comment(
    alarm_id: int, body: CommentIn, caller: Handlers, engine: EngineDep
) -> dict[str, Any]:
    """Comment on an alarm (comments are kept, never edited)."""
    try:
        with writing(engine, caller.actor) as session:
            grids = visible_grids(session, caller)
            alarm_service.comment(session, alarm_id, who=caller.actor, body=body.body, grids=grids)
            return alarm_service.describe(session, alarm_id, grids)
    except alarm_service.AlarmNotFound as error:
        raise _not_found(error) from None
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
