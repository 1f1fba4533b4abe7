"""Store readings as the tables the standards' kernels take (valid flags only).

Kept apart from :mod:`qingshan.services.monitoring_views` because the rule engine
(:mod:`qingshan.services.alerting`) shapes the same hourly air table for its target-pace rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import polars as pl
from sqlalchemy import BigInteger, Integer, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

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


def epoch_seconds(session: Session, column: Any) -> ColumnElement[int]:
    """Seconds since 1970 of a UTC time column, computed by the database: building one
    Python datetime per row would cost more than the query on a year of hours."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.extract("epoch", column), BigInteger)


VALUES_SCHEMA = {
    "site_id": pl.Int64,
    "key": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "value": pl.Float64,
}


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
        epoch_seconds(session, Reading.period_start),
        Reading.value,
    ).where(
        Reading.site_id.in_(list(site_ids)),
        Reading.parameter_id.in_(list(parameters)),
        Reading.period == period,
        Reading.period_start >= start,
        Reading.period_start <= end,
        Reading.flag.in_(VALID_FLAGS),
    )
    rows = session.execute(statement).all()
    frame = pl.DataFrame(
        rows,
        schema={
            "site_id": pl.Int64,
            "parameter_id": pl.Int64,
            "epoch": pl.Int64,
            "value": pl.Float64,
        },
        orient="row",
    )
    return frame.select(
        "site_id",
        pl.col("parameter_id")
        .replace_strict(dict(parameters), return_dtype=pl.String)
        .alias("key"),
        pl.from_epoch("epoch", time_unit="s").dt.replace_time_zone("UTC").alias("time"),
        "value",
    )


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
