"""Readings for the monitoring page tests, on the sites of :mod:`web_world`, whose AQI, class
and compliance are known from the standards (the numbers are worked in the test module).

The page tests fix the page clock at :data:`NOW` (12:00 Beijing time, 15 June 2026), whose
last hour is :data:`LAST_HOUR`; the browser tests seed up to the current hour instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, insert, select

from qingshan.store.engine import writing
from qingshan.store.models import Parameter, RejectedPacket, Site
from qingshan.store.readings import INPUT_SCHEMA, upsert_readings
from qingshan.store.registry import upsert_device

BEIJING = ZoneInfo("Asia/Shanghai")

AIR_BASE = {"so2": 15.0, "no2": 20.0, "co": 0.5, "o3": 32.0, "pm10": 40.0}
"""Hourly concentrations of every hour of AIR-01 (µg/m³, CO mg/m³); PM2.5 varies by day."""
LAST_HOUR = datetime(2026, 6, 15, 11, tzinfo=BEIJING)
NOW = (LAST_HOUR + timedelta(hours=1)).astimezone(UTC)
PM25_BY_DAY = {-3: 50.0, -2: 50.0, -1: 115.0, 0: 115.0}
"""PM2.5 of every hour of a day, by the day's offset from the last hour's day."""
WATER_LATEST = {"codmn": 7.0, "nh3n": 0.5, "do": 6.5}
WATER_EARLIER = {"codmn": 4.0, "nh3n": 0.5, "do": 6.5}
NOISE_DAY, NOISE_NIGHT = 58.0, 52.0
COD_HOURS = [40.0, 44.0, 48.0, 52.0, 46.0, 62.0]
"""The outlet's last six hourly COD values (mg/L), the latest last; its permit limit is 50."""
MN = "88888880000001"


def _hours(first: datetime, last: datetime) -> list[datetime]:
    count = int((last - first) / timedelta(hours=1)) + 1
    return [first + timedelta(hours=h) for h in range(count)]


def _rows(site: int, ids: dict[str, int], key: str, times: list[datetime], values: list[float]):
    return [
        (site, ids[key], "hour", moment.astimezone(UTC), value, "N")
        for moment, value in zip(times, values, strict=True)
    ]


def seed_readings(engine: Engine, last_hour: datetime = LAST_HOUR) -> None:
    """Hourly readings of the four sites up to ``last_hour`` (a Beijing-time hour start)."""
    today = last_hour.replace(hour=0)
    rows: list[tuple] = []
    with writing(engine, "test:monitoring") as session:
        ids = dict(session.execute(select(Parameter.key, Parameter.id)).all())
        sites = dict(session.execute(select(Site.code, Site.id)).all())
        air_hours = _hours(today - timedelta(days=3), last_hour)
        for key, value in AIR_BASE.items():
            rows += _rows(sites["AIR-01"], ids, key, air_hours, [value] * len(air_hours))
        pm25 = [PM25_BY_DAY[(moment.date() - today.date()).days] for moment in air_hours]
        rows += _rows(sites["AIR-01"], ids, "pm25", air_hours, pm25)
        latest_day = _hours(today, last_hour)
        earlier_day = today.replace(day=1) - timedelta(days=12)
        earlier = _hours(earlier_day, earlier_day + timedelta(hours=23))
        for key in WATER_LATEST:
            rows += _rows(
                sites["WAT-01"], ids, key, latest_day, [WATER_LATEST[key]] * len(latest_day)
            )
            rows += _rows(sites["WAT-01"], ids, key, earlier, [WATER_EARLIER[key]] * len(earlier))
        noise_hours = _hours(today - timedelta(days=2) + timedelta(hours=6), last_hour)
        levels = [NOISE_DAY if 6 <= m.hour < 22 else NOISE_NIGHT for m in noise_hours]
        rows += _rows(sites["NOI-01"], ids, "leq", noise_hours, levels)
        cod_hours = _hours(last_hour - timedelta(hours=len(COD_HOURS) - 1), last_hour)
        rows += _rows(sites["SRC-01"], ids, "cod", cod_hours, COD_HOURS)
        frame = pl.DataFrame(rows, schema=INPUT_SCHEMA, orient="row")
        upsert_readings(session, frame, source="test", actor="test:monitoring")
        device = upsert_device(session, MN, site_id=sites["SRC-01"], password="123456")
        device.last_seen_at = last_hour.astimezone(UTC) + timedelta(minutes=50)
        # the channels write rejects in bulk, as here (services/device_store.py)
        reject = {
            "received_at": last_hour.astimezone(UTC) + timedelta(minutes=30),
            "channel": "hj212",
            "peer": "127.0.0.1:50000",
            "mn": MN,
            "reason": "bad_crc",
            "detail": "CRC 1A2B expected, 0000 received",
            "raw": b"##0000",
        }
        session.execute(insert(RejectedPacket), [reject])
