"""Threads racing for one sell order: never oversold, never overdrawn, on PostgreSQL (the
issuance row lock serialises the book) and SQLite (BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine

from qingshan.services import market as market_service
from qingshan.services import registry
from qingshan.services.registry import Principal
from qingshan.store import ledger, market
from qingshan.store.engine import reading, writing

THREADS = 8
ADMIN = Principal(actor="test:admin", role="admin")


@pytest.fixture
def offer(engine: Engine) -> dict[str, Any]:
    """OWNER offers 100 t at 25.00 yuan; eight buyers hold 1,000 yuan each (40 t at most)."""
    with writing(engine, "test:fixture") as session:
        ledger.open_account(session, "OWNER", "项目业主", "project_owner")
        for index in range(THREADS):
            buyer = ledger.open_account(session, f"BUYER{index}", f"企业{index}", "enterprise")
            market.deposit(session, f"d{index}", account_id=buyer.id, amount_fen=100_000, note="")
    issued = registry.issue(
        engine,
        ADMIN,
        key="issue",
        methodology="AR-CQCM-001",
        project_code="P001",
        project_name="青山碳汇造林",
        vintage=2023,
        quantity=100,
        to_account="OWNER",
        verification="核查报告",
    )
    placed = market_service.submit_order(
        engine,
        ADMIN,
        key="ask",
        account_code="OWNER",
        issuance_id=issued["issuance_id"],
        side="sell",
        price_fen_per_t=2500,
        quantity=100,
        block_id=issued["new_block_id"],
    )
    return {"issuance": issued["issuance_id"], "ask": placed["id"]}


def buy_together(engine: Engine, offer: dict[str, Any], tonnes: int, key: str) -> list[Any]:
    barrier = threading.Barrier(THREADS)

    def attempt(index: int) -> dict[str, Any] | str:
        barrier.wait()
        try:
            return market_service.submit_order(
                engine,
                ADMIN,
                key=f"{key}{index}",
                account_code=f"BUYER{index}",
                issuance_id=offer["issuance"],
                side="buy",
                price_fen_per_t=2500,
                quantity=tonnes,
            )
        except ledger.LedgerError as error:
            return str(error)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(attempt, range(THREADS)))


def filled(outcomes: list[Any]) -> int:
    return sum(o["filled_t"] for o in outcomes if isinstance(o, dict))


def test_eight_buyers_of_30_t_share_100_t_exactly(engine: Engine, offer: dict[str, Any]) -> None:
    outcomes = buy_together(engine, offer, 30, "b")
    assert all(isinstance(o, dict) for o in outcomes)  # short of units, bids rest on the book
    assert filled(outcomes) == 100
    assert sorted(o["filled_t"] for o in outcomes) == [0, 0, 0, 0, 10, 30, 30, 30]
    with reading(engine) as session:
        assert ledger.verify(session) == []
        assert market.verify(session) == []
        depth = market.book(session, offer["issuance"])
        assert depth["asks"] == []
        assert sum(level["quantity_t"] for level in depth["bids"]) == 8 * 30 - 100


def test_replayed_order_under_concurrency_applies_once(
    engine: Engine, offer: dict[str, Any]
) -> None:
    """Eight threads send the SAME order key: one order, one fill."""
    barrier = threading.Barrier(THREADS)

    def attempt(_: int) -> dict[str, Any]:
        barrier.wait()
        return market_service.submit_order(
            engine,
            ADMIN,
            key="same",
            account_code="BUYER0",
            issuance_id=offer["issuance"],
            side="buy",
            price_fen_per_t=2500,
            quantity=40,
        )

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(attempt, range(THREADS)))
    assert len({o["id"] for o in outcomes}) == 1
    with reading(engine) as session:
        assert market.balance(session, outcomes[0]["account_id"])["available_fen"] == 0
        assert sum(t["quantity_t"] for t in market.trades(session)) == 40
        assert market.verify(session) == []
