"""Sign-in: exchange a user name and password for an API token; who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from qingshan.api.deps import CurrentCaller, EngineDep
from qingshan.store.engine import writing
from qingshan.store.identity import authenticate, issue_token
from qingshan.store.types import utc_now

router = APIRouter(prefix="/auth", tags=["auth 认证"])

SIGN_IN_TOKEN_LIFETIME = timedelta(hours=12)


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class IssuedToken(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: str
    role: str


class Me(BaseModel):
    username: str
    role: str


@router.post("/token", response_model=IssuedToken)
def sign_in(body: SignIn, engine: EngineDep) -> IssuedToken:
    """A token valid for 12 hours for a user with a password (the sign-in is audited)."""
    expires_at = utc_now() + SIGN_IN_TOKEN_LIFETIME
    with writing(engine, actor=f"user:{body.username}") as session:
        user = authenticate(session, body.username, body.password)
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
        token = issue_token(session, user, "sign-in", expires_at=expires_at)
        role = user.role
    return IssuedToken(token=token, expires_at=expires_at.isoformat(), role=role)


@router.get("/me", response_model=Me)
def me(caller: CurrentCaller) -> Me:
    """The caller's user name and role."""
    return Me(username=caller.username, role=caller.role)
