"""Notifications: routes, the queue, grouped delivery through pluggable channels.

* :func:`notify` records something to tell (a case opened, assigned, overdue; an alarm) for
  some roles of a grid, and queues it for every active route that matches.
* :func:`dispatch` sends, per route, everything waiting as **one** message once the group wait
  has passed and outside quiet hours (:mod:`qingshan.services.notification_policy`), and records
  each delivery, sent or failed (a failed group stays queued and is retried on the next run).
* Channels are objects with ``send(target, message)``: ``log`` and ``webhook`` are built in;
  a bureau adds SMS or WeChat Work with :func:`register_channel`.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingshan.alerting.catalogue import severity_of
from qingshan.services import notification_policy as policy
from qingshan.store.case_models import (
    Notification,
    NotificationDelivery,
    NotificationQueue,
    NotificationRoute,
)
from qingshan.store.models import ROLES
from qingshan.store.types import utc_now

WEBHOOK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Message:
    """One outgoing message: a subject, the text, and the notifications it groups."""

    route: str
    subject: str
    text: str
    notification_ids: tuple[int, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "route": self.route,
            "subject": self.subject,
            "text": self.text,
            "notification_ids": list(self.notification_ids),
        }


class ChannelError(RuntimeError):
    """A channel could not deliver a message."""


class Channel(Protocol):
    def send(self, target: str, message: Message) -> None:
        """Deliver ``message`` to ``target``; raise :class:`ChannelError` on failure."""


class LogChannel:
    """Writes messages to the ``qingshan.notifications`` logger (``target``: a sub-logger)."""

    def send(self, target: str, message: Message) -> None:
        name = f"qingshan.notifications.{target}" if target else "qingshan.notifications"
        logging.getLogger(name).info("%s\n%s", message.subject, message.text)


class WebhookChannel:
    """POSTs the message as JSON (UTF-8) to the ``target`` URL; any 2xx answer is success."""

    def send(self, target: str, message: Message) -> None:
        if not target.startswith(("http://", "https://")):
            raise ChannelError(f"webhook target {target!r} is not an http(s) URL")
        request = urllib.request.Request(
            target,
            data=json.dumps(message.as_json(), ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
                status = response.status
        except (urllib.error.URLError, OSError) as error:
            raise ChannelError(f"webhook {target}: {error}") from error
        if not 200 <= status < 300:
            raise ChannelError(f"webhook {target} answered HTTP {status}")


CHANNELS: dict[str, Channel] = {"log": LogChannel(), "webhook": WebhookChannel()}


def register_channel(name: str, channel: Channel) -> None:
    """Make a channel (SMS gateway, WeChat Work…) available to routes under ``name``."""
    CHANNELS[name] = channel


def add_route(
    session: Session,
    name: str,
    *,
    channel: str,
    target: str = "",
    role: str | None = None,
    grid_id: int | None = None,
    quiet_start: str | None = None,
    quiet_end: str | None = None,
    group_wait_seconds: int = 0,
    min_severity: str | None = None,
) -> NotificationRoute:
    """Create a route; the channel must be registered and quiet hours must be ``HH:MM``;
    ``min_severity`` (a severity or its colour) limits the route to alarms at or above it."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; known: {', '.join(sorted(CHANNELS))}")
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if (quiet_start is None) != (quiet_end is None):
        raise ValueError("quiet hours need both a start and an end")
    policy.parse_clock(quiet_start)
    policy.parse_clock(quiet_end)
    route = NotificationRoute(
        name=name,
        channel=channel,
        target=target,
        role=role,
        grid_id=grid_id,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        group_wait_seconds=group_wait_seconds,
        min_severity=severity_of(min_severity) if min_severity else None,
        active=True,
    )
    session.add(route)
    session.flush()
    return route


def _rule(route: NotificationRoute) -> policy.RouteRule:
    return policy.RouteRule(
        role=route.role,
        grid_id=route.grid_id,
        quiet_start=policy.parse_clock(route.quiet_start),
        quiet_end=policy.parse_clock(route.quiet_end),
        group_wait=timedelta(seconds=route.group_wait_seconds),
        min_severity=route.min_severity,
    )


def notify(
    session: Session,
    *,
    kind: str,
    title: str,
    body: str,
    roles: tuple[str, ...],
    grid_id: int | None,
    case_id: int | None = None,
    alarm_id: int | None = None,
    severity: str | None = None,
    at: datetime | None = None,
) -> Notification:
    """Record a notification for ``roles`` of ``grid_id`` and queue it on every matching route
    (``severity``: the alarm's severity, for routes limited to severe alarms)."""
    notification = Notification(
        created_at=at or utc_now(),
        kind=kind,
        title=title[:200],
        body=body,
        roles=list(roles),
        grid_id=grid_id,
        case_id=case_id,
        alarm_id=alarm_id,
        severity=severity,
    )
    session.add(notification)
    session.flush()
    audience = frozenset(roles)
    for route in session.scalars(select(NotificationRoute).where(NotificationRoute.active)):
        if _rule(route).matches(audience, grid_id, severity):
            session.add(NotificationQueue(notification_id=notification.id, route_id=route.id))
    session.flush()
    return notification


@dataclass(frozen=True)
class DispatchResult:
    sent: int
    failed: int
    held: int
    """Routes with notifications still waiting (group wait or quiet hours)."""


def _waiting(session: Session) -> dict[int, list[Notification]]:
    rows = session.execute(
        select(NotificationQueue.route_id, Notification)
        .join(Notification, Notification.id == NotificationQueue.notification_id)
        .where(NotificationQueue.delivery_id.is_(None))
        .order_by(Notification.created_at, Notification.id)
    ).all()
    waiting: dict[int, list[Notification]] = defaultdict(list)
    for route_id, notification in rows:
        waiting[route_id].append(notification)
    return waiting


def dispatch(session: Session, *, now: datetime | None = None) -> DispatchResult:
    """Send what is due on every route, one grouped message per route; record deliveries."""
    now = now or utc_now()
    sent = failed = held = 0
    for route_id, items in _waiting(session).items():
        route = session.get_one(NotificationRoute, route_id)
        if not policy.ready_to_send(_rule(route), items[0].created_at, now):
            held += 1
            continue
        delivery = _deliver(route, items, now)
        session.add(delivery)
        session.flush()
        if delivery.status == "sent":
            sent += 1
            for queued in session.scalars(
                select(NotificationQueue).where(
                    NotificationQueue.route_id == route.id,
                    NotificationQueue.notification_id.in_(delivery.notification_ids),
                )
            ):
                queued.delivery_id = delivery.id
        else:
            failed += 1
    session.flush()
    return DispatchResult(sent=sent, failed=failed, held=held)


def _deliver(
    route: NotificationRoute, items: list[Notification], now: datetime
) -> NotificationDelivery:
    subject, text = policy.compose([policy.Item(n.kind, n.title, n.body) for n in items])
    ids = tuple(n.id for n in items)
    message = Message(route=route.name, subject=subject, text=text, notification_ids=ids)
    error = None
    try:
        channel = CHANNELS.get(route.channel)
        if channel is None:
            raise ChannelError(f"channel {route.channel!r} is not registered")
        channel.send(route.target, message)
    except ChannelError as failure:
        error = str(failure)
    return NotificationDelivery(
        route_id=route.id,
        at=now,
        channel=route.channel,
        target=route.target,
        status="failed" if error else "sent",
        subject=subject[:200],
        text=text,
        notification_ids=list(ids),
        error=error,
    )
