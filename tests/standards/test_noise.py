"""GB 3096—2008 and HJ 640—2012 noise kernel.

Expected values come from GB 3096—2008 Table 1 and §5.4, the HJ 640—2012 grading tables, the
GB/T 14623 energy-mean formula worked by hand (arithmetic in the comments), and the hour/period
rules of GB 3096—2008 §3. Table values are transcribed from the reference notes
(shared/reference/water_noise.md §3.1 and §4), independently of the shipped TOML files.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.standards import noise

LEVELS = st.floats(min_value=20.0, max_value=130.0, allow_nan=False)

# GB 3096—2008 Table 1: zone → (day, night) L_Aeq limits, dB(A).
TABLE_1 = {
    "0": (50, 40),
    "1": (55, 45),
    "2": (60, 50),
    "3": (65, 55),
    "4a": (70, 55),
    "4b": (70, 60),
}


def hours(start: str, count: int) -> np.ndarray:
    return np.arange(np.datetime64(start, "h"), np.datetime64(start, "h") + count)


# --------------------------------------------------------------------------------------------
# Levels
# --------------------------------------------------------------------------------------------


def test_leq_of_two_levels_is_the_energy_mean():
    """GB/T 14623—93 eq. (2): 10·lg[(10⁵ + 10⁶)/2] = 10·lg(550 000) = 57.40 dB, not 55."""
    assert float(noise.leq([50.0, 60.0])) == pytest.approx(10 * math.log10(550_000), abs=1e-12)
    assert round(float(noise.leq([50.0, 60.0])), 2) == 57.40


def test_leq_with_durations_follows_the_integral_definition():
    """GB 3096—2008 §3: 10 min at 70 dB and 50 min at 50 dB →
    10·lg[(10·10⁷ + 50·10⁵)/60] = 10·lg(1.75·10⁶) = 62.43 dB."""
    value = float(noise.leq([70.0, 50.0], durations=[10, 50]))
    assert round(value, 2) == 62.43


def test_leq_leaves_out_missing_levels_and_is_nan_without_any():
    assert float(noise.leq([60.0, np.nan, 60.0])) == 60.0
    assert math.isnan(float(noise.leq([np.nan, np.nan])))


def test_leq_along_an_axis():
    result = noise.leq([[50.0, 60.0], [70.0, np.nan]], axis=1)
    assert result.shape == (2,)
    assert result[1] == 70.0


def test_ldn_applies_the_10_db_night_penalty():
    """Ldn = 10·lg{[16·10^(0.1·Ld) + 8·10^(0.1·(Ln+10))]/24} (reference notes §3.2).

    Ld = Ln = 50: 10·lg[(16·10⁵ + 8·10⁶)/24] = 10·lg(4·10⁵) = 56.02 dB.
    Ld = 60, Ln = 50: the penalised night equals the day, so Ldn = 60 exactly.
    """
    assert round(float(noise.ldn(50.0, 50.0)), 2) == 56.02
    assert float(noise.ldn(60.0, 50.0)) == 60.0
    assert math.isnan(float(noise.ldn(np.nan, 50.0)))


def test_percentile_levels_of_100_samples_are_the_10th_50th_90th_loudest():
    """L10, L50, L90: with 100 samples sorted loudest first, the 10th, 50th and 90th."""
    samples = np.random.default_rng(3).permutation(np.arange(1.0, 101.0))
    assert float(noise.percentile_level(samples, 10)) == 91.0
    assert float(noise.percentile_level(samples, 50)) == 51.0
    assert float(noise.percentile_level(samples, 90)) == 11.0


def test_percentile_levels_skip_missing_samples_row_by_row():
    samples = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, np.nan, np.nan, np.nan]])
    # Row 1: 4 samples, L50 is the ⌈4·0.5⌉ = 2nd loudest = 3; row 2: its only sample.
    assert noise.percentile_level(samples, 50).tolist() == [3.0, 10.0]
    with pytest.raises(ValueError):
        noise.percentile_level(samples, 100)


# --------------------------------------------------------------------------------------------
# GB 3096—2008 limits and compliance
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "limits"), TABLE_1.items())
def test_zone_limits_are_table_1(zone, limits):
    """GB 3096—2008 §5.1, Table 1."""
    day, night = noise.zone_limits([zone])
    assert (day[0], night[0]) == limits


@pytest.mark.parametrize("zone", ["4", "5", "IV", "", "4c"])
def test_unknown_zones_are_rejected(zone):
    with pytest.raises(ValueError, match="unknown GB 3096 zone"):
        noise.zone_limits([zone])


def test_a_level_exactly_at_the_limit_complies_and_0_1_above_exceeds_by_0_1():
    """GB 3096—2008 §5.1: the limit is not to be exceeded; ΔL = L − limit in dB."""
    result = noise.assess([55.0, 55.1, 60.3], 55)
    assert result.ok.tolist() == [True, False, False]
    assert result.exceed_db.tolist() == [0.0, 0.1, 5.3]


def test_levels_are_rounded_to_0_1_db_half_even_before_the_comparison():
    """55.04 → 55.0 complies; 55.05 → 55.0 (GB/T 8170 half to even) complies; 55.06 → 55.1."""
    result = noise.assess([55.04, 55.05, 55.06, 55.15], 55)
    assert result.ok.tolist() == [True, True, False, False]
    assert result.exceed_db.tolist() == [0.0, 0.0, 0.1, 0.2]


def test_a_missing_level_is_not_evaluated():
    result = noise.assess([np.nan], 50)
    assert result.evaluated.tolist() == [False]
    assert math.isnan(result.exceed_db[0])


@pytest.mark.parametrize(
    ("zone", "ceiling"), [("0", 55), ("1", 60), ("2", 65), ("3", 70), ("4a", 70), ("4b", 75)]
)
def test_night_lmax_may_reach_the_limit_plus_15_but_not_exceed_it(zone, ceiling):
    """GB 3096—2008 §5.4: night Lmax ≤ night limit + 15 dB(A); exactly +15 complies."""
    _, night = noise.zone_limits([zone, zone])
    result = noise.night_lmax_ok([ceiling, ceiling + 0.1], night)
    assert result.ok.tolist() == [True, False]
    assert result.exceed_db.tolist() == [0.0, 0.1]


# --------------------------------------------------------------------------------------------
# Day and night of each hour (GB 3096—2008 §3)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time", "date", "night"),
    [
        ("2025-06-10T05", "2025-06-09", True),  # last night hour belongs to the previous date
        ("2025-06-10T06", "2025-06-10", False),  # day starts at 06:00
        ("2025-06-10T21", "2025-06-10", False),  # last day hour
        ("2025-06-10T22", "2025-06-10", True),  # night starts at 22:00 on its own date
        ("2025-06-11T00", "2025-06-10", True),  # after midnight: still the night of the 10th
        ("2025-01-31T23", "2025-01-31", True),  # month end
        ("2025-02-01T03", "2025-01-31", True),
        ("2025-12-31T22", "2025-12-31", True),  # year end
        ("2026-01-01T05", "2025-12-31", True),
        ("2024-02-29T23", "2024-02-29", True),  # leap day
        ("2024-03-01T02", "2024-02-29", True),
    ],
)
def test_a_night_belongs_to_the_date_on_which_it_starts(time, date, night):
    dates, is_night = noise.hour_periods(np.array([time], dtype="datetime64[h]"))
    assert str(dates[0]) == date
    assert bool(is_night[0]) is night


# --------------------------------------------------------------------------------------------
# Daily evaluation
# --------------------------------------------------------------------------------------------


def one_point(zone, start, levels, lmax=None):
    times = hours(start, len(levels))
    return noise.daily_noise(
        np.full(len(levels), "P"), np.full(len(levels), zone), times, levels, lmax
    )


def day_and_night(day_level, night_level):
    """06:00 of one date to 06:00 of the next: 16 day hours, then 8 night hours."""
    return np.array([day_level] * 16 + [night_level] * 8)


def test_zone_4b_at_its_limits_complies_and_0_1_over_does_not():
    """GB 3096—2008 Table 1, zone 4b: day 70, night 60 dB(A)."""
    at_limit = one_point("4b", "2025-03-01T06", day_and_night(70.0, 60.0))
    assert (at_limit.ld[0], at_limit.ln[0]) == (70.0, 60.0)
    assert (at_limit.day_limit[0], at_limit.night_limit[0]) == (70.0, 60.0)
    assert at_limit.day.ok[0] and at_limit.night.ok[0]

    over = one_point("4b", "2025-03-01T06", day_and_night(70.0, 60.1))
    assert over.day.ok[0] and not over.night.ok[0]
    assert over.night.exceed_db[0] == 0.1


def test_ld_and_ln_are_judged_separately():
    """HJ 640—2012 §6: a quiet day does not offset a loud night (zone 1: 55/45)."""
    result = one_point("1", "2025-03-01T06", day_and_night(40.0, 50.0))
    assert result.day.ok[0]
    assert not result.night.ok[0]
    assert result.night.exceed_db[0] == 5.0
    # Ldn = 10·lg[(16·10⁴ + 8·10⁶)/24] = 10·lg(340 000) = 55.3 dB.
    assert result.ldn[0] == 55.3


def test_ld_is_the_energy_mean_of_the_day_hours():
    """Eight day hours at 50 and eight at 60: 10·lg[(8·10⁵ + 8·10⁶)/16] = 57.4 dB."""
    levels = day_and_night(0.0, 40.0)
    levels[:8], levels[8:16] = 50.0, 60.0
    result = one_point("2", "2025-03-01T06", levels)
    assert result.ld[0] == 57.4
    assert result.day_hours[0] == 16 and result.night_hours[0] == 8


def test_a_night_across_the_year_end_is_one_night_of_december_31():
    levels = np.array([50.0, 50.0, 56.0, 50.0, 50.0, 50.0, 50.0, 50.0])  # 22:00 … 05:00
    result = one_point("1", "2025-12-31T22", levels)
    assert [str(d) for d in result.date] == ["2025-12-31"]
    assert result.night_hours.tolist() == [8]
    assert result.day_hours.tolist() == [0]
    # 10·lg[(7·10⁵ + 10^5.6)/8] = 10·lg(137 263) = 51.38 → 51.4
    assert result.ln.tolist() == [51.4]
    assert math.isnan(result.ld[0]) and math.isnan(result.ldn[0])
    assert not result.day.evaluated[0]


def test_night_lmax_is_the_highest_hourly_maximum_of_the_night():
    levels = day_and_night(50.0, 40.0)
    lmax = levels + 10.0
    lmax[3] = 90.0  # a loud day hour does not count against the night rule
    lmax[20] = 60.0  # zone 1 night 45 + 15 = 60: exactly at the ceiling
    result = one_point("1", "2025-03-01T06", levels, lmax)
    assert result.night_lmax[0] == 60.0
    assert result.lmax.ok[0]
    lmax[21] = 60.1
    assert not one_point("1", "2025-03-01T06", levels, lmax).lmax.ok[0]


def test_without_lmax_the_night_rule_is_not_evaluated():
    result = one_point("1", "2025-03-01T06", day_and_night(50.0, 40.0))
    assert not result.lmax.evaluated[0]


def test_incomplete_periods_report_levels_and_are_judged_only_above_the_minimum_hours():
    levels = day_and_night(50.0, 40.0)
    levels[:6] = np.nan  # 10 day hours left
    times = hours("2025-03-01T06", 24)
    points, zones = np.full(24, "P"), np.full(24, "1")
    lenient = noise.daily_noise(points, zones, times, levels)
    strict = noise.daily_noise(points, zones, times, levels, min_day_hours=16)
    assert lenient.day_hours[0] == strict.day_hours[0] == 10
    assert lenient.ld[0] == strict.ld[0] == 50.0
    assert lenient.day.evaluated[0] and not strict.day.evaluated[0]
    assert strict.night.evaluated[0]


def test_rows_come_out_by_point_then_date():
    times = np.concatenate([hours("2025-03-02T06", 2), hours("2025-03-01T06", 2)] * 2)
    points = np.repeat(["B", "A"], 4)
    result = noise.daily_noise(points, np.full(8, "2"), times, np.full(8, 50.0))
    assert result.point.tolist() == ["A", "A", "B", "B"]
    assert [str(d) for d in result.date] == ["2025-03-01", "2025-03-02"] * 2


@pytest.mark.parametrize(
    ("times", "zones", "message"),
    [
        (["2025-03-01T06:00", "2025-03-01T06:00"], ["1", "1"], "same hour"),
        (["2025-03-01T06:30", "2025-03-01T07:00"], ["1", "1"], "start of an hour"),
        (["2025-03-01T23:00", "2025-03-02T01:00"], ["1", "2"], "more than one zone"),
        (["2025-03-01T06:00", "2025-03-01T07:00"], ["1", "4"], "unknown GB 3096 zone"),
    ],
)
def test_inconsistent_hours_are_rejected(times, zones, message):
    with pytest.raises(ValueError, match=message):
        noise.daily_noise(["P", "P"], zones, np.array(times, dtype="datetime64[m]"), [50, 50])


def test_every_hour_needs_a_point():
    with pytest.raises(ValueError, match="needs a point"):
        noise.daily_noise(
            np.array(["P", None], dtype=object), ["1", "1"], hours("2025-03-01T06", 2), [50, 50]
        )


def test_compliance_rate_counts_point_times_that_were_evaluated():
    """HJ 640—2012 §6: compliant point-times / evaluated point-times, day and night apart."""
    assessment = noise.assess([50.0, 56.0, np.nan, 55.0], 55)
    rate = noise.compliance_rate(assessment)
    assert (rate.compliant, rate.evaluated) == (2, 3)
    assert rate.percent == pytest.approx(200 / 3)
    only_first = noise.compliance_rate(assessment, mask=[True, False, False, False])
    assert (only_first.compliant, only_first.evaluated) == (1, 1)
    assert noise.compliance_rate(noise.assess([np.nan], 55)).percent is None


# --------------------------------------------------------------------------------------------
# HJ 640—2012 grades
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "period", "means", "expected"),
    [
        # Regional day S̄d: ≤50.0 | 50.1–55.0 | 55.1–60.0 | 60.1–65.0 | >65.0
        (
            "regional",
            "day",
            [50.0, 50.1, 55.0, 55.1, 60.0, 60.1, 65.0, 65.1],
            [1, 2, 2, 3, 3, 4, 4, 5],
        ),
        # Regional night S̄n: ≤40.0 | –45.0 | –50.0 | –55.0 | >55.0
        ("regional", "night", [40.0, 40.1, 45.0, 50.0, 55.0, 55.1], [1, 2, 2, 3, 4, 5]),
        # Road traffic day L̄d: ≤68.0 | 68.1–70.0 | 70.1–72.0 | 72.1–74.0 | >74.0
        ("traffic", "day", [68.0, 68.1, 70.0, 72.0, 72.1, 74.0, 74.1], [1, 2, 2, 3, 4, 4, 5]),
        # Road traffic night L̄n: ≤58.0 | –60.0 | –62.0 | –64.0 | >64.0
        ("traffic", "night", [58.0, 58.1, 60.0, 62.0, 64.0, 64.1], [1, 2, 2, 3, 4, 5]),
    ],
)
def test_hj640_grade_breakpoints_with_inclusive_upper_ends(kind, period, means, expected):
    """HJ 640—2012 §4 and §5 grading tables (reference notes §4)."""
    assert noise.grade(means, kind, period).tolist() == expected


def test_hj640_reference_vectors():
    """Reference notes §5 (S22 doctests): traffic 70 dB by day → 二级; regional 70 by day → 差."""
    labels = {g.grade: g for g in noise.grades()}
    traffic = int(noise.grade(70.0, "traffic", "day"))
    regional = int(noise.grade(70.0, "regional", "day"))
    assert labels[traffic].name == "二级"
    assert labels[regional].evaluation == "差"


def test_hj640_rounds_the_mean_to_0_1_db_before_grading():
    """50.04 → 50.0 (grade 1); 50.05 → 50.0 half to even (grade 1); 50.06 → 50.1 (grade 2)."""
    assert noise.grade([50.04, 50.05, 50.06], "regional", "day").tolist() == [1, 1, 2]


def test_hj640_grade_labels():
    grades = noise.grades()
    assert [g.name for g in grades] == ["一级", "二级", "三级", "四级", "五级"]
    assert [g.evaluation for g in grades] == ["好", "较好", "一般", "较差", "差"]


def test_regional_mean_is_arithmetic_not_energy():
    """HJ 640—2012 §4: S̄ = (1/n)·Σ Lᵢ; the energy mean of 50 and 60 would be 57.4."""
    assert noise.regional_mean([50.0, 60.0, np.nan]) == 55.0


def test_traffic_mean_is_length_weighted():
    """HJ 640—2012 §5: L̄ = Σ lᵢ·Lᵢ / Σ lᵢ = (1200·70 + 800·68)/2000 = 69.2 → grade 2."""
    mean = noise.traffic_mean([70.0, 68.0], [1200.0, 800.0])
    assert mean == pytest.approx(69.2)
    assert noise.grade(mean, "traffic", "day").tolist() == 2
    with pytest.raises(ValueError):
        noise.traffic_mean([70.0], [0.0])


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@given(LEVELS, st.integers(min_value=1, max_value=50))
def test_leq_of_equal_levels_is_that_level(level, count):
    assert float(noise.leq([level] * count)) == level


@given(st.lists(LEVELS, min_size=1, max_size=40))
def test_leq_is_at_least_the_arithmetic_mean_and_within_the_range(levels):
    value = float(noise.leq(levels))
    assert value >= np.mean(levels) - 1e-9
    assert min(levels) - 1e-9 <= value <= max(levels) + 1e-9


@given(st.lists(LEVELS, min_size=1, max_size=40), st.data())
def test_leq_never_falls_when_one_level_rises(levels, data):
    position = data.draw(st.integers(min_value=0, max_value=len(levels) - 1))
    rise = data.draw(st.floats(min_value=0.0, max_value=30.0))
    louder = list(levels)
    louder[position] += rise
    assert float(noise.leq(louder)) >= float(noise.leq(levels)) - 1e-9


@given(st.lists(st.tuples(LEVELS, st.integers(min_value=0, max_value=4)), min_size=1))
def test_grouped_leq_matches_leq_of_each_group(rows):
    levels = np.array([level for level, _ in rows])
    groups = np.array([group for _, group in rows], dtype=np.intp)
    result = noise.grouped_leq(levels, groups, 5)
    for group in range(5):
        members = levels[groups == group]
        if members.size:
            assert result[group] == pytest.approx(float(noise.leq(members)), abs=1e-9)
        else:
            assert math.isnan(result[group])


@given(LEVELS, LEVELS, st.integers(min_value=1, max_value=6))
def test_repeating_a_level_equals_weighting_it_by_duration(first, second, repeat):
    repeated = noise.leq([first] * repeat + [second])
    weighted = noise.leq([first, second], durations=[repeat, 1])
    assert float(repeated) == pytest.approx(float(weighted), abs=1e-9)


@given(LEVELS, LEVELS)
def test_ldn_is_at_least_the_day_level_minus_1_8_db_and_rises_with_the_night(day, night):
    """16/24 of the energy is the day's, so Ldn ≥ Ld + 10·lg(16/24) = Ld − 1.76 dB."""
    value = float(noise.ldn(day, night))
    assert value >= day + 10 * math.log10(16 / 24) - 1e-9
    assert float(noise.ldn(day, night + 1.0)) > value
