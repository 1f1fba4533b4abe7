"""Tables of the problem list (问题清单) and of notifications.

* :class:`Case` — a problem tracked until it is closed (销号) and reviewed (复核); its state
  moves only as :mod:`qingshan.services.case_workflow` allows.
* :class:`CaseEvent` — the case's timeline (who, when, from which state to which, what, why).
  :class:`CaseEvidence` — text, photos and files. Both are append-only: database triggers refuse
  UPDATE and DELETE (migration 0005), like ``audit_log``.
* :class:`CaseAlarm` — alarms a case was opened from.
* Notifications: :class:`NotificationRoute` (who gets what, through which channel, quiet hours,
  grouping), :class:`Notification` (something to tell), :class:`NotificationQueue` (a
  notification waiting for a route) and :class:`NotificationDelivery` (one message sent or
  failed, carrying one or more notifications).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from qingshan.store.models import ROLES, Base, _one_of
from qingshan.store.types import Identifier, JsonDocument, utc_now

CASE_STATES = (
    "pending_verification",
    "assigned",
    "rectifying",
    "pending_closure",
    "closed",
    "reviewed",
)
"""Stored state keys (labels 待核实, 已交办, 整改中, 待销号, 已销号, 已复核)."""
CASE_SOURCES = ("alarm", "complaint", "inspection")
EVIDENCE_KINDS = ("text", "photo", "file")
DELIVERY_STATUSES = ("sent", "failed")


class Case(Base):
    """A problem on the list, from an alarm, a complaint or an inspection.

    ``code`` is the 编号 ``QS-<grid>-<yyyymm>-<seq>``. ``deadline`` (整改时限) is a Beijing
    calendar day, the last day in time. ``escalation_level`` is 0 in time, 1 overdue, 2 long
    overdue; ``closed_at`` and ``reviewed_at`` are when it was closed (销号) and reviewed.
    """

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_one_of("state", CASE_STATES), name="state"),
        CheckConstraint(_one_of("source", CASE_SOURCES), name="source"),
        CheckConstraint("escalation_level BETWEEN 0 AND 2", name="escalation_level"),
        Index("ix_cases_grid_state", "grid_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24), default="pending_verification")
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    category: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    responsible_unit: Mapped[str | None] = mapped_column(String(200))
    deadline: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    opened_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)


class CaseAlarm(Base):
    """An alarm linked to a case."""

    __tablename__ = "case_alarms"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), primary_key=True, index=True)


class CaseEvidence(Base):
    """Evidence of rectification: a text, or a photo or file stored under
    ``QINGSHAN_DATA_DIR/cases/<case id>/<sha256><suffix>`` (``stored_name``)."""

    __tablename__ = "case_evidence"
    __table_args__ = (CheckConstraint(_one_of("kind", EVIDENCE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text, default="")
    file_name: Mapped[str | None] = mapped_column(String(200))
    stored_name: Mapped[str | None] = mapped_column(String(80))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(default=utc_now)
    added_by: Mapped[str] = mapped_column(String(100))


class CaseEvent(Base):
    """One entry of a case's timeline: who, when, from-state, to-state, what, why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class NotificationRoute(Base):
    """Where notifications for a role (NULL: any) in a grid (NULL: all) are sent.

    ``channel`` names a registered channel (``log``, ``webhook``, or one a bureau adds), so it
    has no CHECK; ``target`` is the channel's address (a URL for webhooks). Quiet hours are
    Beijing wall-clock ``HH:MM``; ``group_wait_seconds`` is how long the first notification of a
    group waits for others to join it.
    """

    __tablename__ = "notification_routes"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES, nullable=True), name="role"),
        CheckConstraint("group_wait_seconds >= 0", name="group_wait"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str | None] = mapped_column(String(16))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    channel: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(500), default="")
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    group_wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    min_severity: Mapped[str | None] = mapped_column(String(8))
    """Only alarm notifications of this severity or higher (None: every notification)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Notification(Base):
    """Something to tell the ``roles`` of a grid, about a case or an alarm."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    kind: Mapped[str] = mapped_column(String(32))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    roles: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), index=True)
    severity: Mapped[str | None] = mapped_column(String(8))
    """The alarm's severity when the notification was made (None: not about an alarm)."""


class NotificationDelivery(Base):
    """One message through one route: the notifications it carried, sent or failed."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("notification_routes.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    channel: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    notification_ids: Mapped[list[int]] = mapped_column(JsonDocument, default=list)
    error: Mapped[str | None] = mapped_column(Text)


class NotificationQueue(Base):
    """A notification waiting for (or delivered through, ``delivery_id``) one route."""

    __tablename__ = "notification_queue"

    notification_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("notifications.id"), primary_key=True
    )
    route_id: Mapped[int] = mapped_column(
        ForeignKey("notification_routes.id"), primary_key=True, index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        Identifier, ForeignKey("notification_deliveries.id"), index=True
    )
