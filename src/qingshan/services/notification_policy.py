"""When and how notifications go out: route matching, quiet hours, grouping. Pure (no I/O).

Follows the routing ideas of Grafana alerting (``shared/reference/platform.md`` §2.3: routing
by labels, grouping several alerts into one message, a group wait, mute timings): a *route*
says which notifications (by audience role and grid) go to which channel target; notifications
waiting for a route are sent together as one message, never during the route's quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from qingshan.alerting.catalogue import SEVERITY_RANKS
from qingshan.services.case_workflow import BEIJING


@dataclass(frozen=True)
class RouteRule:
    """What a route accepts and when it may send (times are Beijing wall-clock times)."""

    role: str | None
    grid_id: int | None
    quiet_start: time | None = None
    quiet_end: time | None = None
    group_wait: timedelta = timedelta(0)
    min_severity: str | None = None

    def matches(
        self, roles: frozenset[str], grid_id: int | None, severity: str | None = None
    ) -> bool:
        """A route for a role takes notifications addressed to that role (None: any role);
        a route for a grid takes that grid's notifications (None: every grid); a route with a
        minimum severity takes only alarm notifications at or above it (an SMS route for red
        alarms: a new red alarm, or an alarm escalated to red)."""
        role_ok = self.role is None or self.role in roles
        grid_ok = self.grid_id is None or self.grid_id == grid_id
        severity_ok = self.min_severity is None or (
            severity is not None and SEVERITY_RANKS[severity] >= SEVERITY_RANKS[self.min_severity]
        )
        return role_ok and grid_ok and severity_ok


def in_quiet_hours(rule: RouteRule, now: datetime) -> bool:
    """Whether ``now`` (aware) falls in the route's quiet hours [start, end) in Beijing time.

    A window whose end is before its start runs over midnight (22:00–07:00); equal or missing
    ends mean no quiet hours.
    """
    if rule.quiet_start is None or rule.quiet_end is None or rule.quiet_start == rule.quiet_end:
        return False
    local = now.astimezone(BEIJING).time().replace(tzinfo=None)
    if rule.quiet_start < rule.quiet_end:
        return rule.quiet_start <= local < rule.quiet_end
    return local >= rule.quiet_start or local < rule.quiet_end


def ready_to_send(rule: RouteRule, oldest_waiting: datetime, now: datetime) -> bool:
    """A group goes out when its oldest notification has waited the group wait and the route
    is outside its quiet hours (what waits through quiet hours goes out after them, grouped)."""
    return now - oldest_waiting >= rule.group_wait and not in_quiet_hours(rule, now)


@dataclass(frozen=True)
class Item:
    """One notification in a group."""

    kind: str
    title: str
    body: str


def compose(items: list[Item]) -> tuple[str, str]:
    """The subject and text of one message carrying ``items`` (oldest first)."""
    if len(items) == 1:
        return items[0].title, items[0].body
    subject = f"{len(items)} 条通知"
    lines = [f"{number}. {item.title}: {item.body}" for number, item in enumerate(items, 1)]
    return subject, "\n".join(lines)


def parse_clock(text: str | None) -> time | None:
    """``HH:MM`` → time (None or empty: not set)."""
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day HH:MM") from None
