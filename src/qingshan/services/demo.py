"""``qingshan demo``: seed an empty database with the synthetic 青山示范区 (docs/demo.md).

Everything is written through the platform's own use-cases and repositories, exactly as a
bureau's data would be: sites and grids (:mod:`qingshan.store.registry`), users
(:mod:`qingshan.store.identity`), readings (:func:`qingshan.store.readings.upsert_readings`,
the single write path), aggregates (:func:`qingshan.store.aggregates.aggregate`), alarm rules
and their evaluation (:mod:`qingshan.services.rules`, :mod:`qingshan.services.alerting`),
cases moved by the roles allowed to move them (:mod:`qingshan.services.cases`), the registry
(:mod:`qingshan.services.registry`), and the carbon and GEP input files with a stored GEP run
(:mod:`qingshan.services.demo_books`). The time series are deterministic
(:mod:`qingshan.services.demo_series`); the places are fixed (:mod:`qingshan.services.demo_world`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from qingshan.config import get_settings
from qingshan.services import alerting, cases, demo_books, rules
from qingshan.services.case_workflow import Actor, State, beijing_day, beijing_midnight
from qingshan.services.demo_series import readings_frame
from qingshan.services.demo_world import (
    DISTRICT,
    DemoUser,
    device_mn,
    device_password,
    grids,
    sites,
    users,
)
from qingshan.store.aggregates import aggregate_hour_batch
from qingshan.store.case_models import Case
from qingshan.store.engine import reading, writing
from qingshan.store.identity import add_user, hash_password, set_user_grids
from qingshan.store.models import Alarm, Device, Grid, Parameter, Reading, Site, User
from qingshan.store.readings import upsert_readings
from qingshan.store.registry import ensure_grid, upsert_device, upsert_site
from qingshan.store.types import utc_now

ACTOR = "demo:seed"
SOURCE = "demo"
DEFAULT_SEED = 2026
DEFAULT_DAYS = 730
EVALUATED_DAYS = 14
"""The alarm rules are evaluated over the last days of the series (older alarms would all be
cleared long ago; evaluating two years would only slow the seeding down)."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: work units done of the whole seeding."""


class DemoError(ValueError):
    """The demo cannot be seeded here (e.g. the database already holds data)."""


@dataclass(frozen=True)
class DemoSummary:
    """What was seeded, and the accounts to log in with."""

    district: str
    start: datetime
    end: datetime
    grids: int
    sites: int
    devices: int
    readings: int
    aggregate_days: int
    rules: int
    alarms: int
    cases: dict[str, int]
    registry_accounts: int
    files: list[Path]
    gep_run: str
    users: list[DemoUser] = field(default_factory=list)
    seconds: float = 0.0


def default_until() -> date:
    """The start of today, Beijing time: the demo's series end there."""
    return beijing_day(utc_now())


def is_seeded(engine: Engine) -> bool:
    """Whether the database holds any site (a demo or real data)."""
    with reading(engine) as session:
        return session.scalar(select(func.count()).select_from(Site)) != 0


# ------------------------------------------------------------------------------------------
# Places, devices and people
# ------------------------------------------------------------------------------------------


def _password_hashes() -> dict[str, str]:
    """The argon2 hash of each demo password, computed in parallel (argon2 releases the GIL and
    costs up to a second on a busy machine); accounts with the same password share its hash."""
    passwords = sorted({person.password for person in users()})
    with ThreadPoolExecutor(max_workers=len(passwords)) as pool:
        return dict(zip(passwords, pool.map(hash_password, passwords), strict=True))


def _seed_world(engine: Engine) -> dict[str, int]:
    """Grids (with boundaries and responsible people), sites, devices and users; returns
    site code → id."""
    with writing(engine, ACTOR) as session:
        shapes = {grid.code: grid for grid in grids()}
        grid_ids = {}
        for grid in shapes.values():
            found = ensure_grid(
                session, district=DISTRICT, township=grid.township, grid=(grid.code, grid.name)
            )
            found.boundary = grid.geojson()
            found.responsible = grid.responsible
            grid_ids[grid.code] = found
        site_ids = {}
        device_index = 0
        for site in sites():
            grid = grid_ids[site.grid]
            latitude, longitude = shapes[site.grid].point(*site.at)
            created = upsert_site(
                session,
                site.code,
                name=site.name,
                kind=site.kind,
                latitude=latitude,
                longitude=longitude,
                grid_id=grid.id,
                **site.fields,
            )
            site_ids[site.code] = created.id
            if site.system is not None:
                device_index += 1
                upsert_device(
                    session,
                    device_mn(device_index),
                    site_id=created.id,
                    password=device_password(device_index),
                )
        hashes = _password_hashes()
        for person in users():
            user = add_user(session, person.username, person.role, display_name=person.display_name)
            user.password_hash = hashes[person.password]
            if person.grids:
                set_user_grids(session, person.username, list(person.grids))
    return site_ids


# ------------------------------------------------------------------------------------------
# Readings and aggregates
# ------------------------------------------------------------------------------------------


def _seed_readings(
    engine: Engine,
    seed: int,
    site_ids: dict[str, int],
    start: datetime,
    end: datetime,
    step: Callable[[str], None],
) -> tuple[int, int]:
    """Each site's hourly readings and their day aggregates, one transaction per site;
    returns (readings stored, day aggregates)."""
    with reading(engine) as session:
        parameter_ids = dict(session.execute(select(Parameter.key, Parameter.id)).all())
    stored = days = 0
    with ThreadPoolExecutor(max_workers=1) as pool:  # the next sites' series are made meanwhile
        frames = [
            pool.submit(readings_frame, seed, site, site_ids[site.code], parameter_ids, start, end)
            for site in sites()
        ]
        for site, frame in zip(sites(), frames, strict=True):
            with writing(engine, ACTOR) as session:
                batch = frame.result()
                stored += upsert_readings(session, batch, source=SOURCE, actor=ACTOR).inserted
                days += aggregate_hour_batch(session, batch, actor=ACTOR).days
            step(f"readings {site.code}")
    return stored, days


# ------------------------------------------------------------------------------------------
# Rules, alarms and cases
# ------------------------------------------------------------------------------------------

STANDARD_RULES: tuple[tuple[str, str, str, dict[str, object], dict[str, list[str]], str], ...] = (
    (
        "aqi-200",
        "小时 AQI 超过 200（重度污染）",
        "aqi",
        {"parameter": "aqi", "level": 200},
        {},
        "critical",
    ),
    (
        "pm25-iaqi-150",
        "PM2.5 分指数连续 2 小时超过 150",
        "aqi",
        {"parameter": "pm25", "level": 150, "for_periods": 2},
        {},
        "major",
    ),
    (
        "o3-iaqi-100",
        "O3 分指数 3 小时内 2 次超过 100",
        "aqi",
        {"parameter": "o3", "level": 100, "times_in": [2, 3]},
        {},
        "minor",
    ),
    ("water-nh3n", "氨氮劣于断面目标类别", "water_class", {"parameter": "nh3n"}, {}, "major"),
    ("water-tp", "总磷劣于断面目标类别", "water_class", {"parameter": "tp"}, {}, "major"),
    (
        "water-codmn",
        "高锰酸盐指数劣于断面目标类别",
        "water_class",
        {"parameter": "codmn"},
        {},
        "minor",
    ),
    (
        "noise-leq",
        "等效声级超过功能区限值",
        "noise",
        {"parameter": "leq", "for_periods": 2},
        {},
        "minor",
    ),
    (
        "permit-so2",
        "废气 SO2 超过排污许可限值",
        "permit",
        {"parameter": "flue_so2"},
        {},
        "critical",
    ),
    (
        "permit-nox",
        "废气 NOx 超过排污许可限值",
        "permit",
        {"parameter": "flue_nox"},
        {},
        "critical",
    ),
    (
        "permit-dust",
        "废气颗粒物超过排污许可限值",
        "permit",
        {"parameter": "flue_dust"},
        {},
        "critical",
    ),
    ("permit-cod", "废水 COD 超过排污许可限值", "permit", {"parameter": "cod"}, {}, "critical"),
    ("permit-nh3n", "废水氨氮超过排污许可限值", "permit", {"parameter": "nh3n"}, {}, "critical"),
    (
        "pm25-neighbour",
        "PM2.5 显著高于周边站点",
        "neighbour",
        {"parameter": "pm25"},
        {"site_kinds": ["air_station"]},
        "warning",
    ),
    (
        "no2-spike",
        "NO2 突变",
        "spike",
        {"parameter": "no2"},
        {"site_kinds": ["air_station"]},
        "warning",
    ),
    (
        "pm25-rise",
        "PM2.5 连续 6 小时上升",
        "rise",
        {"parameter": "pm25", "steps": 6, "min_rise": 3},
        {"site_kinds": ["air_station"]},
        "warning",
    ),
    (
        "pm25-flat",
        "PM2.5 数值恒定（疑似仪器故障）",
        "flat_line",
        {"parameter": "pm25"},
        {"site_kinds": ["air_station"]},
        "warning",
    ),
    (
        "pm25-impossible",
        "PM2.5 超出物理可能范围",
        "impossible",
        {"parameter": "pm25", "low": 0, "high": 1000},
        {"site_kinds": ["air_station"]},
        "minor",
    ),
    (
        "pm25-device-flag",
        "空气站仪器故障/校准标记",
        "device_flag",
        {"parameter": "pm25"},
        {"site_kinds": ["air_station"]},
        "warning",
    ),
    (
        "so2-device-flag",
        "排口仪器故障/校准标记",
        "device_flag",
        {"parameter": "flue_so2"},
        {"site_kinds": ["source_outlet"]},
        "warning",
    ),
    (
        "silent",
        "数据中断（超过 3 个上报周期无数据）",
        "silent",
        {},
        {"site_kinds": ["air_station", "water_section", "source_outlet"]},
        "warning",
    ),
    (
        "good-day-pace",
        f"优良天数比例低于年度目标进度（{demo_books.GOOD_DAY_TARGET_PERCENT}%）",
        "target_pace",
        {"target_percent": demo_books.GOOD_DAY_TARGET_PERCENT},
        {"site_kinds": ["air_station"]},
        "minor",
    ),
)
"""The demo's rule set: one or more rules of every type (``qingshan rules types``). AQI levels
are HJ 633—2012 Table 2 category boundaries (100 良, 150 轻度污染, 200 中度污染 — above 200 is
重度污染); water, noise and permit rules compare with the site's target class (GB 3838—2002
Table 1), zone (GB 3096—2008 Table 1) and permit limits. The good-day pace rule measures
against the bureau's target in its targets file (:data:`demo_books.GOOD_DAY_TARGET_PERCENT`)."""


def _seed_rules(engine: Engine) -> int:
    with writing(engine, ACTOR) as session:
        for code, name, rule_type, parameters, scope, severity in STANDARD_RULES:
            rules.create_rule(
                session,
                code=code,
                name=name,
                rule_type=rule_type,
                parameters=dict(parameters),
                scope=scope,
                severity=severity,
                actor="user:admin",
            )
    return len(STANDARD_RULES)


def _actors(session: Session) -> dict[str, Actor]:
    found = {}
    for person in users():
        user_id = session.scalar(select(User.id).where(User.username == person.username))
        assert user_id is not None
        found[person.username] = cases.actor_for_user(session, user_id, f"user:{person.username}")
    return found


def _officer_of(grid_code: str) -> str:
    return next(person.username for person in users() if grid_code in person.grids)


CASE_PLAN: tuple[tuple[State, str], ...] = (
    (State.PENDING_VERIFICATION, "alarm"),
    (State.PENDING_VERIFICATION, "complaint"),
    (State.ASSIGNED, "alarm"),
    (State.ASSIGNED, "inspection"),
    (State.RECTIFYING, "alarm"),
    (State.RECTIFYING, "complaint"),
    (State.PENDING_CLOSURE, "alarm"),
    (State.PENDING_CLOSURE, "inspection"),
    (State.CLOSED, "alarm"),
    (State.CLOSED, "complaint"),
    (State.REVIEWED, "alarm"),
    (State.REVIEWED, "inspection"),
    (State.REVIEWED, "alarm"),
)
"""Target state and source of each demo case (two or more per state; one more is overdue)."""

FIELD_PROBLEMS = {
    "complaint": ("噪声扰民", "居民投诉夜间施工噪声，持续至凌晨", "附近工地"),
    "inspection": ("扬尘", "工地裸土未覆盖，渣土车未冲洗上路", "在建工地"),
}
RESPONSIBLE_UNITS = {
    "air_station": "区住建委",
    "water_section": "区水利局",
    "noise_point": "区城管局",
    "source_outlet": "生态环境执法支队",
    "energy_meter": "区发改委",
}
DEADLINE_DAYS = 10
OVERDUE_DAYS = 9
"""How far the demo's overdue case is past its deadline (a second-level escalation comes at 7)."""


def _case_alarms(session: Session) -> list[Alarm]:
    """Alarms to open cases from: the most severe recent ones, one per site and rule."""
    severity_rank = {"critical": 0, "major": 1, "minor": 2, "warning": 3}
    alarms = list(session.scalars(select(Alarm).where(Alarm.grid_id.is_not(None))))
    alarms.sort(key=lambda a: (severity_rank[a.severity], -a.last_triggered_at.timestamp(), a.id))
    picked, seen = [], set()
    for alarm in alarms:
        if (alarm.site_id, alarm.rule_id) not in seen:
            seen.add((alarm.site_id, alarm.rule_id))
            picked.append(alarm)
    return picked


def _open_demo_case(
    session: Session, actors: dict[str, Actor], source: str, alarm: Alarm | None, number: int
) -> Case:
    grid_list = list(session.scalars(select(Grid).order_by(Grid.code)))
    if alarm is not None:
        grid = session.get_one(Grid, alarm.grid_id)
        site = session.get_one(Site, alarm.site_id)
        officer = actors[_officer_of(grid.code)]
        description = f"{site.name}：{alarm.rule.name}（峰值 {alarm.peak_value}）"
        return cases.open_case_from_alarm(
            session,
            alarm_id=alarm.id,
            site_id=site.id,
            grid_id=grid.id,
            description=description,
            actor=officer,
            category=alarm.rule.name[:50],
        )
    grid = grid_list[(number * 5) % len(grid_list)]
    category, description, place = FIELD_PROBLEMS[source]
    return cases.open_case(
        session,
        actors[_officer_of(grid.code)],
        source=source,
        grid_id=grid.id,
        category=category,
        description=description,
        location=f"{grid.name}{place}",
    )


def _move_case(session: Session, actors: dict[str, Actor], case: Case, target: State) -> None:
    """Walk a case forward to ``target``, each step by the role the workflow asks for: the
    grid's officer verifies, assigns and reports; the analyst closes; another analyst reviews."""
    grid = session.get_one(Grid, case.grid_id)
    officer = actors[_officer_of(grid.code)]
    site = session.get(Site, case.site_id) if case.site_id else None
    unit = RESPONSIBLE_UNITS[site.kind] if site else "属地街镇"
    deadline = beijing_day(utc_now()) + timedelta(days=DEADLINE_DAYS)
    order = list(State)
    for state in order[1 : order.index(target) + 1]:
        if state is State.ASSIGNED:
            cases.transition(
                session, officer, case.id, state.value, responsible_unit=unit, deadline=deadline
            )
        elif state is State.PENDING_CLOSURE:
            cases.add_evidence(session, officer, case.id, text="已完成整改，现场复查达标。")
            cases.transition(session, officer, case.id, state.value)
        elif state is State.CLOSED:
            cases.transition(session, actors["analyst"], case.id, state.value)
        elif state is State.REVIEWED:
            cases.transition(session, actors["reviewer"], case.id, state.value)
        else:
            cases.transition(session, officer, case.id, state.value)


def _seed_cases(engine: Engine) -> dict[str, int]:
    """Cases in every state, a send-back, and an overdue case escalated by the bureau."""
    with writing(engine, ACTOR) as session:
        actors = _actors(session)
        alarms = iter(_case_alarms(session))
        for number, (target, source) in enumerate(CASE_PLAN):
            alarm = next(alarms, None) if source == "alarm" else None
            case = _open_demo_case(
                session,
                actors,
                "inspection" if source == "alarm" and alarm is None else source,
                alarm,
                number,
            )
            _move_case(session, actors, case, target)
        sent_back = _open_demo_case(session, actors, "complaint", None, len(CASE_PLAN))
        _move_case(session, actors, sent_back, State.PENDING_CLOSURE)
        cases.transition(
            session,
            actors["analyst"],
            sent_back.id,
            State.RECTIFYING.value,
            reason="整改照片未显示覆盖范围，请补充材料",
        )
        overdue = _open_demo_case(session, actors, "inspection", None, len(CASE_PLAN) + 1)
        _move_case(session, actors, overdue, State.RECTIFYING)
        # The demo is seeded in one moment, but a case is overdue only after weeks: its
        # deadline is set back as if it had been assigned a month ago (audited as the seeder).
        overdue.deadline = beijing_day(utc_now()) - timedelta(days=OVERDUE_DAYS)
        session.flush()
        cases.escalate_overdue(session, cases.operator_actor("system:escalation"))
        counts = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
    return {state.label: counts.get(state.value, 0) for state in State}


# ------------------------------------------------------------------------------------------
# The whole demo
# ------------------------------------------------------------------------------------------

OTHER_STEPS = ("world", "rules", "alarms", "cases", "registry", "carbon", "gep")


def seed_demo(
    engine: Engine,
    *,
    seed: int = DEFAULT_SEED,
    until: date | None = None,
    days: int = DEFAULT_DAYS,
    progress: Progress | None = None,
    data_dir: Path | None = None,
) -> DemoSummary:
    """Seed an empty, migrated database with the demo district; the series cover the ``days``
    Beijing days before ``until`` (default: today). Files (carbon statistics, GEP inputs and
    the GEP run) go to ``data_dir`` (default ``QINGSHAN_DATA_DIR``).

    Raises :class:`DemoError` when the database already holds sites.
    """
    if days < 1:
        raise DemoError("the demo needs at least one day of data")
    if is_seeded(engine):
        raise DemoError("the database already holds sites; the demo seeds only an empty one")
    began = time.perf_counter()
    data_dir = data_dir or get_settings().data_dir
    until = until or default_until()
    end = beijing_midnight(until)
    start = end - timedelta(days=days)
    total = len(sites()) + len(OTHER_STEPS)
    done = 0

    def step(stage: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(stage, done, total)

    site_ids = _seed_world(engine)
    step("world")
    stored, aggregate_days = _seed_readings(engine, seed, site_ids, start, end, step)
    rule_count = _seed_rules(engine)
    step("rules")
    alerting.evaluate_period(
        engine, max(start, end - timedelta(days=EVALUATED_DAYS)), end, actor="system:alerting"
    )
    step("alarms")
    case_counts = _seed_cases(engine)
    step("cases")
    accounts = demo_books.seed_registry(engine, seed, until)
    accounts += demo_books.seed_outlet_owners(engine)
    step("registry")
    files = [
        *demo_books.write_carbon_files(data_dir, seed),
        demo_books.write_air_targets(data_dir, until),
    ]
    step("carbon")
    gep_files, run_id = demo_books.seed_gep(engine, data_dir, seed, until)
    step("gep")
    with reading(engine) as session:
        alarm_count = session.scalar(select(func.count()).select_from(Alarm)) or 0
        device_count = session.scalar(select(func.count()).select_from(Device)) or 0
    return DemoSummary(
        district=DISTRICT[1],
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        grids=len(grids()),
        sites=len(site_ids),
        devices=device_count,
        readings=stored,
        aggregate_days=aggregate_days,
        rules=rule_count,
        alarms=alarm_count,
        cases=case_counts,
        registry_accounts=accounts,
        files=[*files, *gep_files],
        gep_run=run_id,
        users=users(),
        seconds=round(time.perf_counter() - began, 1),
    )


def readings_checksum(engine: Engine) -> str:
    """A digest of every stored reading (site code, parameter, period, start, value, flag), to
    check that two seedings agree."""
    statement = (
        select(
            Site.code,
            Parameter.key,
            Reading.period,
            Reading.period_start,
            Reading.value,
            Reading.flag,
        )
        .join(Site, Site.id == Reading.site_id)
        .join(Parameter, Parameter.id == Reading.parameter_id)
        .order_by(Site.code, Parameter.key, Reading.period, Reading.period_start)
    )
    digest = hashlib.sha256()
    with reading(engine) as session:
        for row in session.execute(statement):
            digest.update(
                repr((row[0], row[1], row[2], row[3].isoformat(), row[4], row[5])).encode()
            )
    return digest.hexdigest()
