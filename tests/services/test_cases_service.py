"""The problem list on the store (SQLite and PostgreSQL): the full loop, the permission matrix,
the append-only timeline, evidence files, overdue escalation, the XLSX list and summaries."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError

from case_world import World, build_world
from qingshan.services import cases
from qingshan.services.case_workflow import (
    NotPermitted,
    WorkflowError,
    beijing_day,
    beijing_midnight,
)
from qingshan.services.tables import write_table
from qingshan.store.case_models import CaseEvent, Notification
from qingshan.store.engine import reading, writing
from qingshan.store.types import utc_now


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def today() -> date:
    return beijing_day(utc_now())


def open_one(engine: Engine, world: World, username: str = "officer1", **fields) -> int:
    actor = world.actor(engine, username)
    with writing(engine, actor.name) as session:
        case = cases.open_case(
            session,
            actor,
            source=fields.pop("source", "inspection"),
            grid_id=fields.pop("grid_id", world.grid1),
            category=fields.pop("category", "扬尘"),
            description=fields.pop("description", "工地裸土未覆盖"),
            **fields,
        )
        return case.id


def move(engine: Engine, world: World, username: str, case_id: int, to_state: str, **kw) -> str:
    actor = world.actor(engine, username)
    with writing(engine, actor.name) as session:
        return cases.transition(session, actor, case_id, to_state, **kw).state


def attach(engine: Engine, world: World, username: str, case_id: int, tmp_path: Path, **kw):
    actor = world.actor(engine, username)
    with writing(engine, actor.name) as session:
        record = cases.add_evidence(session, actor, case_id, data_dir=tmp_path, **kw)
        return record.id, record.stored_name, record.sha256


def assign(engine: Engine, world: World, case_id: int, deadline: date | None = None) -> None:
    move(
        engine,
        world,
        "officer1",
        case_id,
        "assigned",
        responsible_unit="青山区住建局",
        deadline=deadline or today() + timedelta(days=10),
    )


def test_full_loop_with_timeline(engine: Engine, world: World, tmp_path: Path) -> None:
    case_id = open_one(engine, world)
    assign(engine, world, case_id)
    assert move(engine, world, "officer1", case_id, "rectifying") == "rectifying"
    attach(engine, world, "officer1", case_id, tmp_path, text="已覆盖防尘网 2,000 m²")
    assert move(engine, world, "officer1", case_id, "pending_closure") == "pending_closure"
    assert move(engine, world, "analyst", case_id, "closed") == "closed"
    assert move(engine, world, "analyst2", case_id, "reviewed") == "reviewed"
    with reading(engine) as session:
        case = cases.get_case(session, world.actor(engine, "analyst"), case_id)
        assert case.code == f"QS-G-01-{utc_now() + timedelta(hours=8):%Y%m}-0001"
        assert case.closed_at is not None and case.reviewed_at is not None
        events = cases.timeline(session, world.actor(engine, "analyst"), case_id)
    steps = [(e.actor, e.action, e.from_state, e.to_state) for e in events]
    assert steps == [
        ("user:officer1", "立案", None, "pending_verification"),
        ("user:officer1", "交办", "pending_verification", "assigned"),
        ("user:officer1", "开始整改", "assigned", "rectifying"),
        ("user:officer1", "提交材料", None, None),
        ("user:officer1", "提交销号", "rectifying", "pending_closure"),
        ("user:analyst", "销号", "pending_closure", "closed"),
        ("user:analyst2", "复核", "closed", "reviewed"),
    ]
    assert events[1].details["responsible_unit"] == "青山区住建局"
    assert [event.at for event in events] == sorted(event.at for event in events)


def test_numbers_count_per_grid_and_month(engine: Engine, world: World) -> None:
    first, second = open_one(engine, world), open_one(engine, world)
    other = open_one(engine, world, "analyst", grid_id=world.grid2)
    with reading(engine) as session:
        analyst = world.actor(engine, "analyst")
        codes = [cases.get_case(session, analyst, i).code for i in (first, second, other)]
    assert [code[-4:] for code in codes] == ["0001", "0002", "0001"]
    assert codes[2].startswith("QS-G-02-")


def test_grid_officer_cannot_see_or_move_another_grids_case(engine: Engine, world: World) -> None:
    case_id = open_one(engine, world)
    officer2 = world.actor(engine, "officer2")
    with reading(engine) as session:
        with pytest.raises(cases.CaseNotFound):
            cases.get_case(session, officer2, case_id)
        assert cases.list_cases(session, officer2, cases.CaseFilter()) == []
        listed = cases.list_cases(session, world.actor(engine, "officer1"), cases.CaseFilter())
        assert [case.id for case in listed] == [case_id]
    with pytest.raises(cases.CaseNotFound):
        move(engine, world, "officer2", case_id, "assigned", responsible_unit="x", deadline=today())
    with pytest.raises(NotPermitted):
        open_one(engine, world, "officer2", grid_id=world.grid1)


def test_grid_officer_cannot_close_and_nobody_skips(engine, world, tmp_path) -> None:
    case_id = open_one(engine, world)
    with pytest.raises(WorkflowError, match="cannot go"):
        move(engine, world, "analyst", case_id, "rectifying")
    assign(engine, world, case_id)
    move(engine, world, "officer1", case_id, "rectifying")
    with pytest.raises(WorkflowError, match="evidence"):
        move(engine, world, "officer1", case_id, "pending_closure")
    attach(engine, world, "officer1", case_id, tmp_path, text="整改完成")
    move(engine, world, "officer1", case_id, "pending_closure")
    with pytest.raises(NotPermitted):
        move(engine, world, "officer1", case_id, "closed")
    with pytest.raises(WorkflowError, match="cannot go"):
        move(engine, world, "analyst", case_id, "reviewed")
    move(engine, world, "analyst", case_id, "closed")
    with pytest.raises(WorkflowError, match="someone other"):
        move(engine, world, "analyst", case_id, "reviewed")
    with reading(engine) as session:  # every refusal left the case and its timeline alone
        assert cases.get_case(session, world.actor(engine, "analyst"), case_id).state == "closed"
        assert len(cases.timeline(session, world.actor(engine, "analyst"), case_id)) == 6


def test_enterprise_sees_nothing(engine: Engine, world: World) -> None:
    case_id = open_one(engine, world)
    with reading(engine) as session, pytest.raises(cases.CaseNotFound):
        cases.get_case(session, world.actor(engine, "factory"), case_id)


def test_send_back_needs_a_reason_and_new_evidence(engine, world, tmp_path) -> None:
    case_id = open_one(engine, world)
    assign(engine, world, case_id)
    move(engine, world, "officer1", case_id, "rectifying")
    attach(engine, world, "officer1", case_id, tmp_path, text="已洒水")
    move(engine, world, "officer1", case_id, "pending_closure")
    with pytest.raises(WorkflowError, match="reason"):
        move(engine, world, "analyst", case_id, "rectifying", reason="  ")
    move(engine, world, "analyst", case_id, "rectifying", reason="洒水不能代替覆盖")
    with pytest.raises(WorkflowError, match="evidence"):  # the rejected evidence does not count
        move(engine, world, "officer1", case_id, "pending_closure")
    attach(engine, world, "officer1", case_id, tmp_path, text="已全部覆盖")
    assert move(engine, world, "officer1", case_id, "pending_closure") == "pending_closure"
    with reading(engine) as session:
        events = cases.timeline(session, world.actor(engine, "officer1"), case_id)
    back = next(event for event in events if event.action == "退回")
    assert (back.from_state, back.to_state, back.reason) == (
        "pending_closure",
        "rectifying",
        "洒水不能代替覆盖",
    )


def test_assignment_needs_unit_and_a_deadline_not_past(engine: Engine, world: World) -> None:
    case_id = open_one(engine, world)
    with pytest.raises(WorkflowError, match="responsible unit"):
        move(engine, world, "officer1", case_id, "assigned", deadline=today())
    with pytest.raises(WorkflowError, match="passed"):
        move(
            engine,
            world,
            "officer1",
            case_id,
            "assigned",
            responsible_unit="住建局",
            deadline=today() - timedelta(days=1),
        )


def test_timeline_and_evidence_are_append_only_in_the_database(engine, world, tmp_path) -> None:
    case_id = open_one(engine, world)
    attach(engine, world, "officer1", case_id, tmp_path, text="现场照片")
    for table in ("case_events", "case_evidence"):
        for statement in (f"UPDATE {table} SET case_id = case_id", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
    with reading(engine) as session:
        assert len(session.scalars(select(CaseEvent)).all()) == 2


def test_evidence_file_is_stored_by_digest_under_the_case(engine, world, tmp_path) -> None:
    case_id = open_one(engine, world)
    photo = b"\xff\xd8\xff\xe0 not really a jpeg"
    _, stored, digest = attach(
        engine,
        world,
        "officer1",
        case_id,
        tmp_path,
        file_name="../../etc/现场.JPG",
        content=photo,
        content_type="image/jpeg",
    )
    assert digest == hashlib.sha256(photo).hexdigest()
    assert stored == f"{digest}.jpg"
    path = tmp_path / "cases" / str(case_id) / stored
    assert path.read_bytes() == photo
    assert [p.name for p in (tmp_path / "cases").rglob("*") if p.is_file()] == [stored]
    with reading(engine) as session:
        (record,) = cases.evidence(session, world.actor(engine, "analyst"), case_id)
    assert (record.kind, record.file_name, record.size_bytes) == ("photo", "现场.JPG", len(photo))


def test_overdue_cases_escalate_once_per_level(engine: Engine, world: World) -> None:
    late = open_one(engine, world)
    in_time = open_one(engine, world)
    deadline = today()
    assign(engine, world, late, deadline)
    assign(engine, world, in_time, deadline + timedelta(days=30))
    system = cases.operator_actor("system:escalate")
    next_day = beijing_midnight(deadline + timedelta(days=1)) + timedelta(hours=9)

    def escalate(now):
        with writing(engine, system.name) as session:
            return [case.id for case in cases.escalate_overdue(session, system, now=now)]

    assert escalate(beijing_midnight(deadline) + timedelta(hours=23)) == []  # deadline day
    assert escalate(next_day) == [late]
    assert escalate(next_day + timedelta(hours=5)) == []  # already at level 1
    assert escalate(next_day + timedelta(days=7)) == [late]  # a week late: level 2
    with reading(engine) as session:
        analyst = world.actor(engine, "analyst")
        assert cases.get_case(session, analyst, late).escalation_level == 2
        overdue = cases.list_cases(session, analyst, cases.CaseFilter(overdue=True), now=next_day)
        assert [case.id for case in overdue] == [late]
        notes = session.scalars(
            select(Notification).where(Notification.kind == "case.overdue")
        ).all()
    assert [(n.roles, n.case_id) for n in notes] == [
        (["grid_officer", "analyst"], late),
        (["analyst", "admin"], late),
    ]
    assert notes[0].title.endswith("逾期 1 天（1 级督办）")


def test_alarm_case_is_opened_once_while_open(engine: Engine, world: World) -> None:
    system = cases.operator_actor("system:alarms")
    with writing(engine, system.name) as session:
        ids = {
            cases.open_case_from_alarm(
                session,
                alarm_id=world.alarm_ids[0],
                site_id=world.site,
                grid_id=world.grid1,
                description="PM2.5 小时浓度 180 µg/m³，连续 3 小时超标",
                actor=system,
            ).id
            for _ in range(2)
        }
        (case_id,) = ids
        assert cases.alarm_ids(session, case_id) == [world.alarm_ids[0]]
        assert cases.get_case(session, system, case_id).location == "红卫路站（AIR1）"


def test_xlsx_list_has_the_reported_columns(engine, world, tmp_path) -> None:
    closed = open_one(engine, world, description="餐饮油烟直排", category="油烟")
    open_one(
        engine,
        world,
        "analyst",
        grid_id=world.grid2,
        source="complaint",
        description="夜间施工噪声",
    )
    deadline = today() + timedelta(days=3)
    assign(engine, world, closed, deadline)
    move(engine, world, "officer1", closed, "rectifying")
    attach(engine, world, "officer1", closed, tmp_path, text="已安装油烟净化器")
    move(engine, world, "officer1", closed, "pending_closure")
    move(engine, world, "analyst", closed, "closed")
    with reading(engine) as session:
        frame = cases.export_frame(session, world.actor(engine, "analyst"), cases.CaseFilter())
    path = write_table(frame, tmp_path / "问题清单.xlsx")
    sheet = openpyxl.load_workbook(path).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = rows[0]
    assert header[:4] == ["序号", "编号", "来源", "网格"]
    assert {"问题描述", "责任单位", "整改时限", "状态", "销号日期"} <= set(header)
    first = dict(zip(header, rows[1], strict=True))
    second = dict(zip(header, rows[2], strict=True))
    assert (first["来源"], first["网格"], first["问题描述"]) == ("巡查", "第一网格", "餐饮油烟直排")
    assert (first["责任单位"], first["状态"]) == ("青山区住建局", "已销号")
    assert first["整改时限"].date() == deadline
    assert first["销号日期"].date() == today()
    assert (second["来源"], second["状态"], second["销号日期"]) == ("投诉", "待核实", None)
    with reading(engine) as session:  # a grid officer's list holds only their grid
        mine = cases.export_frame(session, world.actor(engine, "officer2"), cases.CaseFilter())
    assert mine["问题描述"].to_list() == ["夜间施工噪声"]


def test_weekly_summary_counts_the_period(engine, world, tmp_path) -> None:
    case_id = open_one(engine, world)
    open_one(engine, world, source="complaint")
    assign(engine, world, case_id)
    move(engine, world, "officer1", case_id, "pending_verification", reason="责任单位有误")
    with reading(engine) as session:
        analyst = world.actor(engine, "analyst")
        week = cases.summary(session, analyst, "week", today() - timedelta(days=3))
        before = cases.summary(session, analyst, "week", today() - timedelta(days=10))
        month = cases.summary(session, analyst, "month", today())
    assert week["opened"] == 2 and month["opened"] == 2
    assert week["opened_by_source"] == {"巡查": 1, "投诉": 1}
    assert week["sent_back"] == 1
    assert week["state_at_end"] == {"待核实": 2}
    assert before["opened"] == 0 and before["state_at_end"] == {}
    assert month["start"] == today().replace(day=1).isoformat()


def test_daily_and_monthly_tables_by_grid(engine, world) -> None:
    """日调度 / 月通报 as tables: two cases in G-01 (one sent back), one in G-02; the month's
    table has the same counts, a day before them has none opened but the list at its end is
    empty too."""
    first = open_one(engine, world)
    open_one(engine, world, source="complaint")
    open_one(engine, world, "analyst", grid_id=world.grid2, source="alarm")
    assign(engine, world, first)
    move(engine, world, "officer1", first, "pending_verification", reason="责任单位有误")
    with reading(engine) as session:
        analyst = world.actor(engine, "analyst")
        day = cases.summary_frame(session, analyst, "day", today())
        month = cases.summary_frame(session, analyst, "month", today())
        before = cases.summary_frame(session, analyst, "day", today() - timedelta(days=1))
        officer = cases.summary_frame(session, world.actor(engine, "officer2"), "day", today())
    assert day.columns == list(cases.SUMMARY_COLUMNS)
    assert day.rows() == [
        ("G-01", 2, 0, 1, 1, 0, 0, 0, 1, 2, 0),
        ("G-02", 1, 1, 0, 0, 0, 0, 0, 0, 1, 0),
        ("合计", 3, 1, 1, 1, 0, 0, 0, 1, 3, 0),
    ]
    assert month.rows() == day.rows()
    assert before.rows() == [("合计", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    assert officer["网格"].to_list() == ["G-02", "合计"]  # a grid officer sees their grid only
    with reading(engine) as session:
        report = cases.summary(session, world.actor(engine, "analyst"), "day", today())
    assert (report["title"], report["opened"], report["sent_back"]) == ("日调度", 3, 1)


def test_a_site_must_lie_in_the_cases_grid(engine: Engine, world: World) -> None:
    with pytest.raises(WorkflowError, match="not in grid G-02"):
        open_one(engine, world, "analyst", grid_id=world.grid2, site_id=world.site)
