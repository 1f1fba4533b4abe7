"""GEP (生态产品总值) over HTTP: specifications, runs, and each run's tables, report and layers.

A run is what ``qingshan gep run CONFIG -o DIR`` does (:mod:`qingshan.services.gep_outputs`),
kept in ``<QINGSHAN_DATA_DIR>/gep/runs/<run_id>/`` by :mod:`qingshan.services.gep_runs`.
Inputs come either from the caller (multipart: the configuration and the files it names) or
from the server's ``<QINGSHAN_DATA_DIR>/gep/inputs/`` folder (JSON ``{"config": "…"}``); in both
cases every path the configuration names must stay inside that folder.

The run is computed synchronously inside the request, in FastAPI's worker thread pool (the
endpoint is a plain ``def``), so it does not block other requests; a county-sized raster run
holds its request open for minutes. Roles: analyst (and admin) run; grid_officer reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile as FormFile

from qingshan.api.deps import Caller, EngineDep, require_roles
from qingshan.api.uploads import UploadArea, reporting_problems, safe_relative_path
from qingshan.config import get_settings
from qingshan.gep.spec import load_spec
from qingshan.services import gep, gep_runs
from qingshan.store.audit import record
from qingshan.store.engine import writing
from qingshan.store.types import utc_now

router = APIRouter(prefix="/gep", tags=["gep 生态产品总值"])

Reader = Annotated[Caller, Depends(require_roles("analyst", "grid_officer"))]
Runner = Annotated[Caller, Depends(require_roles("analyst"))]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOWNLOAD_TYPES = {"xlsx": XLSX_TYPE, "docx": DOCX_TYPE, "pdf": "application/pdf"}
LAYER_TYPES = {
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".tif": "image/tiff",
    ".npy": "application/octet-stream",
}


def _runs_dir() -> Path:
    return gep_runs.runs_folder(get_settings().data_dir)


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")


# -------------------------------------------------------------------------------- specs


@router.get("/specs")
def specs(caller: Reader) -> dict[str, Any]:
    """The shipped specifications, and the statistics and drivers a configuration may give
    (as ``qingshan gep specs`` and ``--inputs``)."""
    listing = gep.spec_listing()
    return {"meta": {"count": len(listing)}, "results": listing, "inputs": gep.input_names()}


@router.get("/specs/{spec_id}")
def spec(spec_id: str, caller: Reader) -> dict[str, Any]:
    """One specification's indicators, items and their verification status."""
    try:
        found = load_spec(spec_id)
    except KeyError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error.args[0])) from None
    return {
        "id": found.id,
        "title": found.title_zh,
        "document": found.document,
        "status": found.status,
        "note": found.note,
        "indicators": gep.spec_indicators(found),
    }


# -------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunSource:
    """A run being prepared: its pending folder, configuration, and the folder inputs must
    lie in (``area.directory``: the uploads, or the server's inputs folder)."""

    pending: gep_runs.PendingRun
    config: Path
    area: UploadArea
    origin: Literal["upload", "server"]


RUN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["config"],
                    "properties": {
                        "config": {
                            "type": "string",
                            "format": "binary",
                            "description": "The run configuration (TOML).",
                        },
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Every file the configuration names; each file "
                            "name is its path relative to the configuration "
                            "(e.g. rasters/land_cover.npy).",
                        },
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["config"],
                    "properties": {
                        "config": {
                            "type": "string",
                            "description": (
                                "A configuration relative to <QINGSHAN_DATA_DIR>/gep/inputs/"
                            ),
                        }
                    },
                }
            },
        },
    }
}


def _save_uploads(form: Any, pending: gep_runs.PendingRun) -> tuple[Path, UploadArea]:
    area = UploadArea(pending.inputs_dir.resolve())
    config = form.get("config")
    if not isinstance(config, FormFile):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"message": "send the configuration as the form field 'config'"},
        )
    config_name = PurePosixPath(safe_relative_path(config.filename or "config.toml").name)
    saved = area.save(config.file, config_name, str(config_name))
    for upload in form.getlist("files"):
        if isinstance(upload, FormFile):
            relative = safe_relative_path(upload.filename or "")
            area.save(upload.file, relative, str(relative))
    return saved.path, area


async def run_source(request: Request) -> AsyncIterator[RunSource]:
    """The inputs of a new run; the pending folder is removed unless the run is published."""
    settings = get_settings()
    content_type = request.headers.get("content-type", "")
    pending = gep_runs.start(
        gep_runs.runs_folder(settings.data_dir), gep_runs.new_run_id(utc_now())
    )
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            config, area = await run_in_threadpool(_save_uploads, form, pending)
            yield RunSource(pending, config, area, "upload")
        elif content_type.startswith("application/json"):
            body = await request.json()
            relative = body.get("config") if isinstance(body, dict) else None
            if not isinstance(relative, str):
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    {"message": 'expected {"config": "<path under the inputs folder>"}'},
                )
            root = gep_runs.inputs_folder(settings.data_dir).resolve()
            with reporting_problems():
                config = gep_runs.server_config(settings.data_dir, relative)
            yield RunSource(pending, config, UploadArea(root), "server")
        else:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "send multipart/form-data (config, files) or application/json",
            )
    finally:
        pending.discard()


@router.post("/runs", status_code=status.HTTP_201_CREATED, openapi_extra=RUN_BODY)
def create_run(
    caller: Runner, engine: EngineDep, source: Annotated[RunSource, Depends(run_source)]
) -> dict[str, Any]:
    """Account GEP for the configuration's district and year and keep the results; answers
    the run's summary (``GET /gep/runs/{run_id}`` gives it again). Bad input → 422, nothing
    kept. The run, its caller and its inputs' SHA-256 go into the audit log."""
    details = {
        "created_at": utc_now().isoformat(),
        "created_by": caller.username,
        "origin": source.origin,
    }
    with reporting_problems(source.area.display_name):
        manifest = source.pending.compute(source.config, source.area.directory, details)
    kept: gep_runs.KeptRun | None = None
    try:  # the run is kept only with its audit row
        with writing(engine, caller.actor) as session:
            record(
                session,
                caller.actor,
                "gep.run",
                "gep_run",
                entity_id=source.pending.run_id,
                after={
                    **manifest["run"],
                    "spec": manifest["spec"]["id"],
                    "year": manifest["year"],
                    "inputs": manifest["inputs"],
                    "gep_wan": manifest["gep_wan"],
                },
            )
            kept = source.pending.publish()
    except BaseException:
        if kept is not None:
            kept.remove()
        raise
    return _run_detail(kept)


@router.get("/runs")
def list_runs(caller: Reader) -> dict[str, Any]:
    """Every kept run, newest first."""
    runs = [run.summary() for run in gep_runs.list_runs(_runs_dir())]
    return {"meta": {"count": len(runs)}, "results": runs}


def _kept(run_id: str) -> gep_runs.KeptRun:
    run = gep_runs.open_run(_runs_dir(), run_id)
    if run is None:
        raise _not_found(f"run {run_id!r}")
    return run


def _run_detail(run: gep_runs.KeptRun) -> dict[str, Any]:
    return {
        **run.summary(),
        "manifest": run.manifest,
        "tables": run.tables(),
        "layers": run.layers(),
    }


@router.get("/runs/{run_id}")
def run_summary(run_id: str, caller: Reader) -> dict[str, Any]:
    """A run's totals, its manifest (inputs with SHA-256, prices, warnings), tables, layers."""
    return _run_detail(_kept(run_id))


@router.get("/runs/{run_id}/tables/{name}", response_model=None)
def run_table(
    run_id: str,
    name: str,
    caller: Reader,
    format: Annotated[
        Literal["json", "csv", "xlsx"],
        Query(description="json (English keys), csv or xlsx (bilingual headers)"),
    ] = "json",
) -> dict[str, Any] | Response:
    """One table of a run: categories, indicators, townships, township_items, ecosystems,
    valuation, lines, and yoy_* when the run is compared with a previous year."""
    run = _kept(run_id)
    path = run.table_path(name)
    if path is None:
        raise _not_found(f"table {name!r} in run {run_id}; tables: {', '.join(run.tables())}")
    if format == "csv":
        return FileResponse(
            path, media_type="text/csv; charset=utf-8", filename=f"{run_id}_{name}.csv"
        )
    if format == "xlsx":
        return Response(
            gep_runs.table_workbook(path, name),
            media_type=XLSX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{run_id}_{name}.xlsx"'},
        )
    rows = gep_runs.table_frame(path).to_dicts()
    return {"meta": {"run_id": run_id, "table": name, "count": len(rows)}, "results": rows}


def run_download(run_id: str, kind: Literal["xlsx", "docx", "pdf"]) -> FileResponse:
    """A kept run's workbook (xlsx) or report (docx, pdf) as a download."""
    path = _kept(run_id).download_path(kind)
    if path is None:
        raise _not_found(f"{kind} file in run {run_id} (runs kept before PDF reports have none)")
    return FileResponse(path, media_type=DOWNLOAD_TYPES[kind], filename=f"{run_id}_{path.name}")


@router.get("/runs/{run_id}/workbook", response_class=FileResponse)
def run_workbook(run_id: str, caller: Reader) -> FileResponse:
    """Every table of the run in one XLSX workbook (bilingual headers)."""
    return run_download(run_id, "xlsx")


@router.get("/runs/{run_id}/report", response_class=FileResponse)
def run_report(
    run_id: str,
    caller: Reader,
    format: Annotated[Literal["docx", "pdf"], Query(description="docx (Word) or pdf")] = "docx",
) -> FileResponse:
    """The report a bureau files (basis, results, tables, prices, inputs' SHA-256)."""
    return run_download(run_id, format)


@router.get("/runs/{run_id}/layers")
def run_layers(run_id: str, caller: Reader) -> dict[str, Any]:
    """The run's map layers: townships.json (values per township), townships.geojson (polygon
    inputs), per-indicator rasters (.tif when georeferenced, else .npy) described by grid.json."""
    layers = _kept(run_id).layers()
    return {"meta": {"run_id": run_id, "count": len(layers)}, "results": layers}


@router.get("/runs/{run_id}/layers/{name}", response_class=FileResponse)
def run_layer(run_id: str, name: str, caller: Reader) -> FileResponse:
    """One map layer file by its name in the listing."""
    path = _kept(run_id).layer_path(name)
    if path is None:
        raise _not_found(f"layer {name!r}")
    return FileResponse(
        path, media_type=LAYER_TYPES.get(path.suffix, "application/octet-stream"), filename=name
    )
