"""Speed of the carbon-credit market, against baselines measured in the same run.

* The pure matching kernel (``carbon.matching.OrderBook``): random limit orders around one
  price (about half cross and trade, the rest rest on the book; every tenth step cancels),
  orders/s; issue 7 asks for ≥ 20,000 orders/s. Baseline: the same orders only pushed onto a
  heap (the least a price-time book must do per order), so the ratio is the cost of matching.
* Settlement in the store (one transaction per incoming order: book lock, reservation, match,
  escrow-to-buyer move, three cash movements, trade row, audit), from ``--clients`` threads,
  each buying 1 t from its own resting sell order (one instrument per client) and then all
  from ONE instrument (they queue on its book lock). Baseline: the registry's 1 t transfer
  use-case from the same threads. SQLite and PostgreSQL; invariants re-checked after the run.

    python benchmarks/bench_matching.py [--orders 200000] [--clients 8] [--per-client 100]
                                        [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import heapq
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from timing import best_of

from qingshan.carbon.matching import Order, OrderBook
from qingshan.services import database, registry
from qingshan.services import market as market_service
from qingshan.services.registry import Principal
from qingshan.store import create_store_engine, market
from qingshan.store.engine import writing
from qingshan.store.ledger import open_account

ADMIN = Principal(actor="bench:market", role="admin")
PRICE = 2500


def random_orders(count: int, seed: int = 7) -> list[Order]:
    rng = random.Random(seed)
    return [
        Order(i, rng.choice(("buy", "sell")), PRICE + rng.randint(-20, 20), rng.randint(1, 50))
        for i in range(count)
    ]


def kernel(orders: list[Order]) -> None:
    book = OrderBook()
    for order in orders:
        book.submit(order)
        if order.id % 10 == 9:
            book.cancel(order.id - 5)


def heap_only(orders: list[Order]) -> None:
    heaps: dict[str, list[tuple[int, int]]] = {"buy": [], "sell": []}
    for order in orders:
        key = -order.price if order.side == "buy" else order.price
        heapq.heappush(heaps[order.side], (key, order.id))


def measure_kernel(count: int) -> None:
    orders = random_orders(count)
    matched = best_of(3, lambda: kernel(orders))
    pushed = best_of(3, lambda: heap_only(orders))
    book = OrderBook()
    trades = sum(len(book.submit(order)) for order in orders)
    print(
        f"kernel: {count / matched:,.0f} orders/s ({trades:,} fills for {count:,} orders); "
        f"heap push only {count / pushed:,.0f}/s → ratio {pushed / matched:.2f}"
    )


def concurrent_rate(clients: int, per_client: int, work: Callable[[int, int], object]) -> float:
    def client(index: int) -> None:
        for step in range(per_client):
            work(index, step)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return clients * per_client / (time.perf_counter() - start)


def prepare(engine: Engine, clients: int, per_client: int) -> dict[str, list[int]]:
    """Per client: a seller with a resting 2 × per_client t ask on its own issuance, a buyer
    with enough yuan, and a transfer account with its own block (the baseline)."""
    database.upgrade(engine)
    with writing(engine, ADMIN.actor) as session:
        for index in range(clients):
            open_account(session, f"S{index}", f"seller {index}", "project_owner")
            buyer = open_account(session, f"B{index}", f"buyer {index}", "enterprise")
            open_account(session, f"T{index}", f"transfers {index}", "enterprise")
            market.deposit(
                session, f"dep-{index}", account_id=buyer.id, amount_fen=10**12, note="bench"
            )
    issuances, blocks = [], []
    for index in range(clients):
        for owner, project in ((f"S{index}", f"M{index}"), (f"T{index}", f"T{index}")):
            issued = registry.issue(
                engine, ADMIN, key=f"iss-{project}", methodology="AR-CQCM-001",
                project_code=project, project_name="bench", vintage=2023,
                quantity=(clients + 2) * per_client + 10, to_account=owner, verification="bench",
            )  # fmt: skip
            if owner.startswith("S"):
                issuances.append(issued["issuance_id"])
                market_service.submit_order(
                    engine, ADMIN, key=f"ask-{index}", account_code=owner,
                    issuance_id=issued["issuance_id"], side="sell", price_fen_per_t=PRICE,
                    quantity=(clients + 1) * per_client, block_id=issued["new_block_id"],
                )  # fmt: skip
            else:
                blocks.append(issued["new_block_id"])
    return {"issuances": issuances, "blocks": blocks}


def measure_settlement(engine: Engine, clients: int, per_client: int) -> None:
    setup = prepare(engine, clients, per_client)

    def buy(instrument: Callable[[int], int], tag: str) -> Callable[[int, int], object]:
        def work(index: int, step: int) -> object:
            return market_service.submit_order(
                engine, ADMIN, key=f"{tag}-{index}-{step}", account_code=f"B{index}",
                issuance_id=instrument(index), side="buy", price_fen_per_t=PRICE, quantity=1,
            )  # fmt: skip

        return work

    def transfer(index: int, step: int) -> object:
        return registry.transfer(
            engine, ADMIN, key=f"t-{index}-{step}", block_id=setup["blocks"][index], quantity=1,
            from_account=f"T{index}", to_account=f"B{index}",
        )  # fmt: skip

    own = concurrent_rate(clients, per_client, buy(lambda i: setup["issuances"][i], "own"))
    shared = concurrent_rate(clients, per_client, buy(lambda i: setup["issuances"][0], "one"))
    baseline = concurrent_rate(clients, per_client, transfer)
    problems = registry.verify(engine)
    print(
        f"  settled orders (1 fill each): {own:,.0f}/s from {clients} clients on their own "
        f"instruments, {shared:,.0f}/s on one instrument; registry transfer {baseline:,.0f}/s → "
        f"ratios {own / baseline:.2f} and {shared / baseline:.2f}; invariants "
        f"{'intact' if not problems else problems[:3]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=100)
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    measure_kernel(args.orders)
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite")
        engine = create_store_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        measure_settlement(engine, args.clients, args.per_client)
        engine.dispose()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_store_engine(args.postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(args.postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_store_engine(url.render_as_string(hide_password=False))
    try:
        print("PostgreSQL")
        measure_settlement(engine, args.clients, args.per_client)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
