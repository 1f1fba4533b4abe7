"""The API's queries: sites, parameters, readings, latest values and aggregates.

Each function returns a :class:`~qingshan.services.listing.Listing` (filters applied, ordered by
a unique key, rows rendered as flat records) that the API pages or exports.

Time convention (``docs/api.md``, ``docs/store.md``): the store keeps UTC; the API shows every
instant in ISO 8601 with the Beijing offset ``+08:00`` (Asia/Shanghai, no daylight saving) and
also in UTC, and spells out each period's start *and* end, because "an hourly value at 03:00"
means 02:00–03:00 at OpenAQ but 03:00–04:00 in HJ 212 — a mix-up OpenAQ's users keep hitting.
Periods are labelled by their start (HJ 212—2017 §6.6.3 DataTime: the start of the period for
minute 2051, hour 2061 and day 2031 data; the sampling instant for real-time 2011 data):

* ``realtime``: an instant; ``period_end`` = ``period_start``;
* ``minute``: the site's minute-data interval (HJ 212 MinInterval = the site's
  ``reporting_interval_minutes``, at most 60 — as in the hour aggregation);
* ``hour``: one hour; ``day``: the Beijing calendar day, 00:00–24:00 +08:00.

Time filters select readings whose ``period_start`` lies in ``[datetime_from, datetime_to)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Row, Select, String, func, literal, select, true, union_all
from sqlalchemy.orm import aliased

from qingshan.services.listing import KeyPart, Listing
from qingshan.store.aggregates import LOCAL_TIME_ZONE, MINUTES_PER_HOUR
from qingshan.store.models import (
    PERIODS,
    Aggregate,
    District,
    Grid,
    Parameter,
    ParameterCode,
    Reading,
    RegistryAccount,
    Site,
    Township,
)

LOCAL_ZONE = ZoneInfo(LOCAL_TIME_ZONE)

_FIXED_LENGTH = {
    "realtime": timedelta(0),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),  # a Beijing day: UTC+8 has no daylight saving, so always 24 h
}

_SPACE_FOR_PLUS = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})"
)
"""A time whose ``+`` offset sign arrived as a space (an unencoded ``+`` in a query string)."""


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date or time as an aware datetime; without an offset it is Beijing time.

    ``2024-03-01T08:00:00+08:00``, ``2024-03-01T00:00:00Z``, ``2024-03-01 08:00`` (Beijing) and
    ``2024-03-01`` (Beijing midnight) are accepted. ``2024-03-01T08:00:00 08:00`` is read as
    ``+08:00``: that is what an unencoded ``+`` in a URL becomes.

    Raises
    ------
    ValueError
        If ``text`` is not an ISO 8601 date or date-time.
    """
    text = text.strip()
    match = _SPACE_FOR_PLUS.fullmatch(text)
    if match:
        text = f"{match.group(1)}+{match.group(2)}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_ZONE)
    return parsed


def local_text(instant: datetime | None) -> str | None:
    """ISO 8601 in Beijing time with its offset, e.g. ``2024-03-01T08:00:00+08:00``."""
    return None if instant is None else instant.astimezone(LOCAL_ZONE).isoformat()


def utc_text(instant: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, e.g. ``2024-03-01T00:00:00Z``."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def period_length(period: str, interval_minutes: int) -> timedelta:
    """How long a period lasts (see the module docstring); minute periods use the interval."""
    if period == "minute":
        return timedelta(minutes=min(interval_minutes, MINUTES_PER_HOUR))
    return _FIXED_LENGTH[period]


def is_period_start(instant: datetime, period: str) -> bool:
    """Whether ``instant`` begins a whole minute, hour or Beijing day (any instant: realtime)."""
    local = instant.astimezone(LOCAL_ZONE)
    if period == "realtime":
        return True
    if local.second or local.microsecond:
        return False
    if period == "minute":
        return True
    return local.minute == 0 and (period == "hour" or local.hour == 0)


def _period_fields(period: str, start: datetime, interval_minutes: int) -> dict[str, Any]:
    end = start + period_length(period, interval_minutes)
    return {
        "period": period,
        "period_start": local_text(start),
        "period_end": local_text(end),
        "period_start_utc": utc_text(start),
        "period_end_utc": utc_text(end),
    }


PERIOD_COLUMNS = ("period", "period_start", "period_end", "period_start_utc", "period_end_utc")


# ------------------------------------------------------------------------------------------
# Filters
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteFilter:
    """Which sites: by code, kind, grid code or township code (empty = any), within the ids
    the caller may see (``visible``; None: every site, see ``services.sites.visible_sites``)."""

    sites: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    grids: tuple[str, ...] = ()
    townships: tuple[str, ...] = ()
    visible: frozenset[int] | None = None

    def within(self, visible: frozenset[int] | None) -> SiteFilter:
        """These filters, limited to the site ids ``visible`` (None: no limit)."""
        return replace(self, visible=visible)

    def echo(self) -> dict[str, Any]:
        """The filters for ``meta.query``; a limit to visible sites is part of it, so that a
        cursor of one caller's listing is refused in another's."""
        echoed: dict[str, Any] = {
            "site": list(self.sites),
            "kind": list(self.kinds),
            "grid": list(self.grids),
            "township": list(self.townships),
        }
        if self.visible is not None:
            echoed["visible_sites"] = sorted(self.visible)
        return echoed

    def apply(self, statement: Select[Any]) -> Select[Any]:
        """Restrict ``statement`` (which must have ``Site`` in its FROM) to these sites."""
        if self.visible is not None:
            statement = statement.where(Site.id.in_(sorted(self.visible)))
        if self.sites:
            statement = statement.where(Site.code.in_(self.sites))
        if self.kinds:
            statement = statement.where(Site.kind.in_(self.kinds))
        if self.grids or self.townships:
            grids = select(Grid.id).join(Township, Township.id == Grid.township_id)
            if self.grids:
                grids = grids.where(Grid.code.in_(self.grids))
            if self.townships:
                grids = grids.where(Township.code.in_(self.townships))
            statement = statement.where(Site.grid_id.in_(grids))
        return statement


@dataclass(frozen=True)
class SeriesFilter:
    """Which series and when: sites, parameter keys, periods, flags and a period-start range."""

    sites: SiteFilter = field(default_factory=SiteFilter)
    parameters: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    start_from: datetime | None = None
    start_to: datetime | None = None

    def within(self, visible: frozenset[int] | None) -> SeriesFilter:
        """These filters, limited to the site ids ``visible`` (None: no limit)."""
        return replace(self, sites=self.sites.within(visible))

    def echo(self, *, with_times: bool = True, with_flags: bool = True) -> dict[str, Any]:
        """The filters for ``meta.query`` (times in +08:00); leave out those that do not apply."""
        echoed: dict[str, Any] = {
            **self.sites.echo(),
            "parameter": list(self.parameters),
            "period": list(self.periods),
        }
        if with_flags:
            echoed["flag"] = list(self.flags)
        if with_times:
            echoed["datetime_from"] = local_text(self.start_from)
            echoed["datetime_to"] = local_text(self.start_to)
        return echoed

    def apply_series(self, statement: Select[Any]) -> Select[Any]:
        """Restrict to the sites and parameters (``Site`` and ``Parameter`` in the FROM)."""
        statement = self.sites.apply(statement)
        if self.parameters:
            statement = statement.where(Parameter.key.in_(self.parameters))
        return statement

    def apply(self, statement: Select[Any], table: type[Reading] | type[Aggregate]) -> Select[Any]:
        """Restrict to the series, periods and period-start range of ``table``'s rows."""
        statement = self.apply_series(statement)
        if self.periods:
            statement = statement.where(table.period.in_(self.periods))
        if self.start_from is not None:
            statement = statement.where(table.period_start >= self.start_from)
        if self.start_to is not None:
            statement = statement.where(table.period_start < self.start_to)
        return statement


# ------------------------------------------------------------------------------------------
# Sites and parameters
# ------------------------------------------------------------------------------------------

SITE_COLUMNS = (
    "code",
    "name",
    "kind",
    "latitude",
    "longitude",
    "grid",
    "grid_name",
    "township",
    "township_name",
    "district",
    "district_name",
    "air_class",
    "water_target_class",
    "waterbody_type",
    "noise_zone",
    "reporting_interval_minutes",
    "permit_limits",
    "owner",
    "owner_name",
    "active",
)


_PLACE_COLUMNS = (
    "grid",
    "grid_name",
    "township",
    "township_name",
    "district",
    "district_name",
    "owner",
    "owner_name",
)


def _render_site(row: Row[Any]) -> dict[str, Any]:
    mapping = row._mapping
    return {
        name: mapping[name] if name in _PLACE_COLUMNS else getattr(row.Site, name)
        for name in SITE_COLUMNS
    }


def sites_listing(filters: SiteFilter) -> Listing:
    """The sites with their grid, township, district, standard context and (outlets) owner:
    the operating enterprise's registry account code and name."""
    statement = (
        select(
            Site,
            Grid.code.label("grid"),
            Grid.name.label("grid_name"),
            Township.code.label("township"),
            Township.name.label("township_name"),
            District.code.label("district"),
            District.name.label("district_name"),
            RegistryAccount.code.label("owner"),
            RegistryAccount.name.label("owner_name"),
        )
        .outerjoin(Grid, Grid.id == Site.grid_id)
        .outerjoin(Township, Township.id == Grid.township_id)
        .outerjoin(District, District.id == Township.district_id)
        .outerjoin(RegistryAccount, RegistryAccount.id == Site.owner_account_id)
    )
    return Listing(
        name="sites",
        statement=filters.apply(statement),
        key=(KeyPart(Site.id),),
        render=_render_site,
        columns=SITE_COLUMNS,
        query=filters.echo(),
    )


PARAMETER_COLUMNS = ("key", "name_zh", "name_en", "unit", "medium", "codes")


def _parameter_codes() -> ColumnElement[str | None]:
    """The parameter's external codes as ``scheme:code[@site_kind]`` joined by spaces."""
    site_kind = func.coalesce(literal("@") + ParameterCode.site_kind, "")
    return (
        select(
            func.aggregate_strings(
                ParameterCode.scheme + literal(":") + ParameterCode.code + site_kind, " "
            )
        )
        .where(ParameterCode.parameter_id == Parameter.id)
        .scalar_subquery()
    )


def _render_parameter(row: Row[Any]) -> dict[str, Any]:
    parameter = row.Parameter
    return {
        "key": parameter.key,
        "name_zh": parameter.name_zh,
        "name_en": parameter.name_en,
        "unit": parameter.unit,
        "medium": parameter.medium,
        "codes": sorted(row.codes.split(" ")) if row.codes else [],
    }


def parameters_listing(keys: Sequence[str] = (), media: Sequence[str] = ()) -> Listing:
    """The parameters with canonical units and the external (HJ 212) codes that map to them."""
    statement = select(Parameter, _parameter_codes().label("codes"))
    if keys:
        statement = statement.where(Parameter.key.in_(keys))
    if media:
        statement = statement.where(Parameter.medium.in_(media))
    return Listing(
        name="parameters",
        statement=statement,
        key=(KeyPart(Parameter.id),),
        render=_render_parameter,
        columns=PARAMETER_COLUMNS,
        query={"parameter": list(keys), "medium": list(media)},
    )


# ------------------------------------------------------------------------------------------
# Readings, latest values, aggregates
# ------------------------------------------------------------------------------------------

READING_COLUMNS = (
    "site",
    "site_name",
    "parameter",
    "unit",
    *PERIOD_COLUMNS,
    "value",
    "flag",
    "revision",
    "source",
    "received_at",
)


def _series_columns() -> tuple[ColumnElement[Any], ...]:
    return (
        Site.code.label("site"),
        Site.name.label("site_name"),
        Site.reporting_interval_minutes.label("interval"),
        Parameter.key.label("parameter"),
        Parameter.unit.label("unit"),
    )


def _render_reading(row: Row[Any]) -> dict[str, Any]:
    return {
        "site": row.site,
        "site_name": row.site_name,
        "parameter": row.parameter,
        "unit": row.unit,
        **_period_fields(row.period, row.period_start, row.interval),
        "value": row.value,
        "flag": row.flag,
        "revision": row.revision,
        "source": row.source,
        "received_at": local_text(row.received_at),
    }


def _reading_columns() -> tuple[ColumnElement[Any], ...]:
    return (
        *_series_columns(),
        Reading.period,
        Reading.period_start,
        Reading.value,
        Reading.flag,
        Reading.revision,
        Reading.source,
        Reading.received_at,
    )


def readings_listing(filters: SeriesFilter) -> Listing:
    """Current readings (latest revision of each), ordered by site, parameter, period, start."""
    statement = (
        select(*_reading_columns())
        .join(Site, Site.id == Reading.site_id)
        .join(Parameter, Parameter.id == Reading.parameter_id)
    )
    if filters.flags:
        statement = statement.where(Reading.flag.in_(filters.flags))
    return Listing(
        name="readings",
        statement=filters.apply(statement, Reading),
        key=(
            KeyPart(Reading.site_id),
            KeyPart(Reading.parameter_id),
            KeyPart(Reading.period),
            KeyPart(Reading.period_start, is_time=True),
        ),
        render=_render_reading,
        columns=READING_COLUMNS,
        query=filters.echo(),
    )


def _periods_table(periods: Sequence[str]) -> Any:
    """The periods as a one-column derived table (SQLite cannot alias VALUES columns)."""
    rows = [select(literal(period, String).label("period")) for period in periods]
    return union_all(*rows).subquery("periods")


def latest_listing(filters: SeriesFilter) -> Listing:
    """The most recent current reading of each (site, parameter, period) that has any.


    For each combination of the filtered sites, parameters and periods, the newest start is a
    correlated ``max(period_start)``, which both databases answer with one probe of the unique
    index ``(site_id, parameter_id, period, period_start)`` instead of scanning readings. The
    combinations are a MATERIALIZED common table expression on PostgreSQL: inlined, the planner
    turned the probe into a filter over every reading (12 s instead of milliseconds for 432,000
    readings).
    """
    period_table = _periods_table(filters.periods or PERIODS)
    newest = (
        select(func.max(Reading.period_start))
        .where(
            Reading.site_id == Site.id,
            Reading.parameter_id == Parameter.id,
            Reading.period == period_table.c.period,
        )
        .scalar_subquery()
    )
    candidates = (
        select(
            Site.id.label("site_id"),
            Parameter.id.label("parameter_id"),
            period_table.c.period.label("period"),
            newest.label("newest"),
        )
        .select_from(Site)
        .join(Parameter, true())
        .join(period_table, true())
    )
    combinations = (
        filters.apply_series(candidates)
        .cte("combinations")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    latest = aliased(Reading)
    statement = (
        select(*_series_columns(), *_latest_columns(latest))
        .select_from(combinations)
        .join(
            latest,
            (latest.site_id == combinations.c.site_id)
            & (latest.parameter_id == combinations.c.parameter_id)
            & (latest.period == combinations.c.period)
            & (latest.period_start == combinations.c.newest),
        )
        .join(Site, Site.id == combinations.c.site_id)
        .join(Parameter, Parameter.id == combinations.c.parameter_id)
    )
    return Listing(
        name="latest",
        statement=statement,
        key=(
            KeyPart(combinations.c.site_id),
            KeyPart(combinations.c.parameter_id),
            KeyPart(combinations.c.period),
        ),
        render=_render_reading,
        columns=READING_COLUMNS,
        query=filters.echo(with_times=False, with_flags=False),
    )


def _latest_columns(latest: Any) -> tuple[ColumnElement[Any], ...]:
    return (
        latest.period.label("period"),
        latest.period_start.label("period_start"),
        latest.value.label("value"),
        latest.flag.label("flag"),
        latest.revision.label("revision"),
        latest.source.label("source"),
        latest.received_at.label("received_at"),
    )


AGGREGATE_COLUMNS = (
    "site",
    "site_name",
    "parameter",
    "unit",
    *PERIOD_COLUMNS,
    "value",
    "expected_count",
    "valid_count",
    "percent_complete",
    "valid",
    "computed_at",
)


def _render_aggregate(row: Row[Any]) -> dict[str, Any]:
    return {
        "site": row.site,
        "site_name": row.site_name,
        "parameter": row.parameter,
        "unit": row.unit,
        **_period_fields(row.period, row.period_start, row.interval),
        "value": row.value,
        "expected_count": row.expected_count,
        "valid_count": row.valid_count,
        "percent_complete": round(100.0 * row.valid_count / row.expected_count, 1)
        if row.expected_count
        else None,
        "valid": row.valid,
        "computed_at": local_text(row.computed_at),
    }


def aggregates_listing(filters: SeriesFilter, valid: bool | None = None) -> Listing:
    """Hour and day means with their coverage (GB 3095—2026 Table 4 validity; docs/store.md)."""
    statement = (
        select(
            *_series_columns(),
            Aggregate.period,
            Aggregate.period_start,
            Aggregate.value,
            Aggregate.expected_count,
            Aggregate.valid_count,
            Aggregate.valid,
            Aggregate.computed_at,
        )
        .join(Site, Site.id == Aggregate.site_id)
        .join(Parameter, Parameter.id == Aggregate.parameter_id)
    )
    if valid is not None:
        statement = statement.where(Aggregate.valid == valid)
    return Listing(
        name="aggregates",
        statement=filters.apply(statement, Aggregate),
        key=(
            KeyPart(Aggregate.site_id),
            KeyPart(Aggregate.parameter_id),
            KeyPart(Aggregate.period),
            KeyPart(Aggregate.period_start, is_time=True),
        ),
        render=_render_aggregate,
        columns=AGGREGATE_COLUMNS,
        query={**filters.echo(with_flags=False), "valid": valid},
    )
