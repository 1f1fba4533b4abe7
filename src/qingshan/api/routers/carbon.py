"""Carbon books over HTTP: the factor library, accounting of activity data, targets (双控).

The endpoints are thin: they save the upload, call :mod:`qingshan.services.carbon` exactly as
``qingshan carbon …`` does, and answer JSON or the bureau's bilingual XLSX. Nothing is stored
except one audit row per run (caller, options, the inputs' SHA-256, totals).

Roles: the factor library is reference data (analyst, grid_officer, enterprise). Accounting is
a calculator over the caller's own upload — it reads no one else's data and stores nothing — so
an ``enterprise`` user may account its own activity data as well as an ``analyst``. Targets are
the district's (analyst). ``admin`` may call everything.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as FormFile

from qingshan.api.deps import Caller, EngineDep, require_roles
from qingshan.api.uploads import (
    Upload,
    UploadArea,
    audit_run,
    reporting_problems,
    temporary_area,
)
from qingshan.carbon import accounting
from qingshan.carbon.factors import GWP_SETS, FactorLibrary
from qingshan.config import get_settings
from qingshan.services import carbon

router = APIRouter(prefix="/carbon", tags=["carbon 碳排放"])

FactorReader = Annotated[Caller, Depends(require_roles("analyst", "grid_officer", "enterprise"))]
Accountant = Annotated[Caller, Depends(require_roles("analyst", "enterprise"))]
TargetAnalyst = Annotated[Caller, Depends(require_roles("analyst"))]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OutputFormat = Annotated[
    Literal["json", "xlsx"], Query(description="json, or xlsx: the bilingual bureau report.")
]
_DEFAULTS = accounting.Options()


def _library() -> FactorLibrary:
    """The shipped factors plus the bureau's (``QINGSHAN_CARBON_FACTOR_DIR``); a caller cannot
    name another server folder."""
    configured = get_settings().carbon_factor_dir
    return carbon.library_for([configured] if configured else [])


def _xlsx(write: Any, name: str) -> Response:
    """Run ``write(path)`` into a temporary folder and answer the workbook's bytes."""
    with temporary_area() as area:
        path = area.directory / name
        write(path)
        content = path.read_bytes()
    return Response(
        content,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -------------------------------------------------------------------------------- factors


@router.get("/factors")
def factors(
    caller: FactorReader,
    series: Annotated[str | None, Query(description="Only this series (mee_nbs, …).")] = None,
    year: Annotated[int | None, Query(description="Only factors valid for this year.")] = None,
    region: Annotated[str | None, Query(description="Only this region: CN, 西南, 重庆 …")] = None,
) -> dict[str, Any]:
    """The emission-factor library with each value's document, date and source (as
    ``qingshan carbon factors``)."""
    with reporting_problems():
        table = carbon.factor_table(_library(), series, year, region)
    return {
        "meta": {"count": table.height, "series": series, "year": year, "region": region},
        "results": table.to_dicts(),
    }


# -------------------------------------------------------------------------------- account


class AccountOptions(BaseModel):
    """The choices of ``qingshan carbon account`` (each one is written into every trace)."""

    fuel_series: str = Field(_DEFAULTS.fuel_series, description="Fuel factor series.")
    electricity_series: str = Field(
        _DEFAULTS.electricity_series,
        description="mee_nbs (consumption accounting) or ets_grid (ETS reporting).",
    )
    heat_series: str = Field(_DEFAULTS.heat_series, description="Heat factor series.")
    region: str = Field(
        _DEFAULTS.region, description="Electricity region when a row gives none: CN, 西南, 重庆 …"
    )
    gwp: Literal[tuple(GWP_SETS)] = Field(  # type: ignore[valid-type]
        _DEFAULTS.gwp, description="IPCC GWP-100 set for CH4 and N2O."
    )
    gases: accounting.Gases = Field(
        _DEFAULTS.gases, description="all: CO2, CH4, N2O of combustion; co2: CO2 only."
    )
    electricity_basis: accounting.Basis = Field(
        _DEFAULTS.electricity_basis, description="location (grid average) or market."
    )
    tce_basis: accounting.TceBasis = Field(
        _DEFAULTS.tce_basis, description="gb2589 (Annex A coefficients) or ncv (NCV/29.307 GJ)."
    )


@dataclass(frozen=True)
class ActivityUpload:
    area: UploadArea
    upload: Upload


ACCOUNT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "Activity table: CSV, XLSX, Parquet.",
                        }
                    },
                },
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {
                        "rows": {
                            "type": "array",
                            "items": {"type": "object"},
                            "description": (
                                "Activity rows: entity, facility, year, month, category, "
                                "item, quantity, unit [, factor_series, region]. Problems "
                                "count rows as a sheet does: rows[0] is row 2."
                            ),
                        }
                    },
                },
            },
        },
    }
}


def _rows_as_csv(body: bytes) -> bytes:
    """JSON ``{"rows": [{column: value}, …]}`` as CSV text cells, so the rows are checked by
    the same reader as a file."""
    try:
        rows = json.loads(body)["rows"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TypeError("rows must be a list of objects")
    except (ValueError, KeyError, TypeError) as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"message": f'expected {{"rows": [{{…}}, …]}}: {error}'},
        ) from error
    columns = list(dict.fromkeys(column for row in rows for column in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        if any(isinstance(value, dict | list) for value in row.values()):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                {"message": "a cell must be a number, a text or null"},
            )
        writer.writerow({k: "" if v is None else str(v) for k, v in row.items()})
    return text.getvalue().encode("utf-8")


async def activity_upload(request: Request) -> AsyncIterator[ActivityUpload]:
    """The activity table from a multipart ``file`` field or a JSON ``rows`` body."""
    content_type = request.headers.get("content-type", "")
    with temporary_area() as area:
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            file = form.get("file")
            if not isinstance(file, FormFile):
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    {"message": "send the activity table as the form field 'file'"},
                )
            upload = await run_in_threadpool(area.save_table, file.file, file.filename, "activity")
        elif content_type.startswith("application/json"):
            csv_bytes = _rows_as_csv(await request.body())
            upload = area.save(io.BytesIO(csv_bytes), PurePosixPath("rows.csv"), "rows")
        else:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "send multipart/form-data (field 'file') or application/json",
            )
        yield ActivityUpload(area, upload)


def _account_json(result: pl.DataFrame, meta: dict[str, Any]) -> dict[str, Any]:
    rows = result.to_dicts()
    for row in rows:
        row["trace"] = json.loads(row["trace"]) if row["trace"] else None
    return {"meta": meta, "results": rows}


@router.post("/account", openapi_extra=ACCOUNT_BODY)
def account(
    caller: Accountant,
    engine: EngineDep,
    source: Annotated[ActivityUpload, Depends(activity_upload)],
    options: Annotated[AccountOptions, Query()],
    format: OutputFormat = "json",
) -> Any:
    """Emissions (CO2, CH4, N2O, CO2e) and energy (tce) of every activity row with its trace
    (as ``qingshan carbon account``); ``?format=xlsx`` gives the bureau report (details,
    summary by entity and year, factors used)."""
    settings = get_settings()
    upload = source.upload
    with reporting_problems(source.area.display_name):
        library = _library()
        chosen = accounting.Options(
            **options.model_dump(exclude={"region"}), region=carbon.canonical_region(options.region)
        )
        original, frame = carbon.load_activity(upload.path, library)
        result = carbon.account(upload.path, original, frame, library, chosen, settings.chunk_rows)
    totals = result.select(accounting.RESULT_COLUMNS).sum().row(0, named=True)
    audit_run(
        engine,
        caller,
        "carbon.account",
        "carbon",
        upload.sha256,
        {
            "input": upload.audit(),
            "rows": result.height,
            "options": asdict(chosen),
            "totals": totals,
            "format": format,
        },
    )
    if format == "xlsx":
        return _xlsx(lambda path: carbon.write_report(result, path), "carbon_account.xlsx")
    return _account_json(
        result,
        {
            "input": upload.audit(),
            "rows": result.height,
            "options": asdict(chosen),
            "totals": totals,
            "by_entity_year": carbon.summary(result).to_dicts(),
            "energy_by_type": accounting.energy_by_type(result, ["entity", "year"]).to_dicts(),
            "factors_used": carbon.factors_used(result).to_dicts(),
        },
    )


# -------------------------------------------------------------------------------- targets


@router.post("/targets")
def assess_targets(
    caller: TargetAnalyst,
    engine: EngineDep,
    targets: Annotated[
        UploadFile,
        File(
            description="indicator, base_year, target_year, reduction_pct or target_value [, name]"
        ),
    ],
    gdp: Annotated[
        UploadFile,
        File(description="year, gdp_comparable — or year, gdp, gdp_index (previous year = 100)"),
    ],
    emissions: Annotated[
        UploadFile, File(description="year, co2_t, energy_tce [, non_fossil_share_pct]")
    ],
    format: OutputFormat = "json",
) -> Any:
    """Progress of each target against the required pace, trajectories (actual, linear and
    required paths) and warnings where the latest year is off pace (as ``qingshan carbon
    targets``)."""
    with temporary_area() as area:
        saved = {
            role: area.save_table(upload.file, upload.filename, role)
            for role, upload in (("targets", targets), ("gdp", gdp), ("emissions", emissions))
        }
        with reporting_problems(area.display_name):
            progress, trajectory = carbon.assess_targets(
                saved["targets"].path, saved["gdp"].path, saved["emissions"].path
            )
    warnings = progress.filter(pl.col("warning"))["message"].to_list()
    inputs = {role: upload.audit() for role, upload in saved.items()}
    audit_run(
        engine,
        caller,
        "carbon.targets",
        "carbon",
        saved["targets"].sha256,
        {
            "inputs": inputs,
            "targets": progress.height,
            "warnings": len(warnings),
            "format": format,
        },
    )
    if format == "xlsx":
        return _xlsx(
            lambda path: carbon.write_targets(progress, trajectory, Path(path)),
            "carbon_targets.xlsx",
        )
    return {
        "meta": {"inputs": inputs, "warnings": len(warnings)},
        "progress": progress.to_dicts(),
        "trajectory": trajectory.to_dicts(),
        "warnings": warnings,
    }


@router.post("/inventory")
def district_inventory(
    caller: TargetAnalyst,
    engine: EngineDep,
    statistics: Annotated[
        UploadFile,
        File(description="Activity rows with a sector column (energy_supply … lulucf, or 工业 …)."),
    ],
    enterprises: Annotated[
        UploadFile | None,
        File(description="Reporting enterprises' activity: adds their sum and share."),
    ] = None,
    gwp: Annotated[str, Query(description="AR4, AR5 or AR6.")] = _DEFAULTS.gwp,
    gases: Annotated[Literal["all", "co2"], Query()] = "all",
    region: Annotated[str, Query(description="Electricity region when a row gives none.")] = "CN",
    format: OutputFormat = "json",
) -> Any:
    """The district inventory by year and sector, location- and market-based electricity, plus
    the ``year, co2_t, energy_tce`` table that the targets read (as ``qingshan carbon
    inventory``)."""
    library = _library()
    with temporary_area() as area:
        saved = {"statistics": area.save_table(statistics.file, statistics.filename, "statistics")}
        if enterprises is not None:
            saved["enterprises"] = area.save_table(
                enterprises.file, enterprises.filename, "enterprises"
            )
        with reporting_problems(area.display_name):
            options = accounting.Options(
                gwp=gwp, gases=gases, region=carbon.canonical_region(region)
            )
            path = saved["statistics"].path
            original, frame = carbon.load_statistics(path, library)
            accounted = None
            if "enterprises" in saved:
                enterprise_path = saved["enterprises"].path
                raw, parsed = carbon.load_activity(enterprise_path, library)
                accounted = carbon.account(
                    enterprise_path, raw, parsed, library, options, get_settings().chunk_rows
                )
            table = carbon.district_inventory(path, original, frame, library, options, accounted)
    annual = accounting.annual_for_targets(table)
    inputs = {role: upload.audit() for role, upload in saved.items()}
    audit_run(
        engine,
        caller,
        "carbon.inventory",
        "carbon",
        saved["statistics"].sha256,
        {"inputs": inputs, "rows": table.height, "format": format},
    )
    if format == "xlsx":
        return _xlsx(
            lambda target: _write_sheets(target, {"inventory": table, "annual": annual}),
            "carbon_inventory.xlsx",
        )
    return {
        "meta": {"inputs": inputs, "count": table.height},
        "results": table.to_dicts(),
        "annual": annual.to_dicts(),
    }


def _write_sheets(path: str, sheets: dict[str, pl.DataFrame]) -> None:
    import xlsxwriter

    with xlsxwriter.Workbook(path) as workbook:
        for name, table in sheets.items():
            table.write_excel(workbook, worksheet=name)
