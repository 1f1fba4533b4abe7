"""File ingest: long and wide tables, all or nothing, idempotent, errors by row and column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from qingshan.services.ingest import load_readings_file, store_plan
from qingshan.services.tables import InputError
from qingshan.store.engine import reading
from qingshan.store.models import Parameter, Reading, ReadingRevision, Site


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def ingest(engine: Engine, path: Path, period: str = "hour") -> dict[str, int]:
    plan = load_readings_file(engine, path, period)
    return store_plan(engine, plan, actor="test:ingest", chunk_rows=2).as_dict()


def stored(engine: Engine) -> list[tuple[str, str, datetime, float, str]]:
    with reading(engine) as session:
        rows = session.execute(
            select(Site.code, Parameter.key, Reading.period_start, Reading.value, Reading.flag)
            .join(Site, Site.id == Reading.site_id)
            .join(Parameter, Parameter.id == Reading.parameter_id)
            .order_by(Site.code, Parameter.key, Reading.period_start)
        ).all()
    return [tuple(row) for row in rows]


LONG = """
site,parameter,time,value,flag
AIR1,pm25,2024-01-01 08:00,35,N
AIR1,a34002,2024-01-01 08:00,60,
AIR1,a21026,2024-01-01 09:00,8,M
STACK,a21026,2024-01-01 08:00,20.5,N
"""


def test_long_file_is_stored_with_codes_mapped_per_site_kind(engine, sites, tmp_path):
    """a21026 is ambient SO2 at an air station and flue-gas SO2 at an outlet (HJ 212 表 B.2)."""
    path = write_csv(tmp_path / "long.csv", LONG)
    assert ingest(engine, path) == {"inserted": 4, "revised": 0, "unchanged": 0}
    at = datetime(2024, 1, 1, 0, tzinfo=UTC)  # 08:00 Beijing time
    nine = datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert stored(engine) == [
        ("AIR1", "pm10", at, 60.0, "N"),
        ("AIR1", "pm25", at, 35.0, "N"),
        ("AIR1", "so2", nine, 8.0, "M"),
        ("STACK", "flue_so2", at, 20.5, "N"),
    ]


def test_re_running_a_file_stores_nothing_new(engine, sites, tmp_path):
    path = write_csv(tmp_path / "long.csv", LONG)
    ingest(engine, path)
    assert ingest(engine, path) == {"inserted": 0, "revised": 0, "unchanged": 4}


def test_a_corrected_file_revises_only_the_changed_readings(engine, sites, tmp_path):
    ingest(engine, write_csv(tmp_path / "a.csv", LONG))
    corrected = LONG.replace("AIR1,pm25,2024-01-01 08:00,35,N", "AIR1,pm25,2024-01-01 08:00,36,N")
    assert ingest(engine, write_csv(tmp_path / "b.csv", corrected)) == {
        "inserted": 0,
        "revised": 1,
        "unchanged": 3,
    }
    with reading(engine) as session:
        assert session.scalar(select(ReadingRevision.value)) == 35.0


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet", ".csv"])
def test_wide_files_in_every_format(engine, sites, tmp_path, suffix):
    frame = pl.DataFrame(
        {
            "site": ["AIR5", "AIR5", "RIVER"],
            "time": ["2024-01-01 08:00", "2024-01-01 08:05", "2024-01-01 08:00"],
            "pm25": ["35", "", ""],
            "pm25_flag": ["", "", ""],
            "o3": ["80", "81", ""],
            "o3_flag": ["N", "C", ""],
            "cod": ["", "", "12.5"],
        }
    )
    path = tmp_path / f"wide{suffix}"
    {".xlsx": frame.write_excel, ".parquet": frame.write_parquet, ".csv": frame.write_csv}[suffix](
        path
    )
    plan = load_readings_file(engine, path, "minute")
    assert plan.layout == "wide"
    store_plan(engine, plan, actor="test:ingest", chunk_rows=1000)
    values = [(site, key, value, flag) for site, key, _, value, flag in stored(engine)]
    assert values == [
        ("AIR5", "o3", 80.0, "N"),
        ("AIR5", "o3", 81.0, "C"),
        ("AIR5", "pm25", 35.0, "N"),
        ("RIVER", "cod", 12.5, "N"),
    ]


def problems_of(engine: Engine, path: Path, period: str = "hour") -> list[tuple]:
    with pytest.raises(InputError) as caught:
        load_readings_file(engine, path, period)
    return sorted((p.row, p.column, p.message) for p in caught.value.problems)


def test_any_bad_row_rejects_the_file_naming_row_and_column(engine, sites, tmp_path):
    path = write_csv(
        tmp_path / "bad.csv",
        """
site,parameter,time,value,flag
AIR1,pm25,2024-01-01 08:00,35,N
NOPE,pm25,2024-01-01 08:00,35,N
AIR1,pm99,2024-01-01 08:00,35,N
AIR1,pm25,2024-01-01 08:30,35,N
AIR1,pm10,2024-01-01 08:00,abc,Z
AIR1,no2,,,N
""",
    )
    assert problems_of(engine, path) == [
        (3, "site", "unknown site 'NOPE'"),
        (4, "parameter", "unknown parameter 'pm99' for this site"),
        (5, "time", "2024-01-01 08:30 is not the start of a whole hour (Beijing time)"),
        (6, "flag", "unknown flag 'Z'; flags are N F M S D C T B X R"),
        (6, "value", "'abc' is not a number"),
        (7, "time", "a time is required"),
        (7, "value", "a value is required"),
    ]
    with reading(engine) as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 0


def test_wide_file_problems_name_the_parameter_column(engine, sites, tmp_path):
    path = write_csv(
        tmp_path / "bad.csv",
        """
site,time,pm25,pm25_flag,so2,xyz_flag
AIR1,2024-01-01 09:00,36,Q,8,
AIR1,2024-01-01 10:00,,,x,
""",
    )
    assert problems_of(engine, path) == [
        (1, "xyz_flag", "flag column without its parameter column")
    ]
    path = write_csv(
        tmp_path / "bad2.csv",
        """
site,time,pm25,pm25_flag,so2
AIR1,2024-01-01 09:00,36,Q,8
AIR1,2024-01-01 10:00,,,x
""",
    )
    assert problems_of(engine, path) == [
        (2, "pm25_flag", "unknown flag 'Q'; flags are N F M S D C T B X R"),
        (3, "so2", "'x' is not a number"),
    ]


def test_one_key_twice_with_different_values_is_a_problem(engine, sites, tmp_path):
    path = write_csv(
        tmp_path / "dup.csv",
        """
site,parameter,time,value
AIR1,pm25,2024-01-01 08:00,35
AIR1,pm25,2024-01-01 08:00,35
AIR1,pm25,2024-01-01 08:00,36
""",
    )
    assert problems_of(engine, path) == [
        (4, "value", "same site, parameter and time as row 2 with another value or flag"),
    ]


def test_day_readings_start_at_beijing_midnight(engine, sites, tmp_path):
    path = write_csv(
        tmp_path / "days.csv",
        """
site,parameter,time,value
RIVER,cod,2024-01-02,15
RIVER,cod,2024-01-03 08:00,15
""",
    )
    assert problems_of(engine, path, "day") == [
        (3, "time", "2024-01-03 08:00 is not the start of a whole day (Beijing time)"),
    ]
