"""What every command shares: error reporting (exit code 2), ``--json`` output, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qingshan.services.tables import InputError

EXIT_BAD_INPUT = 2
stderr = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine output: one JSON object.")]
OutputOption = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Output .csv, .xlsx or .parquet; default: CSV on stdout."),
]
InputArgument = Annotated[Path, typer.Argument(metavar="INPUT", help="CSV, XLSX or Parquet file.")]


def emit_json(payload: dict[str, Any]) -> None:
    """Print one JSON object on standard output (UTF-8, Chinese kept as is)."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")


def finish(table: pl.DataFrame, output: Path | None, as_json: bool, **summary: Any) -> None:
    """End a command that produced ``table`` (already written to ``output`` if one was given).

    With ``--json`` print the summary as one JSON object; otherwise, without an output file,
    print the table as CSV on standard output.
    """
    if as_json:
        emit_json({"ok": True, "output": str(output) if output else None, **summary})
    elif output is None:
        sys.stdout.write(table.write_csv())


@contextmanager
def reporting_input_errors(as_json: bool) -> Iterator[None]:
    """Turn :class:`InputError` into a clear message and exit code 2."""
    try:
        yield
    except InputError as error:
        if as_json:
            emit_json(
                {
                    "ok": False,
                    "problems": [problem.as_dict() for problem in error.problems],
                    "more_problems": error.more,
                }
            )
        else:
            stderr.print("[bold red]Input rejected; nothing was written.[/]")
            stderr.print(error.summary(), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@contextmanager
def reporting_refusals(as_json: bool) -> Iterator[None]:
    """Turn a refusal (a :class:`ValueError`, such as the registry's ``LedgerError``: an unknown
    name, a rule that forbids the change; its transaction wrote nothing) into its message, or
    ``{"ok": false, "error": …}`` with ``--json``, and exit code 2."""
    try:
        yield
    except ValueError as error:
        if as_json:
            emit_json({"ok": False, "error": str(error)})
        else:
            stderr.print(f"[bold red]{error}[/]", markup=True, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


class Steps:
    """A Rich progress bar over row counts, shown only for long jobs and never with --json."""

    def __init__(self, progress: Progress | None, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, rows: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, rows)


@contextmanager
def progress_over_rows(total_rows: int, description: str, show: bool) -> Iterator[Steps]:
    if not show:
        yield Steps(None, None)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:
        yield Steps(progress, progress.add_task(description, total=total_rows))
