"""Physical-quantity kernels of GEP accounting (生态产品实物量), elementwise on numpy arrays.

Every kernel works on arrays of any shape: one value per raster cell (raster route) or one per
township × ecosystem row (table route), so that the two routes share one formula. Areas are in
[m²]; per-area drivers are the usual units of the sources (mm, t ha⁻¹ a⁻¹, g m⁻² a⁻¹, …); every
result is an annual quantity in a base unit: [m³], [t], [kWh] or [hm²].

Sources (tags of ``/work/shared/reference/gep.md``, §8 and §9.8):

* [S21] 白玛卓嘎, 肖燚, 欧阳志云, 王莉雁, 甘孜藏族自治州生态系统生产总值核算研究, 生态学报 2017,
  37(19): 6302-6312 — §2.4.1–2.4.8 (the Ouyang-group method the specifications build on).
* [S48] 博文静 et al., 中国森林生态资产价值评估, 生态学报 2017, 37(12) — climate regulation, r = 3.
* [S46][S47] — 1.63 t CO₂ and 1.19–1.2 t O₂ per t of dry matter (photosynthesis equation).
* [S30] InVEST User's Guide (SDR: ``AER = RKLS − USLE``; annual water yield: Budyko/Fu).
* [S29] natcap/invest ``annual_water_yield.fractp_op`` (the code the Budyko port follows).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

MM_TO_M = 1e-3
M2_PER_HA = 1e4
M2_PER_KM2 = 1e6
KJ_PER_KWH = 3600.0
WATER_DENSITY_KG_M3 = 1000.0
CO2_PER_C = 44.0 / 12.0
"""Molar-mass ratio CO₂ : C (stoichiometry)."""


def _f(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def storm_runoff_mm(precip_mm: ArrayLike, runoff_coefficient: ArrayLike) -> FloatArray:
    """Storm runoff R = P × α [mm] with a per-ecosystem runoff coefficient α [–].

    The form used by public GEP code [S52] (gep.md §9.5); the coefficient table is a user input
    (the one public table [S51] is UNVERIFIED as to origin).
    """
    return _f(precip_mm) * _f(runoff_coefficient)


def water_conservation(
    precip_mm: ArrayLike, runoff_coefficient: ArrayLike, et_mm: ArrayLike, area_m2: ArrayLike
) -> FloatArray:
    """Water conservation Q_wr = (P − R − ET) × A [m³ a⁻¹] ([S21] §2.4.1, eq. 1; gep.md §9.5).

    Parameters
    ----------
    precip_mm : annual precipitation P [mm]
    runoff_coefficient : storm-runoff coefficient α, R = P × α [–]
    et_mm : annual actual evapotranspiration ET [mm]
    area_m2 : ecosystem area A [m²]

    A place where ET exceeds P − R conserves no water: the balance is clipped at 0 rather than
    made positive (public code [S52] takes ``Abs(P − R − ET)``, which gep.md §9.5 rejects).
    """
    precip = _f(precip_mm)
    balance_mm = precip - storm_runoff_mm(precip, runoff_coefficient) - _f(et_mm)
    return np.maximum(balance_mm, 0.0) * MM_TO_M * _f(area_m2)


def rusle_avoided_erosion_t_ha(
    r_factor: ArrayLike,
    k_factor: ArrayLike,
    ls_factor: ArrayLike,
    c_factor: ArrayLike,
    p_factor: ArrayLike,
) -> FloatArray:
    """Avoided soil erosion A_c = R·K·LS·(1 − C·P) [t ha⁻¹ a⁻¹] (gep.md §9.5; [S21] §2.4.2).

    Potential loss (bare soil, C = P = 1) minus actual USLE/RUSLE loss; the same quantity as
    InVEST SDR's ``AER = RKLS − USLE`` [S30]. R in [MJ mm ha⁻¹ h⁻¹ a⁻¹], K in
    [t ha h ha⁻¹ MJ⁻¹ mm⁻¹], LS, C and P dimensionless.
    """
    rkls = _f(r_factor) * _f(k_factor) * _f(ls_factor)
    return rkls * (1.0 - _f(c_factor) * _f(p_factor))


def soil_retention(
    r_factor: ArrayLike,
    k_factor: ArrayLike,
    ls_factor: ArrayLike,
    c_factor: ArrayLike,
    p_factor: ArrayLike,
    area_m2: ArrayLike,
) -> FloatArray:
    """Soil retention [t a⁻¹]: :func:`rusle_avoided_erosion_t_ha` × area [ha]."""
    rate = rusle_avoided_erosion_t_ha(r_factor, k_factor, ls_factor, c_factor, p_factor)
    return rate * _f(area_m2) / M2_PER_HA


def sand_fixation(
    potential_wind_erosion_t_ha: ArrayLike,
    actual_wind_erosion_t_ha: ArrayLike,
    area_m2: ArrayLike,
) -> FloatArray:
    """Windbreak and sand fixation [t a⁻¹] = (potential − actual wind erosion) × area.

    [S21] §2.4.3: both erosion rates come from RWEQ (Revised Wind Erosion Equation), which is
    not computed here — they are inputs [t ha⁻¹ a⁻¹]. Negative differences count as 0.
    """
    avoided = np.maximum(_f(potential_wind_erosion_t_ha) - _f(actual_wind_erosion_t_ha), 0.0)
    return avoided * _f(area_m2) / M2_PER_HA


def lake_flood_capacity(
    lake_area_km2: ArrayLike, *, ln_coefficient: float, exponent: float, exchanges: float = 1.0
) -> FloatArray:
    """Lake flood-regulation capacity C_l = e^a · A^b · T [m³ a⁻¹] ([S21] §2.4.4).

    [S21] prints C_l in 万m³ with a = 6.636, b = 0.678 (饶恩明 et al. 2014, a model for the
    Qinghai-Tibet plateau lakes; A = total lake area [km²], T = water exchanges, 1); the result
    is converted to m³ here (× 10⁴). The coefficients are region-specific (gep.md §7 item 8).
    """
    scale = math.exp(ln_coefficient) * exchanges * 1e4
    return scale * np.power(_f(lake_area_km2), exponent)


def reservoir_flood_capacity(total_capacity_m3: ArrayLike, *, share: float) -> FloatArray:
    """Reservoir flood-regulation capacity C_r = share × C_t [m³] ([S21] §2.4.4: share 0.35)."""
    return share * _f(total_capacity_m3)


def marsh_flood_capacity(marsh_area_km2: ArrayLike, *, depth_m: float) -> FloatArray:
    """Marsh flood-regulation capacity C_m = depth × S × 10⁶ [m³] ([S21] §2.4.4: depth 0.3).

    [S21] prints the unit as 万m³, but its own result (6.00亿m³ for ≈ 2005 km² of marsh, 70 % of
    2864.27 km² of wetland) shows the formula gives m³: 0.3 m of retained water over S km².
    """
    return depth_m * _f(marsh_area_km2) * M2_PER_KM2


def co2_from_dry_matter(
    npp_dry_matter_g_m2: ArrayLike, area_m2: ArrayLike, *, co2_per_dry_matter: float
) -> FloatArray:
    """CO₂ fixed [t a⁻¹] = k × NPP (dry matter) × area; k = 1.63 (264/162, [S46][S47]).

    NPP in [g dry matter m⁻² a⁻¹]; 1 g m⁻² over 1 m² is 10⁻⁶ t.
    """
    return co2_per_dry_matter * _f(npp_dry_matter_g_m2) * _f(area_m2) * 1e-6


def co2_from_nep(nep_gc_m2: ArrayLike, area_m2: ArrayLike) -> FloatArray:
    """CO₂ fixed [t a⁻¹] = NEP × 44/12 × area; NEP = NPP − R_h in [g C m⁻² a⁻¹] (gep.md §9.5)."""
    return _f(nep_gc_m2) * CO2_PER_C * _f(area_m2) * 1e-6


def oxygen_from_dry_matter(
    npp_dry_matter_g_m2: ArrayLike, area_m2: ArrayLike, *, o2_per_dry_matter: float
) -> FloatArray:
    """O₂ released [t a⁻¹] = k × NPP (dry matter) × area; k = 1.19 (192/162, [S47])."""
    return o2_per_dry_matter * _f(npp_dry_matter_g_m2) * _f(area_m2) * 1e-6


def transpiration_cooling_kwh(
    transpiration_heat_kj_m2_d: ArrayLike,
    cooling_days: ArrayLike,
    area_m2: ArrayLike,
    *,
    ac_efficiency_ratio: float,
) -> FloatArray:
    """Vegetation transpiration cooling E_pt = EPP × S × d / (3600 × r) [kWh a⁻¹].

    [S21] §2.4.8 eq. (1) and [S48]: EPP is the heat consumed by transpiration per unit area
    [kJ m⁻² d⁻¹] (printed "GPP" in [S21]; renamed, gep.md §2.2), S the area [m²], d the days
    the air conditioning would run [d], r the air conditioner's energy-efficiency ratio [–]
    (3.0 in [S48] and [S2]). 3600 kJ = 1 kWh.
    """
    heat_kj = _f(transpiration_heat_kj_m2_d) * _f(area_m2) * _f(cooling_days)
    return heat_kj / (KJ_PER_KWH * ac_efficiency_ratio)


def water_surface_cooling_kwh(
    water_evaporation_mm: ArrayLike,
    cooling_evaporation_share: ArrayLike,
    humidifying_evaporation_share: ArrayLike,
    area_m2: ArrayLike,
    *,
    latent_heat_j_g: float,
    humidifier_kwh_m3: float,
) -> FloatArray:
    """Water-surface evaporation E_we = E_c × ρ × q / 3600 + E_h × y [kWh a⁻¹].

    [S21] §2.4.8 eq. (2) with E [m³] = evaporation [mm] × area; ρ = 1000 kg m⁻³; q latent heat
    [J g⁻¹ = kJ kg⁻¹] (2450 in [S2]); y the humidifier's electricity per m³ of water
    [kWh m⁻³] (120 in [S2]). GB/T 46869 A.11 (one secondary source, gep.md §9.2) separates
    evaporation in the cooling period (E_c) from that in the humidifying period (E_h); the
    shares of annual evaporation in each are inputs — [S21] applies both terms to all of it
    (shares 1 and 1).
    """
    evaporation_m3 = _f(water_evaporation_mm) * MM_TO_M * _f(area_m2)
    cooling_kwh = (
        evaporation_m3
        * _f(cooling_evaporation_share)
        * WATER_DENSITY_KG_M3
        * latent_heat_j_g
        / KJ_PER_KWH
    )
    humidifying_kwh = evaporation_m3 * _f(humidifying_evaporation_share) * humidifier_kwh_m3
    return cooling_kwh + humidifying_kwh


def area_hm2(area_m2: ArrayLike) -> FloatArray:
    """Area [hm²] — the quantity of pest control ([S21] §2.4.9: area that self-recovers)."""
    return _f(area_m2) / M2_PER_HA


def budyko_aet_fraction(
    kc: ArrayLike,
    et0_mm: ArrayLike,
    precip_mm: ArrayLike,
    root_depth_mm: ArrayLike,
    soil_depth_mm: ArrayLike,
    pawc: ArrayLike,
    vegetated: ArrayLike,
    seasonality_z: float,
) -> FloatArray:
    """AET/P of InVEST annual water yield (Budyko curve, Fu 1981 / Zhang et al. 2004) [–].

    Port of ``natcap.invest.annual_water_yield.fractp_op`` [S29] (User's Guide [S30]):
    PET = Kc·ET0; ω = Z·AWC/P + 1.25 capped at 5, AWC = min(root, soil depth)·PAWC;
    vegetated: min(PET/P, 1 + PET/P − (1 + (PET/P)^ω)^(1/ω)); other cover: min(PET, P)/P.
    Used as a reference (an upper bound of water conservation: InVEST's yield P − AET does
    not remove storm runoff, gep.md §3.1), not as the GEP water-conservation quantity.
    """
    precip = _f(precip_mm)
    pet = _f(kc) * _f(et0_mm)
    phi = pet / precip
    awc = np.minimum(_f(root_depth_mm), _f(soil_depth_mm)) * _f(pawc)
    omega = np.minimum(awc / precip * seasonality_z + 1.25, 5.0)
    aet_p = 1.0 + phi - np.power(1.0 + np.power(phi, omega), 1.0 / omega)
    vegetated_fraction = np.minimum(phi, aet_p)
    other_fraction = np.minimum(pet, precip) / precip
    return np.where(_f(vegetated) == 1, vegetated_fraction, other_fraction)


def budyko_water_yield_mm(aet_fraction: ArrayLike, precip_mm: ArrayLike) -> FloatArray:
    """InVEST water yield Y = (1 − AET/P) · P [mm] (``wyield_op`` [S29])."""
    return (1.0 - _f(aet_fraction)) * _f(precip_mm)
