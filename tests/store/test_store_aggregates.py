"""Aggregation minute → hour → day with the validity counts of GB 3095—2026 Table 4."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from qingshan.store.aggregates import (
    HOURLY_SCHEMA,
    MINUTE_SCHEMA,
    aggregate,
    days_from_hours,
    hours_from_minutes,
)
from qingshan.store.engine import reading, writing
from qingshan.store.models import HJ212_FLAGS, Aggregate, AuditEntry
from qingshan.store.readings import upsert_readings

HOUR = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
DAY = datetime(2024, 3, 1, 16, 0, tzinfo=UTC)  # 2024-03-02 00:00 Beijing time


def minutes(count: int, *, interval: int = 1, start: datetime = HOUR, flags=None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "site_id": [1] * count,
            "parameter_id": [1] * count,
            "period_start": [start + timedelta(minutes=interval * n) for n in range(count)],
            "value": [float(n) for n in range(count)],
            "flag": flags or ["N"] * count,
            "interval_minutes": [interval] * count,
        },
        schema=MINUTE_SCHEMA,
    )


def hourly(valid_hours: int, *, start: datetime = DAY, total: int = 24) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "site_id": [1] * total,
            "parameter_id": [1] * total,
            "period_start": [start + timedelta(hours=n) for n in range(total)],
            "value": [10.0] * valid_hours + [1000.0] * (total - valid_hours),
            "valid": [True] * valid_hours + [False] * (total - valid_hours),
        },
        schema=HOURLY_SCHEMA,
    )


def empty_hours() -> pl.DataFrame:
    return pl.DataFrame(schema=HOURLY_SCHEMA)


def test_an_hour_needs_45_minutes_of_data() -> None:
    """GB 3095—2026 Table 4: 1-h mean valid with ≥ 45 min of sampling; 44 is not enough."""
    short, enough = hours_from_minutes(minutes(44)), hours_from_minutes(minutes(45))
    assert short.select("expected_count", "valid_count", "valid").row(0) == (60, 44, False)
    assert enough.select("expected_count", "valid_count", "valid").row(0) == (60, 45, True)
    assert enough["period_start"][0] == HOUR
    assert enough["value"][0] == sum(range(45)) / 45


def test_minutes_flagged_other_than_n_are_not_data() -> None:
    """HJ 212—2017 Table 8: M (maintenance) values are not valid monitoring data."""
    hour = hours_from_minutes(minutes(45, flags=["N"] * 44 + ["M"]))
    assert hour.select("valid_count", "valid").row(0) == (44, False)
    assert hour["value"][0] == sum(range(44)) / 44


def test_five_minute_data_counts_five_minutes_per_value() -> None:
    """9 five-minute values = 45 minutes (valid); 8 = 40 minutes (not valid); 12 expected."""
    assert hours_from_minutes(minutes(9, interval=5)).select(
        "expected_count", "valid_count", "valid"
    ).row(0) == (12, 9, True)
    assert not hours_from_minutes(minutes(8, interval=5))["valid"][0]


def test_a_day_needs_20_hourly_values() -> None:
    """GB 3095—2026 Table 4: daily mean valid with ≥ 20 hourly means; 19 is not enough."""
    short = days_from_hours(empty_hours(), hourly(19))
    enough = days_from_hours(empty_hours(), hourly(20))
    assert short.select("expected_count", "valid_count", "valid").row(0) == (24, 19, False)
    assert enough.select("expected_count", "valid_count", "valid").row(0) == (24, 20, True)
    assert enough["value"][0] == 10.0  # the mean of valid hours only


def test_the_day_is_the_beijing_calendar_day() -> None:
    """16:00 UTC is 00:00 of the next Beijing day: 24 hours from there make one day."""
    day = days_from_hours(empty_hours(), hourly(2, start=DAY - timedelta(hours=1), total=2))
    assert day["period_start"].to_list() == [DAY - timedelta(days=1), DAY]


def test_reported_hours_take_the_place_of_computed_ones() -> None:
    reported = hourly(1, total=1).with_columns(pl.lit(99.0).alias("value"))
    computed = hourly(20)
    day = days_from_hours(reported, computed)
    assert day.select("valid_count", "valid").row(0) == (20, True)
    assert day["value"][0] == (99.0 + 19 * 10.0) / 20


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 59), st.sampled_from(HJ212_FLAGS)),
        max_size=60,
        unique_by=lambda item: item[0],
    )
)
def test_hour_validity_is_the_count_of_normal_minutes(cells) -> None:
    frame = pl.DataFrame(
        {
            "site_id": [1] * len(cells),
            "parameter_id": [1] * len(cells),
            "period_start": [HOUR + timedelta(minutes=m) for m, _ in cells],
            "value": [float(m) for m, _ in cells],
            "flag": [flag for _, flag in cells],
            "interval_minutes": [1] * len(cells),
        },
        schema=MINUTE_SCHEMA,
    )
    result = hours_from_minutes(frame)
    normal = [float(m) for m, flag in cells if flag == "N"]
    assert result.height == (1 if cells else 0)
    if cells:
        assert result["valid_count"][0] == len(normal)
        assert result["valid"][0] == (len(normal) >= 45)
        assert result["value"][0] == (sum(normal) / len(normal) if normal else None)


def _readings(site: int, parameter: int, starts: list[datetime], period: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "site_id": [site] * len(starts),
            "parameter_id": [parameter] * len(starts),
            "period": [period] * len(starts),
            "period_start": starts,
            "value": [20.0] * len(starts),
            "flag": ["N"] * len(starts),
        }
    )


def test_stored_aggregates_keep_coverage_on_both_backends(engine, sites, parameters) -> None:
    """44 vs 45 minutes in two hours and 19 vs 20 reported hours in two days, through the DB."""
    site, pm25, so2 = sites["AIR1"], parameters["pm25"], parameters["so2"]
    minute_starts = [HOUR + timedelta(minutes=n) for n in range(44)]
    minute_starts += [HOUR + timedelta(hours=1, minutes=n) for n in range(45)]
    hour_starts = [DAY + timedelta(hours=n) for n in range(19)]
    hour_starts += [DAY + timedelta(days=1, hours=n) for n in range(20)]
    with writing(engine, "test:agg") as session:
        upsert_readings(
            session, _readings(site, pm25, minute_starts, "minute"), source="test", actor="test:agg"
        )
        upsert_readings(
            session, _readings(site, so2, hour_starts, "hour"), source="test", actor="test:agg"
        )
        counts = aggregate(session, start=HOUR, end=DAY + timedelta(days=2), actor="test:agg")
    with reading(engine) as session:
        rows = session.execute(
            select(
                Aggregate.parameter_id,
                Aggregate.period,
                Aggregate.period_start,
                Aggregate.expected_count,
                Aggregate.valid_count,
                Aggregate.valid,
            ).order_by(Aggregate.parameter_id, Aggregate.period, Aggregate.period_start)
        ).all()
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "aggregate")).one()
    pm25_rows = [row[1:] for row in rows if row[0] == pm25]
    so2_rows = [row[1:] for row in rows if row[0] == so2]
    assert pm25_rows == [
        ("day", DAY - timedelta(days=1), 24, 1, False),
        ("hour", HOUR, 60, 44, False),
        ("hour", HOUR + timedelta(hours=1), 60, 45, True),
    ]
    assert so2_rows == [
        ("day", DAY, 24, 19, False),
        ("day", DAY + timedelta(days=1), 24, 20, True),
    ]
    assert (counts.hours, counts.days) == (2, 3)
    assert audited.after["hours"] == 2


def test_recomputing_overwrites_aggregates(engine, sites, parameters) -> None:
    site, pm25 = sites["AIR1"], parameters["pm25"]
    for count in (44, 45):
        starts = [HOUR + timedelta(minutes=n) for n in range(count)]
        with writing(engine, "test:agg") as session:
            upsert_readings(
                session, _readings(site, pm25, starts, "minute"), source="test", actor="test:agg"
            )
            aggregate(session, start=HOUR, end=HOUR + timedelta(hours=1), actor="test:agg")
    with reading(engine) as session:
        hour = session.scalars(select(Aggregate).where(Aggregate.period == "hour")).one()
    assert (hour.valid_count, hour.valid) == (45, True)
