"""``qingshan users …``: accounts, roles and API tokens (minimal administration)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from qingshan.commands.common import (
    JsonOption,
    emit_json,
    reporting_refusals,
    stderr,
)
from qingshan.commands.db import store_engine
from qingshan.services.database import cli_actor
from qingshan.store import identity
from qingshan.store.engine import reading, writing
from qingshan.store.models import ROLES, User

app = typer.Typer(help="Users with roles (admin, analyst, grid_officer, enterprise, device).")


@app.command("add")
def add_command(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the interface.")] = "",
    password: Annotated[
        str | None, typer.Option(help="Password; asked for when omitted, unless --no-password.")
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Token-only account (devices, services).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a user; the password is stored as an argon2 hash."""
    if password is None and not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with writing(store_engine(), cli_actor()) as session:
            user = identity.add_user(
                session, username, role, password=password, display_name=display_name
            )
            user_id = user.id
    except ValueError as error:
        stderr.print(f"[bold red]{error}[/]")
        raise typer.Exit(2) from None
    if as_json:
        emit_json({"ok": True, "id": user_id, "username": username, "role": role})
    else:
        typer.echo(f"user {username} ({role}) created")


@app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """List users and their roles."""
    with reading(store_engine()) as session:
        users = [
            {
                "username": u.username,
                "role": u.role,
                "display_name": u.display_name,
                "active": u.active,
                "created_at": u.created_at.isoformat(),
            }
            for u in identity.list_users(session)
        ]
    if as_json:
        emit_json({"ok": True, "users": users})
        return
    for user in users:
        state = "" if user["active"] else " (inactive)"
        typer.echo(f"{user['username']}\t{user['role']}\t{user['display_name']}{state}")


@app.command("token")
def token_command(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Issue an API token for a user; it is printed once and only its hash is kept."""
    with writing(store_engine(), cli_actor()) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            stderr.print(f"[bold red]no user {username!r}[/]")
            raise typer.Exit(2)
        token = identity.issue_token(session, user, name)
    if as_json:
        emit_json({"ok": True, "username": username, "token": token})
    else:
        typer.echo(token)


@app.command("grids")
def grids_command(
    username: Annotated[str, typer.Argument()],
    grids: Annotated[list[str], typer.Argument(help="Grid codes; they replace earlier ones.")],
    as_json: JsonOption = False,
) -> None:
    """Set the grids USERNAME answers for: a grid officer sees, acknowledges and works on the
    alarms and cases of these grids only."""
    with reporting_refusals(as_json), writing(store_engine(), cli_actor()) as session:
        codes = identity.set_user_grids(session, username, grids)
    if as_json:
        emit_json({"ok": True, "username": username, "grids": codes})
    else:
        typer.echo(f"{username}: {', '.join(codes)}")
