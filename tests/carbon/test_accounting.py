"""Enterprise accounting (qingshan.carbon.accounting): worked cases, series, traces, properties.

Each worked case is computed by hand from the cited factor; the test then asserts that the
engine gives the same number.
"""

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.carbon import units
from qingshan.carbon.accounting import (
    CO2_PER_C,
    GJ_PER_TCE,
    AccountingError,
    Options,
    account,
    energy_by_type,
    totals,
)
from qingshan.carbon.factors import load_library

LIBRARY = load_library()
BUREAU = load_library([Path(__file__).parents[2] / "examples" / "carbon" / "factors"])


def rows(*specs, **columns):
    """Activity rows from (category, item, quantity, unit[, year]) tuples."""
    data = {
        "entity": [],
        "facility": [],
        "year": [],
        "category": [],
        "item": [],
        "quantity": [],
        "unit": [],
    }
    for spec in specs:
        category, item, quantity, unit, *rest = spec
        year = rest[0] if rest else 2022
        for key, value in zip(
            ("entity", "facility", "year", "category", "item", "quantity", "unit"),
            ("E", "F", year, category, item, float(quantity), unit),
            strict=True,
        ):
            data[key].append(value)
    return pl.DataFrame(data).with_columns(**{k: pl.Series(v) for k, v in columns.items()})


def one(spec, options=None, library=LIBRARY, **columns):
    return account(rows(spec, **columns), library, options or Options()).row(0, named=True)


def test_diesel_ipcc_factor_route():
    """10 t diesel. IPCC 2006 Vol. 2: NCV 43.0 GJ/t (Table 1.2), EF 74 100 kg CO2/TJ (Table 1.4),
    CH4 3 / N2O 0.6 kg/TJ (Ch. 2 Table 2.3); AR5 GWP 28 / 265; GB/T 2589 Annex A 1.4571 kgce/kg.
    AD = 430 GJ; CO2 = 430 × 0.0741 = 31.863 t; CH4 = 0.00129 t; N2O = 0.000258 t;
    CO2e = 31.863 + 0.03612 + 0.06837 = 31.96749 t; energy = 14.571 tce."""
    row = one(("combustion", "diesel", 10, "t"))
    assert row["co2_t"] == pytest.approx(31.863, rel=1e-12)
    assert row["ch4_t"] == pytest.approx(0.00129, rel=1e-12)
    assert row["n2o_t"] == pytest.approx(0.000258, rel=1e-12)
    assert row["co2e_t"] == pytest.approx(31.96749, rel=1e-12)
    assert row["energy_tce"] == pytest.approx(14.571, rel=1e-12)
    assert row["factor_id"] == "ipcc2006/diesel/co2_ef"
    assert row["factor_value"] == 74100
    assert "Table 1.4" in row["factor_source"]


def test_gwp_set_changes_only_co2e():
    """Same diesel with AR6 (CH4 27.9, N2O 273): CO2e = 31.863 + 0.035991 + 0.070434."""
    row = one(("combustion", "diesel", 10, "t"), Options(gwp="AR6"))
    assert row["co2e_t"] == pytest.approx(31.863 + 0.00129 * 27.9 + 0.000258 * 273, rel=1e-12)
    assert row["gwp_set"] == "AR6"


def test_carbon_content_route_natural_gas_by_volume():
    """1 × 10⁴ Nm³ natural gas, GB/T 32151.x—2024 附录C 表C.1 (example bureau file): NCV 389.31
    GJ/10⁴Nm³, CC 0.0153 tC/GJ, OF 99 %: 389.31 × 0.0153 × 0.99 × 44/12 = 21.62 tCO2 (notes §7.1
    derived EF 21.62 tCO2/10⁴Nm³); GB/T 2589 1.3300 kgce/m³ → 13.3 tce."""
    row = one(
        ("combustion", "natural_gas", 1, "万立方米"),
        Options(gases="co2"),
        BUREAU,
        factor_series=["gbt32151_2024_c1"],
    )
    assert row["co2_t"] == pytest.approx(389.31 * 0.0153 * 0.99 * CO2_PER_C, rel=1e-12)
    assert row["co2_t"] == pytest.approx(21.62, abs=5e-3)
    assert row["energy_tce"] == pytest.approx(13.3, rel=1e-12)
    assert row["method"] == "AD × CC × OF × 44/12"


def test_activity_in_energy_units_needs_no_ncv():
    """1 TJ natural gas: CO2 = 56 100 kg/TJ × 1 TJ = 56.1 t; energy = 1000 GJ / 29.307."""
    row = one(("combustion", "natural_gas", 1, "TJ"))
    assert row["co2_t"] == pytest.approx(56.1, rel=1e-12)
    assert row["energy_tce"] == pytest.approx(1000 / 29.307, rel=1e-12)


def test_tce_on_the_ncv_basis():
    """10 t diesel on the NCV basis: 430 GJ / 29.307 GJ/tce = 14.6723 tce."""
    row = one(("combustion", "diesel", 10, "t"), Options(tce_basis="ncv"))
    assert row["energy_tce"] == pytest.approx(430 / GJ_PER_TCE, rel=1e-12)


@pytest.mark.parametrize(
    ("series", "year", "region", "co2"),
    [
        ("mee_nbs", 2022, "CN", 536.6),  # 公告2024年第33号: 0.5366 kgCO2/kWh
        ("mee_nbs", 2023, "CN-CQ", 558.1),  # 公告2025年第47号: Chongqing 0.5581
        ("mee_nbs", 2023, "CN-SOUTHWEST", 247.2),  # 公告2025年第47号: Southwest 0.2472
        ("ets_grid", 2022, "CN", 570.3),  # ETS notice Feb 2023: 0.5703 tCO2/MWh
    ],
)
def test_purchased_electricity_location_based(series, year, region, co2):
    """100 × 10⁴ kWh = 1 000 MWh; energy = 1 000 MWh × 0.1229 tce/MWh (GB/T 2589 当量值)."""
    row = one(
        ("purchased_electricity", "electricity", 100, "万千瓦时", year),
        factor_series=[series],
        region=[region],
    )
    assert row["co2_t"] == pytest.approx(co2, rel=1e-12)
    assert row["factor_id"].startswith(f"{series}/electricity/co2/{year}/{region}")
    assert row["energy_tce"] == pytest.approx(122.9, rel=1e-12)


def test_market_based_electricity():
    """Market-based 2022: grid power at the residual 0.5856 kgCO2/kWh (national, excluding
    market-traded non-fossil), green power at the instrument's 0."""
    result = account(
        rows(
            ("purchased_electricity", "electricity", 1000, "MWh"),
            ("purchased_electricity", "green_electricity", 1000, "MWh"),
        ),
        LIBRARY,
        Options(electricity_basis="market"),
    )
    assert result["co2_t"].to_list() == pytest.approx([585.6, 0.0], rel=1e-12)
    assert result["factor_id"][0] == "mee_nbs/electricity_residual/co2/2022/CN"


def test_green_power_counts_at_the_grid_average_location_based():
    row = one(("purchased_electricity", "green_electricity", 1000, "MWh"))
    assert row["co2_t"] == pytest.approx(536.6, rel=1e-12)


def test_exported_energy_is_subtracted():
    """GB/T 32150 general formula: exported electricity 100 MWh (2023, 0.5306) = −53.06 t."""
    row = one(("exported_electricity", "electricity", 100, "MWh", 2023))
    assert row["co2_t"] == pytest.approx(-53.06, rel=1e-12)
    assert row["energy_tce"] == pytest.approx(-12.29, rel=1e-12)


def test_purchased_heat_default():
    """GB/T 32150—2025 §7.5.6–7.5.7: 0.11 tCO2/GJ; GB/T 2589 热力 0.03412 kgce/MJ."""
    row = one(("purchased_heat", "heat", 1000, "GJ"))
    assert row["co2_t"] == pytest.approx(110.0, rel=1e-12)
    assert row["energy_tce"] == pytest.approx(34.12, rel=1e-12)


def test_process_limestone():
    """100 t CaCO3 × 0.43971 tCO2/t (stoichiometry) = 43.971 t; no energy."""
    row = one(("process", "calcium_carbonate", 100, "t"))
    assert row["co2_t"] == pytest.approx(43.971, rel=1e-12)
    assert row["energy_tce"] == 0.0


def test_reported_gases_and_removals():
    """Statistics: 10 t CH4 (AR5 28) = 280 tCO2e; a 500 t CO2 sink enters as −500."""
    result = account(
        rows(("emission", "ch4", 10, "t"), ("removal", "co2", 500, "t")), LIBRARY, Options()
    )
    assert result["co2e_t"].to_list() == [280.0, -500.0]


def test_electricity_series_never_substituted():
    """ETS has no 2023 factor: an error naming ets_grid, not the MEE/NBS 0.5306."""
    with pytest.raises(AccountingError, match=r"ets_grid.*2023"):
        one(("purchased_electricity", "electricity", 1, "MWh", 2023), factor_series=["ets_grid"])


def test_missing_region_year_is_an_error_not_the_national_value():
    with pytest.raises(AccountingError, match="region CN-CQ"):
        one(("purchased_electricity", "electricity", 1, "MWh", 2021), region=["CN-CQ"])


def test_missing_non_co2_factor_is_an_error_unless_co2_only():
    """Coke has no CH4/N2O factor in the shipped IPCC file; CO2 alone uses 107 000 kg/TJ."""
    with pytest.raises(AccountingError, match=r"ch4_ef.*coke"):
        one(("combustion", "coke", 1, "t"))
    row = one(("combustion", "coke", 1, "t"), Options(gases="co2"))
    assert row["co2_t"] == pytest.approx(28.2 * 0.107, rel=1e-12)


def test_item_outside_its_category_is_refused():
    with pytest.raises(AccountingError, match="category 'combustion' takes fuel"):
        one(("combustion", "electricity", 1, "MWh"))


def test_unknown_keys_are_errors_in_the_pure_api():
    with pytest.raises(AccountingError, match="unknown item 'peat'"):
        one(("combustion", "peat", 1, "t"))


def test_unit_that_does_not_convert():
    with pytest.raises(AccountingError, match="万立方米"):
        one(("combustion", "natural_gas", 1, "万立方米"))


# --------------------------------------------------------------------------------------------
# Trace completeness: an auditor recomputes every row from its trace alone
# --------------------------------------------------------------------------------------------


def recompute(row):
    """Recompute a row from its quantity, unit and the values and units in its trace."""
    trace = json.loads(row["trace"])
    factors = {f["role"]: f for f in trace["factors"]}
    unit, quantity = trace["unit"], row["quantity"]
    sign = -1.0 if row["category"] in ("exported_electricity", "exported_heat", "removal") else 1.0

    def per(role, result_unit, activity_unit=unit):
        factor = factors[role]
        return units.coefficient(factor["value"], factor["unit"], activity_unit, result_unit)

    co2 = ch4 = n2o = 0.0
    if row["category"] == "combustion":
        energy = per("ncv", "GJ") if "ncv" in factors else units.conversion(unit, "GJ")
        if "co2_ef" in factors:
            co2 = energy * per("co2_ef", "t", "GJ")
        else:
            of = factors["oxidation_factor"]
            co2 = (
                energy
                * per("carbon_content", "t", "GJ")
                * CO2_PER_C
                * units.conversion(of["unit"], "dimensionless")
                * of["value"]
            )
        if "ch4_ef" in factors:
            ch4, n2o = energy * per("ch4_ef", "t", "GJ"), energy * per("n2o_ef", "t", "GJ")
    elif row["category"] in ("emission", "removal"):
        mass = units.conversion(unit, "t")
        co2, ch4, n2o = (mass if row["item"] == gas else 0.0 for gas in ("co2", "ch4", "n2o"))
    else:
        co2 = per("co2", "t")
    if "tce" in factors:
        tce = per("tce", "tce")
    elif row["category"] in ("process", "emission", "removal"):
        tce = 0.0
    else:
        tce = (
            energy
            if trace["tce_basis"] == "ncv" and "ncv" in factors
            else units.conversion(unit, "GJ")
        ) / GJ_PER_TCE
    gwp = {gas: factors[f"gwp_{gas}"]["value"] if ch4 or n2o else 0.0 for gas in ("ch4", "n2o")}
    co2e = co2 + ch4 * gwp["ch4"] + n2o * gwp["n2o"]
    return {
        name: sign * value * quantity
        for name, value in zip(
            ("co2_t", "ch4_t", "n2o_t", "co2e_t", "energy_tce"),
            (co2, ch4, n2o, co2e, tce),
            strict=True,
        )
    }


MIXED = rows(
    ("combustion", "diesel", 12.5, "t"),
    ("combustion", "bituminous_coal", 3000, "吨"),
    ("combustion", "natural_gas", 2.5, "TJ"),
    ("combustion", "lpg", 40, "t"),
    ("process", "dolomite", 800, "t"),
    ("purchased_electricity", "electricity", 350, "万千瓦时"),
    ("purchased_electricity", "green_electricity", 1200, "MWh"),
    ("purchased_heat", "heat", 4200, "GJ"),
    ("exported_heat", "heat", 600, "GJ"),
    ("exported_electricity", "electricity", 75, "MWh", 2023),
    ("emission", "n2o", 2, "t"),
    ("removal", "co2", 900, "t"),
)


@pytest.mark.parametrize(
    "options",
    [Options(), Options(gwp="AR4", tce_basis="ncv"), Options(electricity_basis="market")],
)
def test_every_row_is_reproducible_from_its_trace(options):
    result = account(MIXED, LIBRARY, options)
    for row in result.iter_rows(named=True):
        expected = recompute(row)
        for column, value in expected.items():
            assert row[column] == pytest.approx(value, rel=1e-12, abs=1e-12), (row["item"], column)


def test_trace_factors_are_the_library_values():
    result = account(MIXED, LIBRARY, Options())
    by_id = {factor.factor_id: factor for factor in LIBRARY.factors}
    for trace in result["trace"]:
        for factor in json.loads(trace)["factors"]:
            published = by_id[factor["id"]]
            assert (factor["value"], factor["unit"]) == (published.value, published.unit)
            assert factor["source"] == published.citation


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

SPECS = [
    ("combustion", "diesel", "t"),
    ("combustion", "anthracite", "kg"),
    ("combustion", "natural_gas", "GJ"),
    ("process", "calcium_carbonate", "t"),
    ("purchased_electricity", "electricity", "kWh"),
    ("purchased_heat", "heat", "GJ"),
    ("exported_electricity", "electricity", "MWh"),
    ("emission", "ch4", "t"),
]
quantities = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SPECS), quantities, st.floats(min_value=0.0, max_value=1e3))
def test_emissions_are_linear_in_activity(spec, quantity, scale):
    category, item, unit = spec
    base = account(rows((category, item, quantity, unit)), LIBRARY, Options())
    scaled = account(rows((category, item, quantity * scale, unit)), LIBRARY, Options())
    for column in ("co2_t", "ch4_t", "n2o_t", "co2e_t", "energy_tce"):
        assert scaled[column][0] == pytest.approx(base[column][0] * scale, rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SPECS),
            quantities,
            st.sampled_from("ABC"),
            st.sampled_from(["f1", "f2", "f3"]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_sum_of_facilities_equals_entity(records):
    frame = rows(*[(c, i, q, u) for (c, i, u), q, _, _ in records]).with_columns(
        entity=pl.Series([entity for *_, entity, _ in records]),
        facility=pl.Series([facility for *_, facility in records]),
    )
    result = account(frame, LIBRARY, Options())
    by_facility = totals(result, ["entity", "facility"])
    rolled_up = totals(by_facility, ["entity"])
    by_entity = totals(result, ["entity"])
    assert rolled_up["entity"].to_list() == by_entity["entity"].to_list()
    for column in ("co2_t", "co2e_t", "energy_tce"):
        assert rolled_up[column].to_list() == pytest.approx(
            by_entity[column].to_list(), rel=1e-9, abs=1e-6
        )


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(SPECS), quantities, quantities)
def test_splitting_a_row_does_not_change_the_total(spec, first, second):
    category, item, unit = spec
    whole = account(rows((category, item, first + second, unit)), LIBRARY, Options())
    parts = account(
        rows((category, item, first, unit), (category, item, second, unit)), LIBRARY, Options()
    )
    assert parts["co2e_t"].sum() == pytest.approx(whole["co2e_t"][0], rel=1e-9, abs=1e-9)


def test_energy_by_type_in_tce():
    """GB/T 2589 Annex A: 100 t diesel × 1.4571 + 1 000 MWh × 0.1229 − 100 MWh exported;
    process rows carry no energy."""
    result = account(
        rows(
            ("combustion", "diesel", 100, "t"),
            ("purchased_electricity", "electricity", 1000, "MWh"),
            ("exported_electricity", "electricity", 100, "MWh"),
            ("process", "calcium_carbonate", 10, "t"),
        ),
        LIBRARY,
        Options(),
    )
    table = energy_by_type(result, ["entity", "year"])
    assert dict(zip(table["item"], table["energy_tce"], strict=True)) == pytest.approx(
        {"diesel": 145.71, "electricity": 110.61}
    )
