"""``qingshan noise evaluate`` and ``qingshan noise grade`` through the command line."""

import json
import math

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from qingshan.cli import app

runner = CliRunner()

DAILY_COLUMNS = [
    "point",
    "zone",
    "date",
    "ld",
    "ln",
    "ldn",
    "day_limit",
    "night_limit",
    "day_exceed_db",
    "night_exceed_db",
    "day_ok",
    "night_ok",
    "night_lmax",
    "lmax_ok",
    "day_hours",
    "night_hours",
]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_csv(path, text):
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def hourly_rows(point, zone, start, levels, lmax=None):
    times = np.arange(np.datetime64(start, "h"), np.datetime64(start, "h") + len(levels))
    rows = {
        "point": [point] * len(levels),
        "zone": [zone] * len(levels),
        "time": [str(t).replace("T", " ") + ":00" for t in times],
        "leq": list(levels),
    }
    if lmax is not None:
        rows["lmax"] = list(lmax)
    return pl.DataFrame(rows)


def day_and_night(day_level, night_level):
    return [day_level] * 16 + [night_level] * 8


# --------------------------------------------------------------------------------------------
# evaluate: results
# --------------------------------------------------------------------------------------------


def test_evaluate_writes_one_row_per_point_and_date(tmp_path):
    """Zone 4b (GB 3096 Table 1: 70/60) exactly at its limits; zone 1 (55/45) loud at night,
    with its night running across the year end (the night belongs to 2025-12-31)."""
    frame = pl.concat(
        [
            hourly_rows(
                "rail", "4b", "2025-06-01T06", day_and_night(70.0, 60.0), day_and_night(80.0, 75.0)
            ),
            hourly_rows(
                "home", "1", "2025-12-31T06", day_and_night(50.0, 50.0), day_and_night(60.0, 60.1)
            ),
        ]
    )
    source = tmp_path / "hourly.csv"
    frame.write_csv(source)
    output = tmp_path / "daily.csv"

    result = run("noise", "evaluate", source, "-o", output)

    assert result.exit_code == 0, result.output
    daily = pl.read_csv(output, try_parse_dates=True, schema_overrides={"zone": pl.String})
    assert daily.columns == DAILY_COLUMNS
    home, rail = daily.sort("point").to_dicts()
    assert rail["date"].isoformat() == "2025-06-01"
    assert (rail["ld"], rail["ln"], rail["day_limit"], rail["night_limit"]) == (70.0, 60.0, 70, 60)
    assert rail["day_ok"] and rail["night_ok"] and rail["lmax_ok"]  # Lmax 75 = 60 + 15
    assert (rail["day_exceed_db"], rail["night_exceed_db"]) == (0.0, 0.0)
    assert home["date"].isoformat() == "2025-12-31"
    assert (home["day_hours"], home["night_hours"]) == (16, 8)
    assert home["day_ok"] and not home["night_ok"]
    assert home["night_exceed_db"] == 5.0
    assert home["night_lmax"] == 60.1 and not home["lmax_ok"]  # 45 + 15 = 60 < 60.1
    # Ldn = 10·lg[(16·10⁵ + 8·10⁶)/24] = 10·lg(400 000) = 56.02 → 56.0
    assert home["ldn"] == 56.0


def test_evaluate_without_output_prints_csv_and_without_lmax_leaves_the_rule_empty(tmp_path):
    source = tmp_path / "hourly.csv"
    hourly_rows("A", "2", "2025-03-01T06", day_and_night(58.0, 52.0)).write_csv(source)

    result = run("noise", "evaluate", source)

    assert result.exit_code == 0, result.output
    lines = result.stdout.lstrip("\ufeff").splitlines()
    assert lines[0] == ",".join(DAILY_COLUMNS)
    # Ldn = 10·lg[(16·10^5.8 + 8·10^6.2)/24] = 10·lg(948 936) = 59.77 → 59.8
    assert lines[1] == "A,2,2025-03-01,58.0,52.0,59.8,60,50,0.0,2.0,true,false,,,16,8"


def test_evaluate_reports_partial_days_and_the_minimum_hours(tmp_path):
    """A file starting at midnight: its first six hours are the night of the previous date."""
    source = tmp_path / "hourly.csv"
    hourly_rows("A", "1", "2025-03-01T00", [40.0] * 6 + [50.0] * 4).write_csv(source)

    lenient = json.loads(run("noise", "evaluate", source, "--json").stdout)
    output = tmp_path / "strict.parquet"
    strict = run(
        "noise", "evaluate", source, "-o", output, "--min-day-hours", "16", "--min-night-hours", "8"
    )

    assert lenient["rows"] == 2
    assert lenient["compliance"]["day"] == {"compliant": 1, "evaluated": 1, "rate_percent": 100.0}
    assert strict.exit_code == 0, strict.output
    daily = pl.read_parquet(output)
    assert daily["date"].cast(pl.String).to_list() == ["2025-02-28", "2025-03-01"]
    assert daily["night_hours"].to_list() == [6, 0]
    assert daily["day_hours"].to_list() == [0, 4]
    assert daily["ln"].to_list()[0] == 40.0 and daily["ld"].to_list()[1] == 50.0
    assert daily["night_ok"].to_list() == [None, None]
    assert daily["day_ok"].to_list() == [None, None]


def test_evaluate_json_gives_point_time_compliance_rates_by_zone(tmp_path):
    frame = pl.concat(
        [
            hourly_rows("A", "1", "2025-03-01T06", day_and_night(50.0, 44.0) * 2),
            hourly_rows("B", "3", "2025-03-01T06", day_and_night(66.0, 50.0) * 2),
        ]
    )
    source = tmp_path / "hourly.xlsx"
    frame.write_excel(source)

    result = run("noise", "evaluate", source, "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 4 and summary["points"] == 2
    # Days: A complies twice (50 ≤ 55), B exceeds twice (66 > 65): 2 of 4 point-times.
    assert summary["compliance"]["day"] == {"compliant": 2, "evaluated": 4, "rate_percent": 50.0}
    assert summary["compliance"]["night"]["rate_percent"] == 100.0
    assert summary["compliance"]["by_zone"]["3"]["day"]["rate_percent"] == 0.0
    assert summary["compliance"]["night_lmax"]["evaluated"] == 0


def test_evaluate_accepts_zone_spellings(tmp_path):
    source = write_csv(
        tmp_path / "hourly.csv",
        """
point,zone,time,leq
A,4A,2025-03-01 22:00,56
B,1类,2025-03-01 22:00,44
""",
    )
    result = run("noise", "evaluate", source)
    assert result.exit_code == 0, result.output
    daily = pl.read_csv(result.stdout.lstrip("\ufeff").encode())
    assert daily["zone"].to_list() == ["4a", "1"]
    assert daily["night_ok"].to_list() == [False, True]


# --------------------------------------------------------------------------------------------
# evaluate: bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "row", "column", "message"),
    [
        ("point,zone,time,leq,noise\nA,1,2025-03-01 06:00,50,1", 1, "noise", "unknown column"),
        ("point,zone,time\nA,1,2025-03-01 06:00", 1, "leq", "required column is missing"),
        ("point,zone,time,leq", None, None, "no data rows"),
        (
            "point,zone,time,leq\nA,1,2025-03-01 06:00,50\nA,4,2025-03-01 07:00,50",
            3,
            "zone",
            "unknown zone '4'",
        ),
        ("point,zone,time,leq\nA,1,2025-03-01 06:00,-1", 2, "leq", "below 0"),
        ("point,zone,time,leq\nA,1,2025-03-01 06:00,550", 2, "leq", "above 140"),
        ("point,zone,time,leq\nA,1,2025-03-01 06:00,loud", 2, "leq", "not a number"),
        ("point,zone,time,leq\nA,1,2025-03-01 06:20,50", 2, "time", "not the start of an hour"),
        ("point,zone,time,leq\nA,1,someday,50", 2, "time", "not a date or time"),
        ("point,zone,time,leq\n,1,2025-03-01 06:00,50", 2, "point", "a point is required"),
        ("point,zone,time,leq,lmax\nA,1,2025-03-01 06:00,50,49.9", 2, "lmax", "below the hour"),
        (
            "point,zone,time,leq\nA,1,2025-03-01 23:00,50\nA,2,2025-03-02 01:00,50",
            3,
            "zone",
            "differs from zone 1 of the same point in row 2",
        ),
    ],
)
def test_bad_input_names_file_row_and_column_and_writes_nothing(
    tmp_path, text, row, column, message
):
    source = write_csv(tmp_path / "hourly.csv", text)
    output = tmp_path / "daily.csv"

    result = run("noise", "evaluate", source, "-o", output, "--json")

    assert result.exit_code == 2
    assert not output.exists()
    problems = json.loads(result.stdout)["problems"]
    assert any(
        p["file"] == str(source)
        and p["row"] == row
        and p["column"] == column
        and message in p["message"]
        for p in problems
    ), problems


def test_duplicate_hours_name_every_row_involved(tmp_path):
    source = write_csv(
        tmp_path / "hourly.csv",
        """
point,zone,time,leq
A,1,2025-03-01 06:00,50
B,1,2025-03-01 06:00,50
A,1,2025-03-01T06:00:00,51
""",
    )
    result = run("noise", "evaluate", source)
    assert result.exit_code == 2
    assert "nothing was written" in result.stderr
    assert (
        "row 2, column 'time': point A, hour 2025-03-01 06:00 appears more than once "
        "(rows 2, 4)" in result.stderr.replace("\n", " ").replace("  ", " ")
    )


# --------------------------------------------------------------------------------------------
# grade (HJ 640—2012)
# --------------------------------------------------------------------------------------------


def test_grade_regional_is_the_arithmetic_mean_of_the_grid_points(tmp_path):
    """HJ 640—2012 §4: day (52.3 + 55.1 + 57.0)/3 = 54.8 → 二级 较好;
    night (44.0 + 46.0)/2 = 45.0 → 二级 (upper end inclusive)."""
    source = write_csv(
        tmp_path / "grid.csv",
        """
point,period,leq
G1,day,52.3
G2,day,55.1
G3,昼间,57.0
G1,night,44.0
G2,夜间,46.0
""",
    )
    result = run("noise", "grade", source, "--kind", "regional", "--json")
    assert result.exit_code == 0, result.output
    day, night = json.loads(result.stdout)["grades"]
    assert (day["period"], day["points"], day["mean"], day["grade"]) == ("day", 3, 54.8, 2)
    assert (day["grade_name"], day["evaluation"]) == ("二级", "较好")
    assert (night["mean"], night["grade"]) == (45.0, 2)


def test_grade_traffic_is_length_weighted(tmp_path):
    """HJ 640—2012 §5: day (1200·70 + 800·68)/2000 = 69.2 → 二级 较好 (68.1–70.0);
    night (1200·61 + 800·60)/2000 = 60.6 → 三级 一般 (60.1–62.0)."""
    source = write_csv(
        tmp_path / "roads.csv",
        """
point,period,leq,length
R1,day,70.0,1200
R2,day,68.0,800
R1,night,61.0,1200
R2,night,60.0,800
""",
    )
    output = tmp_path / "grades.csv"
    result = run("noise", "grade", source, "--kind", "traffic", "-o", output)
    assert result.exit_code == 0, result.output
    grades = pl.read_csv(output)
    assert grades["mean"].to_list() == [69.2, 60.6]
    assert grades["grade"].to_list() == [2, 3]
    assert grades["evaluation"].to_list() == ["较好", "一般"]
    assert grades["length"].to_list() == [2000.0, 2000.0]


@pytest.mark.parametrize(
    ("kind", "text", "row", "column", "message"),
    [
        ("regional", "point,period,leq,length\nG1,day,50,1", 1, "length", "unknown column"),
        ("regional", "point,period,leq\nG1,dusk,50", 2, "period", "unknown period"),
        ("regional", "point,period,leq", None, None, "no data rows"),
        (
            "regional",
            "point,period,leq\nG1,day,50\nG1,day,52",
            3,
            "point",
            "point G1 in period day appears more than once (rows 2, 3)",
        ),
        ("traffic", "point,period,leq,length\nR1,day,70,0", 2, "length", "must be positive"),
        ("traffic", "point,period,leq\nR1,day,70", 1, "length", "required column is missing"),
        ("traffic", "point,period,leq,length\nR1,day,,10", 2, "leq", "a level is required"),
    ],
)
def test_grade_rejects_bad_input(tmp_path, kind, text, row, column, message):
    source = write_csv(tmp_path / "in.csv", text)
    output = tmp_path / "out.csv"
    result = run("noise", "grade", source, "--kind", kind, "-o", output, "--json")
    assert result.exit_code == 2
    assert not output.exists()
    problems = json.loads(result.stdout)["problems"]
    assert any(
        p["row"] == row and p["column"] == column and message in p["message"] for p in problems
    ), problems


# --------------------------------------------------------------------------------------------
# A real-sized run: a year of hourly noise for 50 points
# --------------------------------------------------------------------------------------------


def year_of_noise(points: int, seed: int) -> pl.DataFrame:
    """Hourly Leq and Lmax for 2025 with a daily cycle, noise, gaps and the six zones."""
    rng = np.random.default_rng(seed)
    times = np.arange(np.datetime64("2025-01-01T00"), np.datetime64("2026-01-01T00"))
    n_hours = times.size
    zones = np.array(["0", "1", "2", "3", "4a", "4b"])[np.arange(points) % 6]
    hour = (times - times.astype("datetime64[D]")).astype(int)
    cycle = np.where((hour >= 6) & (hour < 22), 8.0, 0.0)
    base = np.array([42.0, 47.0, 51.0, 56.0, 58.0, 60.0])[np.arange(points) % 6]
    leq = np.round(base[:, None] + cycle[None, :] + rng.normal(0, 3, (points, n_hours)), 1)
    leq[rng.random(leq.shape) < 0.01] = np.nan  # about 1 % missing hours
    lmax = np.round(leq + rng.uniform(3, 22, leq.shape), 1)
    return pl.DataFrame(
        {
            "point": np.repeat([f"N{i:02d}" for i in range(points)], n_hours),
            "zone": np.repeat(zones, n_hours),
            "time": np.tile(times.astype("datetime64[us]"), points),
            "leq": leq.ravel(),
            "lmax": lmax.ravel(),
        }
    ).fill_nan(None)


def expected_daily(hourly: pl.DataFrame) -> pl.DataFrame:
    """Ld and Ln computed independently with polars: 10·lg(mean(10^(0.1·L))) per period."""
    hour = pl.col("time").dt.hour()

    def energy_mean(rows: pl.Expr) -> pl.Expr:
        return 10 * (10 ** (0.1 * pl.col("leq").filter(rows))).mean().log10()

    return (
        hourly.with_columns(
            ((pl.col("time") - pl.duration(hours=6)).dt.date()).alias("date"),
            ((hour >= 22) | (hour < 6)).alias("night"),
        )
        .group_by("point", "date")
        .agg(
            energy_mean(~pl.col("night")).alias("ld_expected"),
            energy_mean(pl.col("night")).alias("ln_expected"),
            pl.col("leq").filter(~pl.col("night")).count().alias("day_hours_expected"),
            pl.col("lmax").filter(pl.col("night")).max().alias("night_lmax_expected"),
        )
    )


@pytest.mark.slow
def test_a_year_of_hourly_noise_for_50_points(tmp_path):
    hourly = year_of_noise(50, seed=2025)
    source = tmp_path / "year.csv"
    hourly.write_csv(source, datetime_format="%Y-%m-%d %H:%M")
    output = tmp_path / "daily.parquet"

    result = run("noise", "evaluate", source, "-o", output, "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    daily = pl.read_parquet(output)
    # 365 dates of 2025 plus 2024-12-31, whose night ends in the file's first six hours.
    assert daily.height == summary["rows"] == 50 * 366
    one_point = daily.filter(pl.col("point") == "N00")
    first, last = one_point.row(0, named=True), one_point.row(-1, named=True)
    assert first["date"].isoformat() == "2024-12-31" and first["day_hours"] == 0
    assert last["date"].isoformat() == "2025-12-31" and last["night_hours"] <= 2

    checked = daily.join(expected_daily(hourly), on=["point", "date"], how="left")
    assert checked["ld_expected"].is_not_null().sum() == daily["ld"].is_not_null().sum()
    assert ((checked["ld"] - checked["ld_expected"]).abs().max()) <= 0.05 + 1e-9
    assert ((checked["ln"] - checked["ln_expected"]).abs().max()) <= 0.05 + 1e-9
    assert (checked["day_hours"] == checked["day_hours_expected"]).all()
    assert ((checked["night_lmax"] - checked["night_lmax_expected"]).abs().max()) == 0.0

    limits = {
        "0": (50, 40),
        "1": (55, 45),
        "2": (60, 50),
        "3": (65, 55),
        "4a": (70, 55),
        "4b": (70, 60),
    }
    night_limit = checked["zone"].replace_strict({z: n for z, (_, n) in limits.items()})
    assert (checked["night_limit"] == night_limit).all()
    assert (checked["night_ok"] == (checked["ln"] <= night_limit)).all()
    assert (checked["lmax_ok"] == (checked["night_lmax"] <= night_limit + 15)).all()
    exceed = (checked["ln"] - night_limit).clip(lower_bound=0).round(1)
    assert ((checked["night_exceed_db"] - exceed).abs().max()) < 1e-9

    night = summary["compliance"]["night"]
    assert night["evaluated"] == daily["night_ok"].count()
    assert night["compliant"] == daily["night_ok"].sum()
    assert 0 < night["compliant"] < night["evaluated"]
    expected_rate = round(100 * night["compliant"] / night["evaluated"], 1)
    assert math.isclose(night["rate_percent"], expected_rate)
