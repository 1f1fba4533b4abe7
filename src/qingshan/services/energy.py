"""Energy meters in the monitoring hub → monthly activity rows for the carbon books.

Energy-meter sites (kind ``energy_meter``) report the energy consumed in each period
(parameters ``electricity`` [kWh] and ``natural_gas`` [m³, normal]). Their monthly sums become
activity rows (entity = the meter's site name, facility = its code) that
:func:`qingshan.services.carbon.account` turns into tce and CO2 like any statistics.

One period per meter and parameter is summed so that nothing is counted twice: day readings
where the meter has any in the month, else hour readings. Steam meters report tonnes; turning
them into heat needs the steam's pressure and temperature (GB/T 32150—2015 Annex), which the
store does not hold, so they are listed as not accounted rather than guessed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, select

from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.engine import reading
from qingshan.store.models import Parameter, Reading, Site

METER_ITEMS = {
    "electricity": ("purchased_electricity", "electricity", "kWh"),
    "natural_gas": ("combustion", "natural_gas", "m3"),
}
"""Meter parameter → (carbon category, carbon item, unit of the readings)."""
NOT_ACCOUNTED = {"steam": "steam in tonnes needs its pressure and temperature to become heat"}
ACTIVITY_SCHEMA = {
    "entity": pl.String,
    "facility": pl.String,
    "year": pl.Int32,
    "month": pl.Int32,
    "category": pl.String,
    "item": pl.String,
    "quantity": pl.Float64,
    "unit": pl.String,
}


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    zone = ZoneInfo(LOCAL_TIME_ZONE)
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def _meter_readings(engine: Engine, year: int, keys: list[str]) -> pl.DataFrame:
    start, end = _year_bounds(year)
    statement = (
        select(
            Site.name, Site.code, Parameter.key, Reading.period, Reading.period_start, Reading.value
        )
        .join(Site, Site.id == Reading.site_id)
        .join(Parameter, Parameter.id == Reading.parameter_id)
        .where(
            Site.kind == "energy_meter",
            Parameter.key.in_(keys),
            Reading.period.in_(("hour", "day")),
            Reading.period_start >= start,
            Reading.period_start < end,
        )
    )
    with reading(engine) as session:
        rows = session.execute(statement).all()
    schema = {
        "entity": pl.String,
        "facility": pl.String,
        "parameter": pl.String,
        "period": pl.String,
        "start": pl.Datetime("us", "UTC"),
        "value": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def meter_activity(engine: Engine, year: int) -> tuple[pl.DataFrame, dict[str, str]]:
    """Monthly activity rows of every energy meter in ``year`` (Beijing months), and the meter
    parameters left out with the reason."""
    readings = _meter_readings(engine, year, list(METER_ITEMS))
    if readings.is_empty():
        return pl.DataFrame(schema=ACTIVITY_SCHEMA), dict(NOT_ACCOUNTED)
    local = pl.col("start").dt.convert_time_zone(LOCAL_TIME_ZONE)
    monthly = readings.with_columns(year=local.dt.year(), month=local.dt.month().cast(pl.Int32))
    series = ["facility", "parameter", "year", "month"]
    has_days = (pl.col("period") == "day").any().over(series)
    chosen = monthly.filter(pl.when(has_days).then(pl.col("period") == "day").otherwise(True))
    sums = chosen.group_by("entity", *series).agg(pl.col("value").sum().alias("quantity"))
    mapping = pl.DataFrame(
        [(key, *target) for key, target in METER_ITEMS.items()],
        schema=["parameter", "category", "item", "unit"],
        orient="row",
    )
    activity = sums.join(mapping, on="parameter").select(
        "entity",
        "facility",
        pl.col("year").cast(pl.Int32),
        "month",
        "category",
        "item",
        "quantity",
        "unit",
    )
    return activity.sort("facility", "item", "month"), dict(NOT_ACCOUNTED)
