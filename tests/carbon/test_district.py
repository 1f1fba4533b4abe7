"""A district's three years of activity data → inventory, intensity against targets, warning.

Uses the shipped example (examples/carbon/district_*.csv, synthetic numbers) with the example
bureau factor file for natural gas by volume (examples/carbon/factors).
"""

from pathlib import Path

import polars as pl
import pytest

from qingshan.carbon import accounting
from qingshan.carbon.accounting import Options, annual_for_targets, inventory
from qingshan.services import carbon as service

EXAMPLES = Path(__file__).parents[2] / "examples" / "carbon"
LIBRARY = service.library_for([EXAMPLES / "factors"])
OPTIONS = Options(gases="co2")


@pytest.fixture(scope="module")
def district():
    _, frame = service.load_activity(EXAMPLES / "district_activity.csv", LIBRARY)
    frame = frame.with_columns(sector=accounting.canonical(frame["sector"], "sectors"))
    _, enterprises = service.load_activity(EXAMPLES / "enterprise_activity.csv", LIBRARY)
    accounted = accounting.account(enterprises, LIBRARY, OPTIONS)
    return inventory(frame, LIBRARY, OPTIONS, accounted)


def rows_of(table, year, sector):
    return table.filter((pl.col("year") == year) & (pl.col("sector") == sector)).row(0, named=True)


def test_inventory_has_every_sector_for_three_years(district):
    sectors = district.filter(pl.col("year") == 2022)["sector"].to_list()
    assert sectors == [
        "energy_supply",
        "industry",
        "buildings",
        "transport",
        "agriculture",
        "waste",
        "lulucf",
        "total",
        "reporting_enterprises",
    ]
    assert sorted(district["year"].unique().to_list()) == [2021, 2022, 2023]


def test_transport_2021_by_hand(district):
    """Gasoline 95 000 t × 44.3 GJ/t × 69.3 kg/TJ + diesel 60 000 t × 43.0 × 74.1 kg/TJ
    (IPCC 2006 Vol. 2 Tables 1.2, 1.4) = 291 649.05 + 191 178 = 482 827.05 tCO2."""
    row = rows_of(district, 2021, "transport")
    assert row["direct_co2e_t"] == pytest.approx(482_827.05, rel=1e-12)
    assert row["energy_tce"] == pytest.approx(95_000 * 1.4714 + 60_000 * 1.4571, rel=1e-12)


def test_buildings_electricity_location_and_market_2022(district):
    """210 000 … 222 000 × 10⁴ kWh = 2 220 000 MWh × 0.5366 (location) or × 0.5856 (market,
    residual) + heat 1 550 000 GJ × 0.11."""
    row = rows_of(district, 2022, "buildings")
    heat = 1_550_000 * 0.11
    assert row["indirect_location_co2e_t"] == pytest.approx(2_220_000 * 0.5366 + heat)
    assert row["indirect_market_co2e_t"] == pytest.approx(2_220_000 * 0.5856 + heat)


def test_sinks_are_negative_and_totals_add_up(district):
    for year in (2021, 2022, 2023):
        part = district.filter(
            (pl.col("year") == year) & ~pl.col("sector").is_in(["total", "reporting_enterprises"])
        )
        total = rows_of(district, year, "total")
        for column in accounting.INVENTORY_COLUMNS:
            assert part[column].sum() == pytest.approx(total[column], rel=1e-12)
        assert rows_of(district, year, "lulucf")["direct_co2e_t"] < 0


def test_reporting_enterprises_share(district):
    row = rows_of(district, 2023, "reporting_enterprises")
    total = rows_of(district, 2023, "total")["total_location_co2e_t"]
    assert row["share_of_district_pct"] == pytest.approx(row["total_location_co2e_t"] / total * 100)


def test_shipped_emissions_example_is_the_inventory(district):
    """examples/carbon/district_emissions.csv holds the inventory's annual energy CO2 and tce."""
    shipped = pl.read_csv(EXAMPLES / "district_emissions.csv")
    computed = annual_for_targets(district)
    assert shipped["year"].to_list() == computed["year"].to_list()
    for column in ("co2_t", "energy_tce"):
        assert shipped[column].to_list() == pytest.approx(computed[column].to_list(), abs=1e-3)


def test_intensity_against_targets_gives_warnings():
    progress, trajectory = service.assess_targets(
        EXAMPLES / "district_targets.csv",
        EXAMPLES / "district_gdp.csv",
        EXAMPLES / "district_emissions.csv",
    )
    status = dict(zip(progress["indicator"], progress["status"], strict=True))
    assert status == {
        "co2_per_gdp": "on_pace",
        "energy_per_gdp": "on_pace",
        "total_energy": "off_pace",
        "non_fossil_share": "off_pace",
    }
    co2 = progress.filter(pl.col("indicator") == "co2_per_gdp").row(0, named=True)
    # 2021: 6 487 376.301 t / 9 000 000 万元; 2023: 6 779 933.191 t / (900 × 1.08² × 10⁴ 万元).
    assert co2["base_value"] == pytest.approx(6_487_376.301 / 9e6)
    assert co2["latest_value"] == pytest.approx(6_779_933.191 / (900 * 1.08**2 * 1e4))
    assert trajectory.filter(pl.col("indicator") == "co2_per_gdp")["year"].max() == 2025
