"""Alarm handling by people: list with filters, acknowledge, clear, comment; officers' grids.

Alarm *state* comes from rule evaluation (:mod:`qingshan.services.alerting`); people only
acknowledge ("I have seen it"), clear by hand (a rule without data to clear it, a known cause)
and comment. Acknowledging and clearing also write a system comment, so an alarm's own page
tells its story (ThingsBoard keeps such system comments; ``shared/reference/platform.md``
§1.2). Grid officers are limited to the grids linked to them in ``user_grids``; enterprise
users read (list, open, export) the alarms of their company's outlets only
(:func:`qingshan.services.sites.visible_sites`) and handle none.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from qingshan.alerting.catalogue import SEVERITIES
from qingshan.services.listing import KeyPart, Listing
from qingshan.store.identity import grids_of_user
from qingshan.store.models import Alarm, AlarmComment, Grid, Parameter, Rule, Site
from qingshan.store.types import utc_now

STATES = ("active", "cleared", "acknowledged", "unacknowledged")
HANDLER_ROLES = ("analyst", "grid_officer")
"""Who lists, reads, acknowledges and comments on alarms (grid officers in their grids)."""
READER_ROLES = (*HANDLER_ROLES, "enterprise")
"""Who lists and reads alarms: the handlers, and enterprise users (their outlets' alarms)."""
MANAGER_ROLES = ("analyst",)
"""Who may also clear an alarm by hand (bureau-wide). Admins may do everything."""


class AlarmNotFound(LookupError):
    """No such alarm, or not one the caller may see."""


@dataclass(frozen=True)
class AlarmFilter:
    """Which alarms to list; ``None`` = no restriction. Times bound ``started_at``."""

    state: str | None = None
    severity: str | None = None
    grid: str | None = None
    site: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 500
    acknowledgement: str | None = None
    """``acknowledged`` or ``unacknowledged``, to combine with an active/cleared ``state``."""


def _filtered(query: Select[Any], chosen: AlarmFilter) -> Select[Any]:
    state_conditions = {
        "active": Alarm.active,
        "cleared": ~Alarm.active,
        "acknowledged": Alarm.acknowledged,
        "unacknowledged": ~Alarm.acknowledged,
    }
    for state in (chosen.state, chosen.acknowledgement):
        if state is not None:
            if state not in state_conditions:
                raise ValueError(f"state must be one of {STATES}")
            query = query.where(state_conditions[state])
    if chosen.severity is not None:
        query = query.where(Alarm.severity == chosen.severity)
    if chosen.grid is not None:
        query = query.where(Grid.code == chosen.grid)
    if chosen.site is not None:
        query = query.where(Site.code == chosen.site)
    if chosen.rule is not None:
        query = query.where(Rule.code == chosen.rule)
    if chosen.since is not None:
        query = query.where(Alarm.started_at >= chosen.since)
    if chosen.until is not None:
        query = query.where(Alarm.started_at < chosen.until)
    return query


def _base_query() -> Select[Any]:
    return (
        select(Alarm, Rule.code, Rule.name, Site.code, Grid.code, Parameter.key)
        .join(Rule, Rule.id == Alarm.rule_id)
        .join(Site, Site.id == Alarm.site_id)
        .outerjoin(Grid, Grid.id == Alarm.grid_id)
        .outerjoin(Parameter, Parameter.id == Alarm.parameter_id)
    )


def _visible(
    query: Select[Any], grids: Collection[int] | None, sites: Collection[int] | None
) -> Select[Any]:
    if grids is not None:
        query = query.where(Alarm.grid_id.in_(list(grids)))
    if sites is not None:
        query = query.where(Alarm.site_id.in_(sorted(sites)))
    return query


def visible_grids(session: Session, user_id: int, role: str) -> Collection[int] | None:
    """The grids a user is limited to: a grid officer's ``user_grids`` (None: every grid)."""
    if role == "grid_officer":
        return set(grids_of_user(session, user_id))
    return None


def may_handle(role: str) -> bool:
    """Acknowledging and commenting are for the bureau and grid officers, not enterprises."""
    return role == "admin" or role in HANDLER_ROLES


def may_clear(role: str) -> bool:
    """Clearing by hand overrides the rule's own clearing, so it is the bureau's decision."""
    return role == "admin" or role in MANAGER_ROLES


def alarm_as_dict(row: Any) -> dict[str, Any]:
    alarm, rule_code, rule_name, site_code, grid_code, parameter_key = row
    return {
        "id": alarm.id,
        "rule": rule_code,
        "rule_name": rule_name,
        "rule_version": alarm.rule_version,
        "site": site_code,
        "grid": grid_code,
        "parameter": parameter_key,
        "severity": alarm.severity,
        "colour": SEVERITIES[alarm.severity],
        "status": f"{'ACTIVE' if alarm.active else 'CLEARED'}_"
        f"{'ACK' if alarm.acknowledged else 'UNACK'}",
        "active": alarm.active,
        "acknowledged": alarm.acknowledged,
        "started_at": alarm.started_at.isoformat(),
        "last_triggered_at": alarm.last_triggered_at.isoformat(),
        "count": alarm.count,
        "peak_value": alarm.peak_value,
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
        "clear_reason": alarm.clear_reason,
        "acknowledged_at": alarm.acknowledged_at.isoformat() if alarm.acknowledged_at else None,
        "acknowledged_by": alarm.acknowledged_by,
        "assignee": alarm.assignee,
        "context": alarm.context,
    }


def list_alarms(
    session: Session,
    chosen: AlarmFilter,
    grids: Collection[int] | None = None,
    sites: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """Alarms newest first; ``grids`` and ``sites`` limit them to those grids and site ids
    (None: all)."""
    query = _visible(_filtered(_base_query(), chosen), grids, sites)
    rows = session.execute(
        query.order_by(Alarm.started_at.desc(), Alarm.id.desc()).limit(chosen.limit)
    )
    return [alarm_as_dict(row) for row in rows]


ALARM_COLUMNS = (
    "id",
    "rule",
    "rule_name",
    "rule_version",
    "site",
    "grid",
    "parameter",
    "severity",
    "colour",
    "status",
    "started_at",
    "last_triggered_at",
    "count",
    "peak_value",
    "cleared_at",
    "clear_reason",
    "acknowledged_at",
    "acknowledged_by",
    "assignee",
)
"""The columns of an alarm export, in order (the fields of :func:`alarm_as_dict`)."""


def _render_listed(row: Row[Any]) -> dict[str, Any]:
    return alarm_as_dict(tuple(row)[:6])


def alarm_listing(
    chosen: AlarmFilter,
    grids: Collection[int] | None = None,
    sites: Collection[int] | None = None,
) -> Listing:
    """The filtered alarms as a keyset :class:`~qingshan.services.listing.Listing` for paging
    and export, newest raised first: the key is the negated id (ids grow as alarms are raised),
    so ``key > last key`` walks from the newest alarm back. ``chosen.limit`` is not used: the
    page size is the listing's."""
    statement = _visible(_filtered(_base_query(), chosen), grids, sites)
    query = {
        field: value
        for field, value in vars(chosen).items()
        if value is not None and field != "limit"
    }
    if grids is not None:
        query["visible_grids"] = sorted(grids)
    if sites is not None:
        query["visible_sites"] = sorted(sites)
    return Listing(
        name="alarms",
        statement=statement,
        key=(KeyPart(-Alarm.id),),
        render=_render_listed,
        columns=ALARM_COLUMNS,
        query=query,
    )


def get_alarm(
    session: Session,
    alarm_id: int,
    grids: Collection[int] | None = None,
    sites: Collection[int] | None = None,
) -> Alarm:
    """The alarm, if it exists and lies in ``grids`` and ``sites`` (a hidden alarm is "not
    found")."""
    alarm = session.get(Alarm, alarm_id)
    hidden = alarm is not None and (
        (grids is not None and alarm.grid_id not in grids)
        or (sites is not None and alarm.site_id not in sites)
    )
    if alarm is None or hidden:
        raise AlarmNotFound(f"no alarm {alarm_id}")
    return alarm


def describe(
    session: Session,
    alarm_id: int,
    grids: Collection[int] | None = None,
    sites: Collection[int] | None = None,
) -> dict[str, Any]:
    """One alarm with its comments (not found outside ``grids`` and ``sites``)."""
    get_alarm(session, alarm_id, grids, sites)
    row = session.execute(_base_query().where(Alarm.id == alarm_id)).one()
    data = alarm_as_dict(row)
    data["comments"] = [
        {"at": c.at.isoformat(), "author": c.author, "body": c.body, "system": c.system}
        for c in row[0].comments
    ]
    return data


def _system_comment(session: Session, alarm: Alarm, author: str, body: str) -> None:
    session.add(AlarmComment(alarm=alarm, author=author, body=body, system=True))


def acknowledge(
    session: Session, alarm_id: int, *, who: str, grids: Collection[int] | None = None
) -> Alarm:
    """Mark an alarm as seen (idempotent: a second acknowledgement changes nothing)."""
    alarm = get_alarm(session, alarm_id, grids)
    if not alarm.acknowledged:
        alarm.acknowledged = True
        alarm.acknowledged_at = utc_now()
        alarm.acknowledged_by = who
        _system_comment(session, alarm, who, "acknowledged")
        session.flush()
    return alarm


def clear(
    session: Session,
    alarm_id: int,
    *,
    who: str,
    reason: str = "",
    grids: Collection[int] | None = None,
) -> Alarm:
    """Clear an active alarm by hand; if the condition holds again, a new alarm opens."""
    alarm = get_alarm(session, alarm_id, grids)
    if alarm.active:
        alarm.active = False
        alarm.cleared_at = utc_now()
        alarm.clear_reason = "manual"
        _system_comment(session, alarm, who, f"cleared by hand{': ' + reason if reason else ''}")
        session.flush()
    return alarm


def comment(
    session: Session,
    alarm_id: int,
    *,
    who: str,
    body: str,
    grids: Collection[int] | None = None,
) -> AlarmComment:
    """Add a person's comment (comments are never edited; they stay when the alarm clears)."""
    if not body.strip():
        raise ValueError("a comment needs text")
    alarm = get_alarm(session, alarm_id, grids)
    note = AlarmComment(alarm=alarm, author=who, body=body.strip(), system=False)
    session.add(note)
    session.flush()
    return note
