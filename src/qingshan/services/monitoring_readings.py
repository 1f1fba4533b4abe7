"""Store readings as the tables the standards' kernels take (valid flags only).

Kept apart from :mod:`qingshan.services.monitoring_views` because the rule engine
(:mod:`qingshan.services.alerting`) shapes the same hourly air table for its target-pace rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import polars as pl
from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from qingshan.alerting.exceedance import HOURLY_AQI_INDICATORS
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.models import VALID_FLAGS, Parameter, Reading


class AirSite(Protocol):
    """What :func:`hourly_air_table` needs of a station (a :class:`Site` or the rule
    engine's ``SiteInfo``)."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def air_class(self) -> str | None: ...


def parameter_ids(session: Session, keys: Iterable[str]) -> dict[int, str]:
    """Parameter id → key of the given keys (unknown keys are left out)."""
    statement = select(Parameter.id, Parameter.key).where(Parameter.key.in_(list(keys)))
    return {pid: key for pid, key in session.execute(statement)}


_UTC = pl.Datetime("us", "UTC")


def stored_time(session: Session, column: Any) -> Any:
    """A UTC time column as the database holds it: on SQLite its text (parsed by
    :func:`times_of`, thousands of times faster than one Python datetime per row), on
    PostgreSQL the ``timestamptz`` the driver converts in C."""
    if session.get_bind().dialect.name == "sqlite":
        return type_coerce(column, String)
    return column


def time_dtype(session: Session) -> Any:
    """The polars type of a :func:`stored_time` column before :func:`times_of`."""
    return pl.String if session.get_bind().dialect.name == "sqlite" else _UTC


def times_of(column: str) -> pl.Expr:
    """A :func:`stored_time` column as UTC datetimes (SQLite text: ``UTC_TEXT_FORMAT``)."""
    return (
        pl.col(column)
        .cast(pl.String)
        .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
        .alias(column)
    )


def valid_values(
    session: Session,
    site_ids: Sequence[int],
    parameters: Mapping[int, str],
    start: datetime,
    end: datetime,
    period: str = "hour",
) -> pl.DataFrame:
    """Valid readings with ``start ≤ period_start ≤ end``: site_id, key, time (UTC), value."""
    statement = select(
        Reading.site_id,
        Reading.parameter_id,
        stored_time(session, Reading.period_start),
        Reading.value,
    ).where(
        Reading.site_id.in_(list(site_ids)),
        Reading.parameter_id.in_(list(parameters)),
        Reading.period == period,
        Reading.period_start >= start,
        Reading.period_start <= end,
        Reading.flag.in_(VALID_FLAGS),
    )
    frame = pl.DataFrame(
        session.connection().execute(statement).all(),  # Core rows: no ORM cost per row
        schema={
            "site_id": pl.Int64,
            "parameter_id": pl.Int64,
            "time": time_dtype(session),
            "value": pl.Float64,
        },
        orient="row",
    )
    return with_keys(frame, parameters).with_columns(
        times_of("time") if frame.schema["time"] == pl.String else pl.col("time")
    )


def with_keys(frame: pl.DataFrame, parameters: Mapping[int, str]) -> pl.DataFrame:
    """``parameter_id`` replaced by the parameter's ``key``."""
    key = pl.col("parameter_id").replace_strict(dict(parameters), return_dtype=pl.String)
    return frame.with_columns(key.alias("parameter_id")).rename({"parameter_id": "key"})


def local_naive(times: pl.Expr) -> pl.Expr:
    """UTC times as Beijing wall-clock times without a zone (the kernels' convention)."""
    return times.dt.convert_time_zone(LOCAL_TIME_ZONE).dt.replace_time_zone(None)


AIR_POLLUTANTS = tuple(HOURLY_AQI_INDICATORS)
"""so2, no2, co, o3, pm10, pm25 — the parameters of the hourly AQI."""


def air_wide(values: pl.DataFrame, codes: Mapping[int, str]) -> pl.DataFrame:
    """Long valid values → ``station, time`` (local, naive) and the HJ 633 hourly columns."""
    columns = {key: HOURLY_AQI_INDICATORS[key] for key in AIR_POLLUTANTS}
    wide = values.with_columns(
        pl.col("site_id").replace_strict(dict(codes), return_dtype=pl.String).alias("station"),
        local_naive(pl.col("time")).alias("time"),
        pl.col("key").replace_strict(columns, return_dtype=pl.String).alias("column"),
    ).pivot(on="column", index=["station", "time"], values="value")
    missing = [pl.lit(None, pl.Float64).alias(c) for c in columns.values() if c not in wide.columns]
    return wide.with_columns(missing).select("station", "time", *columns.values())


def hourly_air_table(
    session: Session, sites: Sequence[AirSite], start: datetime, end: datetime
) -> pl.DataFrame:
    """Valid hourly pollutant readings (``start ≤ hour ≤ end``) in the shape
    :func:`qingshan.standards.air_evaluation.evaluate` takes: ``station, time`` (Beijing
    time, start of the hour), ``so2_1h … pm25_1h`` and the station's GB 3095 ``class``."""
    parameters = parameter_ids(session, AIR_POLLUTANTS)
    codes = {site.id: site.code for site in sites}
    values = valid_values(session, list(codes), parameters, start, end)
    classes = pl.DataFrame(
        {"station": [s.code for s in sites], "class": [s.air_class for s in sites]},
        schema={"station": pl.String, "class": pl.String},
    )
    return air_wide(values, codes).join(classes, on="station", how="left").sort("station", "time")
