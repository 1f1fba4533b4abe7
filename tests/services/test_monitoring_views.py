"""Store readings as the monitoring pages judge them: the district's station means (kept
between calls and refreshed from new or revised hours) and the targets file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from qingshan.services import monitoring_views as views
from qingshan.services.monitoring_readings import hourly_air_table
from qingshan.services.targets import AirTargets, TargetsError, load_air_targets
from qingshan.store.engine import reading, writing
from qingshan.store.models import Parameter, Site
from qingshan.store.readings import INPUT_SCHEMA, upsert_readings
from qingshan.store.registry import upsert_site
from web_world import build_world

START = datetime(2026, 3, 1, tzinfo=UTC)


def _write(engine: Engine, rows: list[tuple[str, str, datetime, float]]) -> None:
    with writing(engine, "test") as session:
        ids = dict(session.execute(select(Parameter.key, Parameter.id)).all())
        sites = dict(session.execute(select(Site.code, Site.id)).all())
        frame = pl.DataFrame(
            [(sites[s], ids[k], "hour", t, v, "N") for s, k, t, v in rows],
            schema=INPUT_SCHEMA,
            orient="row",
        )
        upsert_readings(session, frame, source="test", actor="test")


def _expected(engine: Engine, end: datetime) -> pl.DataFrame:
    """The stations' mean per hour, computed here from the stations' own table."""
    with reading(engine) as session:
        stations = views.sites_of_kind(session, "air_station")
        hourly = hourly_air_table(session, stations, START, end)
    return hourly.group_by("time").agg(pl.col("pm25_1h").mean()).sort("time")


def _district(engine: Engine, end: datetime) -> pl.DataFrame:
    with reading(engine) as session:
        stations = views.sites_of_kind(session, "air_station")
        means = views.district_hourly_air(session, stations, START, end, "district")
    return means.select("time", "pm25_1h").sort("time")


def test_district_means_follow_new_and_revised_hours(engine: Engine) -> None:
    build_world(engine)
    with writing(engine, "test") as session:
        upsert_site(
            session,
            "AIR-02",
            name="AIR-02",
            kind="air_station",
            latitude=29.6,
            longitude=106.6,
            air_class="II",
        )
    hours = [START + timedelta(hours=h) for h in range(48)]
    _write(
        engine,
        [
            (s, "pm25", t, 10.0 + h + (5 if s == "AIR-02" else 0))
            for s in ("AIR-01", "AIR-02")
            for h, t in enumerate(hours)
        ],
    )
    first_end = hours[-1]
    assert _district(engine, first_end).equals(_expected(engine, first_end))
    # a late revision of an old hour, and a new hour
    _write(
        engine,
        [
            ("AIR-01", "pm25", hours[3], 99.0),
            ("AIR-02", "pm25", first_end + timedelta(hours=1), 7.0),
        ],
    )
    second_end = first_end + timedelta(hours=1)
    district = _district(engine, second_end)
    assert district.equals(_expected(engine, second_end))
    assert district.filter(pl.col("time") == hours[3].replace(tzinfo=None) + timedelta(hours=8))[
        "pm25_1h"
    ].item() == pytest.approx((99 + 18) / 2)


def test_the_targets_file_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    assert load_air_targets(path) == {}
    path.write_text("[air.2026]\ngood_day_ratio = 92.6\npm25_annual_mean = 28\n", "utf-8")
    assert load_air_targets(path) == {2026: AirTargets(2026, 92.6, 28.0)}
    for text, message in (
        ("[air.2026]\ngood_day_ratio = 120\n", "good_day_ratio: 120 is outside 0–100"),
        ("[air.2026]\ngood_day_ratio = 'high'\n", "expected a number"),
        ("[air.26]\ngood_day_ratio = 90\n", "must be a year"),
        ("[water.2026]\nshare = 90\n", "unknown table [water]"),
        ("[air.2026\n", "not valid TOML"),
    ):
        path.write_text(text, "utf-8")
        with pytest.raises(TargetsError, match=r"targets\.toml") as raised:
            load_air_targets(path)
        assert message in str(raised.value)
