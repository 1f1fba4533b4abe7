"""``qingshan cases …`` end to end (SQLite and PostgreSQL): open, move, evidence, export,
escalate with a log route, refusals with exit code 2."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from case_world import World, build_world
from qingshan.cli import app
from qingshan.services.case_workflow import beijing_day
from qingshan.store import create_store_engine
from qingshan.store.case_models import Case
from qingshan.store.types import utc_now

runner = CliRunner()


def run(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["cases", *args, "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


@pytest.fixture
def world(engine, database_url: str, tmp_path: Path, monkeypatch) -> World:
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    return build_world(engine)


@pytest.fixture
def configured(world: World, tmp_path: Path) -> Path:
    return tmp_path


def test_open_move_export_from_the_shell(configured: Path, world: World) -> None:
    alarm = str(world.alarm_ids[0])
    code, opened = run(
        "open",
        "--grid",
        "G-01",
        "--category",
        "扬尘",
        "--description",
        "道路积尘",
        "--alarm",
        alarm,
    )
    assert code == 0
    number = opened["cases"][0]["code"]
    assert number.startswith("QS-G-01-") and number.endswith("-0001")
    deadline = (beijing_day(utc_now()) + timedelta(days=3)).isoformat()
    code, moved = run(
        "transition", number, "assigned", "--responsible-unit", "环卫所", "--deadline", deadline
    )
    assert (code, moved["cases"][0]["state_label"]) == (0, "已交办")
    assert run("transition", number, "pending_closure")[0] == 2  # skipping is refused
    run("transition", number, "rectifying")
    photo = configured / "after.jpg"
    photo.write_bytes(b"\xff\xd8 photo")
    code, added = run("evidence", number, "--text", "已冲洗路面", "--file", str(photo))
    assert (code, added["evidence"]["kind"]) == (0, "photo")
    assert run("transition", number, "pending_closure")[0] == 0
    code, listed = run("list", "--state", "pending_closure")
    assert [case["code"] for case in listed["cases"]] == [number]
    output = configured / "问题清单.xlsx"
    assert run("export", "-o", str(output)) == (0, {"ok": True, "output": str(output), "cases": 1})
    sheet = openpyxl.load_workbook(output).active
    header, row = ([cell.value for cell in r] for r in sheet.iter_rows(max_row=2))
    assert dict(zip(header, row, strict=True))["关联预警"] == alarm


def test_escalate_sends_through_a_log_route(configured, database_url, caplog) -> None:
    run("open", "--grid", "G-01", "--category", "废水", "--description", "雨污混接")
    today = beijing_day(utc_now()).isoformat()
    run("transition", "1", "assigned", "--responsible-unit", "水务局", "--deadline", today)
    engine = create_store_engine(database_url)  # the deadline passed yesterday
    with engine.begin() as connection:
        connection.execute(update(Case).values(deadline=beijing_day(utc_now()) - timedelta(days=1)))
    engine.dispose()
    assert (
        run("route", "bureau", "--channel", "log", "--target", "bureau", "--role", "analyst")[0]
        == 0
    )
    with caplog.at_level(logging.INFO, logger="qingshan.notifications"):
        code, report = run("escalate")
    assert code == 0
    assert [case["level"] for case in report["escalated"]] == [1]
    assert report["sent"] == 1
    assert "逾期 1 天（1 级督办）" in caplog.text
    assert run("escalate")[1]["escalated"] == []


def test_weekly_summary_with_its_table_by_grid(configured: Path) -> None:
    run("open", "--grid", "G-01", "--category", "扬尘", "--description", "道路积尘")
    output = configured / "周汇总.xlsx"
    today = beijing_day(utc_now()).isoformat()
    code, report = run("summary", "week", today, "-o", str(output))
    assert (code, report["title"], report["opened"], report["output"]) == (
        0,
        "周汇总",
        1,
        str(output),
    )
    sheet = openpyxl.load_workbook(output).active
    header, grid, total = ([cell.value for cell in r] for r in sheet.iter_rows(max_row=3))
    assert header[:2] + header[-2:] == ["网格", "新增", "期末在办", "期末逾期"]
    assert (grid[:2], grid[-2:], total[:2]) == (["G-01", 1], [1, 0], ["合计", 1])
    assert run("summary", "year", today)[0] == 2


def test_officer_grids_and_bad_input(configured: Path) -> None:
    def users(*args: str) -> tuple[int, dict[str, object]]:
        result = CliRunner().invoke(app, ["users", *args, "--json"])
        return result.exit_code, json.loads(result.stdout)

    assert users("grids", "officer1", "G-01", "G-02") == (
        0,
        {"ok": True, "username": "officer1", "grids": ["G-01", "G-02"]},
    )
    code, refused = users("grids", "officer1", "G-99")
    assert code == 2 and "G-99" in str(refused["error"])
    assert run("list", "--state", "closing")[0] == 2
