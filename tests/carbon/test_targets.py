"""Targets and early warning (qingshan.carbon.targets)."""

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.carbon.targets import (
    Target,
    TargetError,
    assess,
    assess_all,
    comparable_gdp,
    indicator_values,
)


def annual(co2, gdp, energy=None, share=None, first=2020):
    years = list(range(first, first + len(co2)))
    data = {"year": years, "co2_t": co2, "gdp_comparable": gdp}
    if energy is not None:
        data["energy_tce"] = energy
    if share is not None:
        data["non_fossil_share_pct"] = share
    return pl.DataFrame(data)


def test_intensity_is_per_ten_thousand_yuan():
    """1 000 000 t CO2 over 100 亿元 (= 1 000 000 万元) is 1 t per 万元."""
    values = indicator_values(annual([1e6], [100.0]))
    row = values.filter(pl.col("indicator") == "co2_per_gdp").row(0, named=True)
    assert row["value"] == pytest.approx(1.0)


def test_required_pace_for_a_reduction():
    """−19.5 % over 2020–2025 at a constant rate: 0.805^(1/5) − 1 = −4.2389 % a year; by 2022
    (2 of 5 years) the required value is 0.805^(2/5) = 0.91689 of the base. A 2022 intensity of
    0.92 is above that: off pace, warning; 0.91 is on pace."""
    target = Target("co2_per_gdp", 2020, 2025, reduction_pct=19.5)
    off, _ = assess(target, indicator_values(annual([1e6, 9.6e5, 9.2e5], [100.0] * 3)))
    assert off["required_annual_rate_pct"] == pytest.approx((0.805**0.2 - 1) * 100)
    assert off["required_value_latest"] == pytest.approx(0.805**0.4)
    assert off["linear_value_latest"] == pytest.approx(1 - 0.195 * 0.4)
    assert (off["status"], off["warning"]) == ("off_pace", True)
    assert "预警" in off["message"]
    on, _ = assess(target, indicator_values(annual([1e6, 9.6e5, 9.1e5], [100.0] * 3)))
    assert (on["status"], on["warning"]) == ("on_pace", False)


def test_gdp_growth_lowers_the_intensity():
    """CO2 flat while comparable GDP grows 10 %: intensity −9.09 %."""
    target = Target("co2_per_gdp", 2020, 2025, reduction_pct=19.5)
    progress, _ = assess(target, indicator_values(annual([1e6, 1e6], [100.0, 110.0])))
    assert progress["achieved_change_pct"] == pytest.approx((1 / 1.1 - 1) * 100)


def test_total_cap_allows_growth_but_warns_above_the_path():
    """Energy cap 1.2× base by the target year: a total is a ceiling, so growth below the
    required path is on pace and growth above it is a warning."""
    target = Target("total_energy", 2020, 2025, target_value=120.0)
    path = 100 * 1.2**0.2
    below, _ = assess(target, indicator_values(annual([1, 1], [1, 1], energy=[100.0, path - 1])))
    above, _ = assess(target, indicator_values(annual([1, 1], [1, 1], energy=[100.0, path + 1])))
    assert (below["status"], above["status"]) == ("on_pace", "off_pace")


def test_non_fossil_share_is_a_floor():
    target = Target("non_fossil_share", 2020, 2025, target_value=25.0)
    behind, _ = assess(target, indicator_values(annual([1, 1], [1, 1], share=[15.0, 16.0])))
    ahead, _ = assess(target, indicator_values(annual([1, 1], [1, 1], share=[15.0, 18.0])))
    assert (behind["status"], ahead["status"]) == ("off_pace", "on_pace")


def test_after_the_target_year_achieved_or_missed():
    target = Target("co2_per_gdp", 2020, 2021, reduction_pct=10)
    met, _ = assess(target, indicator_values(annual([100.0, 89.0], [1.0, 1.0])))
    missed, _ = assess(target, indicator_values(annual([100.0, 95.0], [1.0, 1.0])))
    assert (met["status"], missed["status"], missed["warning"]) == ("achieved", "missed", True)


def test_trajectory_runs_from_base_to_target_year():
    target = Target("co2_per_gdp", 2020, 2025, reduction_pct=19.5)
    _, trajectory = assess(target, indicator_values(annual([1e6, 9.6e5], [100.0, 100.0])))
    assert trajectory["year"].to_list() == list(range(2020, 2026))
    assert trajectory["actual"].to_list()[:2] == pytest.approx([1.0, 0.96])
    assert trajectory["actual"].to_list()[2:] == [None] * 4
    assert trajectory["required_path"][-1] == pytest.approx(0.805)
    assert trajectory["linear_path"][-1] == pytest.approx(0.805)


def test_missing_base_year_is_an_error():
    with pytest.raises(TargetError, match="no value for the base year 2019"):
        assess(
            Target("total_co2", 2019, 2025, reduction_pct=5), indicator_values(annual([1.0], [1.0]))
        )


def test_target_needs_exactly_one_goal():
    with pytest.raises(TargetError, match="either reduction_pct or target_value"):
        Target("total_co2", 2020, 2025)
    with pytest.raises(TargetError, match="unknown indicator"):
        Target("co2_per_capita", 2020, 2025, reduction_pct=1)


def test_comparable_gdp_chains_the_volume_index():
    """900 亿元 in 2021, index 108.0 and 108.0 (previous year = 100): 972, 1049.76."""
    gdp = comparable_gdp(
        pl.Series([2021, 2022, 2023]),
        pl.Series([900.0, 985.0, 1080.0]),
        pl.Series([None, 108.0, 108.0]),
    )
    assert gdp.to_list() == pytest.approx([900.0, 972.0, 1049.76])


def test_comparable_gdp_needs_consecutive_years():
    with pytest.raises(TargetError, match="consecutive"):
        comparable_gdp(pl.Series([2021, 2023]), pl.Series([1.0, 1.0]), pl.Series([None, 1.0]))


@given(st.floats(0.5, 30.0), st.integers(2, 10), st.integers(0, 10))
def test_the_required_path_itself_is_on_pace(reduction, span, elapsed):
    """A district exactly on the required path is never warned (until the target year)."""
    elapsed = min(elapsed, span - 1)
    target = Target("total_co2", 2020, 2020 + span, reduction_pct=reduction)
    on_path = 100.0 * (1 - reduction / 100) ** (elapsed / span)
    co2 = [100.0] + [100.0] * (elapsed - 1) + [on_path] if elapsed else [100.0]
    progress, _ = assess(target, indicator_values(annual(co2, [1.0] * len(co2))))
    assert not progress["warning"]


def test_assess_all_gives_one_row_per_target():
    targets = [
        Target("co2_per_gdp", 2020, 2025, reduction_pct=18),
        Target("energy_per_gdp", 2020, 2025, reduction_pct=13.5),
    ]
    progress, trajectory = assess_all(
        targets, annual([1e6, 9e5], [100.0, 105.0], energy=[4e5, 3.9e5])
    )
    assert progress["indicator"].to_list() == ["co2_per_gdp", "energy_per_gdp"]
    assert trajectory.height == 12
