"""Readings: one current value per key, identical re-sends are no-ops, changes are revisions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from itertools import count as counter
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DatabaseError

from qingshan.store.engine import reading, writing
from qingshan.store.models import AuditEntry, Reading, ReadingRevision, Site
from qingshan.store.readings import prune_raw_readings, upsert_readings

BEIJING = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def batch(
    site_id: int,
    parameter_id: int,
    values: list[float],
    *,
    start: datetime = T0,
    step: timedelta = timedelta(hours=1),
    period: str = "hour",
    flags: list[str] | None = None,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "site_id": [site_id] * len(values),
            "parameter_id": [parameter_id] * len(values),
            "period": [period] * len(values),
            "period_start": [start + step * index for index in range(len(values))],
            "value": values,
            "flag": flags or ["N"] * len(values),
        }
    )


def store(engine: Engine, frame: pl.DataFrame, source: str = "test") -> dict[str, int]:
    with writing(engine, "test:writer") as session:
        return upsert_readings(session, frame, source=source, actor="test:writer").as_dict()


def count(engine: Engine, entity: type) -> int:
    with reading(engine) as session:
        return session.scalar(select(func.count()).select_from(entity)) or 0


def test_times_are_stored_in_utc_and_read_back_aware(engine, sites, parameters) -> None:
    beijing_8am = datetime(2024, 1, 1, 8, 0, tzinfo=BEIJING)
    store(engine, batch(sites["AIR1"], parameters["pm25"], [35.0], start=beijing_8am))
    with reading(engine) as session:
        stored = session.scalars(select(Reading)).one()
    assert stored.period_start == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert stored.period_start.tzinfo is not None
    assert stored.received_at.tzinfo is not None


def test_identical_resend_is_a_no_op(engine, sites, parameters) -> None:
    frame = batch(sites["AIR1"], parameters["pm25"], [35.0, 36.0, 37.0])
    assert store(engine, frame, "first") == {"inserted": 3, "revised": 0, "unchanged": 0}
    with reading(engine) as session:
        before = [(r.received_at, r.source) for r in session.scalars(select(Reading))]
    audits = count(engine, AuditEntry)
    assert store(engine, frame, "second") == {"inserted": 0, "revised": 0, "unchanged": 3}
    with reading(engine) as session:
        after = [(r.received_at, r.source) for r in session.scalars(select(Reading))]
        assert {r.revision for r in session.scalars(select(Reading))} == {1}
    assert after == before
    assert count(engine, ReadingRevision) == 0
    assert count(engine, AuditEntry) == audits  # nothing written, nothing to audit


def test_changed_value_becomes_a_revision_and_the_old_one_is_kept(engine, sites, parameters):
    key = (sites["RIVER"], parameters["cod"])
    store(engine, batch(*key, [12.5, 13.0]), "hj212:first")
    assert store(engine, batch(*key, [12.5, 14.0]), "file:fix.csv") == {
        "inserted": 0,
        "revised": 1,
        "unchanged": 1,
    }
    store(engine, batch(*key, [12.5, 14.0], flags=["N", "M"]), "review")  # flag change
    with reading(engine) as session:
        current = session.scalars(select(Reading).order_by(Reading.period_start)).all()
        old = session.scalars(select(ReadingRevision).order_by(ReadingRevision.revision)).all()
    assert [(r.value, r.flag, r.revision) for r in current] == [(12.5, "N", 1), (14.0, "M", 3)]
    assert current[1].source == "review"
    assert [(r.reading_id, r.revision, r.value, r.flag, r.source) for r in old] == [
        (current[1].id, 1, 13.0, "N", "hj212:first"),
        (current[1].id, 2, 14.0, "N", "file:fix.csv"),
    ]
    assert old[1].superseded_at == current[1].received_at


def test_a_batch_whose_last_key_exists_is_stored_like_any_other(engine, sites, parameters):
    """On PostgreSQL a batch is first COPYed straight into ``readings`` (all keys new, the fast
    path); an old key at the end of the batch (in key order) refuses that COPY after every other
    row went in. The refused COPY must leave nothing behind, and the upsert then stores the
    batch: new keys as revision 1, the old key as a revision, source and time from this batch."""
    pm25 = parameters["pm25"]
    before = datetime.now(UTC)
    last_hour = batch(sites["AIR1"], pm25, [9.0], start=T0 + timedelta(hours=5))
    assert store(engine, last_hour, source="first") == {"inserted": 1, "revised": 0, "unchanged": 0}
    six_hours = batch(sites["AIR1"], pm25, [1.0, 2.0, 3.0, 4.0, 5.0, 9.5])
    counts = store(engine, six_hours, source="second")
    assert counts == {"inserted": 5, "revised": 1, "unchanged": 0}
    with reading(engine) as session:
        query = select(Reading.value, Reading.revision, Reading.source, Reading.received_at)
        rows = session.execute(query.order_by(Reading.period_start)).all()
    assert [row[:3] for row in rows] == [
        (1.0, 1, "second"),
        (2.0, 1, "second"),
        (3.0, 1, "second"),
        (4.0, 1, "second"),
        (5.0, 1, "second"),
        (9.5, 2, "second"),
    ]
    assert len({row[3] for row in rows}) == 1 and rows[0][3] >= before
    assert count(engine, ReadingRevision) == 1


def test_a_batch_with_one_key_twice_is_refused_unless_identical(engine, sites, parameters):
    twice = pl.concat([batch(sites["AIR1"], parameters["pm25"], [1.0])] * 2)
    assert store(engine, twice)["inserted"] == 1
    clash = pl.concat([batch(sites["AIR1"], parameters["pm10"], [v]) for v in (1.0, 2.0)])
    with pytest.raises(ValueError, match="different values"):
        store(engine, clash)


def test_naive_times_and_unknown_flags_are_refused(engine, sites, parameters):
    naive = batch(sites["AIR1"], parameters["pm25"], [1.0]).with_columns(
        pl.col("period_start").dt.replace_time_zone(None)
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        store(engine, naive)
    with pytest.raises(ValueError, match="flags"):
        store(engine, batch(sites["AIR1"], parameters["pm25"], [1.0], flags=["Q"]))
    assert count(engine, Reading) == 0


def test_float_values_survive_the_bulk_path_exactly(engine, sites, parameters):
    """A re-send of the same floats must be recognised as identical (exact round trip)."""
    values = [0.1, 1 / 3, 2.0**-1074, 1e300, 123456.78901234567, -0.0, 35.0]
    frame = batch(sites["AIR1"], parameters["pm25"], values)
    store(engine, frame)
    assert store(engine, frame)["unchanged"] == len(values)
    with reading(engine) as session:
        stored = session.scalars(select(Reading.value).order_by(Reading.period_start)).all()
    assert stored == values


def test_every_changing_batch_is_audited_with_counts(engine, sites, parameters):
    before = count(engine, AuditEntry)
    store(engine, batch(sites["AIR1"], parameters["pm25"], [1.0, 2.0]), "http:alice")
    store(engine, batch(sites["AIR1"], parameters["pm25"], [1.0, 3.0]), "http:alice")
    with reading(engine) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[before:]
    assert [(e.actor, e.action, e.entity) for e in entries] == [
        ("test:writer", "upsert", "readings")
    ] * 2
    assert entries[0].after == {
        "source": "http:alice",
        "rows": 2,
        "inserted": 2,
        "revised": 0,
        "unchanged": 0,
    }
    assert entries[1].after["revised"] == 1


def test_concurrent_writers_leave_exactly_one_current_reading_per_key(engine, sites, parameters):
    """Threads re-send overlapping batches with their own values at the same time, in opposite
    key orders (the store sorts batches, so no two writers wait on each other in a cycle)."""
    keys = 40
    writers = 4
    rounds = 5
    totals: list[dict[str, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(writer: int) -> None:
        try:
            barrier.wait()
            for round_ in range(rounds):
                value = float(writer * 100 + round_)
                frame = batch(sites["AIR1"], parameters["pm25"], [value] * keys)
                if writer % 2:  # other writers send the keys in the opposite order
                    frame = frame.reverse()
                totals.append(store(engine, frame, f"writer-{writer}"))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(t["inserted"] for t in totals) == keys
    revised = sum(t["revised"] for t in totals)
    assert revised == count(engine, ReadingRevision)
    with reading(engine) as session:
        current = session.scalars(select(Reading)).all()
        archived = session.execute(
            select(ReadingRevision.reading_id, ReadingRevision.revision)
        ).all()
    assert len(current) == keys
    for row in current:
        history = sorted(revision for rid, revision in archived if rid == row.id)
        assert history == list(range(1, row.revision))


def test_prune_deletes_only_old_raw_readings(engine, sites, parameters):
    site, pm25 = sites["AIR1"], parameters["pm25"]
    old, new = datetime(2020, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    for start in (old, new):
        for period in ("minute", "hour"):
            step = timedelta(minutes=1) if period == "minute" else timedelta(hours=1)
            store(engine, batch(site, pm25, [1.0, 2.0], start=start, step=step, period=period))
    store(
        engine, batch(site, pm25, [1.0, 5.0], start=old, step=timedelta(minutes=1), period="minute")
    )  # one revision that must go with its reading
    with writing(engine, "test:retention") as session:
        deleted = prune_raw_readings(
            session, older_than=datetime(2023, 1, 1, tzinfo=UTC), actor="test:retention"
        )
    assert deleted == 2
    with reading(engine) as session:
        left = session.execute(select(Reading.period, Reading.period_start)).all()
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert sorted((p, s.year) for p, s in left) == [
        ("hour", 2020),
        ("hour", 2020),
        ("hour", 2024),
        ("hour", 2024),
        ("minute", 2024),
        ("minute", 2024),
    ]
    assert count(engine, ReadingRevision) == 0
    assert (entry.action, entry.before) == ("prune", {"rows": 2})


def test_readings_must_refer_to_existing_sites_and_parameters(engine, sites, parameters):
    with pytest.raises(ValueError, match="unknown sites ids \\[999\\]"):
        store(engine, batch(999, parameters["pm25"], [1.0]))
    with pytest.raises(ValueError, match="unknown parameters ids \\[999\\]"):
        store(engine, batch(sites["AIR1"], 999, [1.0]))
    assert count(engine, Reading) == 0


def test_a_site_or_parameter_with_readings_cannot_be_deleted(engine, sites, parameters):
    """Readings carry no foreign keys (bulk speed); triggers keep them from being orphaned."""
    store(engine, batch(sites["AIR1"], parameters["pm25"], [1.0]))
    for table, key in (("sites", sites["AIR1"]), ("parameters", parameters["pm25"])):
        with pytest.raises(DatabaseError, match="has readings"), engine.begin() as connection:
            connection.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": key})
    with writing(engine, "test:cleanup") as session:
        session.delete(session.get(Site, sites["AIR5"]))  # no readings: may go
    with reading(engine) as session:
        assert session.get(Site, sites["AIR5"]) is None


def test_any_sequence_of_batches_matches_a_last_write_wins_model(engine, sites, parameters):
    """Property: after any sequence of batches, each key holds its last value and flag, its
    revision is 1 + the number of changes, and the revisions table holds every replaced version.
    """
    examples = counter()
    send = st.tuples(st.integers(0, 3), st.sampled_from([1.0, 2.0, 2.5]), st.sampled_from("NM"))
    batches = st.lists(
        st.lists(send, min_size=1, max_size=4, unique_by=lambda s: s[0]), min_size=1, max_size=5
    )

    @settings(
        max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(batches)
    def check(sequence: list[list[tuple[int, float, str]]]) -> None:
        base = T0 + timedelta(days=next(examples))  # keys of this example only
        model: dict[int, list[tuple[float, str]]] = {}
        for sends in sequence:
            frame = pl.concat(
                [
                    batch(
                        sites["AIR1"],
                        parameters["o3"],
                        [value],
                        start=base + timedelta(hours=hour),
                        flags=[flag],
                    )
                    for hour, value, flag in sends
                ]
            )
            store(engine, frame)
            for hour, value, flag in sends:
                versions = model.setdefault(hour, [])
                if not versions or versions[-1] != (value, flag):
                    versions.append((value, flag))
        with reading(engine) as session:
            for hour, versions in model.items():
                current = session.scalars(
                    select(Reading).where(
                        Reading.parameter_id == parameters["o3"],
                        Reading.period_start == base + timedelta(hours=hour),
                    )
                ).one()
                old = session.execute(
                    select(ReadingRevision.value, ReadingRevision.flag)
                    .where(ReadingRevision.reading_id == current.id)
                    .order_by(ReadingRevision.revision)
                ).all()
                assert (current.value, current.flag) == versions[-1]
                assert current.revision == len(versions)
                assert [tuple(row) for row in old] == versions[:-1]

    check()
