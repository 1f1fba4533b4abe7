"""AQI speed: Qingshan's kernel against python-aqi, measured in the same run.

Run by hand (not part of the test suite)::

    pip install -e '.[bench]' && python benchmarks/bench_aqi.py

1. The same 100,000 random daily readings (six pollutants, one decimal, inside python-aqi's
   ranges: the baseline of ``docs/air.md``) through python-aqi 0.6.1 (``aqi.to_aqi`` with the
   China/MEP algorithm) and through ``qingshan.standards.aqi.aqi_table``; prints readings per
   second of each and the ratio (target: ≥ 200×).
2. The hourly report of all indicators (HJ 633—2012: 7 IAQIs, HJ 633—2026: 6) over 5 million
   station-hours with realistic (log-normal) concentrations; prints station-hours per second
   (target: ≥ 5 million per second on one core).

Everything runs on one core: the numpy kernels are single-threaded and Arrow/polars thread
pools are limited to one thread before they are imported.
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import random

import numpy as np
import pyarrow as pa
from timing import best_of

from qingshan.standards.aqi import aqi_table

pa.set_cpu_count(1)
pa.set_io_thread_count(1)

READINGS = 100_000
STATION_HOURS = 5_000_000
DAILY_RANGES = {  # the baseline's ranges (air.md §6), keys of python-aqi and of Qingshan
    ("pm25", "pm25_24h"): 499,
    ("pm10", "pm10_24h"): 599,
    ("so2_24h", "so2_24h"): 2600,
    ("no2_24h", "no2_24h"): 930,
    ("co_24h", "co_24h"): 59,
    ("o3_8h", "o3_8h_max"): 799,
}


def daily_readings() -> list[list[tuple[str, str]]]:
    random.seed(12345)
    return [
        [(keys[0], f"{random.uniform(0, top):.1f}") for keys, top in DAILY_RANGES.items()]
        for _ in range(READINGS)
    ]


def against_python_aqi() -> None:
    try:
        import aqi as python_aqi
    except ImportError:
        print("python-aqi is not installed: pip install -e '.[bench]'")
        return
    rows = daily_readings()
    baseline = best_of(1, lambda: [python_aqi.to_aqi(r, algo=python_aqi.ALGO_MEP) for r in rows])
    columns = {
        keys[1]: np.array([float(r[i][1]) for r in rows]) for i, keys in enumerate(DAILY_RANGES)
    }
    table = pa.table(columns)
    ours = best_of(5, lambda: aqi_table(table, "daily", "2012"))
    print(f"python-aqi 0.6.1       {READINGS / baseline:>14,.0f} readings/s")
    print(f"qingshan aqi_table     {READINGS / ours:>14,.0f} readings/s")
    print(f"ratio                  {baseline / ours:>14,.0f} ×   (target ≥ 200 ×)")


def hourly_table() -> pa.Table:
    rng = np.random.default_rng(2026)
    log_means = {
        "so2_1h": 2.0,
        "no2_1h": 3.3,
        "co_1h": -0.4,
        "o3_1h": 4.0,
        "o3_8h": 3.9,
        "pm10_1h": 4.1,
        "pm25_1h": 3.5,
        "pm10_24h": 4.1,
        "pm25_24h": 3.5,
        "so2_24h": 2.0,
    }
    return pa.table(
        {
            name: np.round(rng.lognormal(mean, 0.7, STATION_HOURS), 1)
            for name, mean in log_means.items()
        }
    )


def hourly_throughput() -> None:
    table = hourly_table()
    for rules in ("2012", "2026"):
        seconds = best_of(3, lambda rules=rules: aqi_table(table, "hourly", rules))
        rate = STATION_HOURS / seconds
        print(
            f"hourly AQI, rules {rules}  {rate:>14,.0f} station-hours/s   "
            f"({rate / 5e6:.2f} × the 5,000,000/s target)"
        )


if __name__ == "__main__":
    against_python_aqi()
    hourly_throughput()
