"""A hypothesis state machine over random ledger operations, on both backends.

After every step the database must agree with a plain model that tracks the owner and status
of every serial number, and the ledger's own verification must find nothing:

* the blocks of every issuance partition it (each serial in exactly one block);
* tonnes are conserved (held + frozen + retired + cancelled = issued);
* retired and cancelled serials never move or change again;
* points never go negative and equal accruals minus redemptions;
* every operation is refused exactly when the model says it must be;
* the journal: every entry sealed into an intact hash chain and balanced per asset, and its
  lines add up to what the model says each account holds (points, and serials per status).

The market machine extends it with deposits, limit orders and cancellations, modelled by the
pure matching kernel and a plain cash book: the store fills exactly as the kernel does, the
book depth and every balance agree, money is conserved and escrowed units never move.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select

from qingshan.carbon.matching import Order, OrderBook, match
from qingshan.store import journal, ledger, market
from qingshan.store.engine import reading, writing
from qingshan.store.ledger import LedgerError
from qingshan.store.models import CreditBlock, CreditIssuance, JournalEntry, RegistryAccount

HOLDERS = 3
RIDE_DAY = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
RIDE_CENTI, DAILY_RIDES = 110, 10  # CQ-BUS: 1.1 points per ride, cap 10 rides a day
KINDS = ("transfer", "retire", "cancel", "freeze", "unfreeze")
_machines = itertools.count()


def ledger_machine(engine: Engine) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            run = next(_machines)
            with writing(engine, "test:machine") as session:
                self.holders = [
                    ledger.open_account(session, f"H{run}-{i}", f"holder {i}", "enterprise").id
                    for i in range(HOLDERS)
                ]
                self.resident = ledger.open_account(session, f"R{run}", "居民", "individual").id
                self.sinks = {
                    "retired": ledger.system_account(session, "SYS-RETIREMENT").id,
                    "cancelled": ledger.system_account(session, "SYS-CANCELLATION").id,
                }
            self.project = f"M{run}"
            self.serials: dict[tuple[int, int], tuple[int, str]] = {}
            self.points = 0
            self.rides = 0
            self.keys = itertools.count()
            self.done: list[tuple[str, int]] = []  # (key, operation id) of successful moves

        def _key(self) -> str:
            return f"{self.project}-{next(self.keys)}"

        def _blocks(self, session: Any) -> list[CreditBlock]:
            return list(
                session.scalars(
                    select(CreditBlock)
                    .join(CreditIssuance, CreditBlock.issuance_id == CreditIssuance.id)
                    .where(CreditIssuance.project_code == self.project)
                    .order_by(CreditBlock.id)
                )
            )

        @rule(holder=st.integers(0, HOLDERS - 1), quantity=st.integers(1, 40))
        def issue(self, holder: int, quantity: int) -> None:
            with writing(engine, "test:machine") as session:
                operation = ledger.issue(
                    session,
                    self._key(),
                    methodology_code="AR-CQCM-001",
                    project_code=self.project,
                    project_name="p",
                    vintage=2023,
                    quantity=quantity,
                    to_account_id=self.holders[holder],
                    verification="v",
                )
                issuance = session.get(CreditIssuance, operation.issuance_id)
                assert issuance is not None
                for serial in range(issuance.first_serial, issuance.last_serial + 1):
                    self.serials[(issuance.id, serial)] = (self.holders[holder], "held")

        @rule(
            kind=st.sampled_from(KINDS),
            pick=st.integers(0, 10**6),
            quantity=st.integers(1, 45),
            receiver=st.integers(0, HOLDERS - 1),
        )
        def move(self, kind: str, pick: int, quantity: int, receiver: int) -> None:
            with reading(engine) as session:
                blocks = [block for block in self._blocks(session) if self._movable(block)]
            if not blocks:
                return
            block = blocks[pick % len(blocks)]
            target = self.holders[receiver]
            expected = self._allowed(kind, block, quantity, target)
            key = self._key()
            try:
                with writing(engine, "test:machine") as session:
                    operation = self._apply(session, kind, key, block, quantity, target)
                    operation_id = operation.id
            except LedgerError:
                assert not expected, f"{kind} of {quantity} t refused on {block.status} block"
                return
            assert expected, f"{kind} of {quantity} t allowed on a {block.status} block"
            self.done.append((key, operation_id))
            owner, status = {
                "transfer": (target, "held"),
                "retire": (self.sinks["retired"], "retired"),
                "cancel": (self.sinks["cancelled"], "cancelled"),
                "freeze": (block.account_id, "frozen"),
                "unfreeze": (block.account_id, "held"),
            }[kind]
            for serial in range(block.last_serial - quantity + 1, block.last_serial + 1):
                self.serials[(block.issuance_id, serial)] = (owner, status)

        def _movable(self, block: CreditBlock) -> bool:
            """Blocks the registry's own operations may be tried on (all of them here; the
            market machine leaves escrowed units to their orders, as the services do)."""
            return True

        @staticmethod
        def _allowed(kind: str, block: CreditBlock, quantity: int, target: int) -> bool:
            if quantity > block.quantity:
                return False
            if kind == "transfer":
                return block.status == "held" and block.account_id != target
            if kind == "cancel":
                return block.status in ("held", "frozen")
            if kind == "unfreeze":
                return block.status == "frozen"
            return block.status == "held"  # retire, freeze

        @staticmethod
        def _apply(
            session: Any, kind: str, key: str, block: CreditBlock, quantity: int, target: int
        ) -> Any:
            common = {"block_id": block.id, "quantity": quantity}
            if kind == "transfer":
                return ledger.transfer(
                    session, key, **common, from_account_id=block.account_id, to_account_id=target
                )
            if kind == "retire":
                return ledger.retire(
                    session,
                    key,
                    **common,
                    from_account_id=block.account_id,
                    purpose="自愿注销",
                    beneficiary="b",
                )
            if kind == "cancel":
                return ledger.cancel(session, key, **common, reason="r")
            return ledger.set_frozen(session, key, **common, frozen=kind == "freeze", reason="")

        @rule(pick=st.integers(0, 10**6))
        def retry(self, pick: int) -> None:
            """Replaying an earlier request returns its operation and changes nothing."""
            if not self.done:
                return
            key, operation_id = self.done[pick % len(self.done)]
            with writing(engine, "test:machine") as session:
                replayed = ledger.replay(session, key)
                assert replayed is not None
                assert replayed.id == operation_id

        @rule(rides=st.integers(1, 4))
        def ride(self, rides: int) -> None:
            with writing(engine, "test:machine") as session:
                outcome = ledger.record_action(
                    session,
                    self._key(),
                    account_id=self.resident,
                    methodology_code="CQ-BUS",
                    quantity=rides,
                    occurred_at=RIDE_DAY,
                )
                accepted = self.rides + rides <= DAILY_RIDES
                assert outcome.status == ("accepted" if accepted else "rejected")
            if accepted:
                self.rides += rides
                self.points += rides * RIDE_CENTI

        @rule(points=st.integers(1, 1500))
        def redeem(self, points: int) -> None:
            try:
                with writing(engine, "test:machine") as session:
                    ledger.redeem(
                        session, self._key(), account_id=self.resident, points=points, note=""
                    )
            except LedgerError:
                assert points > self.points
                return
            assert points <= self.points
            self.points -= points

        @invariant()
        def database_matches_model(self) -> None:
            with writing(engine, "test:machine") as session:
                journal.seal(session)
            with reading(engine) as session:
                found = {
                    (block.issuance_id, serial): (block.account_id, block.status)
                    for block in self._blocks(session)
                    for serial in range(block.first_serial, block.last_serial + 1)
                }
                balance = session.get(RegistryAccount, self.resident)
                assert balance is not None
                assert balance.points_centi == self.points >= 0
                problems = ledger.verify(session)
                unsealed = session.scalar(select(func.count()).where(JournalEntry.seq.is_(None)))
                positions = journal.positions(session)
            assert found == self.serials
            assert problems == []
            assert unsealed == 0
            self._journal_matches_model(positions)

        def _journal_matches_model(self, positions: dict[Any, int]) -> None:
            """The journal's lines add up to what the model says each account holds."""
            assert positions.get((self.resident, None, journal.POINTS, None), 0) == self.points
            held: Counter[tuple[int, str, str]] = Counter(
                (owner, journal.credit_asset(issuance), status)
                for (issuance, _), (owner, status) in self.serials.items()
            )
            issued = {asset for _, asset, _ in held}
            in_journal = {
                (account, asset, state): total
                for (account, book, asset, state), total in positions.items()
                if book is None and asset in issued and total
            }
            assert in_journal == dict(held)

    return LedgerMachine


def test_random_operation_sequences_keep_every_invariant(engine: Engine) -> None:
    run_state_machine_as_test(
        ledger_machine(engine),
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


PRICES = st.sampled_from([2500, 2600])  # fen per tonne: few levels, so orders cross


def market_machine(engine: Engine) -> type[RuleBasedStateMachine]:
    """The ledger machine plus the market: deposits, limit orders and cancellations by the
    holders. The model is the pure kernel's :class:`OrderBook` per issuance and a plain cash
    book; the database must agree with it after every step (fills, book depth, balances, the
    owner and status of every serial) and both verifications must find nothing."""

    class MarketMachine(ledger_machine(engine)):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            with reading(engine) as session:
                self.escrow = ledger.system_account(session, ledger.MARKET_ESCROW).id
            self.books: dict[int, OrderBook] = {}
            self.cash = {holder: [0, 0] for holder in self.holders}  # available, reserved
            self.orders: dict[
                int, tuple[int, str, int, int]
            ] = {}  # id → holder, side, price, issuance
            self.escrowed: dict[int, tuple[int, int, int]] = {}  # sell id → issuance, first, last

        def _movable(self, block: CreditBlock) -> bool:
            return block.account_id != self.escrow

        @initialize()
        def listed(self) -> None:
            """Something to trade from the first step: 60 t with holder 0, yuan for everyone."""
            self.issue(holder=0, quantity=60)
            for holder in range(HOLDERS):
                self.deposit(holder=holder, fen=100_000)

        @rule(holder=st.integers(0, HOLDERS - 1), fen=st.integers(1, 500_000))
        def deposit(self, holder: int, fen: int) -> None:
            account = self.holders[holder]
            with writing(engine, "test:machine") as session:
                market.deposit(session, self._key(), account_id=account, amount_fen=fen, note="")
            self.cash[account][0] += fen

        @rule(
            holder=st.integers(0, HOLDERS - 1),
            side=st.sampled_from(["buy", "sell"]),
            pick=st.integers(0, 10**6),
            price=PRICES,
            quantity=st.integers(1, 20),
        )
        def place(self, holder: int, side: str, pick: int, price: int, quantity: int) -> None:
            with reading(engine) as session:
                blocks = self._blocks(session)
            held = [b for b in blocks if b.account_id in self.holders and b.status == "held"]
            asked = [i for i, book in self.books.items() if book.best("sell")]
            if side == "sell" and held:  # sellers are holders with credits
                block = held[(holder + pick) % len(held)]
                account, issuance = block.account_id, block.issuance_id
            elif side == "buy" and blocks:  # bids go where there are asks, if any
                block, account = None, self.holders[holder]
                issuance = (asked or [b.issuance_id for b in blocks])[pick % len(asked or blocks)]
            else:
                return
            book = self.books.setdefault(issuance, OrderBook())
            probe = Order(10**12, side, price, quantity)  # type: ignore[arg-type]
            fills = match(probe, (o for o in book.resting() if o.side != side))
            expected = not any(self.orders[f.resting_id][0] == account for f in fills) and (
                self.cash[account][0] >= price * quantity
                if side == "buy"
                else quantity <= block.quantity  # type: ignore[union-attr]
            )
            try:
                with writing(engine, "test:machine") as session:
                    placed = market.submit_order(
                        session,
                        self._key(),
                        account_id=account,
                        issuance_id=issuance,
                        side=side,
                        price_fen_per_t=price,
                        quantity=quantity,
                        block_id=block.id if block else None,
                    )
                    order_id, remaining = placed.id, placed.remaining
            except LedgerError:
                assert not expected, f"{side} {quantity} t at {price} refused"
                return
            assert expected, f"{side} {quantity} t at {price} accepted"
            self.orders[order_id] = (account, side, price, issuance)
            if block is not None:
                self._escrow(order_id, block, quantity)
            else:
                self.cash[account][0] -= price * quantity
                self.cash[account][1] += price * quantity
            for fill in book.submit(Order(order_id, side, price, quantity)):  # type: ignore[arg-type]
                self._fill(order_id, fill.resting_id, fill.price, fill.quantity)
            assert remaining == quantity - sum(f.quantity for f in fills), (
                "the store filled differently from the kernel"
            )

        def _escrow(self, order_id: int, block: CreditBlock, quantity: int) -> None:
            first = block.last_serial - quantity + 1
            self.escrowed[order_id] = (block.issuance_id, first, block.last_serial)
            for serial in range(first, block.last_serial + 1):
                self.serials[(block.issuance_id, serial)] = (self.escrow, "held")

        def _fill(self, incoming: int, resting: int, price: int, quantity: int) -> None:
            buy, sell = (
                (incoming, resting) if self.orders[incoming][1] == "buy" else (resting, incoming)
            )
            buyer, _, limit, _ = self.orders[buy]
            seller = self.orders[sell][0]
            self.cash[buyer][1] -= limit * quantity
            self.cash[buyer][0] += (limit - price) * quantity
            self.cash[seller][0] += price * quantity
            issuance, first, last = self.escrowed[sell]
            for serial in range(last - quantity + 1, last + 1):
                self.serials[(issuance, serial)] = (buyer, "held")
            self.escrowed[sell] = (issuance, first, last - quantity)

        @rule(pick=st.integers(0, 10**6))
        def cancel_order(self, pick: int) -> None:
            resting = [order for book in self.books.values() for order in book.resting()]
            if not resting:
                return
            order = resting[pick % len(resting)]
            account, side, price, issuance = self.orders[order.id]
            with writing(engine, "test:machine") as session:
                assert market.cancel_order(session, order.id).status == "cancelled"
            self.books[issuance].cancel(order.id)
            if side == "buy":
                self.cash[account][0] += price * order.quantity
                self.cash[account][1] -= price * order.quantity
                return
            _, first, last = self.escrowed.pop(order.id)
            for serial in range(first, last + 1):
                self.serials[(issuance, serial)] = (account, "held")

        @invariant()
        def market_matches_model(self) -> None:
            with reading(engine) as session:
                for account, (available, reserved) in self.cash.items():
                    found = market.balance(session, account)
                    assert (found["available_fen"], found["reserved_fen"]) == (available, reserved)
                for issuance, book in self.books.items():
                    depth = market.book(session, issuance)
                    for side, key in (("buy", "bids"), ("sell", "asks")):
                        levels = [(lv["price_fen_per_t"], lv["quantity_t"]) for lv in depth[key]]
                        assert levels == book.depth(side)  # type: ignore[arg-type]
                assert market.verify(session) == []

    return MarketMachine


def test_random_market_and_ledger_sequences_keep_every_invariant(engine: Engine) -> None:
    run_state_machine_as_test(
        market_machine(engine),
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
