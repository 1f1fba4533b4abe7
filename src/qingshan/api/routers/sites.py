"""The registry readings refer to: sites (with grid, township, district) and parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from qingshan.api.deps import Caller, EngineDep, ReadSession, require_roles
from qingshan.api.listing import (
    ENVELOPE_DOC,
    Codes,
    Envelope,
    PagingDep,
    SiteFilterDep,
    respond,
    split_values,
)
from qingshan.services.readings_query import parameters_listing, sites_listing
from qingshan.services.sites import visible_sites

router = APIRouter(tags=["registry 站点与参数"])

READERS = ("analyst", "grid_officer", "enterprise")
"""Who may read the registry and readings (admins always may). Enterprise contacts see only
their company's outlets (:func:`~qingshan.services.sites.visible_sites`)."""

Reader = Annotated[Caller, Depends(require_roles(*READERS))]


def reader_sites(caller: Reader, session: ReadSession) -> frozenset[int] | None:
    """The site ids the caller may read (None: every site)."""
    return visible_sites(session, caller.user_id, caller.role)


VisibleSites = Annotated[frozenset[int] | None, Depends(reader_sites)]


@router.get("/sites", response_model=Envelope, responses=ENVELOPE_DOC)
def list_sites(
    visible: VisibleSites, engine: EngineDep, sites: SiteFilterDep, paging: PagingDep
) -> Any:
    """Monitoring sites, filtered by `site` code, `kind`, `grid` code or `township` code;
    outlets name their `owner` (the enterprise's registry account). Enterprise users get only
    their company's outlets."""
    return respond(engine, sites_listing(sites.within(visible)), paging)


@router.get("/parameters", response_model=Envelope, responses=ENVELOPE_DOC)
def list_parameters(
    _caller: Reader,
    engine: EngineDep,
    paging: PagingDep,
    parameter: Codes = None,
    medium: Codes = None,
) -> Any:
    """Parameters with canonical keys and units, and the HJ 212 codes that map to them."""
    listing = parameters_listing(
        split_values(parameter, "parameter"), split_values(medium, "medium")
    )
    return respond(engine, listing, paging)
