"""``qingshan carbon …``: account activity data, assess targets, list the factor library."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qingshan.carbon import accounting
from qingshan.commands.common import (
    JsonOption,
    OutputOption,
    emit_json,
    finish,
    progress_over_rows,
    reporting_input_errors,
)
from qingshan.commands.db import store_engine
from qingshan.config import get_settings
from qingshan.services import carbon, energy
from qingshan.services.database import cli_actor
from qingshan.services.tables import write_table, write_tables

app = typer.Typer(
    help="Carbon books: emission factors, enterprise and district accounting, targets (双控)."
)


class GwpChoice(StrEnum):
    ar4 = "AR4"
    ar5 = "AR5"
    ar6 = "AR6"


class GasesChoice(StrEnum):
    all = "all"
    co2 = "co2"


class BasisChoice(StrEnum):
    location = "location"
    market = "market"


class TceChoice(StrEnum):
    gb2589 = "gb2589"
    ncv = "ncv"


FactorsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--factors",
        metavar="DIR",
        help="A directory of the bureau's own factor files (*.toml); repeatable. "
        "Also QINGSHAN_CARBON_FACTOR_DIR.",
    ),
]


def _factor_dirs(given: list[Path] | None) -> list[Path]:
    configured = get_settings().carbon_factor_dir
    return ([configured] if configured else []) + list(given or [])


RegionOption = Annotated[
    str, typer.Option(help="Electricity region when a row gives none: CN, 西南, 重庆 …")
]
GwpOption = Annotated[GwpChoice, typer.Option(help="IPCC GWP-100 set for CH4 and N2O.")]
GasesOption = Annotated[
    GasesChoice, typer.Option(help="all: CO2, CH4, N2O of combustion; co2: CO2 only.")
]
TceOption = Annotated[
    TceChoice, typer.Option(help="gb2589 (Annex A coefficients) or ncv (NCV / 29.307 GJ).")
]


@app.command("account")
def account_command(
    activity: Annotated[Path, typer.Argument(metavar="ACTIVITY", help="CSV, XLSX or Parquet.")],
    output: OutputOption = None,
    as_json: JsonOption = False,
    factors: FactorsOption = None,
    fuel_series: Annotated[str, typer.Option(help="Fuel factor series.")] = "ipcc2006",
    electricity_series: Annotated[
        str, typer.Option(help="Electricity series: mee_nbs (consumption) or ets_grid (ETS).")
    ] = "mee_nbs",
    heat_series: Annotated[str, typer.Option(help="Heat factor series.")] = "cn_guideline",
    region: RegionOption = "CN",
    gwp: GwpOption = GwpChoice.ar5,
    gases: GasesOption = GasesChoice.all,
    electricity_basis: Annotated[
        BasisChoice, typer.Option(help="location (grid average) or market (residual + green).")
    ] = BasisChoice.location,
    tce_basis: TceOption = TceChoice.gb2589,
) -> None:
    """Emissions (CO2, CH4, N2O, CO2e) and energy (tce) of every activity row, with its trace."""
    settings = get_settings()
    with reporting_input_errors(as_json):
        library = carbon.library_for(_factor_dirs(factors))
        options = accounting.Options(
            fuel_series=fuel_series,
            electricity_series=electricity_series,
            heat_series=heat_series,
            region=carbon.canonical_region(region),
            gwp=gwp.value,
            gases=gases.value,
            electricity_basis=electricity_basis.value,
            tce_basis=tce_basis.value,
        )
        original, frame = carbon.load_activity(activity, library)
        show = not as_json and frame.height > settings.progress_threshold_rows
        with progress_over_rows(frame.height, "Carbon accounting", show) as steps:
            result = carbon.account(
                activity, original, frame, library, options, settings.chunk_rows, steps.advance
            )
        if output is not None:
            carbon.write_report(result, output)
    finish(
        result,
        output,
        as_json,
        rows=result.height,
        totals=result.select(accounting.RESULT_COLUMNS).sum().row(0, named=True),
        by_entity_year=carbon.summary(result).to_dicts(),
        energy_by_type=accounting.energy_by_type(result, ["entity", "year"]).to_dicts(),
    )


@app.command("inventory")
def inventory_command(
    statistics: Annotated[
        Path,
        typer.Argument(
            metavar="STATISTICS",
            help="Activity rows with a sector column (energy_supply … lulucf, or 工业 …).",
        ),
    ],
    enterprises: Annotated[
        Path | None,
        typer.Option(help="Reporting enterprises' activity file: adds their sum and share."),
    ] = None,
    annual: Annotated[
        Path | None,
        typer.Option(help="Also write year, co2_t, energy_tce: the EMISSIONS of `carbon targets`."),
    ] = None,
    output: OutputOption = None,
    as_json: JsonOption = False,
    factors: FactorsOption = None,
    region: RegionOption = "CN",
    gwp: GwpOption = GwpChoice.ar5,
    gases: GasesOption = GasesChoice.all,
    tce_basis: TceOption = TceChoice.gb2589,
) -> None:
    """District inventory by year and sector, location- and market-based electricity."""
    settings = get_settings()
    with reporting_input_errors(as_json):
        library = carbon.library_for(_factor_dirs(factors))
        options = accounting.Options(
            region=carbon.canonical_region(region),
            gwp=gwp.value,
            gases=gases.value,
            tce_basis=tce_basis.value,
        )
        original, frame = carbon.load_statistics(statistics, library)
        accounted = None
        if enterprises is not None:
            raw, parsed = carbon.load_activity(enterprises, library)
            accounted = carbon.account(
                enterprises, raw, parsed, library, options, settings.chunk_rows
            )
        table = carbon.district_inventory(statistics, original, frame, library, options, accounted)
        outputs = {output: table, annual: accounting.annual_for_targets(table)}
        write_tables({path: frame for path, frame in outputs.items() if path is not None})
    finish(
        table,
        output,
        as_json,
        rows=table.height,
        annual=accounting.annual_for_targets(table).to_dicts(),
    )


@app.command("meters")
def meters_command(
    year: Annotated[int, typer.Option(help="Calendar year (Beijing time).")],
    output: OutputOption = None,
    as_json: JsonOption = False,
    factors: FactorsOption = None,
    fuel_series: Annotated[
        str, typer.Option(help="Series for natural gas by volume (a bureau's GB/T 32151 file).")
    ] = "ipcc2006",
    region: RegionOption = "CN",
    gases: GasesOption = GasesChoice.co2,
    tce_basis: TceOption = TceChoice.gb2589,
) -> None:
    """Energy (tce) and CO2 of the energy meters in the monitoring hub, per meter and month."""
    with reporting_input_errors(as_json):
        library = carbon.library_for(_factor_dirs(factors))
        options = accounting.Options(
            fuel_series=fuel_series,
            region=carbon.canonical_region(region),
            gases=gases.value,
            tce_basis=tce_basis.value,
        )
        activity, left_out = energy.meter_activity(store_engine(), year)
        result = carbon.account(
            "energy meters in the store",
            activity,
            activity,
            library,
            options,
            get_settings().chunk_rows,
        )
        if output is not None:
            carbon.write_report(result, output)
    finish(
        result,
        output,
        as_json,
        rows=result.height,
        not_accounted=left_out,
        energy_by_type=accounting.energy_by_type(result, ["entity", "year"]).to_dicts(),
    )


@app.command("targets")
def targets_command(
    targets_file: Annotated[Path, typer.Argument(metavar="TARGETS", help="Targets table.")],
    gdp: Annotated[Path, typer.Argument(metavar="GDP", help="GDP at comparable prices.")],
    emissions: Annotated[Path, typer.Argument(metavar="EMISSIONS", help="Annual CO2 and tce.")],
    output: OutputOption = None,
    as_json: JsonOption = False,
    notify: Annotated[
        bool, typer.Option(help="Also notify the analysts (notification routes) of warnings.")
    ] = False,
) -> None:
    """Progress of each target against the required pace, trajectories, and warnings."""
    with reporting_input_errors(as_json):
        progress, trajectory = carbon.assess_targets(targets_file, gdp, emissions)
        written = carbon.write_targets(progress, trajectory, output) if output else []
    notified = (
        carbon.notify_target_warnings(store_engine(), progress, actor=cli_actor()) if notify else 0
    )
    if as_json:
        emit_json(
            {
                "ok": True,
                "output": [str(path) for path in written],
                "warnings": int(progress["warning"].sum()),
                "notified": notified,
                "progress": progress.to_dicts(),
                "trajectory": trajectory.to_dicts(),
            }
        )
    elif output is None:
        sys.stdout.write(progress.write_csv())


@app.command("factors")
def factors_command(
    series: Annotated[str | None, typer.Option(help="Only this series (mee_nbs, …).")] = None,
    year: Annotated[int | None, typer.Option(help="Only factors valid for this year.")] = None,
    region: Annotated[str | None, typer.Option(help="Only factors valid for this region.")] = None,
    factors: FactorsOption = None,
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the emission-factor library with each value's document, date and source."""
    with reporting_input_errors(as_json):
        library = carbon.library_for(_factor_dirs(factors))
        table = carbon.factor_table(library, series, year, region)
        if output is not None:
            write_table(table, output)
    finish(table, output, as_json, count=table.height, factors=table.to_dicts())
