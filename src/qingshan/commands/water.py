"""``qingshan water …``: surface-water evaluation (GB 3838—2002, 环办[2011]22号)."""

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
from qingshan.services import water
from qingshan.services.tables import write_table

app = typer.Typer(help="Surface water: GB 3838—2002 classes and the 2011 evaluation method.")


class ByChoice(StrEnum):
    section = "section"
    river = "river"


class PeriodChoice(StrEnum):
    row = "row"
    month = "month"
    quarter = "quarter"
    year = "year"


ByOption = Annotated[
    ByChoice, typer.Option(help="One row per section and period, or per river and period.")
]


@app.command("evaluate")
def evaluate_command(
    input_path: InputArgument,
    output: OutputOption = None,
    by: ByOption = ByChoice.section,
    period: Annotated[
        PeriodChoice | None,
        typer.Option(
            help="Evaluation period: calendar month (default per section), quarter, year "
            "(default per river), or each input row as it is."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Class, status, colour, main pollutants, exceedances and target compliance per section.

    Period values are means of the samples (pH through [H⁺]); values below the detection
    limit (<0.01, 0.01L, ND with <item>_dl) count as half the limit. Lakes and reservoirs also
    get TLI(Σ) and their trophic state.
    """
    chosen = period.value if period else ("year" if by is ByChoice.river else "month")
    if by is ByChoice.river and chosen == "row":
        raise typer.BadParameter("--by river needs --period month, quarter or year")
    settings = get_settings()
    with reporting_input_errors(as_json):
        frame = water.load_water_input(input_path, by.value)
        show = not as_json and frame.height > settings.progress_threshold_rows
        with progress_over_rows(frame.height, "Water", show) as steps:
            if by is ByChoice.river:
                result = water.evaluate_rivers(frame, chosen)
            else:
                result = water.evaluate_sections(frame, chosen)
            steps.advance(frame.height)
        if output is not None:
            write_table(result, output)
    by_class = {"by_class": water.count_by(result, "class")} if by is ByChoice.section else {}
    finish(
        result,
        output,
        as_json,
        input_rows=frame.height,
        rows=result.height,
        by=by.value,
        period=chosen,
        by_status=water.count_by(result, "status"),
        **by_class,
    )


@app.command("trend")
def trend_command(
    input_path: InputArgument,
    earlier: Annotated[str, typer.Option("--from", help="Earlier period: 2023, 2023-Q4, 2023-12.")],
    later: Annotated[str, typer.Option("--to", help="Later period, written like --from.")],
    period: Annotated[
        PeriodChoice, typer.Option(help="Kind of period compared: month, quarter or year.")
    ] = PeriodChoice.year,
    by: ByOption = ByChoice.section,
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trend between two periods: change of status grade; ΔG − ΔD for rivers of 5+ sections."""
    if period is PeriodChoice.row:
        raise typer.BadParameter("--period must be month, quarter or year")
    with reporting_input_errors(as_json):
        frame = water.load_water_input(input_path, by.value)
        result = water.trend(frame, earlier, later, by.value, period.value, input_path)
        if output is not None:
            write_table(result, output)
    finish(result, output, as_json, rows=result.height, by_trend=water.count_by(result, "trend"))
