"""Energy meters in the store → monthly activity → tce and CO2 (issue: carbon books, energy)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from qingshan.carbon.accounting import Options
from qingshan.cli import app
from qingshan.services import carbon, energy
from qingshan.store.engine import writing
from qingshan.store.readings import upsert_readings
from qingshan.store.registry import upsert_site

FACTORS = Path(__file__).parents[2] / "examples" / "carbon" / "factors"


def add_meter(engine, parameters, rows: list[tuple[str, str, datetime, float]]) -> None:
    """An energy meter site ``EM1`` (楼宇甲) with (parameter, period, start, value) readings."""
    with writing(engine, "test:fixture") as session:
        site = upsert_site(
            session, "EM1", name="楼宇甲", kind="energy_meter", latitude=30.6, longitude=114.4
        )
        frame = pl.DataFrame(
            {
                "site_id": [site.id] * len(rows),
                "parameter_id": [parameters[key] for key, *_ in rows],
                "period": [period for _, period, _, _ in rows],
                "period_start": [start for _, _, start, _ in rows],
                "value": [value for *_, value in rows],
                "flag": ["N"] * len(rows),
            },
        )
        upsert_readings(session, frame, source="test", actor="test:fixture")


def test_monthly_sums_use_days_where_present_else_hours(engine, parameters):
    jan = datetime(2025, 1, 10, tzinfo=UTC)
    feb = datetime(2025, 2, 10, tzinfo=UTC)
    add_meter(
        engine,
        parameters,
        [
            # January: day readings and (overlapping) hour readings → only the days count.
            ("electricity", "day", jan, 1000.0),
            ("electricity", "day", jan + timedelta(days=1), 500.0),
            ("electricity", "hour", jan, 40.0),
            # February: hour readings only.
            *[("electricity", "hour", feb + timedelta(hours=h), 10.0) for h in range(24)],
            ("natural_gas", "day", feb, 300.0),
            # Beijing time: 2024-12-31 17:00 UTC is 2025-01-01 01:00 in Beijing → January 2025.
            ("electricity", "hour", datetime(2024, 12, 31, 17, tzinfo=UTC), 7.0),
        ],
    )
    activity, left_out = energy.meter_activity(engine, 2025)
    quantities = {
        (row["item"], row["month"]): row["quantity"] for row in activity.iter_rows(named=True)
    }
    assert quantities == {
        ("electricity", 1): 1500.0,
        ("electricity", 2): 240.0,
        ("natural_gas", 2): 300.0,
    }
    assert set(activity["entity"]) == {"楼宇甲"}
    assert "steam" in left_out


def test_meter_energy_in_tce_and_co2(engine, parameters):
    """1,000 kWh → 0.1229 tce (GB/T 2589 Annex A, 0.1229 kgce/kWh) and, at the 2023 national
    MEE/NBS factor 0.5306 kgCO2/kWh, 0.5306 t CO2."""
    add_meter(
        engine, parameters, [("electricity", "day", datetime(2023, 5, 1, tzinfo=UTC), 1000.0)]
    )
    activity, _ = energy.meter_activity(engine, 2023)
    library = carbon.library_for([])
    result = carbon.account("meters", activity, activity, library, Options(gases="co2"), 1000)
    row = result.row(0, named=True)
    assert round(row["energy_tce"], 4) == 0.1229
    assert round(row["co2_t"], 4) == 0.5306


def test_meters_command(engine, parameters, database_url, monkeypatch):
    add_meter(
        engine, parameters, [("electricity", "day", datetime(2023, 5, 1, tzinfo=UTC), 2000.0)]
    )
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["carbon", "meters", "--year", "2023", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 1
    assert round(summary["energy_by_type"][0]["energy_tce"], 4) == 0.2458
