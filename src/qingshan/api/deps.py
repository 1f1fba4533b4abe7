"""Typed dependencies shared by every router: the database, the caller and role checks.

Every endpoint declares who may call it with :func:`require_roles`; ``admin`` may call anything.
Writes name the caller as the audit actor (``user:<username>``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from qingshan.store.engine import reading
from qingshan.store.identity import user_for_token

ADMIN = "admin"
_bearer = HTTPBearer(auto_error=False, description="An API token: `qingshan users token NAME`.")


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def get_read_session(engine: EngineDep) -> Iterator[Session]:
    with reading(engine) as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session)]


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request."""

    user_id: int
    username: str
    role: str

    @property
    def actor(self) -> str:
        """The audit-log actor for writes made on this caller's behalf."""
        return f"user:{self.username}"


def current_caller(
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The owner of the bearer token; 401 when it is missing, unknown, revoked or expired."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an API token is required (Authorization: Bearer …)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with reading(engine) as session:
        user = user_for_token(session, credentials.credentials)
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown, revoked or expired token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Caller(user_id=user.id, username=user.username, role=user.role)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require_roles(*roles: str) -> Callable[[Caller], Caller]:
    """A dependency admitting callers with one of ``roles`` (and admins); 403 otherwise."""
    allowed = frozenset((*roles, ADMIN))

    def check(caller: CurrentCaller) -> Caller:
        if caller.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {caller.role!r} may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return caller

    return check
