"""The overview (一张图): the district map with each site's state today, the year's headline
figures, and what needs someone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from qingshan.api.deps import EngineDep
from qingshan.config import get_settings
from qingshan.services.carbon_books import intensity_progress
from qingshan.services.dashboard import district_view, headline, site_states
from qingshan.services.sites import visible_sites
from qingshan.store.engine import reading
from qingshan.web.charts import district_map, site_url
from qingshan.web.pages.monitoring import Now
from qingshan.web.rendering import render
from qingshan.web.session import Visitor

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, engine: EngineDep, caller: Visitor, now: Now) -> HTMLResponse:
    """Open to the public: the map and the headline figures are public monitoring results;
    counts of alarms and cases are shown to signed-in staff only. An enterprise user's map and
    table hold only its company's outlets."""
    with reading(engine) as session:
        outlets = visible_sites(session, caller.user_id, caller.role) if caller else None
        view = district_view(session, outlets)
        states = site_states(session, now, view.name, outlets)
        figures = headline(session, now, view.name)
    colours = {code: state.colour for code, state in states.items()}
    return render(
        request,
        "overview.html",
        caller,
        {
            "view": view,
            "states": states,
            "headline": figures,
            "map_chart": district_map(view, site_colours=colours),
            "site_url": site_url,
            "carbon": intensity_progress(get_settings().books_dir),
        },
    )
