"""Re-compute the Garzê 2010 accounting (白玛卓嘎 et al., 生态学报 2017, 37(19), [S21]) from its
physical quantities and prices: Table 3 (功能量, 单价, 价值量) and §3.1–3.4.

Table 3 prints quantities rounded (e.g. 321.49亿m³), so each value is checked within the
rounding of its quantity: |V − Q × price| ≤ ½ unit of the quantity's last digit × unit value,
plus ½ unit of the value's last digit.
"""

from __future__ import annotations

import polars as pl
import pytest

from qingshan.gep import accounts
from qingshan.gep import formulas as f
from qingshan.gep.engine import UNASSIGNED
from qingshan.gep.prices import load_price_set, unit_value
from qingshan.gep.spec import load_spec
from qingshan.gep.units import factor_between

YI = 1e8
SPEC = load_spec("ouyang-garze-2017")
PRICES = load_price_set("garze-2010")
PRICING = accounts.Pricing(PRICES, 2010)

# (indicator, item, printed quantity, its unit, decimals printed, printed value in 亿元)
TABLE_3 = [
    ("water_supply", "domestic", 1.36, "亿m3", 2, 3.5400),
    ("water_supply", "industrial", 150.17, "亿m3", 2, 540.6113),
    ("water_supply", "agricultural", 17.31, "亿m3", 2, 1.2117),
    ("hydropower", "generation", 95.30, "亿kWh", 2, 50.5090),
    ("water_conservation", "water", 321.49, "亿m3", 2, 2269.7074),
    ("sand_fixation", "sand", 779.42, "万t", 2, 2.2835),
    ("flood_regulation", "lake", 2.43, "亿m3", 2, 17.1430),
    ("flood_regulation", "reservoir", 0.01, "亿m3", 2, 0.0684),
    ("flood_regulation", "marsh", 6.00, "亿m3", 2, 42.3436),
    ("air_purification", "so2", 1137, "t", 0, 0.0136),
    ("air_purification", "nox", 2772, "t", 0, 0.0175),
    ("air_purification", "dust", 941, "t", 0, 0.0014),
    ("water_purification", "cod", 5424, "t", 0, 0.0380),
    ("water_purification", "nh3n", 625, "t", 0, 0.0055),
    ("carbon_sequestration", "co2", 0.31, "亿t", 2, 117.3548),
    ("oxygen_release", "o2", 2.51, "亿t", 2, 1821.9182),
    ("climate_regulation", "vegetation", 2799.10, "亿kWh", 2, 1483.5208),
    ("climate_regulation", "water_surface", 1272.35, "亿kWh", 2, 674.3433),
    ("pest_control", "forest", 158, "万hm2", 0, 5.9250),
    ("pest_control", "grassland", 711.13, "万hm2", 2, 8.0003),
]
# Material output values (亿元, Table 3) and the printed totals and shares (§3.1–3.4).
OUTPUT_VALUES = {
    "agriculture": 12.2875,
    "forestry": 2.3777,
    "livestock": 22.0760,
    "fishery": 0.0356,
}
CATEGORY_TOTALS = {"material": 632.64, "regulating": 6842.28, "cultural": 70.67}
CATEGORY_SHARES = {"material": 8.38, "regulating": 90.68, "cultural": 0.94}


def _item(indicator: str, item: str):
    return next(i for ind, i in SPEC.items() if ind.id == indicator and i.id == item)


def _lines(quantities: list[tuple[str, str, float]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        [("甘孜州", UNASSIGNED, ind, item, q) for ind, item, q in quantities],
        schema=["township", "ecosystem", "indicator", "item", "quantity"],
        orient="row",
    )
    return accounts.value_lines(frame, accounts.item_table(SPEC, PRICING))


@pytest.mark.parametrize(("indicator", "item", "quantity", "unit", "decimals", "printed"), TABLE_3)
def test_table_3_value_from_quantity_and_price(
    indicator: str, item: str, quantity: float, unit: str, decimals: int, printed: float
) -> None:
    spec_item = _item(indicator, item)
    base_quantity = quantity * factor_between(unit, spec_item.unit)
    value = float(_lines([(indicator, item, base_quantity)])["value"].sum()) / YI
    rounding = 0.5 * 10**-decimals * factor_between(unit, spec_item.unit)
    tolerance = rounding * unit_value(spec_item, PRICES) / YI + 0.5e-4
    assert value == pytest.approx(printed, abs=tolerance)


def test_soil_retention_from_the_retained_soil_and_its_three_components() -> None:
    # §3.2.2: 38.86亿t retained; λ 0.24, ρ 0.93 t/m³ → 10.03亿m³ × 15.58 = 156.2555亿元;
    # N 0.37 % → 1437.94万t × 875 = 125.8199; P 0.108 % → 419.72万t × 2800 = 117.5226.
    soil = 38.86 * YI
    value = float(_lines([("soil_retention", "soil", soil)])["value"].sum()) / YI
    tolerance = 0.005 * YI * unit_value(_item("soil_retention", "soil"), PRICES) / YI
    assert value == pytest.approx(156.2555 + 125.8199 + 117.5226, abs=tolerance)
    assert 0.24 * soil / 0.93 / YI == pytest.approx(10.03, abs=0.005 * 0.24 / 0.93 + 0.005)
    assert soil * 0.0037 / 1e4 == pytest.approx(1437.94, abs=0.005 * YI * 0.0037 / 1e4)


def test_sand_fixation_area_of_section_3_2_3() -> None:
    # 779.42万t ÷ (1.28 t/m³ × 0.1 m) = 60.89 km² of sand cover avoided.
    area_km2 = 779.42e4 / (1.28 * 0.1) / 1e6
    assert area_km2 == pytest.approx(60.89, abs=0.005)


def test_marsh_capacity_formula_gives_cubic_metres() -> None:
    # §3.2.4: marshes ≈ 70 % of 2864.27 km² of wetland hold 6.00亿m³ (eq. 9, 0.3 × S × 10⁶).
    capacity = f.marsh_flood_capacity(0.70 * 2864.27, depth_m=0.3)
    assert capacity / YI == pytest.approx(6.00, rel=0.01)


def test_category_totals_and_shares_of_section_3() -> None:
    quantities = [(ind, "output", value * YI) for ind, value in OUTPUT_VALUES.items()]
    for indicator, item, *_, printed in TABLE_3:
        spec_item = _item(indicator, item)
        quantities.append((indicator, item, printed * YI / unit_value(spec_item, PRICES)))
    quantities.append(
        (
            "soil_retention",
            "soil",
            399.5980 * YI / unit_value(_item("soil_retention", "soil"), PRICES),
        )
    )
    quantities.append(("recreation", "visits", 358.68e4))
    categories = accounts.by_category(_lines(quantities))
    totals = dict(zip(categories["category"], categories["value_wan"] / 1e4, strict=True))
    shares = dict(zip(categories["category"], categories["share_pct"], strict=True))
    for category, printed in CATEGORY_TOTALS.items():
        assert totals[category] == pytest.approx(printed, abs=0.015)
        assert shares[category] == pytest.approx(CATEGORY_SHARES[category], abs=0.006)
    assert sum(totals.values()) == pytest.approx(7545.59, abs=0.02)
