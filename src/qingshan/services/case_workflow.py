"""The problem-list (问题清单) workflow as data: states, moves, who may make them, numbering.

Pure: no database, no files. The loop follows the "清单制 + 责任制 + 销号制" regime and its steps
问题核实 → 交办 → 整改 → 销号 → 复核 (``shared/reference/platform.md`` §0.7 and §1.4:
Huangshan 提交申请 → 现场核查 → 审核签字, Yixing "谁整改、谁销号", "逐级核验"):

    待核实 → 已交办 → 整改中 → 待销号 → 已销号 → 已复核

Every move goes exactly one step forward, or one step back with a reason; nobody skips a state.
:data:`PERMISSIONS` is the permission matrix: for each move, the roles that may make it and
whether they act district-wide (``bureau``) or only in the grids they are assigned to
(``own_grid``). ``admin`` is not listed: it may make every move, district-wide, like in
:func:`qingshan.api.deps.require_roles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Deadlines and case numbers use Beijing calendar days (UTC+8, no daylight saving)."""


class State(StrEnum):
    """A case's state; the value is stored, the label is what reports show."""

    PENDING_VERIFICATION = "pending_verification"
    ASSIGNED = "assigned"
    RECTIFYING = "rectifying"
    PENDING_CLOSURE = "pending_closure"
    CLOSED = "closed"
    REVIEWED = "reviewed"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    State.PENDING_VERIFICATION: "待核实",
    State.ASSIGNED: "已交办",
    State.RECTIFYING: "整改中",
    State.PENDING_CLOSURE: "待销号",
    State.CLOSED: "已销号",
    State.REVIEWED: "已复核",
}
ORDER = tuple(State)
"""The states in workflow order; a move goes to the next or the previous one."""

SOURCES = {"alarm": "预警", "complaint": "投诉", "inspection": "巡查"}
"""Where a case comes from (stored key → label in the 问题清单)."""

BUREAU_ROLES = frozenset({"admin", "analyst"})
"""Roles that see and act on every grid's cases."""

OPEN_STATES = frozenset(ORDER[:-2])
"""States in which the problem is not yet closed (销号)."""

OVERDUE_STATES = frozenset({State.ASSIGNED, State.RECTIFYING})
"""States in which a passed deadline is the responsible unit's delay. Once the evidence is
submitted (待销号) the unit has done its part; the bureau's review time is not its delay."""

SECOND_ESCALATION_DAYS = 7
"""An overdue case goes up a second level (to the bureau's administrators) after this many days."""


class Scope(StrEnum):
    BUREAU = "bureau"
    OWN_GRID = "own_grid"


@dataclass(frozen=True)
class Move:
    """One allowed move of the workflow, and who may make it."""

    from_state: State
    to_state: State
    action: str
    roles: dict[str, Scope]
    requires: tuple[str, ...] = ()

    @property
    def is_send_back(self) -> bool:
        return ORDER.index(self.to_state) < ORDER.index(self.from_state)


_OFFICER_OR_BUREAU = {"grid_officer": Scope.OWN_GRID, "analyst": Scope.BUREAU}
_BUREAU = {"analyst": Scope.BUREAU}

FORWARD = (
    Move(
        State.PENDING_VERIFICATION,
        State.ASSIGNED,
        "交办",
        _OFFICER_OR_BUREAU,
        ("responsible_unit", "deadline"),
    ),
    Move(State.ASSIGNED, State.RECTIFYING, "开始整改", _OFFICER_OR_BUREAU),
    Move(State.RECTIFYING, State.PENDING_CLOSURE, "提交销号", _OFFICER_OR_BUREAU, ("evidence",)),
    Move(State.PENDING_CLOSURE, State.CLOSED, "销号", _BUREAU),
    Move(State.CLOSED, State.REVIEWED, "复核", _BUREAU, ("different_person",)),
)
"""Forward moves. A grid officer verifies, assigns and reports rectification in their own
grid; closing (销号) and review (复核) are the bureau's ("谁验收、谁负责"), and the reviewer must
not be the person who closed the case ("逐级核验")."""

SEND_BACKS = tuple(
    Move(move.from_state, ORDER[ORDER.index(move.from_state) - 1], "退回", move.roles, ("reason",))
    for move in FORWARD[1:]
)
"""A send-back goes one step back, with a reason, by whoever may make the next forward move out
of the current state (who would accept the step may refuse it). 已复核 is final."""

PERMISSIONS: tuple[Move, ...] = FORWARD + SEND_BACKS
"""The permission matrix (documented as a table in ``docs/cases.md``)."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: the audit name, the role and, for grid officers, their grids."""

    name: str
    role: str
    grid_ids: frozenset[int] = frozenset()

    @property
    def bureau_wide(self) -> bool:
        return self.role in BUREAU_ROLES


class WorkflowError(ValueError):
    """A move that the workflow does not allow (wrong step, missing data)."""


class NotPermitted(PermissionError):
    """The actor's role or grid does not allow the move."""


def can_see(actor: Actor, grid_id: int) -> bool:
    """Bureau roles see every case; grid officers the cases of their grids; others none."""
    return actor.bureau_wide or (actor.role == "grid_officer" and grid_id in actor.grid_ids)


def find_move(from_state: State, to_state: State) -> Move:
    """The move from ``from_state`` to ``to_state``; :class:`WorkflowError` if there is none."""
    for move in PERMISSIONS:
        if move.from_state == from_state and move.to_state == to_state:
            return move
    raise WorkflowError(
        f"a case cannot go from {from_state.label} to {to_state.label}: "
        "only the next step or, with a reason, the previous one"
    )


def check_permitted(move: Move, actor: Actor, grid_id: int) -> None:
    """Raise :class:`NotPermitted` unless ``actor`` may make ``move`` on a case in ``grid_id``."""
    if actor.role == "admin":
        return
    scope = move.roles.get(actor.role)
    if scope is None:
        raise NotPermitted(f"role {actor.role!r} may not {move.action} ({move.to_state.label})")
    if scope is Scope.OWN_GRID and grid_id not in actor.grid_ids:
        raise NotPermitted(f"{actor.name} may {move.action} only in their own grid")


def moves_for(actor: Actor, state: State, grid_id: int) -> tuple[Move, ...]:
    """The moves out of ``state`` that ``actor`` may make on a case in ``grid_id`` (forward
    first), as :func:`check_permitted` decides them; pages offer exactly these."""
    allowed = []
    for move in PERMISSIONS:
        if move.from_state != state:
            continue
        try:
            check_permitted(move, actor, grid_id)
        except NotPermitted:
            continue
        allowed.append(move)
    return tuple(allowed)


def may_open(actor: Actor, grid_id: int) -> bool:
    """Who may put a problem on the list: the bureau, and grid officers in their grids."""
    return can_see(actor, grid_id)


def may_add_evidence(actor: Actor, grid_id: int, state: State) -> bool:
    """Evidence is added by those who act on the case, until it is closed."""
    return state in OPEN_STATES and can_see(actor, grid_id)


def case_number(grid_code: str, opened_at: datetime, sequence: int) -> str:
    """编号 ``QS-<grid>-<yyyymm>-<seq>``: the month is the Beijing month of opening, the sequence
    counts the grid's cases of that month from 1 (four digits)."""
    return f"{case_prefix(grid_code, opened_at)}{sequence:04d}"


def case_prefix(grid_code: str, opened_at: datetime) -> str:
    """The part of the number shared by a grid's cases of one month."""
    return f"QS-{grid_code}-{opened_at.astimezone(BEIJING):%Y%m}-"


def beijing_day(instant: datetime) -> date:
    return instant.astimezone(BEIJING).date()


def days_overdue(state: State, deadline: date | None, now: datetime) -> int:
    """Whole Beijing days past the deadline (the deadline day itself is still in time); 0 when
    the case is not in a state where the deadline runs."""
    if deadline is None or state not in OVERDUE_STATES:
        return 0
    return max((beijing_day(now) - deadline).days, 0)


def escalation_level(state: State, deadline: date | None, now: datetime) -> int:
    """0 in time; 1 overdue (grid and bureau told); 2 overdue for :data:`SECOND_ESCALATION_DAYS`
    days or more (administrators told)."""
    late = days_overdue(state, deadline, now)
    if late == 0:
        return 0
    return 2 if late >= SECOND_ESCALATION_DAYS else 1


def beijing_midnight(day: date) -> datetime:
    """The UTC instant a Beijing calendar day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING).astimezone(UTC)
