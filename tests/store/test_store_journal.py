"""The registry journal on both backends: double entry per movement, the hash chain, the
append-only triggers, tampering found by ``verify``, the opening entry of migration 0006."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError

from qingshan.services import database
from qingshan.store import journal, ledger, migrate
from qingshan.store.engine import reading, writing
from qingshan.store.models import JournalEntry, JournalLine

RIDE = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)


def run(engine: Engine, work: object) -> object:
    with writing(engine, "test:journal") as session:
        return work(session)  # type: ignore[operator]


@pytest.fixture
def busy(engine: Engine) -> dict[str, int]:
    """A ledger after one of every movement, sealed: issue, transfer (split), freeze, cancel of
    frozen units, retirement, surrender, accrual and redemption."""
    with writing(engine, "test:journal") as session:
        ids = {
            code: ledger.open_account(session, code, code, kind).id
            for code, kind in (
                ("OWNER", "project_owner"),
                ("ENT", "enterprise"),
                ("RES", "individual"),
            )
        }
        obligation = ledger.add_obligation(session, ids["ENT"], "CN-ETS", 2025, 1000)
        issued = ledger.issue(
            session,
            "i",
            methodology_code="AR-CQCM-001",
            project_code="P1",
            project_name="p",
            vintage=2023,
            quantity=100,
            to_account_id=ids["OWNER"],
            verification="v",
        )
        block = issued.new_block_id
        assert block is not None
        moved = ledger.transfer(
            session,
            "t",
            block_id=block,
            quantity=60,
            from_account_id=ids["OWNER"],
            to_account_id=ids["ENT"],
        ).new_block_id
        assert moved is not None
        frozen = ledger.set_frozen(
            session, "f", block_id=block, quantity=10, frozen=True, reason="dispute"
        ).new_block_id
        assert frozen is not None
        ledger.cancel(session, "c", block_id=frozen, quantity=4, reason="double counted")
        ledger.retire(
            session,
            "r",
            block_id=moved,
            quantity=5,
            from_account_id=ids["ENT"],
            purpose="碳中和",
            beneficiary="b",
        )
        ledger.surrender(
            session,
            "s",
            block_id=moved,
            quantity=50,
            from_account_id=ids["ENT"],
            obligation_id=obligation.id,
        )
        ledger.record_action(
            session,
            "ride",
            account_id=ids["RES"],
            methodology_code="CQ-BUS",
            quantity=3,
            occurred_at=RIDE,
        )
        ledger.redeem(session, "redeem", account_id=ids["RES"], points=200, note="coupon")
        ids.update(block=block, moved=moved, frozen=frozen)
    with writing(engine, "test:journal") as session:
        journal.seal(session)
    return ids


def lines_of(
    engine: Engine, kind: str
) -> list[tuple[int | None, str | None, str, int, str | None]]:
    with reading(engine) as session:
        return [
            (line.account_id, line.book, line.asset, line.quantity, line.state)
            for line in session.scalars(
                select(JournalLine)
                .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
                .where(JournalEntry.kind == kind)
                .order_by(JournalLine.entry_id, JournalLine.line)
            )
        ]


def test_every_movement_is_one_balanced_double_entry(engine: Engine, busy: dict[str, int]) -> None:
    with reading(engine) as session:
        sinks = {
            code: ledger.system_account(session, code).id
            for code in ("SYS-RETIREMENT", "SYS-CANCELLATION")
        }
        issuance = session.scalar(
            select(JournalEntry.operation_id).where(JournalEntry.kind == "issue")
        )
        asset = journal.credit_asset(ledger.replay(session, "i").issuance_id)  # type: ignore[union-attr]
        assert ledger.verify(session) == []
    assert issuance is not None
    owner, ent, res = busy["OWNER"], busy["ENT"], busy["RES"]
    assert lines_of(engine, "issue") == [
        (None, "issuance", asset, -100, None),
        (owner, None, asset, 100, "held"),
    ]
    assert lines_of(engine, "transfer") == [
        (owner, None, asset, -60, "held"),
        (ent, None, asset, 60, "held"),
    ]
    assert lines_of(engine, "freeze") == [
        (owner, None, asset, -10, "held"),
        (owner, None, asset, 10, "frozen"),
    ]
    assert lines_of(engine, "cancel") == [
        (owner, None, asset, -4, "frozen"),
        (sinks["SYS-CANCELLATION"], None, asset, 4, "cancelled"),
    ]
    assert lines_of(engine, "retire") == [
        (ent, None, asset, -5, "held"),
        (sinks["SYS-RETIREMENT"], None, asset, 5, "retired"),
    ]
    assert lines_of(engine, "surrender") == [
        (ent, None, asset, -50, "held"),
        (sinks["SYS-RETIREMENT"], None, asset, 50, "retired"),
    ]
    # CQ-BUS: 1.1 points per ride (carbon.md §3.3.1) → 3 rides = 330 centipoints
    assert lines_of(engine, "accrue") == [
        (None, "points", "points", -330, None),
        (res, None, "points", 330, None),
    ]
    assert lines_of(engine, "redeem") == [
        (res, None, "points", -200, None),
        (None, "points", "points", 200, None),
    ]


def test_entries_are_chained_in_seal_order(engine: Engine, busy: dict[str, int]) -> None:
    with reading(engine) as session:
        entries = session.scalars(select(JournalEntry).order_by(JournalEntry.seq)).all()
    assert [entry.seq for entry in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == journal.GENESIS
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    assert len({entry.hash for entry in entries}) == len(entries)


def test_seal_refuses_nothing_and_the_next_write_continues_the_chain(
    engine: Engine, busy: dict[str, int]
) -> None:
    with writing(engine, "test:journal") as session:
        assert journal.seal(session) == 0  # nothing pending
        ledger.redeem(session, "more", account_id=busy["RES"], points=10, note="")
    with writing(engine, "test:journal") as session:
        assert journal.seal(session) == 1
    with reading(engine) as session:
        assert ledger.verify(session) == []


def test_unbalanced_entries_are_refused(engine: Engine, busy: dict[str, int]) -> None:
    with pytest.raises(journal.UnbalancedEntry, match="cash"):
        run(
            engine,
            lambda session: journal.post(
                session, "deposit", [journal.Line(journal.CASH, 100, account_id=busy["ENT"])]
            ),
        )


def test_cash_moves_through_the_same_journal(engine: Engine, busy: dict[str, int]) -> None:
    """The market's cash (fen) is posted like any asset; verify leaves its positions to the
    market."""
    deposit = [
        journal.Line(journal.CASH, -250_000, book="cash"),
        journal.Line(journal.CASH, 250_000, account_id=busy["ENT"]),
    ]
    run(engine, lambda session: journal.post(session, "deposit", deposit))
    run(engine, journal.seal)
    with reading(engine) as session:
        assert journal.positions(session)[(busy["ENT"], None, journal.CASH, None)] == 250_000
        assert ledger.verify(session) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE registry_journal_lines SET quantity = quantity + 1",
        "DELETE FROM registry_journal_lines",
        "UPDATE registry_journal_entries SET hash = NULL",
        "UPDATE registry_journal_entries SET kind = 'issue'",
        "DELETE FROM registry_journal_entries",
    ],
)
def test_the_database_refuses_to_change_the_journal(
    engine: Engine, busy: dict[str, int], statement: str
) -> None:
    with pytest.raises(DatabaseError, match="append-only"):
        run(engine, lambda session: session.execute(text(statement)))


def test_an_unsealed_entry_may_only_be_sealed(engine: Engine, busy: dict[str, int]) -> None:
    with writing(engine, "test:journal") as session:
        ledger.redeem(session, "late", account_id=busy["RES"], points=10, note="")
    with pytest.raises(DatabaseError, match="append-only"):
        run(
            engine,
            lambda session: session.execute(
                text("UPDATE registry_journal_entries SET kind = 'x' WHERE seq IS NULL")
            ),
        )


TRIGGERS = {
    "sqlite": {
        "registry_journal_lines": (
            "registry_journal_lines_no_update",
            "registry_journal_lines_no_delete",
        ),
        "registry_journal_entries": (
            "registry_journal_entries_seal_only",
            "registry_journal_entries_no_delete",
        ),
    },
    "postgresql": {
        "registry_journal_lines": ("registry_journal_lines_no_change",),
        "registry_journal_entries": ("registry_journal_entries_guard",),
    },
}


def tamper(engine: Engine, table: str, statement: str) -> None:
    """Drop the table's guard triggers (as an intruder with DDL rights would) and change a row."""
    with engine.begin() as connection:
        for trigger in TRIGGERS[engine.dialect.name][table]:
            on_table = "" if engine.dialect.name == "sqlite" else f" ON {table}"
            connection.execute(text(f"DROP TRIGGER {trigger}{on_table}"))
        connection.execute(text(statement))


@pytest.mark.parametrize(
    ("table", "statement", "found"),
    [
        (
            "registry_journal_lines",
            "UPDATE registry_journal_lines SET quantity = 61 WHERE quantity = 60",
            "hash mismatch",
        ),
        (
            "registry_journal_lines",
            "UPDATE registry_journal_lines SET account_id = "
            "(SELECT MIN(id) FROM registry_accounts) WHERE quantity = 330",
            "hash mismatch",
        ),
        (
            "registry_journal_lines",
            "UPDATE registry_journal_lines SET last_serial = last_serial + 1 WHERE quantity = 5",
            "hash mismatch",
        ),
        (
            "registry_journal_entries",
            "UPDATE registry_journal_entries SET kind = 'trade' WHERE kind = 'transfer'",
            "hash mismatch",
        ),
        (
            "registry_journal_entries",
            "UPDATE registry_journal_entries SET prev_hash = hash WHERE seq = 2",
            "prev_hash does not match",
        ),
    ],
    ids=["quantity", "account", "serial", "kind", "relinked"],
)
def test_verify_finds_any_change_to_a_sealed_entry(
    engine: Engine, busy: dict[str, int], table: str, statement: str, found: str
) -> None:
    tamper(engine, table, statement)
    with reading(engine) as session:
        problems = journal.chain_problems(session)
    assert any(found in problem for problem in problems), problems


def test_dropping_the_triggers_alone_is_not_reported(engine: Engine, busy: dict[str, int]) -> None:
    """The control for the tampering tests: only the changed row makes verify complain."""
    tamper(engine, "registry_journal_lines", "SELECT 1")
    tamper(engine, "registry_journal_entries", "SELECT 1")
    with reading(engine) as session:
        assert ledger.verify(session) == []


def test_verify_finds_a_truncated_chain(engine: Engine, busy: dict[str, int]) -> None:
    with reading(engine) as session:
        last = session.scalar(select(JournalEntry.id).order_by(JournalEntry.seq.desc()).limit(1))
    tamper(
        engine,
        "registry_journal_lines",
        f"DELETE FROM registry_journal_lines WHERE entry_id = {last}",
    )
    tamper(
        engine,
        "registry_journal_entries",
        f"DELETE FROM registry_journal_entries WHERE id = {last}",
    )
    with reading(engine) as session:
        problems = ledger.verify(session)
    assert any("journal head does not match" in problem for problem in problems), problems
    assert any("lines sum to" in problem for problem in problems), problems  # the lost redemption


def test_a_rebalanced_forgery_is_still_found(engine: Engine, busy: dict[str, int]) -> None:
    """Changing both legs of a transfer keeps it balanced; the hash still gives it away, and the
    positions no longer match the blocks."""
    tamper(
        engine,
        "registry_journal_lines",
        "UPDATE registry_journal_lines SET quantity = quantity * 2 WHERE abs(quantity) = 60",
    )
    with reading(engine) as session:
        problems = ledger.verify(session)
    assert any("hash mismatch" in problem for problem in problems)
    assert any("ledger says" in problem for problem in problems)


def test_migration_opens_the_chain_with_every_existing_position(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0005")
    with empty_engine.begin() as connection:
        for statement in (
            "INSERT INTO registry_accounts (id, code, name, kind, points_centi, created_at) "
            "VALUES (101, 'A', 'a', 'enterprise', 0, '2024-01-01 00:00:00'), "
            "(102, 'R', 'r', 'individual', 550, '2024-01-01 00:00:00')",
            "INSERT INTO registry_methodologies (id, code, name, version, scheme, kind, "
            "document, source, parameters, active) "
            "VALUES (101, 'M', 'm', '1', 'CQCER', 'project', 'd', 's', '{}', true)",
            "INSERT INTO registry_issuances (id, methodology_id, project_code, project_name, "
            "vintage, serial_prefix, first_serial, last_serial, verification, issued_at) "
            "VALUES (1, 101, 'P', 'p', 2023, 'QS-M-2023-P', 1, 10, 'v', '2024-01-01 00:00:00')",
            "INSERT INTO registry_blocks "
            "(id, issuance_id, account_id, first_serial, last_serial, status) "
            "VALUES (1, 1, 101, 1, 7, 'held'), (2, 1, 101, 8, 10, 'frozen')",
        ):
            connection.execute(text(statement))
    database.upgrade(empty_engine)
    with reading(empty_engine) as session:
        (opening,) = session.scalars(select(JournalEntry)).all()
        positions = journal.positions(session)
        problems = ledger.verify(session)
    assert (opening.kind, opening.seq) == ("opening", 1)
    assert positions == {
        (None, "issuance", "credit:1", None): -10,
        (101, None, "credit:1", "held"): 7,
        (101, None, "credit:1", "frozen"): 3,
        (None, "points", "points", None): -550,
        (102, None, "points", None): 550,
    }
    assert problems == []
