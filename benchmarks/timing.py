"""Timing helper shared by the benchmark scripts (run from this folder or the project root)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, work: Callable[[], object]) -> float:
    """Shortest wall time of ``runs`` calls of ``work``, in seconds.

    The minimum is the least disturbed by other load on the machine, so ratios of minima measured
    in the same run compare the code, not the moment.
    """
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)
