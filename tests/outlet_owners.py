"""Outlet owners for tests: an enterprise registry account linked to a user, owning outlets
(through ``services.sites.set_outlet_owner``, as the command line sets them)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from qingshan.services.sites import set_outlet_owner
from qingshan.store.engine import writing
from qingshan.store.ledger import open_account
from qingshan.store.models import User


def own_outlets(engine: Engine, username: str | None, account: str, *outlets: str) -> None:
    """Open the enterprise account ``account`` (of ``username``'s company; None: a company
    without a user) and make it the owner of ``outlets``."""
    with writing(engine, "test:owners") as session:
        user_id = None
        if username is not None:
            user_id = session.scalar(select(User.id).where(User.username == username))
            assert user_id is not None, username
        open_account(session, account, f"{account} 有限公司", "enterprise", user_id)
    for code in outlets:
        set_outlet_owner(engine, code, account, "test:owners")
