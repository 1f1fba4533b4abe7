"""The shipped configuration: every specification loads, statuses are carried, shipped price
sets mark what is not verified, and constant prices deflate per price key."""

from __future__ import annotations

import pytest

from qingshan.gep import prices as price_sets
from qingshan.gep.spec import (
    CATEGORIES,
    SpecError,
    available_specs,
    library,
    load_spec,
    parse_spec,
)

STATUSES = ("VERIFIED-PRIMARY", "VERIFIED-2", "UNVERIFIED")


def test_the_five_specifications_are_shipped() -> None:
    assert available_specs() == [
        "chongqing-2023",
        "gbt-46869-2025",
        "mee-2020",
        "ndrc-nbs-2022",
        "ouyang-garze-2017",
    ]


@pytest.mark.parametrize("spec_id", available_specs())
def test_every_indicator_has_category_unit_formula_valuation_and_status(spec_id: str) -> None:
    spec = load_spec(spec_id)
    assert spec.status in STATUSES
    for indicator, item in spec.items():
        assert indicator.category in CATEGORIES
        assert any(word in indicator.status for word in STATUSES)
        assert item.unit and item.display_unit and item.values


def test_national_specifications_are_unverified_and_say_why() -> None:
    # gep.md §9.1–9.3: the national texts were not obtainable.
    for spec_id in ("ndrc-nbs-2022", "gbt-46869-2025", "mee-2020", "chongqing-2023"):
        spec = load_spec(spec_id)
        assert spec.status == "UNVERIFIED"
        assert spec.note


def test_spec_differences_the_notes_record() -> None:
    ndrc = {i.id for i in load_spec("ndrc-nbs-2022").indicators}
    assert "oxygen_release" not in ndrc and "pest_control" not in ndrc  # §1.1 hypothesis
    gbt = load_spec("gbt-46869-2025")
    assert gbt.deduct_outside_region  # GB/T 46869 definition, §9.2
    names = {i.id: i.zh for i in gbt.indicators}
    assert names["carbon_sequestration"] == "固定二氧化碳"
    assert names["climate_regulation"] == "局部气候调节"
    chongqing = {
        i.id: [item.id for item in i.items] for i in load_spec("chongqing-2023").indicators
    }
    assert chongqing["water_purification"] == ["cod", "nh3n", "tp"]  # [S2][S35]
    assert chongqing["air_purification"] == ["so2", "nox"]


def test_an_inconsistent_specification_is_refused() -> None:
    data = {
        "spec": {
            "id": "x",
            "title_zh": "",
            "title_en": "",
            "document": "",
            "year": 2024,
            "status": "UNVERIFIED",
            "note": "",
        },
        "ecosystems": {"forest": ["森林", "Forest"]},
        "indicators": [{"use": "climate_regulation", "status": "UNVERIFIED"}],
    }
    with pytest.raises(SpecError, match="unknown ecosystems"):
        parse_spec(data)
    data["indicators"] = [{"use": "no_such_indicator", "status": "UNVERIFIED"}]
    with pytest.raises(SpecError, match="not in the indicator library"):
        parse_spec(data)


def test_library_coefficients_carry_status_and_source() -> None:
    for values in library()["coefficients"].values():
        for coefficient in values.values():
            assert coefficient["status"] in STATUSES and coefficient["source"]


@pytest.mark.parametrize("set_id", price_sets.available_price_sets())
def test_shipped_price_sets_carry_year_source_and_status(set_id: str) -> None:
    for entry in price_sets.load_price_set(set_id).entries.values():
        assert entry.status in STATUSES and entry.source and entry.year


def test_garze_price_set_is_complete_for_its_specification() -> None:
    assert (
        price_sets.problems_of(
            load_spec("ouyang-garze-2017"), price_sets.load_price_set("garze-2010")
        )
        == []
    )


def test_youyang_platform_set_leaves_out_the_reservoir_cost_of_unknown_unit() -> None:
    # gep.md §7 item 10: 82.18 has no unit, so it is not shipped as 元/m³.
    youyang = price_sets.load_price_set("youyang-platform")
    assert "reservoir_cost" not in youyang.entries
    problems = price_sets.problems_of(load_spec("chongqing-2023"), youyang)
    assert any("reservoir_cost" in p for p in problems)


def test_constant_prices_use_the_price_keys_own_index_else_the_general_one() -> None:
    index = price_sets.PriceIndex(
        {
            ("*", 2020): 100.0,
            ("*", 2023): 110.0,
            ("electricity_price", 2020): 100.0,
            ("electricity_price", 2023): 125.0,
        }
    )
    assert index.ratio("electricity_price", 2023, 2020) == pytest.approx(0.8)
    assert index.ratio("reservoir_cost", 2023, 2020) == pytest.approx(100 / 110)
    with pytest.raises(KeyError, match="2019"):
        index.ratio("reservoir_cost", 2019, 2020)


def test_implausible_shares_are_flagged() -> None:
    import polars as pl

    from qingshan.gep.accounts import plausibility_warnings

    categories = pl.DataFrame(
        {"category": ["material", "regulating", "cultural"], "share_pct": [25.0, 70.0, 5.0]}
    )
    indicators = pl.DataFrame(
        {
            "indicator": ["climate_regulation", "climate_regulation", "x"],
            "share_pct": [50.0, 45.0, 5.0],
        }
    )
    warnings = plausibility_warnings(categories, indicators)
    assert len(warnings) == 2
    assert "climate_regulation is 95.0 %" in warnings[0] and "material" in warnings[1]
    calm = pl.DataFrame({"indicator": ["a", "b"], "share_pct": [60.0, 40.0]})
    assert (
        plausibility_warnings(categories.with_columns(pl.lit(10.0).alias("share_pct")), calm) == []
    )


def test_gbt_46869_deducts_products_from_outside_the_region() -> None:
    import polars as pl

    from qingshan.gep.accounts import totals

    lines = pl.DataFrame({"value": [100.0, 50.0], "value_constant": [90.0, 45.0]})
    statistics = pl.DataFrame(
        {
            "township": ["全区", "甲"],
            "input": ["outside_region_value", "gdp"],
            "value": [30.0, 300.0],
        }
    )
    gbt = totals(lines, load_spec("gbt-46869-2025"), statistics)
    assert (gbt.gep, gbt.outside_region, gbt.gep_gdp_ratio) == (120.0, 30.0, 0.4)
    ndrc = totals(lines, load_spec("ndrc-nbs-2022"), statistics)  # no such rule recorded
    assert (ndrc.gep, ndrc.outside_region) == (150.0, 0.0)
