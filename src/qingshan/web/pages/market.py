"""The carbon-credit market (碳市场) on the registry pages: the public quote board, one
instrument's book, trades and daily statistics, and the order and cancel forms of an account
page (whose market part is :func:`qingshan.web.pages.registry.account_market`).

Every rule — escrow, price-time matching, settlement, who trades which account — is the
market's (:mod:`qingshan.services.market`); prices are integer fen there and become yuan with
two decimals only when shown (the ``yuan`` filter) or parsed (``fen_from_yuan``).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qingshan.api.deps import Caller, EngineDep
from qingshan.api.routers.registry import principal_of
from qingshan.services import market
from qingshan.services.registry import PLATFORM_ROLES, Forbidden, LedgerError, NotFound, Principal
from qingshan.web import charts
from qingshan.web.pages.registry import (
    RECENT_TRADES,
    SIDE_LABELS,
    Holder,
    account_url,
)
from qingshan.web.rendering import render
from qingshan.web.session import PUBLIC, CheckedForm, Visitor

router = APIRouter(include_in_schema=False)


def _reader(caller: Caller | None) -> Principal:
    """Market data is public; the platform alone sees who traded with whom."""
    return Principal(actor="web:public", role=PUBLIC) if caller is None else principal_of(caller)


@router.get("/registry/market", response_class=HTMLResponse)
def board(request: Request, engine: EngineDep, caller: Visitor) -> HTMLResponse:
    """The quote board: one row per instrument with best bid and ask, last price, day volume."""
    return render(request, "market.html", caller, {"quotes": market.quote_board(engine)})


@router.get("/registry/market/{issuance_id}", response_class=HTMLResponse)
def instrument(
    request: Request, engine: EngineDep, caller: Visitor, issuance_id: int
) -> HTMLResponse:
    """One instrument: depth of the book, recent trades (anonymous unless the caller is the
    platform) and daily open/high/low/close, volume and VWAP."""
    try:
        quote_row = market.quote_board(engine, issuance_id)[0]
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    depth = market.book(engine, issuance_id)
    days = market.statistics(engine, issuance_id)
    return render(
        request,
        "market_instrument.html",
        caller,
        {
            "quote": quote_row,
            "book": depth,
            "depth_chart": charts.book_chart(depth["bids"], depth["asks"]),
            "trades": market.trades(
                engine, _reader(caller), issuance_id=issuance_id, limit=RECENT_TRADES
            ),
            "with_accounts": caller is not None and caller.role in PLATFORM_ROLES,
            "days": days,
            "price_chart": charts.candlestick_chart(days) if days else None,
            "sides": SIDE_LABELS,
        },
    )


@router.post("/registry/accounts/{code}/orders", response_model=None)
def place_order(engine: EngineDep, caller: Holder, code: str, form: CheckedForm) -> Response:
    """A limit order from the account page; the form's key makes a resubmission harmless."""
    try:
        order = market.submit_order(
            engine,
            principal_of(caller),
            key=f"web-order-{form.get('key', '')}",
            account_code=code,
            issuance_id=_whole(form.get("issuance_id"), "instrument"),
            side=str(form.get("side", "")),
            price_fen_per_t=market.fen_from_yuan(str(form.get("price_yuan", ""))),
            quantity=_whole(form.get("quantity"), "tonnes"),
        )
    except Forbidden as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
    except LedgerError as error:
        return _back(code, problem=str(error))
    return _back(code, order=str(order["id"]))


@router.post("/registry/accounts/{code}/orders/{order_id}/cancel", response_model=None)
def cancel_order(
    engine: EngineDep, caller: Holder, code: str, order_id: int, form: CheckedForm
) -> Response:
    """Take an open order off the book (repeatable); its yuan or credits go back."""
    try:
        market.cancel_order(engine, principal_of(caller), order_id)
    except Forbidden as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
    except LedgerError as error:
        return _back(code, problem=str(error))
    return _back(code, order=str(order_id))


def _whole(value: object, field: str) -> int:
    """A form field that must be a whole number, refused with the field's name."""
    try:
        return int(str(value))
    except ValueError:
        raise LedgerError(f"{field}: {value!r} is not a whole number") from None


def _back(code: str, **query: str) -> RedirectResponse:
    """To the account page's market section, with the refusal or the order's outcome."""
    return RedirectResponse(
        f"{account_url(code, **query)}#market", status_code=status.HTTP_303_SEE_OTHER
    )
