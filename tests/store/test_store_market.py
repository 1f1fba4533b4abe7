"""The market's settlement on both backends: escrow, price-time fills at the resting price,
cash and credit conservation, no negative balance, reserved credits cannot move, idempotent
retries, all-or-nothing refusals, and the append-only trade and cash tables."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DatabaseError

from qingshan.store import journal, ledger, market
from qingshan.store.engine import reading, writing
from qingshan.store.ledger import LedgerError
from qingshan.store.market_models import CashBalance, CashMovement, MarketOrder, MarketTrade
from qingshan.store.models import CreditBlock


@pytest.fixture
def world(engine: Engine) -> dict[str, Any]:
    """OWNER holds a 100 t block of one issuance; BUY1 and BUY2 hold 10,000 yuan each."""
    with writing(engine, "test:fixture") as session:
        ids = {
            code: ledger.open_account(session, code, code, kind).id
            for code, kind in (
                ("OWNER", "project_owner"),
                ("BUY1", "enterprise"),
                ("BUY2", "enterprise"),
            )
        }
        issued = ledger.issue(
            session,
            "issue",
            methodology_code="AR-CQCM-001",
            project_code="P001",
            project_name="青山碳汇造林",
            vintage=2023,
            quantity=100,
            to_account_id=ids["OWNER"],
            verification="核查报告",
        )
        for code in ("BUY1", "BUY2"):
            market.deposit(
                session, f"dep-{code}", account_id=ids[code], amount_fen=1_000_000, note="bank"
            )
        return {**ids, "block": issued.new_block_id, "issuance": issued.issuance_id}


def order(
    engine: Engine,
    world: dict[str, Any],
    key: str,
    account: str,
    side: str,
    price: int,
    quantity: int,
    block: int | None = None,
) -> dict[str, Any]:
    with writing(engine, "test") as session:
        placed = market.submit_order(
            session,
            key,
            account_id=world[account],
            issuance_id=world["issuance"],
            side=side,
            price_fen_per_t=price,
            quantity=quantity,
            block_id=block,
        )
        return market.order_dict(placed)


def cash(engine: Engine, account_id: int) -> tuple[int, int]:
    with reading(engine) as session:
        found = market.balance(session, account_id)
        return found["available_fen"], found["reserved_fen"]


def holdings(engine: Engine, account_id: int) -> int:
    with reading(engine) as session:
        return sum(b["quantity_t"] for b in ledger.holdings(session, account_id))


def sound(engine: Engine) -> None:
    with reading(engine) as session:
        assert ledger.verify(session) == []
        assert market.verify(session) == []


def test_sell_order_escrows_exactly_its_quantity(engine: Engine, world: dict[str, Any]) -> None:
    placed = order(engine, world, "s1", "OWNER", "sell", 2500, 30, world["block"])
    assert placed["status"] == "open"
    with reading(engine) as session:
        escrowed = session.get(CreditBlock, placed["block_id"])
        assert escrowed is not None
        assert (escrowed.quantity, escrowed.last_serial) == (30, 100)  # the upper 30 serials
        escrow = ledger.system_account(session, ledger.MARKET_ESCROW)
        assert escrowed.account_id == escrow.id
    assert holdings(engine, world["OWNER"]) == 70
    sound(engine)


def test_buy_crossing_two_asks_fills_at_resting_prices_and_pays_back_the_improvement(
    engine: Engine, world: dict[str, Any]
) -> None:
    order(engine, world, "s1", "OWNER", "sell", 2500, 30, world["block"])
    with reading(engine) as session:
        rest = [b for b in ledger.holdings(session, world["OWNER"]) if b["status"] == "held"]
    order(engine, world, "s2", "OWNER", "sell", 2400, 20, rest[0]["block_id"])
    placed = order(engine, world, "b1", "BUY1", "buy", 2550, 45)
    # 20 t at 24.00 (best ask) then 25 t at 25.00; the buyer pays 48,000 + 62,500 fen.
    assert (placed["status"], placed["remaining_t"]) == ("filled", 0)
    assert cash(engine, world["BUY1"]) == (1_000_000 - 110_500, 0)
    assert cash(engine, world["OWNER"]) == (110_500, 0)
    assert holdings(engine, world["BUY1"]) == 45
    with reading(engine) as session:
        fills = session.execute(
            select(MarketTrade.price_fen_per_t, MarketTrade.quantity).order_by(MarketTrade.id)
        ).all()
        assert [tuple(fill) for fill in fills] == [(2400, 20), (2500, 25)]
        assert market.book(session, world["issuance"])["asks"] == [
            {"price_fen_per_t": 2500, "quantity_t": 5, "orders": 1}
        ]
    sound(engine)


def test_resting_buy_reserves_and_an_incoming_sell_trades_at_the_bid(
    engine: Engine, world: dict[str, Any]
) -> None:
    order(engine, world, "b1", "BUY1", "buy", 2600, 10)
    assert cash(engine, world["BUY1"]) == (1_000_000 - 26_000, 26_000)
    order(engine, world, "s1", "OWNER", "sell", 2500, 4, world["block"])
    assert cash(engine, world["BUY1"]) == (1_000_000 - 26_000, 6 * 2600)
    assert cash(engine, world["OWNER"]) == (4 * 2600, 0)
    sound(engine)


def test_cancel_releases_money_and_units(engine: Engine, world: dict[str, Any]) -> None:
    bid = order(engine, world, "b1", "BUY1", "buy", 2000, 10)
    ask = order(engine, world, "s1", "OWNER", "sell", 3000, 40, world["block"])
    with writing(engine, "test") as session:
        market.cancel_order(session, bid["id"])
        market.cancel_order(session, ask["id"])
    with writing(engine, "test") as session:  # a retried cancellation changes nothing
        assert market.cancel_order(session, ask["id"]).status == "cancelled"
    assert cash(engine, world["BUY1"]) == (1_000_000, 0)
    assert holdings(engine, world["OWNER"]) == 100
    sound(engine)


def test_escrowed_units_cannot_be_transferred_or_retired_by_the_seller(
    engine: Engine, world: dict[str, Any]
) -> None:
    ask = order(engine, world, "s1", "OWNER", "sell", 3000, 100, world["block"])
    with pytest.raises(LedgerError, match="not in account"), writing(engine, "t") as session:
        ledger.transfer(
            session,
            "steal",
            block_id=ask["block_id"],
            quantity=10,
            from_account_id=world["OWNER"],
            to_account_id=world["BUY2"],
        )
    with pytest.raises(LedgerError, match="not in account"), writing(engine, "t") as session:
        ledger.retire(
            session,
            "r",
            block_id=ask["block_id"],
            quantity=10,
            from_account_id=world["OWNER"],
            purpose="碳中和",
            beneficiary="x",
        )
    sound(engine)


def test_short_cash_or_units_refuse_the_whole_order(engine: Engine, world: dict[str, Any]) -> None:
    order(engine, world, "s1", "OWNER", "sell", 2500, 10, world["block"])
    with pytest.raises(LedgerError, match="cannot take"):
        order(engine, world, "b-big", "BUY1", "buy", 2500, 1000)  # 25,000 yuan > 10,000
    with pytest.raises(LedgerError, match="cannot move"):
        with reading(engine) as session:
            rest = ledger.holdings(session, world["OWNER"])[0]["block_id"]
        order(engine, world, "s-big", "OWNER", "sell", 2500, 91, rest)
    with reading(engine) as session:
        assert session.scalar(select(func.count()).select_from(MarketOrder)) == 1
        assert session.scalar(select(func.count()).select_from(MarketTrade)) == 0
    assert cash(engine, world["BUY1"]) == (1_000_000, 0)
    sound(engine)


def test_an_order_against_its_own_account_is_refused(engine: Engine, world: dict[str, Any]) -> None:
    with writing(engine, "t") as session:
        market.deposit(session, "dep-o", account_id=world["OWNER"], amount_fen=100_000, note="")
    order(engine, world, "s1", "OWNER", "sell", 2500, 10, world["block"])
    with pytest.raises(LedgerError, match="same account"):
        order(engine, world, "b1", "OWNER", "buy", 2600, 5)
    assert cash(engine, world["OWNER"]) == (100_000, 0)
    sound(engine)


def test_retried_order_and_deposit_apply_once(engine: Engine, world: dict[str, Any]) -> None:
    order(engine, world, "s1", "OWNER", "sell", 2500, 10, world["block"])
    first = order(engine, world, "b1", "BUY1", "buy", 2500, 10)
    again = order(engine, world, "b1", "BUY1", "buy", 2500, 10)
    assert first == again
    with writing(engine, "t") as session:
        market.deposit(session, "dep-BUY1", account_id=world["BUY1"], amount_fen=1_000_000, note="")
    assert cash(engine, world["BUY1"]) == (1_000_000 - 25_000, 0)
    assert holdings(engine, world["BUY1"]) == 10
    sound(engine)


def test_withdraw_never_takes_reserved_money(engine: Engine, world: dict[str, Any]) -> None:
    order(engine, world, "b1", "BUY1", "buy", 2000, 400)  # reserves 8,000 yuan
    with pytest.raises(LedgerError, match="cannot take"), writing(engine, "t") as session:
        market.withdraw(session, "w1", account_id=world["BUY1"], amount_fen=200_001, note="")
    with writing(engine, "t") as session:
        market.withdraw(session, "w2", account_id=world["BUY1"], amount_fen=200_000, note="")
    assert cash(engine, world["BUY1"]) == (0, 800_000)
    sound(engine)


def test_daily_statistics_from_settled_trades(engine: Engine, world: dict[str, Any]) -> None:
    order(engine, world, "s1", "OWNER", "sell", 2500, 30, world["block"])
    order(engine, world, "b1", "BUY1", "buy", 2500, 10)
    order(engine, world, "b2", "BUY2", "buy", 2600, 20)
    with reading(engine) as session:
        (day,) = market.statistics(session, world["issuance"])
    assert (day.volume_t, day.turnover_fen, day.vwap_fen, day.trades) == (30, 75_000, 2500, 2)


def test_trades_and_cash_movements_are_append_only(engine: Engine, world: dict[str, Any]) -> None:
    order(engine, world, "s1", "OWNER", "sell", 2500, 30, world["block"])
    order(engine, world, "b1", "BUY1", "buy", 2500, 10)
    for table in ("market_trades", "market_cash_movements"):
        for statement in (f"UPDATE {table} SET quantity = 1", f"DELETE FROM {table}"):
            statement = statement.replace("quantity", "note" if "cash" in table else "quantity")
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
    with reading(engine) as session:
        assert session.scalar(select(func.count()).select_from(CashMovement)) > 0


def test_verify_finds_money_or_escrow_changed_behind_the_market(
    engine: Engine, world: dict[str, Any]
) -> None:
    ask = order(engine, world, "s1", "OWNER", "sell", 2500, 30, world["block"])
    order(engine, world, "b1", "BUY1", "buy", 2400, 10)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE market_balances SET available_fen = available_fen + 1 WHERE account_id = :a"
            ),
            {"a": world["BUY2"]},
        )
        connection.execute(
            text("UPDATE market_orders SET remaining = 29 WHERE id = :id"), {"id": ask["id"]}
        )
    with reading(engine) as session:
        problems = market.verify(session)
    assert any("balance" in problem and "movements" in problem for problem in problems)
    assert any("deposits − withdrawals" in problem for problem in problems)
    assert any(f"order {ask['id']}: its 29 t are not held in escrow" == p for p in problems)


def test_quote_board_best_prices_last_price_and_the_days_volume(
    engine: Engine, world: dict[str, Any]
) -> None:
    def board(day: date) -> dict[str, Any]:
        with reading(engine) as session:
            (row,) = market.quotes(session, day)
            return row

    today = datetime.now(ledger.LOCAL_TIME_ZONE).date()
    quiet = board(today)
    assert (quiet["best_bid_fen_per_t"], quiet["best_ask_fen_per_t"]) == (None, None)
    assert (quiet["last_fen_per_t"], quiet["day_volume_t"]) == (None, 0)
    order(engine, world, "s1", "OWNER", "sell", 2_500, 30, world["block"])
    order(engine, world, "s2", "OWNER", "sell", 2_600, 30, world["block"])
    order(engine, world, "b1", "BUY1", "buy", 2_550, 40)  # 30 t at 25.00, 10 t rest at 25.50
    order(engine, world, "b2", "BUY2", "buy", 2_400, 5)
    order(engine, world, "b3", "BUY2", "buy", 2_600, 2)  # 2 t at 26.00, the last trade
    row = board(today)
    assert (row["best_bid_fen_per_t"], row["best_ask_fen_per_t"]) == (2_550, 2_600)
    assert (row["last_fen_per_t"], row["day_volume_t"]) == (2_600, 32)
    assert (row["project_name"], row["vintage"]) == ("青山碳汇造林", 2023)
    assert board(today - timedelta(days=1))["day_volume_t"] == 0


def test_every_cash_movement_is_journalled_and_checked(
    engine: Engine, world: dict[str, Any]
) -> None:
    """Deposits, reservations and settlements post balanced cash lines; verify compares them
    with the balances and finds a tampered balance."""
    order(engine, world, "ask", "OWNER", "sell", 5_000, 40, block=world["block"])
    order(engine, world, "bid", "BUY1", "buy", 5_500, 60)  # fills 40, rests 20 reserved
    with reading(engine) as session:
        assert market.verify(session) == []
        lines = {p: t for p, t in journal.positions(session).items() if p[2] == journal.CASH}
    assert lines[(world["OWNER"], None, journal.CASH, "available")] == 40 * 5_000
    assert lines[(world["BUY1"], None, journal.CASH, "reserved")] == 20 * 5_500
    held = sum(total for (account, *_), total in lines.items() if account is not None)
    assert lines[(None, "cash", journal.CASH, None)] == -held == -2_000_000
    with writing(engine, "test:tamper") as session:
        balance = session.get(CashBalance, world["BUY2"])
        assert balance is not None
        balance.available_fen += 1
    with reading(engine) as session:
        assert any("journal: cash" in problem for problem in market.verify(session))
