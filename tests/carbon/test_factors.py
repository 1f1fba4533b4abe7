"""The emission-factor library (qingshan.carbon.factors)."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.carbon.factors import FactorFileError, MissingFactor, load_library

LIBRARY = load_library()

NATIONAL_MEE_NBS = {2021: 0.5568, 2022: 0.5366, 2023: 0.5306}
"""MEE/NBS national average electricity factors [kgCO2/kWh] (notes carbon.md §4.1 A)."""


@pytest.mark.parametrize(("year", "value"), NATIONAL_MEE_NBS.items())
def test_mee_nbs_national_factors(year, value):
    factor = LIBRARY.find("mee_nbs", "electricity", "co2", year, "CN")
    assert (factor.value, factor.unit) == (value, "kgCO2/kWh")
    assert factor.doc_no and factor.published and factor.source


def test_ets_grid_factor_for_2022_reporting():
    """《关于做好2023—2025年发电行业企业温室气体排放报告管理有关工作的通知》: 0.5703 tCO2/MWh."""
    factor = LIBRARY.find("ets_grid", "electricity", "co2", 2022, "CN")
    assert (factor.value, factor.unit) == (0.5703, "tCO2/MWh")


def test_chongqing_provincial_factors():
    """Notes §7.4: Chongqing 2022 0.5227 and 2023 0.5581 (VERIFIED-2); 2021 not shipped."""
    assert LIBRARY.find("mee_nbs", "electricity", "co2", 2022, "CN-CQ").value == 0.5227
    assert LIBRARY.find("mee_nbs", "electricity", "co2", 2023, "CN-CQ").value == 0.5581
    with pytest.raises(MissingFactor, match=r"regions published for 2021: CN\)"):
        LIBRARY.find("mee_nbs", "electricity", "co2", 2021, "CN-CQ")


def test_the_two_electricity_series_are_kept_apart():
    """ETS has no 2023 value: asking for it is an error, never the MEE/NBS 0.5306."""
    with pytest.raises(MissingFactor, match=r"ets_grid.*2023"):
        LIBRARY.find("ets_grid", "electricity", "co2", 2023, "CN")
    assert LIBRARY.find("mee_nbs", "electricity", "co2", 2022, "CN").value != 0.5703


@given(
    st.sampled_from(["mee_nbs", "ets_grid"]),
    st.integers(2015, 2030),
    st.sampled_from(["CN", "CN-CQ", "CN-SOUTHWEST", "CN-NORTH", "CN-SC"]),
)
def test_a_lookup_returns_its_own_series_year_and_region_or_nothing(series, year, region):
    try:
        factor = LIBRARY.find(series, "electricity", "co2", year, region)
    except MissingFactor:
        return
    assert (factor.series, factor.year, factor.region) == (series, year, region)


def test_ipcc_diesel_defaults():
    """IPCC 2006 Vol. 2 Ch. 1 Table 1.2 (NCV 43.0 TJ/Gg) and Table 1.4 (74 100 kg CO2/TJ)."""
    assert LIBRARY.find("ipcc2006", "diesel", "ncv", 2023, None).value == 43.0
    assert LIBRARY.find("ipcc2006", "diesel", "co2_ef", 2023, None).value == 74100


def test_ipcc_factor_and_carbon_content_agree_within_rounding():
    """Notes §4.2: Table 1.4 EFs are the Table 1.3 carbon contents × 44/12, rounded (~0.1 %)."""
    for fuel in (
        "anthracite",
        "bituminous_coal",
        "lignite",
        "crude_oil",
        "gasoline",
        "diesel",
        "fuel_oil",
        "natural_gas",
    ):
        content = LIBRARY.find("ipcc2006", fuel, "carbon_content", None, None).value
        factor = LIBRARY.find("ipcc2006", fuel, "co2_ef", None, None).value
        assert content * 44 / 12 * 1000 == pytest.approx(factor, rel=3e-3), fuel


def test_gwp_sets_from_the_package():
    """IPCC 100-year GWPs: AR4 CH4 25 / N2O 298, AR5 28 / 265, AR6 27.9 / 273."""
    expected = {"AR4": (25, 298), "AR5": (28, 265), "AR6": (27.9, 273)}
    for name, (ch4, n2o) in expected.items():
        assert (LIBRARY.gwp("ch4", name).value, LIBRARY.gwp("n2o", name).value) == (ch4, n2o)
    with pytest.raises(MissingFactor, match="unknown GWP set"):
        LIBRARY.gwp("ch4", "SAR")


def test_stoichiometric_factors_follow_from_atomic_weights():
    """EF = n·M(CO2)/M(carbonate), IUPAC conventional atomic weights."""
    c, o, ca, mg, na = 12.011, 15.999, 40.078, 24.305, 22.990
    co2, co3 = c + 2 * o, c + 3 * o
    expected = {
        "calcium_carbonate": co2 / (ca + co3),
        "magnesium_carbonate": co2 / (mg + co3),
        "dolomite": 2 * co2 / (ca + mg + 2 * co3),
        "sodium_carbonate": co2 / (2 * na + co3),
    }
    for item, value in expected.items():
        factor = LIBRARY.find("stoichiometric", item, "co2", None, None)
        assert factor.value == pytest.approx(value, abs=5e-6), item


def test_every_shipped_factor_carries_its_source():
    for factor in LIBRARY.factors:
        assert factor.doc_no and factor.published and factor.source and factor.unit
        assert factor.version, factor.factor_id


def test_missing_series_names_the_known_ones():
    with pytest.raises(MissingFactor, match=r"known series: .*ipcc2006"):
        LIBRARY.find("cn_provincial", "electricity", "co2", 2022, "CN")


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


BUREAU_FILE = """
[meta]
series = "{series}"
version = "1"
[docs.d]
doc_no = "渝环 example"
published = "2026-01-01"
source = "bureau test file"
[[factors]]
doc = "d"
parameter = "co2"
unit = "kgCO2/kWh"
rows = [ {{ item = "electricity", year = 2022, region = "CN", value = 0.6 }} ]
"""


def test_a_bureau_directory_adds_a_series_without_code(tmp_path):
    folder = _write(tmp_path / "factors", "own.toml", BUREAU_FILE.format(series="bureau"))
    library = load_library([folder])
    assert library.find("bureau", "electricity", "co2", 2022, "CN").value == 0.6
    assert library.find("mee_nbs", "electricity", "co2", 2022, "CN").value == 0.5366


def test_a_bureau_file_cannot_redefine_a_shipped_factor(tmp_path):
    folder = _write(tmp_path / "factors", "own.toml", BUREAU_FILE.format(series="mee_nbs"))
    with pytest.raises(FactorFileError, match="already defined"):
        load_library([folder])


def test_year_given_for_some_factors_only_is_refused(tmp_path):
    text = BUREAU_FILE.format(series="bureau").replace(
        "value = 0.6 }", 'value = 0.6 }, { item = "electricity", region = "CN-CQ", value = 0.5 }'
    )
    folder = _write(tmp_path / "factors", "own.toml", text)
    with pytest.raises(FactorFileError, match="year is given for some"):
        load_library([folder])


def test_malformed_file_names_the_file(tmp_path):
    folder = _write(tmp_path / "factors", "broken.toml", "[meta]\nseries = 'x'\n")
    with pytest.raises(FactorFileError, match=r"broken.toml"):
        load_library([folder])


def test_table_filters_by_series_year_and_region():
    table = LIBRARY.table("mee_nbs", 2023, "CN-CQ")
    assert table["factor_id"].to_list() == ["mee_nbs/electricity/co2/2023/CN-CQ"]
