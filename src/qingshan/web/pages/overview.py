"""The overview (一张图): the district map and what needs someone today."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from qingshan.api.deps import EngineDep
from qingshan.services.dashboard import district_view
from qingshan.store.engine import reading
from qingshan.web.charts import district_map, site_url
from qingshan.web.rendering import render
from qingshan.web.session import Visitor

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, engine: EngineDep, caller: Visitor) -> HTMLResponse:
    """Open to the public: the map shows public monitoring results; counts of alarms and
    cases are shown to signed-in staff only."""
    with reading(engine) as session:
        view = district_view(session)
    return render(
        request,
        "overview.html",
        caller,
        {"view": view, "map_chart": district_map(view), "site_url": site_url},
    )
