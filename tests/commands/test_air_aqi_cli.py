"""``qingshan air aqi``: formats, bad input, machine output and a real-sized file."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from qingshan.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "air_hourly.csv"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["air", "aqi", *args])


def test_example_file_to_csv_for_excel(tmp_path):
    out = tmp_path / "aqi.csv"
    result = run(str(EXAMPLE), "--report", "hourly", "--rules", "auto", "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # utf-8-sig so that Excel reads the Chinese text
    table = pl.read_csv(out, infer_schema=False)
    assert table["station"][0] == "示范站1"
    assert table["time"][0] == "2026-02-28 22:00"  # the input's cells are repeated unchanged
    last = table.row(-1, named=True)  # SO2 1-h 830 under 2012: the 24-h IAQI (320 → 127)
    assert (last["rules"], last["iaqi_so2_1h"], last["aqi"], last["category"]) == (
        "2012",
        "127",
        "205",
        "重度污染",
    )
    assert last["exceedance_pollutants"] == "SO2;PM10;PM2.5"
    third = table.row(2, named=True)  # 2026-03-01 00:00: first hour under HJ 633—2026
    assert (third["rules"], third["iaqi_pm25_1h"], third["aqi"]) == ("2026", "109", "109")
    assert third["iaqi_pm25_24h"] is None  # no 24-h moving average in the 2026 real-time report


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_xlsx_and_parquet_in_and_out(tmp_path, suffix):
    source = tmp_path / f"in{suffix}"
    frame = pl.DataFrame(
        {
            "station": ["A", "B"],
            "date": ["2025-06-01", "2026-06-01"],
            "pm25_24h": ["75", ""],
            "pm10_24h": ["150", "120"],
        }
    )
    if suffix == ".xlsx":
        frame.write_excel(source)
    else:
        frame.with_columns(
            pl.col("pm25_24h", "pm10_24h").replace("", None).cast(pl.Float64)
        ).write_parquet(source)
    out = tmp_path / f"out{suffix}"
    result = run(str(source), "--report", "daily", "-o", str(out))
    assert result.exit_code == 0, result.output
    back = pl.read_excel(out) if suffix == ".xlsx" else pl.read_parquet(out)
    assert back["aqi"].to_list() == [100, None]  # row 2: PM2.5 missing, AQI 100 → NA (§5.3.1)
    assert back["rules"].cast(pl.String).to_list() == ["2012", "2026"]


def _bad(tmp_path, text: str) -> tuple[object, Path]:
    source = tmp_path / "bad.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "never.csv"
    return run(str(source), "--report", "hourly", "--rules", "2026", "-o", str(out)), out


def test_negative_concentration_names_row_and_column(tmp_path):
    result, out = _bad(tmp_path, "station,pm25_1h,no2_1h\nA,10,5\nB,-3,5\n")
    assert result.exit_code == 2
    assert "row 3, column 'pm25_1h': concentration -3 is below 0" in result.output
    assert not out.exists()


def test_text_in_a_number_column(tmp_path):
    result, out = _bad(tmp_path, "pm25_1h,no2_1h\n10,abc\n")
    assert result.exit_code == 2
    assert "row 2, column 'no2_1h': 'abc' is not a number" in result.output
    assert not out.exists()


def test_unknown_indicator_column(tmp_path):
    result, out = _bad(tmp_path, "pm25_1h,pm2.5_24h\n10,10\n")
    assert result.exit_code == 2
    assert "column 'pm2.5_24h': unknown indicator column" in result.output
    assert not out.exists()


def test_unreadable_file(tmp_path):
    source = tmp_path / "broken.xlsx"
    source.write_bytes(b"not a spreadsheet")
    result = run(str(source), "--report", "hourly")
    assert result.exit_code == 2
    assert "broken.xlsx: cannot read the file" in result.output


def test_auto_rules_need_a_time_fixed_rules_do_not(tmp_path):
    source = tmp_path / "no_time.csv"
    source.write_text("pm25_1h\n10\n", encoding="utf-8")
    fixed = run(str(source), "--report", "hourly", "--rules", "2026")
    assert fixed.exit_code == 0, fixed.output
    row = pl.read_csv(io.StringIO(fixed.stdout)).row(0, named=True)
    assert row["iaqi_pm25_1h"] == 15  # PM2.5 10 µg/m³: 10 × 50/35 = 14.3 → 15
    assert row["aqi"] is None  # five pollutants missing, AQI ≤ 100: NA (HJ 633—2026 §5.3.1)
    result = run(str(source), "--report", "hourly", "--rules", "auto")
    assert result.exit_code == 2
    assert "needs a 'time'" in result.output


def test_json_output(tmp_path):
    result = run(str(EXAMPLE), "--report", "hourly", "--json", "-o", str(tmp_path / "o.csv"))
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["rows"] == 8
    assert summary["by_category"] == {"良": 2, "轻度污染": 5, "重度污染": 1}


def test_json_errors(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("pm25_1h\n-1\n", encoding="utf-8")
    result = run(str(source), "--report", "hourly", "--rules", "2026", "--json")
    assert result.exit_code == 2
    problem = json.loads(result.stdout)["problems"][0]
    assert problem == {
        "file": str(source),
        "row": 2,
        "column": "pm25_1h",
        "message": "concentration -1 is below 0",
    }


@pytest.mark.slow
def test_a_year_of_hourly_data_for_100_stations(tmp_path):
    """The size the issue asks for: 100 stations × 8,760 hours, through the command line."""
    hours = np.arange(np.datetime64("2025-06-01T00"), np.datetime64("2026-06-01T00"))[:8760]
    hours = hours.astype("datetime64[us]")
    rng = np.random.default_rng(7)
    n = 100 * len(hours)
    frame = pl.DataFrame(
        {
            "station": np.repeat([f"S{i:03d}" for i in range(100)], len(hours)),
            "time": np.tile(hours, 100),
            **{
                name: np.round(rng.lognormal(mean, 0.6, n), 1)
                for name, mean in [
                    ("so2_1h", 2.0),
                    ("no2_1h", 3.3),
                    ("co_1h", -0.4),
                    ("o3_1h", 4.0),
                    ("o3_8h", 3.9),
                    ("pm10_1h", 4.1),
                    ("pm25_1h", 3.5),
                    ("pm10_24h", 4.1),
                    ("pm25_24h", 3.5),
                    ("so2_24h", 2.0),
                ]
            },
        }
    )
    source = tmp_path / "year.parquet"
    frame.write_parquet(source)
    out = tmp_path / "year_aqi.parquet"
    result = run(str(source), "--report", "hourly", "--rules", "auto", "-o", str(out))
    assert result.exit_code == 0, result.output
    back = pl.read_parquet(out)
    assert back.height == n
    rules = back["rules"].cast(pl.String)
    switch = back["time"] >= datetime(2026, 3, 1)
    assert (rules == "2026").to_list() == switch.to_list()
    assert back["aqi"].null_count() == 0
    assert back["level"].min() >= 1 and back["level"].max() <= 6
