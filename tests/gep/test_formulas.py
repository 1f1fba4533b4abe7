"""Unit checks of every GEP formula (gep.md §2.2, §9.5) and InVEST's numeric fixture (§3.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.gep import formulas as f
from qingshan.gep import units

KM2 = 1e6


def test_water_conservation_is_p_minus_r_minus_et_times_area() -> None:
    # (1000 − 0.1 × 1000 − 500) mm over 1 km² = 0.4 m × 10⁶ m² = 4 × 10⁵ m³ ([S21] eq. 1).
    assert f.water_conservation(1000.0, 0.1, 500.0, KM2) == pytest.approx(4e5)


def test_water_conservation_is_zero_not_negative_where_et_exceeds_the_balance() -> None:
    assert f.water_conservation([600.0, 900.0], 0.2, 700.0, KM2).tolist() == [0.0, 20_000.0]


def test_soil_retention_is_rkls_times_one_minus_cp() -> None:
    # R·K·LS = 100 × 0.02 × 2 = 4 t/ha; (1 − 0.1 × 0.5) = 0.95 → 3.8 t/ha; 1 km² = 100 ha.
    assert f.rusle_avoided_erosion_t_ha(100, 0.02, 2, 0.1, 0.5) == pytest.approx(3.8)
    assert f.soil_retention(100, 0.02, 2, 0.1, 0.5, KM2) == pytest.approx(380.0)


@given(st.lists(st.floats(0, 1), min_size=5, max_size=5))
def test_avoided_erosion_equals_invest_aer_rkls_minus_usle(values: list[float]) -> None:
    # InVEST SDR [S30]: AER = RKLS − USLE with USLE = R·K·LS·C·P.
    r, k, ls, c, p = (v * scale for v, scale in zip(values, (8000, 0.06, 30, 1, 1), strict=True))
    rkls = r * k * ls
    assert f.rusle_avoided_erosion_t_ha(r, k, ls, c, p) == pytest.approx(
        rkls - rkls * c * p, abs=1e-9
    )


def test_sand_fixation_is_avoided_wind_erosion_times_area() -> None:
    assert f.sand_fixation(2.0, 0.5, 100 * 1e4) == pytest.approx(150.0)
    assert f.sand_fixation(0.5, 2.0, 1e4) == 0.0


def test_flood_capacities_of_lakes_reservoirs_and_marshes() -> None:
    # [S21] eq. (7): e^6.636 · A^0.678 · T in 万m³ → m³.
    one = f.lake_flood_capacity(1.0, ln_coefficient=6.636, exponent=0.678)
    assert one == pytest.approx(math.exp(6.636) * 1e4)
    two = f.lake_flood_capacity(2.0, ln_coefficient=6.636, exponent=0.678)
    assert two / one == pytest.approx(2**0.678)
    assert f.reservoir_flood_capacity(1000.0, share=0.35) == pytest.approx(350.0)
    assert f.marsh_flood_capacity(1.0, depth_m=0.3) == pytest.approx(3e5)  # 0.3 m over 1 km²


def test_carbon_and_oxygen_from_dry_matter_and_nep() -> None:
    # 1000 g m⁻² over 1 km² = 1000 t dry matter → 1630 t CO₂, 1190 t O₂ ([S46][S47]).
    assert f.co2_from_dry_matter(1000, KM2, co2_per_dry_matter=1.63) == pytest.approx(1630)
    assert f.oxygen_from_dry_matter(1000, KM2, o2_per_dry_matter=1.19) == pytest.approx(1190)
    # 100 g C m⁻² over 1 km² = 100 t C = 366.67 t CO₂ (44/12).
    assert f.co2_from_nep(100, KM2) == pytest.approx(100 * 44 / 12)


def test_climate_regulation_in_kwh() -> None:
    # Vegetation: 1000 kJ m⁻² d⁻¹ × 1 m² × 1 d = 1000 kJ = 1/3.6 kWh of heat; ÷ r = 3.
    kwh = f.transpiration_cooling_kwh(1000, 1, 1, ac_efficiency_ratio=3.0)
    assert kwh == pytest.approx(1000 / 3600 / 3)
    # Water: 1000 mm over 1 m² = 1 m³ = 1000 kg × 2450 kJ/kg = 680.56 kWh; humidifier 120 kWh.
    cooling = f.water_surface_cooling_kwh(
        1000, 1, 0, 1, latent_heat_j_g=2450, humidifier_kwh_m3=120
    )
    assert cooling == pytest.approx(2450 * 1000 / 3600)
    both = f.water_surface_cooling_kwh(1000, 1, 1, 1, latent_heat_j_g=2450, humidifier_kwh_m3=120)
    assert both == pytest.approx(2450 * 1000 / 3600 + 120)


def test_pest_control_area_in_hm2() -> None:
    assert f.area_hm2(KM2) == pytest.approx(100.0)


def test_invest_fractp_op_fixture() -> None:
    # natcap/invest tests/test_annual_water_yield.py::test_fractp_op (gep.md §3.2, [S29]).
    aet_p = f.budyko_aet_fraction(
        kc=[[1, 0.1, 0.1], [0.6, 0.6, 0.1]],
        et0_mm=[[1000, 900, 900], [1100, 1005, 1000]],
        precip_mm=[[100, 1000, 10], [500, 800, 1100]],
        root_depth_mm=[[99, 300, 400], [5, 500, 800]],
        soil_depth_mm=[[600, 700, 700], [800, 900, 600]],
        pawc=[[0.11, 0.11, 0.12], [0.55, 0.55, 0.19]],
        vegetated=[[1, 1, 0], [0, 1, 0]],
        seasonality_z=6,
    )
    expected = [[0.9345682, 0.06896508, 1.0], [1.0, 0.6487423, 0.09090909]]
    np.testing.assert_allclose(aet_p, expected, rtol=1e-6)
    assert f.budyko_water_yield_mm(aet_p, [[100, 1000, 10], [500, 800, 1100]])[1, 1] == (
        pytest.approx((1 - 0.6487423) * 800, rel=1e-6)
    )


@pytest.mark.parametrize(
    ("unit", "base", "factor"),
    [
        ("万m³", "m3", 1e4),
        ("亿m3", "m3", 1e8),
        ("万t", "t", 1e4),
        ("万kWh", "kWh", 1e4),
        ("亿kW·h", "kWh", 1e8),
        ("万元", "元", 1e4),
        ("万hm²", "hm2", 1e4),
        ("km2", "hm2", 100),
        ("亩", "m2", 10_000 / 15),
        ("万人次", "人次", 1e4),
        ("kg", "t", 1e-3),
    ],
)
def test_unit_factors(unit: str, base: str, factor: float) -> None:
    assert units.factor_between(unit, base) == pytest.approx(factor)


def test_incompatible_units_are_refused() -> None:
    with pytest.raises(ValueError, match="not a unit"):
        units.factor_between("万t", "m3")
    with pytest.raises(KeyError, match="unknown unit"):
        units.factor_between("万立方", "m3")
