"""``qingshan air evaluate``: a real-sized run (100 stations × a year of hours) checked against
an independent computation, and the command-line conventions (bad input → exit 2, nothing
written; --json; options)."""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from qingshan.cli import app

runner = CliRunner()
POLLUTANTS = ("so2_1h", "no2_1h", "co_1h", "o3_1h", "pm10_1h", "pm25_1h")
SCALES = {"so2_1h": 12, "no2_1h": 30, "co_1h": 0.8, "o3_1h": 70, "pm10_1h": 60, "pm25_1h": 32}


def synthetic_year(stations: int, year: int = 2025, seed: int = 7) -> pl.DataFrame:
    """Hourly data for ``stations`` over a calendar year, gamma-distributed, 1 % missing;
    µg/m³ values are integers, CO has one decimal (as monitoring networks publish them)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(f"{year}-01-01T00", f"{year + 1}-01-01T00", dtype="datetime64[h]")
    n = len(hours) * stations
    columns: dict[str, object] = {
        "station": np.repeat([f"S{i:03d}" for i in range(stations)], len(hours)),
        "time": np.tile(hours.astype("datetime64[us]"), stations),
    }
    for column, scale in SCALES.items():
        values = rng.gamma(2.0, scale / 2, n).round(1 if column == "co_1h" else 0)
        values[rng.random(n) < 0.01] = np.nan
        columns[column] = values
    return pl.DataFrame(columns).with_columns(pl.col(c).fill_nan(None) for c in POLLUTANTS)


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["air", "evaluate", *args], env=env)


def read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema_length=None)


def squeezed(text: str) -> str:
    """``text`` without whitespace: Rich may wrap long messages anywhere on a narrow terminal."""
    return "".join(text.split())


def half_even(value: Fraction, decimals: int) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN))


# --------------------------------------------------------------------------------------------
# A real-sized run: 100 stations × 8,760 hours = 876,000 rows
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_sized(tmp_path_factory):
    """Run the CLI once on a year of hourly data for 100 stations, with three planted cases:
    S000 lacks 1–4 February entirely; S001 is a Class I station; S002 has only 19 PM2.5
    hours on every day of July."""
    folder = tmp_path_factory.mktemp("real_sized")
    frame = synthetic_year(100)
    day = pl.col("time").dt.date()
    frame = frame.filter(
        ~((pl.col("station") == "S000") & day.is_between(date(2025, 2, 1), date(2025, 2, 4)))
    )
    july_gap = (
        (pl.col("station") == "S002")
        & (pl.col("time").dt.month() == 7)
        & (pl.col("time").dt.hour() < 5)
    )
    frame = frame.with_columns(
        pl.when(july_gap).then(None).otherwise(pl.col("pm25_1h")).alias("pm25_1h"),
        pl.when(pl.col("station") == "S001").then(pl.lit("I")).otherwise(None).alias("class"),
    )
    source = folder / "hourly.csv"
    frame.with_columns(pl.col("time").dt.strftime("%Y-%m-%d %H:%M")).write_csv(source)
    output = folder / "out"
    result = run(str(source), "-o", str(output))
    return frame, output, result


@pytest.mark.slow
def test_real_sized_run_writes_both_files(real_sized):
    frame, output, result = real_sized
    assert result.exit_code == 0, result.output
    assert frame.height == 876_000 - 4 * 24
    for name in ("daily.csv", "annual.csv"):
        assert (output / name).read_bytes().startswith(b"\xef\xbb\xbf")  # utf-8-sig
    daily = read_csv(output / "daily.csv")
    annual = read_csv(output / "annual.csv")
    assert daily.height == 100 * 365
    assert annual.height == 100
    assert set(annual["limits"]) == {"GB 3095—2012, Class II", "GB 3095—2012, Class I"}
    assert set(daily["aqi_rules"].cast(pl.String)) == {"2012"}
    assert "36500 station-days" in result.stdout


def independent_daily_means(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """24-h means from the hourly rows by a plain group-by (GB 3095 Table 4: ≥ 20 hours)."""
    return (
        frame.group_by("station", pl.col("time").dt.date().alias("date"))
        .agg(pl.col(column).mean().alias("mean"), pl.col(column).count().alias("hours"))
        .with_columns(pl.when(pl.col("hours") >= 20).then(pl.col("mean")).alias("mean"))
        .sort("station", "date")
    )


@pytest.mark.slow
def test_real_sized_daily_means_match_a_plain_group_by(real_sized):
    frame, output, _ = real_sized
    daily = read_csv(output / "daily.csv").with_columns(pl.col("date").str.to_date())
    for pollutant in ("pm25", "no2"):
        expected = independent_daily_means(frame, f"{pollutant}_1h")
        joined = daily.join(expected, on=["station", "date"], how="left")
        hours = joined["hours"].fill_null(0)
        assert (joined[f"{pollutant}_24h_hours"] == hours).all()
        # Integer hourly values: a mean of ≤ 24 of them is never within float error of a
        # half, so numpy's half-to-even rint is GB/T 8170 here.
        rounded = np.rint(joined["mean"].to_numpy().astype(float))
        published = joined[f"{pollutant}_24h"].to_numpy().astype(float)
        assert np.array_equal(published, rounded, equal_nan=True)
    s002_july = daily.filter((pl.col("station") == "S002") & (pl.col("date").dt.month() == 7))
    assert s002_july["pm25_24h"].null_count() == 31
    assert s002_july["pm25_24h_hours"].max() == 19  # fewer where a random hour is missing too


@pytest.mark.slow
def test_real_sized_annual_statistics_match_numpy(real_sized):
    """Annual mean and HJ 663 percentiles (numpy 'linear' = k = 1 + (n − 1)·p) from the valid
    unrounded daily means, rounded once."""
    frame, output, _ = real_sized
    annual = read_csv(output / "annual.csv").sort("station")
    expected = independent_daily_means(frame, "pm25_1h").drop_nulls("mean")
    by_station = expected.group_by("station", maintain_order=True).agg("mean")
    for row, (station, means) in zip(
        annual.iter_rows(named=True), by_station.iter_rows(), strict=True
    ):
        assert row["station"] == station
        means = np.array(means)
        assert row["pm25_24h_days_valid"] == len(means)
        assert row["pm25_24h_p95"] == np.rint(np.percentile(means, 95, method="linear"))
        assert row["pm25_annual_mean"] == np.rint(means.mean())


@pytest.mark.slow
def test_real_sized_planted_cases(real_sized):
    _, output, _ = real_sized
    annual = read_csv(output / "annual.csv")
    s000, s001, s002 = (annual.row(i, named=True) for i in range(3))
    # S000: February has 24 days (< 25): no annual compliance for any pollutant.
    assert s000["pm25_24h_days_valid"] == 361
    assert s000["pm25_24h_months_short"] == 2
    assert s000["pm25_24h_annual_valid"] is False
    assert s000["pm25_compliant"] is None and s000["o3_compliant"] is None
    assert s000["pm25_annual_mean"] is not None  # computed and shown all the same
    # S001 is Class I: GB 3095—2012 Class I limits.
    assert s001["limits"] == "GB 3095—2012, Class I"
    assert s001["pm25_annual_mean_limit"] == 15 and s001["o3_8h_max_p90_limit"] == 100
    assert s001["composite_limits"] == "GB 3095—2012, Class II"  # the index uses Class II
    # S002: July has no valid PM2.5 day.
    assert s002["pm25_24h_days_valid"] == 334
    assert s002["pm25_24h_months_short"] == 7
    assert s002["pm25_24h_annual_valid"] is False


@pytest.mark.slow
def test_real_sized_good_days_and_composite_index(real_sized):
    _, output, _ = real_sized
    daily = read_csv(output / "daily.csv")
    annual = read_csv(output / "annual.csv")
    counted = daily.group_by("station").agg(
        pl.col("good_day").sum().alias("good"),
        pl.col("aqi_valid_day").sum().alias("valid"),
        (pl.col("aqi") <= 100).sum().alias("aqi_at_most_100"),
    )
    joined = annual.join(counted, on="station")
    assert (joined["good_days"] == joined["good"]).all()
    assert (joined["aqi_valid_days"] == joined["valid"]).all()
    assert (joined["good_days"] <= joined["aqi_at_most_100"]).all()
    limits = {
        "so2_annual_mean": 60,
        "no2_annual_mean": 40,
        "pm10_annual_mean": 70,
        "pm25_annual_mean": 35,
        "co_24h_p95": 4,
        "o3_8h_max_p90": 160,
    }
    for row in joined.iter_rows(named=True):
        assert row["good_day_ratio"] == half_even(Fraction(100 * row["good"], row["valid"]), 1)
        exact = sum(Fraction(str(row[name])) / limit for name, limit in limits.items())
        assert row["composite_index"] == half_even(exact, 2)


# --------------------------------------------------------------------------------------------
# Small inputs: conventions and options
# --------------------------------------------------------------------------------------------


@pytest.fixture
def small_csv(tmp_path) -> Path:
    frame = synthetic_year(2).filter(pl.col("time").dt.month() == 3)
    path = tmp_path / "hourly.csv"
    frame.with_columns(pl.col("time").dt.strftime("%Y-%m-%d %H:%M")).write_csv(path)
    return path


def corrupt(path: Path, line: int, column: str, value: str) -> None:
    """Replace one cell of a CSV file (line 1 is the header, as in error messages)."""
    lines = path.read_text("utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", "utf-8")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("pm25_1h", "-4", "concentration -4 is below 0"),
        ("no2_1h", "abc", "'abc' is not a number"),
        ("time", "2025-03-01 10:30", "is not the start of an hour"),
        ("time", "2025-03-01 00:00", "already has a row for this hour"),
        ("time", "yesterday", "is not a date or time"),
    ],
)
def test_bad_cell_names_file_row_column_and_writes_nothing(
    small_csv, tmp_path, column, value, message
):
    corrupt(small_csv, 5, column, value)
    output = tmp_path / "out"
    result = run(str(small_csv), "-o", str(output))
    assert result.exit_code == 2
    assert squeezed(f"{small_csv}, row 5, column '{column}': ") in squeezed(result.stderr)
    assert squeezed(message) in squeezed(result.stderr)
    assert "nothing was written" in result.stderr
    assert not output.exists()


def test_bad_input_as_json(small_csv, tmp_path):
    corrupt(small_csv, 7, "so2_1h", "-1")
    result = run(str(small_csv), "-o", str(tmp_path / "out"), "--json")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["problems"] == [
        {
            "file": str(small_csv),
            "row": 7,
            "column": "so2_1h",
            "message": "concentration -1 is below 0",
        }
    ]


def test_unknown_indicator_column_and_unreadable_file(tmp_path):
    path = tmp_path / "daily.csv"
    path.write_text("station,time,pm25_24h\nA,2025-01-01 00:00,30\n", "utf-8")
    result = run(str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert squeezed("column 'pm25_24h': unknown indicator column") in squeezed(result.stderr)
    missing = run(str(tmp_path / "absent.csv"), "-o", str(tmp_path / "out"))
    assert missing.exit_code == 2
    assert squeezed(f"{tmp_path / 'absent.csv'}: file not found") in squeezed(missing.stderr)
    assert not (tmp_path / "out").exists()


def test_bad_class_is_reported(tmp_path):
    path = tmp_path / "hourly.csv"
    path.write_text(
        "station,time,pm25_1h,class\nA,2025-01-01 00:00,30,III\nA,2025-01-01 01:00,30,II\n",
        "utf-8",
    )
    result = run(str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert squeezed("row 2, column 'class': 'III' is not an area class") in squeezed(result.stderr)


def test_json_summary_and_default_output_directory(small_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(str(small_csv), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    assert payload["rows"] == 2 * 31 * 24
    assert payload["days"] == 62 and payload["station_years"] == 2
    assert payload["outputs"] == ["daily.csv", "annual.csv"]
    first = payload["annual"][0]
    assert first["station"] == "S000" and first["year"] == 2025
    # 31 days cannot make a valid year (GB 3095 Table 4): nothing is assessed.
    assert first["not_compliant"] == []
    assert set(first["not_assessed"]) == {"so2", "no2", "co", "o3", "pm10", "pm25"}
    assert (tmp_path / "daily.csv").exists() and (tmp_path / "annual.csv").exists()


def test_limits_class_and_weights_options(small_csv, tmp_path):
    output = tmp_path / "out"
    result = run(
        str(small_csv),
        "-o",
        str(output),
        "--limits",
        "2026-final",
        "--class",
        "I",
        "--weights",
        "PM2.5=3,NO2=2,O3=2",
    )
    assert result.exit_code == 0, result.output
    daily = read_csv(output / "daily.csv")
    assert set(daily["limits"]) == {"GB 3095—2026 final, Class I"}
    assert set(daily["pm25_24h_limit"]) == {25}
    annual = read_csv(output / "annual.csv")
    assert set(annual["composite_weights"]) == {"SO2=1;NO2=2;PM10=1;PM2.5=3;CO=1;O3=2"}
    assert set(annual["composite_limits"]) == {"GB 3095—2026 final, Class II"}
    row = annual.row(0, named=True)
    terms = {
        "so2_annual_mean": (20, 1),
        "no2_annual_mean": (30, 2),
        "pm10_annual_mean": (50, 1),
        "pm25_annual_mean": (25, 3),
        "co_24h_p95": (4, 1),
        "o3_8h_max_p90": (160, 2),
    }
    exact = sum(w * Fraction(str(row[name])) / s for name, (s, w) in terms.items())
    assert row["composite_index"] == half_even(exact, 2)


def test_bad_weights_exit_2(small_csv, tmp_path):
    result = run(str(small_csv), "-o", str(tmp_path / "out"), "--weights", "PM1=2")
    assert result.exit_code == 2
    assert "unknown pollutant 'PM1'" in result.output
    assert not (tmp_path / "out").exists()


def test_parquet_input_with_datetime_times(tmp_path):
    frame = synthetic_year(1).filter(pl.col("time").dt.month() == 1)
    path = tmp_path / "hourly.parquet"
    frame.write_parquet(path)
    result = run(str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "out" / "daily.csv").height == 31


def test_progress_bar_only_over_the_threshold(small_csv, tmp_path):
    shown = run(
        str(small_csv), "-o", str(tmp_path / "a"), env={"QINGSHAN_PROGRESS_THRESHOLD_ROWS": "100"}
    )
    assert shown.exit_code == 0 and "Evaluation" in shown.stderr
    hidden = run(str(small_csv), "-o", str(tmp_path / "b"))
    assert hidden.exit_code == 0 and "Evaluation" not in hidden.stderr
