"""Carbon-credit market API under ``/api/v1/market`` (docs/registry.md, market).

Orders are limit orders on one issuance (the instrument), prices in integer fen per tonne,
quantities in whole tonnes; an order is matched and settled in the request that places it.
``enterprise`` users trade the accounts linked to them, the platform (``analyst``) custodial
accounts, ``admin`` any and alone moves yuan in and out. Book, anonymous trade prints and daily
statistics are market data for every registry reader. Answers: 404 unknown, 403 not allowed,
409 refused (short money or units, a wash trade, a filled order), 422 malformed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from qingshan.api.deps import Caller, EngineDep, require_roles
from qingshan.api.routers.registry import Key, _call, principal_of
from qingshan.services import market

router = APIRouter(prefix="/market", tags=["market 碳市场"])

Admin = Annotated[Caller, Depends(require_roles())]
Holder = Annotated[Caller, Depends(require_roles("analyst", "enterprise"))]
Reader = Annotated[Caller, Depends(require_roles("analyst", "grid_officer", "enterprise"))]
Fen = Annotated[int, Field(gt=0, description="Integer fen (0.01 yuan).")]


class NewOrder(BaseModel):
    idempotency_key: Key
    account: str = Field(description="The registry account that trades.")
    issuance_id: int = Field(description="The instrument: credits of one issuance.")
    side: Literal["buy", "sell"]
    price_fen_per_t: Fen
    quantity: int = Field(gt=0, description="Whole tonnes CO2e.")
    block_id: int | None = Field(
        None,
        description="Sell orders: the held block sold from (default: the smallest held block "
        "of the issuance with the tonnes).",
    )


class CashMove(BaseModel):
    idempotency_key: Key
    account: str
    amount_fen: Fen
    note: str = Field(min_length=1, max_length=200, description="e.g. the bank reference.")


@router.post("/orders", status_code=status.HTTP_201_CREATED)
def submit_order(body: NewOrder, engine: EngineDep, caller: Holder) -> dict[str, Any]:
    """Place a limit order; it trades at once against the book (price-time priority, at the
    resting prices) and rests with any remainder. The answer lists the trades it made."""
    fields = body.model_dump()
    return _call(
        lambda: market.submit_order(
            engine,
            principal_of(caller),
            key=fields.pop("idempotency_key"),
            account_code=fields.pop("account"),
            **fields,
        )
    )


@router.get("/orders")
def orders(
    engine: EngineDep,
    caller: Holder,
    account: str,
    status_: Annotated[Literal["open", "filled", "cancelled"] | None, Query(alias="status")] = None,
) -> list[dict[str, Any]]:
    """The orders of an account the caller trades (or any, for the platform), newest first."""
    return _call(lambda: market.orders(engine, principal_of(caller), account, status_))


@router.delete("/orders/{order_id}")
def cancel_order(order_id: int, engine: EngineDep, caller: Holder) -> dict[str, Any]:
    """Cancel an open order: the reserved yuan or escrowed credits go back (repeatable)."""
    return _call(lambda: market.cancel_order(engine, principal_of(caller), order_id))


@router.get("/book/{issuance_id}")
def book(issuance_id: int, engine: EngineDep, _caller: Reader) -> dict[str, Any]:
    """Aggregated depth: tonnes and orders per price level, bids and asks best first."""
    return _call(lambda: market.book(engine, issuance_id))


@router.get("/trades")
def trades(
    engine: EngineDep,
    caller: Reader,
    issuance_id: int | None = None,
    account: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """Trade history, newest first; with ``account``, that account's trades and counterparties
    (owner or platform), otherwise anonymous prints."""
    return _call(
        lambda: market.trades(
            engine,
            principal_of(caller),
            issuance_id=issuance_id,
            account_code=account,
            limit=limit,
        )
    )


@router.get("/stats/{issuance_id}")
def statistics(
    issuance_id: int,
    engine: EngineDep,
    _caller: Reader,
    first_day: Annotated[date | None, Query(alias="from")] = None,
    last_day: Annotated[date | None, Query(alias="until")] = None,
) -> list[dict[str, Any]]:
    """Per Beijing day: open, high, low, close [fen/t], trades, volume [t], turnover [fen], VWAP."""
    return market.statistics(engine, issuance_id, first_day, last_day)


@router.get("/accounts/{code}/cash")
def cash(code: str, engine: EngineDep, caller: Holder) -> dict[str, Any]:
    """Available and reserved fen of an account (its owner and the platform)."""
    return _call(lambda: market.cash(engine, principal_of(caller), code))


@router.post("/cash/deposits")
def deposit(body: CashMove, engine: EngineDep, caller: Admin) -> dict[str, Any]:
    """Credit yuan received for an account (registry administrator; idempotent by key)."""
    return _call(lambda: _cash(engine, caller, body, withdraw=False))


@router.post("/cash/withdrawals")
def withdraw(body: CashMove, engine: EngineDep, caller: Admin) -> dict[str, Any]:
    """Pay out available yuan (never the money reserved by open orders)."""
    return _call(lambda: _cash(engine, caller, body, withdraw=True))


def _cash(engine: Any, caller: Caller, body: CashMove, *, withdraw: bool) -> dict[str, Any]:
    return market.deposit(
        engine,
        principal_of(caller),
        key=body.idempotency_key,
        account_code=body.account,
        amount_fen=body.amount_fen,
        note=body.note,
        withdraw=withdraw,
    )
