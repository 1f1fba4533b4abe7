"""Rules and alarms over HTTP: versioned rule CRUD, the alarm permission matrix, filters."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import select

from outlet_owners import own_outlets
from qingshan.services import alarms as alarm_service
from qingshan.services import alerting, rules
from qingshan.store.engine import writing
from qingshan.store.identity import set_user_grids
from qingshan.store.models import Site
from qingshan.store.readings import upsert_readings
from qingshan.store.registry import ensure_grid, upsert_site

T0 = datetime(2026, 6, 1, tzinfo=UTC)
PERMIT_RULE = {
    "code": "so2-permit",
    "name": "烟气SO2超许可限值",
    "type": "permit",
    "parameters": {"parameter": "flue_so2"},
    "severity": "red",
}


@pytest.fixture
def two_grid_alarms(engine, sites, parameters, client, token_for):
    """One active alarm in grid G-01 (STACK) and one in grid G-02 (STACK2); ids by grid, and
    the headers of G-01's grid officer (linked before the alarms open, so it is the assignee)."""
    officer = token_for("grid_officer")
    with writing(engine, "test") as session:
        other = ensure_grid(
            session,
            district=("420107", "青山区"),
            township=("420107002", "冶金街道", "street"),
            grid=("G-02", "第二网格"),
        )
        set_user_grids(session, "grid_officer-user", ["G-01"])
        upsert_site(
            session,
            "STACK2",
            name="STACK2",
            kind="source_outlet",
            latitude=30.6,
            longitude=114.4,
            grid_id=other.id,
            permit_limits={"flue_so2": {"limit": 35.0}},
        )
        rules.create_rule(
            session,
            code="so2-permit",
            name="SO2",
            rule_type="permit",
            parameters={"parameter": "flue_so2"},
            scope=None,
            severity="red",
            actor="test",
        )
    with writing(engine, "test") as session:
        ids = {code: site_id for code, site_id in session.execute(select(Site.code, Site.id))}
    frame = pl.DataFrame(
        {
            "site_id": [ids["STACK"], ids["STACK2"]],
            "parameter_id": [parameters["flue_so2"]] * 2,
            "period": ["hour", "hour"],
            "period_start": [T0, T0],
            "value": [50.0, 60.0],
            "flag": ["N", "N"],
        }
    )
    with writing(engine, "test") as session:
        upsert_readings(session, frame, source="test", actor="test")
    alerting.evaluate_readings(engine, frame)
    with writing(engine, "test") as session:
        found = alarm_service.list_alarms(session, alarm_service.AlarmFilter())
    return {"officer": officer, **{alarm["grid"]: alarm["id"] for alarm in found}}


def test_rule_crud_keeps_every_version(client, token_for, engine) -> None:
    analyst = token_for("analyst")
    created = client.post("/api/v1/rules", json=PERMIT_RULE, headers=analyst).json()
    assert (created["severity"], created["colour"], created["version"]) == ("critical", "red", 1)
    assert created["parameters"]["clear_after"] == 1  # defaults filled in
    changed = client.patch("/api/v1/rules/so2-permit", json={"severity": "yellow"}, headers=analyst)
    assert (changed.json()["severity"], changed.json()["version"]) == ("minor", 2)
    disabled = client.delete("/api/v1/rules/so2-permit", headers=analyst).json()
    assert (disabled["enabled"], disabled["version"]) == (False, 3)
    history = client.get("/api/v1/rules/so2-permit/versions", headers=analyst).json()
    assert [(v["version"], v["severity"], v["enabled"]) for v in history] == [
        (1, "critical", True),
        (2, "minor", True),
        (3, "minor", False),
    ]


def test_bad_rules_are_422_and_duplicates_refused(client, token_for) -> None:
    analyst = token_for("analyst")
    assert (
        client.post(
            "/api/v1/rules", json={**PERMIT_RULE, "type": "nope"}, headers=analyst
        ).status_code
        == 422
    )
    assert client.post("/api/v1/rules", json=PERMIT_RULE, headers=analyst).status_code == 201
    assert client.post("/api/v1/rules", json=PERMIT_RULE, headers=analyst).status_code == 422


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("grid_officer", 200, 403), ("enterprise", 403, 403), ("device", 403, 403)],
)
def test_rule_permissions(client, token_for, role, read, write) -> None:
    headers = token_for(role)
    assert client.get("/api/v1/rules", headers=headers).status_code == read
    assert client.post("/api/v1/rules", json=PERMIT_RULE, headers=headers).status_code == write


def test_grid_officer_sees_and_acknowledges_only_its_grid(
    client, token_for, engine, two_grid_alarms
) -> None:
    officer = two_grid_alarms["officer"]
    own, foreign = two_grid_alarms["G-01"], two_grid_alarms["G-02"]
    listed = client.get("/api/v1/alarms", headers=officer).json()
    assert [alarm["id"] for alarm in listed] == [own]
    assert listed[0]["assignee"] == "grid_officer-user"
    assert client.get(f"/api/v1/alarms/{foreign}", headers=officer).status_code == 404
    assert client.post(f"/api/v1/alarms/{foreign}/acknowledge", headers=officer).status_code == 404
    comment = {"body": "not mine"}
    assert (
        client.post(f"/api/v1/alarms/{foreign}/comments", json=comment, headers=officer).status_code
        == 404
    )
    acknowledged = client.post(f"/api/v1/alarms/{own}/acknowledge", headers=officer).json()
    assert (acknowledged["status"], acknowledged["acknowledged_by"]) == (
        "ACTIVE_ACK",
        "user:grid_officer-user",
    )
    assert client.post(f"/api/v1/alarms/{own}/clear", json={}, headers=officer).status_code == 403


def test_analyst_clears_and_comments_keep_the_story(client, token_for, two_grid_alarms) -> None:
    analyst = token_for("analyst")
    alarm_id = two_grid_alarms["G-02"]
    client.post(
        f"/api/v1/alarms/{alarm_id}/comments", json={"body": "企业称设备调试"}, headers=analyst
    )
    cleared = client.post(
        f"/api/v1/alarms/{alarm_id}/clear", json={"reason": "已核实"}, headers=analyst
    ).json()
    assert (cleared["status"], cleared["clear_reason"]) == ("CLEARED_UNACK", "manual")
    assert [(c["body"], c["system"]) for c in cleared["comments"]] == [
        ("企业称设备调试", False),
        ("cleared by hand: 已核实", True),
    ]


def test_devices_cannot_see_alarms(client, token_for, two_grid_alarms) -> None:
    headers = token_for("device")
    assert client.get("/api/v1/alarms", headers=headers).status_code == 403
    alarm_id = two_grid_alarms["G-01"]
    assert client.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=headers).status_code == 403


def test_an_enterprise_reads_only_its_outlets_alarms(
    client, token_for, engine, two_grid_alarms
) -> None:
    """The enterprise user's company owns STACK (G-01's alarm), a rival STACK2 (G-02's): it
    lists and reads its own, the rival's is 404, and it handles none (403)."""
    firm = token_for("enterprise")
    own_outlets(engine, "enterprise-user", "FIRM", "STACK")
    own_outlets(engine, None, "RIVAL", "STACK2")
    own, foreign = two_grid_alarms["G-01"], two_grid_alarms["G-02"]
    assert [alarm["id"] for alarm in client.get("/api/v1/alarms", headers=firm).json()] == [own]
    assert client.get(f"/api/v1/alarms/{own}", headers=firm).json()["site"] == "STACK"
    assert client.get(f"/api/v1/alarms/{foreign}", headers=firm).status_code == 404
    assert client.post(f"/api/v1/alarms/{own}/acknowledge", headers=firm).status_code == 403
    comment = {"body": "整改中"}
    assert (
        client.post(f"/api/v1/alarms/{own}/comments", json=comment, headers=firm).status_code == 403
    )
    admin = token_for("admin")
    assert len(client.get("/api/v1/alarms", headers=admin).json()) == 2


def test_alarm_filters(client, token_for, two_grid_alarms) -> None:
    admin = token_for("admin")

    def ids(**query: str) -> list[int]:
        return sorted(
            a["id"] for a in client.get("/api/v1/alarms", params=query, headers=admin).json()
        )

    everything = sorted([two_grid_alarms["G-01"], two_grid_alarms["G-02"]])
    assert ids() == everything
    assert ids(grid="G-02") == [two_grid_alarms["G-02"]]
    assert ids(site="STACK") == [two_grid_alarms["G-01"]]
    assert ids(state="active", severity="critical") == everything
    assert ids(state="cleared") == []
    assert ids(since="2026-06-01T00:00:00+00:00", until="2026-06-01T01:00:00+00:00") == everything
    assert ids(since="2026-06-01T00:00:01+00:00") == []
    assert client.get("/api/v1/alarms", params={"state": "odd"}, headers=admin).status_code == 422
