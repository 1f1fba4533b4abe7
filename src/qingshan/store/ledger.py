"""The carbon-inclusion ledger: THE write path for points and credit blocks.

Every function works in the caller's session, which must come from
:func:`qingshan.store.engine.writing` (one transaction, audited). The rules:

* **No double spend.** A block is read with ``SELECT … FOR UPDATE`` before it is checked and
  changed (PostgreSQL: a second transaction touching the same block waits for the first to
  commit, then sees the result; SQLite: ``BEGIN IMMEDIATE`` lets one writer in at a time). The
  check ("held", owned by the sender, enough units) and the change happen in the same
  transaction, unlike UNDP's PostgreSQL ledger, which reads and writes in two transactions
  without locks (carbon.md §1.1.6).
* **Partition.** A partial move shrinks the block and creates a new one for the moved upper
  range (carbon.md §1.1.4); blocks are never deleted, so the blocks of an issuance always
  partition its serial range. :func:`verify` re-checks this and every other invariant.
* **Irreversible retirement.** Retired and cancelled blocks never move or change again.
* **Idempotency.** Every operation carries a key that is unique in the operations log
  (``registry_operations``), every action one unique among the actions (``registry_actions``,
  an accepted action being the record of its accrual); a retried request finds its first
  result and changes nothing. Two concurrent requests with the same key cannot both commit
  (the unique index refuses the second, whose transaction rolls back entirely).
* **Points never go negative**: the account row is locked for accruals and redemptions, and a
  CHECK refuses a negative balance.

* **Journal.** Every movement also posts a double-entry journal entry
  (:mod:`qingshan.store.journal`) built from the same values it wrote; the services seal it into
  the hash chain after committing.

Lock order (to avoid deadlocks): obligation, then block (a batch of moves: all its blocks in id
order, in one statement); points lock only account rows, a batch of actions all its accounts in
id order. The journal head is locked only by sealers, in a transaction of their own that holds
no other lock.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import func, insert, inspect, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from qingshan.carbon.inclusion import (
    MG_PER_TONNE,
    format_serial,
    offset_cap_tonnes,
    parse_serial,
    points_centis,
    reductions_mg,
    serial_prefix,
    shipped_methodologies,
    shipped_schemes,
    split_upper,
)
from qingshan.store import audit, bulk, journal
from qingshan.store.models import (
    RETIREMENT_PURPOSES,
    TERMINAL_STATUSES,
    AuditEntry,
    Base,
    ComplianceObligation,
    ComplianceScheme,
    CreditBlock,
    CreditIssuance,
    LowCarbonAction,
    Methodology,
    RegistryAccount,
    RegistryOperation,
    Retirement,
    Trade,
)
from qingshan.store.types import utc_now

LOCAL_TIME_ZONE = ZoneInfo("Asia/Shanghai")
"""Daily caps count Beijing calendar days (docs/store.md, time convention)."""
FUTURE_TOLERANCE = timedelta(minutes=5)
"""An action may be stamped at most this far after the server's clock (clock skew)."""
SYSTEM_ACCOUNTS = {
    "SYS-PLATFORM": ("platform", "碳普惠平台 platform account"),
    "SYS-RETIREMENT": ("retirement", "注销账户 retirement account"),
    "SYS-CANCELLATION": ("cancellation", "取消账户 cancellation account"),
    "SYS-MARKET": ("platform", "碳市场托管账户 market escrow: units of open sell orders"),
}
MARKET_ESCROW = "SYS-MARKET"
"""Where the units of open sell orders wait (:mod:`qingshan.store.market`); only the market
moves them (the registry services refuse to)."""
ID_CHUNK = 10_000
"""Keys or ids per ``… IN (…)`` list (looking up action keys, marking actions as issued)."""
COMPLIANCE = "履约抵销"


class LedgerError(ValueError):
    """An operation the ledger refuses; the message says why (nothing was changed)."""


class NotFound(LedgerError):
    """A referenced account, block, methodology, issuance or obligation does not exist."""


# ------------------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------------------


def seed(session: Session) -> int:
    """Add the system accounts, shipped methodologies and schemes that are missing.

    Existing rows are never changed (an administrator may have edited them). Returns how many
    rows were added.
    """
    added = 0
    known_accounts = set(session.scalars(select(RegistryAccount.code)))
    for code, (kind, name) in SYSTEM_ACCOUNTS.items():
        if code not in known_accounts:
            session.add(RegistryAccount(code=code, kind=kind, name=name))
            added += 1
    known_methodologies = set(session.scalars(select(Methodology.code)))
    for spec in shipped_methodologies():
        if spec.code not in known_methodologies:
            extra = {"cap_source": spec.cap_source, "points_source": spec.points_source}
            session.add(
                Methodology(
                    code=spec.code,
                    name=spec.name,
                    version=spec.version,
                    scheme=spec.scheme,
                    kind=spec.kind,
                    document=spec.document,
                    source=spec.source,
                    unit=spec.unit,
                    grams_per_unit=spec.grams_per_unit,
                    points_per_unit=spec.points_per_unit,
                    daily_cap_units=spec.daily_cap_units,
                    parameters={key: value for key, value in extra.items() if value},
                    active=spec.active,
                )
            )
            added += 1
    known_schemes = set(session.scalars(select(ComplianceScheme.code)))
    for scheme in shipped_schemes():
        if scheme.code not in known_schemes:
            session.add(
                ComplianceScheme(
                    code=scheme.code,
                    name=scheme.name,
                    offset_cap_percent=scheme.offset_cap_percent,
                    document=scheme.document,
                    source=scheme.source,
                )
            )
            added += 1
    session.flush()
    return added


def system_account(session: Session, code: str) -> RegistryAccount:
    account = session.scalar(select(RegistryAccount).where(RegistryAccount.code == code))
    if account is None:
        raise NotFound(f"system account {code} missing: run `qingshan db upgrade`")
    return account


def account_by_code(session: Session, code: str) -> RegistryAccount:
    account = session.scalar(select(RegistryAccount).where(RegistryAccount.code == code))
    if account is None:
        raise NotFound(f"no registry account {code!r}")
    return account


def accounts_by_code(session: Session, codes: list[str]) -> dict[str, RegistryAccount]:
    """Code → account for the codes that exist (any number of codes, one query per chunk)."""
    found: dict[str, RegistryAccount] = {}
    for condition in bulk.matching(session, RegistryAccount.code, codes):
        found.update((a.code, a) for a in session.scalars(select(RegistryAccount).where(condition)))
    return found


def account_ids(session: Session, codes: list[str]) -> dict[str, int]:
    """Account code → id for the codes that exist (any number of codes)."""
    table = RegistryAccount.__table__
    found: dict[str, int] = {}
    for condition in bulk.matching(session, table.c.code, codes):
        found.update(session.execute(select(table.c.code, table.c.id).where(condition)).all())
    return found


def methodology_by_code(session: Session, code: str) -> Methodology:
    methodology = session.scalar(select(Methodology).where(Methodology.code == code))
    if methodology is None:
        raise NotFound(f"no methodology {code!r}")
    return methodology


def open_account(
    session: Session, code: str, name: str, kind: str, user_id: int | None = None
) -> RegistryAccount:
    """Open an account for a person, enterprise or project owner (system accounts are seeded)."""
    if kind not in ("individual", "enterprise", "project_owner"):
        raise LedgerError(f"kind {kind!r}: open individual, enterprise or project_owner accounts")
    if session.scalar(select(RegistryAccount.id).where(RegistryAccount.code == code)):
        raise LedgerError(f"account {code!r} already exists")
    account = RegistryAccount(code=code, name=name, kind=kind, user_id=user_id)
    session.add(account)
    session.flush()
    return account


def add_obligation(
    session: Session, account_id: int, scheme_code: str, year: int, verified_emissions_t: int
) -> ComplianceObligation:
    """Record an enterprise's verified emissions; the offset cap is fixed from the scheme now."""
    scheme = session.scalar(select(ComplianceScheme).where(ComplianceScheme.code == scheme_code))
    if scheme is None:
        raise NotFound(f"no compliance scheme {scheme_code!r}")
    account = session.get(RegistryAccount, account_id)
    if account is None or account.kind != "enterprise":
        raise LedgerError("obligations belong to enterprise accounts")
    if session.scalar(
        select(ComplianceObligation.id).where(
            ComplianceObligation.account_id == account_id,
            ComplianceObligation.scheme_id == scheme.id,
            ComplianceObligation.year == year,
        )
    ):
        raise LedgerError(f"an obligation for {year} under {scheme_code} exists already")
    obligation = ComplianceObligation(
        account_id=account_id,
        scheme_id=scheme.id,
        year=year,
        verified_emissions_t=verified_emissions_t,
        offset_cap_t=offset_cap_tonnes(verified_emissions_t, scheme.offset_cap_percent),
        offsets_surrendered_t=0,
    )
    session.add(obligation)
    session.flush()
    return obligation


# ------------------------------------------------------------------------------------------
# Journal and locking helpers
# ------------------------------------------------------------------------------------------


def replay(session: Session, key: str) -> RegistryOperation | None:
    """The operation already recorded under ``key`` (a retried request), if any."""
    if not key:
        raise LedgerError("every write needs an idempotency key")
    return session.scalar(select(RegistryOperation).where(RegistryOperation.idempotency_key == key))


def _journal(session: Session, key: str, kind: str, **fields: Any) -> RegistryOperation:
    operation = RegistryOperation(
        idempotency_key=key, kind=kind, actor=session.info["actor"], at=utc_now(), **fields
    )
    session.add(operation)
    session.flush()
    return operation


def _locked(session: Session, model: Any, row_id: int, label: str) -> Any:
    """The row, locked until the transaction ends (PostgreSQL ``FOR NO KEY UPDATE``: it still
    lets other transactions insert rows that refer to it, e.g. blocks moving into an account
    whose points are being changed)."""
    row = session.scalar(
        select(model)
        .where(model.id == row_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"no {label} {row_id}")
    return row


def _serial(session: Session, block: CreditBlock) -> str:
    return _serial_of(session, block.issuance_id, (block.first_serial, block.last_serial))


def _serial_of(session: Session, issuance_id: int, serials: tuple[int, int]) -> str:
    prefix = session.info.get(PREFIXES, {}).get(issuance_id)
    if prefix is None:
        issuance = session.get(CreditIssuance, issuance_id)
        assert issuance is not None  # foreign key
        prefix = issuance.serial_prefix
    return format_serial(prefix, *serials)


PREFIXES = "registry_serial_prefixes"
"""``session.info`` key: serial prefixes of the issuances whose blocks the session locked
(read with the lock, saving a query per movement; an issuance never changes)."""


def _lock_blocks(session: Session, block_ids: Sequence[int]) -> dict[int, CreditBlock]:
    """Lock the blocks (not their issuances) in id order, one statement for any number of them;
    id → block for those that exist. Id order keeps two batches that share blocks from
    deadlocking; the serial prefixes come with the lock (:data:`PREFIXES`)."""
    blocks: dict[int, CreditBlock] = {}
    prefixes = session.info.setdefault(PREFIXES, {})
    for condition in bulk.matching(session, CreditBlock.id, sorted(set(block_ids))):
        for block, prefix in session.execute(
            select(CreditBlock, CreditIssuance.serial_prefix)
            .join(CreditIssuance, CreditIssuance.id == CreditBlock.issuance_id)
            .where(condition)
            .order_by(CreditBlock.id)
            .with_for_update(of=CreditBlock, key_share=True)
            .execution_options(populate_existing=True)
        ):
            blocks[block.id] = block
            prefixes[block.issuance_id] = prefix
    return blocks


def _check(
    block: CreditBlock | None,
    block_id: int,
    quantity: int,
    owner_id: int | None,
    statuses: tuple[str, ...] = ("held",),
) -> CreditBlock:
    """The rule of every move: the block exists, is in ``owner_id``'s account (when given) and
    in one of ``statuses``, and holds at least ``quantity`` units (more than 0)."""
    if block is None:
        raise NotFound(f"no block {block_id}")
    if owner_id is not None and block.account_id != owner_id:
        raise LedgerError(f"block {block_id} is not in account {owner_id}")
    if block.status not in statuses:
        raise LedgerError(f"block {block_id} is {block.status}; needs {' or '.join(statuses)}")
    if not 0 < quantity <= block.quantity:
        raise LedgerError(f"block {block_id} holds {block.quantity} t; cannot move {quantity}")
    return block


def _take(
    session: Session,
    block_id: int,
    quantity: int,
    *,
    owner_id: int | None,
    statuses: tuple[str, ...] = ("held",),
) -> CreditBlock:
    """Lock the block and check that ``quantity`` of its units may move (:func:`_check`)."""
    block = _lock_blocks(session, [block_id]).get(block_id)
    return _check(block, block_id, quantity, owner_id, statuses)


def _move(
    session: Session,
    block: CreditBlock,
    quantity: int,
    to_account_id: int,
    status: str = "held",
    retirement_id: int | None = None,
) -> CreditBlock:
    """Give ``quantity`` units of a locked block to an account: the whole block is re-owned in
    place; a part is split off as a new block holding the upper end of the range. Nothing is
    written and the new block is not added to the session: :func:`_write_blocks` writes all
    moves of a batch at once."""
    if quantity == block.quantity:
        block.account_id, block.status, block.retirement_id = to_account_id, status, retirement_id
        return block
    (_, kept_last), (moved_first, moved_last) = split_upper(
        block.first_serial, block.last_serial, quantity
    )
    block.last_serial = kept_last
    moved = CreditBlock(
        issuance_id=block.issuance_id,
        account_id=to_account_id,
        first_serial=moved_first,
        last_serial=moved_last,
        status=status,
        parent_id=block.id,
        retirement_id=retirement_id,
    )
    return moved


@dataclass(frozen=True, eq=False)
class Movement:
    """One move as it was made: ``moved`` (a new block, or ``block`` itself when all of it
    moved) took ``serials`` of ``block`` from ``source`` = (account, state) to ``target``.
    Kept apart from the block objects, which a later move of the same batch may change again."""

    key: str
    kind: str
    block: CreditBlock
    moved: CreditBlock
    serials: tuple[int, int]
    source: tuple[int, str]
    target: tuple[int, str]
    details: dict[str, Any]

    @staticmethod
    def of(
        key: str,
        kind: str,
        block: CreditBlock,
        moved: CreditBlock,
        source: tuple[int, str],
        details: dict[str, Any],
    ) -> Movement:
        serials = (moved.first_serial, moved.last_serial)
        target = (moved.account_id, moved.status)
        return Movement(key, kind, block, moved, serials, source, target, details)

    @property
    def quantity(self) -> int:
        return self.serials[1] - self.serials[0] + 1


def _movement(
    session: Session,
    key: str,
    kind: str,
    block: CreditBlock,
    moved: CreditBlock,
    source: tuple[int, str],
    *,
    details: dict[str, Any],
) -> RegistryOperation:
    """Record the operation and its journal entry: ``source`` = (account, state) the units of
    ``moved`` left for its account and status."""
    (operation,) = _movements(session, [Movement.of(key, kind, block, moved, source, details)])
    return operation


def _movements(session: Session, movements: Sequence[Movement]) -> list[RegistryOperation]:
    """Write the moved blocks (:func:`_write_blocks`), then one operation and one journal entry
    per movement, then the audit rows of all: six statements however many movements, written
    with Core from the objects (the ORM's unit of work took most of a batch's Python time)."""
    rows = _write_blocks(session, movements)  # the callers flushed what else they made
    operations = [
        RegistryOperation(
            idempotency_key=movement.key,
            kind=movement.kind,
            actor=session.info["actor"],
            at=utc_now(),
            account_id=movement.source[0],
            counterparty_id=movement.target[0],
            issuance_id=movement.block.issuance_id,
            block_id=movement.block.id,
            new_block_id=movement.moved.id if movement.moved is not movement.block else None,
            quantity=movement.quantity,
            serial=_serial_of(session, movement.block.issuance_id, movement.serials),
            details=movement.details,
        )
        for movement in movements
    ]
    rows += _insert_objects(session, operations, "idempotency_key")
    journal.post_many(
        session,
        [
            journal.Posting(
                movement.kind,
                journal.move_credits(
                    movement.block.issuance_id,
                    movement.quantity,
                    movement.serials,
                    movement.source,
                    movement.target,
                ),
                operation.id,
            )
            for movement, operation in zip(movements, operations, strict=True)
        ],
    )
    bulk.insert_values(session, AuditEntry.__table__, rows)
    return operations


BLOCK_CHANGES = ("account_id", "last_serial", "status", "retirement_id")
"""The columns a move changes in a block it takes units from."""


def _write_blocks(session: Session, movements: Sequence[Movement]) -> list[dict[str, Any]]:
    """Write what the movements did to blocks and not yet written: the blocks they shrank or
    re-owned (one UPDATE of :data:`BLOCK_CHANGES` by id, their ORM history then reset as if
    flushed) and the blocks they split off (:func:`_insert_objects`). Returns the audit rows a
    flush would have written, for the caller to write (:func:`qingshan.store.audit.rows_for`)."""
    changed = {
        movement.block.id: movement.block
        for movement in movements
        if inspect(movement.block).persistent and inspect(movement.block).modified
    }
    rows = audit.rows_for(session.info["actor"], updated=changed.values())
    written = {int(row["entity_id"]) for row in rows}
    bulk.update_values(
        session,
        CreditBlock.__table__,
        [
            {"id": block.id} | {name: getattr(block, name) for name in BLOCK_CHANGES}
            for block in changed.values()
            if block.id in written
        ],
    )
    for block in changed.values():
        for name in BLOCK_CHANGES:
            set_committed_value(block, name, getattr(block, name))
    split = [movement.moved for movement in movements if inspect(movement.moved).transient]
    return _insert_objects(session, split, "issuance_id", "first_serial") + rows  # a flush's order


def _insert_objects(
    session: Session, objects: Sequence[Base], *unique: str
) -> list[dict[str, Any]]:
    """Insert new model objects of one class with Core in one statement and attach them to the
    session as persistent rows, as a flush would; returns the audit rows the flush would have
    written for them. With ``unique`` columns (distinct among ``objects``): one ``INSERT …
    SELECT unnest(…) RETURNING`` (:func:`qingshan.store.bulk.insert_values`, constant text),
    the ids matched back by those columns; without: a multi-row ``VALUES`` returning the ids in
    the order given (the trades of a batch, which may repeat every column but the id)."""
    if not objects:
        return []
    mapper = inspect(objects[0]).mapper
    table = mapper.local_table
    columns = [attribute.key for attribute in mapper.column_attrs if attribute.key != "id"]
    rows = [{name: getattr(item, name) for name in columns} for item in objects]
    if unique:
        returned = bulk.insert_values(session, table, rows, returning=("id", *unique))
        found = {tuple(key): row_id for row_id, *key in returned}
        ids = [found[tuple(getattr(item, name) for name in unique)] for item in objects]
    else:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = list(session.connection().execute(statement, rows).scalars())
    for item, row_id in zip(objects, ids, strict=True):
        item.id = row_id
    audited = audit.rows_for(session.info["actor"], inserted=objects)
    for item in objects:
        make_transient_to_detached(item)
        session.add(item)
    return audited


# ------------------------------------------------------------------------------------------
# Credits
# ------------------------------------------------------------------------------------------


def issue(
    session: Session,
    key: str,
    *,
    methodology_code: str,
    project_code: str,
    project_name: str,
    vintage: int,
    quantity: int,
    to_account_id: int,
    verification: str,
) -> RegistryOperation:
    """Issue ``quantity`` tonnes as one block; serials continue after earlier issuances of the
    same (methodology, vintage, project), so ranges never overlap (UNDP, carbon.md §1.1.3)."""
    if done := replay(session, key):
        return done
    if quantity < 1:
        raise LedgerError("issue at least 1 t")
    methodology = methodology_by_code(session, methodology_code)
    if not methodology.active:
        raise LedgerError(f"methodology {methodology_code} is not active")
    owner = session.get(RegistryAccount, to_account_id)
    if owner is None or owner.kind not in ("enterprise", "project_owner", "platform"):
        raise LedgerError("credits are issued to a project owner, enterprise or the platform")
    try:
        prefix = serial_prefix(methodology.code, vintage, project_code)
    except ValueError as error:
        raise LedgerError(str(error)) from None
    issued = session.scalar(
        select(func.max(CreditIssuance.last_serial)).where(CreditIssuance.serial_prefix == prefix)
    )
    first = (issued or 0) + 1
    issuance = CreditIssuance(
        methodology_id=methodology.id,
        project_code=project_code,
        project_name=project_name,
        vintage=vintage,
        serial_prefix=prefix,
        first_serial=first,
        last_serial=first + quantity - 1,
        verification=verification,
    )
    session.add(issuance)
    session.flush()
    block = CreditBlock(
        issuance_id=issuance.id,
        account_id=to_account_id,
        first_serial=issuance.first_serial,
        last_serial=issuance.last_serial,
        status="held",
    )
    session.add(block)
    session.flush()
    operation = _journal(
        session,
        key,
        "issue",
        counterparty_id=to_account_id,
        issuance_id=issuance.id,
        new_block_id=block.id,
        quantity=quantity,
        serial=_serial(session, block),
        details={"verification": verification},
    )
    serials = (issuance.first_serial, issuance.last_serial)
    lines = journal.move_credits(
        issuance.id, quantity, serials, (None, None), (to_account_id, "held"), book="issuance"
    )
    journal.post(session, "issue", lines, operation_id=operation.id)
    return operation


def issue_from_actions(
    session: Session,
    key: str,
    *,
    methodology_code: str,
    first_day: date,
    last_day: date,
    project_code: str,
    to_account_id: int,
) -> RegistryOperation:
    """Issue credits for the individual reductions of one methodology over Beijing days
    ``first_day``…``last_day`` (one vintage year) that no issuance has used yet.

    Whole tonnes are issued, rounded down; the actions are marked with the issuance, so a
    reduction becomes credits at most once. The remainder below one tonne is not carried over
    (conservative: never more credits than reductions).
    """
    if done := replay(session, key):
        return done
    if first_day > last_day or first_day.year != last_day.year:
        raise LedgerError("give a period within one year (the vintage)")
    methodology = methodology_by_code(session, methodology_code)
    rows = session.execute(
        select(LowCarbonAction.id, LowCarbonAction.reduction_mg)
        .where(
            LowCarbonAction.methodology_id == methodology.id,
            LowCarbonAction.status == "accepted",
            LowCarbonAction.issuance_id.is_(None),
            LowCarbonAction.local_day.between(first_day, last_day),
        )
        .with_for_update(key_share=True)
    ).all()
    total_mg = sum(mg for _, mg in rows)
    tonnes = total_mg // MG_PER_TONNE
    if tonnes < 1:
        raise LedgerError(f"{total_mg / 10**6:.3f} kg of unissued reductions: less than 1 t")
    operation = issue(
        session,
        key,
        methodology_code=methodology_code,
        project_code=project_code,
        project_name=f"{methodology.name} 个人减排量 {first_day}–{last_day}",
        vintage=first_day.year,
        quantity=tonnes,
        to_account_id=to_account_id,
        verification=f"{len(rows)} accepted actions, {total_mg} mg CO2",
    )
    ids = [action_id for action_id, _ in rows]
    for start in range(0, len(ids), ID_CHUNK):
        session.execute(
            update(LowCarbonAction)
            .where(LowCarbonAction.id.in_(ids[start : start + ID_CHUNK]))
            .values(issuance_id=operation.issuance_id)
            .execution_options(synchronize_session=False)
        )
    summary = {
        "issuance_id": operation.issuance_id,
        "actions": len(ids),
        "reduction_mg": total_mg,
        "not_issued_mg": total_mg - tonnes * MG_PER_TONNE,
    }
    audit.record(
        session, session.info["actor"], "issue_from_actions", "registry_actions", after=summary
    )
    operation.details = {**operation.details, **summary}
    session.flush()
    return operation


@dataclass(frozen=True)
class Move:
    """A request to move ``quantity`` held tonnes of a block from its owner to another holder:
    a ``transfer``, or a bilateral ``trade`` when ``price_fen_per_t`` is given (the price is
    recorded in ``registry_trades``; money is settled elsewhere). ``kind`` and ``details`` let
    the market journal its escrow, release and fill moves as transfers and trades."""

    key: str
    block_id: int
    quantity: int
    from_account_id: int
    to_account_id: int
    price_fen_per_t: int | None = None
    kind: str = "transfer"
    details: dict[str, Any] | None = None


def move_many(session: Session, moves: Sequence[Move]) -> list[RegistryOperation | LedgerError]:
    """Apply ``moves`` in order in the caller's transaction, set-based: one lookup of their
    keys, one of the receivers, one statement locking every block (in id order), then each
    move checked against the blocks as the moves before it left them; the new and shrunk
    blocks, trades, operations and journal entries are written together at the end.

    Each move gets its own outcome: its operation, the operation already recorded under its
    key (a retry, also of a move earlier in ``moves``), or the :class:`LedgerError` that
    refused it, which changes nothing and does not affect the others; of two moves of the same
    units, the first wins. This is the only path that moves held units to another holder
    (:func:`transfer`, :func:`trade` and :func:`move_units` are it with one move).
    """
    done = _replays(session, [move.key for move in moves])
    receivers = _receiver_kinds(session, [move.to_account_id for move in moves])
    blocks = _lock_blocks(session, [move.block_id for move in moves if move.key not in done])
    outcomes: list[RegistryOperation | LedgerError | Movement] = []
    made: list[tuple[Move, Movement]] = []
    for move in moves:
        try:
            if not move.key:
                raise LedgerError("every write needs an idempotency key")
            if move.key not in done:
                done[move.key] = _apply(session, move, receivers, blocks.get(move.block_id))
                made.append((move, done[move.key]))
            outcomes.append(done[move.key])
        except LedgerError as error:
            outcomes.append(error)
    _record_trades(session, made)
    movements = [movement for _, movement in made]
    written = dict(zip(movements, _movements(session, movements), strict=True))
    return [written[outcome] if isinstance(outcome, Movement) else outcome for outcome in outcomes]


def _replays(session: Session, keys: list[str]) -> dict[str, Any]:
    """Key → the operation recorded under it, for the keys already used."""
    found: dict[str, Any] = {}
    for condition in bulk.matching(session, RegistryOperation.idempotency_key, keys):
        for operation in session.scalars(select(RegistryOperation).where(condition)):
            found[operation.idempotency_key] = operation
    return found


def _receiver_kinds(session: Session, account_ids: list[int]) -> dict[int, str]:
    """Account id → kind, for the accounts that exist (no query for accounts the session has
    loaded already, as the registry service does for a batch)."""
    accounts = (session.get(RegistryAccount, account_id) for account_id in set(account_ids))
    return {account.id: account.kind for account in accounts if account is not None}


def _apply(
    session: Session, move: Move, receivers: dict[int, str], block: CreditBlock | None
) -> Movement:
    """Check one move against the locked ``block`` and make it in memory."""
    if move.price_fen_per_t is not None and move.price_fen_per_t < 0:
        raise LedgerError("the price cannot be negative")
    kind = receivers.get(move.to_account_id)
    if kind is None:
        raise NotFound(f"no registry account {move.to_account_id}")
    if kind in ("retirement", "cancellation"):
        raise LedgerError("credits reach the system sinks only by retirement or cancellation")
    if move.to_account_id == move.from_account_id:
        who = "sender and receiver" if move.price_fen_per_t is None else "seller and buyer"
        raise LedgerError(f"{who} are the same account")
    block = _check(block, move.block_id, move.quantity, move.from_account_id)
    moved = _move(session, block, move.quantity, move.to_account_id)
    kind = "trade" if move.price_fen_per_t is not None else move.kind
    source = (move.from_account_id, "held")
    return Movement.of(move.key, kind, block, moved, source, dict(move.details or {}))


def _record_trades(session: Session, made: list[tuple[Move, Movement]]) -> None:
    """A ``registry_trades`` row for each priced move made; its id and price go in the
    movement's details. The blocks are written first (a trade names the block it bought)."""
    priced = [(move, movement) for move, movement in made if move.price_fen_per_t is not None]
    if not priced:
        return
    rows = _write_blocks(session, [movement for _, movement in made])
    records = [
        Trade(
            seller_account_id=move.from_account_id,
            buyer_account_id=move.to_account_id,
            issuance_id=movement.block.issuance_id,
            block_id=movement.moved.id,
            quantity=move.quantity,
            price_fen_per_t=move.price_fen_per_t,
            at=utc_now(),
        )
        for move, movement in priced
    ]
    rows += _insert_objects(session, records)
    bulk.insert_values(session, AuditEntry.__table__, rows)
    for (move, movement), record in zip(priced, records, strict=True):
        movement.details.update(trade_id=record.id, price_fen_per_t=move.price_fen_per_t)


def _one(session: Session, move: Move) -> RegistryOperation:
    """:func:`move_many` with one move: its operation, or its refusal raised."""
    (outcome,) = move_many(session, [move])
    if isinstance(outcome, LedgerError):
        raise outcome
    return outcome


def transfer(
    session: Session,
    key: str,
    *,
    block_id: int,
    quantity: int,
    from_account_id: int,
    to_account_id: int,
) -> RegistryOperation:
    """Move ``quantity`` t of a held block from its owner to another holder's account."""
    return _one(session, Move(key, block_id, quantity, from_account_id, to_account_id))


def move_units(
    session: Session,
    key: str,
    kind: str,
    *,
    block_id: int,
    quantity: int,
    from_account_id: int,
    to_account_id: int,
    details: dict[str, Any] | None = None,
) -> RegistryOperation:
    """Move held units to another holder, journalled as ``kind`` (``transfer`` or ``trade``)
    with ``details``: plain transfers, and the market's escrow, release and settlement moves
    (:mod:`qingshan.store.market`), which name their order or trade in the details."""
    move = Move(key, block_id, quantity, from_account_id, to_account_id, None, kind, details)
    return _one(session, move)


def trade(
    session: Session,
    key: str,
    *,
    block_id: int,
    quantity: int,
    seller_account_id: int,
    buyer_account_id: int,
    price_fen_per_t: int,
) -> RegistryOperation:
    """A bilateral trade: a transfer with its price recorded (money is settled elsewhere)."""
    move = Move(key, block_id, quantity, seller_account_id, buyer_account_id, price_fen_per_t)
    return _one(session, move)


def certificate_content(session: Session, retirement: Retirement) -> dict[str, Any]:
    """What the certificate states (and what its hash seals). A surrender's certificate also
    states the obligation it meets (:func:`_obligation_content`); a neutrality or voluntary
    retirement's states none, so its content is the same as before surrenders were certified."""
    account = session.get(RegistryAccount, retirement.from_account_id)
    assert account is not None
    content = {
        "certificate": retirement.certificate_number,
        "serial": retirement.serial,
        "quantity_t": retirement.quantity,
        "purpose": retirement.purpose,
        "beneficiary": retirement.beneficiary,
        "note": retirement.note,
        "account": account.code,
        "at": retirement.at.isoformat(),
    }
    if retirement.obligation_id is not None:
        content |= _obligation_content(session, retirement.obligation_id)
    return content


def _obligation_content(session: Session, obligation_id: int) -> dict[str, Any]:
    """The obligation a surrender is used against: scheme, compliance year, verified emissions
    and offset cap — all fixed when the obligation was recorded, so sealing them is stable. The
    tonnes surrendered so far grow with later surrenders and are not sealed."""
    row = session.execute(
        select(ComplianceObligation, ComplianceScheme.code)
        .join(ComplianceScheme, ComplianceScheme.id == ComplianceObligation.scheme_id)
        .where(ComplianceObligation.id == obligation_id)
    ).one()
    obligation, scheme = row
    return {
        "scheme": scheme,
        "compliance_year": obligation.year,
        "verified_emissions_t": obligation.verified_emissions_t,
        "offset_cap_t": obligation.offset_cap_t,
    }


def certificate_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the certificate content as canonical JSON (sorted keys, no spaces, UTF-8):
    anyone holding the certificate can recompute it and compare with the registry's."""
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _seal(session: Session, retirement: Retirement) -> None:
    """Number the retirement's (or surrender's) certificate and seal its content with SHA-256."""
    retirement.certificate_number = f"QS-RET-{retirement.id:08d}"
    retirement.certificate_sha256 = certificate_hash(certificate_content(session, retirement))


def retire(
    session: Session,
    key: str,
    *,
    block_id: int,
    quantity: int,
    from_account_id: int,
    purpose: str,
    beneficiary: str,
    note: str = "",
) -> RegistryOperation:
    """Retire ``quantity`` t irreversibly for ``purpose`` (碳中和 or 自愿注销) on behalf of
    ``beneficiary``; the retirement gets a certificate number and a SHA-256 hash of its content.
    Compliance retirements (履约抵销) go through :func:`surrender`, which applies the cap."""
    if done := replay(session, key):
        return done
    if purpose not in RETIREMENT_PURPOSES:
        raise LedgerError(f"purpose must be one of {', '.join(RETIREMENT_PURPOSES)}")
    if purpose == COMPLIANCE:
        raise LedgerError("retirements for compliance go through surrender (an obligation)")
    return _retire(session, key, block_id, quantity, from_account_id, purpose, beneficiary, note)


def _retire(
    session: Session,
    key: str,
    block_id: int,
    quantity: int,
    from_account_id: int,
    purpose: str,
    beneficiary: str,
    note: str,
    obligation_id: int | None = None,
) -> RegistryOperation:
    if not beneficiary.strip():
        raise LedgerError("a retirement names its beneficiary (using entity)")
    block = _take(session, block_id, quantity, owner_id=from_account_id)
    return _terminal(
        session,
        key,
        "surrender" if obligation_id else "retire",
        block,
        quantity,
        Retirement(
            kind="retired",
            purpose=purpose,
            beneficiary=beneficiary,
            note=note,
            obligation_id=obligation_id,
            from_account_id=from_account_id,
            serial="",
            quantity=quantity,
        ),
    )


def _terminal(
    session: Session,
    key: str,
    kind: str,
    block: CreditBlock,
    quantity: int,
    record: Retirement,
) -> RegistryOperation:
    sink_code = "SYS-RETIREMENT" if record.kind == "retired" else "SYS-CANCELLATION"
    sink = system_account(session, sink_code)
    record.at = utc_now()
    session.add(record)
    session.flush()
    source = (block.account_id, block.status)
    moved = _move(session, block, quantity, sink.id, record.kind, record.id)
    record.serial = _serial(session, moved)
    if record.kind == "retired":
        _seal(session, record)
    session.flush()
    return _movement(session, key, kind, block, moved, source, details={"retirement_id": record.id})


def surrender(
    session: Session,
    key: str,
    *,
    block_id: int,
    quantity: int,
    from_account_id: int,
    obligation_id: int,
    note: str = "",
) -> RegistryOperation:
    """Retire credits (purpose 履约抵销) against a compliance obligation, within its offset cap;
    like a retirement it gets a certificate, which also states the obligation (scheme, year,
    verified emissions, offset cap: :func:`certificate_content`)."""
    if done := replay(session, key):
        return done
    obligation: ComplianceObligation = _locked(
        session, ComplianceObligation, obligation_id, "obligation"
    )
    if obligation.account_id != from_account_id:
        raise LedgerError("the obligation belongs to another account")
    room = obligation.offset_cap_t - obligation.offsets_surrendered_t
    if quantity > room:
        raise LedgerError(
            f"offset cap reached: {obligation.offsets_surrendered_t} of "
            f"{obligation.offset_cap_t} t used, {room} t left"
        )
    account = session.get(RegistryAccount, from_account_id)
    assert account is not None
    operation = _retire(
        session,
        key,
        block_id,
        quantity,
        from_account_id,
        COMPLIANCE,
        account.name,
        note or f"{obligation.year} 年度履约",
        obligation_id,
    )
    obligation.offsets_surrendered_t += quantity
    session.flush()
    return operation


def cancel(
    session: Session, key: str, *, block_id: int, quantity: int, reason: str
) -> RegistryOperation:
    """Cancel units (administrator: correction, reversal, invalidation) with a reason."""
    if done := replay(session, key):
        return done
    if not reason.strip():
        raise LedgerError("a cancellation needs a reason")
    block = _take(session, block_id, quantity, owner_id=None, statuses=("held", "frozen"))
    record = Retirement(
        kind="cancelled",
        reason=reason,
        from_account_id=block.account_id,
        serial="",
        quantity=quantity,
    )
    return _terminal(session, key, "cancel", block, quantity, record)


def set_frozen(
    session: Session, key: str, *, block_id: int, quantity: int, frozen: bool, reason: str
) -> RegistryOperation:
    """Freeze units (they stay with their owner but cannot move) or release them."""
    if done := replay(session, key):
        return done
    current, target = ("held", "frozen") if frozen else ("frozen", "held")
    block = _take(session, block_id, quantity, owner_id=None, statuses=(current,))
    moved = _move(session, block, quantity, block.account_id, target)
    return _movement(
        session,
        key,
        "freeze" if frozen else "unfreeze",
        block,
        moved,
        (block.account_id, current),
        details={"reason": reason},
    )


# ------------------------------------------------------------------------------------------
# Points
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionInput:
    """A claimed low-carbon action (``occurred_at`` timezone-aware)."""

    key: str
    account_id: int
    methodology_code: str
    quantity: float
    occurred_at: datetime
    evidence: str = ""


@dataclass(frozen=True)
class ActionOutcome:
    """What became of an action: ``accepted``, ``rejected`` (with the reason) or
    ``duplicate`` (its key was recorded before; the first record's figures are given)."""

    key: str
    status: str
    reason: str | None
    reduction_mg: int
    points_centi: int


def record_action(session: Session, key: str, **fields: Any) -> ActionOutcome:
    """Record one action: the batch path with one row (see :func:`record_actions`)."""
    (outcome,) = record_actions(session, [ActionInput(key=key, **fields)])
    return outcome


def record_actions(session: Session, actions: Sequence[ActionInput]) -> list[ActionOutcome]:
    """Record a batch of low-carbon actions in the session's transaction (one action or a
    million: the same rules, the same code).

    Each action is accepted (reduction and points credited), rejected with the reason
    (inactive methodology or no factor, dated in the future, over the daily cap of its Beijing
    day) or recognised as a duplicate of an earlier key (also within the batch), in the order
    given. The accounts are locked in id order (concurrent batches cannot deadlock) before caps
    and balances are read; the decisions are made in columns (:func:`_decide`); the action
    rows (each with its unique key: the record of the accrual), the changed balances and one
    journal entry are then written set-based (:mod:`qingshan.store.bulk`: COPY on PostgreSQL,
    one driver-level executemany on SQLite), with one audit row for the batch.
    """
    if any(not action.key for action in actions):
        raise LedgerError("every action needs an idempotency key")
    if any(not action.quantity > 0 for action in actions):
        raise LedgerError("the quantity must be positive")
    if any(action.occurred_at.tzinfo is None for action in actions):
        raise LedgerError("the time of an action needs its time zone")
    if not actions:
        return []
    batch = _action_frame(actions)
    earlier = _recorded_actions(session, batch["idempotency_key"].unique().to_list())
    methodologies = {
        code: methodology_by_code(session, code)
        for code in batch["methodology_code"].unique().to_list()
    }
    opening = _locked_accounts(session, set(batch["account_id"].unique().to_list()))
    claimed = _claimed(
        session, sorted(opening), methodologies, set(batch["local_day"].unique().to_list())
    )
    now = utc_now()
    decided = _decide(batch, methodologies, set(earlier), claimed, now)
    _write_actions(session, decided.filter(pl.col("new")), opening, now)
    return _outcomes(decided, earlier)


def _action_frame(actions: Sequence[ActionInput]) -> pl.DataFrame:
    """The batch in columns, in the order given, with each action's Beijing day."""
    occurred = pl.Series([action.occurred_at for action in actions], dtype=pl.Datetime("us", "UTC"))
    return pl.DataFrame(
        {
            "idempotency_key": pl.Series([action.key for action in actions], dtype=pl.String),
            "account_id": pl.Series([action.account_id for action in actions], dtype=pl.Int64),
            "methodology_code": pl.Series(
                [action.methodology_code for action in actions], dtype=pl.String
            ),
            "quantity": pl.Series([action.quantity for action in actions], dtype=pl.Float64),
            "occurred_at": occurred,
            "local_day": occurred.dt.convert_time_zone(LOCAL_TIME_ZONE.key).dt.date(),
            "evidence": pl.Series([action.evidence for action in actions], dtype=pl.String),
        }
    )


def _decide(
    batch: pl.DataFrame,
    methodologies: dict[str, Methodology],
    earlier: set[str],
    claimed: dict[tuple[int, int, date], float],
    now: datetime,
) -> pl.DataFrame:
    """The batch with each action's decision: ``new`` (first of its key in the batch and not
    recorded before), ``first`` (the row of the first action with its key), ``methodology_id``,
    ``status`` and ``reason``, ``reduction_mg`` and ``points_centi`` (only new rows count).

    The rules, in order: the methodology refuses, the time is in the future, the daily cap
    (:func:`_cap_rejections`).
    """
    refusals = {code: _refusal(methodology) for code, methodology in methodologies.items()}
    ids = {code: methodology.id for code, methodology in methodologies.items()}
    code, key = pl.col("methodology_code"), pl.col("idempotency_key")
    future = pl.when(pl.col("occurred_at") > now + FUTURE_TOLERANCE).then(pl.lit(FUTURE))
    frame = batch.with_row_index("row").with_columns(
        methodology_id=code.replace_strict(ids, return_dtype=pl.Int64),
        new=key.is_first_distinct() & ~key.is_in(list(earlier)),
        first=pl.col("row").first().over(key),
        reason=code.replace_strict(refusals, return_dtype=pl.String).fill_null(future),
    )
    over_cap = _cap_rejections(frame, methodologies, claimed)
    if over_cap:
        reasons = pl.col("row").replace_strict(over_cap, default=None, return_dtype=pl.String)
        frame = frame.with_columns(reason=pl.col("reason").fill_null(reasons))
    frame = frame.with_columns(
        status=pl.when(pl.col("reason").is_null())
        .then(pl.lit("accepted"))
        .otherwise(pl.lit("rejected"))
    )
    accepted = (frame["new"] & frame["reason"].is_null()).to_numpy()
    quantities, methodology_ids = frame["quantity"].to_numpy(), frame["methodology_id"].to_numpy()
    mg, centi = np.zeros(frame.height, np.int64), np.zeros(frame.height, np.int64)
    for methodology in methodologies.values():
        rows = accepted & (methodology_ids == methodology.id)
        if rows.any():
            assert methodology.grams_per_unit is not None  # refused otherwise
            mg[rows] = reductions_mg(quantities[rows], methodology.grams_per_unit)
            centi[rows] = points_centis(quantities[rows], methodology.points_per_unit or 0.0)
    return frame.with_columns(reduction_mg=pl.Series(mg), points_centi=pl.Series(centi))


CAP_GROUP = ["account_id", "methodology_id", "local_day"]
CAP_MARGIN = 1e-9
"""A cap group whose total stays below ``cap × (1 − CAP_MARGIN)`` is accepted whole: far
beyond any rounding of a sum of floats, so only groups near the cap are summed one by one."""


def _cap_rejections(
    frame: pl.DataFrame,
    methodologies: dict[str, Methodology],
    claimed: dict[tuple[int, int, date], float],
) -> dict[int, str]:
    """Rows over the daily cap → reason. The actions still in play of each (account,
    methodology, Beijing day) are summed with what the day had before; groups clearly under
    the cap are all accepted; in the others the actions are taken one by one in the order
    given (as if sent one at a time: a rejected action does not count against the cap)."""
    capped = {m.id: m for m in methodologies.values() if m.daily_cap_units is not None}
    in_play = frame.filter(
        pl.col("new") & pl.col("reason").is_null() & pl.col("methodology_id").is_in(list(capped))
    )
    if in_play.is_empty():
        return {}
    before = pl.DataFrame(
        [(*group, total) for group, total in claimed.items()],
        schema={"account_id": pl.Int64, "methodology_id": pl.Int64, "local_day": pl.Date,
                "before": pl.Float64},
        orient="row",
    )  # fmt: skip
    caps = {m_id: m.daily_cap_units for m_id, m in capped.items()}
    near = (
        in_play.join(before, on=CAP_GROUP, how="left")
        .with_columns(pl.col("before").fill_null(0.0))
        .filter(
            pl.col("before") + pl.col("quantity").sum().over(CAP_GROUP)
            >= pl.col("methodology_id").replace_strict(caps, return_dtype=pl.Float64)
            * (1 - CAP_MARGIN)
        )
        .sort("row")
    )
    used: dict[tuple[int, int, date], float] = {}
    rejected: dict[int, str] = {}
    for row, account, methodology_id, day, quantity, prior in near.select(
        "row", *CAP_GROUP, "quantity", "before"
    ).iter_rows():
        group = (account, methodology_id, day)
        so_far = used.get(group, prior)
        methodology = capped[methodology_id]
        if so_far + quantity > caps[methodology_id]:
            rejected[row] = (
                f"over the daily cap of {caps[methodology_id]:g} {methodology.unit} for "
                f"{methodology.code} on {day} ({so_far:g} already claimed)"
            )
        else:
            used[group] = so_far + quantity
    return rejected


def _outcomes(decided: pl.DataFrame, earlier: dict[str, ActionOutcome]) -> list[ActionOutcome]:
    """One outcome per action, in order; a duplicate repeats its first record's figures."""
    columns = ("idempotency_key", "new", "first", "status", "reason", "reduction_mg")
    keys, new, first, statuses, reasons, mgs = (decided[name].to_list() for name in columns)
    centis = decided["points_centi"].to_list()
    outcomes = []
    for row, key in enumerate(keys):
        if new[row]:
            outcome = ActionOutcome(key, statuses[row], reasons[row], mgs[row], centis[row])
        elif key in earlier:
            outcome = replace(earlier[key], status="duplicate")
        else:
            at = first[row]
            outcome = ActionOutcome(key, "duplicate", reasons[at], mgs[at], centis[at])
        outcomes.append(outcome)
    return outcomes


def _recorded_actions(session: Session, keys: list[str]) -> dict[str, ActionOutcome]:
    found: dict[str, ActionOutcome] = {}
    table = LowCarbonAction.__table__
    columns = (table.c.idempotency_key, table.c.status, table.c.reason)
    amounts = (table.c.reduction_mg, table.c.points_centi)
    for condition in bulk.matching(session, table.c.idempotency_key, keys):
        for key, status, reason, mg, centi in session.execute(
            select(*columns, *amounts).where(condition)
        ):
            found[key] = ActionOutcome(key, status, reason, mg, centi)
    return found


def _locked_accounts(session: Session, ids: set[int]) -> dict[int, int]:
    """Lock the accounts (id order) and return their points balances."""
    table = RegistryAccount.__table__
    found: dict[int, tuple[str, int]] = {}
    for condition in bulk.matching(session, table.c.id, sorted(ids)):
        for account_id, kind, centi in session.execute(
            select(table.c.id, table.c.kind, table.c.points_centi)
            .where(condition)
            .order_by(table.c.id)
            .with_for_update(key_share=True)
        ):
            found[account_id] = (kind, centi)
    for account_id in ids:
        if account_id not in found:
            raise NotFound(f"no registry account {account_id}")
        if found[account_id][0] not in ("individual", "enterprise"):
            raise LedgerError("actions are claimed by individual or enterprise accounts")
    return {account_id: centi for account_id, (_, centi) in found.items()}


def _claimed(
    session: Session,
    account_ids: list[int],
    methodologies: dict[str, Methodology],
    days: set[date],
) -> dict[tuple[int, int, date], float]:
    """Quantities already accepted per (account, methodology, Beijing day) of the batch."""
    capped = [m.id for m in methodologies.values() if m.daily_cap_units is not None]
    if not capped:
        return {}
    table = LowCarbonAction.__table__
    claimed: dict[tuple[int, int, date], float] = {}
    for condition in bulk.matching(session, table.c.account_id, account_ids):
        for account, methodology, day, total in session.execute(
            select(
                table.c.account_id,
                table.c.methodology_id,
                table.c.local_day,
                func.sum(table.c.quantity),
            )
            .where(
                condition,
                table.c.methodology_id.in_(capped),
                table.c.local_day.in_(sorted(days)),
                table.c.status == "accepted",
            )
            .group_by(table.c.account_id, table.c.methodology_id, table.c.local_day)
        ):
            claimed[(account, methodology, day)] = float(total)
    return claimed


ACTION_COLUMNS = (
    "idempotency_key",
    "account_id",
    "methodology_id",
    "quantity",
    "occurred_at",
    "local_day",
    "evidence",
    "status",
    "reason",
    "reduction_mg",
    "points_centi",
)


def _write_actions(
    session: Session, rows: pl.DataFrame, opening: dict[int, int], now: datetime
) -> None:
    """Insert the new actions, add each account's gain to its balance, post one journal
    entry for the batch (each account's gain against the points book), audit the batch."""
    if rows.is_empty():
        return
    actor = session.info["actor"]
    bulk.insert_frame(
        session,
        LowCarbonAction.__table__,
        rows.select(*ACTION_COLUMNS, recorded_at=pl.lit(now), actor=pl.lit(actor)),
    )
    gains = (
        rows.filter(pl.col("status") == "accepted", pl.col("points_centi") > 0)
        .group_by("account_id")
        .agg(pl.col("points_centi").sum())
        .sort("account_id")
    )
    total = int(gains["points_centi"].sum())
    if total:
        opened = pl.Series([opening[a] for a in gains["account_id"].to_list()], dtype=pl.Int64)
        _set_balances(
            session,
            pl.DataFrame({"id": gains["account_id"], "balance": opened + gains["points_centi"]}),
        )
        lines = pl.concat(
            [
                pl.DataFrame(
                    {"account_id": [None], "book": ["points"], "quantity": [-total]},
                    schema={"account_id": pl.Int64, "book": pl.String, "quantity": pl.Int64},
                ),
                gains.select("account_id", book=pl.lit(None, pl.String), quantity="points_centi"),
            ]
        ).with_columns(asset=pl.lit(journal.POINTS))  # the points book gives, each account gains
        journal.post_columns(session, "accrue", lines)
    audit.record(
        session,
        actor,
        "record_actions",
        "registry_actions",
        after={
            "recorded": rows.height,
            "accepted": int((rows["status"] == "accepted").sum()),
            "points_centi": total,
            "accounts": rows["account_id"].n_unique(),
        },
    )


def _set_balances(session: Session, balances: pl.DataFrame) -> None:
    """Set the points balances (columns ``id``, ``balance``) of locked accounts in one
    statement: PostgreSQL ``UPDATE … FROM unnest(…)`` of two arrays sent as text (cheaper to
    build than a list parameter, and the planner takes the primary key for one row as for a
    million); SQLite one driver-level ``executemany``."""
    connection = session.connection()
    if bulk.is_postgresql(session):
        ids, values = (
            "{" + balances[name].cast(pl.String).str.join(",").item() + "}"
            for name in ("id", "balance")
        )
        connection.exec_driver_sql(
            "UPDATE registry_accounts AS a SET points_centi = v.balance "
            "FROM unnest(CAST(%s AS bigint[]), CAST(%s AS bigint[])) AS v(id, balance) "
            "WHERE a.id = v.id",
            (ids, values),
        )
    else:
        connection.exec_driver_sql(
            "UPDATE registry_accounts SET points_centi = ? WHERE id = ?",
            balances.select("balance", "id").rows(),
        )
    for account in [
        obj for obj in session.identity_map.values() if isinstance(obj, RegistryAccount)
    ]:
        session.expire(account)


FUTURE = "the action is dated in the future"


def _refusal(methodology: Methodology) -> str | None:
    """Why the methodology takes no actions now (None: it does)."""
    if not methodology.active or methodology.kind != "action":
        return f"methodology {methodology.code} does not accept individual actions now"
    if methodology.grams_per_unit is None:
        return f"methodology {methodology.code} has no reduction factor yet"
    return None


def redeem(
    session: Session, key: str, *, account_id: int, points: int, note: str
) -> RegistryOperation:
    """Spend ``points`` centipoints (coupons, benefits); refused if the balance is short."""
    if done := replay(session, key):
        return done
    if points <= 0:
        raise LedgerError("redeem a positive number of points")
    account: RegistryAccount = _locked(session, RegistryAccount, account_id, "account")
    if account.points_centi < points:
        raise LedgerError(
            f"balance {account.points_centi / 100:.2f} points; cannot redeem {points / 100:.2f}"
        )
    account.points_centi -= points
    session.flush()
    operation = _journal(
        session,
        key,
        "redeem",
        account_id=account_id,
        details={"points_centi": points, "note": note, "balance_centi": account.points_centi},
    )
    lines = [
        journal.Line(journal.POINTS, -points, account_id=account_id),
        journal.Line(journal.POINTS, points, book="points"),
    ]
    journal.post(session, "redeem", lines, operation_id=operation.id)
    return operation


# ------------------------------------------------------------------------------------------
# Reading: holdings, timelines, serial lookup, supply, verification
# ------------------------------------------------------------------------------------------


def holdings(session: Session, account_id: int) -> list[dict[str, Any]]:
    """The blocks an account holds (any status), with their serials."""
    rows = session.execute(
        select(CreditBlock, CreditIssuance)
        .join(CreditIssuance, CreditBlock.issuance_id == CreditIssuance.id)
        .where(CreditBlock.account_id == account_id)
        .order_by(CreditIssuance.id, CreditBlock.first_serial)
    ).all()
    return [
        {
            "block_id": block.id,
            "issuance_id": issuance.id,
            "serial": format_serial(issuance.serial_prefix, block.first_serial, block.last_serial),
            "quantity_t": block.quantity,
            "status": block.status,
            "vintage": issuance.vintage,
        }
        for block, issuance in rows
    ]


def operation_dict(operation: RegistryOperation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "at": operation.at.isoformat(),
        "kind": operation.kind,
        "actor": operation.actor,
        "key": operation.idempotency_key,
        "from_account_id": operation.account_id,
        "to_account_id": operation.counterparty_id,
        "issuance_id": operation.issuance_id,
        "block_id": operation.block_id,
        "new_block_id": operation.new_block_id,
        "quantity_t": operation.quantity,
        "serial": operation.serial,
        "details": operation.details,
    }


def account_timeline(session: Session, account_id: int) -> list[dict[str, Any]]:
    """Every operation that moved points or credits into or out of the account, and every
    accepted action (kind ``accrue``: the points it earned), oldest first; points events carry
    the balance after them (``details.balance_centi``)."""
    operations = session.scalars(
        select(RegistryOperation)
        .where(
            or_(
                RegistryOperation.account_id == account_id,
                RegistryOperation.counterparty_id == account_id,
            )
        )
        .order_by(RegistryOperation.id)
    )
    accruals = session.execute(
        select(LowCarbonAction, Methodology.code)
        .join(Methodology, Methodology.id == LowCarbonAction.methodology_id)
        .where(LowCarbonAction.account_id == account_id, LowCarbonAction.status == "accepted")
        .order_by(LowCarbonAction.id)
    )
    events = sorted(
        [(operation.at, operation_dict(operation)) for operation in operations]
        + [(action.recorded_at, _accrual_dict(action, code)) for action, code in accruals],
        key=lambda event: event[0],
    )
    balance = 0
    for _, event in events:
        if event["kind"] == "accrue":
            balance += event["details"]["points_centi"]
            event["details"]["balance_centi"] = balance
        elif event["kind"] == "redeem":
            balance = event["details"]["balance_centi"]
    return [event for _, event in events]


def _accrual_dict(action: LowCarbonAction, methodology: str) -> dict[str, Any]:
    """An accepted action as a timeline event, shaped like :func:`operation_dict`."""
    return {
        "id": None,
        "at": action.recorded_at.isoformat(),
        "kind": "accrue",
        "actor": action.actor,
        "key": action.idempotency_key,
        "from_account_id": None,
        "to_account_id": action.account_id,
        "issuance_id": None,
        "block_id": None,
        "new_block_id": None,
        "quantity_t": None,
        "serial": None,
        "details": {
            "methodology": methodology,
            "quantity": action.quantity,
            "occurred_at": action.occurred_at.isoformat(),
            "reduction_mg": action.reduction_mg,
            "points_centi": action.points_centi,
        },
    }


def block_timeline(session: Session, block_id: int) -> list[dict[str, Any]]:
    """The history of a block's units: operations on the block and on every block it was split
    from, back to the issuance, oldest first."""
    lineage: list[int] = []
    current: int | None = block_id
    while current is not None:
        block = session.get(CreditBlock, current)
        if block is None:
            raise NotFound(f"no block {current}")
        lineage.append(block.id)
        current = block.parent_id
    operations = session.scalars(
        select(RegistryOperation)
        .where(
            or_(
                RegistryOperation.block_id.in_(lineage),
                RegistryOperation.new_block_id.in_(lineage),
            )
        )
        .order_by(RegistryOperation.id)
    )
    return [operation_dict(operation) for operation in operations]


def lookup_serial(session: Session, serial: str) -> list[dict[str, Any]]:
    """Where the units of a serial range are now: one entry per block overlapping it."""
    prefix, first, last = parse_serial(serial)
    rows = session.execute(
        select(CreditBlock, CreditIssuance)
        .join(CreditIssuance, CreditBlock.issuance_id == CreditIssuance.id)
        .where(
            CreditIssuance.serial_prefix == prefix,
            CreditBlock.first_serial <= last,
            CreditBlock.last_serial >= first,
        )
        .order_by(CreditBlock.first_serial)
    ).all()
    result = []
    for block, issuance in rows:
        account = session.get(RegistryAccount, block.account_id)
        assert account is not None
        retirement = session.get(Retirement, block.retirement_id) if block.retirement_id else None
        result.append(
            {
                "block_id": block.id,
                "serial": format_serial(prefix, block.first_serial, block.last_serial),
                "status": block.status,
                "account": account.code,
                "project": issuance.project_name,
                "vintage": issuance.vintage,
                "certificate": retirement.certificate_number if retirement else None,
            }
        )
    return result


def supply(session: Session) -> list[dict[str, Any]]:
    """Per issuance: tonnes issued and tonnes held, frozen, retired and cancelled."""
    totals: dict[int, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("held", "frozen", "retired", "cancelled"), 0)
    )
    for issuance_id, status, tonnes in session.execute(
        select(
            CreditBlock.issuance_id,
            CreditBlock.status,
            func.sum(CreditBlock.last_serial - CreditBlock.first_serial + 1),
        ).group_by(CreditBlock.issuance_id, CreditBlock.status)
    ):
        totals[issuance_id][status] = int(tonnes)
    return [
        {
            "issuance_id": issuance.id,
            "serial_prefix": issuance.serial_prefix,
            "issued_t": issuance.quantity,
            **totals[issuance.id],
        }
        for issuance in session.scalars(select(CreditIssuance).order_by(CreditIssuance.id))
    ]


def verify(session: Session) -> list[str]:
    """Re-check every invariant; returns the problems found (empty when the ledger is sound).

    * the blocks of each issuance partition its serial range exactly (no gap, no overlap);
    * a block is terminal exactly when it sits in a system sink, with a retirement record of
      the same kind; held or frozen units are never in a sink;
    * each obligation's surrendered offsets equal its retirements, within the cap;
    * the journal: hash chain intact, every entry balanced per asset, retired or cancelled
      units never taken out again, and the positions its lines add up to equal the ledger:
      each account's credits per issuance and status, each issuance's supply (issued = held
      + frozen + retired + cancelled), each points balance (= accruals − redemptions).
    """
    return [
        *_partition_problems(session),
        *_sink_problems(session),
        *_obligation_problems(session),
        *journal.chain_problems(session),
        *_position_problems(session),
    ]


def _position_problems(session: Session) -> list[str]:
    """Compare the journal's positions with the blocks, the issuances and the points balances.

    Cash positions are the market's (its balances are compared there), not checked here.
    """
    expected: dict[journal.Position, int] = defaultdict(int)
    for account_id, issuance_id, status, tonnes in session.execute(
        select(
            CreditBlock.account_id,
            CreditBlock.issuance_id,
            CreditBlock.status,
            func.sum(CreditBlock.last_serial - CreditBlock.first_serial + 1),
        ).group_by(CreditBlock.account_id, CreditBlock.issuance_id, CreditBlock.status)
    ):
        expected[(account_id, None, journal.credit_asset(issuance_id), status)] = int(tonnes)
    for issuance in session.scalars(select(CreditIssuance)):
        expected[(None, "issuance", journal.credit_asset(issuance.id), None)] = -issuance.quantity
    for account_id, centi in session.execute(
        select(RegistryAccount.id, RegistryAccount.points_centi).where(
            RegistryAccount.points_centi != 0
        )
    ):
        expected[(account_id, None, journal.POINTS, None)] = centi
        expected[(None, "points", journal.POINTS, None)] -= centi
    found = journal.positions(session)
    problems = []
    for position in sorted(set(expected) | set(found), key=str):
        account_id, book, asset, state = position
        if asset == journal.CASH or expected.get(position, 0) == found.get(position, 0):
            continue
        holder = f"account {account_id}" if book is None else f"book {book}"
        problems.append(
            f"journal: {holder} {asset} {state or ''}: lines sum to {found.get(position, 0)}, "
            f"ledger says {expected.get(position, 0)}"
        )
    return problems


def _partition_problems(session: Session) -> list[str]:
    problems = []
    blocks: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for issuance_id, first, last in session.execute(
        select(CreditBlock.issuance_id, CreditBlock.first_serial, CreditBlock.last_serial)
    ):
        blocks[issuance_id].append((first, last))
    for issuance in session.scalars(select(CreditIssuance)):
        expected = issuance.first_serial
        for first, last in sorted(blocks.get(issuance.id, [])):
            if first != expected:
                problems.append(
                    f"issuance {issuance.id}: block starts at {first}, expected {expected}"
                )
            expected = max(expected, last + 1)
        if expected != issuance.last_serial + 1:
            problems.append(
                f"issuance {issuance.id}: blocks end at {expected - 1}, "
                f"issued up to {issuance.last_serial}"
            )
    return problems


def _sink_problems(session: Session) -> list[str]:
    problems = []
    kinds = dict(session.execute(select(RegistryAccount.id, RegistryAccount.kind)).all())
    records = dict(session.execute(select(Retirement.id, Retirement.kind)).all())
    for block in session.scalars(select(CreditBlock)):
        in_sink = kinds[block.account_id] in ("retirement", "cancellation")
        terminal = block.status in TERMINAL_STATUSES
        if in_sink != terminal:
            problems.append(
                f"block {block.id}: status {block.status} in a {kinds[block.account_id]} account"
            )
        if terminal and records.get(block.retirement_id or -1) != block.status:
            problems.append(f"block {block.id}: {block.status} without a matching record")
    return problems


def _obligation_problems(session: Session) -> list[str]:
    used = dict(
        session.execute(
            select(Retirement.obligation_id, func.sum(Retirement.quantity))
            .where(Retirement.obligation_id.is_not(None))
            .group_by(Retirement.obligation_id)
        ).all()
    )
    return [
        f"obligation {obligation.id}: {obligation.offsets_surrendered_t} t recorded, "
        f"{used.get(obligation.id, 0)} t retired, cap {obligation.offset_cap_t} t"
        for obligation in session.scalars(select(ComplianceObligation))
        if obligation.offsets_surrendered_t != int(used.get(obligation.id, 0))
        or obligation.offsets_surrendered_t > obligation.offset_cap_t
    ]
