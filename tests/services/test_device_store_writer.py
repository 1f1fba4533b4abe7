"""The device channels' batch writer on SQLite and PostgreSQL: with two batches committing at
once (PostgreSQL) every delivery is answered only after its readings are committed, every
reading is stored once, revisions follow the store's rules, and the alarm rules see every
committed reading exactly once, off the commit path."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from qingshan.services import device_store
from qingshan.services.device_store import BatchWriter, Delivery, ReadingRow
from qingshan.store.models import Reading, ReadingRevision

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def _delivery(rows: list[ReadingRow]) -> Delivery:
    return Delivery("test", "peer", "test:writer", readings=rows, packets=1)


def _stored(engine: Engine, rows: list[ReadingRow]) -> int:
    """How many of ``rows`` another connection sees committed with their value."""
    with engine.connect() as connection:
        return sum(
            connection.execute(
                select(func.count()).where(
                    Reading.site_id == site,
                    Reading.parameter_id == parameter,
                    Reading.period == period,
                    Reading.period_start == start,
                    Reading.value == value,
                )
            ).scalar_one()
            for site, parameter, period, start, value, _flag in rows
        )


async def _write_all(writer: BatchWriter, deliveries: list[Delivery], engine: Engine) -> list[int]:
    """Submit every delivery at once; per delivery, its readings committed when it resolved."""
    task = asyncio.create_task(writer.run())
    seen_at_answer: list[int] = []

    def answered(delivery: Delivery) -> None:
        seen_at_answer.append(_stored(engine, delivery.readings) - len(delivery.readings))

    futures = []
    for delivery in deliveries:
        future = writer.submit(delivery)
        future.add_done_callback(lambda done, d=delivery: answered(d))
        futures.append(future)
    await asyncio.gather(*futures)
    await writer.idle()
    task.cancel()
    return seen_at_answer


def test_concurrent_batches_answer_after_their_commit_and_store_each_reading_once(
    engine: Engine, sites: dict[str, int], parameters: dict[str, int]
) -> None:
    site, pm25 = sites["AIR1"], parameters["pm25"]
    deliveries = [
        _delivery([(site, pm25, "realtime", START + timedelta(seconds=30 * n), n + 0.5, "N")])
        for n in range(40)
    ]
    deliveries.append(_delivery(deliveries[3].readings))  # a device re-sending: unchanged
    writer = BatchWriter(engine, "test:writer", max_packets=4, max_delay=0.001, commits=2)
    assert writer.commits == (1 if engine.dialect.name == "sqlite" else 2)

    missing_at_answer = asyncio.run(_write_all(writer, deliveries, engine))

    assert missing_at_answer == [0] * len(deliveries)  # each answer followed its commit
    assert writer.batches >= 10  # max_packets=4: many batches, two at a time on PostgreSQL
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Reading)).scalar_one() == 40
        revisions = select(func.count()).select_from(ReadingRevision)
        assert connection.execute(revisions).scalar_one() == 0


def test_a_changed_value_in_a_concurrent_batch_becomes_a_revision(
    engine: Engine, sites: dict[str, int], parameters: dict[str, int]
) -> None:
    """The same key with another value in two batches in flight: one current reading, one
    kept revision — whichever committed last is current (as with several server processes)."""
    key = (sites["AIR1"], parameters["pm25"], "realtime", START)
    first, second = _delivery([(*key, 10.0, "N")]), _delivery([(*key, 20.0, "N")])
    writer = BatchWriter(engine, "test:writer", max_packets=1, max_delay=0.001)

    asyncio.run(_write_all(writer, [first, second], engine))

    with engine.connect() as connection:
        current = connection.execute(select(Reading.value, Reading.revision)).all()
        kept = connection.execute(select(ReadingRevision.value)).scalars().all()
    assert len(current) == 1 and current[0].revision == 2
    assert {current[0].value, *kept} == {10.0, 20.0}


def test_alarm_rules_see_every_committed_reading_once_and_idle_waits_for_them(
    engine: Engine,
    sites: dict[str, int],
    parameters: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Evaluation runs off the commit path, one at a time over what was committed since the
    last one began; a slow evaluation makes later ones cover several batches."""
    evaluated: list[pl.DataFrame] = []
    running = threading.Lock()

    def slow_evaluation(engine: Engine, batch: pl.DataFrame, *, actor: str) -> None:
        """The first evaluation lasts until every delivery is committed (and answered)."""
        assert running.acquire(blocking=False), "two evaluations at once"
        deadline = time.monotonic() + 30
        while not evaluated and writer.committed_packets < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        evaluated.append(batch)
        running.release()

    monkeypatch.setattr(device_store, "evaluate_after_commit", slow_evaluation)
    site, pm25 = sites["AIR1"], parameters["pm25"]
    deliveries = [
        _delivery([(site, pm25, "minute", START + timedelta(minutes=n), float(n), "N")])
        for n in range(30)
    ]
    writer = BatchWriter(engine, "test:writer", max_packets=2, max_delay=0.001)

    asyncio.run(_write_all(writer, deliveries, engine))

    starts = pl.concat(evaluated)["period_start"].to_list()
    assert sorted(starts) == [START + timedelta(minutes=n) for n in range(30)]
    assert writer.batches > 2
    assert len(evaluated) == 2  # the first batch, then all that was committed while it ran
