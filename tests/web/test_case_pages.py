"""The problem-list pages (SQLite and PostgreSQL): the permission matrix as the pages show and
enforce it, a full walk through every state with its timeline, evidence, exports, summaries."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import Engine

from qingshan.services import cases as case_service
from qingshan.services.case_workflow import beijing_day
from qingshan.store.case_models import Case
from qingshan.store.engine import writing
from qingshan.store.types import utc_now
from qingshan.web.pages import cases as case_pages
from qingshan.web.rendering import actor_name
from web.pages_world import PagesWorld, Visitor, build_pages_world

SignIn = Callable[[str], Visitor]
MOVE = re.compile(r'name="to_state" value="(\w+)"')
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
"""A 1×1 PNG, as a phone photo would arrive."""


@pytest.fixture
def world(engine: Engine, tmp_path, monkeypatch: pytest.MonkeyPatch) -> PagesWorld:
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    return build_pages_world(engine)


def open_case(visitor: Visitor, grid: str = "G00", **fields: str) -> int:
    form = {"source": "complaint", "grid": grid, "category": "扬尘", "description": "工地未覆盖"}
    response = visitor.post("/cases/new", form | fields)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def offered(visitor: Visitor, case_id: int) -> set[str]:
    """The moves the case page offers as forms (their target states)."""
    page = visitor.get(f"/cases/{case_id}")
    assert page.status_code == 200
    return set(MOVE.findall(page.text))


def state_of(visitor: Visitor, case_id: int) -> str:
    found = re.search(r'<span id="case-state">(.*?)</span>', visitor.get(f"/cases/{case_id}").text)
    assert found is not None
    return found.group(1)


def in_days(days: int) -> str:
    return (beijing_day(utc_now()) + timedelta(days=days)).isoformat()


def test_a_case_walks_every_state_with_the_right_people(world: PagesWorld, as_user: SignIn) -> None:
    officer, analyst, reviewer = as_user("officer"), as_user("analyst"), as_user("analyst2")
    case = open_case(officer, site="AIR-01", location="青山路 8 号")
    move = f"/cases/{case}/move"
    assert offered(officer, case) == {"assigned"}
    officer.post(
        move, {"to_state": "assigned", "responsible_unit": "某建筑公司", "deadline": in_days(5)}
    )
    assert offered(officer, case) == {"rectifying", "pending_verification"}
    officer.post(move, {"to_state": "rectifying"})
    assert offered(officer, case) == {"pending_closure", "assigned"}
    refused = officer.post(move, {"to_state": "pending_closure"})
    assert refused.status_code == 409 and "attach evidence" in refused.text
    officer.post(
        f"/cases/{case}/evidence",
        {"text": "已覆盖防尘网"},
        files={"file": ("site.png", PNG, "image/png")},
    )
    officer.post(move, {"to_state": "pending_closure", "reason": "整改完成"})
    assert offered(officer, case) == set()  # closing is the bureau's
    assert offered(analyst, case) == {"closed", "rectifying"}
    analyst.post(move, {"to_state": "rectifying", "reason": "照片未显示全貌"})
    officer.post(f"/cases/{case}/evidence", {"text": "补拍全景照片"})
    officer.post(move, {"to_state": "pending_closure"})
    analyst.post(move, {"to_state": "closed"})
    assert offered(analyst, case) == {"pending_closure"}  # the closer does not review
    assert offered(reviewer, case) == {"reviewed", "pending_closure"}
    reviewer.post(move, {"to_state": "reviewed", "reason": "现场复核无扬尘"})
    assert state_of(officer, case) == "已复核"
    assert offered(reviewer, case) == set()
    timeline = officer.get(f"/cases/{case}").text.split('id="timeline"')[1]
    steps = re.findall(r"· (\w+) · ([^\s:<]+)", timeline)  # the users, by username
    assert steps == [
        ("officer", "立案"),
        ("officer", "交办"),
        ("officer", "开始整改"),
        ("officer", "提交材料"),
        ("officer", "提交销号"),
        ("analyst", "退回"),
        ("officer", "提交材料"),
        ("officer", "提交销号"),
        ("analyst", "销号"),
        ("analyst2", "复核"),
    ]
    for text in ("某建筑公司", "理由: 照片未显示全貌", "理由: 现场复核无扬尘", "待销号 → 整改中"):
        assert text in timeline


def test_an_officer_cannot_see_or_move_another_grids_case(
    world: PagesWorld, as_user: SignIn
) -> None:
    analyst, officer = as_user("analyst"), as_user("officer")
    other = open_case(analyst, grid="G01", description="河道漂浮物")
    own = open_case(officer)
    assert officer.get(f"/cases/{other}").status_code == 404
    assert (
        officer.post(
            f"/cases/{other}/move",
            {"to_state": "assigned", "responsible_unit": "x", "deadline": in_days(3)},
        ).status_code
        == 404
    )
    assert officer.post(f"/cases/{other}/evidence", {"text": "x"}).status_code == 404
    assert (
        officer.post(
            "/cases/new",
            {"source": "complaint", "grid": "G01", "category": "x", "description": "y"},
        ).status_code
        == 403
    )
    listing = officer.get("/cases").text
    assert f'href="/cases/{own}"' in listing and f'href="/cases/{other}"' not in listing
    assert '<option value="G01"' not in officer.get("/cases/new").text
    assert state_of(analyst, other) == "待核实"


def test_moves_the_page_does_not_offer_are_refused_by_the_service(
    world: PagesWorld, as_user: SignIn
) -> None:
    officer = as_user("officer")
    case = open_case(officer)
    skipped = officer.post(f"/cases/{case}/move", {"to_state": "closed"})
    assert skipped.status_code == 409 and "待核实" in skipped.text
    officer.post(
        f"/cases/{case}/move",
        {"to_state": "assigned", "responsible_unit": "某公司", "deadline": in_days(2)},
    )
    officer.post(f"/cases/{case}/move", {"to_state": "rectifying"})
    officer.post(f"/cases/{case}/evidence", {"text": "完成"})
    officer.post(f"/cases/{case}/move", {"to_state": "pending_closure"})
    assert officer.post(f"/cases/{case}/move", {"to_state": "closed"}).status_code == 403
    no_reason = as_user("analyst").post(f"/cases/{case}/move", {"to_state": "rectifying"})
    assert no_reason.status_code == 409 and "reason" in no_reason.text
    assert state_of(officer, case) == "待销号"
    assert as_user("firm").get(f"/cases/{case}").status_code == 403


def test_photos_show_in_the_page_and_files_download(world: PagesWorld, as_user: SignIn) -> None:
    officer = as_user("officer")
    case = open_case(officer)
    officer.post(
        f"/cases/{case}/evidence", {"text": "现场照片"}, files={"file": ("a.png", PNG, "image/png")}
    )
    officer.post(f"/cases/{case}/evidence", files={"file": ("x.svg", b"<svg/>", "image/svg+xml")})
    page = officer.get(f"/cases/{case}").text
    links = re.findall(rf"/cases/{case}/evidence/(\d+)", page)
    photo, drawing = sorted({int(found) for found in links})
    assert f'<img src="/cases/{case}/evidence/{photo}" alt="现场照片"' in page
    assert f'<img src="/cases/{case}/evidence/{drawing}"' not in page
    shown = officer.get(f"/cases/{case}/evidence/{photo}")
    assert (shown.content, shown.headers["content-type"]) == (PNG, "image/png")
    assert shown.headers["content-disposition"].startswith("inline")
    saved = officer.get(f"/cases/{case}/evidence/{drawing}")
    assert saved.headers["content-disposition"].startswith("attachment")
    assert saved.headers["content-type"] == "application/octet-stream"
    assert as_user("analyst").get(f"/cases/{case}/evidence/{photo}").status_code == 200


def test_a_case_opened_from_an_alarm_links_both_ways(world: PagesWorld, as_user: SignIn) -> None:
    officer = as_user("officer")
    alarm = world.alarms["AIR-01"]
    form = officer.get(f"/cases/new?alarm={alarm}").text
    assert f'name="alarm" value="{alarm}"' in form
    case = open_case(officer, alarm=str(alarm), source="alarm", grid="")
    again = open_case(officer, alarm=str(alarm), source="alarm", grid="", description="再次")
    assert again == case  # one open case per alarm
    assert f'href="/alarms/{alarm}"' in officer.get(f"/cases/{case}").text
    assert f'href="/cases/{case}"' in officer.get(f"/alarms/{alarm}").text
    assert officer.get(f"/cases/new?alarm={world.alarms['WAT-01']}").status_code == 404


def test_overdue_cases_are_flagged_and_filtered(
    world: PagesWorld, as_user: SignIn, engine: Engine
) -> None:
    officer = as_user("officer")
    late, in_time = open_case(officer), open_case(officer)
    for case in (late, in_time):
        officer.post(
            f"/cases/{case}/move",
            {"to_state": "assigned", "responsible_unit": "某公司", "deadline": in_days(1)},
        )
    with writing(engine, "test") as session:
        session.get_one(Case, late).deadline = beijing_day(utc_now()) - timedelta(days=9)
        case_service.escalate_overdue(session, case_service.operator_actor("test"))
    overdue = officer.get("/cases?overdue=yes").text
    assert f'href="/cases/{late}"' in overdue and f'href="/cases/{in_time}"' not in overdue
    assert "逾期 9 天" in overdue
    assert "2 级督办" in officer.get(f"/cases/{late}").text
    assert f'href="/cases/{late}"' not in officer.get("/cases?overdue=no").text


def test_the_problem_list_downloads_with_the_reported_columns(
    world: PagesWorld, as_user: SignIn
) -> None:
    officer, analyst = as_user("officer"), as_user("analyst")
    own = open_case(officer)
    open_case(analyst, grid="G01")
    for visitor, expected in ((officer, 1), (analyst, 2)):
        response = visitor.get("/cases/export.xlsx")
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith("attachment")
        sheet = openpyxl.load_workbook(io.BytesIO(response.content))["问题清单"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == case_service.EXPORT_COLUMNS
        assert len(rows) == 1 + expected
    code = re.search(r"<h1>(QS-[\w-]+)", officer.get(f"/cases/{own}").text)
    assert code is not None
    only_g00 = officer.get("/cases/export.xlsx?grid=G00&source=complaint").content
    rows = list(openpyxl.load_workbook(io.BytesIO(only_g00)).active.iter_rows(values_only=True))
    assert [row[1] for row in rows[1:]] == [code.group(1)]


def test_weekly_and_monthly_summaries(world: PagesWorld, as_user: SignIn) -> None:
    officer = as_user("officer")
    open_case(officer)
    open_case(officer, source="inspection")
    today = beijing_day(utc_now()).isoformat()
    week = officer.get(f"/cases/summary?period=week&start={today}").text
    opened = re.search(r"<h2>立案</h2><p class=\"value\">(\d+)</p>", week)
    assert opened is not None and opened.group(1) == "2"
    assert '<th scope="row">投诉</th><td class="num">1</td>' in week
    assert '<th scope="row">待核实</th><td class="num">2</td>' in week
    month = officer.get("/cases/summary?period=month").text
    assert "月通报" in month and '<th scope="row">G00</th><td class="num">2</td>' in month
    assert officer.get("/cases/summary?period=year").status_code == 409


def test_the_list_pages_newest_first_and_speaks_english(
    world: PagesWorld, as_user: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_pages, "PAGE_SIZE", 1)
    officer = as_user("officer")
    older, newer = open_case(officer), open_case(officer, source="inspection")
    first = officer.get("/cases?grid=G00&lang=en").text
    assert re.findall(r'href="/cases/(\d+)"', first) == [str(newer)]
    assert "Pending verification" in first and "Inspection" in first
    following = re.search(r'href="(/cases\?[^"]*page=2)" rel="next"', first)
    assert following is not None
    second = officer.get(following.group(1).replace("&amp;", "&")).text
    assert re.findall(r'href="/cases/(\d+)"', second) == [str(older)]
    assert 'rel="next"' not in second and 'rel="prev"' in second


def test_the_timeline_names_people_not_audit_actors(world: PagesWorld, as_user: SignIn) -> None:
    """The audit actor ``user:officer`` was printed as is (an English word on the Chinese page);
    the page names the user, and the platform's own moves as the platform's."""
    officer = as_user("officer")
    case_id = open_case(officer)
    page = officer.get(f"/cases/{case_id}").text
    assert "user:" not in page
    assert re.search(r"· officer · 立案", page)
    assert actor_name("system:escalation") not in ("system:escalation", "escalation")
