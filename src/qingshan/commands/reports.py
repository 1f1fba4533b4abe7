"""``qingshan reports …``: downloadable reports built from the store (docs/reports.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qingshan.commands.common import JsonOption, emit_json, stderr
from qingshan.commands.db import store_engine
from qingshan.services import bulletin
from qingshan.store.engine import reading

app = typer.Typer(help="Reports: the monthly environmental-quality bulletin.")

EXIT_BAD_INPUT = 2


@app.command("bulletin")
def bulletin_command(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (Beijing calendar).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The bulletin, .pdf or .xlsx.")],
    as_json: JsonOption = False,
) -> None:
    """The district's monthly bulletin (air HJ 663, water GB 3838, noise GB 3096) as PDF or
    XLSX; prints the headline figures."""
    if output.suffix.lower() not in bulletin.FORMATS:
        stderr.print(f"[bold red]{output}: write the bulletin as .pdf or .xlsx[/]")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        bulletin.parse_month(month)
    except ValueError as error:
        stderr.print(f"[bold red]{error}[/]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with reading(store_engine()) as session:
        report = bulletin.build_bulletin(session, month)
    bulletin.write_bulletin(report, output)
    summary = {"month": report.month, "output": str(output), **report.summary}
    if as_json:
        emit_json(summary)
    else:
        for line in bulletin.summary_lines(report):
            typer.echo(line)
        stderr.print(f"{output}: {report.month} bulletin written")
