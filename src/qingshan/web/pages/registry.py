"""The carbon-inclusion registry (碳普惠): public lookups, account statements, retirements.

The public may look up where a serial's units are and check a retirement certificate; owners
see their accounts and retire their credits; the platform (analysts, administrators) sees every
account. Every rule — who may move what, whole tonnes, no double retirement — is the ledger's
(:mod:`qingshan.services.registry`); the page only asks and shows the answer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from qingshan.api.deps import Caller, EngineDep
from qingshan.api.routers.registry import principal_of
from qingshan.services import certificates, market, registry
from qingshan.services.registry import Forbidden, LedgerError, NotFound, Principal
from qingshan.store.engine import reading
from qingshan.store.models import RETIREMENT_PURPOSES
from qingshan.web.i18n import N_
from qingshan.web.rendering import render
from qingshan.web.session import CheckedForm, Visitor, signed_in

router = APIRouter(include_in_schema=False)
Holder = Annotated[Caller, Depends(signed_in("analyst", "enterprise"))]
ACCOUNT_KIND_LABELS = {
    "individual": N_("Individual"),
    "enterprise": N_("Enterprise"),
    "project_owner": N_("Project owner"),
    "platform": N_("Platform"),
    "retirement": N_("Retirement"),
    "cancellation": N_("Cancellation"),
}
BLOCK_STATUS_LABELS = {
    "held": N_("Held"),
    "frozen": N_("Frozen"),
    "retired": N_("Retired"),
    "cancelled": N_("Cancelled"),
}
OPERATION_LABELS = {
    "issue": N_("Issued"),
    "transfer": N_("Transferred"),
    "trade": N_("Traded"),
    "retire": N_("Retired"),
    "surrender": N_("Surrendered for compliance"),
    "cancel": N_("Cancelled"),
    "freeze": N_("Frozen"),
    "unfreeze": N_("Released"),
    "accrue": N_("Points earned"),
    "redeem": N_("Points redeemed"),
}
SIDE_LABELS = {"buy": N_("Buy"), "sell": N_("Sell")}
ORDER_STATUS_LABELS = {
    "open": N_("Open"),
    "filled": N_("Filled"),
    "cancelled": N_("Order cancelled"),
}
RECENT_TRADES = 50
"""Trades listed on an account or instrument page (newest first)."""
PURPOSES_FOR_RETIREMENT = tuple(p for p in RETIREMENT_PURPOSES if p != "履约抵销")
"""Compliance (履约抵销) goes through a surrender against an obligation, not a retirement."""


@router.get("/registry", response_class=HTMLResponse)
def registry_home(request: Request, engine: EngineDep, caller: Visitor) -> HTMLResponse:
    """Lookups for everyone; the caller's accounts (all of them for the platform); supply."""
    accounts: list[dict[str, Any]] = []
    if caller is not None and caller.role in registry.PLATFORM_ROLES:
        accounts = [a for a in registry.list_accounts(engine) if not a["code"].startswith("SYS-")]
    elif caller is not None:
        accounts = registry.list_accounts(engine, user_id=caller.user_id)
    return render(
        request,
        "registry.html",
        caller,
        {"accounts": accounts, "supply": registry.supply(engine), "kinds": ACCOUNT_KIND_LABELS},
    )


@router.get("/registry/serial", response_class=HTMLResponse)
def serial_lookup(
    request: Request, engine: EngineDep, caller: Visitor, serial: str = ""
) -> HTMLResponse:
    """Where the units of a serial range are now (public, read-only)."""
    found, problem = [], None
    try:
        found = registry.lookup_serial(engine, serial.strip()) if serial.strip() else []
    except ValueError as error:
        problem = str(error)
    return render(
        request,
        "registry_serial.html",
        caller,
        {"serial": serial, "found": found, "problem": problem, "statuses": BLOCK_STATUS_LABELS},
    )


@router.get("/registry/certificate")
def certificate_search(number: str = "") -> RedirectResponse:
    """The check form's answer: the certificate's own page (a link others can be sent)."""
    return RedirectResponse(
        f"/registry/certificates/{quote(number.strip())}", status_code=status.HTTP_303_SEE_OTHER
    )


def _certificate(engine: Engine, number_or_code: str) -> certificates.Certificate:
    try:
        with reading(engine) as session:
            return certificates.certificate_for(session, number_or_code)
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get("/registry/certificates/{number}", response_class=HTMLResponse)
@router.get("/verify/{number}", response_class=HTMLResponse)
def certificate_page(
    request: Request, engine: EngineDep, caller: Visitor, number: str
) -> HTMLResponse:
    """A retirement certificate by number or verification code (the link printed on the PDF
    and in its QR code), and whether its content still matches the sealed SHA-256."""
    found = _certificate(engine, number)
    return render(
        request,
        "registry_certificate.html",
        caller,
        {"found": found, "verify_url": str(request.base_url).rstrip("/") + found.verify_path},
    )


@router.get("/registry/certificates/{number}/pdf")
def certificate_pdf(request: Request, engine: EngineDep, number: str) -> Response:
    """The certificate as PDF, with its hash, verification link and QR code (public)."""
    found = _certificate(engine, number)
    return Response(
        certificates.certificate_pdf(found, str(request.base_url).rstrip("/")),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{found.number}.pdf"'},
    )


@router.get("/registry/accounts/{code}", response_class=HTMLResponse)
def account_page(request: Request, engine: EngineDep, caller: Holder, code: str) -> HTMLResponse:
    """Points, credit blocks and the account's timeline; owners get a retirement form."""
    try:
        statement = registry.statement(engine, principal_of(caller), code)
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except Forbidden as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
    return render(
        request,
        "registry_account.html",
        caller,
        {
            "statement": statement,
            "purposes": PURPOSES_FOR_RETIREMENT,
            "form_key": uuid.uuid4().hex,
            "problem": request.query_params.get("problem"),
            "statuses": BLOCK_STATUS_LABELS,
            "operations": OPERATION_LABELS,
            **account_market(engine, principal_of(caller), code, request.query_params.get("order")),
        },
    )


def account_market(
    engine: Engine, principal: Principal, code: str, placed: str | None
) -> dict[str, Any]:
    """The market part of an account page: cash, open orders, recent trades with their
    counterparties, the instruments of the order form and the outcome of the order just placed
    (``placed``: its id, from the redirect after the form)."""
    orders = market.orders(engine, principal, code)
    trades = market.trades(engine, principal, account_code=code, limit=RECENT_TRADES)
    outcome = next((order for order in orders if str(order["id"]) == placed), None)
    if outcome is not None:
        own = (trade for trade in trades if outcome["id"] in _order_ids(trade))
        outcome = {**outcome, "trades": list(own)}
    instruments = market.quote_board(engine)
    return {
        "cash": market.cash(engine, principal, code),
        "open_orders": [order for order in orders if order["status"] == "open"],
        "account_trades": trades,
        "instruments": instruments,
        "instrument_names": {row["issuance_id"]: row["serial_prefix"] for row in instruments},
        "outcome": outcome,
        "sides": SIDE_LABELS,
        "order_statuses": ORDER_STATUS_LABELS,
        "order_key": uuid.uuid4().hex,
    }


def _order_ids(trade: dict[str, Any]) -> tuple[int, int]:
    return trade["buy_order_id"], trade["sell_order_id"]


@router.post("/registry/accounts/{code}/retire", response_model=None)
def retire(engine: EngineDep, caller: Holder, code: str, form: CheckedForm) -> Response:
    """Retire whole tonnes of a block; the form's key makes a resubmission harmless."""
    try:
        operation = registry.retire(
            engine,
            principal_of(caller),
            key=f"web-retire-{form.get('key', '')}",
            block_id=int(str(form.get("block_id", ""))),
            quantity=int(str(form.get("quantity", ""))),
            from_account=code,
            purpose=str(form.get("purpose", "")),
            beneficiary=str(form.get("beneficiary", "")),
            note=str(form.get("note", "")),
        )
    except Forbidden as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
    except (LedgerError, ValueError) as error:
        return RedirectResponse(
            account_url(code, problem=str(error)), status_code=status.HTTP_303_SEE_OTHER
        )
    return RedirectResponse(
        f"/registry/certificates/{operation['certificate']}", status_code=status.HTTP_303_SEE_OTHER
    )


def account_url(code: str, **query: str) -> str:
    """The account page, with ``problem`` (a refusal to show) or ``order`` (an outcome)."""
    return f"/registry/accounts/{quote(code)}?{urlencode(query)}"
