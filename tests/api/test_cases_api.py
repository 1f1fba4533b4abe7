"""The problem list over HTTP (SQLite and PostgreSQL): open, list, move, evidence, timeline,
export and summaries, with the role and grid checks."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import Engine, select

from case_world import World, build_world
from qingshan.services.case_workflow import beijing_day
from qingshan.store.engine import writing
from qingshan.store.identity import issue_token
from qingshan.store.models import User
from qingshan.store.types import utc_now

CASES = "/api/v1/cases"


@pytest.fixture
def world(engine: Engine, tmp_path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    return build_world(engine)


@pytest.fixture
def headers(engine: Engine, world: World):
    def make(username: str) -> dict[str, str]:
        with writing(engine, "test") as session:
            user = session.scalar(select(User).where(User.username == username))
            return {"Authorization": f"Bearer {issue_token(session, user, 'test')}"}

    return make


def open_case(client, headers, username="officer1", grid="G-01", **fields):
    body = {"source": "complaint", "grid": grid, "category": "噪声", "description": "夜间施工"}
    response = client.post(CASES, json=body | fields, headers=headers(username))
    assert response.status_code == 201, response.text
    return response.json()


def test_loop_over_http(client, headers, world, tmp_path) -> None:
    alarms = world.alarm_ids[:2]
    case = open_case(client, headers, site="AIR1", alarm_ids=alarms)
    assert (case["state_label"], case["site"], case["alarm_ids"]) == ("待核实", "AIR1", alarms)
    url = f"{CASES}/{case['id']}"
    officer = headers("officer1")
    deadline = (beijing_day(utc_now()) + timedelta(days=5)).isoformat()
    moved = client.post(
        f"{url}/transitions",
        json={"to_state": "assigned", "responsible_unit": "某建筑公司", "deadline": deadline},
        headers=officer,
    )
    assert moved.json()["state_label"] == "已交办"
    client.post(f"{url}/transitions", json={"to_state": "rectifying"}, headers=officer)
    early = client.post(f"{url}/transitions", json={"to_state": "pending_closure"}, headers=officer)
    assert early.status_code == 409 and "evidence" in early.json()["detail"]
    photo = b"\x89PNG\r\n\x1a\n fake png"
    attached = client.post(
        f"{url}/evidence",
        data={"text": "已停止夜间施工"},
        files={"file": ("现场.png", photo, "image/png")},
        headers=officer,
    )
    assert attached.status_code == 201, attached.text
    evidence = attached.json()
    assert (evidence["kind"], evidence["file_name"]) == ("photo", "现场.png")
    download = client.get(f"{url}/evidence/{evidence['id']}/file", headers=officer)
    assert download.content == photo
    client.post(f"{url}/transitions", json={"to_state": "pending_closure"}, headers=officer)
    refused = client.post(f"{url}/transitions", json={"to_state": "closed"}, headers=officer)
    assert refused.status_code == 403
    closed = client.post(
        f"{url}/transitions", json={"to_state": "closed"}, headers=headers("analyst")
    )
    assert closed.json()["state_label"] == "已销号"
    timeline = client.get(f"{url}/timeline", headers=officer).json()
    assert [event["action"] for event in timeline] == [
        "立案",
        "交办",
        "开始整改",
        "提交材料",
        "提交销号",
        "销号",
    ]
    assert timeline[-1]["actor"] == "user:analyst"


def test_other_grid_is_not_found_and_lists_are_scoped(client, headers, world) -> None:
    mine = open_case(client, headers)
    other = open_case(client, headers, "analyst", grid="G-02")
    officer = headers("officer1")
    assert client.get(f"{CASES}/{other['id']}", headers=officer).status_code == 404
    moved = client.post(
        f"{CASES}/{other['id']}/transitions", json={"to_state": "assigned"}, headers=officer
    )
    assert moved.status_code == 404
    listed = client.get(CASES, headers=officer).json()
    assert [case["id"] for case in listed] == [mine["id"]]
    everything = client.get(CASES, params={"source": "complaint"}, headers=headers("analyst"))
    assert {case["id"] for case in everything.json()} == {mine["id"], other["id"]}
    only_g2 = client.get(CASES, params={"grid": "G-02"}, headers=headers("analyst")).json()
    assert [case["id"] for case in only_g2] == [other["id"]]
    refused = client.post(
        CASES,
        json={"source": "complaint", "grid": "G-02", "category": "噪声", "description": "x"},
        headers=officer,
    )
    assert refused.status_code == 403


def test_enterprise_and_anonymous_callers_are_refused(client, headers, world) -> None:
    assert client.get(CASES).status_code == 401
    assert client.get(CASES, headers=headers("factory")).status_code == 403


def test_skip_and_send_back_without_reason_are_conflicts(client, headers, world) -> None:
    case = open_case(client, headers)
    url = f"{CASES}/{case['id']}/transitions"
    analyst = headers("analyst")
    skip = client.post(url, json={"to_state": "rectifying"}, headers=analyst)
    assert skip.status_code == 409
    deadline = beijing_day(utc_now()).isoformat()
    client.post(
        url,
        json={"to_state": "assigned", "responsible_unit": "街道办", "deadline": deadline},
        headers=analyst,
    )
    back = client.post(url, json={"to_state": "pending_verification"}, headers=analyst)
    assert back.status_code == 409 and "reason" in back.json()["detail"]
    back = client.post(
        url, json={"to_state": "pending_verification", "reason": "不属本网格"}, headers=analyst
    )
    assert back.json()["state"] == "pending_verification"


def test_export_and_summary(client, headers, world) -> None:
    open_case(client, headers, description="渣土车未密闭")
    response = client.get(f"{CASES}/export.xlsx", headers=headers("analyst"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["问题清单"]
    header, first = ([cell.value for cell in row] for row in sheet.iter_rows(max_row=2))
    row = dict(zip(header, first, strict=True))
    assert (row["来源"], row["网格"], row["问题描述"], row["状态"]) == (
        "投诉",
        "第一网格",
        "渣土车未密闭",
        "待核实",
    )
    today = beijing_day(utc_now()).isoformat()
    week = client.get(
        f"{CASES}/summary", params={"period": "week", "start": today}, headers=headers("analyst")
    )
    assert week.json()["opened_by_grid"] == {"G-01": 1}
    table = client.get(
        f"{CASES}/summary.xlsx",
        params={"period": "day", "start": today},
        headers=headers("analyst"),
    )
    assert table.status_code == 200
    rows = openpyxl.load_workbook(io.BytesIO(table.content))["日调度"].iter_rows(values_only=True)
    header, grid, total = list(rows)
    assert (header[:3], grid[:3], total[:2]) == (
        ("网格", "新增", "预警"),
        ("G-01", 1, 0),
        ("合计", 1),
    )
    refused = client.get(
        f"{CASES}/summary.xlsx",
        params={"period": "year", "start": today},
        headers=headers("analyst"),
    )
    assert refused.status_code == 422
