"""Formula keys that specifications name, and how each is evaluated.

A specification (``gep/specs/*.toml``) names a formula key per item; this catalogue says what
the key needs. Two bases:

* ``area`` — a per-area formula evaluated on every raster cell or every township × ecosystem
  row, from *drivers* (rasters, table columns, per-ecosystem parameters or district constants)
  and the area [m²], then summed.
* ``statistic`` — a formula of township statistics (yearbook lines, inventories, monitoring
  loads), evaluated per statistics row.

Coefficients (keyword arguments of the kernels, e.g. 1.63 t CO₂ per t of dry matter) come
from the specification and may be overridden in a run's configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from qingshan.gep import formulas as f

Basis = Literal["area", "statistic"]


@dataclass(frozen=True)
class Formula:
    key: str
    basis: Basis
    inputs: tuple[str, ...]
    """Drivers (area basis, before the area) or statistics (statistic basis), in kernel order."""
    unit: str
    """Base unit of the result."""
    kernel: Callable[..., Any]
    coefficients: tuple[str, ...] = ()


def _identity(value: Any) -> Any:
    return value


FORMULAS: dict[str, Formula] = {
    formula.key: formula
    for formula in (
        Formula(
            "water_conservation",
            "area",
            ("precip_mm", "runoff_coefficient", "et_mm"),
            "m3",
            f.water_conservation,
        ),
        Formula(
            "soil_retention",
            "area",
            ("r_factor", "k_factor", "ls_factor", "c_factor", "p_factor"),
            "t",
            f.soil_retention,
        ),
        Formula(
            "sand_fixation",
            "area",
            ("potential_wind_erosion_t_ha", "actual_wind_erosion_t_ha"),
            "t",
            f.sand_fixation,
        ),
        Formula(
            "co2_from_dry_matter",
            "area",
            ("npp_dry_matter_g_m2",),
            "t",
            f.co2_from_dry_matter,
            ("co2_per_dry_matter",),
        ),
        Formula("co2_from_nep", "area", ("nep_gc_m2",), "t", f.co2_from_nep),
        Formula(
            "oxygen_from_dry_matter",
            "area",
            ("npp_dry_matter_g_m2",),
            "t",
            f.oxygen_from_dry_matter,
            ("o2_per_dry_matter",),
        ),
        Formula(
            "transpiration_cooling",
            "area",
            ("transpiration_heat_kj_m2_d", "cooling_days"),
            "kWh",
            f.transpiration_cooling_kwh,
            ("ac_efficiency_ratio",),
        ),
        Formula(
            "water_surface_cooling",
            "area",
            ("water_evaporation_mm", "cooling_evaporation_share", "humidifying_evaporation_share"),
            "kWh",
            f.water_surface_cooling_kwh,
            ("latent_heat_j_g", "humidifier_kwh_m3"),
        ),
        Formula("ecosystem_area", "area", (), "hm2", f.area_hm2),
        Formula(
            "lake_flood_capacity",
            "statistic",
            ("lake_area_km2",),
            "m3",
            f.lake_flood_capacity,
            ("ln_coefficient", "exponent", "exchanges"),
        ),
        Formula(
            "reservoir_flood_capacity",
            "statistic",
            ("reservoir_capacity_m3",),
            "m3",
            f.reservoir_flood_capacity,
            ("share",),
        ),
        Formula(
            "marsh_flood_capacity",
            "statistic",
            ("marsh_area_km2",),
            "m3",
            f.marsh_flood_capacity,
            ("depth_m",),
        ),
        Formula("statistic", "statistic", (), "", _identity),
    )
}
"""``statistic`` takes the item's own ``input`` statistic as its quantity."""

STATISTIC_UNITS = {"lake_area_km2": "km2", "reservoir_capacity_m3": "m3", "marsh_area_km2": "km2"}
"""Units of the statistics that formulas (not items) read."""

DRIVER_UNITS = {
    "precip_mm": "mm",
    "et_mm": "mm",
    "runoff_coefficient": "1",
    "r_factor": "MJ mm ha-1 h-1 a-1",
    "k_factor": "t ha h ha-1 MJ-1 mm-1",
    "ls_factor": "1",
    "c_factor": "1",
    "p_factor": "1",
    "potential_wind_erosion_t_ha": "t ha-1 a-1",
    "actual_wind_erosion_t_ha": "t ha-1 a-1",
    "npp_dry_matter_g_m2": "g m-2 a-1",
    "nep_gc_m2": "gC m-2 a-1",
    "transpiration_heat_kj_m2_d": "kJ m-2 d-1",
    "cooling_days": "d",
    "water_evaporation_mm": "mm",
    "cooling_evaporation_share": "1",
    "humidifying_evaporation_share": "1",
}
"""Units of the per-area drivers (documentation and the output's input list)."""
