"""``qingshan noise …``: functional-zone evaluation (GB 3096—2008) and HJ 640—2012 grades."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from qingshan.commands.common import (
    InputArgument,
    JsonOption,
    OutputOption,
    finish,
    progress_over_rows,
    reporting_input_errors,
)
from qingshan.config import get_settings
from qingshan.services import noise
from qingshan.services.tables import write_table

app = typer.Typer(help="Environmental noise: GB 3096—2008 zone compliance and HJ 640—2012 grades.")


class KindChoice(StrEnum):
    regional = "regional"
    traffic = "traffic"


@app.command("evaluate")
def evaluate_command(
    input_path: InputArgument,
    output: OutputOption = None,
    as_json: JsonOption = False,
    min_day_hours: Annotated[
        int,
        typer.Option(min=1, max=16, help="Fewest day hours (of 16) for Ld to be judged."),
    ] = 1,
    min_night_hours: Annotated[
        int,
        typer.Option(min=1, max=8, help="Fewest night hours (of 8) for Ln to be judged."),
    ] = 1,
) -> None:
    """Ld, Ln, Ldn and compliance per point and date from hourly Leq (and Lmax).

    Input columns: point, zone (0 1 2 3 4a 4b), time (start of the hour), leq, optional lmax.
    A night (22:00–06:00) belongs to the date on which it starts.
    """
    settings = get_settings()
    with reporting_input_errors(as_json):
        hourly = noise.load_hourly(input_path)
        show = not as_json and hourly.height > settings.progress_threshold_rows
        with progress_over_rows(hourly.height, "Noise", show) as steps:
            daily = noise.evaluate_daily(
                hourly, settings.chunk_rows, steps.advance, min_day_hours, min_night_hours
            )
        if output is not None:
            write_table(daily, output)
    finish(
        daily,
        output,
        as_json,
        rows=daily.height,
        points=daily["point"].n_unique(),
        compliance=noise.compliance_summary(daily),
    )


@app.command("grade")
def grade_command(
    input_path: InputArgument,
    kind: Annotated[KindChoice, typer.Option(help="Regional (grid) or road-traffic noise.")],
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> None:
    """HJ 640—2012 grade of regional (grid mean) or road-traffic (length-weighted) noise.

    Input columns: point, period (day/night), leq, and for traffic the section length.
    """
    with reporting_input_errors(as_json):
        points = noise.load_grade_input(input_path, kind.value)
        grades = noise.grade_table(points, kind.value)
        if output is not None:
            write_table(grades, output)
    finish(grades, output, as_json, kind=kind.value, grades=grades.to_dicts())
