"""Group commit: concurrent requests of one process share one transaction.

A database commit costs a round trip and a flush of the write-ahead log whatever the
transaction holds, and every statement costs a round trip and the ORM's Python time (which
the threads of one process take in turn, under the GIL). Requests that arrive while a batch is
being written therefore queue; when the batch is done, one of the queued callers (the
*leader*) takes everything pending and applies it as the next batch, through a function that
handles many requests with a fixed number of statements. Each caller waits until the batch
that holds its request has been applied and then gets its own outcome: its result, or its own
exception raised. There is no background thread: a caller that finds no batch running leads
at once, so a lone request is applied as a batch of one without waiting.

No caller returns before its batch's ``apply`` returned (for the registry: committed). The
leader hands the queue on before it runs ``after`` (the registry seals the journal there), so
the next batch is written while this one is sealed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")

MAX_BATCH = 1_000
"""Requests per batch at most (bounds the transaction; the rest wait for the next batch)."""


@dataclass(eq=False)
class _Waiter(Generic[Q, R]):
    request: Q
    wake: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    outcome: R | BaseException | None = None


class GroupCommit(Generic[Q, R]):
    """Apply concurrent :meth:`submit` calls in batches: ``apply(requests)`` returns one
    outcome per request in order (a result, or the exception that refused that request);
    ``after(requests)`` runs in the leader once the batch's callers are released."""

    def __init__(
        self,
        apply: Callable[[list[Q]], Sequence[R | BaseException]],
        after: Callable[[list[Q]], object] = lambda _requests: None,
    ) -> None:
        self._apply = apply
        self._after = after
        self._lock = threading.Lock()
        self._pending: list[_Waiter[Q, R]] = []
        self._busy = False

    @property
    def queued(self) -> int:
        """Requests waiting for the next batch."""
        with self._lock:
            return len(self._pending)

    def submit(self, request: Q) -> R:
        """Queue ``request``, wait until its batch is applied, return its result or raise."""
        waiter: _Waiter[Q, R] = _Waiter(request)
        with self._lock:
            self._pending.append(waiter)
            leads, self._busy = not self._busy, True
        if not leads:
            waiter.wake.wait()  # set when the batch holding it is done, or to make it lead
        if not waiter.finished:
            self._lead()
        if isinstance(waiter.outcome, BaseException):
            raise waiter.outcome
        return waiter.outcome  # type: ignore[return-value]

    def _lead(self) -> None:
        with self._lock:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        requests = [waiter.request for waiter in batch]
        try:
            outcomes: Sequence[R | BaseException] = self._apply(requests)
        except BaseException as error:  # the leader's failure is every caller's in the batch
            outcomes = [error] * len(batch)
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.outcome, waiter.finished = outcome, True
            waiter.wake.set()  # released first: their next requests can still join the next batch
        with self._lock:
            if self._pending:
                self._pending[0].wake.set()  # it leads the next batch
            else:
                self._busy = False
        self._after(requests)
