"""Speed of the carbon-inclusion ledger, against a baseline measured in the same run.

* Credit transfers/s from ``--clients`` concurrent threads, each moving 1 t at a time out of
  its own block through the full use-case (permission check, row lock, split, journal, audit,
  one transaction per transfer); issue 7 asks for ≥ 2,000/s from 16 clients on PostgreSQL.
  Baseline: the same threads running only the SQL a split needs (shrink one block row and
  insert one, one transaction each), without locks, journal or audit.
* Low-carbon actions/s recorded in one batch through ``record_actions`` (issue 7: 1,000,000
  actions in under a minute, i.e. ≥ 16,700/s).

Every invariant is re-checked (``verify``) after the run.

    python benchmarks/bench_registry.py [--transfers 200] [--clients 16] [--actions 20000]
                                        [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from qingshan.services import database, registry
from qingshan.services.registry import ActionRow, Principal
from qingshan.store import create_store_engine
from qingshan.store.engine import writing
from qingshan.store.ledger import open_account
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


def measure(engine: Engine, clients: int, transfers: int, actions: int) -> None:
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
    now = utc_now()
    rows = [ActionRow("RES", "CQ-EBIKE", 0.001, now, f"a{i}") for i in range(actions)]
    start = time.perf_counter()
    registry.record_actions(engine, ADMIN, rows)
    print(f"  actions: {actions / (time.perf_counter() - start):,.0f}/s (one batch, one account)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=200, help="per client")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--actions", type=int, default=20_000)
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite")
        engine = create_store_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        measure(engine, args.clients, args.transfers, args.actions)
        engine.dispose()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_store_engine(args.postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(args.postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_store_engine(url.render_as_string(hide_password=False))
    try:
        print("PostgreSQL")
        measure(engine, args.clients, args.transfers, args.actions)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
