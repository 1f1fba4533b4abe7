"""The demo district's books: registry accounts and operations, carbon statistics files, GEP
inputs and a kept GEP run. All figures are synthetic and deterministic for a seed and an end
date (``random.Random(seed)``; times relative to the end date).

The carbon use-cases read files (activity, GDP, emissions, targets), so the demo writes them
to ``<data dir>/carbon/`` (the dashboard's carbon books); GEP runs read their inputs only from
the server's GEP inputs folder, so the demo's are written to ``<data dir>/gep/inputs/demo/``
and a run is kept in ``<data dir>/gep/runs/`` exactly as ``POST /api/v1/gep/runs`` would.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from qingshan.carbon import accounting
from qingshan.services import carbon, gep_runs, market, registry
from qingshan.services.case_workflow import beijing_midnight
from qingshan.services.demo_world import ENTERPRISES, TOWNSHIPS, sites
from qingshan.services.registry import ActionRow, Principal
from qingshan.services.sites import set_outlet_owner
from qingshan.services.targets import TARGETS_FILE
from qingshan.store.audit import record
from qingshan.store.engine import reading, writing
from qingshan.store.models import User
from qingshan.store.types import utc_now

ADMIN = Principal("user:admin", "admin")
PLATFORM = Principal("user:analyst", "analyst")
RESIDENTS = 200
ACTION_DAYS = 60
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "晓燕",
    "志强",
    "雨涵",
    "子轩",
)


def _copy_reference(folder: str, name: str, target: Path) -> None:
    """Copy a shipped reference file of the demo (``services/demo_data/<folder>/<name>``)."""
    reference = resources.files("qingshan.services.demo_data").joinpath(folder, name)
    with resources.as_file(reference) as source:
        shutil.copyfile(source, target)


# ------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------


TRADING_ENTERPRISES = (
    ("ENT01", ENTERPRISES[0]),
    ("ENT02", ENTERPRISES[1]),
    ("ENT03", ENTERPRISES[3]),
)
"""The enterprises that trade on the demo registry (ENT01, 青峰热电, is the ``enterprise``
user's); the other outlet operators get accounts of their own in :func:`seed_outlet_owners`."""


def seed_outlet_owners(engine: Engine) -> int:
    """Every demo outlet owned by its operator's enterprise account: the trading enterprises'
    accounts, and one new enterprise account (ENT04 …) per other operator — a company is one
    record, its registry account (docs/store.md, owners). Returns the accounts opened."""
    codes = {name: code for code, name in TRADING_ENTERPRISES}
    opened = 0
    for site in sites():
        if site.operator is not None and site.operator not in codes:
            codes[site.operator] = f"ENT{len(codes) + 1:02d}"
            registry.open_account(
                engine, PLATFORM, code=codes[site.operator], name=site.operator, kind="enterprise"
            )
            opened += 1
    for site in sites():
        if site.operator is not None:
            set_outlet_owner(engine, site.code, codes[site.operator], ADMIN.actor)
    return opened


def _user_id(engine: Engine, username: str) -> int:
    with reading(engine) as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def _open_accounts(engine: Engine, rng: random.Random) -> list[str]:
    residents = []
    for number in range(1, RESIDENTS + 1):
        code = f"RES{number:04d}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        registry.open_account(engine, PLATFORM, code=code, name=name, kind="individual")
        residents.append(code)
    for code, name in TRADING_ENTERPRISES:
        owner = "enterprise" if code == "ENT01" else None  # the demo enterprise user's company
        registry.open_account(
            engine, PLATFORM, code=code, name=name, kind="enterprise", username=owner
        )
    for code, name in (("PRJ01", "龙溪国有林场"), ("PRJ02", "石岭镇集体林业合作社")):
        registry.open_account(engine, PLATFORM, code=code, name=name, kind="project_owner")
    return residents


def _actions(residents: list[str], rng: random.Random, until: date) -> list[ActionRow]:
    """Bus rides and shared e-bike kilometres of the last :data:`ACTION_DAYS` days; some
    residents ride more than the daily cap (those are rejected with the reason)."""
    end = beijing_midnight(until)
    rows = []
    for code in residents:
        for number in range(rng.randint(5, 40)):
            at = end - timedelta(minutes=rng.randint(60, ACTION_DAYS * 1440))
            if rng.random() < 0.6:
                methodology, quantity = "CQ-BUS", float(rng.choice((1, 1, 2, 2, 3, 4, 12)))
            else:
                methodology, quantity = "CQ-EBIKE", round(rng.uniform(1.5, 14.0), 1)
            rows.append(
                ActionRow(
                    code, methodology, quantity, at, f"demo-{code}-{number}", "公交卡/骑行平台记录"
                )
            )
    return rows


def _moved_block(operation: dict[str, object]) -> int:
    block = operation["new_block_id"] or operation["block_id"]
    assert isinstance(block, int)
    return block


def seed_registry(engine: Engine, seed: int, until: date) -> int:
    """Accounts (200 residents, 3 enterprises, 2 forest project owners), actions and
    redemptions, two issuances, trades, a transfer, neutrality retirements, a compliance
    surrender, the market, and the enterprise user's surrender of what it bought there;
    returns the number of accounts opened."""
    rng = random.Random(seed)
    residents = _open_accounts(engine, rng)
    registry.record_actions(engine, PLATFORM, _actions(residents, rng, until))
    for code in residents[::5]:
        balance = registry.statement(engine, PLATFORM, code)["account"]["points"]
        if balance >= 20:
            registry.redeem(
                engine,
                PLATFORM,
                key=f"demo-redeem-{code}",
                account_code=code,
                points=20,
                note="兑换 2 元公交优惠券",
            )
    first = registry.issue(
        engine,
        ADMIN,
        key="demo-issue-1",
        methodology="AR-CQCM-001",
        project_code="LX001",
        project_name="龙溪林场碳汇造林项目",
        vintage=until.year - 2,
        quantity=60_000,
        to_account="PRJ01",
        verification="第三方核证报告 2024-017（示例）",
    )
    second = registry.issue(
        engine,
        ADMIN,
        key="demo-issue-2",
        methodology="AR-CQCM-001",
        project_code="SL001",
        project_name="石岭镇集体林碳汇项目",
        vintage=until.year - 1,
        quantity=20_000,
        to_account="PRJ02",
        verification="第三方核证报告 2025-006（示例）",
    )
    trades = (
        ("demo-trade-1", first, 8_000, "PRJ01", "ENT01", 24.08),
        ("demo-trade-2", first, 12_000, "PRJ01", "ENT02", 26.50),
        ("demo-trade-3", second, 3_000, "PRJ02", "ENT03", 28.00),
    )
    bought = {}
    for key, issued, quantity, seller, buyer, price in trades:
        bought[buyer] = _moved_block(
            registry.transfer(
                engine,
                PLATFORM,
                key=key,
                block_id=_moved_block(issued),
                quantity=quantity,
                from_account=seller,
                to_account=buyer,
                price_yuan_per_t=price,
            )
        )
    registry.transfer(
        engine,
        PLATFORM,
        key="demo-transfer-1",
        block_id=_moved_block(first),
        quantity=1_000,
        from_account="PRJ01",
        to_account="ENT03",
    )
    enterprise = Principal("user:enterprise", "enterprise", _user_id(engine, "enterprise"))
    registry.retire(
        engine,
        enterprise,
        key="demo-retire-1",
        block_id=bought["ENT01"],
        quantity=1_200,
        from_account="ENT01",
        purpose="碳中和",
        beneficiary=f"{until.year} 青山示范区马拉松",
        note="赛事碳中和",
    )
    registry.retire(
        engine,
        PLATFORM,
        key="demo-retire-2",
        block_id=bought["ENT03"],
        quantity=500,
        from_account="ENT03",
        purpose="自愿注销",
        beneficiary=ENTERPRISES[3],
    )
    obligation = registry.add_obligation(
        engine,
        PLATFORM,
        account_code="ENT02",
        scheme="CN-ETS",
        year=until.year - 1,
        verified_emissions_t=160_000,
    )
    registry.surrender(
        engine,
        PLATFORM,
        key="demo-surrender-1",
        block_id=bought["ENT02"],
        quantity=6_000,
        from_account="ENT02",
        obligation_id=int(obligation["id"]),
        note=f"{until.year - 1} 年度配额清缴抵销",
    )
    seed_market(engine, int(first["issuance_id"]), int(second["issuance_id"]))
    surrender_market_purchases(engine, enterprise, until.year - 1)
    return len(residents) + 5


MARKET_ORDERS = (
    # key, account, issuance (0: the first, 1: the second), side, yuan per t, tonnes
    ("ask-1", "PRJ01", 0, "sell", "27.50", 2_000),
    ("ask-2", "PRJ01", 0, "sell", "28.20", 3_000),
    ("ask-3", "PRJ02", 1, "sell", "30.00", 1_500),
    ("bid-1", "ENT02", 0, "buy", "27.60", 1_200),  # fills 1,200 t at 27.50
    ("bid-2", "ENT03", 0, "buy", "26.80", 800),
    ("bid-3", "ENT01", 0, "buy", "28.20", 900),  # fills 800 t at 27.50 and 100 t at 28.20
    ("bid-4", "ENT03", 1, "buy", "29.00", 600),
)
"""The demo market: resting offers of both project owners, bids of the three enterprises, and
the fills where they cross (the resting order's price, price-time priority)."""


def seed_market(engine: Engine, *issuances: int) -> None:
    """Yuan for every enterprise and owner, then the :data:`MARKET_ORDERS` through the market
    service, so the board, the order books and the trades show a working market."""
    for code in ("ENT01", "ENT02", "ENT03", "PRJ01", "PRJ02"):
        market.deposit(
            engine,
            ADMIN,
            key=f"demo-deposit-{code}",
            account_code=code,
            amount_fen=market.fen_from_yuan("200000"),
            note="银行入金（示例）",
        )
    enterprise = Principal("user:enterprise", "enterprise", _user_id(engine, "enterprise"))
    for key, account, which, side, price, quantity in MARKET_ORDERS:
        market.submit_order(
            engine,
            enterprise if account == "ENT01" else PLATFORM,  # ENT01 is the enterprise user's
            key=f"demo-{key}",
            account_code=account,
            issuance_id=issuances[which],
            side=side,
            price_fen_per_t=market.fen_from_yuan(price),
            quantity=quantity,
        )


COMPLIANCE_EMISSIONS_T = 480_000
"""Verified emissions of ENT01 (青峰热电, a power plant: the sector the national ETS covers);
the CN-ETS cap lets it offset 24,000 t."""


def surrender_market_purchases(engine: Engine, enterprise: Principal, year: int) -> None:
    """The enterprise user's ENT01 records its verified emissions for ``year`` and surrenders
    every tonne it bought on the market against them (履约抵销): a compliance certificate per
    fill, linked from its account page."""
    obligation = registry.add_obligation(
        engine,
        PLATFORM,
        account_code="ENT01",
        scheme="CN-ETS",
        year=year,
        verified_emissions_t=COMPLIANCE_EMISSIONS_T,
    )
    bought = market.trades(engine, enterprise, account_code="ENT01")
    for trade in sorted(bought, key=lambda trade: trade["id"]):
        if trade["buyer"] == "ENT01":
            registry.surrender(
                engine,
                enterprise,
                key=f"demo-surrender-market-{trade['id']}",
                block_id=trade["block_id"],
                quantity=trade["quantity_t"],
                from_account="ENT01",
                obligation_id=int(obligation["id"]),
                note=f"{year} 年度配额清缴抵销（交易市场购入）",
            )


# ------------------------------------------------------------------------------------------
# Carbon statistics
# ------------------------------------------------------------------------------------------

DISTRICT_ENTITY = "青山示范区"
ACTIVITY_BASE = (
    # sector, category, item, unit, quantity in the first year, yearly change
    ("industry", "combustion", "bituminous_coal", "t", 310_000, -0.06),
    ("industry", "combustion", "natural_gas", "万立方米", 14_000, 0.05),
    ("industry", "combustion", "diesel", "t", 6_000, -0.03),
    ("industry", "process", "calcium_carbonate", "t", 240_000, -0.02),
    ("industry", "purchased_electricity", "electricity", "万千瓦时", 380_000, 0.03),
    ("industry", "purchased_electricity", "green_electricity", "万千瓦时", 15_000, 0.35),
    ("energy_supply", "combustion", "natural_gas", "万立方米", 7_500, 0.02),
    ("buildings", "purchased_electricity", "electricity", "万千瓦时", 160_000, 0.04),
    ("buildings", "combustion", "natural_gas", "万立方米", 4_800, 0.03),
    ("buildings", "purchased_heat", "heat", "GJ", 1_100_000, 0.02),
    ("transport", "combustion", "gasoline", "t", 72_000, -0.01),
    ("transport", "combustion", "diesel", "t", 45_000, -0.04),
    ("agriculture", "emission", "ch4", "t", 950, -0.01),
    ("agriculture", "emission", "n2o", "t", 64, -0.01),
    ("waste", "emission", "ch4", "t", 2_300, -0.05),
    ("lulucf", "removal", "co2", "t", 210_000, 0.02),
)
"""The demo district's energy and activity statistics (synthetic, shaped like the example
district: coal falling, gas and green electricity rising). Natural gas is in 万立方米 and
accounted with the GB/T 32151 volume factors of the example bureau factor file, which the demo
writes to ``<data dir>/carbon/factors/`` (the shipped IPCC 2006 factors are per mass)."""
GAS_SERIES = "gbt32151_2024_c1"

CARBON_YEARS = (2021, 2022, 2023)
"""The statistical years of the demo's carbon books: the latest three with a published
MEE/NBS grid factor in the shipped library (a missing factor is an error, never guessed), and
a usual lag of district statistics behind the calendar."""

GDP_FIRST_YEAR = 720.0
"""Nominal GDP of the first year [亿元]."""


def _activity(seed: int, years: list[int]) -> pl.DataFrame:
    rng = random.Random(seed + 1)
    rows = []
    for number, year in enumerate(years):
        for sector, category, item, unit, first, change in ACTIVITY_BASE:
            quantity = first * (1 + change) ** number * rng.uniform(0.97, 1.03)
            series = GAS_SERIES if item == "natural_gas" else None
            rows.append(
                (DISTRICT_ENTITY, None, sector, year, category, item, round(quantity), unit, series)
            )
    return pl.DataFrame(
        rows,
        orient="row",
        schema=[
            "entity",
            "facility",
            "sector",
            "year",
            "category",
            "item",
            "quantity",
            "unit",
            "factor_series",
        ],
    )


def _emissions(path: Path, factors: Path, seed: int, years: list[int]) -> pl.DataFrame:
    """CO2 and energy per year from the platform's own accounting of the activity file."""
    library = carbon.library_for([factors])
    original, frame = carbon.load_statistics(path, library)
    options = accounting.Options(gases="co2")
    result = carbon.account(path, original, frame, library, options, chunk_rows=100_000)
    rng = random.Random(seed + 2)
    return (
        result.group_by("year")
        .agg(pl.col("co2_t").sum().round(1), pl.col("energy_tce").sum().round(1))
        .sort("year")
        .with_columns(
            pl.Series(
                "non_fossil_share_pct",
                [round(16.5 + 1.4 * n + rng.uniform(-0.3, 0.3), 1) for n in range(len(years))],
            )
        )
    )


def write_carbon_files(data_dir: Path, seed: int) -> list[Path]:
    """Activity statistics, GDP, emissions and targets of the district for three years, in
    ``<data dir>/carbon/``, the carbon books folder the dashboard reads
    (:mod:`qingshan.services.carbon_books`; also ``qingshan carbon inventory`` / ``targets``)."""
    folder = data_dir / "carbon"
    folder.mkdir(parents=True, exist_ok=True)
    years = list(CARBON_YEARS)
    factors = folder / "factors"
    factors.mkdir(exist_ok=True)
    factor_file = factors / f"{GAS_SERIES}.toml"
    _copy_reference("carbon", factor_file.name, factor_file)
    activity = folder / "district_activity.csv"
    _activity(seed, years).write_csv(activity)
    emissions = folder / "district_emissions.csv"
    _emissions(activity, factors, seed, years).write_csv(emissions)
    rng = random.Random(seed + 3)
    gdp_rows = [(years[0], GDP_FIRST_YEAR, None)]
    for year in years[1:]:
        index = round(rng.uniform(105.0, 107.5), 1)
        gdp_rows.append((year, round(gdp_rows[-1][1] * index / 100 * 1.01, 1), index))
    gdp = folder / "district_gdp.csv"
    pl.DataFrame(gdp_rows, orient="row", schema=["year", "gdp", "gdp_index"]).write_csv(gdp)
    target_year = years[0] + 4
    targets = folder / "district_targets.csv"
    pl.DataFrame(
        [
            (
                "co2_per_gdp",
                years[0],
                target_year,
                19.5,
                None,
                "单位GDP二氧化碳排放下降19.5%（示例）",
            ),
            ("energy_per_gdp", years[0], target_year, 14.0, None, "单位GDP能耗下降14%（示例）"),
            (
                "non_fossil_share",
                years[0],
                target_year,
                None,
                25.0,
                "非化石能源消费比重达到25%（示例）",
            ),
        ],
        orient="row",
        schema={
            "indicator": pl.String,
            "base_year": pl.Int64,
            "target_year": pl.Int64,
            "reduction_pct": pl.Float64,
            "target_value": pl.Float64,
            "name": pl.String,
        },
    ).write_csv(targets)
    return [factor_file, activity, gdp, emissions, targets]


# ------------------------------------------------------------------------------------------
# GEP
# ------------------------------------------------------------------------------------------

ECOSYSTEM_SHARES = {
    # township kind → share of its area per ecosystem
    "street": {
        "forest": 0.22,
        "shrub": 0.08,
        "grassland": 0.08,
        "wetland": 0.04,
        "farmland": 0.23,
        "urban": 0.33,
        "bare": 0.02,
    },
    "township": {
        "forest": 0.42,
        "shrub": 0.14,
        "grassland": 0.12,
        "wetland": 0.03,
        "farmland": 0.24,
        "urban": 0.04,
        "bare": 0.01,
    },
}
ECOSYSTEM_DRIVERS = {
    # ecosystem → evapotranspiration [mm], slope length-steepness, cover management, NPP [g/m²]
    "forest": (720, 9.8, 0.006, 1110),
    "shrub": (650, 10.5, 0.03, 750),
    "grassland": (600, 7.4, 0.05, 600),
    "wetland": (900, 7.0, 0.0, 520),
    "farmland": (620, 6.5, 0.25, 800),
    "urban": (380, 5.0, 0.0, 160),
    "bare": (300, 5.0, 0.6, 50),
}
"""Mean drivers by ecosystem, in the ranges of examples/gep (synthetic)."""
TOWNSHIP_AREA_KM2 = 63.0
STATISTICS = (
    # input, ecosystem, unit, street value, township value
    ("agriculture_output_value", "", "万元", 6_000, 19_000),
    ("forestry_output_value", "", "万元", 900, 4_300),
    ("livestock_output_value", "", "万元", 2_400, 9_600),
    ("fishery_output_value", "", "万元", 500, 1_400),
    ("gdp", "", "万元", 620_000, 260_000),
    ("so2_purified", "", "t", 22, 41),
    ("nox_purified", "", "t", 30, 57),
    ("dust_purified", "", "t", 46, 84),
    ("cod_purified", "wetland", "t", 180, 320),
    ("nh3n_purified", "wetland", "t", 16, 29),
    ("tp_purified", "wetland", "t", 2.4, 4.3),
    ("tourist_visits", "", "万人次", 55, 38),
    ("view_dwelling_area", "", "万m2", 4.1, 2.6),
    ("reservoir_capacity_m3", "wetland", "万m3", 300, 900),
)
DISTRICT_STATISTICS = (
    ("lake_area_km2", "wetland", "km2", 0.0),
    ("marsh_area_km2", "wetland", "km2", 1.1),
    ("hydropower_generation", "", "万kWh", 4_800.0),
)
PRICE_BASE_YEAR = 2020
GOOD_DAY_TARGET_PERCENT = 92.6
"""The demo bureau's good-day target: 338 of 365 days, a typical 14th Five-Year Plan district
target; the overview's card and the good-day pace rule both measure against it."""
AIR_TARGETS = {"good_day_ratio": GOOD_DAY_TARGET_PERCENT, "pm25_annual_mean": 32.0}
"""The demo bureau's annual air targets (illustrative: the good-day target above and a PM2.5
mean stricter than the GB 3095 Class II limit, as provinces' assessment targets are)."""


def write_air_targets(data_dir: Path, until: date) -> Path:
    """``<data dir>/targets.toml`` (:mod:`qingshan.services.targets`) for the demo's years."""
    path = data_dir / TARGETS_FILE
    tables = [
        f"[air.{year}]\n" + "".join(f"{key} = {value}\n" for key, value in AIR_TARGETS.items())
        for year in (until.year - 2, until.year - 1, until.year)
    ]
    path.write_text(
        "# The demo bureau's annual air targets (illustrative).\n\n" + "\n".join(tables),
        encoding="utf-8",
    )
    return path


DEMO_ORIGIN = "demo"
"""``run.origin`` of the GEP runs the demo keeps (so that ``--reseed`` removes only those)."""


def _ecosystems(rng: random.Random, wet: float) -> pl.DataFrame:
    rows = []
    for _, township, kind in TOWNSHIPS:
        precip = 1_230 * wet * rng.uniform(0.96, 1.04)
        for ecosystem, share in ECOSYSTEM_SHARES[kind].items():
            et, ls, cover, npp = ECOSYSTEM_DRIVERS[ecosystem]
            rows.append(
                (
                    township,
                    ecosystem,
                    round(TOWNSHIP_AREA_KM2 * share, 3),
                    round(precip, 1),
                    round(et * rng.uniform(0.96, 1.04), 1),
                    round(3.6 * precip, 1),
                    0.034,
                    ls,
                    cover,
                    round(npp * wet**0.5 * rng.uniform(0.97, 1.03), 1),
                )
            )
    return pl.DataFrame(
        rows,
        orient="row",
        schema=[
            "township",
            "ecosystem",
            "area_km2",
            "precip_mm",
            "et_mm",
            "r_factor",
            "k_factor",
            "ls_factor",
            "c_factor",
            "npp_dry_matter_g_m2",
        ],
    )


def _statistics(rng: random.Random, growth: float) -> pl.DataFrame:
    rows = []
    for _, township, kind in TOWNSHIPS:
        for name, ecosystem, unit, street, township_value in STATISTICS:
            value = (street if kind == "street" else township_value) * growth
            rows.append(
                (
                    township,
                    ecosystem or None,
                    name,
                    round(value * rng.uniform(0.93, 1.07), 2),
                    unit,
                    "synthetic (demo yearbook)",
                )
            )
    for name, ecosystem, unit, value in DISTRICT_STATISTICS:
        rows.append(("全区", ecosystem or None, name, value, unit, "synthetic (demo inventory)"))
    return pl.DataFrame(
        rows, orient="row", schema=["township", "ecosystem", "input", "value", "unit", "source"]
    )


def _price_index(last_year: int) -> pl.DataFrame:
    rows = []
    for year in range(PRICE_BASE_YEAR, last_year + 1):
        rows.append(
            (
                year,
                round(100 * 1.012 ** (year - PRICE_BASE_YEAR), 1),
                "*",
                "synthetic general price index (demo)",
            )
        )
        rows.append(
            (
                year,
                round(100 * 1.006 ** (year - PRICE_BASE_YEAR), 1),
                "electricity_price",
                "synthetic electricity price index (demo)",
            )
        )
    return pl.DataFrame(rows, orient="row", schema=["year", "index", "price_key", "note"])


def _config(year: int, compare: int | None) -> str:
    lines = [
        f'title = "青山示范区 {year} 年度生态产品总值（GEP）核算（演示，合成数据）"',
        'district = "青山示范区（演示）"',
        'spec = "ndrc-nbs-2022"',
        f"year = {year}",
        'prices = "prices.csv"',
        f'statistics = "statistics-{year}.csv"',
        'ecosystem_parameters = "ecosystem-parameters.csv"',
    ]
    if compare is not None:
        lines.append(f'compare_with = "config-{compare}.toml"')
    lines += [
        "",
        "[constants]",
        "cooling_days = 92",
        "water_evaporation_mm = 950.0",
        "cooling_evaporation_share = 0.45",
        "humidifying_evaporation_share = 0.0",
        "",
        "[constant_prices]",
        f"base_year = {PRICE_BASE_YEAR}",
        'index = "price-index.csv"',
        "",
        "[table]",
        f'ecosystems = "ecosystems-{year}.csv"',
        "",
    ]
    return "\n".join(lines)


def write_gep_inputs(data_dir: Path, seed: int, until: date) -> tuple[list[Path], list[Path]]:
    """Two years of GEP inputs (table route) in ``<data dir>/gep/inputs/demo/``; returns the
    files written and the configurations, oldest year first."""
    folder = gep_runs.inputs_folder(data_dir) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("prices.csv", "ecosystem-parameters.csv"):
        _copy_reference("gep", name, folder / name)
        written.append(folder / name)
    years = [until.year - 2, until.year - 1]
    _price_index(years[-1]).write_csv(folder / "price-index.csv")
    written.append(folder / "price-index.csv")
    configs = []
    rng = random.Random(seed + 4)
    for number, year in enumerate(years):
        _ecosystems(rng, rng.uniform(0.9, 1.1)).write_csv(folder / f"ecosystems-{year}.csv")
        _statistics(rng, 1.05**number).write_csv(folder / f"statistics-{year}.csv")
        config = folder / f"config-{year}.toml"
        config.write_text(_config(year, years[number - 1] if number else None), "utf-8")
        written += [folder / f"ecosystems-{year}.csv", folder / f"statistics-{year}.csv", config]
        configs.append(config)
    return written, configs


def seed_gep(engine: Engine, data_dir: Path, seed: int, until: date) -> tuple[list[Path], str]:
    """Write the GEP inputs and keep a run of the latest year (compared with the year before),
    audited like a run made through the API; returns the files and the run id."""
    written, configs = write_gep_inputs(data_dir, seed, until)
    root = gep_runs.inputs_folder(data_dir)
    pending = gep_runs.start(gep_runs.runs_folder(data_dir), gep_runs.new_run_id(utc_now()))
    details = {
        "created_at": datetime.now(UTC).isoformat(),
        "created_by": "admin",
        "origin": DEMO_ORIGIN,
    }
    manifest = pending.compute(configs[-1], root, details)
    try:
        with writing(engine, "user:admin") as session:
            record(
                session,
                "user:admin",
                "gep.run",
                "gep_run",
                entity_id=pending.run_id,
                after={
                    **manifest["run"],
                    "spec": manifest["spec"]["id"],
                    "year": manifest["year"],
                    "inputs": manifest["inputs"],
                    "gep_wan": manifest["gep_wan"],
                },
            )
            kept = pending.publish()
    finally:
        pending.discard()
    return written, kept.run_id
