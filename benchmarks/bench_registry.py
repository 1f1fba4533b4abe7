"""Speed of the carbon-inclusion ledger, against a baseline measured in the same run.

* Credit transfers/s from ``--clients`` concurrent threads, each moving 1 t at a time out of
  its own block through the full use-case ``services.registry.transfer`` (permission check,
  row lock, split, operation, double-entry journal lines, ORM audit, the journal seal), each
  client waiting until its own transfer is committed before sending the next; the transfers
  of the clients that wait at the same time are committed together (group commit,
  docs/registry.md). Issue 7 asks for ≥ 2,000/s from 16 clients on PostgreSQL. Baseline: the
  same threads running only the SQL a split needs (shrink one block row and insert one, one
  transaction each), without locks, journal or audit.
* Low-carbon actions for ``--accounts`` accounts recorded in batches of ``--batch`` through the
  full use-case (``services.registry.record_actions``: account codes, duplicates, daily caps,
  points, action rows, balances, one journal entry per batch and its seal); issue 7:
  1,000,000 actions for 800,000 accounts in under a minute. Baseline: the same use-case one
  action per call (the per-row path, the same code with one row) over ``--baseline-actions``
  actions, in the same run.

Every invariant and the journal's hash chain are re-checked (``verify``) after each part.

    python benchmarks/bench_registry.py [--transfers 200] [--clients 16] [--actions 100000]
        [--accounts 80000] [--batch 100000] [--baseline-actions 1000] [--postgres-url URL]
        [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from qingshan.services import database, registry
from qingshan.services.registry import ActionRow, Principal
from qingshan.store import audit, bulk, create_store_engine
from qingshan.store.engine import writing
from qingshan.store.ledger import open_account
from qingshan.store.models import RegistryAccount
from qingshan.store.types import utc_now

ADMIN = Principal(actor="bench:registry", role="admin")


def prepare(engine: Engine, clients: int, transfers: int) -> list[int]:
    """Accounts C0…Cn, each holding one block; returns the block ids."""
    database.upgrade(engine)
    with writing(engine, ADMIN.actor) as session:
        for index in range(clients):
            open_account(session, f"C{index}", f"client {index}", "enterprise")
        open_account(session, "RES", "resident", "individual")
    return [
        registry.issue(
            engine, ADMIN, key=f"issue-{index}", methodology="AR-CQCM-001",
            project_code=f"P{index}", project_name="bench", vintage=2023,
            quantity=2 * transfers + 10, to_account=f"C{index}", verification="bench",
        )["new_block_id"]
        for index in range(clients)
    ]  # fmt: skip


def concurrent_rate(clients: int, per_client: int, work: Callable[[int, int], object]) -> float:
    def client(index: int) -> None:
        for step in range(per_client):
            work(index, step)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return clients * per_client / (time.perf_counter() - start)


def measure(engine: Engine, args: argparse.Namespace) -> None:
    clients, transfers = args.clients, args.transfers
    blocks = prepare(engine, clients, transfers)

    def transfer(index: int, step: int) -> object:
        return registry.transfer(
            engine, ADMIN, key=f"t-{index}-{step}", block_id=blocks[index], quantity=1,
            from_account=f"C{index}", to_account=f"C{(index + 1) % clients}",
        )  # fmt: skip

    def raw_split(index: int, step: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE registry_blocks SET last_serial = last_serial - 1 WHERE id = :id"),
                {"id": blocks[index]},
            )
            connection.execute(
                text(
                    "INSERT INTO registry_blocks (issuance_id, account_id, first_serial, "
                    "last_serial, status) SELECT issuance_id, account_id, last_serial + 1, "
                    "last_serial + 1, 'held' FROM registry_blocks WHERE id = :id"
                ),
                {"id": blocks[index]},
            )

    ledger_rate = concurrent_rate(clients, transfers, transfer)
    problems = registry.verify(engine)
    baseline = concurrent_rate(clients, transfers, raw_split)
    print(
        f"  transfers: {ledger_rate:,.0f}/s from {clients} clients; raw split SQL "
        f"{baseline:,.0f}/s → ratio {ledger_rate / baseline:.2f}; invariants "
        f"{'intact' if not problems else problems[:3]}"
    )
    accrual(engine, args)


def open_residents(engine: Engine, count: int) -> None:
    """Accounts R0…R(count-1), written in bulk (set-up, not timed)."""
    now = utc_now()
    fields = {"name": "居民", "kind": "individual", "points_centi": 0, "created_at": now}
    rows = [{"code": f"R{i}", **fields} for i in range(count)]
    with writing(engine, ADMIN.actor) as session:
        bulk.insert_rows(session, RegistryAccount.__table__, rows)
        audit.record(session, ADMIN.actor, "bench", "registry_accounts", after={"n": count})


def accrual(engine: Engine, args: argparse.Namespace) -> None:
    open_residents(engine, args.accounts)
    day = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)

    def action(i: int) -> ActionRow:  # 1 bus ride, a few accounts ride twice (cap 10 a day)
        return ActionRow(f"R{i % args.accounts}", "CQ-BUS", 1, day, f"a{i}")

    single = [action(args.actions + i) for i in range(args.baseline_actions)]
    start = time.perf_counter()
    for row in single:
        registry.record_actions(engine, ADMIN, [row])
    per_row = len(single) / (time.perf_counter() - start)
    start = time.perf_counter()
    for first in range(0, args.actions, args.batch):
        batch = [action(i) for i in range(first, min(first + args.batch, args.actions))]
        registry.record_actions(engine, ADMIN, batch)
    elapsed = time.perf_counter() - start
    problems = registry.verify(engine)
    print(
        f"  actions: {args.actions:,} for {args.accounts:,} accounts in {elapsed:.1f} s = "
        f"{args.actions / elapsed:,.0f}/s (batches of {args.batch:,}); per-row path "
        f"{per_row:,.0f}/s → ratio {args.actions / elapsed / per_row:.1f}; invariants "
        f"{'intact' if not problems else problems[:3]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=200, help="per client")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=80_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--baseline-actions", type=int, default=1_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            print("SQLite")
            engine = create_store_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            measure(engine, args)
            engine.dispose()
    if args.backend in ("postgresql", "both"):
        postgresql(args)


def postgresql(args: argparse.Namespace) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_store_engine(args.postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(args.postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine(
        url.render_as_string(hide_password=False), pool_size=args.clients, max_overflow=4
    )  # one connection per client (the store's default pool holds 15)
    try:
        print("PostgreSQL")
        measure(engine, args)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
