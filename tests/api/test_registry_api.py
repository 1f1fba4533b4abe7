"""The registry API end to end (the issue's demo): a resident earns points, a project issues
credits, a company buys them, retires some for neutrality with a certificate and surrenders some
for compliance; plus the permission matrix and idempotent retries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from qingshan.store.engine import reading, writing
from qingshan.store.identity import add_user, issue_token
from qingshan.store.models import AuditEntry

API = "/api/v1/registry"
Headers = dict[str, str]


@pytest.fixture
def roles(token_for: Callable[[str], Headers]) -> dict[str, Headers]:
    return {role: token_for(role) for role in ("admin", "analyst", "enterprise", "device")}


@pytest.fixture
def other_enterprise(engine: Engine) -> Headers:
    with writing(engine, actor="test") as session:
        user = add_user(session, "other-enterprise", "enterprise")
        token = issue_token(session, user, "test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def opened(client: TestClient, roles: dict[str, Headers]) -> None:
    for account in (
        {"code": "RES1", "name": "张三", "kind": "individual"},
        {"code": "OWNER", "name": "青山林场", "kind": "project_owner"},
        {"code": "ENT1", "name": "青山钢铁", "kind": "enterprise", "username": "enterprise-user"},
    ):
        response = client.post(f"{API}/accounts", json=account, headers=roles["analyst"])
        assert response.status_code == 201, response.text


def issue(client: TestClient, headers: Headers, key: str = "iss-1") -> int:
    response = client.post(
        f"{API}/issuances",
        json={
            "idempotency_key": key,
            "methodology": "AR-CQCM-001",
            "project_code": "P001",
            "project_name": "青山碳汇造林",
            "vintage": 2023,
            "quantity": 60_000,
            "to_account": "OWNER",
            "verification": "核查报告 2024-001",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["new_block_id"])


def test_demo_points_issue_trade_neutrality_and_compliance(
    client: TestClient, roles: dict[str, Headers], opened: None, engine: Engine
) -> None:
    analyst, company = roles["analyst"], roles["enterprise"]
    ride = {
        "account": "RES1",
        "methodology": "CQ-BUS",
        "quantity": 1,
        "time": "2024-03-01T09:00:00+08:00",
    }
    answer = client.post(
        f"{API}/actions", json=[ride | {"key": "ride-1"}, ride | {"key": "ride-1"}], headers=analyst
    )
    assert [(a["status"], a["points"]) for a in answer.json()] == [
        ("accepted", 1.1),
        ("duplicate", 1.1),
    ]

    block = issue(client, roles["admin"])
    trade = client.post(
        f"{API}/transfers",
        json={
            "idempotency_key": "trade-1",
            "block_id": block,
            "quantity": 55_000,
            "from_account": "OWNER",
            "to_account": "ENT1",
            "price_yuan_per_t": 24.08,
        },
        headers=analyst,
    )
    assert trade.status_code == 200, trade.text
    assert trade.json()["details"]["price_fen_per_t"] == 2408
    bought = trade.json()["new_block_id"]

    neutral = client.post(
        f"{API}/retirements",
        json={
            "idempotency_key": "neutral-1",
            "block_id": bought,
            "quantity": 100,
            "from_account": "ENT1",
            "purpose": "碳中和",
            "beneficiary": "2026 青山马拉松",
        },
        headers=company,
    )
    assert neutral.status_code == 200, neutral.text
    serial = neutral.json()["serial"]
    assert serial == "QS-AR-CQCM-001-2023-P001-59901-60000"
    (where,) = client.get(f"{API}/serials/{serial}", headers=company).json()
    assert where["certificate"] == neutral.json()["certificate"]
    certificate = client.get(f"{API}/certificates/{where['certificate']}", headers=company).json()
    assert certificate["verify_path"] == neutral.json()["verify_path"]
    assert certificate["intact"] is True
    assert certificate["content"]["beneficiary"] == "2026 青山马拉松"
    page = client.get(f"{API}/certificates/{where['certificate']}/html", headers=company)
    assert certificate["sha256"] in page.text

    obligation = client.post(
        f"{API}/obligations",
        json={"account": "ENT1", "year": 2025, "verified_emissions_t": 1_000_000},
        headers=analyst,
    ).json()
    assert obligation["offset_cap_t"] == 50_000  # Art. 29: 5 % (carbon.md §7.6)
    over = client.post(
        f"{API}/surrenders",
        json={
            "idempotency_key": "s-1",
            "block_id": bought,
            "quantity": 50_001,
            "from_account": "ENT1",
            "obligation_id": obligation["id"],
        },
        headers=company,
    )
    assert over.status_code == 409
    assert "offset cap" in over.json()["detail"]
    request = {
        "idempotency_key": "s-2",
        "block_id": bought,
        "quantity": 50_000,
        "from_account": "ENT1",
        "obligation_id": obligation["id"],
    }
    within = client.post(f"{API}/surrenders", json=request, headers=company)
    assert within.status_code == 200, within.text
    surrendered = within.json()
    assert surrendered["certificate"].startswith("QS-RET-")
    assert surrendered["certificate"] != neutral.json()["certificate"]
    compliance = client.get(f"{API}/certificates/{surrendered['certificate']}", headers=company)
    assert compliance.json()["verify_path"] == surrendered["verify_path"]
    assert compliance.json()["intact"] is True
    sealed = compliance.json()["content"]
    assert (sealed["purpose"], sealed["scheme"], sealed["compliance_year"]) == (
        "履约抵销", "CN-ETS", 2025)  # fmt: skip
    assert (sealed["verified_emissions_t"], sealed["offset_cap_t"]) == (1_000_000, 50_000)
    public = client.get(f"/api/v1/public/certificates/{surrendered['verify_path'].split('/')[-1]}")
    assert public.json()["valid"] is True
    retried = client.post(f"{API}/surrenders", json=request, headers=company)  # applied once
    assert retried.json()["certificate"] == surrendered["certificate"]

    statement = client.get(f"{API}/accounts/ENT1/statement", headers=company).json()
    assert [h["quantity_t"] for h in statement["holdings"] if h["status"] == "held"] == [4_900]
    assert [e["kind"] for e in statement["timeline"]] == ["trade", "retire", "surrender"]
    (supply,) = client.get(f"{API}/supply", headers=company).json()
    assert (supply["issued_t"], supply["held"], supply["retired"]) == (60_000, 9_900, 50_100)
    assert client.get(f"{API}/verify", headers=analyst).json() == {"ok": True, "problems": []}
    with reading(engine) as session:  # every write is audited under the caller's name
        actors = set(session.scalars(select(AuditEntry.actor)))
    assert {"user:admin-user", "user:analyst-user", "user:enterprise-user"} <= actors


def test_permission_matrix(
    client: TestClient, roles: dict[str, Headers], opened: None, other_enterprise: Headers
) -> None:
    block = issue(client, roles["admin"])
    move = {
        "idempotency_key": "m-1",
        "block_id": block,
        "quantity": 1,
        "from_account": "OWNER",
        "to_account": "ENT1",
    }
    issuance = {
        "idempotency_key": "x",
        "methodology": "AR-CQCM-001",
        "project_code": "P9",
        "project_name": "p",
        "vintage": 2023,
        "quantity": 1,
        "to_account": "OWNER",
        "verification": "v",
    }
    # only the registry administrator issues
    assert (
        client.post(f"{API}/issuances", json=issuance, headers=roles["analyst"]).status_code == 403
    )
    # an enterprise may not move a custodial account's credits …
    assert (
        client.post(f"{API}/transfers", json=move, headers=roles["enterprise"]).status_code == 403
    )
    # … nor another enterprise's
    moved = client.post(f"{API}/transfers", json=move, headers=roles["analyst"]).json()
    back = move | {
        "idempotency_key": "m-2",
        "block_id": moved["new_block_id"],
        "from_account": "ENT1",
        "to_account": "OWNER",
    }
    assert client.post(f"{API}/transfers", json=back, headers=other_enterprise).status_code == 403
    assert client.get(f"{API}/accounts/ENT1/statement", headers=other_enterprise).status_code == 403
    assert (
        client.post(f"{API}/transfers", json=back, headers=roles["enterprise"]).status_code == 200
    )
    # devices have no business in the registry; no token at all is 401
    assert client.get(f"{API}/supply", headers=roles["device"]).status_code == 403
    assert client.get(f"{API}/supply").status_code == 401


def test_retried_request_returns_the_first_answer(
    client: TestClient, roles: dict[str, Headers], opened: None
) -> None:
    block = issue(client, roles["admin"])
    assert issue(client, roles["admin"]) == block  # same key: no second issuance
    move = {
        "idempotency_key": "m-1",
        "block_id": block,
        "quantity": 10,
        "from_account": "OWNER",
        "to_account": "ENT1",
    }
    first = client.post(f"{API}/transfers", json=move, headers=roles["analyst"]).json()
    again = client.post(f"{API}/transfers", json=move, headers=roles["analyst"]).json()
    assert first == again
    (supply,) = client.get(f"{API}/supply", headers=roles["analyst"]).json()
    assert supply["issued_t"] == 60_000


def test_methodology_as_data_then_reductions_issued_as_credits(
    client: TestClient, roles: dict[str, Headers], opened: None
) -> None:
    """An administrator activates a methodology with a factor; residents' reductions of a
    month become whole-tonne credits in the platform account, once."""
    admin = roles["admin"]
    pv = {
        "name": "户用光伏",
        "version": "test",
        "scheme": "TEST",
        "kind": "action",
        "document": "test document",
        "source": "test",
        "unit": "kWh",
        "grams_per_unit": 500.0,
        "points_per_unit": 0.01,
        "active": True,
    }
    assert (
        client.put(f"{API}/methodologies/TEST-PV", json=pv, headers=roles["analyst"]).status_code
        == 403
    )
    assert client.put(f"{API}/methodologies/TEST-PV", json=pv, headers=admin).status_code == 200
    actions = [
        {
            "account": "RES1",
            "methodology": "TEST-PV",
            "quantity": 2400,
            "time": f"2024-03-{day:02d}T12:00:00+08:00",
            "key": f"pv-{day}",
        }
        for day in (1, 2)
    ]
    answer = client.post(f"{API}/actions", json=actions, headers=roles["analyst"]).json()
    assert [a["reduction_g"] for a in answer] == [1_200_000, 1_200_000]
    period = {
        "idempotency_key": "agg-2403",
        "methodology": "TEST-PV",
        "first_day": "2024-03-01",
        "last_day": "2024-03-31",
        "project_code": "PV2403",
    }
    issued = client.post(f"{API}/issuances/from-actions", json=period, headers=admin)
    assert issued.status_code == 201, issued.text
    assert issued.json()["serial"] == "QS-TEST-PV-2024-PV2403-1-2"
    assert issued.json()["details"]["not_issued_mg"] == 400_000_000
    again = client.post(
        f"{API}/issuances/from-actions",
        json=period | {"idempotency_key": "agg-2403-b"},
        headers=admin,
    )
    assert again.status_code == 409
    platform = client.get(f"{API}/accounts/SYS-PLATFORM/statement", headers=admin).json()
    assert [h["quantity_t"] for h in platform["holdings"]] == [2]
