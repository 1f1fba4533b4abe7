"""Invariants of the accounts: table route = raster route, blocks do not matter, GEP is
additive over townships, and value is linear in price (hypothesis properties)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.gep import accounts, engine
from qingshan.gep.prices import load_price_set
from qingshan.gep.spec import load_spec

SPEC = load_spec("ouyang-garze-2017")
PRICES = load_price_set("garze-2010")
ECOSYSTEMS = list(SPEC.ecosystems)
TOWNSHIPS = ["甲镇", "乙乡", "丙街道"]
CELL_AREA = 900.0
DRIVERS = engine.Drivers(
    ecosystem_parameters={
        "runoff_coefficient": dict.fromkeys(ECOSYSTEMS, 0.05) | {"urban": 0.6},
        "p_factor": dict.fromkeys(ECOSYSTEMS, 1.0) | {"farmland": 0.4},
        "transpiration_heat_kj_m2_d": {"forest": 2800.0, "shrub": 1300.0, "grassland": 1150.0},
    },
    constants={
        "cooling_days": 90,
        "water_evaporation_mm": 900,
        "cooling_evaporation_share": 0.4,
        "humidifying_evaporation_share": 0.1,
        "potential_wind_erosion_t_ha": 1.0,
        "actual_wind_erosion_t_ha": 0.4,
    },
)
RASTER_DRIVERS = (
    "precip_mm",
    "et_mm",
    "r_factor",
    "k_factor",
    "ls_factor",
    "c_factor",
    "npp_dry_matter_g_m2",
)
RANGES = {
    "precip_mm": (600, 1800),
    "et_mm": (300, 900),
    "r_factor": (1000, 6000),
    "k_factor": (0.01, 0.06),
    "ls_factor": (0.1, 20),
    "c_factor": (0, 1),
    "npp_dry_matter_g_m2": (50, 1500),
}
COEFFICIENTS = engine.coefficients_for(SPEC)


def piecewise_district(seed: int, shape: tuple[int, int] = (24, 31)):
    """Zones and ecosystems at random; every driver constant per township × ecosystem."""
    rng = np.random.default_rng(seed)
    zone = rng.integers(-1, len(TOWNSHIPS), shape)
    ecosystem = rng.integers(-1, len(ECOSYSTEMS), shape)
    per_zone = {
        name: rng.uniform(*RANGES[name], (len(TOWNSHIPS), len(ECOSYSTEMS)))
        for name in RASTER_DRIVERS
    }
    rasters = {
        name: np.where((zone >= 0) & (ecosystem >= 0), values[zone, ecosystem], np.nan)
        for name, values in per_zone.items()
    }
    return zone, ecosystem, per_zone, rasters


def raster_route(zone, ecosystem, rasters, block_rows: int) -> pl.DataFrame:
    accumulator = engine.ZonalAccumulator(
        SPEC, TOWNSHIPS, ECOSYSTEMS, DRIVERS, COEFFICIENTS, CELL_AREA
    )
    for start in range(0, zone.shape[0], block_rows):
        rows = slice(start, start + block_rows)
        accumulator.add(zone[rows], ecosystem[rows], {name: r[rows] for name, r in rasters.items()})
    return accumulator.quantities()


def table_route(zone, ecosystem, per_zone) -> pl.DataFrame:
    rows = []
    for t, township in enumerate(TOWNSHIPS):
        for e, name in enumerate(ECOSYSTEMS):
            cells = int(np.count_nonzero((zone == t) & (ecosystem == e)))
            if cells:
                rows.append(
                    {
                        "township": township,
                        "ecosystem": name,
                        "area_m2": cells * CELL_AREA,
                        **{d: float(per_zone[d][t, e]) for d in RASTER_DRIVERS},
                    }
                )
    frame, _ = engine.table_quantities(SPEC, pl.DataFrame(rows), ECOSYSTEMS, DRIVERS, COEFFICIENTS)
    return frame


def _aligned(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    key = ["township", "ecosystem", "indicator", "item"]
    return a.join(b, on=key, how="full", coalesce=True, suffix="_b").fill_null(0.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_table_route_equals_raster_route_on_a_piecewise_constant_district(seed: int) -> None:
    zone, ecosystem, per_zone, rasters = piecewise_district(seed)
    joined = _aligned(
        raster_route(zone, ecosystem, rasters, block_rows=7), table_route(zone, ecosystem, per_zone)
    )
    np.testing.assert_allclose(joined["quantity"], joined["quantity_b"], rtol=1e-9, atol=1e-6)
    assert joined.height > 0


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_block_size_does_not_change_the_sums(seed: int, block_rows: int) -> None:
    zone, ecosystem, _, rasters = piecewise_district(seed)
    joined = _aligned(
        raster_route(zone, ecosystem, rasters, block_rows),
        raster_route(zone, ecosystem, rasters, zone.shape[0]),
    )
    np.testing.assert_allclose(joined["quantity"], joined["quantity_b"], rtol=1e-9, atol=1e-6)


def _statistics(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    inputs = [
        "agriculture_output_value",
        "so2_purified",
        "cod_purified",
        "tourist_visits",
        "water_use_domestic",
        "hydropower_generation",
        "lake_area_km2",
    ]
    return pl.DataFrame(
        [
            {
                "township": t,
                "ecosystem": engine.UNASSIGNED,
                "input": name,
                "value": float(rng.uniform(0, 1e6)),
            }
            for t in TOWNSHIPS
            for name in inputs
        ]
    )


def _lines(seed: int, townships: list[str], prices=PRICES) -> pl.DataFrame:
    zone, ecosystem, per_zone, _ = piecewise_district(seed)
    area = table_route(zone, ecosystem, per_zone)
    statistics, _ = engine.statistic_quantities(SPEC, _statistics(seed), COEFFICIENTS)
    quantities = pl.concat([area, statistics]).filter(pl.col("township").is_in(townships))
    items = accounts.item_table(SPEC, accounts.Pricing(prices, 2010))
    return accounts.value_lines(quantities, items)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_gep_is_additive_over_townships(seed: int) -> None:
    whole = float(_lines(seed, TOWNSHIPS)["value"].sum())
    parts = sum(float(_lines(seed, [t])["value"].sum()) for t in TOWNSHIPS)
    assert whole == pytest.approx(parts, rel=1e-12)
    by_township = accounts.by_township(
        _lines(seed, TOWNSHIPS),
        pl.DataFrame(schema={"township": pl.String, "area_m2": pl.Float64}),
        pl.DataFrame(schema={"township": pl.String, "input": pl.String, "value": pl.Float64}),
    )
    assert float(by_township["gep_wan"].sum()) * 1e4 == pytest.approx(whole, rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.01, 100))
def test_value_is_linear_in_price(seed: int, factor: float) -> None:
    lines = _lines(seed, TOWNSHIPS)
    scaled = _lines(seed, TOWNSHIPS, PRICES.scaled(factor))
    monetary = pl.col("monetary")
    priced = float(lines.filter(~monetary)["value"].sum())
    assert float(scaled.filter(~monetary)["value"].sum()) == pytest.approx(
        priced * factor, rel=1e-12
    )
    # Yearbook output values are money already: prices do not touch them.
    assert float(scaled.filter(monetary)["value"].sum()) == pytest.approx(
        float(lines.filter(monetary)["value"].sum()), rel=1e-12
    )


def test_a_constant_fills_ecosystems_the_parameter_table_leaves_out() -> None:
    drivers = engine.Drivers(
        {**DRIVERS.ecosystem_parameters, "runoff_coefficient": {"forest": 0.1}},
        {**DRIVERS.constants, "runoff_coefficient": 0.5},
    )
    columns = {name: np.zeros(2) for name in RASTER_DRIVERS}
    columns |= {"precip_mm": np.array([1000.0, 1000.0]), "et_mm": np.array([400.0, 400.0])}
    index = np.array([ECOSYSTEMS.index("forest"), ECOSYSTEMS.index("farmland")])
    quantities, _ = engine.evaluate_area_items(
        SPEC, columns, np.array([1e6, 1e6]), index, ECOSYSTEMS, drivers, COEFFICIENTS
    )
    # forest (1000 − 100 − 400) mm; farmland (1000 − 500 − 400) mm; over 1 km².
    assert quantities["water_conservation.water"].tolist() == pytest.approx([5e5, 1e5])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_township_items_add_up_to_the_indicator_table(seed: int) -> None:
    lines = _lines(seed, TOWNSHIPS)
    items = accounts.item_table(SPEC, accounts.Pricing(PRICES, 2010))
    areas = pl.DataFrame({"township": TOWNSHIPS, "area_m2": [1e6, 2e6, 3e6]})
    per_township = accounts.by_township_item(lines, areas)
    totals = per_township.group_by("indicator", "item").agg(pl.col("value_wan").sum())
    table = accounts.by_indicator(lines, items).join(
        totals, on=["indicator", "item"], suffix="_sum"
    )
    np.testing.assert_allclose(table["value_wan"], table["value_wan_sum"], rtol=1e-12)
