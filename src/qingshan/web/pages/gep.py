"""GEP results of the kept runs: totals, categories, townships on the map, year-on-year change."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse

from qingshan.api.deps import Caller, EngineDep
from qingshan.api.routers.gep import run_download
from qingshan.config import get_settings
from qingshan.gep.accounts import DISTRICT_LEVEL
from qingshan.services import gep_runs
from qingshan.services.dashboard import township_boundaries
from qingshan.store.engine import reading
from qingshan.web.charts import grouped_bars
from qingshan.web.i18n import N_, localized
from qingshan.web.i18n import gettext_ as _
from qingshan.web.rendering import render
from qingshan.web.session import signed_in

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Caller, Depends(signed_in("analyst"))]
Reader = Annotated[Caller, Depends(signed_in("analyst", "grid_officer"))]
"""Reports are read by grid officers too (as the reports API allows)."""
DOWNLOADS = {
    "pdf": N_("Report (PDF)"),
    "docx": N_("Report (Word)"),
    "xlsx": N_("Workbook (XLSX)"),
}
ROUTES = {"table": N_("from tables by township"), "raster": N_("from a land-cover raster")}
"""The two routes of a GEP run (``services.gep``: a ``[table]`` or a ``[raster]`` input)."""


def kept_runs() -> list[gep_runs.KeptRun]:
    return gep_runs.list_runs(gep_runs.runs_folder(get_settings().data_dir))


def _run(run_id: str) -> gep_runs.KeptRun:
    run = gep_runs.open_run(gep_runs.runs_folder(get_settings().data_dir), run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such GEP run")
    return run


def _table(run: gep_runs.KeptRun, name: str) -> pl.DataFrame | None:
    path = run.table_path(name)
    return gep_runs.table_frame(path) if path is not None else None


def _township_map(townships: pl.DataFrame, boundaries: dict[str, Any]) -> dict[str, Any] | None:
    """Townships shaded by GEP per km² (their grids' polygons from the store)."""
    features = [
        f for f in boundaries["features"] if f["properties"]["name"] in townships["township"]
    ]
    if not features:
        return None
    values = townships.select("township", "gep_per_km2_wan").drop_nulls().rows()
    if not values:
        return None
    return {
        "map": {
            "name": "townships",
            "geojson": {"type": "FeatureCollection", "features": features},
        },
        "option": {
            "tooltip": {"trigger": "item"},
            "visualMap": {
                "min": min(v for _, v in values),
                "max": max(v for _, v in values),
                "text": [_("GEP per km² (10⁴ yuan)"), ""],
                "inRange": {"color": ["#e8f5e9", "#66bb6a", "#1b5e20"]},
                "left": 0,
                "bottom": 0,
            },
            "series": [
                {
                    "type": "map",
                    "map": "townships",
                    "roam": True,
                    "label": {  # dark text on a light box: readable on the darkest green
                        "show": True,
                        "color": "#1b1b1b",
                        "backgroundColor": "rgba(255, 255, 255, 0.85)",
                        "padding": 2,
                    },
                    "data": [{"name": name, "value": round(value, 1)} for name, value in values],
                }
            ],
        },
    }


@router.get("/gep", response_class=HTMLResponse)
def gep_page(
    request: Request, engine: EngineDep, caller: Analyst, run: str | None = None
) -> HTMLResponse:
    """The chosen run (default: the newest year's newest run) and the list of kept runs."""
    runs = kept_runs()
    chosen = (
        _run(run) if run else max(runs, key=lambda r: (r.manifest["year"], r.run_id), default=None)
    )
    context: dict[str, Any] = {
        "runs": [r.summary() | {"run_id": r.run_id} for r in runs],
        "run": None,
    }
    if chosen is not None:
        townships = _table(chosen, "townships")
        categories = _table(chosen, "categories")
        yoy = _table(chosen, "yoy_townships")
        with reading(engine) as session:
            boundaries = township_boundaries(session)
        context |= {
            "run": chosen.summary() | {"run_id": chosen.run_id},
            "townships": (
                townships.sort("rank", nulls_last=True).to_dicts() if townships is not None else []
            ),
            "district_level": DISTRICT_LEVEL,
            "route_names": ROUTES,
            "yoy": {row["township"]: row for row in yoy.to_dicts()} if yoy is not None else {},
            "categories_chart": grouped_bars(
                [
                    localized(zh, en)
                    for zh, en in categories.select("category_zh", "category_en").rows()
                ],
                {_("Value (10⁴ yuan)"): [round(v, 1) for v in categories["value_wan"]]},
                unit=_("10⁴ yuan"),
            )
            if categories is not None
            else None,
            "map_chart": _township_map(townships, boundaries) if townships is not None else None,
            "downloads": [kind for kind in DOWNLOADS if chosen.download_path(kind) is not None],
            "download_labels": DOWNLOADS,
        }
    return render(request, "gep.html", caller, context)


@router.get("/gep/{run_id}/download/{kind}")
def gep_download(run_id: str, kind: Literal["xlsx", "docx", "pdf"], caller: Reader) -> FileResponse:
    """The run's workbook (xlsx) or report (docx, pdf), as the API serves it."""
    return run_download(run_id, kind)
