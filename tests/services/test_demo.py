"""The demo district (``qingshan demo``): what it seeds, on both backends, and how its series
behave (deterministic, seasonal and daily cycles)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from qingshan.alerting.catalogue import RULE_TYPES
from qingshan.protocols.hj212_simulator import DeviceSimulator
from qingshan.services import (
    carbon,
    certificates,
    database,
    demo,
    demo_live,
    demo_series,
    demo_world,
    gep_runs,
    hj212_server,
    market,
    registry,
    targets,
)
from qingshan.services.case_workflow import State
from qingshan.services.demo_series import site_series
from qingshan.services.sites import visible_sites
from qingshan.store import create_store_engine
from qingshan.store.case_models import Case
from qingshan.store.engine import reading
from qingshan.store.identity import authenticate
from qingshan.store.models import (
    ROLES,
    Aggregate,
    Alarm,
    CreditBlock,
    Device,
    Grid,
    Parameter,
    ParameterCode,
    Reading,
    RegistryAccount,
    Rule,
    Site,
    User,
)

UNTIL = date(2026, 6, 10)
DAYS = 3


@pytest.fixture
def seeded(engine: Engine, tmp_path: Path) -> tuple[Engine, demo.DemoSummary, Path]:
    stages: list[tuple[str, int, int]] = []
    summary = demo.seed_demo(
        engine, until=UNTIL, days=DAYS, data_dir=tmp_path,
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )  # fmt: skip
    assert stages[-1][1] == stages[-1][2]  # the progress reaches its total
    return engine, summary, tmp_path


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def test_demo_seeds_sites_people_readings_and_aggregates(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, summary, _ = seeded
    _check_sites_and_people(engine, summary)
    _check_readings_and_aggregates(engine, summary)
    _check_outlet_owners(engine)


def _check_outlet_owners(engine: Engine) -> None:
    """Every outlet is owned by its operator's enterprise account; the ``enterprise`` user
    (青峰热电, ENT01) sees exactly the outlets of its company, an analyst every site."""
    with reading(engine) as session:
        owners = dict(
            session.execute(
                select(Site.code, RegistryAccount.name)
                .join(RegistryAccount, RegistryAccount.id == Site.owner_account_id)
                .where(Site.kind == "source_outlet")
            ).all()
        )
        expected = {s.code: s.operator for s in demo_world.sites() if s.kind == "source_outlet"}
        assert owners == expected
        users = dict(session.execute(select(User.username, User.id)).all())
        own = visible_sites(session, users["enterprise"], "enterprise")
        codes = set(session.scalars(select(Site.code).where(Site.id.in_(sorted(own or ())))))
        assert visible_sites(session, users["analyst"], "analyst") is None
    assert codes == {code for code, name in expected.items() if name == demo_world.ENTERPRISES[0]}
    assert codes == {"SRC01"}


def test_demo_seeds_alarms_cases_registry_carbon_and_gep(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, summary, data_dir = seeded
    _check_alarms_and_cases(engine, summary)
    _check_registry(engine, summary)
    _check_carbon_and_gep_files(summary, data_dir)
    _check_one_good_day_target(engine, data_dir)


def _check_one_good_day_target(engine: Engine, data_dir: Path) -> None:
    """The overview's card reads the targets file, the pace rule its own parameter: they were
    90 % and 92.6 %, so the same district was behind two different targets."""
    with reading(engine) as session:
        pace = session.scalars(select(Rule).where(Rule.type == "target_pace")).one()
    years = targets.load_air_targets(data_dir / targets.TARGETS_FILE)
    assert {year.good_day_ratio for year in years.values()} == {pace.parameters["target_percent"]}


def _check_sites_and_people(engine: Engine, summary: demo.DemoSummary) -> None:
    with reading(engine) as session:
        kinds = dict(session.execute(select(Site.kind, func.count()).group_by(Site.kind)).all())
        assert kinds == {"air_station": 8, "water_section": 6, "noise_point": 10,
                         "source_outlet": 15, "energy_meter": 6}  # fmt: skip
        assert _count(session, Grid) == 12 == summary.grids
        assert _count(session, Device) == 8 + 6 + 15 == summary.devices
        grids = list(session.scalars(select(Grid)))
        assert all(len(grid.responsible) == 2 and grid.boundary for grid in grids)
        outlets = session.scalars(select(Site).where(Site.kind == "source_outlet"))
        assert all(site.permit_limits for site in outlets)
        for person in demo_world.users():
            user = authenticate(session, person.username, person.password)
            assert user is not None and user.role == person.role
    assert {person.role for person in summary.users} == set(ROLES)


def test_grids_tile_the_district_without_overlap() -> None:
    """The grids share their lattice corners: their areas (shoelace formula) add up to the
    district's outer ring, so there is neither a gap nor an overlap."""

    def area(ring: list[tuple[float, float]]) -> float:
        xs, ys = np.array(ring).T
        return float(abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2)

    total = sum(area(list(grid.corners)) for grid in demo_world.grids())
    box = (demo_world.EAST - demo_world.WEST) * (demo_world.NORTH - demo_world.SOUTH)
    assert total == pytest.approx(box, rel=1e-9)  # a gap of the jitter's size is ~1e-4
    for site in demo_world.sites():
        grid = next(g for g in demo_world.grids() if g.code == site.grid)
        latitude, longitude = grid.point(*site.at)
        xs, ys = zip(*grid.corners, strict=True)
        assert min(xs) < longitude < max(xs) and min(ys) < latitude < max(ys)


def _check_readings_and_aggregates(engine: Engine, summary: demo.DemoSummary) -> None:
    assert summary.end == datetime(2026, 6, 9, 16, tzinfo=UTC)  # Beijing midnight of UNTIL
    assert summary.start == summary.end - timedelta(days=DAYS)
    with reading(engine) as session:
        days = _count(session, Aggregate)
    assert days == summary.aggregate_days > 0
    assert 0.9 * 45 * 24 * DAYS < summary.readings < 2 * 45 * 24 * DAYS * 6


def _check_alarms_and_cases(engine: Engine, summary: demo.DemoSummary) -> None:
    with reading(engine) as session:
        rule_types = set(session.scalars(select(Rule.type)))
        alarms = _count(session, Alarm)
        states = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
        overdue = session.scalars(select(Case).where(Case.escalation_level > 0)).all()
    assert rule_types == set(RULE_TYPES)
    assert alarms == summary.alarms > 0
    assert all(states.get(state.value, 0) >= 1 for state in State)
    assert summary.cases == {state.label: states.get(state.value, 0) for state in State}
    assert len(overdue) == 1 and overdue[0].state == State.RECTIFYING.value


def _check_registry(engine: Engine, summary: demo.DemoSummary) -> None:
    assert registry.verify(engine) == []  # ledger, journal chain, market and cash
    board = {row["issuance_id"]: row for row in market.quote_board(engine)}
    first = min(board)
    # MARKET_ORDERS: bids 27.60 and 28.20 lift the 27.50 offer (2,000 t), then 100 t at 28.20
    assert board[first]["last_fen_per_t"] == 2_820 and board[first]["day_volume_t"] == 2_100
    quotes = [
        (board[i]["best_bid_fen_per_t"], board[i]["best_ask_fen_per_t"]) for i in sorted(board)
    ]
    assert quotes == [(2_680, 2_820), (2_900, 3_000)]
    operators = {site.operator for site in demo_world.sites() if site.operator}
    trading = len(demo.demo_books.TRADING_ENTERPRISES)
    assert summary.registry_accounts == demo.demo_books.RESIDENTS + 2 + trading + len(
        operators - {name for _, name in demo.demo_books.TRADING_ENTERPRISES}
    )
    platform = registry.Principal("test", "analyst")
    ent01 = registry.statement(engine, platform, "ENT01")
    kinds = {event["kind"] for event in ent01["timeline"]}
    assert {"trade", "retire"} <= kinds
    ent02 = registry.statement(engine, platform, "ENT02")
    assert "surrender" in {event["kind"] for event in ent02["timeline"]}
    _check_market_purchases_surrendered(engine, ent01)


def _check_market_purchases_surrendered(engine: Engine, ent01: dict[str, Any]) -> None:
    """The enterprise user's ENT01 bought 900 t on the market (MARKET_ORDERS bid-3) and
    surrendered exactly those units against its obligation, each with a valid certificate that
    its account page links (the statement's obligations and timeline)."""
    platform = registry.Principal("test", "analyst")
    bought = market.trades(engine, platform, account_code="ENT01")
    assert sum(trade["quantity_t"] for trade in bought) == 900
    (obligation,) = ent01["obligations"]
    assert (obligation["scheme"], obligation["offsets_surrendered_t"]) == ("CN-ETS", 900)
    assert obligation["offset_cap_t"] == demo.demo_books.COMPLIANCE_EMISSIONS_T * 5 // 100
    surrenders = {row["retirement_id"]: row for row in obligation["surrenders"]}
    with reading(engine) as session:
        for trade in bought:
            block = session.get(CreditBlock, trade["block_id"])
            assert block is not None and block.status == "retired"
            assert surrenders[block.retirement_id]["quantity_t"] == trade["quantity_t"]
        for surrender in surrenders.values():
            found = certificates.certificate_for(session, surrender["certificate"])
            assert found.valid and found.compliance
            assert found.content["verified_emissions_t"] == obligation["verified_emissions_t"]
    linked = {event["certificate"] for event in ent01["timeline"] if event["kind"] == "surrender"}
    assert linked == {surrender["certificate"] for surrender in surrenders.values()}


def _check_carbon_and_gep_files(summary: demo.DemoSummary, data_dir: Path) -> None:
    folder = data_dir / "carbon"
    progress, _ = carbon.assess_targets(folder / "district_targets.csv",
                                        folder / "district_gdp.csv",
                                        folder / "district_emissions.csv")  # fmt: skip
    assert progress.height == 3
    emissions = pl.read_csv(folder / "district_emissions.csv")
    assert emissions["year"].to_list() == list(demo.demo_books.CARBON_YEARS)
    run = gep_runs.open_run(gep_runs.runs_folder(data_dir), summary.gep_run)
    assert run is not None and run.manifest["year"] == UNTIL.year - 1
    assert run.manifest["gep_wan"] > 0 and run.manifest.get("compared_with")


def test_same_seed_and_end_give_the_same_readings_and_a_seeded_store_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    demo.seed_demo(engine, until=UNTIL, days=1, data_dir=tmp_path / "a")
    other = create_store_engine(f"sqlite:///{tmp_path / 'other.db'}")
    database.upgrade(other)
    demo.seed_demo(other, until=UNTIL, days=1, data_dir=tmp_path / "b")
    assert demo.readings_checksum(engine) == demo.readings_checksum(other)
    other.dispose()
    with pytest.raises(demo.DemoError, match="already holds sites"):
        demo.seed_demo(engine, until=UNTIL, days=1, data_dir=tmp_path / "a")


# ------------------------------------------------------------------------------------------
# The series, without a database
# ------------------------------------------------------------------------------------------

SITES = {site.code: site for site in demo_world.sites()}


def _frame(code: str, start: datetime, end: datetime, seed: int = 2026) -> pl.DataFrame:
    keys = (
        "so2",
        "no2",
        "co",
        "o3",
        "pm10",
        "pm25",
        "ph",
        "do",
        "codmn",
        "nh3n",
        "tp",
        "tn",
        "leq",
        "flue_so2",
        "flue_nox",
        "flue_dust",
        "cod",
        "electricity",
        "natural_gas",
    )
    ids = {key: number for number, key in enumerate(keys)}
    return demo_series.readings_frame(seed, SITES[code], 1, ids, start, end)


@pytest.mark.parametrize("code", ["AIR03", "WAT05", "NOI09", "SRC02", "SRC12", "EM04"])
def test_an_hour_has_the_same_value_whatever_the_period_generated(code: str) -> None:
    end = datetime(2026, 3, 1, 16, tzinfo=UTC)
    short = _frame(code, end - timedelta(days=5), end)
    long = _frame(code, end - timedelta(days=40), end + timedelta(days=7))
    joined = short.join(long, on=["parameter_id", "period_start"], suffix="_long")
    assert joined.height == short.height > 0
    assert (joined["value"] == joined["value_long"]).all()
    assert (joined["flag"] == joined["flag_long"]).all()
    assert not _frame(code, end - timedelta(days=5), end, seed=7)["value"].equals(short["value"])


def _year_of(code: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    hours = np.arange(demo_series.hour_index(datetime(2025, 1, 1, tzinfo=UTC)),
                      demo_series.hour_index(datetime(2026, 1, 1, tzinfo=UTC)))  # fmt: skip
    kept, series = site_series(2026, SITES[code], hours)
    return kept, {name: values for name, (values, _) in series.items()}


def test_air_has_winter_haze_afternoon_ozone_and_rush_hour_no2() -> None:
    hours, air = _year_of("AIR01")
    month = (demo_series.local_day(hours) % 365) // 31
    clock = demo_series.local_hour(hours)
    assert air["pm25"][month == 0].mean() > 1.5 * air["pm25"][month == 6].mean()
    assert air["o3"][month == 6].mean() > 1.5 * air["o3"][month == 0].mean()
    assert air["o3"][clock == 15].mean() > 3 * air["o3"][clock == 5].mean()
    assert air["no2"][clock == 8].mean() > 1.4 * air["no2"][clock == 14].mean()
    assert air["pm25"].max() > 150  # episodes reach heavy pollution (IAQI > 200 at 150 µg/m³)


def test_night_noise_is_lower_and_water_every_four_hours() -> None:
    hours, noise = _year_of("NOI04")
    night = (demo_series.local_hour(hours) < 6) | (demo_series.local_hour(hours) >= 22)
    assert noise["leq"][~night].mean() - noise["leq"][night].mean() > 5
    water_hours, _ = _year_of("WAT02")
    assert set(demo_series.local_hour(water_hours) % 4) == {0}


def test_outlets_exceed_their_permit_sometimes() -> None:
    _, outlet = _year_of("SRC01")
    limit = demo_world.STACK_LIMITS["flue_so2"]["limit"]
    over = (outlet["flue_so2"] > limit).mean()
    assert 0 < over < 0.02


# ------------------------------------------------------------------------------------------
# Live data
# ------------------------------------------------------------------------------------------


def test_live_devices_send_realtime_data_through_the_server(engine: Engine) -> None:
    demo._seed_world(engine)
    devices = demo_live.demo_devices(engine)
    assert len(devices) == 29 and {d.st for d in devices} == {"21", "22", "31", "32"}

    async def one_round() -> None:
        async with hj212_server.running_server(engine) as server:
            sender = asyncio.create_task(
                demo_live.run_live("127.0.0.1", server.port, devices[:3], interval=60)
            )
            await asyncio.sleep(3)  # the first round of real-time data
            sender.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sender

    asyncio.run(one_round())
    with reading(engine) as session:
        periods = set(session.scalars(select(Reading.period).distinct()))
    assert "realtime" in periods


def test_each_hour_that_is_over_comes_from_the_same_series(engine: Engine) -> None:
    """The sites catch up from their last stored hour to the current hour, with exactly the
    values the seeding stores for those hours (one deterministic series, no jump at the join)."""
    demo._seed_world(engine)
    codes = [site.code for site in demo_world.sites() if site.kind == "noise_point"]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=6)
    demo_live._store_hours(engine, demo.DEFAULT_SEED, codes, start - timedelta(hours=1), start)
    assert demo_live._last_stored_hour(engine, codes) == start

    async def catch_up() -> None:
        sensors = asyncio.create_task(demo_live.run_hours(engine, seed=demo.DEFAULT_SEED))
        await asyncio.sleep(3)
        sensors.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sensors

    asyncio.run(catch_up())
    assert demo_live._last_stored_hour(engine, codes) == now
    site = next(site for site in demo_world.sites() if site.code == codes[0])
    with reading(engine) as session:
        site_id = session.scalar(select(Site.id).where(Site.code == site.code))
        stored = session.scalars(
            select(Reading.value)
            .join(Parameter, Parameter.id == Reading.parameter_id)
            .where(
                Reading.site_id == site_id, Reading.period_start >= start, Parameter.key == "leq"
            )
            .order_by(Reading.period_start)
        ).all()
    _hours, series = demo_series.site_series(
        demo.DEFAULT_SEED,
        site,
        np.arange(demo_series.hour_index(start), demo_series.hour_index(now), dtype=np.int64),
    )
    assert list(stored) == pytest.approx(list(series["leq"][0]))


@pytest.mark.parametrize(("st", "limits"), [("31", "STACK_LIMITS"), ("32", "OUTFALL_LIMITS")])
def test_live_outlets_stay_within_their_permits(engine: Engine, st: str, limits: str) -> None:
    """The live channels of the demo's outlets never exceed the demo's permit limits (the seeded
    history holds the exceedances), and the simulator keeps to the channels it is given. Codes
    are mapped to parameters as the server maps them at an outlet (``parameter_codes``)."""
    permit = getattr(demo_world, limits)
    with reading(engine) as session:
        keys = dict(
            session.execute(
                select(ParameterCode.code, Parameter.key)
                .join(Parameter, Parameter.id == ParameterCode.parameter_id)
                .where(ParameterCode.scheme == "hj212")
                .where(
                    (ParameterCode.site_kind == "source_outlet") | ParameterCode.site_kind.is_(None)
                )
                .order_by(ParameterCode.site_kind.is_(None))  # the outlet's own code wins
            ).all()[::-1]
        )
    limited = {
        channel.code: permit[keys[channel.code]]["limit"]
        for channel in demo_live.DEMO_CHANNELS[st]
        if keys.get(channel.code) in permit
    }
    assert len(limited) == len(permit)
    for channel in demo_live.DEMO_CHANNELS[st]:
        assert channel.high < limited.get(channel.code, float("inf"))
    simulator = DeviceSimulator("MN1", st, channels=demo_live.DEMO_CHANNELS[st], seed=1)
    packet = simulator.packets("2011", datetime(2026, 11, 25, 10, 0))[0].decode()
    for channel in demo_live.DEMO_CHANNELS[st]:
        value = float(packet.split(f"{channel.code}-Rtd=")[1].split(",")[0].split(";")[0])
        assert channel.low <= value <= channel.high
