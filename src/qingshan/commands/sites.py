"""``qingshan sites …``: the site registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qingshan.commands.common import (
    EXIT_BAD_INPUT,
    emit_json,
    reporting_input_errors,
    reporting_refusals,
    stderr,
)
from qingshan.commands.db import store_engine
from qingshan.services.database import cli_actor
from qingshan.services.sites import import_grid_boundaries, import_sites, set_outlet_owner

app = typer.Typer(help="Monitoring sites, their grids and standard context.")


@app.command("import")
def import_command(
    input_path: Annotated[Path, typer.Argument(metavar="FILE", help="CSV, XLSX or Parquet.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False,
) -> None:
    """Create or update sites (and their district, township and grid) from a table."""
    with reporting_input_errors(as_json):
        count = import_sites(store_engine(), input_path, cli_actor())
    if as_json:
        emit_json({"ok": True, "sites": count})
    else:
        typer.echo(f"{count} sites imported")


@app.command("grids")
def grids_command(
    input_path: Annotated[
        Path, typer.Argument(metavar="FILE", help="GeoJSON FeatureCollection (WGS-84).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False,
) -> None:
    """Set grid boundaries: one Polygon/MultiPolygon feature per grid, ``properties.grid_code``.

    The neighbour-anomaly rule takes neighbouring grids from these polygons (shared edges).
    """
    with reporting_input_errors(as_json):
        count = import_grid_boundaries(store_engine(), input_path, cli_actor())
    if as_json:
        emit_json({"ok": True, "grids": count})
    else:
        typer.echo(f"{count} grid boundaries set")


@app.command("owner")
def owner_command(
    site: Annotated[str, typer.Argument(metavar="SITE", help="The source outlet's code.")],
    account: Annotated[
        str | None,
        typer.Argument(
            metavar="ACCOUNT", help="The enterprise's registry account code; omit with --clear."
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Record no owner.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False,
) -> None:
    """Set the enterprise (排污单位) that operates an outlet: its users see the outlet."""
    if (account is None) != clear:
        stderr.print("[bold red]give an ACCOUNT or --clear[/]")
        raise typer.Exit(EXIT_BAD_INPUT)
    with reporting_refusals(as_json):
        set_outlet_owner(store_engine(), site, account, cli_actor())
    if as_json:
        emit_json({"ok": True, "site": site, "owner": account})
    else:
        typer.echo(f"{site}: owner {account or '— (none)'}")
