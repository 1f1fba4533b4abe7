"""Carbon-credit market use-cases: who may trade which account, one transaction per request.

The settlement rules live in :mod:`qingshan.store.market`; this module adds the permissions of
the registry (:class:`~qingshan.services.registry.Principal`): an account linked to a user is
traded only by that user (or an admin), a custodial account by the platform (admin, analyst);
only the registry administrator deposits or withdraws yuan. Market data (book, anonymous trade
prints, daily statistics) is readable by every registry reader.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from qingshan.services.registry import (
    ADMIN_ROLES,
    PLATFORM_ROLES,
    Forbidden,
    LedgerError,
    NotFound,
    Principal,
    _may_move,
    _owned,
    _write,
)
from qingshan.store import ledger, market
from qingshan.store.engine import reading
from qingshan.store.market_models import MarketOrder, MarketTrade
from qingshan.store.models import CreditBlock, RegistryAccount

__all__ = ["Forbidden", "NotFound", "Principal"]


def fen_from_yuan(text: str) -> int:
    """``"24.08"`` → ``2408``: parsed as a decimal, so no binary-float rounding; more than two
    decimals (below one fen) is refused rather than rounded."""
    try:
        amount = Decimal(text.strip()) * 100
    except InvalidOperation:
        raise LedgerError(f"{text!r} is not an amount of yuan") from None
    if amount != amount.to_integral_value():
        raise LedgerError(f"{text!r}: yuan have at most two decimals (fen)")
    return int(amount)


def _cash_dict(session: Session, account_id: int, code: str) -> dict[str, Any]:
    found = market.balance(session, account_id)
    return {"account": code, **found}


def deposit(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    account_code: str,
    amount_fen: int,
    note: str,
    withdraw: bool = False,
) -> dict[str, Any]:
    """Credit (or, with ``withdraw``, pay out) yuan on an account (registry administrator)."""
    principal.require(ADMIN_ROLES, "move yuan balances")

    def work(session: Session) -> dict[str, Any]:
        account = ledger.account_by_code(session, account_code)
        move = market.withdraw if withdraw else market.deposit
        movement = move(session, key, account_id=account.id, amount_fen=amount_fen, note=note)
        return {
            "movement_id": movement.id,
            "kind": movement.kind,
            "amount_fen": abs(movement.available_fen),
            **_cash_dict(session, account.id, account.code),
        }

    return _write(engine, principal, work)


def cash(engine: Engine, principal: Principal, account_code: str) -> dict[str, Any]:
    """An account's available and reserved fen (its owner and the platform)."""
    with reading(engine) as session:
        account = _readable(session, principal, account_code)
        return _cash_dict(session, account.id, account.code)


def _readable(session: Session, principal: Principal, account_code: str) -> RegistryAccount:
    account = ledger.account_by_code(session, account_code)
    if principal.role not in PLATFORM_ROLES:
        _may_move(principal, account)
    return account


def submit_order(
    engine: Engine,
    principal: Principal,
    *,
    key: str,
    account_code: str,
    issuance_id: int,
    side: str,
    price_fen_per_t: int,
    quantity: int,
    block_id: int | None = None,
) -> dict[str, Any]:
    """Place a limit order for an account the principal may trade; the answer is the order
    after matching, with the trades it made (the same answer when the key is sent again).

    A sell order without ``block_id`` sells from the account's smallest held block of the
    issuance that has ``quantity`` tonnes (larger blocks stay whole for larger orders).
    """

    def work(session: Session) -> dict[str, Any]:
        account = _owned(session, principal, account_code)
        replayed = session.scalar(select(MarketOrder).where(MarketOrder.idempotency_key == key))
        sold_from = block_id
        if side == "sell" and sold_from is None and replayed is None:
            sold_from = _block_for_sale(session, account, issuance_id, quantity)
        order = market.submit_order(
            session,
            key,
            account_id=account.id,
            issuance_id=issuance_id,
            side=side,
            price_fen_per_t=price_fen_per_t,
            quantity=quantity,
            block_id=sold_from,
        )
        return _order_with_trades(session, order)

    return _write(engine, principal, work)


def _block_for_sale(
    session: Session, account: RegistryAccount, issuance_id: int, quantity: int
) -> int:
    """The smallest held block of ``issuance_id`` in ``account`` with at least ``quantity`` t
    (a sell order escrows units of one block)."""
    tonnes = CreditBlock.last_serial - CreditBlock.first_serial + 1
    held = (
        select(CreditBlock.id, tonnes)
        .where(
            CreditBlock.account_id == account.id,
            CreditBlock.issuance_id == issuance_id,
            CreditBlock.status == "held",
        )
        .order_by(tonnes, CreditBlock.id)
    )
    blocks = session.execute(held).all()
    for found, available in blocks:
        if available >= quantity:
            return int(found)
    largest = max((available for _, available in blocks), default=0)
    raise LedgerError(
        f"account {account.code} holds no block of issuance {issuance_id} with {quantity} t "
        f"(largest: {largest} t); a sell order sells from one block"
    )


def _order_with_trades(session: Session, order: MarketOrder) -> dict[str, Any]:
    found = session.scalars(
        select(MarketTrade)
        .where(or_(MarketTrade.buy_order_id == order.id, MarketTrade.sell_order_id == order.id))
        .order_by(MarketTrade.id)
    )
    codes = _codes(session)
    return {**market.order_dict(order), "trades": [market.trade_dict(t, codes) for t in found]}


def _codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(RegistryAccount.id, RegistryAccount.code)).all())


def cancel_order(engine: Engine, principal: Principal, order_id: int) -> dict[str, Any]:
    """Cancel an open order of an account the principal may trade (a repeat changes nothing)."""

    def work(session: Session) -> dict[str, Any]:
        order = session.get(MarketOrder, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        account = session.get(RegistryAccount, order.account_id)
        assert account is not None  # foreign key
        _may_move(principal, account)
        return _order_with_trades(session, market.cancel_order(session, order_id))

    return _write(engine, principal, work)


def orders(
    engine: Engine, principal: Principal, account_code: str, status: str | None = None
) -> list[dict[str, Any]]:
    """An account's orders, newest first (optionally only ``open``, ``filled`` or ``cancelled``)."""
    with reading(engine) as session:
        account = _readable(session, principal, account_code)
        query = (
            select(MarketOrder)
            .where(MarketOrder.account_id == account.id)
            .order_by(MarketOrder.id.desc())
        )
        if status:
            query = query.where(MarketOrder.status == status)
        return [market.order_dict(order) for order in session.scalars(query)]


def book(engine: Engine, issuance_id: int) -> dict[str, Any]:
    with reading(engine) as session:
        return market.book(session, issuance_id)


def trades(
    engine: Engine,
    principal: Principal,
    *,
    issuance_id: int | None = None,
    account_code: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Trade history, newest first. Of one account: its owner and the platform see the
    counterparties. Of the whole market: anonymous prints (time, price, tonnes), as exchanges
    publish them, unless the principal is the platform."""
    with reading(engine) as session:
        account_id = None
        if account_code is not None:
            account_id = _readable(session, principal, account_code).id
        found = market.trades(session, issuance_id=issuance_id, account_id=account_id, limit=limit)
    if account_code is None and principal.role not in PLATFORM_ROLES:
        for trade in found:
            trade.pop("buyer"), trade.pop("seller")
            trade.pop("buy_order_id"), trade.pop("sell_order_id"), trade.pop("block_id")
    return found


def statistics(
    engine: Engine, issuance_id: int, first_day: date | None = None, last_day: date | None = None
) -> list[dict[str, Any]]:
    """Daily open/high/low/close, volume, turnover and VWAP of an instrument (Beijing days)."""
    with reading(engine) as session:
        days = market.statistics(session, issuance_id, first_day, last_day)
    return [
        {
            "day": day.day.isoformat(),
            "open_fen_per_t": day.open,
            "high_fen_per_t": day.high,
            "low_fen_per_t": day.low,
            "close_fen_per_t": day.close,
            "trades": day.trades,
            "volume_t": day.volume_t,
            "turnover_fen": day.turnover_fen,
            "vwap_fen_per_t": day.vwap_fen,
        }
        for day in days
    ]


def quote_board(engine: Engine, issuance_id: int | None = None) -> list[dict[str, Any]]:
    """Per instrument: project, vintage, best bid and ask, last price and today's volume
    (Beijing day) — public market data, as a bourse's quote board."""
    today = datetime.now(ledger.LOCAL_TIME_ZONE).date()
    with reading(engine) as session:
        found = market.quotes(session, today, issuance_id)
    if issuance_id is not None and not found:
        raise NotFound(f"no issuance {issuance_id}")
    return found
