"""Users, roles, passwords and API tokens.

* Passwords: argon2id (argon2-cffi defaults, RFC 9106 low-memory profile); only the hash is kept.
* API tokens: ``qs_`` + 32 random bytes (URL-safe base64). Only the SHA-256 of the token is
  stored: a token has 256 bits of entropy, so a fast hash is enough (nobody can guess it), and
  checking it on every API request costs microseconds instead of argon2's tens of milliseconds.
  The plain token is shown once, when it is issued.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingshan.store.models import ROLES, ApiToken, Grid, RegistryAccount, Site, User, UserGrid
from qingshan.store.types import utc_now

TOKEN_PREFIX = "qs_"
TOKEN_BYTES = 32
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salt and parameters included)."""
    if not password:
        raise ValueError("empty password")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    session: Session,
    username: str,
    role: str,
    *,
    password: str | None = None,
    display_name: str = "",
) -> User:
    """Create a user (audited by the session); ``password=None`` makes a token-only account."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None."""
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None or user.password_hash is None:
        return None
    return user if verify_password(user.password_hash, password) else None


def issue_token(
    session: Session, user: User, name: str, *, expires_at: datetime | None = None
) -> str:
    """Create an API token for ``user`` and return it; it cannot be shown again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            prefix=token[: len(TOKEN_PREFIX) + 6],
            token_hash=token_digest(token),
            expires_at=expires_at,
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning ``token`` if it is neither revoked nor expired, else None."""
    found = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if found is None or found.revoked_at is not None:
        return None
    if found.expires_at is not None and found.expires_at <= utc_now():
        return None
    return found.user if found.user.active else None


def revoke_token(session: Session, token: str) -> bool:
    """Revoke ``token`` (a sign-out); False when it is unknown or already revoked."""
    found = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if found is None or found.revoked_at is not None:
        return False
    found.revoked_at = utc_now()
    session.flush()
    return True


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def grids_of_user(session: Session, user_id: int) -> frozenset[int]:
    """The ids of the grids a user answers for (a grid officer's "own grids")."""
    return frozenset(session.scalars(select(UserGrid.grid_id).where(UserGrid.user_id == user_id)))


def outlets_of_user(session: Session, user_id: int) -> frozenset[int]:
    """The ids of the source outlets an enterprise user's company operates: those owned by a
    registry account linked to the user (``registry_accounts.user_id``, the one user ↔ company
    link of the store)."""
    owned = select(RegistryAccount.id).where(RegistryAccount.user_id == user_id)
    statement = select(Site.id).where(
        Site.kind == "source_outlet", Site.owner_account_id.in_(owned)
    )
    return frozenset(session.scalars(statement))


def set_user_grids(session: Session, username: str, grid_codes: list[str]) -> list[str]:
    """Make ``grid_codes`` the grids ``username`` answers for, replacing earlier ones (audited
    by the session); unknown users and grids are refused with their names."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ValueError(f"no user {username!r}")
    found = dict(session.execute(select(Grid.code, Grid.id).where(Grid.code.in_(grid_codes))).all())
    unknown = [code for code in grid_codes if code not in found]
    if unknown:
        raise ValueError(f"no grid {', '.join(map(repr, unknown))}")
    wanted = set(found.values())
    for link in session.scalars(select(UserGrid).where(UserGrid.user_id == user.id)):
        if link.grid_id not in wanted:
            session.delete(link)
        wanted.discard(link.grid_id)
    session.add_all(UserGrid(user_id=user.id, grid_id=grid_id) for grid_id in sorted(wanted))
    session.flush()
    return sorted(grid_codes)
