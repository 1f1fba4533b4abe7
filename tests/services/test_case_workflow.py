"""The pure workflow: the loop 待核实 → 已交办 → 整改中 → 待销号 → 已销号 → 已复核, the permission
matrix, numbering, overdue days; and the notification policy (routing, quiet hours, grouping)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.services import notification_policy as policy
from qingshan.services.case_workflow import (
    ORDER,
    PERMISSIONS,
    Actor,
    NotPermitted,
    State,
    WorkflowError,
    case_number,
    check_permitted,
    days_overdue,
    escalation_level,
    find_move,
    moves_for,
)

OFFICER_G1 = Actor("user:officer", "grid_officer", frozenset({1}))
ANALYST = Actor("user:analyst", "analyst")
ENTERPRISE = Actor("user:factory", "enterprise")


@pytest.mark.parametrize(("from_state", "to_state"), list(product(State, State)))
def test_only_one_step_forward_or_back_exists(from_state: State, to_state: State) -> None:
    """Nobody skips a state: a move exists exactly between neighbours (and 已复核 is final)."""
    distance = ORDER.index(to_state) - ORDER.index(from_state)
    expected = distance == 1 or (distance == -1 and from_state is not State.REVIEWED)
    if expected:
        assert find_move(from_state, to_state).to_state is to_state
    else:
        with pytest.raises(WorkflowError):
            find_move(from_state, to_state)


def test_every_send_back_needs_a_reason() -> None:
    backs = [move for move in PERMISSIONS if move.is_send_back]
    assert len(backs) == 4
    assert all("reason" in move.requires for move in backs)


def test_grid_officer_acts_in_own_grid_but_never_closes_or_reviews() -> None:
    assign = find_move(State.PENDING_VERIFICATION, State.ASSIGNED)
    check_permitted(assign, OFFICER_G1, grid_id=1)
    with pytest.raises(NotPermitted, match="own grid"):
        check_permitted(assign, OFFICER_G1, grid_id=2)
    for to_state in (State.CLOSED, State.REVIEWED):
        move = find_move(ORDER[ORDER.index(to_state) - 1], to_state)
        with pytest.raises(NotPermitted):
            check_permitted(move, OFFICER_G1, grid_id=1)
        check_permitted(move, ANALYST, grid_id=2)  # the bureau acts district-wide


def test_enterprise_and_device_accounts_make_no_move() -> None:
    for move, role in product(PERMISSIONS, ("enterprise", "device")):
        with pytest.raises(NotPermitted):
            check_permitted(move, Actor("x", role), grid_id=1)


def test_the_moves_offered_follow_the_documented_matrix() -> None:
    """The table of docs/cases.md, state by state, for an officer in and out of their grid."""
    targets = {
        (actor.name, grid, state): {move.to_state for move in moves_for(actor, state, grid)}
        for actor, grid, state in product((OFFICER_G1, ANALYST, ENTERPRISE), (1, 2), State)
    }
    officer = {
        State.PENDING_VERIFICATION: {State.ASSIGNED},
        State.ASSIGNED: {State.RECTIFYING, State.PENDING_VERIFICATION},
        State.RECTIFYING: {State.PENDING_CLOSURE, State.ASSIGNED},
    }
    bureau = officer | {
        State.PENDING_CLOSURE: {State.CLOSED, State.RECTIFYING},
        State.CLOSED: {State.REVIEWED, State.PENDING_CLOSURE},
    }
    for state in State:
        assert targets[("user:officer", 1, state)] == officer.get(state, set())
        assert targets[("user:officer", 2, state)] == set()
        assert targets[("user:analyst", 2, state)] == bureau.get(state, set())
        assert targets[("user:factory", 1, state)] == set()


def test_case_number_uses_the_beijing_month() -> None:
    # 2026-11-30 17:00 UTC is already 2026-12-01 01:00 in Beijing.
    assert case_number("G-01", datetime(2026, 11, 30, 17, tzinfo=UTC), 7) == "QS-G-01-202612-0007"


def test_overdue_counts_beijing_days_after_the_deadline_day() -> None:
    deadline = date(2026, 11, 25)
    last_minute = datetime(2026, 11, 25, 15, 59, tzinfo=UTC)  # 23:59 Beijing, still in time
    next_day = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 00:00 Beijing on the 26th
    assert days_overdue(State.RECTIFYING, deadline, last_minute) == 0
    assert days_overdue(State.RECTIFYING, deadline, next_day) == 1
    assert days_overdue(State.PENDING_CLOSURE, deadline, next_day) == 0  # submitted in time
    assert escalation_level(State.ASSIGNED, deadline, next_day) == 1
    assert escalation_level(State.ASSIGNED, deadline, next_day + timedelta(days=6)) == 2


def test_routes_match_role_and_grid() -> None:
    officer_g1 = policy.RouteRule(role="grid_officer", grid_id=1)
    bureau = policy.RouteRule(role="analyst", grid_id=None)
    audience = frozenset({"grid_officer", "analyst"})
    assert officer_g1.matches(audience, 1)
    assert not officer_g1.matches(audience, 2)
    assert bureau.matches(audience, 2)
    assert not bureau.matches(frozenset({"admin"}), 2)


def _beijing(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def test_a_route_with_a_minimum_severity_takes_only_alarms_at_or_above_it() -> None:
    red_only = policy.RouteRule(role=None, grid_id=None, min_severity="critical")
    audience = frozenset({"analyst"})
    assert red_only.matches(audience, 1, "critical")
    assert not red_only.matches(audience, 1, "major")
    assert not red_only.matches(audience, 1, None)  # a case notification has no severity
    assert policy.RouteRule(role=None, grid_id=None).matches(audience, 1, None)
    orange_up = policy.RouteRule(role=None, grid_id=None, min_severity="major")
    ladder = ("warning", "minor", "major", "critical")
    assert [orange_up.matches(audience, 1, s) for s in ladder] == [False, False, True, True]


def test_quiet_hours_over_midnight() -> None:
    night = policy.RouteRule(None, None, time(22, 0), time(7, 0))
    assert policy.in_quiet_hours(night, _beijing(23, 30))
    assert policy.in_quiet_hours(night, _beijing(6, 59))
    assert not policy.in_quiet_hours(night, _beijing(7, 0))
    assert not policy.in_quiet_hours(night, _beijing(21, 59))


clocks = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(start=clocks, end=clocks, minute=st.integers(0, 24 * 60 - 1))
def test_a_window_and_its_complement_cover_the_day_once(start, end, minute) -> None:
    """Quiet hours [a, b) and [b, a) never overlap and together cover every minute."""
    now = _beijing(0) + timedelta(minutes=minute)
    forward = policy.in_quiet_hours(policy.RouteRule(None, None, start, end), now)
    backward = policy.in_quiet_hours(policy.RouteRule(None, None, end, start), now)
    assert forward != backward or start == end


def test_grouped_message_lists_every_item() -> None:
    items = [policy.Item("case.opened", f"新问题 {n}", "扬尘") for n in (1, 2, 3)]
    subject, text = policy.compose(items)
    assert subject == "3 条通知"
    assert text.splitlines() == ["1. 新问题 1: 扬尘", "2. 新问题 2: 扬尘", "3. 新问题 3: 扬尘"]
