"""Rule evaluation against the store: alarms open, re-trigger, clear and de-duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select

from qingshan.services import alerting, rules
from qingshan.store.engine import reading, writing
from qingshan.store.models import Alarm, AuditEntry, RuleVersion, Site
from qingshan.store.readings import upsert_readings

T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def add_rule(
    engine: Engine, code: str, rule_type: str, severity: str = "orange", **parameters: Any
) -> None:
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


def batch(
    site_id: int,
    parameter_id: int,
    values: list[float],
    *,
    start: datetime = T0,
    step: timedelta = HOUR,
    period: str = "hour",
    flags: list[str] | None = None,
) -> pl.DataFrame:
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
        ingest(
            engine, batch(sites["STACK"], parameters["flue_so2"], [value], start=T0 + hour * HOUR)
        )
        states.append([(a["count"], a["active"]) for a in alarms(engine)])
    assert states == [[], [], [(1, True)], [(2, True)], [(2, True)], [(2, False)], [(2, False)]]
    assert alarms(engine) == [expected_permit_alarm(parameters)]


def test_evaluating_again_changes_nothing(engine, sites, parameters) -> None:
    add_rule(engine, "so2-permit", "permit", parameter="flue_so2", for_periods=2, clear_after=2)
    ingest(engine, batch(sites["STACK"], parameters["flue_so2"], PERMIT_SERIES))
    again = alerting.evaluate_period(engine, T0, T0 + 6 * HOUR)
    assert again.as_dict() == {"opened": 0, "updated": 0, "cleared": 0}
    assert alarms(engine) == [expected_permit_alarm(parameters)]


def test_manual_clear_then_a_new_trigger_opens_a_new_alarm(engine, sites, parameters) -> None:
    from qingshan.services import alarms as alarm_service

    add_rule(engine, "so2-permit", "permit", parameter="flue_so2")
    so2 = parameters["flue_so2"]
    ingest(engine, batch(sites["STACK"], so2, [40.0]))
    with writing(engine, "test") as session:
        alarm_service.clear(session, alarms_ids(engine)[0], who="user:officer", reason="known")
    ingest(engine, batch(sites["STACK"], so2, [41.0], start=T0 + HOUR))
    found = alarms(engine)
    assert [(a["start"], a["active"]) for a in found] == [(T0, False), (T0 + HOUR, True)]


def alarms_ids(engine: Engine) -> list[int]:
    with reading(engine) as session:
        return list(session.scalars(select(Alarm.id).order_by(Alarm.id)))


def test_times_in_window_counts_exceedances_not_runs(engine, sites, parameters) -> None:
    """2 times in 3 hours: hours 0 and 2 exceed (hour 1 does not) → holds at hour 2."""
    add_rule(engine, "so2-2in3", "permit", parameter="flue_so2", times_in=[2, 3], clear_after=3)
    ingest(engine, batch(sites["STACK"], parameters["flue_so2"], [40.0, 30.0, 40.0, 30.0, 30.0]))
    assert [(a["start"], a["count"], a["active"]) for a in alarms(engine)] == [
        (T0 + 2 * HOUR, 1, True)
    ]


def test_water_section_worse_than_its_target_class(engine, sites, parameters) -> None:
    """RIVER's target is Class III; COD 25 mg/L is Class IV (GB 3838 Table 1: III ≤ 20, IV ≤ 30)."""
    add_rule(engine, "cod-class", "water_class", parameter="cod")
    ingest(engine, batch(sites["RIVER"], parameters["cod"], [20.0, 25.0, 18.0]))
    [alarm] = alarms(engine)
    assert (alarm["start"], alarm["peak"], alarm["cleared"]) == (T0 + HOUR, 4.0, T0 + 2 * HOUR)


def test_hourly_aqi_over_level_takes_the_largest_iaqi(engine, sites, parameters) -> None:
    """PM2.5 80 µg/m³ → IAQI 100 + 50 × 20/55 = 118.2, rounded up to 119 (HJ 633—2026 Table 3
    breakpoints 60→100, 115→150, indexed with the 24-h column, §4.2.4); O3 1-h 150 µg/m³ →
    IAQI 47; the AQI 119 exceeds 100. The hour before (PM2.5 30 → 43) does not."""
    add_rule(engine, "aqi-100", "aqi", level=100)
    air = sites["AIR1"]
    frame = pl.concat(
        [batch(air, parameters["pm25"], [30.0, 80.0]), batch(air, parameters["o3"], [150.0, 150.0])]
    )
    ingest(engine, frame)
    [alarm] = alarms(engine)
    assert (alarm["start"], alarm["peak"], alarm["parameter_id"]) == (T0 + HOUR, 119.0, None)


def test_noise_limit_depends_on_day_and_night(engine, parameters) -> None:
    """Zone 2: 60 dB(A) by day, 50 dB(A) at night (GB 3096—2008 Table 1). 55 dB(A) at 21:00
    and 22:00 Beijing time: only the 22:00 hour (night) exceeds."""
    from qingshan.store.registry import upsert_site

    with writing(engine, "test") as session:
        site = upsert_site(
            session,
            "N1",
            name="N1",
            kind="noise_point",
            latitude=30.0,
            longitude=114.0,
            noise_zone="2",
        ).id
    add_rule(engine, "noise", "noise")
    start = datetime(2026, 6, 1, 13, tzinfo=UTC)  # 21:00 Beijing
    ingest(engine, batch(site, parameters["leq"], [55.0, 55.0], start=start))
    assert [a["start"] for a in alarms(engine)] == [start + HOUR]


def test_invalid_flags_do_not_exceed_but_raise_device_flag_alarms(
    engine, sites, parameters
) -> None:
    add_rule(engine, "so2-permit", "permit", parameter="flue_so2")
    add_rule(engine, "so2-device", "device_flag", "blue", parameter="flue_so2")
    so2 = parameters["flue_so2"]
    ingest(engine, batch(sites["STACK"], so2, [99.0, 20.0], flags=["D", "N"]))
    with reading(engine) as session:
        found = session.execute(
            select(Alarm.rule_id, Alarm.severity, Alarm.started_at, Alarm.active)
        ).all()
    assert [(severity, start, active) for _, severity, start, active in found] == [
        ("warning", T0, False)
    ]


def test_silence_after_three_intervals_and_clear_when_data_return(
    engine, sites, parameters
) -> None:
    """AIR1 reports every minute: its last reading at T0 makes it silent after T0 + 3 min."""
    add_rule(engine, "silent", "silent", scope={"sites": ["AIR1"]})
    pm25 = parameters["pm25"]
    minute = timedelta(minutes=1)
    with writing(engine, "test") as session:
        upsert_readings(
            session,
            batch(sites["AIR1"], pm25, [10.0], period="minute"),
            source="test",
            actor="test",
        )
    alerting.evaluate_period(engine, T0, T0 + 3 * minute)
    assert alarms(engine) == []
    alerting.evaluate_period(engine, T0, T0 + 3 * minute + timedelta(seconds=1))
    assert [(a["start"], a["active"], a["peak"]) for a in alarms(engine)] == [
        (T0 + 3 * minute + timedelta(seconds=1), True, 3 + 1 / 60)
    ]
    back = batch(sites["AIR1"], pm25, [11.0], start=T0 + 5 * minute, period="minute")
    with writing(engine, "test") as session:
        upsert_readings(session, back, source="test", actor="test")
    alerting.evaluate_readings(engine, back, at=T0 + 5 * minute + timedelta(seconds=2))
    assert [a["active"] for a in alarms(engine)] == [False]


def test_neighbour_anomaly_points_to_the_site_far_above_its_peers(
    engine, sites, parameters
) -> None:
    """Five stations of one grid read 40–44 µg/m³; one reads 90. Median 42.5, MAD 1.5 →
    modified z = 0.6745 × 47.5 / 1.5 = 21.4 > 3.5 (Iglewicz & Hoaglin 1993)."""
    from qingshan.store.registry import upsert_site

    with writing(engine, "test") as session:
        grid_id = session.scalar(select(Site.grid_id).where(Site.code == "AIR1"))
        extra = [
            upsert_site(
                session,
                f"MS{i}",
                name=f"MS{i}",
                kind="air_station",
                latitude=30.0,
                longitude=114.0,
                grid_id=grid_id,
            ).id
            for i in range(4)
        ]
    add_rule(engine, "pm25-neighbours", "neighbour", parameter="pm25")
    pm25 = parameters["pm25"]
    stations = [sites["AIR5"], *extra, sites["AIR1"]]
    values = dict(zip(stations, [40.0, 41.0, 42.0, 43.0, 44.0, 90.0], strict=True))
    frame = pl.concat([batch(site, pm25, [value]) for site, value in values.items()])
    ingest(engine, frame)
    with reading(engine) as session:
        found = session.execute(select(Alarm.site_id, Alarm.peak_value)).all()
    assert [(site, round(peak, 1)) for site, peak in found] == [(sites["AIR1"], 21.4)]


def test_rule_changes_are_versions_and_audited(engine) -> None:
    add_rule(engine, "so2-permit", "permit", parameter="flue_so2")
    with writing(engine, "user:analyst") as session:
        rules.change_rule(session, "so2-permit", actor="user:analyst", severity="red")
        rules.change_rule(session, "so2-permit", actor="user:analyst", severity="critical")
    with reading(engine) as session:
        history = [
            (v.version, v.severity, v.saved_by) for v in rules.rule_history(session, "so2-permit")
        ]
        audited = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.entity == "rule_versions")
        ).all()
    assert history == [(1, "major", "test"), (2, "critical", "user:analyst")]
    assert list(audited) == ["test", "user:analyst"]


def test_bad_rule_parameters_are_refused(engine) -> None:
    with pytest.raises(ValueError, match="need"):
        add_rule(engine, "x", "permit")
    with pytest.raises(ValueError, match="times_in"):
        add_rule(engine, "x", "permit", parameter="flue_so2", times_in=[3, 2])
    with writing(engine, "test") as session:
        assert session.scalars(select(RuleVersion)).all() == []


@pytest.mark.parametrize(
    ("rule_type", "settings", "values", "first_hour"),
    [
        ("spike", {"window": 4}, [10.0, 11.0, 10.0, 12.0, 50.0], 4),
        ("rise", {"steps": 3}, [10.0, 11.0, 12.0, 13.0, 12.0], 3),
        ("flat_line", {"periods": 3}, [10.0, 10.0, 10.0, 11.0], 2),
        ("impossible", {"low": 0.0, "high": 1000.0}, [10.0, 1200.0, 10.0], 1),
    ],
)
def test_history_and_quality_rules_fire_on_the_right_hour(
    engine, sites, parameters, rule_type, settings, values, first_hour
) -> None:
    add_rule(engine, rule_type, rule_type, "yellow", parameter="pm25", **settings)
    ingest(engine, batch(sites["AIR1"], parameters["pm25"], values))
    assert [a["start"] for a in alarms(engine)] == [T0 + first_hour * HOUR]


def test_target_pace_behind_after_a_polluted_day(engine, sites, parameters) -> None:
    """Two Beijing days of hourly data from 1 January 2026, all six pollutants. Day 1: PM2.5
    30 µg/m³ → AQI 43, good; day 2: PM2.5 150 µg/m³ → 24-h IAQI 200 (HJ 633—2012 Table 1,
    in force before 2026-03-01), not good. Target 90 %: 100 % after day 1, 50 % after day 2,
    so the alarm starts on day 2 with the ratio 50 % as its value."""
    year_start = datetime(2025, 12, 31, 16, tzinfo=UTC)  # 2026-01-01 00:00 Beijing
    day = timedelta(days=1)
    levels = {"so2": 10.0, "no2": 20.0, "co": 0.5, "o3": 60.0, "pm10": 40.0}
    frames = [
        batch(sites["AIR1"], parameters[key], [v] * 48, start=year_start)
        for key, v in levels.items()
    ]
    frames.append(
        batch(sites["AIR1"], parameters["pm25"], [30.0] * 24 + [150.0] * 24, start=year_start)
    )
    with writing(engine, "test") as session:
        upsert_readings(session, pl.concat(frames), source="test", actor="test")
    add_rule(engine, "pace", "target_pace", "yellow", target_percent=90.0)
    alerting.evaluate_period(engine, year_start, year_start + 2 * day - HOUR)
    [alarm] = alarms(engine)
    assert (alarm["start"], alarm["peak"], alarm["active"]) == (year_start + day, 50.0, True)


def test_sites_without_the_standard_context_are_not_judged(engine, sites, parameters) -> None:
    """A permit rule for NOx: STACK has only an SO2 limit, so a period re-evaluation skips it."""
    add_rule(engine, "nox-permit", "permit", parameter="flue_nox")
    ingest(engine, batch(sites["STACK"], parameters["flue_nox"], [500.0]))
    assert alerting.evaluate_period(engine, T0, T0 + HOUR).as_dict()["opened"] == 0
    assert alarms(engine) == []


def test_the_database_refuses_a_second_active_alarm_of_one_identity(
    engine, sites, parameters
) -> None:
    from sqlalchemy.exc import IntegrityError

    add_rule(engine, "so2-permit", "permit", parameter="flue_so2")
    ingest(engine, batch(sites["STACK"], parameters["flue_so2"], [40.0]))
    with reading(engine) as session:
        original = session.scalars(select(Alarm)).one()
        copy = {c.key: getattr(original, c.key) for c in Alarm.__table__.columns if c.key != "id"}
    with pytest.raises(IntegrityError), writing(engine, "test") as session:
        session.add(Alarm(**copy))
        session.flush()


LADDER_SERIES = [40.0, 55.0, 45.0, 80.0, 30.0, 30.0, 40.0]
"""STACK's flue SO2 (permit limit 35 mg/m³) against a ladder yellow > 35, orange > 50,
red > 70, clearing after 2 hours below the limit: one alarm over hours 0–3 that opens yellow,
turns orange at hour 1 (55), stays orange at hour 2 (45: no de-escalation), turns red at
hour 3 (80) and clears at hour 5; hour 6 opens a new, yellow alarm."""


def add_ladder_rule(engine: Engine) -> None:
    add_rule(
        engine,
        "so2-ladder",
        "permit",
        severity="yellow",
        parameter="flue_so2",
        clear_after=2,
        ladder={"orange": 50, "red": 70},
    )


def escalation_story(engine: Engine) -> tuple[list[tuple[str, bool]], list[str], list[str]]:
    """Alarms (severity, active), the system comments, the notification kinds and titles."""
    from qingshan.store.case_models import Notification
    from qingshan.store.models import AlarmComment

    with reading(engine) as session:
        found = [(a.severity, a.active) for a in session.scalars(select(Alarm).order_by(Alarm.id))]
        comments = list(session.scalars(select(AlarmComment.body).order_by(AlarmComment.id)))
        notes = [
            f"{kind} {title}"
            for kind, title in session.execute(
                select(Notification.kind, Notification.title).order_by(Notification.id)
            )
        ]
    return found, comments, notes


ESCALATION_COMMENTS = [
    "escalated minor (yellow) → major (orange): value 55.0 in the period from "
    f"{(T0 + HOUR).isoformat()}",
    "escalated major (orange) → critical (red): value 80.0 in the period from "
    f"{(T0 + 3 * HOUR).isoformat()}",
]


def test_an_open_alarm_escalates_up_its_ladder_and_never_down(engine, sites, parameters) -> None:
    add_ladder_rule(engine)
    severities = []
    for hour, value in enumerate(LADDER_SERIES):
        frame = batch(sites["STACK"], parameters["flue_so2"], [value], start=T0 + hour * HOUR)
        ingest(engine, frame)
        severities.append(escalation_story(engine)[0])
    assert severities == [
        [("minor", True)],
        [("major", True)],
        [("major", True)],
        [("critical", True)],
        [("critical", True)],
        [("critical", False)],
        [("critical", False), ("minor", True)],
    ]
    _, comments, notes = escalation_story(engine)
    assert comments == ESCALATION_COMMENTS
    assert notes == [
        "alarm [yellow] so2-ladder — STACK",
        "alarm.escalated [orange] so2-ladder — STACK",
        "alarm.escalated [red] so2-ladder — STACK",
        "alarm [yellow] so2-ladder — STACK",
    ]
    first = alarms(engine)[0]
    assert (first["peak"], first["count"]) == (80.0, 4)


def test_one_batch_records_the_same_escalations_and_notifies_once(
    engine, sites, parameters
) -> None:
    """A backfill opens the alarm at its first rung and writes every escalation; the opening
    notification already carries the severity reached."""
    add_ladder_rule(engine)
    ingest(engine, batch(sites["STACK"], parameters["flue_so2"], LADDER_SERIES[:5]))
    found, comments, notes = escalation_story(engine)
    assert found == [("critical", True)]
    assert comments == ESCALATION_COMMENTS
    assert notes == ["alarm [red] so2-ladder — STACK"]


def test_a_ladder_must_lie_above_the_rules_severity(engine) -> None:
    with pytest.raises(ValueError, match="not above"):
        add_rule(
            engine, "bad", "permit", severity="red", parameter="flue_so2", ladder={"orange": 5}
        )
    add_ladder_rule(engine)
    with writing(engine, "test") as session, pytest.raises(ValueError, match="not above"):
        rules.change_rule(session, "so2-ladder", actor="test", severity="orange")


NEIGHBOUR_VALUES = {
    "G-W": [400.0],
    "G-E": [40.0, 41.0, 42.0, 43.0],
    "G-FAR": [88.0, 89.0, 91.0, 92.0],
}
"""PM2.5 at one hour in three grids of one township. G-W borders G-E (a 1 m digitising gap);
G-FAR lies 4 km away."""


@pytest.mark.parametrize(
    ("west_has_polygon", "expected"),
    [
        # polygons: peers are G-W and G-E: median 42, MAD 1 → z = 0.6745 × 358 / 1
        (True, (241.5, {"neighbours": "polygons", "neighbour_grids": ["G-E"]})),
        # G-W without a polygon: its whole township are its peers: median 88, MAD 45 →
        # z = 0.6745 × 312 / 45
        (False, (4.7, {"neighbours": "township", "neighbour_grids": ["G-E", "G-FAR"]})),
    ],
)
def test_neighbouring_grids_come_from_the_polygons(
    engine, parameters, west_has_polygon, expected
) -> None:
    from grid_polygons import square
    from qingshan.store.registry import ensure_grid, upsert_site

    polygons = {"G-W": square(0, 0), "G-E": square(1_001, 0), "G-FAR": square(5_000, 0)}
    if not west_has_polygon:
        del polygons["G-W"]
    with writing(engine, "test") as session:
        for code, values in NEIGHBOUR_VALUES.items():
            grid = ensure_grid(
                session,
                district=("420107", "青山区"),
                township=("420107001", "红卫路街道", "street"),
                grid=(code, code),
            )
            grid.boundary = polygons.get(code)
            for number, _ in enumerate(values):
                upsert_site(
                    session,
                    f"{code}-{number}",
                    name=f"{code}-{number}",
                    kind="air_station",
                    latitude=30.5,
                    longitude=114.0,
                    grid_id=grid.id,
                )
    with reading(engine) as session:
        ids = {code: site_id for code, site_id in session.execute(select(Site.code, Site.id))}
    add_rule(engine, "pm25-neighbours", "neighbour", parameter="pm25")
    frame = pl.concat(
        [
            batch(ids[f"{code}-{number}"], parameters["pm25"], [value])
            for code, values in NEIGHBOUR_VALUES.items()
            for number, value in enumerate(values)
        ]
    )
    ingest(engine, frame)
    with reading(engine) as session:
        found = session.execute(select(Alarm.site_id, Alarm.peak_value, Alarm.context)).all()
    assert [(site, round(peak, 1), context) for site, peak, context in found] == [
        (ids["G-W-0"], *expected)
    ]


@pytest.mark.parametrize(
    ("scope", "judged"),
    [
        ({}, {"AIR1", "STACK"}),
        ({"grids": ["G-01"], "site_kinds": ["air_station"]}, {"AIR1"}),
        ({"sites": ["STACK", "AIR5"]}, {"STACK"}),
        ({"grids": ["G-09"]}, set()),
    ],
)
def test_a_rules_scope_chooses_the_sites_it_judges(
    engine, sites, parameters, scope, judged
) -> None:
    """An impossible-value rule (any site kind) over AIR1 and STACK, both in grid G-01, both
    reading an impossible −5: every list of the scope must match."""
    add_rule(engine, "negative", "impossible", parameter="pm25", low=0, high=1000, scope=scope)
    frame = pl.concat(
        [batch(sites[code], parameters["pm25"], [-5.0]) for code in ("AIR1", "STACK")]
    )
    ingest(engine, frame)
    with reading(engine) as session:
        found = set(session.scalars(select(Site.code).join(Alarm, Alarm.site_id == Site.id)))
    assert found == judged


def test_a_red_only_route_hears_of_the_escalation_to_red(engine, sites, parameters) -> None:
    """Routes by severity: the SMS-style route for red alarms queues only the notification of
    the escalation to red; the route for everything queues every alarm notification."""
    from qingshan.services import notifications
    from qingshan.store.case_models import Notification, NotificationQueue, NotificationRoute

    with writing(engine, "test") as session:
        notifications.add_route(session, "red-sms", channel="log", min_severity="red")
        notifications.add_route(session, "all", channel="log")
        with pytest.raises(ValueError, match="severity"):
            notifications.add_route(session, "bad", channel="log", min_severity="purple")
    add_ladder_rule(engine)
    for hour, value in enumerate(LADDER_SERIES[:4]):
        frame = batch(sites["STACK"], parameters["flue_so2"], [value], start=T0 + hour * HOUR)
        ingest(engine, frame)
    with reading(engine) as session:
        queued = session.execute(
            select(NotificationRoute.name, Notification.kind, Notification.severity)
            .join(NotificationQueue, NotificationQueue.route_id == NotificationRoute.id)
            .join(Notification, Notification.id == NotificationQueue.notification_id)
            .order_by(NotificationRoute.name, Notification.id)
        ).all()
    assert [tuple(row) for row in queued] == [
        ("all", "alarm", "minor"),
        ("all", "alarm.escalated", "major"),
        ("all", "alarm.escalated", "critical"),
        ("red-sms", "alarm.escalated", "critical"),
    ]
