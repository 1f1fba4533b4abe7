"""The batch path of actions decides exactly as the one-at-a-time path, on both backends.

The same actions (random accounts, methodologies, quantities, days, repeated keys, future
times) are recorded once one by one, each in its own transaction, for one set of accounts, and
once in (at most) two batches for a twin set of accounts. Outcomes (status and reason, in order),
points balances, the journal and ``verify`` must agree. A batch of ≥ 100 rows takes the COPY
path on PostgreSQL (:mod:`qingshan.store.bulk`).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, select, text

from qingshan.store import bulk, journal, ledger
from qingshan.store.engine import reading, writing
from qingshan.store.models import LowCarbonAction, RegistryAccount
from qingshan.store.types import utc_now

ACCOUNTS = 3
DAYS = (datetime(2024, 3, 1, 1, 0, tzinfo=UTC), datetime(2024, 3, 1, 17, 0, tzinfo=UTC))
"""09:00 and 01:00 next day in Beijing: two local days, so caps are counted per day."""
METHODOLOGIES = ("CQ-BUS", "CQ-EBIKE", "GD-PV")  # caps 10 trips, 30 km; GD-PV inactive
_runs = itertools.count()


@dataclass(frozen=True)
class Claim:
    account: int
    methodology: str
    quantity: float
    when: int  # index into DAYS, or -1: in the future
    key: int


claims = st.builds(
    Claim,
    account=st.integers(0, ACCOUNTS - 1),
    methodology=st.sampled_from(METHODOLOGIES),
    quantity=st.sampled_from((0.5, 1, 2, 3, 4, 7, 12)),
    when=st.integers(-1, 1),
    key=st.integers(0, 30),
)


def open_twins(engine: Engine, accounts: int) -> tuple[list[int], list[int]]:
    run = next(_runs)
    with writing(engine, "test:bulk") as session:
        return tuple(  # type: ignore[return-value]
            [
                ledger.open_account(session, f"{side}{run}-{i}", "居民", "individual").id
                for i in range(accounts)
            ]
            for side in ("ONE", "BATCH")
        )


def inputs(claims: list[Claim], accounts: list[int], prefix: str) -> list[ledger.ActionInput]:
    future = utc_now() + timedelta(hours=1)
    return [
        ledger.ActionInput(
            key=f"{prefix}-{claim.key}",
            account_id=accounts[claim.account],
            methodology_code=claim.methodology,
            quantity=claim.quantity,
            occurred_at=future if claim.when < 0 else DAYS[claim.when],
        )
        for claim in claims
    ]


def balances(engine: Engine, accounts: list[int]) -> list[int]:
    with reading(engine) as session:
        return [session.get(RegistryAccount, a).points_centi for a in accounts]  # type: ignore[union-attr]


def assert_paths_agree(engine: Engine, claims: list[Claim], accounts: int, split: int = 0) -> None:
    """One by one versus in two batches (``claims[:split]``, then the rest: keys and caps
    carried over from the first batch)."""
    one, batch = open_twins(engine, accounts)
    single = []
    for action in inputs(claims, one, f"one{one[0]}"):
        with writing(engine, "test:bulk") as session:
            single.append(ledger.record_actions(session, [action])[0])
    actions = inputs(claims, batch, f"batch{batch[0]}")
    batched = []
    for part in (actions[:split], actions[split:]):
        with writing(engine, "test:bulk") as session:
            batched += ledger.record_actions(session, part)
    with writing(engine, "test:bulk") as session:
        journal.seal(session)
    assert [(o.status, o.reason, o.reduction_mg, o.points_centi) for o in batched] == [
        (o.status, o.reason, o.reduction_mg, o.points_centi) for o in single
    ]
    assert balances(engine, batch) == balances(engine, one)
    with reading(engine) as session:
        positions = journal.positions(session)
        assert ledger.verify(session) == []
    for a, b in zip(one, batch, strict=True):
        key = (a, None, journal.POINTS, None)
        assert positions.get(key, 0) == positions.get((b, None, journal.POINTS, None), 0)


def test_batch_and_one_at_a_time_decide_alike(engine: Engine) -> None:
    @given(st.lists(claims, min_size=1, max_size=25), st.integers(0, 25))
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(drawn: list[Claim], split: int) -> None:
        assert_paths_agree(engine, drawn, ACCOUNTS, min(split, len(drawn)))

    check()


def test_a_large_batch_takes_the_set_based_path_and_still_agrees(engine: Engine) -> None:
    """300 actions over 120 accounts: COPY on PostgreSQL, chunked IN lists on SQLite."""
    rng = random.Random(7)
    drawn = [
        Claim(
            account=rng.randrange(120),
            methodology=rng.choice(METHODOLOGIES),
            quantity=rng.choice((0.5, 1, 2, 3, 4, 7, 12)),
            when=rng.choice((-1, 0, 0, 1, 1)),
            key=rng.randrange(280),
        )
        for _ in range(300)
    ]
    assert_paths_agree(engine, drawn, 120)


def record(engine: Engine, actions: list[ledger.ActionInput]) -> list[tuple[Any, ...]]:
    with writing(engine, "test:bulk") as session:
        outcomes = ledger.record_actions(session, actions)
    return [(o.key, o.status, o.reason, o.points_centi) for o in outcomes]


def bus(key: str, account: int, trips: float, when: datetime = DAYS[0]) -> ledger.ActionInput:
    return ledger.ActionInput(key, account, "CQ-BUS", trips, when, "公交卡")


def test_duplicates_within_a_batch_and_across_batches_change_nothing(engine: Engine) -> None:
    """A repeated key gets the first record's outcome as ``duplicate``, within the batch or
    in a later one (even if it now claims something else); only first records count."""
    (resident, *_), _ = open_twins(engine, 1)
    first = record(engine, [bus("d1", resident, 1), bus("d1", resident, 5), bus("d2", resident, 2)])
    assert first == [
        ("d1", "accepted", None, 110),  # 1.1 points a trip (carbon.md §3.3.1)
        ("d1", "duplicate", None, 110),
        ("d2", "accepted", None, 220),
    ]
    again = record(engine, [bus("d2", resident, 9), bus("d3", resident, 1), bus("d3", resident, 1)])
    assert again == [
        ("d2", "duplicate", None, 220),
        ("d3", "accepted", None, 110),
        ("d3", "duplicate", None, 110),
    ]
    assert balances(engine, [resident]) == [440]
    with reading(engine) as session:
        keys = session.scalars(
            select(LowCarbonAction.idempotency_key).where(LowCarbonAction.account_id == resident)
        ).all()
    assert sorted(keys) == ["d1", "d2", "d3"]


def test_a_cap_crossed_inside_a_batch_rejects_only_what_does_not_fit(engine: Engine) -> None:
    """CQ-BUS: 10 trips a Beijing day. In the order given: 4 + 4 fit, 3 would make 11 and is
    rejected, 2 still fits (a rejected action does not count), 1 more does not; the next
    Beijing day starts again; another account is not affected."""
    (a, b), _ = open_twins(engine, 2)
    outcomes = record(
        engine,
        [bus("c1", a, 4), bus("c2", a, 4), bus("c3", a, 3), bus("c4", b, 10), bus("c5", a, 2),
         bus("c6", a, 1), bus("c7", a, 1, DAYS[1])],
    )  # fmt: skip
    assert [status for _, status, _, _ in outcomes] == [
        "accepted", "accepted", "rejected", "accepted", "accepted", "rejected", "accepted",
    ]  # fmt: skip
    assert (
        outcomes[2][2]
        == "over the daily cap of 10 trip for CQ-BUS on 2024-03-01 (8 already claimed)"
    )
    assert outcomes[5][2].endswith("(10 already claimed)")
    assert balances(engine, [a, b]) == [11 * 110, 10 * 110]
    later = record(engine, [bus("c8", a, 1), bus("c9", a, 1, DAYS[1])])
    assert [status for _, status, _, _ in later] == ["rejected", "accepted"]
    with reading(engine) as session:
        assert ledger.verify(session) == []


def test_the_timeline_shows_accepted_actions_with_the_running_balance(engine: Engine) -> None:
    (resident, *_), _ = open_twins(engine, 1)
    record(engine, [bus("t1", resident, 2), bus("t2", resident, 1, utc_now() + timedelta(days=1))])
    with writing(engine, "test:bulk") as session:
        ledger.redeem(session, "t-redeem", account_id=resident, points=100, note="coupon")
    record(engine, [bus("t3", resident, 1, DAYS[1])])
    with reading(engine) as session:
        timeline = ledger.account_timeline(session, resident)
    assert [(e["kind"], e["key"], e["details"]["balance_centi"]) for e in timeline] == [
        ("accrue", "t1", 220),
        ("redeem", "t-redeem", 120),
        ("accrue", "t3", 230),
    ]
    assert timeline[0]["actor"] == "test:bulk"
    assert timeline[0]["details"]["reduction_mg"] > 0


def test_a_large_batch_leaves_the_planner_current_statistics(engine: Engine) -> None:
    """After a batch of ``bulk.ANALYZE_MIN_ROWS`` actions, PostgreSQL's statistics count them
    (the next batch's lookups are planned for the table as it is, not as it was: with the old
    statistics a key lookup once ran for minutes); SQLite keeps no such statistics."""
    if engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    with writing(engine, "test:bulk") as session:
        account = ledger.open_account(session, "R-STATS", "居民", "individual").id
    count = bulk.ANALYZE_MIN_ROWS
    actions = [bus(f"stats-{i}", account, 0.001, DAYS[0]) for i in range(count)]
    accepted = [outcome for outcome in record(engine, actions) if outcome[1] == "accepted"]
    assert len(accepted) == count  # 10 trips in all, within the daily cap
    with engine.connect() as connection:
        estimated = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'registry_actions'::regclass")
        ).scalar_one()
    assert estimated >= count * 0.9
