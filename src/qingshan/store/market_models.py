"""Tables of the carbon-credit market (docs/registry.md, market): orders, yuan balances, cash
movements and market trades.

* :class:`MarketOrder` — a limit order on one issuance (the instrument); a buy order reserves
  price × quantity fen, a sell order's units wait in the market escrow account (a block split to
  exactly the remaining quantity).
* :class:`CashBalance` — an account's yuan in integer fen: ``available`` and ``reserved``
  (escrow of open buy orders); the database refuses a negative amount.
* :class:`CashMovement` — every change of a balance, one row each, with a unique idempotency
  key; a balance always equals the sum of its movements (``qingshan registry verify``).
* :class:`MarketTrade` — a fill between a buy and a sell order, settled in the same
  transaction as the order that caused it. ``registry_trades`` stays for bilateral trades whose
  money is settled outside the registry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from qingshan.store.models import Base, _one_of
from qingshan.store.types import Identifier, utc_now

ORDER_SIDES = ("buy", "sell")
ORDER_STATUSES = ("open", "filled", "cancelled")
CASH_KINDS = ("deposit", "withdraw", "reserve", "release", "pay", "receive")
"""deposit/withdraw (administrator), reserve (a buy order's escrow), release (escrow back to
available: cancellation or price improvement), pay (escrow to the seller), receive (seller)."""


class MarketOrder(Base):
    """A limit order for whole tonnes of one issuance at ``price_fen_per_t``.

    ``remaining`` tonnes are still wanted; ``filled`` exactly when none remain. ``reserved_fen``
    is the buy escrow still held (price × remaining); ``block_id`` the sell order's escrowed
    block (its units are in the market escrow account until they trade or the order is
    cancelled). Time priority is the ``id`` (arrival order).
    """

    __tablename__ = "market_orders"
    __table_args__ = (
        CheckConstraint(_one_of("side", ORDER_SIDES), name="side"),
        CheckConstraint(_one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint(
            "price_fen_per_t > 0 AND quantity > 0 AND remaining >= 0 AND remaining <= quantity "
            "AND reserved_fen >= 0",
            name="amounts",
        ),
        CheckConstraint("(remaining = 0) = (status = 'filled')", name="filled_when_none_left"),
        Index("ix_market_orders_book", "issuance_id", "status", "side", "price_fen_per_t"),
        Index("ix_market_orders_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    issuance_id: Mapped[int] = mapped_column(ForeignKey("registry_issuances.id"))
    side: Mapped[str] = mapped_column(String(4))
    price_fen_per_t: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="open")
    reserved_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    block_id: Mapped[int | None] = mapped_column(Identifier, ForeignKey("registry_blocks.id"))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    closed_at: Mapped[datetime | None]


class CashBalance(Base):
    """An account's yuan in fen: ``available_fen`` to spend or withdraw, ``reserved_fen`` held
    for its open buy orders."""

    __tablename__ = "market_balances"
    __table_args__ = (
        CheckConstraint("available_fen >= 0 AND reserved_fen >= 0", name="not_negative"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"), primary_key=True)
    available_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class MarketTrade(Base):
    """``quantity`` t of an issuance sold by ``sell_order_id`` to ``buy_order_id`` at the
    resting order's price; ``block_id`` is the block the buyer received."""

    __tablename__ = "market_trades"
    __table_args__ = (
        CheckConstraint("quantity > 0 AND price_fen_per_t > 0", name="amounts"),
        CheckConstraint(_one_of("aggressor", ORDER_SIDES), name="aggressor"),
        Index("ix_market_trades_issuance", "issuance_id", "id"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    issuance_id: Mapped[int] = mapped_column(ForeignKey("registry_issuances.id"))
    buy_order_id: Mapped[int] = mapped_column(Identifier, ForeignKey("market_orders.id"))
    sell_order_id: Mapped[int] = mapped_column(Identifier, ForeignKey("market_orders.id"))
    buyer_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    seller_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    block_id: Mapped[int] = mapped_column(Identifier, ForeignKey("registry_blocks.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price_fen_per_t: Mapped[int] = mapped_column(BigInteger)
    aggressor: Mapped[str] = mapped_column(String(4))
    """The side of the incoming order (the one that took liquidity)."""
    at: Mapped[datetime] = mapped_column(default=utc_now)


class CashMovement(Base):
    """One change of a cash balance: signed fen added to ``available`` and to ``reserved``, and
    the balances after it. Written only by :func:`qingshan.store.market.move_cash`."""

    __tablename__ = "market_cash_movements"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CASH_KINDS), name="kind"),
        Index("ix_market_cash_movements_account", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    available_fen: Mapped[int] = mapped_column(BigInteger)
    reserved_fen: Mapped[int] = mapped_column(BigInteger)
    available_after_fen: Mapped[int] = mapped_column(BigInteger)
    reserved_after_fen: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(Identifier, ForeignKey("market_orders.id"))
    trade_id: Mapped[int | None] = mapped_column(Identifier, ForeignKey("market_trades.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utc_now)
