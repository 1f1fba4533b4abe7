"""Units of the carbon books (qingshan.carbon.units)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.carbon import units

ROUND_TRIPS = [
    ("t", "kg", 1000.0),
    ("吨", "t", 1.0),
    ("万吨", "t", 1e4),
    ("10⁴ Nm³", "Nm3", 1e4),
    ("万立方米", "Nm3", 1e4),
    ("万m³", "m3", 1.0e4),
    ("MWh", "kWh", 1000.0),
    ("万千瓦时", "MWh", 10.0),
    ("度", "kWh", 1.0),
    ("TJ", "GJ", 1000.0),
    ("吉焦", "GJ", 1.0),
    # GB/T 2589—2020 §3: 1 kgce = 29 307 kJ, so 1 tce = 29.307 GJ.
    ("tce", "GJ", 29.307),
    ("吨标准煤", "kgce", 1000.0),
    ("万吨标准煤", "tce", 1e4),
]


@pytest.mark.parametrize(("source", "target", "factor"), ROUND_TRIPS)
def test_conversions_and_round_trips(source, target, factor):
    assert units.conversion(source, target) == pytest.approx(factor, rel=1e-12)
    assert units.conversion(target, source) * factor == pytest.approx(1.0, rel=1e-12)


def test_electricity_calorific_equivalent_matches_gb2589_annex_a():
    """3 600 kJ/kWh ÷ 29 307 kJ/kgce = 0.12284, printed 0.1229 kgce/kWh in GB/T 2589 Annex A."""
    assert units.conversion("kWh", "kgce") == pytest.approx(0.1229, abs=1e-4)


def test_different_dimensions_do_not_convert():
    with pytest.raises(ValueError, match="does not convert"):
        units.conversion("万立方米", "t")
    with pytest.raises(ValueError, match="does not convert"):
        units.conversion("t", "GJ")


def test_unknown_unit_is_an_error():
    with pytest.raises(ValueError, match="unknown unit"):
        units.parse_unit("万斤")


def test_gas_volume_never_converts_through_a_mass_ncv():
    """IPCC NCVs are per tonne; a volume needs a volumetric NCV (never an implied density)."""
    with pytest.raises(ValueError, match="does not convert"):
        units.coefficient(48.0, "GJ/t", "万立方米", "GJ")


def test_coefficient_scales_by_activity_unit():
    assert units.coefficient(43.0, "GJ/t", "kg", "GJ") == pytest.approx(0.043, rel=1e-12)
    assert units.coefficient(0.5366, "kgCO2/kWh", "万千瓦时", "t") == pytest.approx(5.366)


@given(st.floats(min_value=1e-6, max_value=1e9), st.sampled_from(ROUND_TRIPS))
def test_round_trip_of_any_quantity(value, pair):
    source, target, _ = pair
    there = value * units.conversion(source, target)
    assert there * units.conversion(target, source) == pytest.approx(value, rel=1e-12)
