"""POST /api/v1/readings: idempotent, revisions, all or nothing with every problem named, roles.

Runs on SQLite and PostgreSQL (the ``engine`` fixture of tests/store_backends.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from qingshan.services.rules import create_rule
from qingshan.store.case_models import Notification
from qingshan.store.engine import reading, writing
from qingshan.store.models import Alarm, AuditEntry, Reading, ReadingRevision

URL = "/api/v1/readings"


def hour(site: str, start: str, value: float, parameter: str = "pm25", flag: str = "N") -> dict:
    return {
        "site": site,
        "parameter": parameter,
        "period": "hour",
        "start": start,
        "value": value,
        "flag": flag,
    }


BATCH = [
    hour("AIR1", "2024-03-01T08:00:00+08:00", 35.0),
    hour("AIR1", "2024-03-01T09:00:00+08:00", 41.0),
    hour("AIR5", "2024-03-01T08:00:00+08:00", 12.5, parameter="so2"),
]


def stored(engine) -> list[tuple]:
    with reading(engine) as session:
        rows = session.execute(
            select(Reading.period_start, Reading.value, Reading.flag, Reading.revision).order_by(
                Reading.site_id, Reading.parameter_id, Reading.period_start
            )
        )
        return [tuple(row) for row in rows]


def test_a_batch_is_stored_and_a_resend_is_a_no_op(client, token_for, sites, engine):
    headers = token_for("device")
    first = client.post(URL, json={"readings": BATCH}, headers=headers)
    assert first.status_code == 200
    assert first.json() == {"received": 3, "inserted": 3, "revised": 0, "unchanged": 0}
    before = stored(engine)

    again = client.post(URL, json={"readings": BATCH}, headers=headers)
    assert again.json() == {"received": 3, "inserted": 0, "revised": 0, "unchanged": 3}
    assert stored(engine) == before
    with reading(engine) as session:
        uploads = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "readings", AuditEntry.action == "upsert")
        ).all()
    assert [entry.actor for entry in uploads] == ["user:device-user"]  # the no-op wrote nothing
    assert uploads[0].after["source"] == "http:device-user"


def test_a_changed_value_becomes_a_new_revision(client, token_for, sites, engine):
    headers = token_for("analyst")
    client.post(URL, json={"readings": BATCH}, headers=headers)
    changed = [*BATCH[:1], {**BATCH[1], "value": 44.0}, BATCH[2]]
    response = client.post(URL, json={"readings": changed}, headers=headers)
    assert response.json() == {"received": 3, "inserted": 0, "revised": 1, "unchanged": 2}
    with reading(engine) as session:
        current = session.scalar(select(Reading).where(Reading.value == 44.0))
        old = session.scalars(select(ReadingRevision)).all()
    assert current.revision == 2
    assert [(revision.value, revision.revision) for revision in old] == [(41.0, 1)]


def test_naive_times_are_beijing_time_and_hj212_codes_are_converted(
    client, token_for, sites, engine
):
    batch = [
        hour("AIR1", "2024-03-01 08:00", 35.0, parameter="a34004"),  # HJ 212 code of PM2.5
        {"site": "AIR1", "parameter": "pm25", "period": "day", "start": "2024-03-02", "value": 30},
    ]
    response = client.post(URL, json={"readings": batch}, headers=token_for("device"))
    assert response.status_code == 200
    with reading(engine) as session:
        starts = session.execute(select(Reading.period, Reading.period_start)).all()
    assert sorted(starts) == [
        ("day", datetime(2024, 3, 1, 16, tzinfo=UTC)),  # the Beijing day 2024-03-02 begins here
        ("hour", datetime(2024, 3, 1, 0, tzinfo=UTC)),
    ]


def test_one_bad_item_rejects_the_batch_and_every_problem_is_listed(
    client, token_for, sites, engine
):
    batch = [
        hour("AIR1", "2024-03-01T08:00:00+08:00", 35.0),  # 0: fine
        hour("NOWHERE", "2024-03-01T08:00:00+08:00", 35.0),  # 1: unknown site
        hour("RIVER", "2024-03-01T08:00:00+08:00", 3.0, parameter="a21026"),  # 2: an air code
        hour("AIR1", "2024-03-01T08:30:00+08:00", 35.0),  # 3: not the start of an hour
        {**hour("AIR1", "yesterday", 35.0), "value": "high", "flag": "Q"},  # 4: three fields
        hour("AIR1", "2024-03-01T08:00:00+08:00", 36.0),  # 5: same key as 0, other value
        hour("AIR1", "2024-03-01T08:00:00+08:00", 35.0),  # 6: identical repeat of 0: fine
        {**hour("AIR1", "2024-03-01T10:00:00+08:00", 1.0), "unit": "mg/m3"},  # 7: extra field
        {"site": "AIR1", "period": "hour", "start": "2024-03-01T11:00:00+08:00"},  # 8: missing
    ]
    response = client.post(URL, json={"readings": batch}, headers=token_for("analyst"))
    assert response.status_code == 422
    problems = {(item["index"], item["field"], item["type"]) for item in response.json()["detail"]}
    assert problems == {
        (1, "site", "unknown_site"),
        (2, "parameter", "unknown_parameter"),
        (3, "start", "not_period_start"),
        (4, "start", "value_error"),
        (4, "value", "float_parsing"),
        (4, "flag", "literal_error"),
        (5, "value", "conflicting_duplicate"),
        (7, "unit", "extra_forbidden"),
        (8, "parameter", "missing"),
        (8, "value", "missing"),
    }
    first = response.json()["detail"][0]
    assert first["loc"] == ["body", "readings", first["index"], first["field"]]
    assert stored(engine) == []  # all or nothing


def test_values_must_be_finite(client, token_for, sites, engine):
    headers = {**token_for("analyst"), "Content-Type": "application/json"}
    for value in ("Infinity", "-Infinity", "NaN"):
        body = (
            '{"readings": [{"site": "AIR1", "parameter": "pm25", "period": "hour", '
            f'"start": "2024-03-01T08:00:00+08:00", "value": {value}}}]}}'
        )
        assert client.post(URL, content=body, headers=headers).status_code == 422, value
    assert stored(engine) == []


def test_batch_size_is_limited_to_10000(client, token_for, sites, engine):
    headers = token_for("device")
    too_many = [hour("AIR1", "2024-03-01T08:00:00+08:00", 1.0)] * 10_001
    refused = client.post(URL, json={"readings": too_many}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "readings"]
    assert client.post(URL, json={"readings": []}, headers=headers).status_code == 422
    assert stored(engine) == []


def test_a_full_batch_of_10000_is_stored(client, token_for, sites, engine):
    starts = [
        datetime(2024, 1, 1, tzinfo=UTC).timestamp() + 60 * minute for minute in range(10_000)
    ]
    batch = [
        {
            "site": "AIR1",
            "parameter": "pm25",
            "period": "minute",
            "start": datetime.fromtimestamp(start, UTC).isoformat(),
            "value": float(index % 97),
        }
        for index, start in enumerate(starts)
    ]
    response = client.post(URL, json={"readings": batch}, headers=token_for("device"))
    assert response.json()["inserted"] == 10_000
    with reading(engine) as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 10_000


WRITE_ROLES = {"device": 200, "analyst": 200, "admin": 200, "grid_officer": 403, "enterprise": 403}


def test_who_may_send_readings(client, token_for, sites):
    for role, status in WRITE_ROLES.items():
        response = client.post(URL, json={"readings": BATCH}, headers=token_for(role))
        assert response.status_code == status, role


def test_sending_needs_a_token(client, sites, engine):
    assert client.post(URL, json={"readings": BATCH}).status_code == 401
    assert stored(engine) == []


def test_nothing_is_kept_or_acknowledged_when_the_write_fails(
    client, token_for, sites, engine, monkeypatch
):
    """The batch is written, then the transaction fails before commit: no 2xx, no readings."""
    from qingshan.services import readings_intake

    real_upsert = readings_intake.upsert_readings

    def upsert_then_fail(session, frame, **kwargs):
        real_upsert(session, frame, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(readings_intake, "upsert_readings", upsert_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):  # the server answers 500
        client.post(URL, json={"readings": BATCH}, headers=token_for("device"))
    assert stored(engine) == []


CORRUPTIONS = {
    "site": ("NOWHERE", "unknown_site"),
    "parameter": ("pm2.5", "unknown_parameter"),
    "start": ("2024-03-01T08:20:00+08:00", "not_period_start"),
    "value": ("n/a", "float_parsing"),
    "flag": ("Z", "literal_error"),
    "period": ("week", "literal_error"),
}


@st.composite
def batches_with_bad_items(draw):
    """A batch of distinct valid hourly readings with 1–5 items spoilt in one field each."""
    size = draw(st.integers(1, 60))
    spoilt = draw(
        st.dictionaries(
            st.integers(0, size - 1), st.sampled_from(sorted(CORRUPTIONS)), min_size=1, max_size=5
        )
    )
    start = datetime(2024, 3, 1, tzinfo=UTC)
    batch = [hour("AIR1", (start + timedelta(hours=n)).isoformat(), float(n)) for n in range(size)]
    for index, field in spoilt.items():
        batch[index] = {**batch[index], field: CORRUPTIONS[field][0]}
    return batch, spoilt


@pytest.fixture
def analyst_headers(token_for):
    return token_for("analyst")


@settings(
    max_examples=25,
    deadline=None,
    # The store is shared by the examples on purpose: every batch is refused, so it stays empty.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches_with_bad_items())
def test_any_bad_items_are_each_reported_and_nothing_is_stored(
    client, analyst_headers, sites, engine, case
):
    batch, spoilt = case
    response = client.post(URL, json={"readings": batch}, headers=analyst_headers)
    assert response.status_code == 422
    reported = {(item["index"], item["field"], item["type"]) for item in response.json()["detail"]}
    assert reported == {(index, field, CORRUPTIONS[field][1]) for index, field in spoilt.items()}
    assert stored(engine) == []


def test_an_alarm_exists_when_the_post_returns(client, token_for, sites, engine):
    """The rules are evaluated right after the commit (docs/alerting.md): the 200 of the POST
    that carries a polluted hour comes back with its alarm already stored."""
    with writing(engine, "test") as session:
        create_rule(
            session,
            code="pm25-iaqi",
            name="PM2.5 IAQI > 100",
            rule_type="aqi",
            parameters={"parameter": "pm25", "level": 100},
            scope=None,
            severity="orange",
            actor="test",
        )
    headers = token_for("device")
    response = client.post(
        URL, json={"readings": [hour("AIR1", "2026-06-01 09:00", 80)]}, headers=headers
    )
    assert response.status_code == 200, response.text
    with reading(engine) as session:
        alarms = session.execute(select(Alarm.site_id, Alarm.peak_value, Alarm.active)).all()
    assert alarms == [(sites["AIR1"], 119.0, True)]  # IAQI of PM2.5 80 µg/m³ (HJ 633—2026)
    with reading(engine) as session:  # and the grid's officers and the analysts are told
        notes = session.execute(
            select(Notification.kind, Notification.roles, Notification.alarm_id)
        ).all()
    assert [(kind, roles) for kind, roles, _ in notes] == [("alarm", ["grid_officer", "analyst"])]
    assert notes[0][2] is not None
