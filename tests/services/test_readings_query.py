"""Time convention and cursors of the query API (pure parts; no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.services.listing import CursorError, decode_cursor, encode_cursor
from qingshan.services.readings_query import (
    LOCAL_ZONE,
    SeriesFilter,
    SiteFilter,
    is_period_start,
    local_text,
    parse_instant,
    period_length,
    readings_listing,
    utc_text,
)

BEIJING = timezone(timedelta(hours=8))
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T08:00:00+08:00", datetime(2024, 3, 1, 0, tzinfo=UTC)),
        ("2024-03-01T00:00:00Z", datetime(2024, 3, 1, 0, tzinfo=UTC)),
        ("2024-03-01 08:00", datetime(2024, 3, 1, 0, tzinfo=UTC)),  # naive: Beijing time
        ("2024-03-01", datetime(2024, 2, 29, 16, tzinfo=UTC)),  # a date: Beijing midnight
        ("2024-03-01T08:00:00 08:00", datetime(2024, 3, 1, 0, tzinfo=UTC)),  # '+' lost in a URL
        ("2024-03-01T08:00:00.5 0800", datetime(2024, 3, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2024-03-01T03:00:00-05:00", datetime(2024, 3, 1, 8, tzinfo=UTC)),
    ],
)
def test_instants_in_every_accepted_spelling(text, expected):
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "2024-13-01", "01/03/2024 08:00"])
def test_unreadable_instants_are_refused(text):
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant(text)


@given(aware)
def test_rendered_times_read_back_as_the_same_instant(instant):
    assert local_text(instant).endswith("+08:00")
    assert parse_instant(local_text(instant)) == instant
    assert parse_instant(utc_text(instant)) == instant


@given(aware)
def test_naive_times_are_beijing_wall_clock(instant):
    wall = instant.astimezone(BEIJING).replace(tzinfo=None)
    assert parse_instant(wall.isoformat()) == instant


@given(aware, st.sampled_from(["minute", "hour", "day"]))
def test_period_starts_are_the_local_boundaries(instant, period):
    local = instant.astimezone(LOCAL_ZONE)
    zeroed = {
        "minute": ("second",),
        "hour": ("minute", "second"),
        "day": ("hour", "minute", "second"),
    }
    boundary = local.replace(microsecond=0, **dict.fromkeys(zeroed[period], 0))
    assert is_period_start(boundary, period)
    assert is_period_start(boundary + timedelta(seconds=1), period) is False
    assert is_period_start(instant, "realtime")


def test_period_lengths():
    assert period_length("realtime", 60) == timedelta(0)
    assert period_length("minute", 5) == timedelta(minutes=5)  # HJ 212 MinInterval
    assert period_length("minute", 120) == timedelta(hours=1)  # as the hour aggregation caps it
    assert period_length("hour", 5) == timedelta(hours=1)
    assert period_length("day", 5) == timedelta(hours=24)  # Beijing has no daylight saving


def _row(*key):
    return SimpleNamespace(_mapping={f"_key{index}": value for index, value in enumerate(key)})


@given(
    st.integers(1, 2**31),
    st.integers(1, 2**31),
    st.sampled_from(["realtime", "minute", "hour", "day"]),
    aware,
)
def test_cursors_round_trip_and_belong_to_their_query(site_id, parameter_id, period, start):
    listing = readings_listing(SeriesFilter(periods=("hour",)))
    cursor = encode_cursor(listing, _row(site_id, parameter_id, period, start))
    assert decode_cursor(listing, cursor) == [site_id, parameter_id, period, start]
    other = readings_listing(SeriesFilter(sites=SiteFilter(sites=("AIR1",)), periods=("hour",)))
    with pytest.raises(CursorError, match="other filters"):
        decode_cursor(other, cursor)


@pytest.mark.parametrize("cursor", ["", "x", "eyJxIjoxfQ", "bm90IGpzb24"])
def test_damaged_cursors_are_refused(cursor):
    with pytest.raises(CursorError):
        decode_cursor(readings_listing(SeriesFilter()), cursor)
