"""HJ 212 code table (protocols/data/hj212_codes.toml) against HJ 212—2017 附录 B."""

from __future__ import annotations

import pytest

from qingshan.protocols import hj212_codes
from qingshan.protocols.hj212_codes import current_code, parameter_for


@pytest.mark.parametrize(
    ("code", "key"),
    [
        # 表 B.2 (HJ 212—2017 pp.22–26) and a05024 from field practice (notes §3.2)
        ("a34004", "pm25"),
        ("a34002", "pm10"),
        ("a21026", "so2"),
        ("a21004", "no2"),
        ("a21005", "co"),
        ("a05024", "o3"),
        ("a21002", "nox"),
        ("a01011", "flue_velocity"),
        ("a19001", "o2"),
        ("a00000", "gas_flow"),
        # 表 B.1 (pp.21–22)
        ("w01018", "cod"),
        ("w21003", "nh3n"),
        ("w01001", "ph"),
        ("w21011", "tp"),
        ("w21001", "tn"),
        ("w00000", "flow"),
        ("w01019", "codmn"),
        ("w01009", "do"),
        # 表 B.3 (p.26)
        ("Leq", "leq"),
    ],
)
def test_codes_map_to_canonical_keys(code, key):
    parameter = parameter_for(code)
    assert parameter is not None and parameter.key == key


def test_units_depend_on_the_system():
    """表 B.2 gives mg/m³ (flue gas, ST=31); ambient stations (ST=22) report µg/m³, CO mg/m³."""
    assert parameter_for("a21026", "31").unit == "mg/m³"
    assert parameter_for("a21026", "22").unit == "µg/m³"
    assert parameter_for("a21005", "22").unit == "mg/m³"
    assert parameter_for("a34004", "22").unit == "µg/m³"
    assert parameter_for("w01018", "32").unit == "mg/L"


@pytest.mark.parametrize(
    ("old", "st", "new"),
    [
        # 原编码 columns of 表 B.1/B.2; "030" (water, 总锌) and "30" (air, 二氧化碳) differ
        ("011", "32", "w01018"),
        ("060", "32", "w21003"),
        ("B01", "32", "w00000"),
        ("030", "32", "w20123"),
        ("30", "31", "a05001"),
        ("02", "31", "a21026"),
        ("S01", "31", "a19001"),
        ("B02", None, "a00000"),
        ("011", None, "w01018"),
    ],
)
def test_2005_codes_translate_by_system(old, st, new):
    assert current_code(old, st) == new


def test_unknown_codes_are_kept():
    assert current_code("w01003", "21") == "w01003"
    assert parameter_for("w01003", "21") is None
    assert parameter_for("O3") is None


def test_every_row_is_complete_and_sourced():
    table = hj212_codes.table()
    columns = {"key", "name", "unit", "unit_hj212", "emission", "data_type", "source"}
    keys = [row["key"] for row in table["codes"].values()]
    assert len(keys) == len(set(keys))
    for code, row in table["codes"].items():
        assert set(row) == columns, code
        assert row["source"] in {"B.1", "B.2", "B.3", "FIELD"}, code
    assert table["systems"]["22"] == "空气质量监测"
    old = table["codes_2005"]
    assert (len(old["water"]), len(old["air"])) == (48, 45)  # 原编码 entries of 表 B.1 / B.2
    assert all(new.startswith("w") for new in old["water"].values())
    assert all(new.startswith("a") for new in old["air"].values())
