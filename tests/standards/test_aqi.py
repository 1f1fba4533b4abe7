"""AQI per HJ 633—2012 and HJ 633—2026.

Expected values are transcribed here independently of ``hj633.toml`` from the standards' tables
(HJ 633—2012 Table 1, HJ 633—2026 Table 3) or computed by hand from formula (1) with the
ceiling of HJ 633—2012 §6.2 / HJ 633—2026 §4.2.6.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from qingshan.standards.aqi import aqi_table, categories, iaqi, level

IAQI_ROW = [0, 50, 100, 150, 200, 300, 400, 500]

# HJ 633—2012 Table 1, column by column (µg/m³; CO mg/m³).
TABLE_2012 = {
    "so2_24h": [0, 50, 150, 475, 800, 1600, 2100, 2620],
    "so2_1h": [0, 150, 500, 650, 800],
    "no2_24h": [0, 40, 80, 180, 280, 565, 750, 940],
    "no2_1h": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "pm10_24h": [0, 50, 150, 250, 350, 420, 500, 600],
    "co_24h": [0, 2, 4, 14, 24, 36, 48, 60],
    "co_1h": [0, 5, 10, 35, 60, 90, 120, 150],
    "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "o3_8h": [0, 100, 160, 215, 265, 800],
    "pm25_24h": [0, 35, 75, 115, 150, 250, 350, 500],
}
# HJ 633—2026 Table 3: PM10 and PM2.5 change at IAQI 100 (120 and 60); PM 1-h values use the
# daily columns (§4.2.4).
TABLE_2026 = {
    **TABLE_2012,
    "pm10_24h": [0, 50, 120, 250, 350, 420, 500, 600],
    "pm25_24h": [0, 35, 60, 115, 150, 250, 350, 500],
    "pm10_1h": [0, 50, 120, 250, 350, 420, 500, 600],
    "pm25_1h": [0, 35, 60, 115, 150, 250, 350, 500],
}


def _breakpoint_cases(edition: str, table: dict[str, list[int]]):
    for indicator, concentrations in table.items():
        for concentration, expected in zip(concentrations, IAQI_ROW, strict=False):
            yield pytest.param(
                indicator,
                concentration,
                expected,
                edition,
                id=f"{edition}-{indicator}-{concentration}",
            )


@pytest.mark.parametrize(
    ("indicator", "concentration", "expected", "edition"),
    [*_breakpoint_cases("2012", TABLE_2012), *_breakpoint_cases("2026", TABLE_2026)],
)
def test_every_breakpoint_gives_its_table_iaqi(indicator, concentration, expected, edition):
    """At each breakpoint formula (1) gives exactly the IAQI of the table row."""
    assert iaqi(indicator, [concentration], edition).tolist() == [expected]


@pytest.mark.parametrize(
    ("indicator", "concentration", "expected"),
    [
        # air.md §4.1: HJ 633—2012 results where python-aqi deviates (truncation, gaps).
        ("pm25_24h", 35.5, 51),
        ("pm25_24h", 36, 52),
        ("pm25_24h", 75.9, 102),
        ("pm25_24h", 80, 107),
        ("pm25_24h", 150.5, 201),
        ("o3_1h", 161, 52),
        ("co_24h", 1.5, 38),
        ("co_24h", 2.5, 63),
        ("co_24h", 3.9, 98),
        ("co_1h", 5.5, 55),
        ("pm25_24h", 50, 69),
        ("so2_24h", 52, 51),
        ("no2_1h", 150, 75),
        ("pm10_24h", 151, 101),
        # air.md §1.3: exact values that binary-float ceilings push up by one.
        ("co_24h", 2.2, 55),
        ("co_1h", 65.4, 218),
        ("co_1h", 1.1, 11),
        ("co_1h", 2.2, 22),
        ("co_1h", 4.4, 44),
        ("co_1h", 4.9, 49),
    ],
)
def test_2012_values_computed_by_hand(indicator, concentration, expected):
    """HJ 633—2012 §4.2 formula (1), rounded up per §6.2; the concentration is not rounded."""
    assert iaqi(indicator, [concentration], "2012").tolist() == [expected]


@pytest.mark.parametrize(
    ("indicator", "concentration", "expected"),
    [
        # 2026 PM boundaries (HJ 633—2026 Table 3, §4.2.4): 59 → 98, 60 → 100, 118 → 99.
        ("pm25_1h", 59, 98),
        ("pm25_1h", 60, 100),
        ("pm10_1h", 118, 99),
        ("pm10_1h", 120, 100),
        ("pm25_24h", 75, 114),
        ("pm10_24h", 150, 112),
        # SO2 24-h, which a peer gets wrong (air.md §1.7): 150 → 100, 500 → 154, 650 → 177.
        ("so2_24h", 150, 100),
        ("so2_24h", 500, 154),
        ("so2_24h", 650, 177),
        # §4.2.2: inputs rounded per GB/T 8170 (half to even) before formula (1).
        ("pm25_1h", 34.5, 49),  # → 34 → 48.6 → 49
        ("pm25_1h", 35.5, 52),  # → 36 → 52
        ("pm25_1h", 36.5, 52),  # → 36 (half to even) → 52
        ("pm25_1h", 36.51, 54),  # → 37 → 54
        ("co_1h", 0.25, 2),  # → 0.2 → 2
        ("co_1h", 0.35, 4),  # → 0.4 → 4
        ("co_24h", 2.25, 55),  # → 2.2 → 55
    ],
)
def test_2026_values_computed_by_hand(indicator, concentration, expected):
    assert iaqi(indicator, [concentration], "2026").tolist() == [expected]


def test_rounding_of_inputs_is_a_2026_rule_only():
    """HJ 633—2012 does not round concentrations: PM2.5 24-h 34.5 → 49.29 → 50."""
    assert iaqi("pm25_24h", [34.5], "2012").tolist() == [50]
    assert iaqi("pm25_24h", [34.5], "2026").tolist() == [49]


def test_truncated_columns_above_800():
    """SO2 1-h and O3 8-h above 800: 2012 notes (2)–(3) leave the IAQI to another indicator
    (NaN here); 2026 notes b–c fix it at 200 and 300."""
    assert np.isnan(iaqi("so2_1h", [801], "2012")).all()
    assert np.isnan(iaqi("o3_8h", [801], "2012")).all()
    assert iaqi("so2_1h", [801, 1600, 3000], "2026").tolist() == [200, 200, 200]
    assert iaqi("o3_8h", [801, 1000, 1500], "2026").tolist() == [300, 300, 300]


def test_above_the_top_breakpoint_is_500():
    assert iaqi("pm25_24h", [500, 501, 10_000], "2012").tolist() == [500, 500, 500]
    assert iaqi("co_1h", [1e9], "2026").tolist() == [500]


def test_missing_values_stay_missing():
    assert np.isnan(iaqi("no2_1h", [np.nan], "2026")).all()


def test_bad_calls_are_refused():
    with pytest.raises(ValueError, match="negative"):
        iaqi("pm25_24h", [-1.0], "2012")
    with pytest.raises(ValueError, match="no IAQI"):
        iaqi("pm25_1h", [10.0], "2012")  # HJ 633—2012 Table 4: PM 1-h is concentration only
    with pytest.raises(ValueError, match="rules"):
        iaqi("pm25_24h", [10.0], "2013")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        iaqi("pm25_24h", [10.0], "auto")


def test_auto_switches_edition_at_2026_03_01():
    times = np.array(["2026-02-28T23:00", "2026-03-01T00:00"], dtype="datetime64[s]")
    assert iaqi("pm25_24h", [75, 75], "auto", times).tolist() == [100, 114]


@pytest.mark.parametrize(
    ("aqi_value", "expected"),
    [
        (0, 1),
        (50, 1),
        (51, 2),
        (100, 2),
        (101, 3),
        (150, 3),
        (151, 4),
        (200, 4),
        (201, 5),
        (300, 5),
        (301, 6),
        (500, 6),
    ],
)
def test_levels(aqi_value, expected):
    """HJ 633—2012 Table 2 / HJ 633—2026 Table 1: 0–50, 51–100, …, >300."""
    assert level([aqi_value]).tolist() == [expected]


def test_categories_and_colours():
    """HJ 633 Table A.1: RGB colours, identical in both editions; 2026 rewrote the advice."""
    old, new = categories("2012"), categories("2026")
    assert [c.rgb for c in old] == [
        (0, 228, 0),
        (255, 255, 0),
        (255, 126, 0),
        (255, 0, 0),
        (153, 0, 76),
        (126, 0, 35),
    ]
    assert [c.color for c in new] == [
        "#00E400",
        "#FFFF00",
        "#FF7E00",
        "#FF0000",
        "#99004C",
        "#7E0023",
    ]
    assert [c.name for c in new] == ["优", "良", "轻度污染", "中度污染", "重度污染", "严重污染"]
    assert old[2].advice.startswith("儿童、老年人及心脏病")
    assert new[2].advice.startswith("青少年儿童、老年人及心血管系统疾病")


# ---------------------------------------------------------------------------------------------
# The report over a table
# ---------------------------------------------------------------------------------------------

HOURLY = ["so2_1h", "no2_1h", "co_1h", "o3_1h", "pm10_1h", "pm25_1h"]
DAILY_2026 = ["so2_24h", "no2_24h", "co_24h", "o3_8h_max", "pm10_24h", "pm25_24h"]


def _frame(columns: list[str], rows: list[list[float | None]], **extra) -> pl.DataFrame:
    data = {
        c: [float(r[i]) if r[i] is not None else None for r in rows] for i, c in enumerate(columns)
    }
    return pl.DataFrame({**extra, **data}, schema_overrides={c: pl.Float64 for c in columns})


def test_hourly_2026_example_with_one_primary_pollutant():
    """PM2.5 75 → 114 is the largest IAQI; the others sit at 100 (HJ 633—2026 Table 3)."""
    frame = _frame(HOURLY, [[500, 200, 10, 200, 150, 75]])
    row = aqi_table(frame, "hourly", "2026").row(0, named=True)
    assert (row["aqi"], row["level"], row["category"]) == (114, 3, "轻度污染")
    assert row["primary_pollutants"] == "PM2.5"
    assert row["exceedance_pollutants"] is None  # 2026 removed the exceedance pollutant
    assert row["iaqi_pm10_1h"] == 112
    assert row["color"] == "#FF7E00"


def test_hourly_2026_every_iaqi():
    frame = _frame(HOURLY, [[650, 700, 35, 300, 350, 250]])
    row = aqi_table(frame, "hourly", "2026").row(0, named=True)
    assert [row[f"iaqi_{c}"] for c in HOURLY] == [150, 150, 150, 150, 200, 300]
    assert row["aqi"] == 300
    assert row["level"] == 5


def test_daily_2026_so2_is_primary_with_correct_breakpoints():
    """SO2 24-h 650 → 177 (segment 475–800 ↦ 150–200), above PM2.5 115 → 150."""
    frame = _frame(DAILY_2026, [[650, 180, 14, 215, 250, 115]])
    row = aqi_table(frame, "daily", "2026").row(0, named=True)
    assert row["aqi"] == 177
    assert row["primary_pollutants"] == "SO2"


def test_tied_primary_pollutants_are_all_listed():
    """HJ 633—2012 §4.4.2: several pollutants with the largest IAQI are all primary."""
    frame = _frame(DAILY_2026, [[10, 10, 0.5, 50, 120, 60]])
    row = aqi_table(frame, "daily", "2026").row(0, named=True)
    assert row["aqi"] == 100
    assert row["primary_pollutants"] == "PM10;PM2.5"


def test_no_primary_pollutant_at_aqi_50_or_below():
    """HJ 633—2012 §3.3 / 2026 §4.3.1: a primary pollutant only when AQI > 50."""
    frame = _frame(DAILY_2026, [[50, 40, 2, 100, 50, 35]])
    row = aqi_table(frame, "daily", "2026").row(0, named=True)
    assert row["aqi"] == 50
    assert row["primary_pollutants"] is None


def test_exceedance_pollutants_2012_strictly_above_100():
    """HJ 633—2012 §3.4: IAQI > 100; IAQI exactly 100 is not an exceedance."""
    columns = ["so2_24h", "no2_24h", "co_24h", "o3_1h_max", "o3_8h_max", "pm10_24h", "pm25_24h"]
    frame = _frame(columns, [[150, 81, 1, 100, 100, 151, 75]])
    row = aqi_table(frame, "daily", "2012").row(0, named=True)
    assert row["iaqi_so2_24h"] == 100
    assert row["exceedance_pollutants"] == "NO2;PM10"


def test_2012_daily_report_includes_the_o3_one_hour_maximum():
    """HJ 633—2012 Table 3 has seven indicators, O3 1-h maximum among them; 2026 dropped it."""
    columns = ["so2_24h", "no2_24h", "co_24h", "o3_1h_max", "o3_8h_max", "pm10_24h", "pm25_24h"]
    frame = _frame(columns, [[10, 10, 0.5, 400, 150, 40, 20]])
    old = aqi_table(frame, "daily", "2012").row(0, named=True)
    new = aqi_table(frame, "daily", "2026").row(0, named=True)
    assert (old["aqi"], old["primary_pollutants"]) == (200, "O3")
    assert new["aqi"] == 92  # O3 8-h 150: 50 + 50 × 50/60 = 91.7 → 92
    assert "iaqi_o3_1h_max" not in aqi_table(frame, "daily", "2026").columns


def test_2012_so2_above_800_takes_the_24h_iaqi():
    """HJ 633—2012 Table 1 note (2)."""
    frame = _frame(["so2_1h", "so2_24h", "pm25_24h"], [[830, 320, 10], [830, None, 10]])
    result = aqi_table(frame, "hourly", "2012")
    assert result["iaqi_so2_1h"].to_list() == [127, None]
    assert result["notes"].cast(pl.String).to_list() == ["so2_1h>800→so2_24h"] * 2
    assert result["missing_pollutants"].cast(pl.String).to_list()[1].startswith("SO2")


def test_2012_o3_above_800_takes_the_1h_iaqi_in_both_reports():
    """HJ 633—2012 Table 1 note (3): O3 8-h above 800 → the O3 1-h IAQI."""
    hourly = aqi_table(_frame(["o3_1h", "o3_8h"], [[900, 850]]), "hourly", "2012")
    assert hourly["iaqi_o3_8h"].to_list() == [350]  # O3 1-h 900: 300 + 100 × 100/200
    daily = aqi_table(_frame(["o3_1h_max", "o3_8h_max"], [[1000, 801]]), "daily", "2012")
    assert daily["iaqi_o3_8h_max"].to_list() == [400]


def test_2026_missing_indicator_rule():
    """HJ 633—2026 §5.3.1: with an indicator missing the AQI of the rest is published only
    when it is above 100; otherwise AQI, level and category are NA."""
    frame = _frame(HOURLY, [[None, 20, 0.5, 100, 40, 20], [None, 20, 0.5, 100, 40, 80]])
    result = aqi_table(frame, "hourly", "2026")
    assert result["aqi"].to_list() == [None, 119]  # PM2.5 80: 100 + 50 × 20/55 → 119
    assert result["category"].cast(pl.String).to_list() == [None, "轻度污染"]
    assert result["iaqi_no2_1h"].to_list() == [10, 10]  # single indices are still published
    assert result["missing_pollutants"].cast(pl.String).to_list() == ["SO2", "SO2"]


def test_2012_missing_indicator_keeps_the_aqi_of_the_rest():
    """HJ 633—2012 has no rule (air.md §9.6); Qingshan publishes the AQI of the indicators
    present and names the missing ones."""
    frame = _frame(HOURLY[:4], [[None, 20, 0.5, 100]])
    row = aqi_table(frame, "hourly", "2012").row(0, named=True)
    assert row["aqi"] == 32
    assert row["missing_pollutants"] == "SO2;O3;PM10;PM2.5"


def test_above_scale_is_flagged():
    frame = _frame(["pm25_24h", "pm10_24h"], [[620, 50]])
    row = aqi_table(frame, "daily", "2012").row(0, named=True)
    assert (row["aqi"], row["above_scale_pollutants"]) == (500, "PM2.5")


def test_auto_rules_mixed_rows_keep_their_order():
    times = [datetime(2026, 3, 1), datetime(2026, 2, 28, 23), datetime(2026, 3, 2)]
    frame = _frame(["pm25_24h"], [[75], [75], [60]], time=times)
    result = aqi_table(frame, "daily", "auto")
    assert result["rules"].cast(pl.String).to_list() == ["2026", "2012", "2026"]
    assert result["iaqi_pm25_24h"].to_list() == [114, 100, 100]


def test_arrow_in_arrow_out_and_pass_through_columns():
    table = pa.table({"station": ["甲"], "pm25_24h": [75.0]})
    result = aqi_table(table, "daily", "2012")
    assert isinstance(result, pa.Table)
    assert result.column("station").to_pylist() == ["甲"]
    assert result.column("aqi").to_pylist() == [100]


def test_output_never_overwrites_an_input_column():
    with pytest.raises(ValueError, match="already has"):
        aqi_table(pl.DataFrame({"pm25_24h": [1.0], "aqi": [3]}), "daily", "2012")
