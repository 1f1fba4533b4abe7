"""Air evaluation per HJ 663 with the limits of GB 3095—2012 / GB 3095—2026.

Expected values come from the standards' tables and the worked examples collected in
shared/reference/air.md (section numbers cited per test); hypothesis checks the invariants.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qingshan.standards import air_evaluation as ev
from qingshan.standards import reference

NAN = np.nan


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def day_hours(values: dict[int, float]) -> np.ndarray:
    """One day as a (1, 24) array: the given hours, NaN elsewhere."""
    hours = np.full((1, 24), NAN)
    for hour, value in values.items():
        hours[0, hour] = value
    return hours


def hourly(
    days: list[date],
    station: str = "S1",
    hours: range = range(24),
    **constant: float,
) -> pl.DataFrame:
    """Hourly rows for ``days`` × ``hours`` with a constant value per given column."""
    times = [datetime(d.year, d.month, d.day, h) for d in days for h in hours]
    data: dict[str, object] = {"station": [station] * len(times), "time": times}
    for column, value in constant.items():
        data[column] = [float(value)] * len(times)
    return pl.DataFrame(data).with_columns(pl.col("time").cast(pl.Datetime("us")))


def year_days(year: int, without: set[date] = frozenset()) -> list[date]:
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range(366)]
    return [d for d in days if d.year == year and d not in without]


def clean_day(**overrides: float) -> dict[str, float]:
    """All six hourly columns at low concentrations (every IAQI ≤ 50), with overrides."""
    values = {
        "so2_1h": 10,
        "no2_1h": 20,
        "co_1h": 0.5,
        "o3_1h": 60,
        "pm10_1h": 40,
        "pm25_1h": 20,
    }
    values.update(overrides)
    return values


def half_even(value: Fraction, decimals: int) -> float:
    quantum = Decimal(1).scaleb(-decimals)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(quantum, rounding=ROUND_HALF_EVEN))


# --------------------------------------------------------------------------------------------
# Reference data: GB 3095 limits
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "limit_set", "area_class", "expected"),
    [
        # GB 3095—2012 Table 1 (air.md §3.1)
        ("so2_24h", "2012", "I", 50),
        ("pm25_annual", "2012", "II", 35),
        ("pm10_annual", "2012", "II", 70),
        ("o3_8h", "2012", "I", 100),
        # GB 3095—2026 Table 1, transitional limits (air.md §3.2)
        ("pm25_24h", "2026-transitional", "II", 60),
        ("pm10_annual", "2026-transitional", "II", 60),
        ("pm25_annual", "2026-transitional", "II", 30),
        # GB 3095—2026 Table 1, final limits from 2031 (§4.4)
        ("so2_annual", "2026-final", "II", 20),
        ("no2_24h", "2026-final", "II", 50),
        ("pm10_24h", "2026-final", "II", 100),
        ("pm25_24h", "2026-final", "II", 50),
        ("pm25_annual", "2026-final", "I", 10),
        # Table 2 items
        ("nox_annual", "2026-transitional", "II", 50),
        ("nox_annual", "2026-final", "II", 40),
        ("bap_24h", "2012", "II", 0.0025),
    ],
)
def test_limits_from_gb3095_tables(key, limit_set, area_class, expected):
    assert ev.limit(key, limit_set, area_class) == expected


@pytest.mark.parametrize(
    ("limit_set", "edition", "pairs"),
    [
        (
            "2012",
            "2012",
            {
                "so2_24h": "so2_24h",
                "no2_24h": "no2_24h",
                "co_24h": "co_24h",
                "pm10_24h": "pm10_24h",
                "pm25_24h": "pm25_24h",
                "o3_8h": "o3_8h",
                "o3_1h": "o3_1h",
            },
        ),
        ("2026-transitional", "2026", {"pm10_24h": "pm10_24h", "pm25_24h": "pm25_24h"}),
    ],
)
def test_class_two_limits_are_the_iaqi_100_breakpoints(limit_set, edition, pairs):
    """HJ 633—2012 Table 1: IAQI 100 = GB 3095—2012 Class II; HJ 633—2026 Table 3's PM rows
    equal the GB 3095—2026 transitional Class II daily limits (air.md §1.1, §3.2 note)."""
    breakpoints = reference.load("hj633")["editions"][edition]["breakpoints"]
    for limit_key, column in pairs.items():
        assert ev.limit(limit_key, limit_set, "II") == breakpoints[column][2]


def test_validity_minimums_of_gb3095_table_4():
    assert ev.validity_rule("hourly_values_per_day") == 20
    assert ev.validity_rule("hourly_values_per_8h") == 6
    assert ev.validity_rule("daily_values_per_year") == 324
    assert ev.validity_rule("daily_values_per_month") == 27
    assert ev.validity_rule("daily_values_per_february") == 25


# --------------------------------------------------------------------------------------------
# Edition and phase in force
# --------------------------------------------------------------------------------------------


def test_limit_set_switches_on_2026_03_01_and_2031_01_01():
    """GB 3095—2026 in force 2026-03-01; its final limits from 2031-01-01 (§4.4)."""
    dates = np.array(
        ["2016-01-01", "2026-02-28", "2026-03-01", "2030-12-31", "2031-01-01", "2040-06-01"],
        dtype="datetime64[D]",
    )
    chosen = [ev.LIMIT_SETS[i] for i in ev.limit_set_for(dates)]
    assert chosen == [
        "2012",
        "2012",
        "2026-transitional",
        "2026-transitional",
        "2026-final",
        "2026-final",
    ]


def test_limit_set_can_be_fixed():
    dates = np.array(["2020-01-01", "2035-01-01"], dtype="datetime64[D]")
    assert ev.limit_set_for(dates, "2026-final").tolist() == [2, 2]
    with pytest.raises(ValueError, match="limits must be"):
        ev.limit_set_for(dates, "2018")  # type: ignore[arg-type]


def test_daily_limits_and_aqi_switch_editions_at_2026_03_01():
    """PM2.5 24-h mean 70: under 2012 below the Class II limit 75 and IAQI
    ceil(50 + 35·50/40) = 94 (HJ 633—2012 Table 1); from 2026-03-01 above the transitional
    limit 60 and IAQI ceil(100 + 10·50/55) = 110 (HJ 633—2026 Table 3)."""
    frame = hourly([date(2026, 2, 28), date(2026, 3, 1)], **clean_day(pm25_1h=70))
    daily = ev.evaluate(frame).daily
    assert daily["limit_set"].to_list() == ["2012", "2026-transitional"]
    assert daily["limits"].to_list() == [
        "GB 3095—2012, Class II",
        "GB 3095—2026 transitional, Class II",
    ]
    assert daily["pm25_24h_limit"].to_list() == [75, 60]
    assert daily["pm25_24h_exceeds"].to_list() == [False, True]
    assert daily["aqi_rules"].to_list() == ["2012", "2026"]
    assert daily["iaqi_pm25_24h"].to_list() == [94, 110]
    assert daily["good_day"].to_list() == [True, False]


def test_daily_limits_switch_phase_at_2031():
    """PM2.5 55: within the transitional Class II limit 60, above the final limit 50."""
    frame = hourly([date(2030, 12, 31), date(2031, 1, 1)], **clean_day(pm25_1h=55))
    daily = ev.evaluate(frame).daily
    assert daily["limit_set"].to_list() == ["2026-transitional", "2026-final"]
    assert daily["pm25_24h_limit"].to_list() == [60, 50]
    assert daily["pm25_24h_exceeds"].to_list() == [False, True]


def test_class_one_station_uses_class_one_limits():
    """GB 3095—2012 Table 1: PM2.5 24-h Class I 35, Class II 75."""
    frame = pl.concat(
        [
            hourly([date(2025, 5, 1)], "A", **clean_day(pm25_1h=40)).with_columns(
                pl.lit("I").alias("class")
            ),
            hourly([date(2025, 5, 1)], "B", **clean_day(pm25_1h=40)).with_columns(
                pl.lit(None, pl.String).alias("class")
            ),
        ]
    )
    daily = ev.evaluate(frame).daily
    assert daily["class"].to_list() == ["I", "II"]
    assert daily["pm25_24h_limit"].to_list() == [35, 75]
    assert daily["pm25_24h_exceeds"].to_list() == [True, False]
    assert ev.evaluate(frame, default_class="I").daily["pm25_24h_limit"].to_list() == [35, 35]


def test_a_station_with_two_classes_is_rejected():
    frame = hourly([date(2025, 5, 1)], **clean_day()).with_columns(
        pl.Series("class", ["I"] * 12 + ["II"] * 12)
    )
    with pytest.raises(ValueError, match="more than one class"):
        ev.evaluate(frame)


# --------------------------------------------------------------------------------------------
# Daily validity: 24-h means, 8-h means, MDA8
# --------------------------------------------------------------------------------------------


def test_daily_mean_needs_20_hourly_values():
    """GB 3095 Table 4: a 24-h mean needs at least 20 hourly values."""
    nineteen = day_hours({h: 10.0 for h in range(19)})
    twenty = day_hours({h: 10.0 for h in range(19)} | {23: 30.0})
    mean, count = ev.daily_mean(np.vstack([nineteen, twenty]))
    assert count.tolist() == [19, 20]
    assert np.isnan(mean[0])
    assert mean[1] == pytest.approx((19 * 10 + 30) / 20)


def test_eight_hour_mean_needs_6_of_8_hourly_values():
    """GB 3095—2026 Table 4: each 8-h average needs at least 6 hourly values."""
    five = day_hours({0: 10.0, 1: 20.0, 2: 30.0, 3: 40.0, 4: 50.0})
    six = day_hours({0: 10.0, 1: 20.0, 2: 30.0, 3: 40.0, 4: 50.0, 7: 60.0})
    windows = ev.eight_hour_means(np.vstack([five, six]))
    assert windows.shape == (2, 17)
    assert np.isnan(windows[0, 0])
    assert windows[1, 0] == pytest.approx(35.0)  # (10+20+30+40+50+60) / 6
    assert np.isnan(windows[1, 1])  # hours 1–8 hold only 5 values


def test_eight_hour_windows_start_at_00_to_16_of_the_day():
    """The 17 windows labelled 08:00 … 24:00 by their end hour (air.md §9.1)."""
    hours = day_hours({h: float(h) for h in range(24)})
    windows = ev.eight_hour_means(hours)[0]
    assert windows[0] == pytest.approx(np.mean(range(0, 8)))
    assert windows[-1] == pytest.approx(np.mean(range(16, 24)))


def mda8_day(valid_hours: int, value: float) -> np.ndarray:
    """Hours 0 … valid_hours−1 at ``value``: valid 8-h windows = valid_hours − 5 (≤ 17)."""
    return day_hours({h: value for h in range(valid_hours)})


@pytest.mark.parametrize(
    ("valid_hours", "value", "windows", "valid"),
    [
        (19, 100.0, 14, True),  # 14 windows: valid
        (18, 100.0, 13, False),  # 13 windows, no exceedance: not valid
        (18, 170.0, 13, True),  # 13 windows, above the Class II limit 160: valid
        (18, 160.0, 13, False),  # equal to the limit is not an exceedance
    ],
)
def test_mda8_needs_14_windows_unless_it_exceeds_the_limit(valid_hours, value, windows, valid):
    """HJ 663 §6.1.2 (as cited, air.md §9.1): ≥ 14 valid 8-h values of 17, or an exceedance."""
    mda8, counted = ev.daily_max_8h(mda8_day(valid_hours, value), [160.0])
    assert counted.tolist() == [windows]
    assert (not np.isnan(mda8[0])) is valid
    if valid:
        assert mda8[0] == pytest.approx(value)


def test_mda8_exception_compares_the_rounded_or_the_full_value():
    """160.4 publishes as 160 (GB/T 8170), which does not exceed 160; unrounded it does."""
    day = mda8_day(18, 160.4)
    assert np.isnan(ev.daily_max_8h(day, [160.0], "rounded")[0][0])
    assert ev.daily_max_8h(day, [160.0], "full")[0][0] == pytest.approx(160.4)


def test_mda8_windows_do_not_cross_days():
    """A high evening on day 1 does not enter day 2's windows (air.md §9.1)."""
    evening = {h: 60.0 for h in range(24)} | {h: 300.0 for h in range(17, 24)}
    morning = {h: 60.0 for h in range(24)}
    mda8, _ = ev.daily_max_8h(np.vstack([day_hours(evening), day_hours(morning)]), [160, 160])
    assert mda8[1] == pytest.approx(60.0)
    assert mda8[0] == pytest.approx((60 + 7 * 300) / 8)  # window 16:00–23:00


def test_o3_daily_max_1h_needs_20_hourly_values():
    maximum, count = ev.daily_max_1h(
        np.vstack(
            [
                day_hours({h: float(h) for h in range(19)}),
                day_hours({h: float(h) for h in range(20)}),
            ]
        )
    )
    assert count.tolist() == [19, 20]
    assert np.isnan(maximum[0]) and maximum[1] == 19.0


def test_daily_values_through_evaluate():
    """19 PM2.5 hours → no 24-h mean; 35.5 publishes as 36 (GB/T 8170, half to even)."""
    frame = pl.concat(
        [
            hourly([date(2025, 7, 1)], hours=range(19), pm25_1h=35.5),
            hourly([date(2025, 7, 2)], hours=range(20), pm25_1h=35.5),
        ]
    )
    daily = ev.evaluate(frame).daily
    assert daily["pm25_24h_hours"].to_list() == [19, 20]
    assert daily["pm25_24h"].to_list() == [None, 36]
    assert daily["hours_expected"].to_list() == [24, 24]
    assert daily["o3_8h_windows_expected"].to_list() == [17, 17]


def test_days_without_rows_are_listed_with_zero_coverage():
    frame = hourly([date(2025, 7, 1), date(2025, 7, 4)], **clean_day())
    daily = ev.evaluate(frame).daily
    assert daily["date"].to_list() == [date(2025, 7, d) for d in range(1, 5)]
    assert daily["so2_24h_hours"].to_list() == [24, 0, 0, 24]
    assert daily["aqi_valid_day"].to_list() == [True, False, False, True]


# --------------------------------------------------------------------------------------------
# Percentiles (HJ 663 Appendix A)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([3, 4, 8, 2, 5, 4], 90, 6.5),  # air.md §2.2, the S3 worked example: k = 5.5
        (range(1, 366), 95, 346.8),
        (range(1, 366), 90, 328.6),
        (range(1, 366), 98, 357.72),
        (range(1, 325), 90, 291.7),  # air.md §9.3
        ([42], 95, 42.0),
    ],
)
def test_percentile_vectors(values, p, expected):
    assert ev.percentile(list(values), p) == pytest.approx(expected, abs=1e-9)


@given(
    groups=hnp.arrays(np.int64, st.integers(1, 60), elements=st.integers(0, 4)),
    p=st.integers(0, 100),
    data=st.data(),
)
def test_grouped_percentile_equals_k_formula_per_group(groups, p, data):
    """k = 1 + (n − 1)·p/100 per group, i.e. numpy's linear method, NaN ignored."""
    values = data.draw(
        hnp.arrays(
            np.float64,
            groups.size,
            elements=st.one_of(st.just(NAN), st.integers(0, 500).map(float)),
        )
    )
    result = ev.grouped_percentile(groups, values, p, 5)
    for g in range(5):
        members = values[(groups == g) & ~np.isnan(values)]
        if members.size:
            assert result[g] == pytest.approx(np.percentile(members, p, method="linear"))
            assert members.min() <= result[g] <= members.max()
        else:
            assert np.isnan(result[g])


def test_annual_percentiles_end_to_end():
    """Day i of 2025 (i = 1 … 365) at concentration i all day: the daily values are 1 … 365,
    so SO2/NO2 P98 = 357.72 → 358, PM P95 = 346.8 → 347, O3 MDA8 P90 = 328.6 → 329 and the
    means 183 (air.md §2.2 vectors); CO at i/10 mg/m³: P95 = 34.68 → 34.7 (one decimal)."""
    days = year_days(2025)
    frames = [
        hourly([d], so2_1h=i, no2_1h=i, pm10_1h=i, pm25_1h=i, o3_1h=i, co_1h=i / 10)
        for i, d in enumerate(days, start=1)
    ]
    annual = ev.evaluate(pl.concat(frames)).annual.row(0, named=True)
    assert annual["so2_24h_p98"] == annual["no2_24h_p98"] == 358
    assert annual["pm10_24h_p95"] == annual["pm25_24h_p95"] == 347
    assert annual["o3_8h_max_p90"] == 329
    assert annual["co_24h_p95"] == 34.7
    assert annual["so2_annual_mean"] == annual["pm25_annual_mean"] == 183
    assert annual["o3_8h_max_days_valid"] == 365


def test_annual_statistics_table_matches_hj663():
    """SO2, NO2: annual mean and 24-h P98; PM10, PM2.5: annual mean and 24-h P95; CO 24-h P95;
    O3 MDA8 P90 (air.md §2.3), each compared with its GB 3095 limit."""
    table = {
        spec["name"]: (spec["daily"], spec.get("p"), spec["limit"])
        for spec in reference.load("hj663")["annual_statistics"]
    }
    assert table == {
        "so2_annual_mean": ("so2_24h", None, "so2_annual"),
        "so2_24h_p98": ("so2_24h", 98, "so2_24h"),
        "no2_annual_mean": ("no2_24h", None, "no2_annual"),
        "no2_24h_p98": ("no2_24h", 98, "no2_24h"),
        "pm10_annual_mean": ("pm10_24h", None, "pm10_annual"),
        "pm10_24h_p95": ("pm10_24h", 95, "pm10_24h"),
        "pm25_annual_mean": ("pm25_24h", None, "pm25_annual"),
        "pm25_24h_p95": ("pm25_24h", 95, "pm25_24h"),
        "co_24h_p95": ("co_24h", 95, "co_24h"),
        "o3_8h_max_p90": ("o3_8h_max", 90, "o3_8h"),
    }


# --------------------------------------------------------------------------------------------
# Annual validity: 324 days, 27 a month, 25 in February
# --------------------------------------------------------------------------------------------


def months(**counts: int) -> np.ndarray:
    """Valid days per month: 27 everywhere (Feb 26) unless given, e.g. months(jan=26)."""
    names = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    base = {name: 27 for name in names} | {"feb": 26}
    base.update(counts)
    return np.array([base[name] for name in names])


@pytest.mark.parametrize(
    ("per_month", "valid"),
    [
        (months(), False),  # 323 days, every month above its minimum
        (months(dec=28), True),  # 324 days
        (months(jan=26, dec=31), False),  # 327 days, January 26
        (months(jan=27, dec=31), True),
        (months(feb=24, dec=31), False),  # 328 days, February 24
        (months(feb=25, dec=31), True),
    ],
)
def test_annual_validity_edges(per_month, valid):
    """GB 3095 Table 4: ≥ 324 daily values a year and ≥ 27 a month (25 in February)."""
    assert ev.annual_valid(per_month.sum(), per_month).tolist() is valid


def test_annual_validity_through_evaluate():
    """February with 24 vs 25 valid days, and 323 vs 324 days in a year, end to end."""
    feb_missing = {date(2025, 2, d) for d in range(1, 5)}
    short_feb = ev.evaluate(hourly(year_days(2025, feb_missing), pm25_1h=20)).annual
    assert short_feb["pm25_24h_days_valid"].item() == 361
    assert short_feb["pm25_24h_months_short"].item() == "2"
    assert short_feb["pm25_24h_annual_valid"].item() is False
    assert short_feb["pm25_annual_mean"].item() == 20  # computed, but not used for compliance
    assert short_feb["pm25_annual_mean_exceeds"].item() is None
    assert short_feb["pm25_compliant"].item() is None

    enough_feb = ev.evaluate(
        hourly(year_days(2025, feb_missing - {date(2025, 2, 4)}), pm25_1h=20)
    ).annual
    assert enough_feb["pm25_24h_annual_valid"].item() is True
    assert enough_feb["pm25_compliant"].item() is True

    # Remove 4 days from each 31-day month and 3 from the others (February too): 322 left,
    # every month at its minimum or above; then give two days back.
    removed = set()
    for month in range(1, 13):
        first = date(2025, month, 1)
        length = (
            (first.replace(month=month % 12 + 1) if month < 12 else date(2026, 1, 1)) - first
        ).days
        removed |= {first + timedelta(days=i) for i in range(4 if length == 31 else 3)}
    assert len(removed) == 43
    give_back = sorted(removed)[:1]
    year = ev.evaluate(hourly(year_days(2025, removed - set(give_back)), pm25_1h=20)).annual
    assert year["pm25_24h_days_valid"].item() == 323
    assert year["pm25_24h_months_short"].item() is None
    assert year["pm25_24h_annual_valid"].item() is False
    give_back = sorted(removed)[:2]
    year = ev.evaluate(hourly(year_days(2025, removed - set(give_back)), pm25_1h=20)).annual
    assert year["pm25_24h_days_valid"].item() == 324
    assert year["pm25_24h_annual_valid"].item() is True
    assert year["days_expected"].item() == 365


# --------------------------------------------------------------------------------------------
# Good days
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("good", "valid", "expected"),
    [
        (27, 29, 93.1),  # wuyuan.gov.cn bulletin (air.md §2.4, S4)
        (86, 91, 94.5),  # air.md §9.6, R10
        (28, 28, 100.0),  # 河源 Feb 2022 (S4)
        (0, 0, NAN),
    ],
)
def test_good_day_ratio_examples(good, valid, expected):
    ratio = ev.good_day_ratio([good], [valid])[0]
    assert (np.isnan(ratio) and np.isnan(expected)) or ratio == expected


@given(valid=st.integers(1, 400), data=st.data())
def test_good_day_ratio_is_a_rounded_percentage(valid, data):
    good = data.draw(st.integers(0, valid))
    ratio = ev.good_day_ratio([good], [valid])[0]
    assert ratio == half_even(Fraction(100 * good, valid), 1)
    assert 0 <= ratio <= 100


def test_good_days_over_valid_days_end_to_end():
    """30 days: 27 clean, 2 with PM2.5 120 (AQI > 100), 1 with 10 hours only (no AQI):
    27 good of 29 valid days = 93.1 %."""
    days = [date(2025, 6, d) for d in range(1, 31)]
    clean = hourly(days[:27], **clean_day())
    polluted = hourly(days[27:29], **clean_day(pm25_1h=120))
    short = hourly(days[29:], hours=range(10), **clean_day())
    result = ev.evaluate(pl.concat([clean, polluted, short]))
    assert result.daily["good_day"].sum() == 27
    assert result.daily["aqi_valid_day"].to_list()[27:] == [True, True, False]
    annual = result.annual
    assert (annual["aqi_valid_days"].item(), annual["good_days"].item()) == (29, 27)
    assert annual["good_day_ratio"].item() == 93.1


def test_a_polluted_day_with_a_missing_pollutant_is_valid():
    """HJ 633—2026 §5.3.1 (applied to both editions): AQI > 100 from the pollutants present
    is published; AQI ≤ 100 with a pollutant missing is NA (no valid day)."""
    without_so2 = {k: v for k, v in clean_day().items() if k != "so2_1h"}
    frame = pl.concat(
        [
            hourly([date(2025, 6, 1)], **(without_so2 | {"pm25_1h": 120})),
            hourly([date(2025, 6, 2)], **without_so2),
        ]
    )
    for rules in ("2012", "2026"):
        daily = ev.evaluate(frame, rules=rules).daily
        assert daily["missing_pollutants"].to_list() == ["SO2", "SO2"]
        assert daily["aqi_valid_day"].to_list() == [True, False]
        assert daily["good_day"].to_list() == [False, False]


# --------------------------------------------------------------------------------------------
# Composite index
# --------------------------------------------------------------------------------------------

STATISTICS = {
    "so2_annual_mean": [10.0],
    "no2_annual_mean": [30.0],
    "pm10_annual_mean": [60.0],
    "pm25_annual_mean": [35.0],
    "co_24h_p95": [1.0],
    "o3_8h_max_p90": [127.0],
}


@pytest.mark.parametrize(
    ("limit_set", "weights", "limits", "factors"),
    [
        # Class II: annual SO2 60, NO2 40, PM10 70, PM2.5 35; CO 24-h 4; O3 8-h 160 (2012)
        ("2012", None, (60, 40, 70, 35, 4, 160), (1, 1, 1, 1, 1, 1)),
        # GB 3095—2026 transitional Class II: PM10 60, PM2.5 30
        ("2026-transitional", None, (60, 40, 60, 30, 4, 160), (1, 1, 1, 1, 1, 1)),
        # weighted variant as configuration: PM2.5 3, NO2 2, O3 2 (air.md §9.4)
        ("2012", {"PM2.5": 3, "NO2": 2, "O3": 2}, (60, 40, 70, 35, 4, 160), (1, 2, 1, 3, 1, 2)),
    ],
)
def test_composite_index_by_hand(limit_set, weights, limits, factors):
    """I_sum = Σ w_i·C_i/S_i (环办〔2014〕64号; air.md §2.5), rounded to 0.01 (GB/T 8170)."""
    concentrations = (10, 30, 60, 35, Fraction(1), 127)
    exact = sum(
        Fraction(w) * Fraction(c) / s
        for w, c, s in zip(factors, concentrations, limits, strict=True)
    )
    index = ev.composite_index(
        STATISTICS, np.array([ev.LIMIT_SETS.index(limit_set)], np.int8), weights
    )
    assert index.value[0] == half_even(exact, 2)
    largest = max(Fraction(c) / s for c, s in zip(concentrations, limits, strict=True))
    assert index.single["PM2.5"][0] == pytest.approx(float(largest))
    assert index.primary[0] == "PM2.5"


def test_composite_index_values_for_2012_and_2026():
    """10/60 + 30/40 + 60/70 + 35/35 + 1/4 + 127/160 = 3.8176 → 3.82; with the 2026
    transitional limits (PM10 60, PM2.5 30): 4.1271 → 4.13."""
    limit_sets = np.array([0, 1], np.int8)
    statistics = {name: values * 2 for name, values in STATISTICS.items()}
    assert ev.composite_index(statistics, limit_sets).value.tolist() == [3.82, 4.13]


def test_composite_index_ties_and_missing_terms():
    statistics = STATISTICS | {"pm10_annual_mean": [70.0]}
    assert ev.composite_index(statistics, np.array([0], np.int8)).primary[0] == "PM10;PM2.5"
    missing = STATISTICS | {"co_24h_p95": [NAN]}
    index = ev.composite_index(missing, np.array([0], np.int8))
    assert np.isnan(index.value[0]) and index.primary[0] is None
    with pytest.raises(ValueError, match="unknown pollutant"):
        ev.composite_index(STATISTICS, np.array([0], np.int8), {"PM1": 2})


# --------------------------------------------------------------------------------------------
# Rounding and compliance
# --------------------------------------------------------------------------------------------


def test_published_values_round_half_even():
    """GB/T 8170 §3.3: 35.5 → 36, 36.5 → 36, 36.51 → 37; CO 1.25 → 1.2, 1.35 → 1.4."""
    assert ev.publish("pm25_24h", [35.5, 36.5, 36.51]).tolist() == [36, 36, 37]
    assert ev.publish("co_24h", [1.25, 1.35]).tolist() == [1.2, 1.4]


def test_compliance_compares_the_published_value_by_default():
    values = [34.5, 35.4, 35.5, 35.0]
    assert ev.exceeds("pm25_24h", values, [35] * 4).tolist() == [False, False, True, False]
    assert ev.exceeds("pm25_24h", values, [35] * 4, "full").tolist() == [False, True, True, False]
    assert ev.exceeds("co_24h", [4.04, 4.05, 4.06], [4] * 3).tolist() == [False, False, True]


def test_annual_compliance_uses_mean_and_percentile_against_the_year_end_limits():
    """2026 is judged against GB 3095—2026 transitional (in force on 31 December): PM2.5 at
    32 every day meets the 24-h limit 60 but not the annual limit 30."""
    annual = ev.evaluate(hourly(year_days(2026), pm25_1h=32)).annual
    assert annual["limit_set"].item() == "2026-transitional"
    assert annual["pm25_annual_mean_limit"].item() == 30
    assert annual["pm25_24h_p95_limit"].item() == 60
    assert annual["pm25_annual_mean_exceeds"].item() is True
    assert annual["pm25_24h_p95_exceeds"].item() is False
    assert annual["pm25_compliant"].item() is False
    assert annual["aqi_rules"].item() == "2012;2026"  # HJ 633—2026 from 1 March
    fixed = ev.evaluate(hourly(year_days(2026), pm25_1h=32), limits="2012").annual
    assert fixed["pm25_compliant"].item() is True


def test_annual_rows_name_the_hj633_editions_of_their_days():
    frame = hourly([date(2026, 2, 28), date(2026, 3, 1)], **clean_day())
    assert ev.evaluate(frame).annual["aqi_rules"].item() == "2012;2026"


# --------------------------------------------------------------------------------------------
# Input checks and properties
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.with_columns(pl.col("time") + pl.duration(minutes=30)), "start of an hour"),
        (lambda f: pl.concat([f, f.head(1)]), "two rows for the same hour"),
        (lambda f: f.with_columns(pl.lit(-1.0).alias("so2_1h")), "must not be negative"),
        (lambda f: f.drop("station"), "'station' column"),
        (lambda f: f.head(0), "no rows"),
    ],
)
def test_bad_hourly_tables_are_rejected(change, message):
    frame = hourly([date(2025, 1, 1)], **clean_day())
    with pytest.raises(ValueError, match=message):
        ev.evaluate(change(frame))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6).map(
            lambda shape: (shape[0], 24)
        ),
        elements=st.one_of(st.just(NAN), st.integers(0, 400).map(float)),
    )
)
def test_daily_statistics_properties(hours):
    """Means need ≥ 20 values; 8-h windows ≥ 6 of 8; the MDA8 bounds every valid window; a
    day's values depend on that day only (no window crosses midnight)."""
    mean, count = ev.daily_mean(hours)
    present = ~np.isnan(hours)
    assert (~np.isnan(mean) == (present.sum(axis=1) >= 20)).all()
    with np.errstate(invalid="ignore"):
        assert np.allclose(mean[count >= 20], np.nanmean(hours[count >= 20], axis=1))
    windows = ev.eight_hour_means(hours)
    for start in range(17):
        enough = present[:, start : start + 8].sum(axis=1) >= 6
        assert (~np.isnan(windows[:, start]) == enough).all()
    limits = np.full(len(hours), 160.0)
    mda8, valid_windows = ev.daily_max_8h(hours, limits)
    for day in range(len(hours)):
        alone, alone_windows = ev.daily_max_8h(hours[day : day + 1], limits[:1])
        assert np.array_equal(alone, mda8[day : day + 1], equal_nan=True)
        assert alone_windows[0] == valid_windows[day]
        if not np.isnan(mda8[day]):
            assert mda8[day] >= np.nanmax(windows[day])
            assert valid_windows[day] >= 14 or round(mda8[day]) > 160


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    missing=st.floats(0, 0.6),
    start=st.dates(min_value=date(2025, 12, 1), max_value=date(2026, 4, 1)),
)
def test_evaluation_invariants(seed, missing, start):
    """Counts never exceed what is expected; good days ⊆ valid AQI days; a statistic's
    exceedance is known only for a valid year; the ratio matches its counts."""
    rng = np.random.default_rng(seed)
    days = [start + timedelta(days=i) for i in range(40)]
    frame = hourly(days, **clean_day())
    columns = [c for c in frame.columns if c.endswith("_1h")]
    frame = frame.with_columns(
        pl.Series(
            c,
            np.where(rng.random(frame.height) < missing, NAN, rng.gamma(2.0, 30.0, frame.height)),
            nan_to_null=True,
        ).round()
        for c in columns
    )
    result = ev.evaluate(frame)
    daily, annual = result.daily, result.annual
    for indicator in ev.DAILY_MEANS:
        assert (daily[f"{indicator}_hours"] <= daily["hours_expected"]).all()
        assert (daily[indicator].is_null() == (daily[f"{indicator}_hours"] < 20)).all()
    assert (daily["o3_8h_max_windows"] <= 17).all()
    assert not (daily["good_day"] & ~daily["aqi_valid_day"]).any()
    assert (annual["good_days"] <= annual["aqi_valid_days"]).all()
    assert (annual["aqi_valid_days"] <= annual["days_expected"]).all()
    assert annual["good_days"].sum() == daily["good_day"].sum()
    for row in annual.iter_rows(named=True):
        expected = ev.good_day_ratio([row["good_days"]], [row["aqi_valid_days"]])[0]
        assert row["good_day_ratio"] == (None if np.isnan(expected) else expected)
        assert row["pm25_annual_mean_exceeds"] is None  # 40 days never make a valid year
