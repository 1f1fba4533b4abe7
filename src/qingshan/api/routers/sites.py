"""The registry readings refer to: sites (with grid, township, district) and parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from qingshan.api.deps import Caller, EngineDep, require_roles
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

router = APIRouter(tags=["registry 站点与参数"])

READERS = ("analyst", "grid_officer")
"""Who may read the registry and readings (admins always may). Enterprise contacts may not:
nothing links a user to the sites of an enterprise yet, so they could only see everything."""

Reader = Annotated[Caller, Depends(require_roles(*READERS))]


@router.get("/sites", response_model=Envelope, responses=ENVELOPE_DOC)
def list_sites(_caller: Reader, engine: EngineDep, sites: SiteFilterDep, paging: PagingDep) -> Any:
    """Monitoring sites, filtered by `site` code, `kind`, `grid` code or `township` code."""
    return respond(engine, sites_listing(sites), paging)


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
