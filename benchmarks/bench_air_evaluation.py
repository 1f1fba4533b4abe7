"""Air evaluation speed: the vectorised kernel against a plain-Python loop, in the same run.

Run by hand (not part of the test suite)::

    python benchmarks/bench_air_evaluation.py

1. The same 10 stations × one year of hourly data (87,600 rows, six pollutants) through a
   straightforward per-station-day Python loop that computes only the 24-h means (≥ 20 hours)
   and the MDA8 (17 windows, ≥ 6 hours each, ≥ 14 windows or an exceedance), and through
   ``qingshan.standards.air_evaluation.evaluate``, which also computes the daily AQI, the annual
   statistics, compliance and the composite index. Both agree on the daily values (checked
   before timing). Prints rows per second of each and the ratio.
2. ``evaluate`` over 100 stations × one year (876,000 rows, the issue's real size); prints
   rows per second.

Runs on one core (polars and BLAS thread pools limited before import).
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import polars as pl
from timing import best_of

from qingshan.standards.air_evaluation import DAILY_MEANS, evaluate

SCALES = {"so2_1h": 12, "no2_1h": 30, "co_1h": 0.8, "o3_1h": 70, "pm10_1h": 60, "pm25_1h": 32}


def synthetic(stations: int, seed: int = 1) -> pl.DataFrame:
    """A year (2025) of hourly data per station, gamma-distributed, 2 % missing."""
    rng = np.random.default_rng(seed)
    hours = np.arange("2025-01-01T00", "2026-01-01T00", dtype="datetime64[h]")
    n = len(hours) * stations
    columns: dict[str, object] = {
        "station": np.repeat([f"S{i:03d}" for i in range(stations)], len(hours)),
        "time": np.tile(hours.astype("datetime64[us]"), stations),
    }
    for column, scale in SCALES.items():
        values = rng.gamma(2.0, scale / 2, n).round(1 if column == "co_1h" else 0)
        values[rng.random(n) < 0.02] = np.nan
        columns[column] = values
    return pl.DataFrame(columns).with_columns(pl.col(c).fill_nan(None) for c in SCALES)


def plain_loop(rows: list[dict[str, object]]) -> dict[tuple[str, object], dict[str, float]]:
    """Daily means and MDA8 per station-day with dictionaries and ``math`` only."""
    by_day: dict[tuple[str, object], list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_day[(row["station"], row["time"].date())].append(row)  # type: ignore[union-attr]
    result: dict[tuple[str, object], dict[str, float]] = {}
    for key, day in by_day.items():
        values: dict[str, float] = {}
        for indicator, column in DAILY_MEANS.items():
            present = [r[column] for r in day if r[column] is not None]
            values[indicator] = sum(present) / len(present) if len(present) >= 20 else math.nan
        ozone: list[float | None] = [None] * 24
        for r in day:
            ozone[r["time"].hour] = r["o3_1h"]  # type: ignore[union-attr]
        windows = []
        for start in range(17):
            present = [v for v in ozone[start : start + 8] if v is not None]
            if len(present) >= 6:
                windows.append(sum(present) / len(present))
        best = max(windows) if windows else math.nan
        values["o3_8h_max"] = best if len(windows) >= 14 or round(best) > 160 else math.nan
        result[key] = values
    return result


def check_agreement(frame: pl.DataFrame) -> None:
    """The loop's daily values, rounded, equal the published values of ``evaluate``."""
    loop = plain_loop(frame.to_dicts())
    daily = evaluate(frame).daily
    for indicator in (*DAILY_MEANS, "o3_8h_max"):
        quantum = Decimal("0.1") if indicator == "co_24h" else Decimal(1)
        keys = zip(daily["station"], daily["date"], strict=True)
        expected = [
            math.nan
            if math.isnan(value := loop[key][indicator])
            else float(Decimal(f"{value:.6f}").quantize(quantum, rounding=ROUND_HALF_EVEN))
            for key in keys
        ]
        published = daily[indicator].cast(pl.Float64).to_numpy()
        assert np.array_equal(published, np.array(expected), equal_nan=True), indicator


def main() -> None:
    small = synthetic(10)
    check_agreement(small)
    rows = small.to_dicts()
    loop_seconds = best_of(3, lambda: plain_loop(rows))
    kernel_seconds = best_of(3, lambda: evaluate(small))
    loop_rate = small.height / loop_seconds
    kernel_rate = small.height / kernel_seconds
    print(f"plain Python loop (daily means + MDA8 only): {loop_rate:12,.0f} rows/s")
    print(f"qingshan evaluate (daily, AQI, annual):      {kernel_rate:12,.0f} rows/s")
    print(f"ratio: {kernel_rate / loop_rate:.1f}×")

    full = synthetic(100)
    seconds = best_of(2, lambda: evaluate(full))
    print(
        f"evaluate, 100 stations × 8,760 h ({full.height:,} rows): {seconds:.2f} s, "
        f"{full.height / seconds:,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
