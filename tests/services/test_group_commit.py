"""The group-commit queue on its own (no database): requests that arrive while a batch is being
applied form the next batch, each caller gets its own outcome, and a failing batch fails each of
its callers rather than hanging them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qingshan.services.group_commit import GroupCommit

WAITING = 6


class Refused(Exception):
    pass


def test_requests_queued_during_a_batch_form_the_next_batch() -> None:
    """The first request's batch is held open until six more have queued: they are applied
    together as the second batch, and each caller gets the result of its own request."""
    batches: list[list[int]] = []
    entered, release = threading.Event(), threading.Event()

    def apply(requests: list[int]) -> list[int | Exception]:
        if not batches:
            entered.set()
            release.wait(timeout=10)
        batches.append(list(requests))
        return [Refused(f"odd {r}") if r % 2 else r * 10 for r in requests]

    queue: GroupCommit[int, int] = GroupCommit(apply)

    def call(request: int) -> int | str:
        try:
            return queue.submit(request)
        except Refused as error:
            return str(error)

    with ThreadPoolExecutor(WAITING + 1) as pool:
        first = pool.submit(call, 100)
        assert entered.wait(timeout=10)  # the first request leads and holds its batch open
        rest = [pool.submit(call, request) for request in range(WAITING)]
        while queue.queued < WAITING:  # all six queued behind it
            time.sleep(0.001)
        release.set()
        outcomes = [future.result(timeout=10) for future in rest]
    assert first.result() == 1000
    assert batches == [[100], list(range(WAITING))]
    assert outcomes == [0, "odd 1", 20, "odd 3", 40, "odd 5"]


def test_a_batch_that_fails_fails_each_of_its_callers() -> None:
    def apply(requests: list[int]) -> list[int | Exception]:
        raise RuntimeError("database gone")

    queue: GroupCommit[int, int] = GroupCommit(apply)
    for request in range(3):
        with pytest.raises(RuntimeError, match="database gone"):
            queue.submit(request)


def test_after_runs_once_per_batch_after_its_callers_are_released() -> None:
    seen: list[list[int]] = []
    queue: GroupCommit[int, int] = GroupCommit(lambda rs: list(rs), seen.append)
    assert [queue.submit(request) for request in (1, 2)] == [1, 2]
    assert seen == [[1], [2]]
