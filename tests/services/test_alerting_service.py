"""Rule evaluation against the store: alarms open, re-trigger, clear, de-duplicate (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select

from qingshan.services import alerting, rules
from qingshan.store.engine import reading, writing
from qingshan.store.models import Alarm, AuditEntry, RuleVersion
from qingshan.store.readings import upsert_readings

T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def add_rule(engine: Engine, code: str, rule_type: str, severity: str = "orange", **parameters: Any) -> None:
    scope = parameters.pop("scope", None)
    with writing(engine, "test") as session:
        rules.create_rule(
            session,
            code=code,
            name=code,
            rule_type=rule_type,
            parameters=parameters,
            scope=scope,
            severity=severity,
            actor="test",
        )


def batch(site_id: int, parameter_id: int, values: list[float], *, start: datetime = T0,
          step: timedelta = HOUR, period: str = "hour", flags: list[str] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "site_id": [site_id] * len(values),
            "parameter_id": [parameter_id] * len(values),
            "period": [period] * len(values),
            "period_start": [start + i * step for i in range(len(values))],
            "value": values,
            "flag": flags or ["N"] * len(values),
        },
        schema_overrides={"period_start": pl.Datetime("us", "UTC")},
    )


def ingest(engine: Engine, frame: pl.DataFrame) -> alerting.EvaluationCounts:
    with writing(engine, "test") as session:
        upsert_readings(session, frame, source="test", actor="test")
    return alerting.evaluate_readings(engine, frame)


def alarms(engine: Engine) -> list[dict[str, Any]]:
    with reading(engine) as session:
        found = session.scalars(select(Alarm).order_by(Alarm.id))
        return [
            {
                "start": a.started_at,
                "end": a.last_triggered_at,
                "count": a.count,
                "peak": a.peak_value,
                "active": a.active,
                "cleared": a.cleared_at,
                "parameter_id": a.parameter_id,
            }
            for a in found
        ]


PERMIT_SERIES = [30.0, 40.0, 41.0, 42.0, 30.0, 30.0, 30.0]
"""STACK's flue SO2 against its permit limit 35 mg/m³: above it in hours 1–3."""


def expected_permit_alarm(parameters: dict[str, int]) -> dict[str, Any]:
    """For 2 consecutive hours, clear after 2 hours below: starts at hour 2 (the second hour of
    the run), last triggered at hour 3, 2 periods, peak 42, cleared at hour 5."""
    return {
        "start": T0 + 2 * HOUR,
        "end": T0 + 3 * HOUR,
        "count": 2,
        "peak": 42.0,
        "active": False,
        "cleared": T0 + 5 * HOUR,
        "parameter_id": parameters["flue_so2"],
    }


def test_permit_exceedance_fires_and_clears_in_one_batch(engine, sites, parameters) -> None:
    add_rule(engine, "so2-permit", "permit", parameter="flue_so2", for_periods=2, clear_after=2)
    counts = ingest(engine, batch(sites["STACK"], parameters["flue_so2"], PERMIT_SERIES))
    assert alarms(engine) == [expected_permit_alarm(parameters)]
    assert counts.as_dict() == {"opened": 1, "updated": 0, "cleared": 1}


def test_reading_by_reading_gives_the_same_single_alarm(engine, sites, parameters) -> None:
    """De-duplication: each re-trigger updates the open alarm; the clear comes when due."""
    add_rule(engine, "so2-permit", "permit", parameter="flue_so2", for_periods=2, clear_after=2)
    states = []
    for hour, value in enumerate(PERMIT_SERIES):
        ingest(engine, batch(sites["STACK"], parameters["flue_so2"], [value], start=T0 + hour * HOUR))
        states.append([(a["count"], a["active"]) for a in alarms(engine)])
    assert states == [[], [], [(1, True)], [(2, True)], [(2, True)], [(2, False)], [(2, False)]]
    assert alarms(engine) == [expected_permit_alarm(parameters)]


def test_evaluating_again_changes_nothing(engine, sites, parameters) -> None:
    add_rule(engine, "so2-permit", "permit", parameter="flue_so2", for_periods=2, clear_after=2)
    ingest(engine, batch(sites["STACK"], parameters["flue_so2"], PERMIT_SERIES))
    again = alerting.evaluate_period(engine, T0, T0 + 6 * HOUR)
    assert again.as_dict() == {"opened": 0, "updated": 0, "cleared": 0}
    assert alarms(engine) == [expected_permit_alarm(parameters)]
