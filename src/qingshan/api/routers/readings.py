"""Readings: send a batch (``POST /readings``), query them, their latest values and aggregates.

Times: ISO 8601; a time without an offset is Beijing time (Asia/Shanghai, +08:00). Results give
each period's start and end in +08:00 and in UTC (``docs/api.md``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from qingshan.api.deps import Caller, EngineDep, require_roles
from qingshan.api.listing import (
    ENVELOPE_DOC,
    Codes,
    Envelope,
    PagingDep,
    SeriesFilterDep,
    TimedSeriesFilterDep,
    respond,
    split_values,
)
from qingshan.api.routers.sites import VisibleSites
from qingshan.services.readings_intake import MAX_BATCH, BatchRejected, ReadingIn, store_batch
from qingshan.services.readings_query import aggregates_listing, latest_listing, readings_listing
from qingshan.store.models import FLAGS

router = APIRouter(tags=["readings 监测数据"])

WRITERS = ("device", "analyst")
"""Who may send readings (admins always may). Enterprise contacts may not: users are not linked
to sites, so they could write any site's readings; grid officers read but do not measure."""

Writer = Annotated[Caller, Depends(require_roles(*WRITERS))]


class ReadingBatch(BaseModel):
    """Up to 10,000 readings; all are stored or none."""

    readings: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        json_schema_extra={"items": ReadingIn.model_json_schema()},
    )


class StoredCounts(BaseModel):
    """What the committed batch did; identical repeats inside the batch count once."""

    received: int = Field(description="items in the batch")
    inserted: int = Field(description="new readings")
    revised: int = Field(description="readings whose value or flag changed (new revision)")
    unchanged: int = Field(description="readings already stored as sent: nothing written")


REJECTED_DOC: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Nothing stored. `detail` lists every problem: `loc` "
        '(["body", "readings", index, field]), `index`, `field`, `msg`, `type`.'
    }
}


@router.post("/readings", response_model=StoredCounts, responses=REJECTED_DOC)
def post_readings(body: ReadingBatch, caller: Writer, engine: EngineDep) -> StoredCounts:
    """Store a batch of readings, all or nothing; answered only after the commit.

    Idempotent: sending the same batch again stores nothing (`unchanged`); a reading whose
    value or flag changed becomes a new revision, the old one kept for audit.
    """
    try:
        counts = store_batch(engine, body.readings, username=caller.username, actor=caller.actor)
    except BatchRejected as rejected:
        detail = [problem.as_detail() for problem in rejected.problems]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    return StoredCounts(received=len(body.readings), **counts.as_dict())


@router.get("/readings", response_model=Envelope, responses=ENVELOPE_DOC)
def list_readings(
    visible: VisibleSites,
    engine: EngineDep,
    series: TimedSeriesFilterDep,
    paging: PagingDep,
    flag: Codes = None,
) -> Any:
    """Current readings, ordered by site, parameter, period and start.

    Filters: `site`, `kind`, `grid`, `township`, `parameter`, `period`, `flag` (each one or
    more values), and `datetime_from` ≤ period start < `datetime_to`. Enterprise users get only
    their company's outlets.
    """
    flags = split_values(flag, "flag", FLAGS)
    return respond(engine, readings_listing(replace(series.within(visible), flags=flags)), paging)


@router.get("/readings/latest", response_model=Envelope, responses=ENVELOPE_DOC)
def list_latest(
    visible: VisibleSites, engine: EngineDep, series: SeriesFilterDep, paging: PagingDep
) -> Any:
    """The newest reading of each site, parameter and period (enterprise users: of their
    company's outlets)."""
    return respond(engine, latest_listing(series.within(visible)), paging)


@router.get("/aggregates", response_model=Envelope, responses=ENVELOPE_DOC)
def list_aggregates(
    visible: VisibleSites,
    engine: EngineDep,
    series: TimedSeriesFilterDep,
    paging: PagingDep,
    valid: Annotated[
        bool | None, Query(description="only periods meeting (true) or missing (false) GB 3095")
    ] = None,
) -> Any:
    """Hour and day means with coverage: expected and valid counts, percent complete, validity.

    Validity follows GB 3095—2026 Table 4 (≥ 45 minutes in the hour, ≥ 20 hourly values in the
    Beijing day). Aggregates are computed by `qingshan db aggregate` (docs/store.md). Enterprise
    users get only their company's outlets.
    """
    return respond(engine, aggregates_listing(series.within(visible), valid), paging)
