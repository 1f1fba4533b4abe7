"""Who is looking at a page: the sign-in cookie, role checks and form protection.

Signing in issues an ordinary API token (``store.identity``) and keeps it in an HttpOnly,
SameSite=Lax cookie, so pages and API share one notion of a session, its expiry, its
revocation (signing out) and its audit trail. Anonymous visitors are the *public*: they see
the public pages (the map and the registry lookup) and nothing else.

Forms that change something carry a CSRF token: a digest of the session cookie, which a page
on another site cannot read (double-submit with a secret the browser already holds).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from starlette.datastructures import FormData

from qingshan.api.deps import ADMIN, Caller, EngineDep
from qingshan.store.engine import reading
from qingshan.store.identity import user_for_token

SESSION_COOKIE = "qs_session"
LANGUAGE_COOKIE = "qs_lang"
SESSION_LIFETIME = timedelta(hours=12)
PUBLIC = "public"
"""The role name of an anonymous visitor in navigation and page checks."""


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in user; answered by a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def login_redirect_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def visitor(request: Request, engine: EngineDep) -> Caller | None:
    """The signed-in user of the request, or None for the public."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with reading(engine) as session:
        user = user_for_token(session, token)
        if user is None:
            return None
        return Caller(user_id=user.id, username=user.username, role=user.role)


Visitor = Annotated[Caller | None, Depends(visitor)]


def signed_in(*roles: str) -> Callable[[Request, Caller | None], Caller]:
    """A page dependency: a signed-in user with one of ``roles`` (admins always pass).

    Anonymous visitors are sent to the sign-in page and back; other roles get 403.
    """
    allowed = frozenset((*roles, ADMIN))

    def check(request: Request, caller: Visitor) -> Caller:
        if caller is None:
            raise SignInRequired(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
        if roles and caller.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this page is not for your role")
        return caller

    return check


def role_of(caller: Caller | None) -> str:
    return PUBLIC if caller is None else caller.role


def csrf_token(request: Request) -> str:
    """The form token of this browser's session ('' for the public, who post nothing)."""
    session_token = request.cookies.get(SESSION_COOKIE, "")
    if not session_token:
        return ""
    return hashlib.sha256(b"qingshan-form:" + session_token.encode()).hexdigest()[:32]


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token; 403 when it is missing or wrong."""
    form = await request.form()
    expected = csrf_token(request)
    sent = str(form.get("csrf", ""))
    if not expected or not hmac.compare_digest(expected, sent):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form has expired; reload the page")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def safe_next(path: str | None) -> str:
    """Where to go after signing in: only a path on this site (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return "/"
    return path
