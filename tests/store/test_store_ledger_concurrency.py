"""Threads racing for the same credit block: no double spend, on PostgreSQL (row locks) and on
SQLite (BEGIN IMMEDIATE). UNDP's PostgreSQL ledger reads and writes a block in two transactions
without locks, so two transfers can both pass the balance check (carbon.md §1.1.6)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, select

from qingshan.services import registry
from qingshan.services.registry import Principal
from qingshan.store import journal, ledger
from qingshan.store.engine import reading, writing
from qingshan.store.models import JournalEntry
from qingshan.store.types import utc_now

THREADS = 8
ADMIN = Principal(actor="test:admin", role="admin")


@pytest.fixture
def owner_block(engine: Engine) -> dict[str, Any]:
    """A 100 t block in OWNER's account and eight receiving accounts."""
    with writing(engine, "test:fixture") as session:
        ledger.open_account(session, "OWNER", "项目业主", "project_owner")
        for index in range(THREADS):
            ledger.open_account(session, f"BUYER{index}", f"企业{index}", "enterprise")
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
    return {"block_id": issued["new_block_id"]}


def race(work: Callable[[int], dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Run ``work(i)`` in THREADS threads released together; (results, refusals)."""
    barrier = threading.Barrier(THREADS)

    def attempt(index: int) -> dict[str, Any] | str:
        barrier.wait()
        try:
            return work(index)
        except ledger.LedgerError as error:
            return str(error)

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(attempt, range(THREADS)))
    return [o for o in outcomes if isinstance(o, dict)], [o for o in outcomes if isinstance(o, str)]


def test_whole_block_transferred_by_eight_threads_moves_once(
    engine: Engine, owner_block: dict[str, Any]
) -> None:
    block_id = owner_block["block_id"]
    done, refused = race(
        lambda i: registry.transfer(
            engine,
            ADMIN,
            key=f"t{i}",
            block_id=block_id,
            quantity=100,
            from_account="OWNER",
            to_account=f"BUYER{i}",
        )
    )
    assert len(done) == 1
    assert len(refused) == THREADS - 1
    assert all("not in account" in reason for reason in refused)
    with reading(engine) as session:
        buyers = [ledger.account_by_code(session, f"BUYER{i}").id for i in range(THREADS)]
        holders = [h for buyer in buyers for h in ledger.holdings(session, buyer)]
        assert [h["quantity_t"] for h in holders] == [100]
        assert ledger.verify(session) == []


def test_partial_transfers_and_retirements_never_exceed_the_block(
    engine: Engine, owner_block: dict[str, Any]
) -> None:
    """Eight threads each take 30 t of a 100 t block (half transfer, half retire): exactly
    three succeed, 10 t stay, and the blocks still partition the issuance."""
    block_id = owner_block["block_id"]

    def take(i: int) -> dict[str, Any]:
        if i % 2:
            return registry.retire(
                engine,
                ADMIN,
                key=f"r{i}",
                block_id=block_id,
                quantity=30,
                from_account="OWNER",
                purpose="碳中和",
                beneficiary=f"活动{i}",
            )
        return registry.transfer(
            engine,
            ADMIN,
            key=f"t{i}",
            block_id=block_id,
            quantity=30,
            from_account="OWNER",
            to_account=f"BUYER{i}",
        )

    done, refused = race(take)
    assert len(done) == 3
    assert all("cannot move 30" in reason for reason in refused)
    with reading(engine) as session:
        (supply,) = ledger.supply(session)
        assert supply["held"] + supply["retired"] == 100
        owner = ledger.account_by_code(session, "OWNER")
        assert [h["quantity_t"] for h in ledger.holdings(session, owner.id)] == [10]
        assert ledger.verify(session) == []


def test_the_same_request_sent_eight_times_applies_once(
    engine: Engine, owner_block: dict[str, Any]
) -> None:
    block_id = owner_block["block_id"]
    done, refused = race(
        lambda _: registry.transfer(
            engine,
            ADMIN,
            key="one-request",
            block_id=block_id,
            quantity=10,
            from_account="OWNER",
            to_account="BUYER0",
        )
    )
    assert refused == []
    assert len({result["id"] for result in done}) == 1
    with reading(engine) as session:
        buyer = ledger.account_by_code(session, "BUYER0")
        assert [h["quantity_t"] for h in ledger.holdings(session, buyer.id)] == [10]


def test_concurrent_redemptions_never_overdraw_points(engine: Engine) -> None:
    with writing(engine, "test:fixture") as session:
        ledger.open_account(session, "RES1", "居民", "individual")
    registry.record_actions(
        engine,
        ADMIN,
        [registry.ActionRow("RES1", "CQ-BUS", 1, utc_now(), f"ride{i}") for i in range(10)],
    )  # 11.00 points
    done, refused = race(
        lambda i: registry.redeem(
            engine, ADMIN, key=f"coupon{i}", account_code="RES1", points=2.0, note="券"
        )
    )
    assert len(done) == 5
    assert len(refused) == THREADS - 5
    with reading(engine) as session:
        assert ledger.account_by_code(session, "RES1").points_centi == 100
        assert ledger.verify(session) == []


def test_concurrent_action_batches_respect_the_daily_cap(engine: Engine) -> None:
    """Eight batches of 2 rides for one resident and day race; the cap of 10 rides admits
    exactly 5 of them (the account row is locked before the day's claims are summed)."""
    with writing(engine, "test:fixture") as session:
        ledger.open_account(session, "RES1", "居民", "individual")
    now = utc_now()
    done, refused = race(
        lambda i: registry.record_actions(
            engine, ADMIN, [registry.ActionRow("RES1", "CQ-BUS", 2, now, f"batch{i}")]
        )[0]
    )
    assert refused == []
    assert sorted(result["status"] for result in done) == ["accepted"] * 5 + ["rejected"] * 3
    with reading(engine) as session:
        assert ledger.account_by_code(session, "RES1").points_centi == 5 * 2 * 110
        assert ledger.verify(session) == []


def test_every_concurrent_request_is_chained_without_gaps(
    engine: Engine, owner_block: dict[str, Any]
) -> None:
    """Eight threads transfer 10 t each out of the same block; each seals after committing
    without waiting for a sealer already at work (which takes its entry along). After the race
    at most the entries committed during the last seal wait; verify seals them, and the chain
    holds every operation exactly once, gapless and intact."""
    block_id = owner_block["block_id"]

    def transfer(i: int) -> dict[str, Any]:
        return registry.transfer(
            engine,
            ADMIN,
            key=f"t{i}",
            block_id=block_id,
            quantity=10,
            from_account="OWNER",
            to_account=f"BUYER{i}",
        )

    done, refused = race(transfer)
    assert (len(done), refused) == (THREADS, [])
    assert registry.verify(engine) == []
    with reading(engine) as session:
        chained = session.scalars(
            select(JournalEntry.operation_id)
            .where(JournalEntry.seq.is_not(None))
            .order_by(JournalEntry.seq)
        ).all()
        unsealed = session.scalars(select(JournalEntry.id).where(JournalEntry.seq.is_(None)))
        assert list(unsealed) == []
        assert journal.chain_problems(session) == []
    assert sorted(chained[1:]) == sorted(result["id"] for result in done)  # after the issue
