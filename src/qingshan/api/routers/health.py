"""Liveness: whether the service runs and its database answers (no sign-in needed)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from qingshan import __version__
from qingshan.api.deps import ReadSession

router = APIRouter(tags=["health 状态"])


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health", response_model=Health)
def health(session: ReadSession) -> Health:
    """``ok`` when the database answers a trivial query."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=session.get_bind().dialect.name)
