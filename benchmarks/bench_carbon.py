"""Benchmark: 1,000,000 activity rows accounted (qingshan.carbon.accounting.account).

Prints rows per second and the ratio against a naive row-by-row Python baseline measured in the
same run on a subset: for every row it looks the factors up in the library and converts units
with pint, as a straightforward implementation would. Both paths give the same numbers (checked
on the subset before timing is reported).

    PYTHONPATH=src python benchmarks/bench_carbon.py [--rows 1000000] [--baseline-rows 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from qingshan.carbon import units
from qingshan.carbon.accounting import Options, account
from qingshan.carbon.factors import FactorLibrary, load_library

SPECS = [
    ("combustion", "diesel", "t"),
    ("combustion", "gasoline", "kg"),
    ("combustion", "bituminous_coal", "吨"),
    ("combustion", "natural_gas", "GJ"),
    ("combustion", "lpg", "t"),
    ("process", "calcium_carbonate", "t"),
    ("purchased_electricity", "electricity", "万千瓦时"),
    ("purchased_electricity", "electricity", "MWh"),
    ("purchased_heat", "heat", "GJ"),
    ("exported_electricity", "electricity", "kWh"),
]
YEARS = [2021, 2022, 2023]
OPTIONS = Options(gases="co2")


def activity(rows: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(SPECS), rows)
    categories, items, unit_texts = (np.array([spec[i] for spec in SPECS]) for i in range(3))
    return pl.DataFrame(
        {
            "entity": rng.integers(0, 2_000, rows).astype(str),
            "facility": rng.integers(0, 5, rows).astype(str),
            "year": rng.choice(YEARS, rows).astype(np.int32),
            "category": categories[pick],
            "item": items[pick],
            "quantity": rng.uniform(0, 1_000, rows),
            "unit": unit_texts[pick],
        }
    )


def naive(frame: pl.DataFrame, library: FactorLibrary) -> list[float]:
    """Row by row: factor lookups and pint conversions for every row (CO2 only)."""
    results = []
    for row in frame.iter_rows(named=True):
        category, item, unit, year = row["category"], row["item"], row["unit"], row["year"]
        sign = -1.0 if category.startswith("exported") else 1.0
        if category == "combustion":
            if units.is_energy(unit):
                energy = units.conversion(unit, "GJ")
            else:
                ncv = library.find("ipcc2006", item, "ncv", year, None)
                energy = units.coefficient(ncv.value, ncv.unit, unit, "GJ")
            ef = library.find("ipcc2006", item, "co2_ef", year, None)
            per_unit = energy * units.coefficient(ef.value, ef.unit, "GJ", "t")
        else:
            series = {"process": "stoichiometric", "purchased_heat": "cn_guideline"}.get(
                category, "mee_nbs"
            )
            region = "CN" if "electricity" in category else None
            factor = library.find(series, item, "co2", year, region)
            per_unit = units.coefficient(factor.value, factor.unit, unit, "t")
        results.append(sign * row["quantity"] * per_unit)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    arguments = parser.parse_args()
    library = load_library()
    frame = activity(arguments.rows)
    subset = frame.head(arguments.baseline_rows)

    expected = account(subset, library, OPTIONS)["co2_t"].to_list()
    started = time.perf_counter()
    baseline = naive(subset, library)
    baseline_rate = subset.height / (time.perf_counter() - started)
    np.testing.assert_allclose(baseline, expected, rtol=1e-12)

    started = time.perf_counter()
    result = account(frame, library, OPTIONS)
    elapsed = time.perf_counter() - started
    rate = frame.height / elapsed
    print(f"accounted {result.height:,} rows in {elapsed:.2f} s: {rate:,.0f} rows/s")
    print(f"naive row-by-row baseline ({subset.height:,} rows): {baseline_rate:,.0f} rows/s")
    print(f"ratio: {rate / baseline_rate:,.0f}× faster than the baseline")


if __name__ == "__main__":
    main()
