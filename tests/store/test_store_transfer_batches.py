"""Group commit of credit transfers, on both backends: a batch applied in one transaction gives
every request the outcome it would have had alone, in arrival order (refusals stay with their
request, the same units move once, a retried key returns its first result), a database error
applies nothing half, and threads hammering the queue leave every invariant intact."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from qingshan.services import registry
from qingshan.services.registry import Forbidden, Principal, TransferRequest
from qingshan.store import ledger
from qingshan.store.engine import reading, writing
from qingshan.store.ledger import LedgerError, NotFound
from qingshan.store.models import RegistryOperation, Trade, User

ADMIN = Principal(actor="test:admin", role="admin")
CLIENTS = 8


@pytest.fixture
def world(engine: Engine) -> dict[str, Any]:
    """OWNER holds a 100 t block; ENT0…ENT7 are enterprise accounts, ENT0 and ENT1 owned by the
    users ent0 and ent1."""
    with writing(engine, "test:fixture") as session:
        users = [User(username=f"ent{i}", password_hash="x", role="enterprise") for i in (0, 1)]
        session.add_all(users)
        session.flush()
        ledger.open_account(session, "OWNER", "项目业主", "project_owner")
        for index in range(CLIENTS):
            owner = users[index].id if index < len(users) else None
            ledger.open_account(session, f"ENT{index}", f"企业{index}", "enterprise", owner)
        user_id = users[0].id
    return {"block": issue(engine, "OWNER", 100, "issue"), "ent0_user": user_id}


def issue(engine: Engine, account: str, quantity: int, key: str, project: str = "P001") -> int:
    return int(
        registry.issue(
            engine, ADMIN, key=key, methodology="AR-CQCM-001", project_code=project,
            project_name="青山碳汇造林", vintage=2023, quantity=quantity, to_account=account,
            verification="核查报告",
        )["new_block_id"]
    )  # fmt: skip


def move(key: str, block: int, quantity: int, source: str, target: str) -> TransferRequest:
    return TransferRequest(key, block, quantity, source, target, None)


def holdings(engine: Engine, code: str) -> list[tuple[str, int]]:
    with reading(engine) as session:
        account = ledger.account_by_code(session, code)
        return [(h["serial"], h["quantity_t"]) for h in ledger.holdings(session, account.id)]


def operations(engine: Engine) -> int:
    with reading(engine) as session:
        return int(session.scalar(select(func.count()).select_from(RegistryOperation)) or 0)


def sound(engine: Engine) -> None:
    assert registry.verify(engine) == []


def test_mixed_batch_gives_each_request_its_own_outcome(
    engine: Engine, world: dict[str, Any]
) -> None:
    block = world["block"]
    outcomes = registry.commit_transfers(
        engine,
        ADMIN,
        [
            move("ok-1", block, 10, "OWNER", "ENT1"),
            move("no-sender", block, 1, "NOBODY", "ENT1"),
            move("no-receiver", block, 1, "OWNER", "NOBODY"),
            move("to-escrow", block, 1, "OWNER", ledger.MARKET_ESCROW),
            move("to-sink", block, 1, "OWNER", "SYS-RETIREMENT"),
            move("too-much", block, 91, "OWNER", "ENT2"),
            move("not-owner", block, 1, "ENT3", "ENT2"),
            move("no-block", 999_999, 1, "OWNER", "ENT2"),
            move("", block, 1, "OWNER", "ENT2"),
            move("ok-2", block, 90, "OWNER", "ENT2"),
        ],
    )
    first, *refused, last = outcomes
    assert isinstance(first, dict) and isinstance(last, dict)
    assert (first["quantity_t"], first["serial"]) == (10, "QS-AR-CQCM-001-2023-P001-91-100")
    assert (last["new_block_id"], last["block_id"]) == (None, block)  # the rest, moved whole
    expected = [
        (NotFound, "no registry account 'NOBODY'"),
        (NotFound, "no registry account 'NOBODY'"),
        (Forbidden, "market escrow only with a sell order"),
        (LedgerError, "system sinks only by retirement"),
        (LedgerError, "holds 90 t; cannot move 91"),
        (LedgerError, f"block {block} is not in account"),
        (NotFound, "no block 999999"),
        (LedgerError, "every write needs an idempotency key"),
    ]
    assert len(refused) == len(expected)
    for outcome, (kind, reason) in zip(refused, expected, strict=True):
        assert isinstance(outcome, kind) and reason in str(outcome)
    assert holdings(engine, "ENT1") == [("QS-AR-CQCM-001-2023-P001-91-100", 10)]
    assert holdings(engine, "ENT2") == [("QS-AR-CQCM-001-2023-P001-1-90", 90)]
    assert operations(engine) == 3  # the issue and the two transfers
    sound(engine)


def test_only_owners_move_their_credits_in_a_batch(engine: Engine, world: dict[str, Any]) -> None:
    own = issue(engine, "ENT0", 5, "issue-ent0", "P002")
    other = issue(engine, "ENT1", 5, "issue-ent1", "P003")
    ent0 = Principal(actor="user:ent0", role="enterprise", user_id=world["ent0_user"])
    mine, theirs, custodial = registry.commit_transfers(
        engine,
        ent0,
        [
            move("mine", own, 2, "ENT0", "ENT1"),
            move("theirs", other, 2, "ENT1", "ENT0"),
            move("custodial", world["block"], 2, "OWNER", "ENT0"),
        ],
    )
    assert isinstance(mine, dict) and mine["actor"] == "user:ent0"
    assert isinstance(theirs, Forbidden) and "belongs to another user" in str(theirs)
    assert isinstance(custodial, Forbidden) and "operated by the platform" in str(custodial)
    sound(engine)


def test_the_same_block_twice_in_a_batch_moves_each_unit_once(
    engine: Engine, world: dict[str, Any]
) -> None:
    """60 t, then 60 t again (refused: 40 left), then the 40 left as a whole block, then that
    whole block on from its new owner: the journal follows every step (positions = blocks)."""
    block = world["block"]
    outcomes = registry.commit_transfers(
        engine,
        ADMIN,
        [
            move("a", block, 60, "OWNER", "ENT1"),
            move("b", block, 60, "OWNER", "ENT2"),
            move("c", block, 40, "OWNER", "ENT3"),
            move("d", block, 40, "ENT3", "ENT4"),
            move("e", block, 1, "OWNER", "ENT5"),
        ],
    )
    a, b, c, d, e = outcomes
    assert isinstance(a, dict) and a["serial"] == "QS-AR-CQCM-001-2023-P001-41-100"
    assert isinstance(b, LedgerError) and "holds 40 t; cannot move 60" in str(b)
    assert isinstance(c, dict) and (c["block_id"], c["new_block_id"]) == (block, None)
    assert isinstance(d, dict) and d["serial"] == "QS-AR-CQCM-001-2023-P001-1-40"
    assert isinstance(e, LedgerError) and "not in account" in str(e)
    assert holdings(engine, "ENT3") == []
    assert holdings(engine, "ENT4") == [("QS-AR-CQCM-001-2023-P001-1-40", 40)]
    assert holdings(engine, "OWNER") == []
    sound(engine)


def test_a_retried_key_returns_its_first_result_within_and_across_batches(
    engine: Engine, world: dict[str, Any]
) -> None:
    block = world["block"]
    first, twin, other = registry.commit_transfers(
        engine,
        ADMIN,
        [
            move("k1", block, 10, "OWNER", "ENT1"),
            move("k1", block, 10, "OWNER", "ENT1"),
            move("k2", block, 5, "OWNER", "ENT2"),
        ],
    )
    assert isinstance(first, dict) and first == twin
    later, again = registry.commit_transfers(
        engine,
        ADMIN,
        [move("k2", block, 5, "OWNER", "ENT2"), move("k1", block, 10, "OWNER", "ENT1")],
    )
    assert later == other and again == first
    assert registry.transfer(
        engine, ADMIN, key="k1", block_id=block, quantity=10, from_account="OWNER",
        to_account="ENT1",
    ) == first  # fmt: skip
    assert holdings(engine, "ENT1") == [("QS-AR-CQCM-001-2023-P001-91-100", 10)]
    assert operations(engine) == 3
    sound(engine)


def test_a_refused_first_try_does_not_hide_a_later_request_with_its_key(
    engine: Engine, world: dict[str, Any]
) -> None:
    """As if applied one after the other: a refused request records nothing, so the next one
    with the same key is applied on its own merits."""
    block = world["block"]
    refused, applied = registry.commit_transfers(
        engine,
        ADMIN,
        [move("k", block, 101, "OWNER", "ENT1"), move("k", block, 1, "OWNER", "ENT1")],
    )
    assert isinstance(refused, LedgerError)
    assert isinstance(applied, dict) and applied["quantity_t"] == 1
    sound(engine)


def test_a_database_error_in_a_batch_applies_nothing_half(
    engine: Engine, world: dict[str, Any]
) -> None:
    """A price beyond the 64-bit column fails in the database, not in the rules: the batch
    rolls back and each request is applied alone, so only that one fails."""
    block = world["block"]
    huge = TransferRequest("huge", block, 5, "OWNER", "ENT2", 10**20)
    good, bad, also_good = registry.commit_transfers(
        engine,
        ADMIN,
        [move("g1", block, 10, "OWNER", "ENT1"), huge, move("g2", block, 20, "OWNER", "ENT3")],
    )
    assert isinstance(good, dict) and isinstance(also_good, dict)
    assert isinstance(bad, Exception) and not isinstance(bad, LedgerError)
    assert holdings(engine, "ENT2") == []
    assert [q for _, q in holdings(engine, "OWNER")] == [70]
    assert operations(engine) == 3
    sound(engine)


def test_a_priced_transfer_in_a_batch_records_its_trade(
    engine: Engine, world: dict[str, Any]
) -> None:
    block = world["block"]
    plain, priced = registry.commit_transfers(
        engine,
        ADMIN,
        [
            move("plain", block, 10, "OWNER", "ENT1"),
            TransferRequest("priced", block, 20, "OWNER", "ENT2", 2408),
        ],
    )
    assert isinstance(plain, dict) and plain["kind"] == "transfer"
    assert isinstance(priced, dict) and priced["kind"] == "trade"
    assert priced["details"]["price_fen_per_t"] == 2408 and priced["details"]["trade_id"]
    sound(engine)


def test_a_block_traded_back_and_forth_in_a_batch_names_each_trade(
    engine: Engine, world: dict[str, Any]
) -> None:
    """Whole-block trades A→B→A→B in one ``move_many`` (one transaction, no one-by-one retry):
    their trade rows share block, issuance and quantity, and each operation names its own."""
    block = issue(engine, "ENT2", 5, "issue-small", project="P002")
    hops = [("ENT2", "ENT3", 100), ("ENT3", "ENT2", 100), ("ENT2", "ENT3", 300)]
    with writing(engine, ADMIN.actor) as session:
        ids = ledger.account_ids(session, ["ENT2", "ENT3"])
        moves = [
            ledger.Move(f"hop-{n}", block, 5, ids[source], ids[target], price)
            for n, (source, target, price) in enumerate(hops)
        ]
        moved = ledger.move_many(session, moves)
        assert all(isinstance(outcome, RegistryOperation) for outcome in moved), moved
        outcomes = [ledger.operation_dict(outcome) for outcome in moved]  # type: ignore[arg-type]
    with reading(engine) as session:
        for outcome, move in zip(outcomes, moves, strict=True):
            trade = session.get(Trade, outcome["details"]["trade_id"])
            assert trade is not None
            assert (trade.seller_account_id, trade.buyer_account_id, trade.price_fen_per_t) == (
                move.from_account_id,
                move.to_account_id,
                move.price_fen_per_t,
            )
    assert holdings(engine, "ENT3") == [(outcomes[0]["serial"], 5)]
    sound(engine)


def test_threads_hammering_transfers_keep_every_invariant(engine: Engine) -> None:
    """Eight clients each move 1 t at a time out of their own block round a ring, all race
    for 3 t of a shared block, and every request is sent twice (a retry): each transfer
    applies once, the shared block gives exactly its 3 t, and the ledger verifies."""
    with writing(engine, "test:fixture") as session:
        for index in range(CLIENTS):
            ledger.open_account(session, f"C{index}", f"client {index}", "enterprise")
    blocks = [issue(engine, f"C{i}", 50, f"issue-{i}", f"P{i:03d}") for i in range(CLIENTS)]
    shared = issue(engine, "C0", 3, "issue-shared", "SHARED")
    steps = 12
    barrier = threading.Barrier(CLIENTS)
    results: Counter[str] = Counter()

    def client(index: int) -> None:
        barrier.wait()
        for step in range(steps):
            for _ in range(2):  # the same request twice: a retry
                registry.transfer(
                    engine, ADMIN, key=f"t-{index}-{step}", block_id=blocks[index], quantity=1,
                    from_account=f"C{index}", to_account=f"C{(index + 1) % CLIENTS}",
                )  # fmt: skip
            try:
                registry.transfer(
                    engine, ADMIN, key=f"s-{index}-{step}", block_id=shared, quantity=1,
                    from_account="C0", to_account=f"C{index}",
                )  # fmt: skip
                results["shared"] += 1
            except LedgerError:
                results["refused"] += 1

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    assert (results["shared"], results["refused"]) == (3, CLIENTS * steps - 3)
    with reading(engine) as session:
        kinds = Counter(session.scalars(select(RegistryOperation.kind)))
        supply = {s["serial_prefix"]: s for s in ledger.supply(session)}
    assert kinds["transfer"] == CLIENTS * steps + 3
    assert supply["QS-AR-CQCM-001-2023-SHARED"]["held"] == 3
    for index in range(CLIENTS):
        tonnes = sum(
            q for serial, q in holdings(engine, f"C{index}") if f"-P{index:03d}-" in serial
        )
        assert tonnes == 50 - steps
    sound(engine)
