"""The registry's double-entry, hash-chained journal (docs/registry.md, "Journal").

Every movement of points, credits or cash is one **entry** of **lines**; each line says that an
account (or a system *book*, the outside of the registry: credits issued, points granted, cash
paid in) gains or loses a signed quantity of an asset. The lines of an entry sum to zero per
asset, so every unit comes from somewhere and goes somewhere. Assets:

* ``points``: hundredths of a carbon point;
* ``cash``: fen (0.01 yuan) of a yuan balance (the market's settlement);
* ``credit:<issuance id>``: tonnes of one issuance, with the serial range and the state
  (held, frozen, retired, cancelled) of the units on that side of the line.

**Chain.** Writers insert entries *unsealed* in their own transaction (no shared row is
touched, so writers never wait for each other here). :func:`seal` then, under the lock of the
single head row, takes every committed unsealed entry in id order, numbers it (``seq``, the
position in the chain) and sets ``hash = sha256(prev_hash ‖ canonical(entry))`` where
``canonical`` is the JSON of :func:`canonical_entry` (sorted keys, no spaces, UTF-8) and the
first ``prev_hash`` is :data:`GENESIS`. Services call :func:`seal` right after committing, so
one sealer seals the entries of all writers that committed meanwhile: the lock is held for one
short transaction per batch, not per movement. The chain order is the seal order.

A trigger (migration 0006) refuses DELETE and any UPDATE of an entry except the one that seals
it, and any UPDATE or DELETE of a line: a later change needs the triggers dropped, and
:func:`chain_problems` then finds the entry whose hash no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from qingshan.store import bulk
from qingshan.store.models import JournalEntry, JournalHead, JournalLine
from qingshan.store.types import utc_now

POINTS = "points"
CASH = "cash"
GENESIS = "0" * 64
"""``prev_hash`` of the first entry of the chain."""
BOOKS = ("issuance", "points", "cash")
"""System books: the outside of the registry that issued credits, granted points, paid cash."""


def credit_asset(issuance_id: int) -> str:
    """The asset name of the credits of one issuance."""
    return f"credit:{issuance_id}"


@dataclass(frozen=True)
class Line:
    """One leg of an entry: ``account_id`` (or ``book``) gains ``quantity`` (negative: loses)."""

    asset: str
    quantity: int
    account_id: int | None = None
    book: str | None = None
    state: str | None = None
    first_serial: int | None = None
    last_serial: int | None = None


def move_credits(
    issuance_id: int,
    quantity: int,
    serials: tuple[int, int],
    source: tuple[int | None, str | None],
    target: tuple[int, str],
    *,
    book: str | None = None,
) -> list[Line]:
    """The two lines of a credit movement: ``source`` = (account, state) loses the serial range,
    ``target`` = (account, state) gains it (``book`` instead of a source account: issuance)."""
    asset = credit_asset(issuance_id)
    first, last = serials
    return [
        Line(asset, -quantity, source[0], book, source[1], first, last),
        Line(asset, quantity, target[0], None, target[1], first, last),
    ]


class UnbalancedEntry(ValueError):
    """The lines of an entry do not sum to zero per asset (a bug in the caller)."""


@dataclass(frozen=True)
class Posting:
    """An entry to append: its kind, its lines, the operation it journals (if any)."""

    kind: str
    lines: Sequence[Line]
    operation_id: int | None = None


def post(
    session: Session, kind: str, lines: Sequence[Line], *, operation_id: int | None = None
) -> int:
    """Append one unsealed entry with its lines in the session's transaction; returns its id.

    Any asset may be posted (points, cash, credits); the lines must balance per asset.
    """
    (entry_id,) = post_many(session, [Posting(kind, lines, operation_id)])
    return entry_id


def post_many(session: Session, postings: Sequence[Posting]) -> list[int]:
    """Append unsealed entries (ids in the order given) and all their lines: two statements
    however many entries. Every entry must balance per asset, or none is written."""
    for posting in postings:
        if problems := imbalance(posting.lines):
            raise UnbalancedEntry(f"{posting.kind}: {problems}")
    if not postings:
        return []
    now = utc_now()
    entry_ids: list[int] = list(
        session.scalars(
            insert(JournalEntry).returning(JournalEntry.id, sort_by_parameter_order=True),
            [{"kind": p.kind, "at": now, "operation_id": p.operation_id} for p in postings],
        )
    )
    rows = [
        {
            "entry_id": entry_id,
            "line": number,
            "account_id": line.account_id,
            "book": line.book,
            "asset": line.asset,
            "quantity": line.quantity,
            "state": line.state,
            "first_serial": line.first_serial,
            "last_serial": line.last_serial,
        }
        for entry_id, posting in zip(entry_ids, postings, strict=True)
        for number, line in enumerate(posting.lines, start=1)
    ]
    few = len(rows) < bulk.COPY_MIN_ROWS  # a request's lines; a batch of accruals is COPYed
    (bulk.insert_values if few else bulk.insert_rows)(session, JournalLine.__table__, rows)
    return entry_ids


def post_columns(session: Session, kind: str, lines: pl.DataFrame) -> int:
    """:func:`post` for an entry of many lines given as columns (``asset``, ``quantity``,
    ``account_id``, ``book``; the other fields of :class:`Line` NULL), in bulk: the one entry
    of a batch of actions has a line per account, hundreds of thousands of them (as
    :class:`Line` objects they cost more than writing them)."""
    sums = lines.group_by("asset").agg(pl.col("quantity").sum()).rows()
    if problems := {asset: total for asset, total in sums if total}:
        raise UnbalancedEntry(f"{kind}: {problems}")
    (entry_id,) = post_many(session, [Posting(kind, [])])
    bulk.insert_frame(
        session,
        JournalLine.__table__,
        lines.select("account_id", "book", "asset", "quantity").with_columns(
            entry_id=pl.lit(entry_id, pl.Int64), line=pl.int_range(1, lines.height + 1)
        ),
    )
    return entry_id


def imbalance(lines: Iterable[Line]) -> dict[str, int]:
    """Assets whose lines do not sum to zero, with the sum (empty when balanced)."""
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.asset] += line.quantity
    return {asset: total for asset, total in totals.items() if total}


# ------------------------------------------------------------------------------------------
# The chain
# ------------------------------------------------------------------------------------------

LINE_FIELDS = (
    "account_id",
    "book",
    "asset",
    "quantity",
    "state",
    "first_serial",
    "last_serial",
)


def canonical_entry(entry: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    """The text an entry's hash covers: JSON with sorted keys, no spaces, UTF-8 (as certificates).

    ``{"at": ISO time, "entry": id, "kind", "lines": [[account_id, book, asset, quantity,
    state, first_serial, last_serial], …] in line order, "operation": id or null, "seq": n}``
    """
    content = {
        "seq": entry["seq"],
        "entry": entry["id"],
        "kind": entry["kind"],
        "at": entry["at"].isoformat(),
        "operation": entry["operation_id"],
        "lines": [[line[field] for field in LINE_FIELDS] for line in lines],
    }
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, canonical: str) -> str:
    """``sha256(prev_hash ‖ canonical)`` as 64 hex digits."""
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


ENTRY_FIELDS = ("id", "kind", "at", "operation_id", "seq", "prev_hash", "hash")


def _entries(session: Session, *conditions: Any) -> list[dict[str, Any]]:
    """Entries (as dicts with their lines), in the order given by ``seq`` then ``id``: one
    query, the lines joined (a seal reads its entries in one round trip)."""
    line_columns = [getattr(JournalLine, field) for field in LINE_FIELDS]
    rows = session.execute(
        select(
            *(getattr(JournalEntry, field) for field in ENTRY_FIELDS),
            JournalLine.line,
            *line_columns,
        )
        .outerjoin(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(*conditions)
        .order_by(JournalEntry.seq, JournalEntry.id, JournalLine.line)
    )
    entries: list[dict[str, Any]] = []
    width = len(ENTRY_FIELDS)
    for row in rows:
        if not entries or entries[-1]["id"] != row[0]:
            entries.append(dict(zip(ENTRY_FIELDS, row[:width], strict=True)) | {"lines": []})
        if row[width] is not None:
            entries[-1]["lines"].append(dict(zip(LINE_FIELDS, row[width + 1 :], strict=True)))
    return entries


def seal(session: Session, *, wait: bool = True) -> int:
    """Chain every committed unsealed entry, in id order; returns how many were sealed.

    Locks the head row for the rest of the caller's transaction (keep it short: commit right
    after). Entries committed by others while this runs are sealed by the next call. With
    ``wait=False`` (PostgreSQL ``SKIP LOCKED``) a call that finds another sealer at work
    returns 0 at once: that sealer, or the next, takes this caller's entries along.
    """
    head = session.scalar(
        select(JournalHead)
        .where(JournalHead.id == 1)
        .with_for_update(skip_locked=not wait)
        .execution_options(populate_existing=True)
    )
    if head is None:
        if not wait:
            return 0
        raise RuntimeError("journal head missing: run `qingshan db upgrade`")
    pending = _entries(session, JournalEntry.seq.is_(None))
    if not pending:
        return 0
    seq, prev = head.seq, head.hash
    sealed = []
    for entry in pending:
        seq += 1
        entry["seq"] = seq
        digest = chain_hash(prev, canonical_entry(entry, entry["lines"]))
        sealed.append({"entry_id": entry["id"], "n": seq, "prev": prev, "digest": digest})
        prev = digest
    _write_seals(session, sealed, seq, prev)
    return len(sealed)


def _write_seals(session: Session, sealed: list[dict[str, Any]], seq: int, head: str) -> None:
    """Set ``seq``, ``prev_hash`` and ``hash`` of the sealed entries and move the head to
    (``seq``, ``head``): on PostgreSQL one statement, ``UPDATE … FROM unnest(…)`` in a CTE
    before the head's UPDATE (an ``executemany`` would run one statement per entry)."""
    if bulk.is_postgresql(session):
        session.execute(
            text(
                "WITH sealed AS (UPDATE registry_journal_entries AS e SET seq = v.n, "
                "prev_hash = v.prev, hash = v.digest FROM unnest(CAST(:ids AS bigint[]), "
                "CAST(:ns AS bigint[]), CAST(:prevs AS varchar[]), CAST(:digests AS varchar[])) "
                "AS v(id, n, prev, digest) WHERE e.id = v.id) "
                "UPDATE registry_journal_head SET seq = :seq, hash = :head WHERE id = 1"
            ),
            {
                "ids": [row["entry_id"] for row in sealed],
                "ns": [row["n"] for row in sealed],
                "prevs": [row["prev"] for row in sealed],
                "digests": [row["digest"] for row in sealed],
                "seq": seq,
                "head": head,
            },
        )
        return
    table = JournalEntry.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("entry_id"))
        .values(seq=bindparam("n"), prev_hash=bindparam("prev"), hash=bindparam("digest")),
        sealed,
    )
    session.execute(update(JournalHead).where(JournalHead.id == 1).values(seq=seq, hash=head))


def chain_problems(session: Session) -> list[str]:
    """Re-check the journal: sealed entries at positions 1, 2, … without gaps, each
    ``prev_hash`` the hash before, each hash recomputed from the stored entry and lines, the
    head equal to the last entry; every entry (sealed or not) balanced per asset; no line takes
    units out of the retired or cancelled state."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    for entry in _entries(session, JournalEntry.seq.is_not(None)):
        where = f"journal entry {entry['id']} (seq {entry['seq']})"
        if entry["seq"] != expected_seq:
            problems.append(f"{where}: expected seq {expected_seq} (entries missing)")
        if entry["prev_hash"] != prev:
            problems.append(f"{where}: prev_hash does not match the hash of the entry before")
        digest = chain_hash(entry["prev_hash"] or "", canonical_entry(entry, entry["lines"]))
        if digest != entry["hash"]:
            problems.append(f"{where}: hash mismatch: entry or lines changed after sealing")
        prev, expected_seq = entry["hash"], entry["seq"] + 1
    head = session.get(JournalHead, 1)
    last_seq = expected_seq - 1
    if head is None or (head.seq, head.hash) != (last_seq, prev):
        problems.append(f"journal head does not match the last sealed entry (seq {last_seq})")
    return problems + _line_problems(session)


def _line_problems(session: Session) -> list[str]:
    problems = [
        f"journal entry {entry_id}: {asset} lines sum to {total}, not 0"
        for entry_id, asset, total in session.execute(
            select(JournalLine.entry_id, JournalLine.asset, func.sum(JournalLine.quantity))
            .group_by(JournalLine.entry_id, JournalLine.asset)
            .having(func.sum(JournalLine.quantity) != 0)
        )
    ]
    problems += [
        f"journal entry {entry_id} line {line}: {state} units moved again"
        for entry_id, line, state in session.execute(
            select(JournalLine.entry_id, JournalLine.line, JournalLine.state).where(
                JournalLine.state.in_(("retired", "cancelled")), JournalLine.quantity < 0
            )
        )
    ]
    return problems


Position = tuple[int | None, str | None, str, str | None]
"""(account, book, asset, state): where the journal says units sit."""


def positions(session: Session) -> dict[Position, int]:
    """Sum of all lines per (account, book, asset, state): what the journal says everyone holds."""
    return {
        (account_id, book, asset, state): int(total)
        for account_id, book, asset, state, total in session.execute(
            select(
                JournalLine.account_id,
                JournalLine.book,
                JournalLine.asset,
                JournalLine.state,
                func.sum(JournalLine.quantity),
            ).group_by(
                JournalLine.account_id, JournalLine.book, JournalLine.asset, JournalLine.state
            )
        )
    }
