"""``qingshan ingest FILE``: readings from a CSV, XLSX or Parquet file into the store."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qingshan.commands.common import emit_json, progress_over_rows, reporting_input_errors
from qingshan.commands.db import store_engine
from qingshan.config import get_settings
from qingshan.services.alerting import evaluate_readings
from qingshan.services.database import cli_actor
from qingshan.services.ingest import load_readings_file, store_plan


class PeriodChoice(StrEnum):
    realtime = "realtime"
    minute = "minute"
    hour = "hour"
    day = "day"


def ingest_command(
    input_path: Annotated[Path, typer.Argument(metavar="FILE", help="CSV, XLSX or Parquet.")],
    period: Annotated[PeriodChoice, typer.Option(help="The period of every reading.")] = (
        PeriodChoice.hour
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Machine output.")] = False,
) -> None:
    """Store readings (long: site, parameter, time, value[, flag]; or wide), all or nothing."""
    settings = get_settings()
    engine = store_engine()
    with reporting_input_errors(as_json):
        plan = load_readings_file(engine, input_path, period.value)
    show = not as_json and plan.batch.height > settings.progress_threshold_rows
    with progress_over_rows(plan.batch.height, "Ingest", show) as steps:
        counts = store_plan(
            engine, plan, actor=cli_actor(), chunk_rows=settings.chunk_rows, on_rows=steps.advance
        )
    alarms = evaluate_readings(engine, plan.batch, actor=cli_actor())  # after the commit
    if as_json:
        emit_json(
            {
                "ok": True,
                "layout": plan.layout,
                "rows": plan.batch.height,
                **counts.as_dict(),
                "alarms": alarms.as_dict(),
            }
        )
    else:
        typer.echo(
            f"{plan.batch.height} readings: {counts.inserted} new, {counts.revised} "
            f"revised, {counts.unchanged} unchanged; alarms: {alarms.opened} opened, "
            f"{alarms.updated} updated, {alarms.cleared} cleared"
        )
