"""Sign in and out of the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qingshan.api.deps import EngineDep
from qingshan.store.engine import writing
from qingshan.store.identity import authenticate, issue_token, revoke_token
from qingshan.store.types import utc_now
from qingshan.web.i18n import gettext_ as _
from qingshan.web.rendering import render
from qingshan.web.session import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    CheckedForm,
    Visitor,
    safe_next,
)

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, caller: Visitor, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", caller, {"next": safe_next(next), "error": None})


@router.post("/login", response_model=None)
def login(
    request: Request,
    engine: EngineDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password, then keep a 12-hour token in an HttpOnly cookie (audited)."""
    with writing(engine, actor=f"user:{username}") as session:
        user = authenticate(session, username, password)
        token = (
            issue_token(session, user, "web sign-in", expires_at=utc_now() + SESSION_LIFETIME)
            if user is not None
            else None
        )
    if token is None:
        page = render(
            request,
            "login.html",
            None,
            {"next": safe_next(next), "error": _("Wrong user name or password.")},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
        return page
    response = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/logout")
def logout(request: Request, engine: EngineDep, caller: Visitor, _form: CheckedForm) -> Response:
    """Revoke the session's token and forget the cookie."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if caller is not None:
        with writing(engine, actor=caller.actor) as session:
            revoke_token(session, token)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response
