"""Carbon-inclusion registry API (碳普惠 / 碳惠通) under ``/api/v1/registry``.

Roles (docs/registry.md): ``admin`` is the registry administrator (issue, cancel, freeze,
methodologies); ``admin`` and ``analyst`` operate the platform (accounts, actions, redemptions,
obligations, custodial accounts); ``enterprise`` users move, retire and surrender credits of
the accounts linked to them. Every write carries an ``idempotency_key``: sending the same
request again returns the first result and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import AwareDatetime, BaseModel, Field

from qingshan.api.deps import Caller, EngineDep, ReadSession, require_roles
from qingshan.services import certificates, registry
from qingshan.services.registry import Forbidden, LedgerError, NotFound, Principal

router = APIRouter(prefix="/registry", tags=["registry 碳普惠登记"])

Admin = Annotated[Caller, Depends(require_roles())]
Platform = Annotated[Caller, Depends(require_roles("analyst"))]
Holder = Annotated[Caller, Depends(require_roles("analyst", "enterprise"))]
Reader = Annotated[Caller, Depends(require_roles("analyst", "grid_officer", "enterprise"))]
T = TypeVar("T")
Key = Annotated[str, Field(min_length=1, max_length=100, description="Idempotency key.")]


def principal_of(caller: Caller) -> Principal:
    """The registry's principal for an authenticated caller (API and pages alike)."""
    return Principal(actor=caller.actor, role=caller.role, user_id=caller.user_id)


@contextmanager
def _answering() -> Iterator[None]:
    """Ledger refusals as HTTP answers: 404 unknown, 403 not allowed, 409 refused, 422 bad."""
    try:
        yield
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except Forbidden as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
    except LedgerError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except ValueError as error:  # malformed serial or project code
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


def _call(work: Callable[[], T]) -> T:
    with _answering():
        return work()


class NewAccount(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["individual", "enterprise", "project_owner"]
    username: str | None = Field(None, description="The user who acts on this account.")


class MethodologyFields(BaseModel):
    name: str | None = None
    version: str | None = None
    scheme: str | None = None
    kind: Literal["action", "project"] | None = None
    document: str | None = None
    source: str | None = None
    unit: str | None = None
    grams_per_unit: float | None = Field(None, gt=0, description="g CO2 per unit [g/unit]")
    points_per_unit: float | None = Field(None, ge=0)
    daily_cap_units: float | None = Field(None, gt=0)
    active: bool | None = None


class Action(BaseModel):
    account: str
    methodology: str
    quantity: float = Field(gt=0)
    time: AwareDatetime
    key: Key
    evidence: str = Field("", max_length=200)


class Redemption(BaseModel):
    idempotency_key: Key
    points: float = Field(gt=0)
    note: str = Field(min_length=1, max_length=200)


class Issuance(BaseModel):
    idempotency_key: Key
    methodology: str
    project_code: str
    project_name: str
    vintage: int = Field(ge=1990, le=2100)
    quantity: int = Field(ge=1, description="tonnes CO2e")
    to_account: str
    verification: str = Field(min_length=1, max_length=200)


class AggregatedIssuance(BaseModel):
    idempotency_key: Key
    methodology: str
    first_day: date = Field(description="First Beijing calendar day of the period.")
    last_day: date = Field(description="Last day, included (same year).")
    project_code: str
    to_account: str = "SYS-PLATFORM"


class Transfer(BaseModel):
    idempotency_key: Key
    block_id: int
    quantity: int = Field(ge=1)
    from_account: str
    to_account: str
    price_yuan_per_t: float | None = Field(None, ge=0, description="With a price: a trade.")


class RetirementRequest(BaseModel):
    idempotency_key: Key
    block_id: int
    quantity: int = Field(ge=1)
    from_account: str
    purpose: Literal["碳中和", "自愿注销"]
    beneficiary: str = Field(min_length=1, max_length=200)
    note: str = ""


class Surrender(BaseModel):
    idempotency_key: Key
    block_id: int
    quantity: int = Field(ge=1)
    from_account: str
    obligation_id: int
    note: str = ""


class Obligation(BaseModel):
    account: str
    scheme: str = "CN-ETS"
    year: int
    verified_emissions_t: int = Field(ge=0)


class Cancellation(BaseModel):
    idempotency_key: Key
    block_id: int
    quantity: int = Field(ge=1)
    reason: str = Field(min_length=1)


class Freeze(BaseModel):
    idempotency_key: Key
    block_id: int
    quantity: int = Field(ge=1)
    frozen: bool = True
    reason: str = ""


@router.get("/methodologies")
def methodologies(engine: EngineDep, _caller: Reader) -> list[dict[str, Any]]:
    """Methodologies with their documents, sources, factors and caps."""
    return registry.list_methodologies(engine)


@router.put("/methodologies/{code}")
def define_methodology(
    code: str, body: MethodologyFields, engine: EngineDep, caller: Admin
) -> dict[str, Any]:
    """Add or change a methodology (e.g. enter a verified factor and activate it)."""
    fields = body.model_dump(exclude_none=True)
    return _call(lambda: registry.define_methodology(engine, principal_of(caller), code, **fields))


@router.get("/accounts")
def accounts(engine: EngineDep, _caller: Platform) -> list[dict[str, Any]]:
    return registry.list_accounts(engine)


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
def open_account(body: NewAccount, engine: EngineDep, caller: Platform) -> dict[str, Any]:
    return _call(lambda: registry.open_account(engine, principal_of(caller), **body.model_dump()))


@router.get("/accounts/{code}/statement")
def statement(code: str, engine: EngineDep, caller: Holder) -> dict[str, Any]:
    """Points, holdings and the event timeline of an account (owners and the platform)."""
    return _call(lambda: registry.statement(engine, principal_of(caller), code))


@router.post("/actions")
def record_actions(
    actions: list[Action], engine: EngineDep, caller: Platform
) -> list[dict[str, Any]]:
    """Record low-carbon actions; each is accepted, rejected with a reason, or a duplicate."""
    rows = [
        registry.ActionRow(a.account, a.methodology, a.quantity, a.time, a.key, a.evidence)
        for a in actions
    ]
    return _call(lambda: registry.record_actions(engine, principal_of(caller), rows))


@router.post("/accounts/{code}/redemptions")
def redeem(code: str, body: Redemption, engine: EngineDep, caller: Platform) -> dict[str, Any]:
    """Spend points on a coupon or benefit; refused when the balance is short."""
    return _call(
        lambda: registry.redeem(
            engine,
            principal_of(caller),
            key=body.idempotency_key,
            account_code=code,
            points=body.points,
            note=body.note,
        )
    )


@router.post("/issuances", status_code=status.HTTP_201_CREATED)
def issue(body: Issuance, engine: EngineDep, caller: Admin) -> dict[str, Any]:
    """Issue verified credits as one serial block (registry administrator)."""
    fields = body.model_dump()
    key = fields.pop("idempotency_key")
    return _call(lambda: registry.issue(engine, principal_of(caller), key=key, **fields))


@router.post("/issuances/from-actions", status_code=status.HTTP_201_CREATED)
def issue_from_actions(
    body: AggregatedIssuance, engine: EngineDep, caller: Admin
) -> dict[str, Any]:
    """Issue a period's unissued individual reductions as credits (whole tonnes, rounded down)."""
    fields = body.model_dump()
    key = fields.pop("idempotency_key")
    return _call(
        lambda: registry.issue_from_actions(engine, principal_of(caller), key=key, **fields)
    )


@router.post("/transfers")
def transfer(body: Transfer, engine: EngineDep, caller: Holder) -> dict[str, Any]:
    """Move credits; with ``price_yuan_per_t`` the move is recorded as a bilateral trade."""
    fields = body.model_dump()
    key = fields.pop("idempotency_key")
    return _call(lambda: registry.transfer(engine, principal_of(caller), key=key, **fields))


@router.post("/retirements")
def retire(body: RetirementRequest, engine: EngineDep, caller: Holder) -> dict[str, Any]:
    """Retire credits irreversibly (碳中和 / 自愿注销); the answer names the certificate
    (``certificate``: its number, ``verify_path``: its public verification page)."""
    fields = body.model_dump()
    key = fields.pop("idempotency_key")
    return _call(lambda: registry.retire(engine, principal_of(caller), key=key, **fields))


@router.post("/surrenders")
def surrender(body: Surrender, engine: EngineDep, caller: Holder) -> dict[str, Any]:
    """Use credits against a compliance obligation (履约抵销), within the offset cap; the answer
    names the certificate (``certificate``, ``verify_path``), which states the obligation."""
    fields = body.model_dump()
    key = fields.pop("idempotency_key")
    return _call(lambda: registry.surrender(engine, principal_of(caller), key=key, **fields))


@router.post("/obligations", status_code=status.HTTP_201_CREATED)
def add_obligation(body: Obligation, engine: EngineDep, caller: Platform) -> dict[str, Any]:
    return _call(
        lambda: registry.add_obligation(
            engine,
            principal_of(caller),
            account_code=body.account,
            scheme=body.scheme,
            year=body.year,
            verified_emissions_t=body.verified_emissions_t,
        )
    )


@router.post("/cancellations")
def cancel(body: Cancellation, engine: EngineDep, caller: Admin) -> dict[str, Any]:
    fields = body.model_dump()
    key = fields.pop("idempotency_key")
    return _call(lambda: registry.cancel(engine, principal_of(caller), key=key, **fields))


@router.post("/freezes")
def freeze(body: Freeze, engine: EngineDep, caller: Admin) -> dict[str, Any]:
    fields = body.model_dump()
    key = fields.pop("idempotency_key")
    return _call(lambda: registry.freeze(engine, principal_of(caller), key=key, **fields))


@router.get("/blocks/{block_id}/timeline")
def block_timeline(block_id: int, engine: EngineDep, _caller: Platform) -> list[dict[str, Any]]:
    """Every operation on the block's units, back to their issuance (for auditors)."""
    return _call(lambda: registry.block_history(engine, block_id))


@router.get("/serials/{serial}")
def lookup_serial(serial: str, engine: EngineDep, _caller: Reader) -> list[dict[str, Any]]:
    """Where the units of a serial range are now (account, status, certificate)."""
    return _call(lambda: registry.lookup_serial(engine, serial))


@router.get("/supply")
def supply(engine: EngineDep, _caller: Reader) -> list[dict[str, Any]]:
    """Per issuance: tonnes issued, held, frozen, retired and cancelled."""
    return registry.supply(engine)


@router.get("/verify")
def verify(engine: EngineDep, caller: Platform) -> dict[str, Any]:
    """Seal pending journal entries, then re-check the hash chain and every ledger invariant;
    ``problems`` is empty when the ledger is sound."""
    problems = registry.verify(engine, caller.actor)
    return {"ok": not problems, "problems": problems}


@router.get("/certificates/{number}")
def certificate(number: str, engine: EngineDep, _caller: Reader) -> dict[str, Any]:
    """A retirement certificate, its SHA-256 and whether the registry's record still matches."""
    return _call(lambda: registry.certificate(engine, number))


@router.get("/certificates/{number}/html", response_class=HTMLResponse)
def certificate_page(
    number: str, request: Request, session: ReadSession, _caller: Reader
) -> HTMLResponse:
    """The certificate as a printable HTML page with its verification link and QR code."""
    found = _call(lambda: certificates.certificate_for(session, number))
    return HTMLResponse(certificates.certificate_html(found, str(request.base_url)))


@router.get("/retirements/{retirement_id}/certificate", response_model=None)
def retirement_certificate(
    retirement_id: int,
    request: Request,
    session: ReadSession,
    _caller: Reader,
    format: Annotated[Literal["pdf", "json", "html"], Query(description="pdf, json, html")] = "pdf",
) -> dict[str, Any] | Response:
    """A retirement's certificate: the record (sealed content, SHA-256, verification code and
    path) as JSON, or the PDF / HTML page with the hash, the verification link and its QR code."""
    found = _call(lambda: certificates.certificate_for(session, retirement_id))
    if format == "json":
        return found.record()
    if format == "html":
        return HTMLResponse(certificates.certificate_html(found, str(request.base_url)))
    return Response(
        certificates.certificate_pdf(found, str(request.base_url)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{found.number}.pdf"'},
    )
