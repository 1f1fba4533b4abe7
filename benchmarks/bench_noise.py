"""Noise speed: the vectorised daily evaluation against a plain-Python loop, in the same run.

Run by hand (not part of the test suite)::

    python benchmarks/bench_noise.py

1. The same 10 points × one year of hourly Leq/Lmax (87,600 hours) through a straightforward
   per-hour Python loop (dictionaries keyed by point and date, ``math`` energy sums) and through
   ``qingshan.standards.noise.daily_noise``; prints hours per second of each and the ratio.
   Both give the same Ld and Ln (checked before timing).
2. ``daily_noise`` over 50 points × one year (438,000 hours, the size of the issue's acceptance
   run); prints hours per second.

Runs on one core (polars and BLAS thread pools limited before import).
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
from collections import defaultdict
from datetime import timedelta

import numpy as np
from timing import best_of

from qingshan.standards.noise import daily_noise

HOUR = np.timedelta64(1, "h")


def year_of_hours(points: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2025)
    times = np.arange(np.datetime64("2025-01-01T00"), np.datetime64("2026-01-01T00"))
    leq = np.round(rng.normal(55.0, 6.0, points * times.size), 1)
    return {
        "point": np.repeat(np.array([f"P{i:03d}" for i in range(points)]), times.size),
        "zone": np.repeat(
            np.array(["0", "1", "2", "3", "4a", "4b"])[np.arange(points) % 6], times.size
        ),
        "time": np.tile(times, points),
        "leq": leq,
        "lmax": leq + np.round(rng.uniform(2.0, 20.0, leq.size), 1),
    }


def loop_baseline(data: dict[str, np.ndarray]) -> dict[tuple[str, str, bool], float]:
    """Ld/Ln the way a first script would: one Python iteration per hour."""
    sums: dict[tuple[str, str, bool], float] = defaultdict(float)
    counts: dict[tuple[str, str, bool], int] = defaultdict(int)
    for point, stamp, level in zip(
        data["point"].tolist(), data["time"].tolist(), data["leq"].tolist(), strict=True
    ):
        night = stamp.hour >= 22 or stamp.hour < 6
        date = stamp.date() if stamp.hour >= 6 else stamp.date() - timedelta(days=1)
        key = (point, date.isoformat(), night)
        sums[key] += 10.0 ** (0.1 * level)
        counts[key] += 1
    return {key: 10.0 * math.log10(total / counts[key]) for key, total in sums.items()}


def vectorised(data: dict[str, np.ndarray]) -> object:
    return daily_noise(data["point"], data["zone"], data["time"], data["leq"], data["lmax"])


def check_same(data: dict[str, np.ndarray]) -> None:
    baseline = loop_baseline(data)
    result = daily_noise(data["point"], data["zone"], data["time"], data["leq"], data["lmax"])
    for point, date, ld, ln in zip(result.point, result.date, result.ld, result.ln, strict=True):
        for night, level in ((False, ld), (True, ln)):
            expected = baseline.get((str(point), str(date), night))
            if expected is None:
                assert math.isnan(level)
            else:
                assert abs(level - expected) <= 0.05 + 1e-9, (point, date, night)


def against_loop() -> None:
    data = year_of_hours(10)
    check_same(data)
    hours = data["leq"].size
    baseline = best_of(1, lambda: loop_baseline(data))
    ours = best_of(3, lambda: vectorised(data))
    print(f"python loop            {hours / baseline:>14,.0f} hours/s")
    print(f"qingshan daily_noise   {hours / ours:>14,.0f} hours/s")
    print(f"ratio                  {baseline / ours:>14,.1f} ×")


def acceptance_size() -> None:
    data = year_of_hours(50)
    seconds = best_of(3, lambda: vectorised(data))
    print(f"50 points × 1 year     {data['leq'].size / seconds:>14,.0f} hours/s ({seconds:.2f} s)")


if __name__ == "__main__":
    against_loop()
    acceptance_size()
