"""The monthly bulletin over a small store whose figures are worked out by hand from the
standards (HJ 633—2026 breakpoints, HJ 663 percentiles, GB 3838—2002 Table 1, GB 3096—2008
Table 1), on SQLite and PostgreSQL; the PDF and XLSX say the same."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import openpyxl
import polars as pl
import pytest
from pypdf import PdfReader

from qingshan.services import bulletin
from qingshan.standards import air_evaluation
from qingshan.store.engine import reading, writing
from qingshan.store.models import Site
from qingshan.store.readings import upsert_readings
from qingshan.store.registry import upsert_site

MONTH = "2026-10"
HOUR = timedelta(hours=1)
BEIJING_OFFSET = timedelta(hours=8)


def beijing(day: int, hour: int = 0, month: int = 10) -> datetime:
    """The UTC instant of ``2026-<month>-<day> <hour>:00`` Beijing time."""
    return datetime(2026, month, day, hour, tzinfo=UTC) - BEIJING_OFFSET


def rows(
    site: int,
    parameter: int,
    start: datetime,
    values: list[float],
    period: str = "hour",
    step: timedelta = HOUR,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "site_id": [site] * len(values),
            "parameter_id": [parameter] * len(values),
            "period": [period] * len(values),
            "period_start": [start + i * step for i in range(len(values))],
            "value": values,
            "flag": ["N"] * len(values),
        },
        schema_overrides={"period_start": pl.Datetime("us", "UTC")},
    )


CLEAN = {"so2": 10.0, "no2": 20.0, "co": 0.5, "pm10": 40.0}
"""Constant hourly values of the other pollutants: IAQIs 10, 25, 13, 40 (all ≤ 50)."""


def air_days(site: int, parameters: dict[str, int], pm25: list[float]) -> list[pl.DataFrame]:
    """Whole days (24 h) from 1 October, PM2.5 per day, O3 of day d constant at 40 + 2d (so
    MDA8 = 40 + 2d, IAQI ≤ 50)."""
    frames = []
    for index, value in enumerate(pm25):
        day = index + 1
        start = beijing(day)
        hourly = {**CLEAN, "pm25": value, "o3": 40.0 + 2 * day}
        frames += [rows(site, parameters[key], start, [v] * 24) for key, v in hourly.items()]
    return frames


@pytest.fixture
def store(engine, sites, parameters):
    """AIR1 (30 days: PM2.5 20 for 25 days, then 100; 19 hours on 31 Oct), AIR5 (PM2.5 40 for
    30 days), AIR9 (no data); RIVER (target III), LAKE (reservoir, target II), DRY (no data);
    noise point N1 in zone 2."""
    with writing(engine, "test") as session:
        grid_id = session.get(Site, sites["AIR1"]).grid_id
        common = {"latitude": 30.6, "longitude": 114.4, "grid_id": grid_id}
        extra = {
            "AIR9": upsert_site(
                session, "AIR9", name="AIR9", kind="air_station", air_class="II", **common
            ).id,
            "LAKE": upsert_site(
                session,
                "LAKE",
                name="LAKE",
                kind="water_section",
                water_target_class="II",
                waterbody_type="reservoir",
                **common,
            ).id,
            "DRY": upsert_site(
                session,
                "DRY",
                name="DRY",
                kind="water_section",
                water_target_class="III",
                waterbody_type="river",
                **common,
            ).id,
            "N1": upsert_site(
                session, "N1", name="N1", kind="noise_point", noise_zone="2", **common
            ).id,
            "N2": upsert_site(session, "N2", name="N2", kind="noise_point", **common).id,
        }
        frames = air_days(sites["AIR1"], parameters, [20.0] * 25 + [100.0] * 5)
        frames += [
            rows(sites["AIR1"], parameters[k], beijing(31), [v] * 19)
            for k, v in {**CLEAN, "pm25": 20.0, "o3": 50.0}.items()
        ]
        frames += air_days(sites["AIR5"], parameters, [40.0] * 30)
        river, lake = sites["RIVER"], extra["LAKE"]
        for parameter, first, second in (
            ("nh3n", 0.8, 1.6),
            ("do", 6.0, 6.0),
            ("codmn", 4.0, 4.0),
            ("tp", 0.1, 0.1),
        ):
            frames.append(
                rows(
                    river,
                    parameters[parameter],
                    beijing(5),
                    [first, second],
                    period="day",
                    step=timedelta(days=15),
                )
            )
        for parameter, value in (("nh3n", 0.3), ("do", 8.0), ("tp", 0.02)):
            frames.append(rows(lake, parameters[parameter], beijing(10), [value]))
        # The lake's day reading of the same instant is not a second sample (hour readings win).
        frames.append(rows(lake, parameters["nh3n"], beijing(10), [5.0], period="day"))
        # September's last night (belongs to 30 September), then 1 October 06:00 – 2 October
        # 05:00 (16 day hours at 58, 8 night hours at 52), then 2 October's day: 8 h at 64, 8 at 54.
        point = extra["N1"]
        leq = parameters["leq"]
        frames.append(rows(point, leq, beijing(30, 23, month=9), [70.0]))
        frames.append(rows(point, leq, beijing(1, 6), [58.0] * 16 + [52.0] * 8))
        frames.append(rows(point, leq, beijing(2, 6), [64.0] * 8 + [54.0] * 8))
        # N2 has readings but no zone (so no limit): listed, not judged.
        frames.append(rows(extra["N2"], leq, beijing(1, 6), [58.0] * 16))
        upsert_readings(session, pl.concat(frames), source="test", actor="test")
    with reading(engine) as session:
        return bulletin.build_bulletin(session, MONTH)


def by(frame: pl.DataFrame, column: str) -> dict[str, dict]:
    return {row[column]: row for row in frame.iter_rows(named=True)}


def test_air_station_figures_are_the_hand_computed_ones(store) -> None:
    air = by(store.air, "station")
    one = air["AIR1"]
    # 30 valid days (31 October has 19 hours: no valid daily mean, GB 3095 Table 4);
    # PM2.5 20 → IAQI 29, AQI 40 (PM10) → 优; PM2.5 100 → IAQI 100 + 40·50/55 = 137 → 轻度污染.
    assert (one["days_expected"], one["aqi_valid_days"], one["good_days"]) == (31, 30, 25)
    assert (one["days_excellent"], one["days_lightly_polluted"], one["days_good"]) == (25, 5, 0)
    assert one["good_day_ratio"] == 83.3  # 25 / 30, to 0.1 % (HJ 663)
    assert one["pm25_mean"] == 33  # (25·20 + 5·100) / 30 = 33.3
    assert (one["pm10_mean"], one["so2_mean"], one["no2_mean"], one["co_24h_p95"]) == (
        40,
        10,
        20,
        0.5,
    )
    # MDA8 of day d is 40 + 2d, and 31 October's 19 hours give 14 valid 8-h windows (≥ 6 of 8
    # hours each; HJ 663 §6.1.2), so MDA8 = 50 there: 31 values 42, 44, 46, 48, 50, 50, 52 … 100.
    assert (one["pm25_days_valid"], one["o3_8h_max_days_valid"]) == (30, 31)
    # HJ 663 Appendix A: k = 1 + 30·0.9 = 28 → X(28) = 40 + 2·27 = 94.
    assert one["o3_8h_max_p90"] == 94
    assert one["primary_days"] == "PM2.5 5"
    five = air["AIR5"]
    # PM2.5 40 → IAQI 50 + 5·50/25 = 60 → 良 every day, PM2.5 primary.
    assert (five["aqi_valid_days"], five["days_good"], five["good_day_ratio"]) == (30, 30, 100.0)
    assert five["primary_days"] == "PM2.5 30"


def test_category_days_add_up_to_the_valid_days(store) -> None:
    for row in store.air.iter_rows(named=True):
        categories = [row[key] for key in row if key.startswith("days_") and key != "days_expected"]
        assert sum(categories) == row["aqi_valid_days"] <= row["days_expected"]
        assert row["good_days"] == row["days_excellent"] + row["days_good"]


def test_a_station_without_data_is_missing_not_zero(store) -> None:
    empty = by(store.air, "station")["AIR9"]
    assert empty["aqi_valid_days"] == 0
    assert all(
        empty[key] is None
        for key in ("good_day_ratio", "pm25_mean", "co_24h_p95", "o3_8h_max_p90", "composite_index")
    )


def test_district_is_the_mean_of_the_stations_before_the_aqi(store) -> None:
    district = by(store.air, "station")[bulletin.DISTRICT_ROW]
    # Hourly PM2.5 (20 + 40)/2 = 30 on days 1–25 (AQI 43 → 优), (100 + 40)/2 = 70 on 26–30
    # (IAQI 100 + 10·50/55 = 110 → 轻度污染); AIR9 has no values and does not count.
    assert (district["aqi_valid_days"], district["good_days"]) == (30, 25)
    assert district["pm25_mean"] == 37  # (25·30 + 5·70) / 30 = 36.7
    terms = {"so2": 10, "no2": 20, "pm10": 40, "pm25": 37, "co": 0.5, "o3": 94}
    limits = {
        "so2": "so2_annual",
        "no2": "no2_annual",
        "pm10": "pm10_annual",
        "pm25": "pm25_annual",
        "co": "co_24h",
        "o3": "o3_8h",
    }
    expected = sum(
        value / air_evaluation.limit(limits[key], "2026-transitional", "II")
        for key, value in terms.items()
    )
    assert district["composite_index"] == pytest.approx(round(expected, 2), abs=0.005)
    assert store.summary["air_good_day_ratio"] == 83.3


def test_water_sections_class_target_and_share(store) -> None:
    water = by(store.water, "section")
    river = water["RIVER"]
    # Monthly means: NH3-N (0.8 + 1.6)/2 = 1.2 → Class IV (III ≤ 1.0, IV ≤ 1.5), the worst item.
    assert (river["samples"], river["class"], river["meets_target"]) == (2, "IV", "no")
    assert river["main_pollutants"] == "nh3n"  # the only item worse than Class III
    lake = water["LAKE"]
    # Reservoir TP 0.02 ≤ 0.025 (Class II for lakes), NH3-N 0.3 (II), DO 8 (I) → II = target.
    assert (lake["samples"], lake["class"], lake["meets_target"]) == (1, "II", "yes")
    dry = water["DRY"]
    assert dry["samples"] == 0 and dry["class"] is None and dry["meets_target"] is None
    assert store.summary["water_sections_meeting_target"] == {
        "meeting": 1,
        "judged": 2,
        "percent": 50.0,
    }


def test_noise_point_month_levels_against_zone_two(store) -> None:
    point = by(store.noise, "point")["N1"]
    # Day: 16 h at 58, 8 at 64, 8 at 54 → energy mean; night: 8 h at 52 (30 Sept excluded).
    day = 10 * math.log10((16 * 10**5.8 + 8 * 10**6.4 + 8 * 10**5.4) / 32)
    assert point["ld"] == round(day, 1) == 60.0
    assert (point["day_limit"], point["day_ok"]) == (60, True)
    assert (point["ln"], point["night_limit"], point["night_ok"]) == (52.0, 50, False)
    assert (point["day_hours"], point["night_hours"]) == (32, 8)
    # Per date (HJ 640 §6): 1 Oct day 58 ok, 2 Oct day 61.4 not; the one night 52 not.
    assert (point["days_evaluated"], point["days_day_ok"], point["nights_ok"]) == (2, 1, 0)
    unzoned = by(store.noise, "point")["N2"]
    assert (unzoned["zone"], unzoned["ld"], unzoned["day_ok"]) == (None, None, None)
    assert store.summary["noise_points_day_ok"] == {"meeting": 1, "judged": 1, "percent": 100.0}


def test_pdf_and_xlsx_carry_the_figures_and_the_standards(store) -> None:
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(bulletin.bulletin_pdf(store))).pages
    )
    assert "环境质量月报 2026年10月" in text
    assert "83.3" in text and "HJ 663" in text and "GB 3838" in text and "GB 3096" in text
    workbook = openpyxl.load_workbook(io.BytesIO(bulletin.bulletin_xlsx(store)))
    assert workbook.sheetnames == list(bulletin.SHEETS.values())
    header, *body = list(workbook["空气 Air"].iter_rows(values_only=True))
    station = header.index("站点 / Station")
    ratio = header.index("优良天数比例(%) / Good-day ratio (%)")
    values = {row[station]: row[ratio] for row in body}
    assert values["AIR1"] == 83.3 and values["AIR9"] is None


def test_bad_month_is_refused() -> None:
    for text in ("2026-13", "2026/10", "26-10", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            bulletin.parse_month(text)
