"""Alarms for the page tests over :mod:`web_world`: one AQI rule (created through the rules
service) and an active, unacknowledged alarm of it at AIR-01 (grid G00, the officer's) and at
WAT-01 (grid G01, not the officer's). Alarm rows are written as rule evaluation writes them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from qingshan.services.rules import create_rule
from qingshan.store.engine import writing
from qingshan.store.models import Alarm, Site

RULE = "aqi-over-200"


def raise_alarms(engine: Engine) -> dict[str, int]:
    """Site code → id of its new alarm (AIR-01: major, WAT-01: critical)."""
    started = datetime(2026, 11, 20, 6, tzinfo=UTC)
    alarms: dict[str, Alarm] = {}
    with writing(engine, "test:alarms") as session:
        rule = create_rule(
            session,
            code=RULE,
            name="AQI > 200",
            rule_type="aqi",
            parameters={"parameter": "aqi", "level": 200.0},
            scope=None,
            severity="major",
            actor="test:alarms",
        )
        for code, severity in (("AIR-01", "major"), ("WAT-01", "critical")):
            site = session.scalars(select(Site).where(Site.code == code)).one()
            alarms[code] = Alarm(
                series_key=f"{RULE}:{site.id}",
                rule_id=rule.id,
                rule_version=rule.version,
                site_id=site.id,
                grid_id=site.grid_id,
                severity=severity,
                started_at=started,
                last_triggered_at=started,
                count=3,
                peak_value=236.0,
            )
            session.add(alarms[code])
        session.flush()
        return {code: alarm.id for code, alarm in alarms.items()}
