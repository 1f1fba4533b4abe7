"""Carbon-inclusion registry use-cases: who may do what, one audited transaction per request.

The ledger rules live in :mod:`qingshan.store.ledger`; this module adds

* **permissions** (:class:`Principal`): ``admin`` issues, cancels, freezes and defines
  methodologies; ``admin`` and ``analyst`` (the platform operator) open accounts, record
  actions, redeem points and record obligations. An account linked to a user (an enterprise's
  own account) is moved only by that user or an admin; a custodial account (no user: residents,
  project owners and the platform, operated by the platform) by admin or analyst;
* **idempotent retries**: a request whose key was committed by a concurrent twin returns the
  twin's result instead of an error;
* the **actions import** (CSV/XLSX/Parquet; every bad cell named, nothing written) and the
  account statement, certificate and verification reports.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qingshan.services import certificates
from qingshan.services.group_commit import GroupCommit
from qingshan.services.tables import (
    ProblemCollector,
    parse_numbers,
    parse_times,
    read_table,
    require_columns,
    write_workbook,
)
from qingshan.store import journal, ledger, market
from qingshan.store.engine import reading, writing
from qingshan.store.ledger import LedgerError, NotFound
from qingshan.store.models import (
    ComplianceObligation,
    ComplianceScheme,
    Methodology,
    RegistryAccount,
    RegistryOperation,
    Retirement,
    User,
)

PLATFORM_ROLES = ("admin", "analyst")
ADMIN_ROLES = ("admin",)
ACTION_COLUMNS = ("account", "methodology", "quantity", "time", "key")
BEIJING = ZoneInfo("Asia/Shanghai")
T = TypeVar("T")

__all__ = ["Forbidden", "LedgerError", "NotFound", "Principal"]


class Forbidden(LedgerError):
    """The principal may not do this (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    """Who acts: the audit actor, the role and (for API callers) the user id."""

    actor: str
    role: str
    user_id: int | None = None

    def require(self, roles: tuple[str, ...], what: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not {what}")


def _may_move(principal: Principal, account: RegistryAccount) -> None:
    """Owners move their own credits; custodial accounts are moved by the platform."""
    if account.code == ledger.MARKET_ESCROW:
        raise Forbidden("units in the market escrow move only through their order: cancel it")
    if principal.role == "admin":
        return
    if account.user_id is not None:
        if account.user_id != principal.user_id:
            raise Forbidden(f"account {account.code} belongs to another user")
    elif principal.role not in PLATFORM_ROLES:
        raise Forbidden(f"account {account.code} is operated by the platform")


def _write(engine: Engine, principal: Principal, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one audited transaction (:func:`_commit`), then seal the journal."""
    result = _commit(engine, principal, work)
    seal_journal(engine, principal.actor, wait=False)
    return result


def _commit(engine: Engine, principal: Principal, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one audited transaction, once more if a unique index refused it.

    A unique violation means a concurrent transaction committed first: a twin request with
    the same idempotency key (the second run finds its result and returns it, changing
    nothing), an issuance of the same serial prefix (the second run numbers after it), or an
    account or obligation created twice (the second run refuses with a clear reason).
    """
    try:
        with writing(engine, principal.actor) as session:
            return work(session)
    except IntegrityError:
        with writing(engine, principal.actor) as session:
            return work(session)


def seal_journal(engine: Engine, actor: str, *, wait: bool = True) -> int:
    """Chain the journal entries committed so far (this request's and any concurrent one's) in
    a short transaction of its own, so writers hold the chain's lock only while sealing; after
    a write it does not wait for a sealer already at work (docs/registry.md, journal)."""
    with writing(engine, actor) as session:
        return journal.seal(session, wait=wait)


# ------------------------------------------------------------------------------------------
# Accounts and reference data
# ------------------------------------------------------------------------------------------


def open_account(
    engine: Engine,
    principal: Principal,
    *,
    code: str,
    name: str,
    kind: str,
    username: str | None = None,
) -> dict[str, Any]:
    """Open an individual, enterprise or project-owner account (optionally owned by a user)."""
    principal.require(PLATFORM_ROLES, "open accounts")

    def work(session: Session) -> dict[str, Any]:
        user_id = None
        if username:
            user_id = session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                raise NotFound(f"no user {username!r}")
        return _account_dict(ledger.open_account(session, code, name, kind, user_id))

    return _write(engine, principal, work)


def _account_dict(account: RegistryAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "code": account.code,
        "name": account.name,
        "kind": account.kind,
        "points": account.points_centi / 100,
        "owned_by_user": account.user_id is not None,
    }


def list_accounts(engine: Engine, *, user_id: int | None = None) -> list[dict[str, Any]]:
    """Every account, or only those ``user_id`` acts on."""
    query = select(RegistryAccount).order_by(RegistryAccount.id)
    if user_id is not None:
        query = query.where(RegistryAccount.user_id == user_id)
    with reading(engine) as session:
        return [_account_dict(account) for account in session.scalars(query)]


def _methodology_dict(methodology: Methodology) -> dict[str, Any]:
    return {
        "code": methodology.code,
        "name": methodology.name,
        "version": methodology.version,
        "scheme": methodology.scheme,
        "kind": methodology.kind,
        "unit": methodology.unit,
        "grams_per_unit": methodology.grams_per_unit,
        "points_per_unit": methodology.points_per_unit,
        "daily_cap_units": methodology.daily_cap_units,
        "active": methodology.active,
        "document": methodology.document,
        "source": methodology.source,
        "parameters": methodology.parameters,
    }


def list_methodologies(engine: Engine) -> list[dict[str, Any]]:
    with reading(engine) as session:
        rows = session.scalars(select(Methodology).order_by(Methodology.id))
        return [_methodology_dict(methodology) for methodology in rows]


METHODOLOGY_FIELDS = frozenset(
    {
        "name",
        "version",
        "scheme",
        "kind",
        "document",
        "source",
        "unit",
        "grams_per_unit",
        "points_per_unit",
        "daily_cap_units",
        "active",
    }
)


def define_methodology(
    engine: Engine, principal: Principal, code: str, **fields: Any
) -> dict[str, Any]:
    """Add a methodology or change one (e.g. enter a verified factor and activate it)."""
    principal.require(ADMIN_ROLES, "define methodologies")
    unknown = set(fields) - METHODOLOGY_FIELDS
    if unknown:
        raise LedgerError(f"unknown methodology fields: {', '.join(sorted(unknown))}")

    def work(session: Session) -> dict[str, Any]:
        methodology = session.scalar(select(Methodology).where(Methodology.code == code))
        if methodology is None:
            missing = {"name", "version", "scheme", "kind", "document", "source"} - set(fields)
            if missing:
                raise LedgerError(f"a new methodology needs {', '.join(sorted(missing))}")
            methodology = Methodology(code=code, parameters={})
            session.add(methodology)
        for field, value in fields.items():
            setattr(methodology, field, value)
        session.flush()
        return _methodology_dict(methodology)

    return _write(engine, principal, work)


def add_obligation(
    engine: Engine,
    principal: Principal,
    *,
    account_code: str,
    scheme: str,
    year: int,
    verified_emissions_t: int,
) -> dict[str, Any]:
    """Record verified emissions for a year; the offset cap follows the scheme (CN-ETS: 5 %)."""
    principal.require(PLATFORM_ROLES, "record compliance obligations")

    def work(session: Session) -> dict[str, Any]:
        account = ledger.account_by_code(session, account_code)
        obligation = ledger.add_obligation(session, account.id, scheme, year, verified_emissions_t)
        return {**_obligation_dict(obligation, scheme), "account": account_code}

    return _write(engine, principal, work)


def _obligation_dict(obligation: ComplianceObligation, scheme: str) -> dict[str, Any]:
    return {
        "id": obligation.id,
        "scheme": scheme,
        "year": obligation.year,
        "verified_emissions_t": obligation.verified_emissions_t,
        "offset_cap_t": obligation.offset_cap_t,
        "offsets_surrendered_t": obligation.offsets_surrendered_t,
    }


# ------------------------------------------------------------------------------------------
# Points
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionRow:
    account: str
    methodology: str
    quantity: float
    occurred_at: datetime
    key: str
    evidence: str = ""


def _action_dict(outcome: ledger.ActionOutcome) -> dict[str, Any]:
    return {
        "key": outcome.key,
        "status": outcome.status,
        "reason": outcome.reason,
        "reduction_g": outcome.reduction_mg / 1000,
        "points": outcome.points_centi / 100,
    }


def record_actions(
    engine: Engine, principal: Principal, rows: list[ActionRow]
) -> list[dict[str, Any]]:
    """Record actions in one transaction; each one is accepted, rejected (with the reason) or
    recognised as a duplicate of an earlier one."""
    principal.require(PLATFORM_ROLES, "record low-carbon actions")

    def work(session: Session) -> list[dict[str, Any]]:
        codes = {row.account for row in rows}
        accounts = ledger.account_ids(session, sorted(codes))
        if missing := codes - set(accounts):
            raise NotFound(f"no registry account {', '.join(sorted(missing))}")
        inputs = [
            ledger.ActionInput(
                key=row.key,
                account_id=accounts[row.account],
                methodology_code=row.methodology,
                quantity=row.quantity,
                occurred_at=row.occurred_at,
                evidence=row.evidence,
            )
            for row in rows
        ]
        return [_action_dict(outcome) for outcome in ledger.record_actions(session, inputs)]

    return _write(engine, principal, work)


def load_actions(path: str | Path, engine: Engine) -> list[ActionRow]:
    """Read an actions table (columns ``account, methodology, quantity, time, key`` and
    optionally ``evidence``; ``time`` in Beijing time); raise ``InputError`` naming every bad
    cell, including unknown accounts and methodologies."""
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, ACTION_COLUMNS, problems)
    problems.raise_if_any()
    frame = parse_numbers(frame, ["quantity"], problems, minimum=0.0, what="quantity")
    frame = parse_times(frame, "time", problems)
    with reading(engine) as session:
        known = {
            "account": set(session.scalars(select(RegistryAccount.code))),
            "methodology": set(session.scalars(select(Methodology.code))),
        }
    for column in ("account", "methodology", "key"):
        text = frame[column].cast(pl.String).str.strip_chars()
        problems.check(frame, text.is_null() | (text == ""), column, "a value is required")
        if column in known:
            unknown = text.is_not_null() & ~text.is_in(sorted(known[column]))
            problems.check(frame, unknown, column, f"no {column} {{value!r}}")
    quantity = frame["quantity"]
    problems.check(frame, (quantity <= 0).fill_null(True), "quantity", "must be above 0")
    keys = frame["key"].cast(pl.String)
    problems.check(frame, keys.is_duplicated() & keys.is_not_null(), "key", "key {value!r} twice")
    problems.raise_if_any()
    evidence = frame["evidence"].cast(pl.String) if "evidence" in frame.columns else None
    return [
        ActionRow(
            account=str(row["account"]).strip(),
            methodology=str(row["methodology"]).strip(),
            quantity=float(row["quantity"]),
            occurred_at=row["time"].replace(tzinfo=BEIJING),
            key=str(row["key"]).strip(),
            evidence=(evidence[index] or "") if evidence is not None else "",
        )
        for index, row in enumerate(frame.iter_rows(named=True))
    ]


def redeem(
    engine: Engine, principal: Principal, *, key: str, account_code: str, points: float, note: str
) -> dict[str, Any]:
    """Spend points (coupons, benefits): the platform does it for the resident."""
    principal.require(PLATFORM_ROLES, "redeem points")
    centi = round(points * 100)

    def work(session: Session) -> dict[str, Any]:
        account = ledger.account_by_code(session, account_code)
        operation = ledger.redeem(session, key, account_id=account.id, points=centi, note=note)
        return ledger.operation_dict(operation)

    return _write(engine, principal, work)


# ------------------------------------------------------------------------------------------
# Credits
# ------------------------------------------------------------------------------------------


def issue(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    methodology: str,
    project_code: str,
    project_name: str,
    vintage: int,
    quantity: int,
    to_account: str,
    verification: str,
) -> dict[str, Any]:
    """Issue verified credits as one serial block (registry administrator only)."""
    principal.require(ADMIN_ROLES, "issue credits")

    def work(session: Session) -> dict[str, Any]:
        owner = _receiver(session, to_account)
        operation = ledger.issue(
            session,
            key,
            methodology_code=methodology,
            project_code=project_code,
            project_name=project_name,
            vintage=vintage,
            quantity=quantity,
            to_account_id=owner.id,
            verification=verification,
        )
        return ledger.operation_dict(operation)

    return _write(engine, principal, work)


def issue_from_actions(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    methodology: str,
    first_day: date,
    last_day: date,
    project_code: str,
    to_account: str = "SYS-PLATFORM",
) -> dict[str, Any]:
    """Issue the unissued individual reductions of a period as credits (administrator only)."""
    principal.require(ADMIN_ROLES, "issue credits")

    def work(session: Session) -> dict[str, Any]:
        owner = _receiver(session, to_account)
        operation = ledger.issue_from_actions(
            session,
            key,
            methodology_code=methodology,
            first_day=first_day,
            last_day=last_day,
            project_code=project_code,
            to_account_id=owner.id,
        )
        return ledger.operation_dict(operation)

    return _write(engine, principal, work)


def _receiver(session: Session, account_code: str) -> RegistryAccount:
    """An account credits may be issued or moved to (:func:`_not_to_escrow`)."""
    _not_to_escrow(account_code)
    return ledger.account_by_code(session, account_code)


def _not_to_escrow(account_code: str) -> None:
    """Units reach the market escrow only with a sell order (:mod:`qingshan.store.market`),
    never by a registry operation."""
    if account_code == ledger.MARKET_ESCROW:
        raise Forbidden("credits enter the market escrow only with a sell order")


def _owned(session: Session, principal: Principal, account_code: str) -> RegistryAccount:
    account = ledger.account_by_code(session, account_code)
    _may_move(principal, account)
    return account


@dataclass(frozen=True)
class TransferRequest:
    """One :func:`transfer` call waiting for its batch (:mod:`qingshan.services.group_commit`)."""

    key: str
    block_id: int
    quantity: int
    from_account: str
    to_account: str
    price_fen_per_t: int | None


def transfer(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    block_id: int,
    quantity: int,
    from_account: str,
    to_account: str,
    price_yuan_per_t: float | None = None,
) -> dict[str, Any]:
    """Move credits to another account; with a price, record it as a bilateral trade.

    Group commit: transfers that this process's threads request meanwhile are applied with
    this one in one transaction (:func:`apply_transfers`); returns once it is committed, with
    its own result or its own refusal, exactly as if it had been applied alone."""
    price = None if price_yuan_per_t is None else round(price_yuan_per_t * 100)
    request = TransferRequest(key, block_id, quantity, from_account, to_account, price)
    return _transfer_queue(engine, principal).submit(request)


TransferOutcome = dict[str, Any] | Exception
_QUEUES: weakref.WeakKeyDictionary[
    Engine, dict[Principal, GroupCommit[TransferRequest, dict[str, Any]]]
] = weakref.WeakKeyDictionary()
_QUEUES_LOCK = threading.Lock()


def _transfer_queue(
    engine: Engine, principal: Principal
) -> GroupCommit[TransferRequest, dict[str, Any]]:
    """The queue of one engine and principal: a batch is one audited transaction, which has
    one actor, and its permission checks are that principal's."""
    with _QUEUES_LOCK:
        queues = _QUEUES.setdefault(engine, {})
        if principal not in queues:
            queues[principal] = GroupCommit(
                lambda requests: commit_transfers(engine, principal, requests),
                lambda _requests: seal_journal(engine, principal.actor, wait=False),
            )
        return queues[principal]


def commit_transfers(
    engine: Engine, principal: Principal, requests: list[TransferRequest]
) -> list[TransferOutcome]:
    """Apply ``requests`` in one transaction (:func:`apply_transfers`); one outcome each.

    A refusal (:class:`LedgerError`) is one request's outcome and leaves the others alone. An
    error of the database (a CHECK, a deadlock, a lost connection) rolls the whole batch back;
    then each request is applied again in a transaction of its own, so that only the one that
    caused it fails and nothing is applied half."""
    try:
        return _commit(engine, principal, lambda s: apply_transfers(s, principal, requests))
    except Exception as error:  # the batch rolled back whole
        if len(requests) == 1:
            return [error]
        return [
            outcome
            for request in requests
            for outcome in commit_transfers(engine, principal, [request])
        ]


def apply_transfers(
    session: Session, principal: Principal, requests: list[TransferRequest]
) -> list[TransferOutcome]:
    """Check and apply transfers in order in the caller's transaction: their accounts read in
    one query, each sender checked against the principal (:func:`_may_move`), then one
    :func:`qingshan.store.ledger.move_many` for all; a result dict or a refusal each."""
    codes = sorted({code for r in requests for code in (r.from_account, r.to_account)})
    accounts = ledger.accounts_by_code(session, codes)
    outcomes: list[TransferOutcome | int] = []
    moves: list[ledger.Move] = []
    for request in requests:
        try:
            sender = _known(accounts, request.from_account)
            _may_move(principal, sender)
            _not_to_escrow(request.to_account)
            receiver = _known(accounts, request.to_account)
        except LedgerError as error:
            outcomes.append(error)
            continue
        outcomes.append(len(moves))
        moves.append(
            ledger.Move(
                request.key,
                request.block_id,
                request.quantity,
                sender.id,
                receiver.id,
                request.price_fen_per_t,
            )
        )
    moved = ledger.move_many(session, moves)
    return [_outcome(moved[o]) if isinstance(o, int) else o for o in outcomes]


def _known(accounts: dict[str, RegistryAccount], code: str) -> RegistryAccount:
    if code not in accounts:
        raise NotFound(f"no registry account {code!r}")
    return accounts[code]


def _outcome(moved: RegistryOperation | LedgerError) -> TransferOutcome:
    return moved if isinstance(moved, LedgerError) else ledger.operation_dict(moved)


def _spend(
    engine: Engine,
    principal: Principal,
    from_account: str,
    move: Callable[[Session, int], RegistryOperation],
) -> dict[str, Any]:
    """Run ``move(session, owner_id)`` — a retirement or a surrender — on credits of
    ``from_account``, which the principal must be allowed to move (:func:`_owned`); one audited
    transaction. The answer names the certificate: its number and verification path."""

    def work(session: Session) -> dict[str, Any]:
        owner = _owned(session, principal, from_account)
        operation = ledger.operation_dict(move(session, owner.id))
        found = certificates.certificate_for(session, operation["details"]["retirement_id"])
        return {**operation, "certificate": found.number, "verify_path": found.verify_path}

    return _write(engine, principal, work)


def retire(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    block_id: int,
    quantity: int,
    from_account: str,
    purpose: str,
    beneficiary: str,
    note: str = "",
) -> dict[str, Any]:
    """Retire credits for neutrality (碳中和) or voluntarily (自愿注销), with a certificate."""
    return _spend(
        engine,
        principal,
        from_account,
        lambda session, owner_id: ledger.retire(
            session,
            key,
            block_id=block_id,
            quantity=quantity,
            from_account_id=owner_id,
            purpose=purpose,
            beneficiary=beneficiary,
            note=note,
        ),
    )


def surrender(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    block_id: int,
    quantity: int,
    from_account: str,
    obligation_id: int,
    note: str = "",
) -> dict[str, Any]:
    """Use credits against a compliance obligation (履约抵销), within the scheme's offset cap;
    the certificate states the obligation (scheme, year, verified emissions, offset cap)."""
    return _spend(
        engine,
        principal,
        from_account,
        lambda session, owner_id: ledger.surrender(
            session,
            key,
            block_id=block_id,
            quantity=quantity,
            from_account_id=owner_id,
            obligation_id=obligation_id,
            note=note,
        ),
    )


def cancel(
    engine: Engine, principal: Principal, *, key: str, block_id: int, quantity: int, reason: str
) -> dict[str, Any]:
    """Cancel credits with a reason (registry administrator only)."""
    principal.require(ADMIN_ROLES, "cancel credits")

    def work(session: Session) -> dict[str, Any]:
        _not_escrowed(session, block_id)
        operation = ledger.cancel(session, key, block_id=block_id, quantity=quantity, reason=reason)
        return ledger.operation_dict(operation)

    return _write(engine, principal, work)


def _not_escrowed(session: Session, block_id: int) -> None:
    """Units of an open sell order change only through the order (the market settles them)."""
    if order_id := market.escrowed_order(session, block_id):
        raise Forbidden(f"block {block_id} is escrowed by market order {order_id}: cancel it first")


def freeze(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    block_id: int,
    quantity: int,
    frozen: bool,
    reason: str,
) -> dict[str, Any]:
    """Freeze credits (e.g. during an investigation) or release them (administrator only)."""
    principal.require(ADMIN_ROLES, "freeze credits")

    def work(session: Session) -> dict[str, Any]:
        _not_escrowed(session, block_id)
        operation = ledger.set_frozen(
            session, key, block_id=block_id, quantity=quantity, frozen=frozen, reason=reason
        )
        return ledger.operation_dict(operation)

    return _write(engine, principal, work)


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------


def statement(engine: Engine, principal: Principal, account_code: str) -> dict[str, Any]:
    """An account's points, holdings, event timeline (a retirement or surrender names its
    certificate) and compliance obligations with the surrenders made against each (owners,
    platform and auditors)."""
    with reading(engine) as session:
        account = ledger.account_by_code(session, account_code)
        if principal.role not in PLATFORM_ROLES:
            _may_move(principal, account)
        return {
            "account": _account_dict(account),
            "holdings": ledger.holdings(session, account.id),
            "timeline": _certified(
                session, account.id, ledger.account_timeline(session, account.id)
            ),
            "obligations": _obligations(session, account.id),
        }


def _certified(
    session: Session, account_id: int, timeline: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The timeline, each event with the ``certificate`` number of the account's retirement or
    surrender it made (None for other events)."""
    numbers = dict(
        session.execute(
            select(Retirement.id, Retirement.certificate_number).where(
                Retirement.from_account_id == account_id, Retirement.kind == "retired"
            )
        ).all()
    )
    return [
        {**event, "certificate": numbers.get(event["details"].get("retirement_id"))}
        for event in timeline
    ]


def _obligations(session: Session, account_id: int) -> list[dict[str, Any]]:
    """The account's compliance obligations, oldest year first, each with its ``surrenders``
    (serial, tonnes, time, certificate number)."""
    rows = session.execute(
        select(ComplianceObligation, ComplianceScheme.code)
        .join(ComplianceScheme, ComplianceScheme.id == ComplianceObligation.scheme_id)
        .where(ComplianceObligation.account_id == account_id)
        .order_by(ComplianceObligation.year, ComplianceObligation.id)
    ).all()
    surrenders = session.scalars(
        select(Retirement)
        .where(Retirement.obligation_id.in_([obligation.id for obligation, _ in rows]))
        .order_by(Retirement.id)
    )
    used: dict[int | None, list[dict[str, Any]]] = {}
    for record in surrenders:
        used.setdefault(record.obligation_id, []).append(
            {
                "retirement_id": record.id,
                "serial": record.serial,
                "quantity_t": record.quantity,
                "at": record.at.isoformat(),
                "certificate": record.certificate_number,
            }
        )
    return [
        {**_obligation_dict(obligation, scheme), "surrenders": used.get(obligation.id, [])}
        for obligation, scheme in rows
    ]


def block_history(engine: Engine, block_id: int) -> list[dict[str, Any]]:
    with reading(engine) as session:
        return ledger.block_timeline(session, block_id)


def lookup_serial(engine: Engine, serial: str) -> list[dict[str, Any]]:
    with reading(engine) as session:
        return ledger.lookup_serial(session, serial)


def supply(engine: Engine) -> list[dict[str, Any]]:
    with reading(engine) as session:
        return ledger.supply(session)


def verify(engine: Engine, actor: str = "system:verify") -> list[str]:
    """Seal what is pending (entries committed by a writer that stopped before sealing), then
    re-check the chain and every invariant, the ledger's and the market's (cash conservation,
    escrow, fills)."""
    seal_journal(engine, actor)
    with reading(engine) as session:
        return [*ledger.verify(session), *market.verify(session)]


EXPORT_SHEETS = ("accounts", "methodologies", "issuances", "blocks", "retirements", "journal")


def export_ledger(engine: Engine, path: str | Path) -> dict[str, int]:
    """Write the whole ledger as an XLSX workbook, one sheet per table (accounts,
    methodologies, issuances, blocks with their serial ranges, retirements and cancellations,
    journal lines with their entry's chain position and hash); returns the rows per sheet.

    Read in one transaction, so the sheets agree with each other.
    """
    with reading(engine) as session:
        sheets = {name: _sheet(session, name) for name in EXPORT_SHEETS}
    write_workbook(sheets, path)
    return {name: frame.height for name, frame in sheets.items()}


def _sheet(session: Session, name: str) -> pl.DataFrame:
    query = sql_text(EXPORT_QUERIES[name])
    result = session.execute(query)
    columns = list(result.keys())
    rows = [dict(zip(columns, row, strict=True)) for row in result]
    frame = pl.DataFrame(rows, schema=columns, infer_schema_length=None, orient="row")
    timestamps = [column for column in columns if column in ("created_at", "issued_at", "at")]
    return frame.with_columns(pl.col(column).cast(pl.String) for column in timestamps)


EXPORT_QUERIES = {
    "accounts": "SELECT id, code, name, kind, points_centi, created_at FROM registry_accounts "
    "ORDER BY id",
    "methodologies": "SELECT id, code, name, version, scheme, kind, document, unit, "
    "grams_per_unit, points_per_unit, daily_cap_units, active FROM registry_methodologies "
    "ORDER BY id",
    "issuances": "SELECT i.id, m.code AS methodology, i.project_code, i.project_name, i.vintage, "
    "i.serial_prefix, i.first_serial, i.last_serial, i.last_serial - i.first_serial + 1 AS "
    "quantity_t, i.verification, i.issued_at FROM registry_issuances i "
    "JOIN registry_methodologies m ON m.id = i.methodology_id ORDER BY i.id",
    "blocks": "SELECT b.id, b.issuance_id, i.serial_prefix || '-' || CAST(b.first_serial AS "
    "VARCHAR(20)) || '-' || CAST(b.last_serial AS VARCHAR(20)) AS serial, b.first_serial, "
    "b.last_serial, b.last_serial - b.first_serial + 1 AS quantity_t, a.code AS account, "
    "b.status, b.parent_id, b.retirement_id FROM registry_blocks b "
    "JOIN registry_issuances i ON i.id = b.issuance_id "
    "JOIN registry_accounts a ON a.id = b.account_id ORDER BY b.issuance_id, b.first_serial",
    "retirements": "SELECT r.id, r.kind, r.purpose, r.beneficiary, r.note, r.reason, "
    "r.obligation_id, a.code AS from_account, r.serial, r.quantity, r.certificate_number, "
    "r.certificate_sha256, r.at FROM registry_retirements r "
    "JOIN registry_accounts a ON a.id = r.from_account_id ORDER BY r.id",
    "journal": "SELECT e.seq, e.id AS entry, e.kind, e.at, o.idempotency_key AS operation_key, "
    "l.line, a.code AS account, l.book, l.asset, l.quantity, l.state, l.first_serial, "
    "l.last_serial, e.prev_hash, e.hash FROM registry_journal_entries e "
    "JOIN registry_journal_lines l ON l.entry_id = e.id "
    "LEFT JOIN registry_operations o ON o.id = e.operation_id "
    "LEFT JOIN registry_accounts a ON a.id = l.account_id ORDER BY e.seq, e.id, l.line",
}
"""One query per sheet (SQL both backends read alike); codes instead of ids where a reader
needs them."""


def certificate(engine: Engine, number: str) -> dict[str, Any]:
    """A retirement certificate (:mod:`qingshan.services.certificates`): its sealed content, the
    stored hash, verification code and path, issuance, and whether it still matches
    (``intact``)."""
    with reading(engine) as session:
        found = certificates.certificate_for(session, number)
        return {**found.record(), "intact": found.valid}
