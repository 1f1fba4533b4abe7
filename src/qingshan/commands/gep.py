"""``qingshan gep …``: GEP (生态产品总值) accounting from a run configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from qingshan.commands.common import (
    JsonOption,
    emit_json,
    progress_over_rows,
    reporting_input_errors,
)
from qingshan.config import get_settings
from qingshan.gep.accounts import WAN
from qingshan.gep.spec import load_spec
from qingshan.services import gep
from qingshan.services.gep_outputs import run_to_directory

app = typer.Typer(
    help="GEP (生态产品总值) accounting: indicator sets, prices, tables, report, maps."
)


def _summary(result: gep.GepResult) -> dict[str, Any]:
    totals = result.totals
    return {
        "year": result.inputs.year,
        "spec": result.inputs.spec.id,
        "gep_wan": totals.gep / WAN,
        "gep_constant_wan": totals.gep_constant / WAN,
        "gep_gdp_ratio": totals.gep_gdp_ratio,
        "categories": result.tables["categories"]
        .select("category", "value_wan", "share_pct")
        .to_dicts(),
        "townships": result.tables["townships"].select("township", "gep_wan", "rank").to_dicts(),
        "warnings": result.warnings,
    }


def _print_summary(result: gep.GepResult, written: list[Path]) -> None:
    console = Console()
    table = Table(title=f"{result.inputs.title} — GEP {result.totals.gep / WAN:,.2f} 万元")
    for header in ("类别 Category", "价值量 (万元)", "可比价 (万元)", "占比 %"):
        table.add_column(header, justify="right")
    for row in result.tables["categories"].iter_rows(named=True):
        table.add_row(
            f"{row['category_zh']} {row['category_en']}",
            f"{row['value_wan']:,.2f}",
            f"{row['value_constant_wan']:,.2f}",
            f"{row['share_pct']:.2f}",
        )
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if written:
        console.print(f"{len(written)} files written to {written[0].parent}", highlight=False)


@app.command("run")
def run_command(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run configuration (TOML).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Output directory (tables, XLSX, Word report, map layers, run.json).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Account GEP for the district and year CONFIG names; paths in CONFIG are relative to it."""
    settings = get_settings()
    with reporting_input_errors(as_json):
        inputs = gep.load_run(config)
        grid = inputs.raster.land_cover.grid if inputs.raster is not None else None
        cells = grid.rows * grid.columns if grid is not None else 0
        show = not as_json and cells > settings.progress_threshold_rows
        written: list[Path] = []
        with progress_over_rows(grid.rows if grid else 0, "GEP raster rows", show) as steps:
            if output is None:
                result = gep.run(inputs, on_rows=steps.advance)
            else:
                result, written = run_to_directory(inputs, output, steps.advance)
    if as_json:
        emit_json({"ok": True, **_summary(result), "files": [str(p) for p in written]})
    else:
        _print_summary(result, written)


@app.command("specs")
def specs_command(
    spec_id: Annotated[
        str | None, typer.Argument(help="Show this specification's indicators.")
    ] = None,
    inputs: Annotated[bool, typer.Option("--inputs", help="List statistics and drivers.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List the shipped GEP specifications (indicator sets) with their verification status."""
    if inputs:
        payload = gep.input_names()
        if as_json:
            emit_json(payload)
            return
        for kind, names in payload.items():
            typer.echo(f"{kind}:")
            for name, unit in names.items():
                typer.echo(f"  {name:32} {unit}")
        return
    if spec_id is not None:
        try:
            spec = load_spec(spec_id)
        except KeyError as error:
            typer.echo(str(error.args[0]), err=True)
            raise typer.Exit(2) from None
        rows = gep.spec_indicators(spec)
        if as_json:
            emit_json({"id": spec.id, "status": spec.status, "note": spec.note, "indicators": rows})
            return
        typer.echo(f"{spec.id}: {spec.title_zh} ({spec.document}) — {spec.status}")
        for row in rows:
            typer.echo(
                f"  {row['category']:10} {row['indicator']:22} {row['zh']:8} "
                f"{', '.join(row['items'])}  [{row['status']}]"
            )
        return
    listing = gep.spec_listing()
    if as_json:
        emit_json({"specs": listing})
        return
    for entry in listing:
        typer.echo(
            f"{entry['id']:20} {entry['status']:18} {entry['indicators']:>2} indicators  "
            f"{entry['title']} ({entry['document']})"
        )
