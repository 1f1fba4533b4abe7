"""The carbon-credit market's write path: orders, escrow, matching and atomic settlement.

Every function works in the caller's session, from :func:`qingshan.store.engine.writing` (one
transaction, audited): an incoming order is reserved, matched and settled — credits, cash,
trades and both orders — in that one transaction, so no partial state is ever visible and a
failure anywhere leaves nothing behind.

* **Instrument = one issuance.** Its units share methodology, project, vintage and
  verification, which is what a buyer of offsets is paying for (an ETS offset's eligibility
  depends on the project), and a sell order escrows one block of it.
* **The book lock.** Submitting or cancelling an order locks the issuance row first
  (``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; SQLite admits one writer), so the book of an
  instrument changes one order at a time; registry transfers of the same issuance are not held
  up (they lock only their block).
* **Lock order** (no deadlocks): issuance → cash balances in account-id order → blocks.
* **Escrow.** A buy order reserves price × quantity fen (``available`` → ``reserved``); a sell
  order's units move to the system account ``SYS-MARKET`` (a block split to exactly the
  quantity, serials contiguous), where the seller can neither transfer nor retire them. A fill
  moves them from there to the buyer; a cancellation moves the rest back.
* **Money** is integer fen and changes only through :func:`move_cash`, which locks the
  balance, refuses a negative amount (a CHECK refuses it too) and writes one
  ``market_cash_movements`` row per change, with a unique key.
* **Idempotency.** Orders carry a unique key; a retried submission returns the first order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingshan.carbon import matching
from qingshan.carbon.inclusion import format_serial
from qingshan.store import journal, ledger
from qingshan.store.ledger import LOCAL_TIME_ZONE, LedgerError, NotFound
from qingshan.store.market_models import CashBalance, CashMovement, MarketOrder, MarketTrade
from qingshan.store.models import CreditBlock, CreditIssuance, RegistryAccount
from qingshan.store.types import utc_now

TRADERS = ("individual", "enterprise", "project_owner", "platform")
"""Account kinds that may hold cash and trade (not the sinks, not the escrow itself)."""


# ------------------------------------------------------------------------------------------
# Cash
# ------------------------------------------------------------------------------------------


LOCKED = "market_locked_balances"
"""``session.info`` key: the balances this transaction has locked (they stay locked until it
ends, so :func:`move_cash` need not select them again)."""


def _balances(session: Session, account_ids: Iterable[int]) -> dict[int, CashBalance]:
    """Lock the cash balances of the accounts in id order (creating missing ones at zero)."""
    held: dict[int, CashBalance] = session.info.setdefault(LOCKED, {})
    ids = sorted(set(account_ids) - set(held))
    if not ids:
        return held
    locked = {
        balance.account_id: balance
        for balance in session.scalars(
            select(CashBalance)
            .where(CashBalance.account_id.in_(ids))
            .order_by(CashBalance.account_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    for account_id in ids:
        if account_id not in locked:
            locked[account_id] = CashBalance(account_id=account_id, available_fen=0, reserved_fen=0)
            session.add(locked[account_id])
    held.update(locked)
    return held


def move_cash(
    session: Session,
    key: str,
    kind: str,
    *,
    account_id: int,
    available_fen: int = 0,
    reserved_fen: int = 0,
    order_id: int | None = None,
    trade_id: int | None = None,
    note: str = "",
) -> CashMovement:
    """THE one way money changes: add signed fen to an account's available and reserved
    balances, record the movement (unique ``key``) and its journal entry. Refused when either
    would go negative (the caller's transaction then rolls back: nothing changes). Writes are
    flushed with the caller's next flush (one audit row set per flush, not per movement).

    The journal entry has a line per changed balance (state ``available`` or ``reserved``) and,
    when money enters or leaves the account, the ``cash`` book as counterparty: a deposit
    credits the account against the book; a reservation moves money between the account's
    own states; a settlement debits the buyer's reservation and credits the seller, each
    against the book, which nets to zero over the trade.
    """
    balance = _balances(session, [account_id])[account_id]
    available = balance.available_fen + available_fen
    reserved = balance.reserved_fen + reserved_fen
    if available < 0 or reserved < 0:
        raise LedgerError(
            f"{kind}: account {_code(session, account_id)} has {yuan(balance.available_fen)} "
            f"available and {yuan(balance.reserved_fen)} reserved; "
            f"cannot take {yuan(-min(available_fen, reserved_fen))}"
        )
    balance.available_fen, balance.reserved_fen = available, reserved
    movement = CashMovement(
        idempotency_key=key,
        kind=kind,
        account_id=account_id,
        available_fen=available_fen,
        reserved_fen=reserved_fen,
        available_after_fen=available,
        reserved_after_fen=reserved,
        order_id=order_id,
        trade_id=trade_id,
        note=note,
        actor=session.info["actor"],
        at=utc_now(),
    )
    session.add(movement)
    lines = _cash_lines(account_id, available_fen, reserved_fen)
    if lines:
        journal.post(session, kind, lines)
    return movement


def _cash_lines(account_id: int, available_fen: int, reserved_fen: int) -> list[journal.Line]:
    changes = {"available": available_fen, "reserved": reserved_fen}
    lines = [
        journal.Line(journal.CASH, fen, account_id=account_id, state=state)
        for state, fen in changes.items()
        if fen
    ]
    if net := available_fen + reserved_fen:
        lines.append(journal.Line(journal.CASH, -net, book="cash"))
    return lines


def yuan(fen: int) -> str:
    """``123456`` → ``"1,234.56 yuan"`` (exact: integer arithmetic)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d} yuan"


def _code(session: Session, account_id: int) -> str:
    account = session.get(RegistryAccount, account_id)
    return account.code if account else str(account_id)


def deposit(
    session: Session, key: str, *, account_id: int, amount_fen: int, note: str
) -> CashMovement:
    """Credit yuan paid in (administrator: a bank transfer received, with its reference)."""
    if done := _replayed_cash(session, key):
        return done
    if amount_fen <= 0:
        raise LedgerError("deposit a positive amount")
    _trader(session, account_id)
    movement = move_cash(
        session, key, "deposit", account_id=account_id, available_fen=amount_fen, note=note
    )
    session.flush()
    return movement


def withdraw(
    session: Session, key: str, *, account_id: int, amount_fen: int, note: str
) -> CashMovement:
    """Pay out available yuan (administrator); reserved money stays with its orders."""
    if done := _replayed_cash(session, key):
        return done
    if amount_fen <= 0:
        raise LedgerError("withdraw a positive amount")
    _trader(session, account_id)
    movement = move_cash(
        session, key, "withdraw", account_id=account_id, available_fen=-amount_fen, note=note
    )
    session.flush()
    return movement


def _replayed_cash(session: Session, key: str) -> CashMovement | None:
    """The deposit or withdrawal already recorded under ``key`` (a retried request)."""
    if not key:
        raise LedgerError("every deposit and withdrawal needs an idempotency key")
    return session.scalar(select(CashMovement).where(CashMovement.idempotency_key == key))


def _trader(session: Session, account_id: int) -> RegistryAccount:
    account = session.get(RegistryAccount, account_id)
    if account is None:
        raise NotFound(f"no registry account {account_id}")
    if account.kind not in TRADERS or account.code == ledger.MARKET_ESCROW:
        raise LedgerError(f"account {account.code} ({account.kind}) does not trade")
    return account


# ------------------------------------------------------------------------------------------
# Orders
# ------------------------------------------------------------------------------------------


def _lock_instrument(session: Session, issuance_id: int) -> CreditIssuance:
    issuance = session.scalar(
        select(CreditIssuance)
        .where(CreditIssuance.id == issuance_id)
        .with_for_update(key_share=True)
    )
    if issuance is None:
        raise NotFound(f"no issuance {issuance_id}")
    return issuance


def _crossing(session: Session, order: MarketOrder) -> list[MarketOrder]:
    """The open orders of the other side that the incoming order's limit accepts, best first,
    at most as many as the order has tonnes (each resting order takes at least one)."""
    other = matching.opposite(_side(order))
    price = MarketOrder.price_fen_per_t
    buying = order.side == "buy"
    accepted = price <= order.price_fen_per_t if buying else price >= order.price_fen_per_t
    return list(
        session.scalars(
            select(MarketOrder)
            .where(
                MarketOrder.issuance_id == order.issuance_id,
                MarketOrder.status == "open",
                MarketOrder.side == other,
                accepted,
            )
            .order_by(price.asc() if buying else price.desc(), MarketOrder.id)
            .limit(order.quantity)
            .execution_options(populate_existing=True)
        )
    )


def _side(order: MarketOrder) -> matching.Side:
    return "buy" if order.side == "buy" else "sell"


def _kernel_order(order: MarketOrder) -> matching.Order:
    return matching.Order(order.id, _side(order), order.price_fen_per_t, order.remaining)


def submit_order(
    session: Session,
    key: str,
    *,
    account_id: int,
    issuance_id: int,
    side: str,
    price_fen_per_t: int,
    quantity: int,
    block_id: int | None = None,
) -> MarketOrder:
    """Place a limit order and settle whatever it fills, all in the session's transaction.

    A buy order reserves price × quantity fen; a sell order escrows ``quantity`` t of
    ``block_id`` (a held block of the issuance in the account). The order then trades against
    the book by price-time priority at the resting orders' prices (:mod:`qingshan.carbon.matching`);
    each fill moves the units from escrow to the buyer, the money from the buyer's reservation
    to the seller (and the price improvement back to the buyer's available balance) and records
    the trade. The remainder rests on the book. An order that would trade with an order of its
    own account is refused (no wash trades).
    """
    done = session.scalar(select(MarketOrder).where(MarketOrder.idempotency_key == key))
    if done is not None:
        return done
    _check_order(side, price_fen_per_t, quantity, block_id)
    _trader(session, account_id)
    _lock_instrument(session, issuance_id)
    order = MarketOrder(
        idempotency_key=key,
        account_id=account_id,
        issuance_id=issuance_id,
        side=side,
        price_fen_per_t=price_fen_per_t,
        quantity=quantity,
        remaining=quantity,
        status="open",
        reserved_fen=0,
        actor=session.info["actor"],
        created_at=utc_now(),
    )
    session.add(order)
    session.flush()
    book = {resting.id: resting for resting in _crossing(session, order)}
    fills = matching.match(_kernel_order(order), map(_kernel_order, book.values()))
    if own := [fill.resting_id for fill in fills if book[fill.resting_id].account_id == account_id]:
        raise LedgerError(f"the order would trade with order {own[0]} of the same account")
    _balances(session, {account_id, *(book[fill.resting_id].account_id for fill in fills)})
    escrow_id = ledger.system_account(session, ledger.MARKET_ESCROW).id
    _escrow(session, order, block_id, escrow_id)
    for fill in fills:
        _settle(session, order, book[fill.resting_id], fill, escrow_id)
    session.flush()
    return order


def _check_order(side: str, price: int, quantity: int, block_id: int | None) -> None:
    if side not in matching.SIDES:
        raise LedgerError(f"side must be buy or sell, not {side!r}")
    if price <= 0 or quantity <= 0:
        raise LedgerError("price (fen per tonne) and quantity (whole tonnes) must be positive")
    if (side == "sell") != (block_id is not None):
        raise LedgerError("a sell order names the block it sells from; a buy order names none")


def _escrow(session: Session, order: MarketOrder, block_id: int | None, escrow_id: int) -> None:
    """Reserve the buyer's money or move the seller's units to the market escrow account."""
    if order.side == "buy":
        order.reserved_fen = order.price_fen_per_t * order.quantity
        move_cash(
            session,
            f"order:{order.id}:reserve",
            "reserve",
            account_id=order.account_id,
            available_fen=-order.reserved_fen,
            reserved_fen=order.reserved_fen,
            order_id=order.id,
        )
        return
    assert block_id is not None
    block = session.get(CreditBlock, block_id)
    if block is None:
        raise NotFound(f"no block {block_id}")
    if block.issuance_id != order.issuance_id:
        raise LedgerError(f"block {block_id} is not of issuance {order.issuance_id}")
    moved = ledger.move_units(
        session,
        f"market:{order.id}:escrow",
        "transfer",
        block_id=block_id,
        quantity=order.quantity,
        from_account_id=order.account_id,
        to_account_id=escrow_id,
        details={"market": "escrow", "order_id": order.id},
    )
    order.block_id = moved.new_block_id or moved.block_id


def _settle(
    session: Session,
    incoming: MarketOrder,
    resting: MarketOrder,
    fill: matching.Fill,
    escrow_id: int,
) -> MarketTrade:
    """Move the units, the money and the remaining quantities of one fill; record the trade."""
    buy, sell = (incoming, resting) if incoming.side == "buy" else (resting, incoming)
    assert sell.block_id is not None
    moved = ledger.move_units(
        session,
        f"market:{incoming.id}:{resting.id}",
        "trade",
        block_id=sell.block_id,
        quantity=fill.quantity,
        from_account_id=escrow_id,
        to_account_id=buy.account_id,
        details={
            "market": "fill",
            "buy_order_id": buy.id,
            "sell_order_id": sell.id,
            "seller_account_id": sell.account_id,
            "price_fen_per_t": fill.price,
        },
    )
    trade = MarketTrade(
        issuance_id=incoming.issuance_id,
        buy_order_id=buy.id,
        sell_order_id=sell.id,
        buyer_account_id=buy.account_id,
        seller_account_id=sell.account_id,
        block_id=moved.new_block_id or moved.block_id,
        quantity=fill.quantity,
        price_fen_per_t=fill.price,
        aggressor=incoming.side,
        at=utc_now(),
    )
    session.add(trade)
    session.flush()
    _pay(session, buy, sell, trade)
    for order in (buy, sell):
        order.remaining -= fill.quantity
        if order.remaining == 0:
            order.status, order.closed_at = "filled", trade.at
    return trade


def _pay(session: Session, buy: MarketOrder, sell: MarketOrder, trade: MarketTrade) -> None:
    """The buyer's reservation pays the seller; reserved above the trade price (the buyer's
    limit was higher) goes back to the buyer's available balance."""
    price = trade.quantity * trade.price_fen_per_t
    held = trade.quantity * buy.price_fen_per_t
    buy.reserved_fen -= held
    base = f"trade:{trade.id}"
    ids = {"order_id": buy.id, "trade_id": trade.id}
    move_cash(session, f"{base}:pay", "pay", account_id=buy.account_id, reserved_fen=-price, **ids)
    if held > price:
        move_cash(
            session,
            f"{base}:improvement",
            "release",
            account_id=buy.account_id,
            available_fen=held - price,
            reserved_fen=-(held - price),
            note="price improvement",
            **ids,
        )
    move_cash(
        session,
        f"{base}:receive",
        "receive",
        account_id=sell.account_id,
        available_fen=price,
        order_id=sell.id,
        trade_id=trade.id,
    )


def cancel_order(session: Session, order_id: int) -> MarketOrder:
    """Take an open order off the book: release the buy reservation or move the unsold units
    back from escrow. Cancelling a cancelled order returns it unchanged (a retry); a filled
    order cannot be cancelled."""
    found = session.get(MarketOrder, order_id)
    if found is None:
        raise NotFound(f"no order {order_id}")
    _lock_instrument(session, found.issuance_id)
    session.refresh(found)
    if found.status == "cancelled":
        return found
    if found.status == "filled":
        raise LedgerError(f"order {order_id} is filled; nothing to cancel")
    _balances(session, [found.account_id])
    if found.side == "buy":
        move_cash(
            session,
            f"order:{found.id}:release",
            "release",
            account_id=found.account_id,
            available_fen=found.reserved_fen,
            reserved_fen=-found.reserved_fen,
            order_id=found.id,
            note="order cancelled",
        )
        found.reserved_fen = 0
    else:
        assert found.block_id is not None
        ledger.move_units(
            session,
            f"market:{found.id}:release",
            "transfer",
            block_id=found.block_id,
            quantity=found.remaining,
            from_account_id=ledger.system_account(session, ledger.MARKET_ESCROW).id,
            to_account_id=found.account_id,
            details={"market": "release", "order_id": found.id},
        )
    found.status, found.closed_at = "cancelled", utc_now()
    session.flush()
    return found


def escrowed_order(session: Session, block_id: int) -> int | None:
    """The open sell order whose units sit in ``block_id`` (None if no order holds it)."""
    return session.scalar(
        select(MarketOrder.id).where(
            MarketOrder.block_id == block_id,
            MarketOrder.status == "open",
            MarketOrder.side == "sell",
        )
    )


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------


def order_dict(order: MarketOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "key": order.idempotency_key,
        "account_id": order.account_id,
        "issuance_id": order.issuance_id,
        "side": order.side,
        "price_fen_per_t": order.price_fen_per_t,
        "quantity_t": order.quantity,
        "remaining_t": order.remaining,
        "filled_t": order.quantity - order.remaining,
        "status": order.status,
        "reserved_fen": order.reserved_fen,
        "block_id": order.block_id,
        "created_at": order.created_at.isoformat(),
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
    }


def trade_dict(trade: MarketTrade, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "id": trade.id,
        "at": trade.at.isoformat(),
        "issuance_id": trade.issuance_id,
        "buy_order_id": trade.buy_order_id,
        "sell_order_id": trade.sell_order_id,
        "buyer": codes[trade.buyer_account_id],
        "seller": codes[trade.seller_account_id],
        "block_id": trade.block_id,
        "quantity_t": trade.quantity,
        "price_fen_per_t": trade.price_fen_per_t,
        "aggressor": trade.aggressor,
    }


def balance(session: Session, account_id: int) -> dict[str, int]:
    found = session.get(CashBalance, account_id)
    return {
        "available_fen": found.available_fen if found else 0,
        "reserved_fen": found.reserved_fen if found else 0,
    }


def book(session: Session, issuance_id: int) -> dict[str, Any]:
    """Aggregated depth of an instrument: tonnes and orders per price level, best first."""
    issuance = session.get(CreditIssuance, issuance_id)
    if issuance is None:
        raise NotFound(f"no issuance {issuance_id}")
    rows = session.execute(
        select(
            MarketOrder.side,
            MarketOrder.price_fen_per_t,
            func.sum(MarketOrder.remaining),
            func.count(),
        )
        .where(MarketOrder.issuance_id == issuance_id, MarketOrder.status == "open")
        .group_by(MarketOrder.side, MarketOrder.price_fen_per_t)
    ).all()
    levels: dict[str, list[dict[str, int]]] = {"buy": [], "sell": []}
    for side, price, tonnes, orders in rows:
        levels[side].append({"price_fen_per_t": price, "quantity_t": int(tonnes), "orders": orders})
    levels["buy"].sort(key=lambda level: -level["price_fen_per_t"])
    levels["sell"].sort(key=lambda level: level["price_fen_per_t"])
    return {
        "issuance_id": issuance_id,
        "instrument": format_serial(
            issuance.serial_prefix, issuance.first_serial, issuance.last_serial
        ),
        "bids": levels["buy"],
        "asks": levels["sell"],
    }


def trades(
    session: Session,
    *,
    issuance_id: int | None = None,
    account_id: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Market trades, newest first, of an instrument and/or an account (as buyer or seller)."""
    query = select(MarketTrade).order_by(MarketTrade.id.desc()).limit(limit)
    if issuance_id is not None:
        query = query.where(MarketTrade.issuance_id == issuance_id)
    if account_id is not None:
        query = query.where(
            (MarketTrade.buyer_account_id == account_id)
            | (MarketTrade.seller_account_id == account_id)
        )
    found = list(session.scalars(query))
    codes = dict(session.execute(select(RegistryAccount.id, RegistryAccount.code)).all())
    return [trade_dict(trade, codes) for trade in found]


def statistics(
    session: Session, issuance_id: int, first_day: date | None = None, last_day: date | None = None
) -> list[matching.DailyStatistics]:
    """Daily open/high/low/close, volume, turnover and VWAP of an instrument (Beijing days)."""
    rows = session.execute(
        select(
            MarketTrade.id, MarketTrade.at, MarketTrade.price_fen_per_t, MarketTrade.quantity
        ).where(MarketTrade.issuance_id == issuance_id)
    ).all()
    prints = [
        matching.Print(_beijing_day(at), trade_id, price, quantity)
        for trade_id, at, price, quantity in rows
    ]
    return [
        day
        for day in matching.daily_statistics(prints)
        if (first_day is None or day.day >= first_day) and (last_day is None or day.day <= last_day)
    ]


def _beijing_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TIME_ZONE).date()


def quotes(session: Session, day: date, issuance_id: int | None = None) -> list[dict[str, Any]]:
    """The quote board: per instrument (issuance) its project and vintage, best bid and ask
    [fen/t], last trade price [fen/t] and the tonnes traded on Beijing calendar day ``day``.

    ``None`` where there is none (no bid, no ask, never traded), never a fake zero.
    """
    query = select(CreditIssuance).order_by(CreditIssuance.id)
    if issuance_id is not None:
        query = query.where(CreditIssuance.id == issuance_id)
    issuances = list(session.scalars(query))
    best = _best_prices(session)
    last = _last_prices(session)
    volume = _day_volumes(session, day)
    return [
        {
            "issuance_id": issuance.id,
            "serial_prefix": issuance.serial_prefix,
            "project_code": issuance.project_code,
            "project_name": issuance.project_name,
            "vintage": issuance.vintage,
            "best_bid_fen_per_t": best.get((issuance.id, "buy")),
            "best_ask_fen_per_t": best.get((issuance.id, "sell")),
            "last_fen_per_t": last.get(issuance.id),
            "day_volume_t": volume.get(issuance.id, 0),
        }
        for issuance in issuances
    ]


def _best_prices(session: Session) -> dict[tuple[int, str], int]:
    """(issuance, side) → the best open price: the highest bid, the lowest ask."""
    rows = session.execute(
        select(
            MarketOrder.issuance_id,
            MarketOrder.side,
            func.max(MarketOrder.price_fen_per_t),
            func.min(MarketOrder.price_fen_per_t),
        )
        .where(MarketOrder.status == "open")
        .group_by(MarketOrder.issuance_id, MarketOrder.side)
    ).all()
    return {
        (issuance, side): highest if side == "buy" else lowest
        for issuance, side, highest, lowest in rows
    }


def _last_prices(session: Session) -> dict[int, int]:
    """Issuance → the price of its latest trade (by trade sequence)."""
    latest = select(func.max(MarketTrade.id)).group_by(MarketTrade.issuance_id).scalar_subquery()
    rows = session.execute(
        select(MarketTrade.issuance_id, MarketTrade.price_fen_per_t).where(
            MarketTrade.id.in_(latest)
        )
    ).all()
    return {issuance: price for issuance, price in rows}


def _day_volumes(session: Session, day: date) -> dict[int, int]:
    """Issuance → tonnes traded on Beijing calendar day ``day``."""
    start = datetime.combine(day, time(), LOCAL_TIME_ZONE)
    rows = session.execute(
        select(MarketTrade.issuance_id, func.sum(MarketTrade.quantity))
        .where(MarketTrade.at >= start, MarketTrade.at < start + timedelta(days=1))
        .group_by(MarketTrade.issuance_id)
    ).all()
    return {issuance: int(tonnes) for issuance, tonnes in rows}


# ------------------------------------------------------------------------------------------
# Verification
# ------------------------------------------------------------------------------------------


def verify(session: Session) -> list[str]:
    """Re-check the market's invariants; returns the problems found.

    * each balance equals the sum of its movements, and no amount is negative;
    * money is conserved: all balances together = deposits − withdrawals;
    * each account's reserved money = the reservations of its open buy orders (price × remaining);
    * each open sell order's escrow block is held in ``SYS-MARKET`` with exactly the remaining
      tonnes, and the escrow account holds nothing else;
    * each order's filled tonnes equal its trades;
    * the journal's cash lines sum to each balance (available and reserved), and the ``cash``
      book to minus all balances together.
    """
    return [*_cash_problems(session), *_order_problems(session), *_journal_cash_problems(session)]


def _journal_cash_problems(session: Session) -> list[str]:
    expected: dict[journal.Position, int] = defaultdict(int)
    for balance in session.scalars(select(CashBalance)):
        for state, fen in (
            ("available", balance.available_fen),
            ("reserved", balance.reserved_fen),
        ):
            expected[(balance.account_id, None, journal.CASH, state)] = fen
            expected[(None, "cash", journal.CASH, None)] -= fen
    found = {
        position: total
        for position, total in journal.positions(session).items()
        if position[2] == journal.CASH
    }
    return [
        f"journal: cash {position}: lines sum to {found.get(position, 0)}, "
        f"balances say {expected.get(position, 0)}"
        for position in sorted(set(expected) | set(found), key=str)
        if expected.get(position, 0) != found.get(position, 0)
    ]


def _cash_problems(session: Session) -> list[str]:
    problems = []
    sums: dict[int, tuple[int, int]] = {
        account_id: (int(available), int(reserved))
        for account_id, available, reserved in session.execute(
            select(
                CashMovement.account_id,
                func.sum(CashMovement.available_fen),
                func.sum(CashMovement.reserved_fen),
            ).group_by(CashMovement.account_id)
        )
    }
    balances = {b.account_id: b for b in session.scalars(select(CashBalance))}
    for account_id in set(sums) | set(balances):
        found = balances.get(account_id)
        held = (found.available_fen, found.reserved_fen) if found else (0, 0)
        if held != sums.get(account_id, (0, 0)) or min(held) < 0:
            problems.append(
                f"cash of account {account_id}: balance {held} ≠ movements {sums.get(account_id)}"
            )
    external = dict(
        session.execute(
            select(CashMovement.kind, func.sum(CashMovement.available_fen))
            .where(CashMovement.kind.in_(("deposit", "withdraw")))
            .group_by(CashMovement.kind)
        ).all()
    )
    total = sum(b.available_fen + b.reserved_fen for b in balances.values())
    paid_in = int(external.get("deposit") or 0) + int(external.get("withdraw") or 0)
    if total != paid_in:
        problems.append(f"cash: balances total {total} fen, deposits − withdrawals {paid_in} fen")
    reserved: dict[int, int] = defaultdict(int)
    for order in session.scalars(
        select(MarketOrder).where(MarketOrder.side == "buy", MarketOrder.status == "open")
    ):
        if order.reserved_fen != order.price_fen_per_t * order.remaining:
            problems.append(
                f"order {order.id}: reserves {order.reserved_fen} fen for {order.remaining} t"
            )
        reserved[order.account_id] += order.reserved_fen
    for account_id, found in balances.items():
        if found.reserved_fen != reserved[account_id]:
            problems.append(
                f"cash of account {account_id}: {found.reserved_fen} fen reserved, "
                f"open buy orders hold {reserved[account_id]}"
            )
    return problems


def _order_problems(session: Session) -> list[str]:
    problems = []
    escrow = session.scalar(
        select(RegistryAccount.id).where(RegistryAccount.code == ledger.MARKET_ESCROW)
    )
    traded: dict[int, int] = defaultdict(int)
    for buy_id, sell_id, quantity in session.execute(
        select(MarketTrade.buy_order_id, MarketTrade.sell_order_id, MarketTrade.quantity)
    ):
        traded[buy_id] += quantity
        traded[sell_id] += quantity
    escrowed: set[int] = set()
    for order in session.scalars(select(MarketOrder)):
        if traded[order.id] != order.quantity - order.remaining:
            problems.append(
                f"order {order.id}: {order.quantity - order.remaining} t filled, "
                f"its trades {traded[order.id]} t"
            )
        if order.side == "sell" and order.status == "open":
            block = session.get(CreditBlock, order.block_id)
            if block is None or (block.account_id, block.status, block.quantity) != (
                escrow,
                "held",
                order.remaining,
            ):
                problems.append(f"order {order.id}: its {order.remaining} t are not held in escrow")
            escrowed.add(order.block_id or -1)
    stray = session.scalars(
        select(CreditBlock.id).where(
            CreditBlock.account_id == escrow, CreditBlock.id.not_in(escrowed)
        )
    ).all()
    problems.extend(f"block {block_id}: in escrow without an open sell order" for block_id in stray)
    return problems
