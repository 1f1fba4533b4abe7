"""Reports to download: the monthly environmental-quality bulletin and the annual GEP reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from qingshan.api.deps import Caller, EngineDep
from qingshan.api.routers.gep import DOWNLOAD_TYPES
from qingshan.services import bulletin
from qingshan.services.case_workflow import BEIJING
from qingshan.store.engine import reading
from qingshan.web.pages.gep import DOWNLOADS, kept_runs
from qingshan.web.rendering import render
from qingshan.web.session import signed_in

router = APIRouter(include_in_schema=False)
Reader = Annotated[Caller, Depends(signed_in("analyst", "grid_officer"))]


def last_month() -> str:
    """The month before this one (Beijing calendar): the usual bulletin to issue."""
    first_of_this_month = datetime.now(BEIJING).replace(day=1)
    return (first_of_this_month - timedelta(days=1)).strftime("%Y-%m")


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, caller: Reader) -> HTMLResponse:
    return render(
        request,
        "reports.html",
        caller,
        {
            "month": last_month(),
            "runs": [run.summary() | {"run_id": run.run_id} for run in kept_runs()],
            "download_labels": DOWNLOADS,
        },
    )


@router.get("/reports/bulletin")
def bulletin_download(
    engine: EngineDep, caller: Reader, month: str, format: Literal["pdf", "xlsx"] = "pdf"
) -> Response:
    """The district's bulletin for ``month`` (YYYY-MM): air, water and noise with coverage."""
    try:
        with reading(engine) as session:
            name, content = bulletin.bulletin_download(session, month, format)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return Response(
        content,
        media_type=DOWNLOAD_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
