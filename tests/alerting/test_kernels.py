"""Detection kernels on constructed series: each fires exactly where it should."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.alerting import anomaly, exceedance, pace, quality
from qingshan.alerting.catalogue import severity_of, validate_parameters

NAN = np.nan


def test_iaqi_over_level_uses_hj633_2026_hourly_breakpoints() -> None:
    """HJ 633—2026 Table 3: SO2 1-h 500 µg/m³ → IAQI 100 exactly (not over 100); 501 → 101
    (IAQI is rounded up). The level must be exceeded strictly."""
    held, index = exceedance.iaqi_over("so2", [[500.0, 501.0, NAN]], 100)
    assert index[0, :2].tolist() == [100.0, 101.0]
    assert held.tolist() == [[False, True, False]]


def test_aqi_is_the_largest_iaqi_of_the_pollutants_present() -> None:
    """HJ 633—2026 §4.2.5 and Table 3: O3 1-h 200 µg/m³ → IAQI 100; NO2 missing does not
    enter the maximum; an hour without any pollutant has no AQI."""
    held, index = exceedance.aqi_over({"o3": [[200.0, NAN]], "no2": [[NAN, NAN]]}, 100)
    assert index[0, 0] == 100.0 and np.isnan(index[0, 1])
    assert held.tolist() == [[False, False]]


def test_water_class_worse_than_target() -> None:
    """GB 3838 Table 1 NH3-N limits: II 0.5, III 1.0, IV 1.5 mg/L. Target III."""
    held, classes = exceedance.water_worse_than_target("nh3n", [[0.5, 1.0, 1.01, NAN]], [3])
    assert classes.tolist() == [[2.0, 3.0, 4.0, 0.0]]
    assert held.tolist() == [[False, False, True, False]]


def test_water_lake_phosphorus_limits() -> None:
    """TP 0.06 mg/L: Class II in a river (II ≤ 0.1), Class IV in a lake (III ≤ 0.05, IV ≤ 0.1)."""
    held, classes = exceedance.water_worse_than_target(
        "tp", [[0.06], [0.06]], [3, 3], [False, True]
    )
    assert classes[:, 0].tolist() == [2.0, 4.0]
    assert held[:, 0].tolist() == [False, True]


def test_noise_zone_limits_day_and_night() -> None:
    """GB 3096—2008 Table 1: zone 1 55/45, zone 4a 70/55 dB(A); a level equal to the limit
    complies."""
    levels = [[55.0, 46.0], [70.0, 55.1]]
    held, _ = exceedance.noise_over_limit(levels, ["1", "4a"], [False, True])
    assert held.tolist() == [[False, True], [False, True]]


def test_permit_limit_is_exceeded_strictly() -> None:
    held, _ = exceedance.permit_over_limit([[35.0, 35.1], [10.0, 100.0]], [35.0, 50.0])
    assert held.tolist() == [[False, True], [False, True]]


def test_neighbour_anomaly_worked_example() -> None:
    """Values 40 41 42 43 44 90 in one grid: median 42.5, MAD median(2.5 1.5 .5 .5 1.5 47.5)
    = 1.5; z(90) = 0.6745 × 47.5 / 1.5 = 21.36 > 3.5; z(44) = 0.67 (Iglewicz & Hoaglin)."""
    values = np.array([[40.0], [41.0], [42.0], [43.0], [44.0], [90.0]])
    held, z = anomaly.neighbour_anomaly(values, [0] * 6, [[]])
    assert held[:, 0].tolist() == [False] * 5 + [True]
    assert z[5, 0] == pytest.approx(0.6745 * 47.5 / 1.5)


def test_neighbour_grids_are_peers_and_too_few_peers_give_no_score() -> None:
    """Grid 0 holds one site (90), grid 1 four sites (40–43) and is its neighbour: the site is
    judged against all five. Grid 2 has one site and no neighbours: fewer than 4 peers."""
    values = np.array([[90.0], [40.0], [41.0], [42.0], [43.0], [99.0]])
    held, z = anomaly.neighbour_anomaly(values, [0, 1, 1, 1, 1, 2], [[1], [0], []])
    assert held[:, 0].tolist() == [True, False, False, False, False, False]
    assert np.isnan(z[5, 0])


def test_identical_peers_use_the_spread_floor() -> None:
    """MAD 0 would make any difference infinite; with min_spread 1 a 2-unit rise gives z 1.35."""
    values = np.array([[50.0], [50.0], [50.0], [50.0], [52.0]])
    held, z = anomaly.neighbour_anomaly(values, [0] * 5, [[]], min_spread=1.0)
    assert not held.any()
    assert z[4, 0] == pytest.approx(0.6745 * 2)


def test_spike_against_own_history_excludes_the_current_value() -> None:
    """History 10 11 10 12: median 10.5, MAD 0.5 → floor 1; 50 → z = 0.6745 × 39.5 = 26.6."""
    held, z = anomaly.spike([[10.0, 11.0, 10.0, 12.0, 50.0, 11.0]], window=4, min_history=4)
    assert held.tolist() == [[False, False, False, False, True, False]]
    assert z[0, 4] == pytest.approx(0.6745 * 39.5)
    assert np.isnan(z[0, 3])  # only 3 periods of history


def test_sustained_rise_needs_every_step_up() -> None:
    held, rise = anomaly.sustained_rise([[1.0, 2.0, 3.0, 4.0, 3.0, 5.0, 6.0, NAN, 8.0]], steps=3)
    assert held.tolist() == [[False, False, False, True, False, False, False, False, False]]
    assert rise[0, 3] == 3.0
    held, _ = anomaly.sustained_rise([[1.0, 2.0, 3.0, 4.0]], steps=3, min_rise=3.0)
    assert not held.any()  # a rise of exactly min_rise is not more than it


def test_silence_is_strictly_longer_than_three_intervals() -> None:
    last = np.array(["2026-06-01T00:00", "2026-06-01T00:00", "NaT"], dtype="datetime64[us]")
    at = np.array(
        ["2026-06-01T03:00", "2026-06-01T03:00:01", "2026-06-01T03:00"], dtype="datetime64[us]"
    )
    held, minutes = quality.silent(last, at, [60, 60, 60])
    assert held.tolist() == [False, True, True]
    assert minutes[0] == 180.0 and np.isnan(minutes[2])


def test_flat_line_counts_identical_readings() -> None:
    held, _ = quality.flat_line([[5.0, 5.0, 5.0, 6.0, 6.0, NAN, 6.0]], periods=3)
    assert held.tolist() == [[False, False, True, False, False, False, False]]


def test_impossible_values_outside_the_range() -> None:
    held, _ = quality.impossible([[-0.1, 0.0, 1000.0, 1000.1, NAN]], low=0.0, high=1000.0)
    assert held.tolist() == [[True, False, False, True, False]]


def test_device_flags_d_c_m() -> None:
    flags = np.array([["N", "D", "C", "M", "T", None]], dtype=object)
    assert quality.flagged(flags).tolist() == [[False, True, True, True, False, False]]


def test_target_pace_worked_example() -> None:
    """Target 80 %: good, good, bad, good → ratios 100, 100, 66.7, 75 % (rounded to 0.1 %);
    behind from day 3. Needed on day 4: (0.8 × 365 − 3) / 361 = 80.06 %."""
    result = pace.good_day_pace([[1, 1, 0, 1]], [[1, 1, 1, 1]], 80.0, 365)
    assert result.ratio.tolist() == [[100.0, 100.0, 66.7, 75.0]]
    assert result.behind.tolist() == [[False, False, True, True]]
    assert result.needed[0, 3] == pytest.approx((0.8 * 365 - 3) / 361 * 100)


def test_target_pace_ignores_invalid_days() -> None:
    result = pace.good_day_pace([[0, 1]], [[0, 1]], 90.0, 365)
    assert np.isnan(result.ratio[0, 0]) and not result.behind[0, 0]
    assert result.ratio[0, 1] == 100.0


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=6, max_size=30))
def test_neighbour_score_is_shift_invariant(values: list[float]) -> None:
    """Adding a constant to every site at an hour changes no modified z-score (up to the
    single precision the medians are taken in)."""
    column = np.array(values)[:, None]
    _, z = anomaly.neighbour_anomaly(column, [0] * len(values), [[]])
    _, shifted = anomaly.neighbour_anomaly(column + 123.0, [0] * len(values), [[]])
    np.testing.assert_allclose(z, shifted, rtol=1e-4, atol=1e-3)


def test_rule_parameters_are_completed_and_checked() -> None:
    merged = validate_parameters("spike", {"parameter": "pm25"})
    assert (merged["window"], merged["threshold"], merged["clear_after"]) == (24, 3.0, 1)
    with pytest.raises(ValueError, match="no parameters"):
        validate_parameters("spike", {"parameter": "pm25", "windw": 3})
    with pytest.raises(ValueError, match="low must be below"):
        validate_parameters("impossible", {"parameter": "pm25", "low": 5, "high": 1})
    with pytest.raises(ValueError, match="water_class"):
        validate_parameters("water_class", {"parameter": "pm25"})


def test_severity_colours() -> None:
    assert [severity_of(c) for c in ("red", "orange", "yellow", "blue")] == [
        "critical",
        "major",
        "minor",
        "warning",
    ]
    with pytest.raises(ValueError):
        severity_of("purple")


def test_nan_median_equals_numpy_nanmedian() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(100.0, 20.0, size=(30, 5, 9))
    values[rng.random(values.shape) < 0.2] = NAN
    values[0, 0, :] = NAN
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        expected = [np.nanmedian(values, axis=axis) for axis in (0, 1, 2)]
    for axis in (0, 1, 2):
        np.testing.assert_allclose(anomaly.nan_median(values, axis), expected[axis], rtol=1e-6)
