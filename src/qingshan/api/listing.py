"""HTTP side of the list endpoints: paging parameters, the ``{meta, results}`` envelope, exports.

Every list endpoint takes ``limit`` (≤ 1000, default 100), ``cursor`` (``meta.next`` of the
previous page) and ``format``: ``json`` (the envelope), ``csv`` (streamed, UTF-8 with BOM, every
row of the query — not only one page) or ``xlsx`` (every row, up to a worksheet's 1,048,575).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.background import BackgroundTask

from qingshan.services.listing import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    XLSX_MAX_DATA_ROWS,
    CursorError,
    ExportTooLarge,
    Listing,
    count_rows,
    csv_chunks,
    decode_cursor,
    fetch_page,
    iterate_records,
    write_xlsx,
)
from qingshan.services.readings_query import LOCAL_ZONE, SeriesFilter, SiteFilter, parse_instant
from qingshan.store.engine import reading
from qingshan.store.models import PERIODS, SITE_KINDS

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page (≤ 1000)")]
Cursor = Annotated[
    str | None, Query(description="`meta.next` of the previous page, with the same filters")
]
Format = Annotated[
    Literal["json", "csv", "xlsx"],
    Query(description="json: one page in the envelope; csv/xlsx: every row of the query"),
]
Codes = Annotated[
    list[str] | None,
    Query(description="one or more values: repeat the parameter or separate with commas"),
]
Instant = Annotated[
    str | None,
    Query(description="ISO 8601; without an offset: Beijing time (+08:00); a date: its midnight"),
]


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Meta(BaseModel):
    name: str = "qingshan"
    found: int = Field(description="rows matching the query (at least this many if not exact)")
    found_exact: bool
    limit: int
    next: str | None = Field(description="cursor of the next page; null on the last page")
    time_zone: str = "Asia/Shanghai (+08:00)"
    query: dict[str, Any] = Field(description="the filters as understood")


class Envelope(BaseModel):
    meta: Meta
    results: list[dict[str, Any]]


ENVELOPE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "JSON envelope, or the export when `format` is csv or xlsx",
    }
}


@dataclass
class Paging:
    """The paging and format parameters every list endpoint takes."""

    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor = None
    format: Format = "json"


PagingDep = Annotated[Paging, Depends()]


def site_filter(
    site: Codes = None, kind: Codes = None, grid: Codes = None, township: Codes = None
) -> SiteFilter:
    """Sites by code, kind, grid code or township code (each: one or more values)."""
    return SiteFilter(
        sites=split_values(site, "site"),
        kinds=split_values(kind, "kind", SITE_KINDS),
        grids=split_values(grid, "grid"),
        townships=split_values(township, "township"),
    )


SiteFilterDep = Annotated[SiteFilter, Depends(site_filter)]


def series_filter(
    sites: SiteFilterDep, parameter: Codes = None, period: Codes = None
) -> SeriesFilter:
    """Series: sites, parameter keys and periods."""
    return SeriesFilter(
        sites=sites,
        parameters=split_values(parameter, "parameter"),
        periods=split_values(period, "period", PERIODS),
    )


SeriesFilterDep = Annotated[SeriesFilter, Depends(series_filter)]


def timed_series_filter(
    series: SeriesFilterDep, datetime_from: Instant = None, datetime_to: Instant = None
) -> SeriesFilter:
    """Series and a period-start range ``datetime_from`` ≤ start < ``datetime_to``."""
    start_from = instant(datetime_from, "datetime_from")
    start_to = instant(datetime_to, "datetime_to")
    if start_from is not None and start_to is not None and start_to <= start_from:
        raise unprocessable("datetime_to", "datetime_to must be after datetime_from")
    return replace(series, start_from=start_from, start_to=start_to)


TimedSeriesFilterDep = Annotated[SeriesFilter, Depends(timed_series_filter)]


def unprocessable(parameter: str, message: str) -> HTTPException:
    """A 422 in FastAPI's validation-error shape, naming the query parameter."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
    )


def split_values(
    values: list[str] | None, parameter: str, allowed: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """Repeated and comma-separated values, stripped and de-duplicated in order."""
    found: dict[str, None] = {}
    for value in values or []:
        for part in value.split(","):
            if part.strip():
                found[part.strip()] = None
    result = tuple(found)
    unknown = [value for value in result if allowed is not None and value not in allowed]
    if unknown:
        message = f"unknown value(s) {', '.join(unknown)}; use {', '.join(allowed or ())}"
        raise unprocessable(parameter, message)
    return result


def instant(value: str | None, parameter: str) -> datetime | None:
    """A time filter as an aware datetime (422 naming the parameter when unreadable)."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as error:
        raise unprocessable(parameter, str(error)) from None


def respond(engine: Engine, listing: Listing, paging: Paging) -> Any:
    """The envelope with one page, or the whole query as a CSV stream or XLSX file."""
    limit, cursor, format = paging.limit, paging.cursor, paging.format
    try:
        if format == "csv":
            return _csv(engine, listing, cursor)
        if format == "xlsx":
            return _xlsx(engine, listing, cursor)
        with reading(engine) as session:
            page = fetch_page(session, listing, cursor=cursor, limit=limit)
    except CursorError as error:
        raise unprocessable("cursor", str(error)) from None
    meta = Meta(
        found=page.found,
        found_exact=page.found_exact,
        limit=limit,
        next=page.next,
        query=dict(listing.query),
    )
    return Envelope(meta=meta, results=page.results)


def _file_name(listing: Listing, suffix: str) -> str:
    stamp = datetime.now(LOCAL_ZONE).strftime("%Y%m%dT%H%M%S")
    return f"qingshan-{listing.name}-{stamp}.{suffix}"


def _csv(engine: Engine, listing: Listing, cursor: str | None) -> StreamingResponse:
    if cursor:
        decode_cursor(listing, cursor)  # refuse a bad cursor before the 200 status is sent
    return StreamingResponse(
        csv_chunks(listing.columns, iterate_records(engine, listing, cursor=cursor)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(listing, "csv")}"'},
    )


def _xlsx(engine: Engine, listing: Listing, cursor: str | None) -> FileResponse:
    with reading(engine) as session:
        rows = count_rows(session, listing, XLSX_MAX_DATA_ROWS)
    if rows > XLSX_MAX_DATA_ROWS:
        raise _too_large()
    try:
        records = iterate_records(engine, listing, cursor=cursor)
        path = write_xlsx(listing.columns, records, listing.name)
    except ExportTooLarge:  # rows were added between the count and the export
        raise _too_large() from None
    return FileResponse(
        path,
        media_type=XLSX_MEDIA_TYPE,
        filename=_file_name(listing, "xlsx"),
        background=BackgroundTask(os.unlink, path),
    )


def _too_large() -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        f"more than {XLSX_MAX_DATA_ROWS} rows do not fit in a worksheet; "
        "use format=csv or narrower filters",
    )
