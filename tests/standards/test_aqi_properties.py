"""Invariants of the AQI kernel, checked on random inputs (hypothesis).

The reference is a straightforward scalar version of HJ 633 formula (1) in exact rational
arithmetic (``fractions.Fraction`` on the decimal text of the concentration), with the GB/T 8170
input rounding of HJ 633—2026 §4.2.2 done by ``decimal`` (ROUND_HALF_EVEN).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.standards import reference
from qingshan.standards.aqi import aqi_table, iaqi

SPEC = reference.load("hj633")["editions"]
INDICATORS = [
    (edition, indicator)
    for edition in ("2012", "2026")
    for indicator in SPEC[edition]["breakpoints"]
]


def reference_iaqi(indicator: str, text: str, edition: str) -> float:
    """Formula (1) on exact rationals, ceiling per HJ 633—2012 §6.2 / 2026 §4.2.6."""
    table = SPEC[edition]["breakpoints"][indicator]
    concentration = Decimal(text)
    if edition == "2026":
        step = Decimal("0.1") if indicator.startswith("co") else Decimal("1")
        concentration = concentration.quantize(step, rounding=ROUND_HALF_EVEN)
    c = Fraction(concentration)
    if c > table[-1]:
        return 500.0 if len(table) == 8 else math.nan  # truncated columns: see test_aqi.py
    for low, high, i_low, i_high in zip(
        table, table[1:], SPEC[edition]["iaqi"], SPEC[edition]["iaqi"][1:], strict=False
    ):
        if low <= c <= high:
            return float(math.ceil(Fraction(i_high - i_low, high - low) * (c - low) + i_low))
    raise AssertionError("unreachable")


def decimals(maximum: float, places: int = 6):
    return st.decimals(min_value=0, max_value=maximum, places=places, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(INDICATORS), st.data())
def test_vectorised_kernel_equals_exact_scalar_reference(edition_indicator, data):
    edition, indicator = edition_indicator
    top = SPEC[edition]["breakpoints"][indicator][-1]
    texts = [str(d) for d in data.draw(st.lists(decimals(top * 1.2), min_size=1, max_size=50))]
    if len(SPEC[edition]["breakpoints"][indicator]) < 8:  # truncated: stay at or below 800
        texts = [t for t in texts if Decimal(t) <= top] or ["0"]
    got = iaqi(indicator, np.array([float(t) for t in texts]), edition)
    expected = [reference_iaqi(indicator, t, edition) for t in texts]
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(INDICATORS), st.data())
def test_iaqi_is_monotone_in_the_concentration(edition_indicator, data):
    edition, indicator = edition_indicator
    top = SPEC[edition]["breakpoints"][indicator][-1]
    values = data.draw(st.lists(decimals(top, places=3), min_size=2, max_size=40))
    ordered = np.sort(np.array([float(v) for v in values]))
    result = iaqi(indicator, ordered, edition)
    assert np.all(np.diff(result) >= 0)


POLLUTANT_OF = {
    "so2_1h": "SO2",
    "no2_1h": "NO2",
    "co_1h": "CO",
    "o3_1h": "O3",
    "pm10_1h": "PM10",
    "pm25_1h": "PM2.5",
}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            decimals(900, 1),
            decimals(900, 1),
            decimals(40, 1),
            decimals(900, 0),
            decimals(700, 0),
            decimals(600, 0),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_aqi_is_the_largest_iaqi_and_primaries_reach_it(rows):
    frame = pl.DataFrame(
        [[float(v) for v in row] for row in rows], schema=list(POLLUTANT_OF), orient="row"
    )
    result = aqi_table(frame, "hourly", "2026")
    iaqis = result.select([f"iaqi_{c}" for c in POLLUTANT_OF]).to_numpy()
    np.testing.assert_array_equal(result["aqi"].to_numpy(), iaqis.max(axis=1))
    for row, primaries in zip(
        result.iter_rows(named=True), result["primary_pollutants"].cast(pl.String), strict=True
    ):
        at_max = {POLLUTANT_OF[c] for c in POLLUTANT_OF if row[f"iaqi_{c}"] == row["aqi"]}
        assert set((primaries or "").split(";")) - {""} == (at_max if row["aqi"] > 50 else set())
