"""Downloadable reports under ``/api/v1/reports``: the monthly environmental-quality bulletin
(环境质量月报) and the annual GEP report of a kept run (docs/reports.md).

Roles: ``analyst`` and ``grid_officer`` (and ``admin``) read reports.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import FileResponse, Response

from qingshan.api.deps import Caller, ReadSession, require_roles
from qingshan.api.routers.gep import DOWNLOAD_TYPES, run_download
from qingshan.services import bulletin

router = APIRouter(prefix="/reports", tags=["reports 报告"])

Reader = Annotated[Caller, Depends(require_roles("analyst", "grid_officer"))]


@router.get("/bulletin", response_class=Response)
def monthly_bulletin(
    session: ReadSession,
    _caller: Reader,
    month: Annotated[str, Query(description="YYYY-MM, Beijing calendar", examples=["2026-10"])],
    format: Annotated[Literal["pdf", "xlsx"], Query(description="pdf or xlsx")] = "pdf",
) -> Response:
    """The district's monthly bulletin: air (HJ 663), surface water (GB 3838) and noise
    (GB 3096) for ``month``, every figure with its coverage and its standard in the notes."""
    try:
        name, content = bulletin.bulletin_download(session, month, format)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return Response(
        content,
        media_type=DOWNLOAD_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/gep/{run_id}", response_class=FileResponse)
def gep_report(
    run_id: str,
    _caller: Reader,
    format: Annotated[
        Literal["pdf", "xlsx", "docx"], Query(description="pdf or docx report, xlsx tables")
    ] = "pdf",
) -> FileResponse:
    """The annual GEP report of a kept run (the files ``/gep/runs/{run_id}`` also serves)."""
    return run_download(run_id, format)
