"""The batch path of actions decides exactly as the one-at-a-time path, on both backends.

The same actions (random accounts, methodologies, quantities, days, repeated keys, future
times) are recorded once one by one, each in its own transaction, for one set of accounts, and
once as a single batch for a twin set of accounts. Outcomes (status and reason, in order),
points balances, the journal and ``verify`` must agree. A batch of ≥ 100 rows takes the COPY
path on PostgreSQL (:mod:`qingshan.store.bulk`).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from qingshan.store import journal, ledger
from qingshan.store.engine import reading, writing
from qingshan.store.models import RegistryAccount
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


def assert_paths_agree(engine: Engine, claims: list[Claim], accounts: int) -> None:
    one, batch = open_twins(engine, accounts)
    single = []
    for action in inputs(claims, one, f"one{one[0]}"):
        with writing(engine, "test:bulk") as session:
            single.append(ledger.record_actions(session, [action])[0])
    with writing(engine, "test:bulk") as session:
        batched = ledger.record_actions(session, inputs(claims, batch, f"batch{batch[0]}"))
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
    @given(st.lists(claims, min_size=1, max_size=25))
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(drawn: list[Claim]) -> None:
        assert_paths_agree(engine, drawn, ACCOUNTS)

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
