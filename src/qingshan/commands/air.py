"""``qingshan air …``: the AQI report (HJ 633) and the air evaluation (HJ 663, GB 3095)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qingshan.commands.common import (
    JsonOption,
    OutputOption,
    emit_json,
    finish,
    progress_over_rows,
    reporting_input_errors,
)
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


@app.command("aqi")
def aqi_command(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV, XLSX or Parquet.")],
    report: Annotated[ReportChoice, typer.Option(help="Real-time (hourly) or daily report.")],
    rules: Annotated[
        RulesChoice,
        typer.Option(help="HJ 633 edition; auto = by each row's time (2026 from 2026-03-01)."),
    ] = RulesChoice.auto,
    output: OutputOption = None,
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
    finish(result, output, as_json, rows=result.height, by_category=air.count_by_category(result))


class LimitsChoice(StrEnum):
    auto = "auto"
    l2012 = "2012"
    l2026_transitional = "2026-transitional"
    l2026_final = "2026-final"


class ClassChoice(StrEnum):
    one = "I"
    two = "II"


class ComparisonChoice(StrEnum):
    rounded = "rounded"
    full = "full"


@app.command("evaluate")
def evaluate_command(
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="HOURLY_INPUT",
            help="CSV, XLSX or Parquet: station, time (start of the hour), so2_1h … pm25_1h, "
            "optional class (I/II).",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Directory for daily.csv and annual.csv."),
    ] = Path("."),
    rules: Annotated[
        RulesChoice,
        typer.Option(help="HJ 633 edition of the daily AQI; auto = by date (2026 from 2026-03-01)"),
    ] = RulesChoice.auto,
    limits: Annotated[
        LimitsChoice,
        typer.Option(
            help="GB 3095 limits; auto = in force on the day (for a year: on 31 December)."
        ),
    ] = LimitsChoice.auto,
    default_class: Annotated[
        ClassChoice,
        typer.Option("--class", help="Area class of stations without a class column value."),
    ] = ClassChoice.two,
    weights: Annotated[
        str | None,
        typer.Option(help="Composite-index weights, e.g. 'PM2.5=3,NO2=2,O3=2' (default all 1)."),
    ] = None,
    compare: Annotated[
        ComparisonChoice,
        typer.Option(help="Compare limits with the rounded (published) or the unrounded value."),
    ] = ComparisonChoice.rounded,
    as_json: JsonOption = False,
) -> None:
    """Daily values, AQI and validity; annual statistics and compliance (HJ 663, GB 3095)."""
    settings = get_settings()
    try:
        weight_map = air.parse_weights(weights)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--weights") from None
    with reporting_input_errors(as_json):
        frame = air.load_hourly_input(input_path)
        show = not as_json and frame.height > settings.progress_threshold_rows
        with progress_over_rows(frame.height, "Evaluation", show) as steps:
            result = air.evaluate_hourly(
                frame,
                rules=rules.value,
                limits=limits.value,
                default_class=default_class.value,
                weights=weight_map,
                comparison=compare.value,
                chunk_rows=settings.chunk_rows,
                on_rows=steps.advance,
            )
        paths = air.write_evaluation(result, output)
    if as_json:
        emit_json(
            {
                "ok": True,
                "rows": frame.height,
                "days": result.daily.height,
                "station_years": result.annual.height,
                "outputs": [str(path) for path in paths],
                "annual": air.annual_summary(result.annual),
            }
        )
    else:
        typer.echo(
            f"Wrote {paths[0]} ({result.daily.height} station-days) and "
            f"{paths[1]} ({result.annual.height} station-years)."
        )
