"""The district at a glance (一张图): grids, sites and what needs someone, for the overview page.

Everything here is read from the store in a few set-wise queries (one per table), so the
overview of a district with years of data loads in well under a second: grids with their
polygons, sites with their position and open alarms, and open cases per grid.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingshan.services.case_workflow import OPEN_STATES
from qingshan.store.case_models import Case
from qingshan.store.models import Alarm, District, Grid, Site, Township


@dataclass(frozen=True)
class GridView:
    """A grid on the map, with what is open in it."""

    id: int
    code: str
    name: str
    township: str
    boundary: dict[str, Any] | None
    """GeoJSON geometry (WGS-84), None when the grid has no polygon."""
    responsible: list[dict[str, str]]
    open_alarms: int
    open_cases: int


@dataclass(frozen=True)
class SiteView:
    """A site on the map."""

    id: int
    code: str
    name: str
    kind: str
    longitude: float
    latitude: float
    grid_code: str | None
    open_alarms: int


@dataclass(frozen=True)
class DistrictView:
    """The district's grids and sites, and counts of what is open."""

    name: str
    grids: list[GridView] = field(default_factory=list)
    sites: list[SiteView] = field(default_factory=list)

    @property
    def open_alarms(self) -> int:
        return sum(site.open_alarms for site in self.sites)

    @property
    def open_cases(self) -> int:
        return sum(grid.open_cases for grid in self.grids)

    def feature_collection(self) -> dict[str, Any]:
        """The grids as a GeoJSON FeatureCollection named by grid name (for ECharts' map)."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": grid.name, "code": grid.code},
                    "geometry": grid.boundary,
                }
                for grid in self.grids
                if grid.boundary is not None
            ],
        }


def _open_alarms_by(session: Session, column: Any) -> Counter[int]:
    rows = session.execute(select(column, func.count()).where(Alarm.active).group_by(column)).all()
    return Counter({key: count for key, count in rows if key is not None})


def district_view(session: Session) -> DistrictView:
    """Grids and sites of the store's district, each with its open alarms (and cases)."""
    district_name = session.scalar(select(District.name).order_by(District.id)) or ""
    alarms_by_site = _open_alarms_by(session, Alarm.site_id)
    alarms_by_grid = _open_alarms_by(session, Alarm.grid_id)
    cases_by_grid = Counter(
        dict(
            session.execute(
                select(Case.grid_id, func.count())
                .where(Case.state.in_([str(state) for state in OPEN_STATES]))
                .group_by(Case.grid_id)
            ).all()
        )
    )
    grid_rows = session.execute(
        select(Grid, Township.name).join(Township).order_by(Grid.code)
    ).all()
    grids = [
        GridView(
            id=grid.id,
            code=grid.code,
            name=grid.name,
            township=township,
            boundary=json.loads(grid.boundary) if grid.boundary else None,
            responsible=list(grid.responsible or []),
            open_alarms=alarms_by_grid[grid.id],
            open_cases=cases_by_grid[grid.id],
        )
        for grid, township in grid_rows
    ]
    grid_codes = {grid.id: grid.code for grid in grids}
    sites = [
        SiteView(
            id=site.id,
            code=site.code,
            name=site.name,
            kind=site.kind,
            longitude=site.longitude,
            latitude=site.latitude,
            grid_code=grid_codes.get(site.grid_id) if site.grid_id is not None else None,
            open_alarms=alarms_by_site[site.id],
        )
        for site in session.scalars(select(Site).where(Site.active).order_by(Site.code))
    ]
    return DistrictView(name=district_name, grids=grids, sites=sites)


def township_boundaries(session: Session) -> dict[str, Any]:
    """Each township as a GeoJSON MultiPolygon made of its grids' polygons, named by township.

    Townships have no polygon of their own in the store; their grids tile them, so the grids'
    polygons together draw the township (for maps of township results such as GEP).
    """
    polygons: dict[str, list[Any]] = {}
    for township, boundary in session.execute(
        select(Township.name, Grid.boundary).join(Grid).where(Grid.boundary.is_not(None))
    ):
        geometry = json.loads(boundary)
        parts = (
            geometry["coordinates"]
            if geometry["type"] == "MultiPolygon"
            else [geometry["coordinates"]]
        )
        polygons.setdefault(township, []).extend(parts)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {"type": "MultiPolygon", "coordinates": parts},
            }
            for name, parts in polygons.items()
        ],
    }
