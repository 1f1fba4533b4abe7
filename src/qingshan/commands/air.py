"""``qingshan air …``: the AQI report (HJ 633) and the air evaluation (HJ 663, GB 3095)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qingshan.commands.common import emit_json, progress_over_rows, reporting_input_errors
from qingshan.config import get_settings
from qingshan.services import air
from qingshan.services.tables import write_table

app = typer.Typer(help="Air quality: AQI (HJ 633—2012/2026) and evaluation (HJ 663, GB 3095).")


class ReportChoice(StrEnum):
    hourly = "hourly"
    daily = "daily"


class RulesChoice(StrEnum):
    r2012 = "2012"
    r2026 = "2026"
    auto = "auto"


JsonOption = Annotated[bool, typer.Option("--json", help="Machine output: one JSON object.")]


@app.command("aqi")
def aqi_command(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV, XLSX or Parquet.")],
    report: Annotated[ReportChoice, typer.Option(help="Real-time (hourly) or daily report.")],
    rules: Annotated[
        RulesChoice,
        typer.Option(help="HJ 633 edition; auto = by each row's time (2026 from 2026-03-01)."),
    ] = RulesChoice.auto,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Output .csv, .xlsx or .parquet; default: stdout."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add IAQI, AQI, level, category, colour, primary and exceedance pollutants to each row."""
    settings = get_settings()
    with reporting_input_errors(as_json):
        original, frame = air.load_aqi_input(input_path, report.value, rules.value)
        show = not as_json and frame.height > settings.progress_threshold_rows
        with progress_over_rows(frame.height, "AQI", show) as steps:
            result = air.compute_aqi(
                original, frame, report.value, rules.value, settings.chunk_rows, steps.advance
            )
        if output is not None:
            write_table(result, output)
    if as_json:
        emit_json(
            {
                "ok": True,
                "rows": result.height,
                "output": str(output) if output else None,
                "by_category": air.count_by_category(result),
            }
        )
    elif output is None:
        sys.stdout.write(result.write_csv())
