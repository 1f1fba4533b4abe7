"""The market API end to end: the administrator deposits yuan, a project owner (custodial,
through the platform) offers credits, an enterprise buys them with its own account; the book,
trade history and daily statistics; the permission matrix and idempotent retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from qingshan.store.engine import writing
from qingshan.store.identity import add_user, issue_token

REGISTRY = "/api/v1/registry"
API = "/api/v1/market"
Headers = dict[str, str]


@pytest.fixture
def roles(token_for: Callable[[str], Headers]) -> dict[str, Headers]:
    return {role: token_for(role) for role in ("admin", "analyst", "enterprise", "grid_officer")}


@pytest.fixture
def listed(client: TestClient, roles: dict[str, Headers]) -> dict[str, Any]:
    """OWNER (custodial) holds 1,000 t of one issuance; ENT1 (the enterprise user's) has
    50,000 yuan."""
    for account in (
        {"code": "OWNER", "name": "青山林场", "kind": "project_owner"},
        {"code": "ENT1", "name": "青山钢铁", "kind": "enterprise", "username": "enterprise-user"},
    ):
        assert client.post(
            f"{REGISTRY}/accounts", json=account, headers=roles["analyst"]
        ).is_success
    issued = client.post(
        f"{REGISTRY}/issuances",
        json={
            "idempotency_key": "iss-1",
            "methodology": "AR-CQCM-001",
            "project_code": "P001",
            "project_name": "青山碳汇造林",
            "vintage": 2023,
            "quantity": 1000,
            "to_account": "OWNER",
            "verification": "核查报告 2024-001",
        },
        headers=roles["admin"],
    ).json()
    deposit = {
        "idempotency_key": "dep-1",
        "account": "ENT1",
        "amount_fen": 5_000_000,
        "note": "银行流水 001",
    }
    response = client.post(f"{API}/cash/deposits", json=deposit, headers=roles["admin"])
    assert response.status_code == 200, response.text
    assert response.json()["available_fen"] == 5_000_000
    return {"issuance": issued["issuance_id"], "block": issued["new_block_id"]}


def sell(listed: dict[str, Any], key: str, price: int, quantity: int) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "account": "OWNER",
        "issuance_id": listed["issuance"],
        "side": "sell",
        "price_fen_per_t": price,
        "quantity": quantity,
        "block_id": listed["block"],
    }


def buy(listed: dict[str, Any], key: str, price: int, quantity: int) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "account": "ENT1",
        "issuance_id": listed["issuance"],
        "side": "buy",
        "price_fen_per_t": price,
        "quantity": quantity,
    }


def test_offer_buy_book_trades_and_statistics(
    client: TestClient, roles: dict[str, Headers], listed: dict[str, Any]
) -> None:
    analyst, company = roles["analyst"], roles["enterprise"]
    offer = client.post(f"{API}/orders", json=sell(listed, "s1", 2408, 600), headers=analyst)
    assert offer.status_code == 201, offer.text
    assert offer.json()["status"] == "open"
    bought = client.post(f"{API}/orders", json=buy(listed, "b1", 2500, 500), headers=company)
    assert bought.status_code == 201, bought.text
    body = bought.json()
    assert (body["status"], body["filled_t"]) == ("filled", 500)
    assert [(t["price_fen_per_t"], t["quantity_t"]) for t in body["trades"]] == [(2408, 500)]
    again = client.post(f"{API}/orders", json=buy(listed, "b1", 2500, 500), headers=company)
    assert again.json() == body  # a retry returns the first answer
    cash = client.get(f"{API}/accounts/ENT1/cash", headers=company).json()
    assert cash == {"account": "ENT1", "available_fen": 5_000_000 - 500 * 2408, "reserved_fen": 0}
    depth = client.get(f"{API}/book/{listed['issuance']}", headers=roles["grid_officer"]).json()
    assert depth["asks"] == [{"price_fen_per_t": 2408, "quantity_t": 100, "orders": 1}]
    prints = client.get(
        f"{API}/trades", params={"issuance_id": listed["issuance"]}, headers=company
    )
    assert "buyer" not in prints.json()[0]  # market data is anonymous
    own = client.get(f"{API}/trades", params={"account": "ENT1"}, headers=company).json()
    assert (own[0]["buyer"], own[0]["seller"]) == ("ENT1", "OWNER")
    (day,) = client.get(f"{API}/stats/{listed['issuance']}", headers=company).json()
    assert (day["volume_t"], day["vwap_fen_per_t"], day["turnover_fen"]) == (500, 2408, 1_204_000)
    statement = client.get(f"{REGISTRY}/accounts/ENT1/statement", headers=company).json()
    assert sum(b["quantity_t"] for b in statement["holdings"]) == 500
    assert client.get(f"{REGISTRY}/verify", headers=analyst).json() == {"ok": True, "problems": []}


def test_cancel_returns_the_escrow(
    client: TestClient, roles: dict[str, Headers], listed: dict[str, Any]
) -> None:
    bid = client.post(
        f"{API}/orders", json=buy(listed, "b1", 2000, 100), headers=roles["enterprise"]
    )
    order_id = bid.json()["id"]
    mine = client.get(
        f"{API}/orders", params={"account": "ENT1", "status": "open"}, headers=roles["enterprise"]
    )
    assert [order["id"] for order in mine.json()] == [order_id]
    cancelled = client.delete(f"{API}/orders/{order_id}", headers=roles["enterprise"])
    assert cancelled.json()["status"] == "cancelled"
    assert client.delete(f"{API}/orders/{order_id}", headers=roles["enterprise"]).status_code == 200
    cash = client.get(f"{API}/accounts/ENT1/cash", headers=roles["enterprise"]).json()
    assert (cash["available_fen"], cash["reserved_fen"]) == (5_000_000, 0)


def test_permissions(
    client: TestClient,
    roles: dict[str, Headers],
    listed: dict[str, Any],
    engine: Engine,
) -> None:
    with writing(engine, actor="test") as session:
        token = issue_token(session, add_user(session, "other", "enterprise"), "test")
    other = {"Authorization": f"Bearer {token}"}
    # an enterprise trades only its own account; custodial accounts are the platform's
    assert (
        client.post(f"{API}/orders", json=buy(listed, "x1", 1, 1), headers=other).status_code == 403
    )
    assert (
        client.post(
            f"{API}/orders", json=sell(listed, "x2", 1, 1), headers=roles["enterprise"]
        ).status_code
        == 403
    )
    assert client.get(f"{API}/accounts/ENT1/cash", headers=other).status_code == 403
    bid = client.post(
        f"{API}/orders", json=buy(listed, "b1", 2000, 1), headers=roles["enterprise"]
    ).json()
    assert client.delete(f"{API}/orders/{bid['id']}", headers=other).status_code == 403
    # only the administrator moves yuan; a grid officer reads market data but does not trade
    deposit = {"idempotency_key": "d", "account": "ENT1", "amount_fen": 1, "note": "x"}
    assert (
        client.post(f"{API}/cash/deposits", json=deposit, headers=roles["analyst"]).status_code
        == 403
    )
    assert (
        client.post(
            f"{API}/orders", json=buy(listed, "x3", 1, 1), headers=roles["grid_officer"]
        ).status_code
        == 403
    )
    # escrowed units move only through their order
    offer = client.post(
        f"{API}/orders", json=sell(listed, "s1", 3000, 10), headers=roles["analyst"]
    ).json()
    freeze = {"idempotency_key": "f", "block_id": offer["block_id"], "quantity": 10}
    assert (
        client.post(f"{REGISTRY}/freezes", json=freeze, headers=roles["admin"]).status_code == 403
    )
    move = {
        "idempotency_key": "t",
        "block_id": offer["block_id"],
        "quantity": 10,
        "from_account": "SYS-MARKET",
        "to_account": "ENT1",
    }
    assert (
        client.post(f"{REGISTRY}/transfers", json=move, headers=roles["admin"]).status_code == 403
    )
    # and units enter the escrow only with a sell order
    into = move | {"block_id": listed["block"], "from_account": "OWNER", "to_account": "SYS-MARKET"}
    assert (
        client.post(f"{REGISTRY}/transfers", json=into, headers=roles["admin"]).status_code == 403
    )


def test_refusals_are_409_or_422(
    client: TestClient, roles: dict[str, Headers], listed: dict[str, Any]
) -> None:
    too_much = buy(listed, "b1", 10_000, 1_000)  # 100,000 yuan > 50,000
    assert (
        client.post(f"{API}/orders", json=too_much, headers=roles["enterprise"]).status_code == 409
    )
    no_price = buy(listed, "b2", 0, 1)
    assert (
        client.post(f"{API}/orders", json=no_price, headers=roles["enterprise"]).status_code == 422
    )
    withdrawal = {"idempotency_key": "w", "account": "ENT1", "amount_fen": 5_000_001, "note": "x"}
    assert (
        client.post(f"{API}/cash/withdrawals", json=withdrawal, headers=roles["admin"]).status_code
        == 409
    )
    assert client.get(f"{API}/book/999", headers=roles["enterprise"]).status_code == 404


def test_a_sell_without_a_block_sells_from_the_smallest_block_that_suffices(
    client: TestClient, roles: dict[str, Headers], listed: dict[str, Any]
) -> None:
    analyst = roles["analyst"]
    offer = {k: v for k, v in sell(listed, "s100", 3000, 100).items() if k != "block_id"}
    first = client.post(f"{API}/orders", json=offer, headers=analyst).json()
    client.delete(f"{API}/orders/{first['id']}", headers=analyst)  # back as a 100 t block

    def held() -> list[int]:
        statement = client.get(f"{REGISTRY}/accounts/OWNER/statement", headers=analyst).json()
        return sorted(b["quantity_t"] for b in statement["holdings"] if b["status"] == "held")

    assert held() == [100, 900]
    small = offer | {"idempotency_key": "s80", "quantity": 80}
    placed = client.post(f"{API}/orders", json=small, headers=analyst)
    assert placed.status_code == 201, placed.text
    assert held() == [20, 900]  # the 900 t block stays whole
    assert client.post(f"{API}/orders", json=small, headers=analyst).json() == placed.json()
    too_big = offer | {"idempotency_key": "s950", "quantity": 950}
    refused = client.post(f"{API}/orders", json=too_big, headers=analyst)
    assert refused.status_code == 409 and "largest: 900 t" in refused.text
