"""A small district for page tests: two townships, a 2×2 tiling of grid polygons, one site of
each kind and a user of each role (password :data:`PASSWORD`).

Page tests of one domain add what they need (alarms, cases, credits) in their own fixtures.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine

from qingshan.services import market, registry
from qingshan.services.registry import Principal
from qingshan.store.engine import writing
from qingshan.store.identity import add_user, set_user_grids
from qingshan.store.registry import ensure_grid, upsert_site

PASSWORD = "correct horse battery staple"
DISTRICT = ("500199", "示范区")
USERS = {
    "admin": "admin",
    "analyst": "analyst",
    "officer": "grid_officer",
    "firm": "enterprise",
}
SITE_KINDS = {
    "AIR-01": {"kind": "air_station", "air_class": "II"},
    "WAT-01": {"kind": "water_section", "water_target_class": "III", "waterbody_type": "river"},
    "NOI-01": {"kind": "noise_point", "noise_zone": "2"},
    "SRC-01": {"kind": "source_outlet", "permit_limits": {"cod": {"limit": 50.0}}},
}


def square(west: float, south: float, size: float = 0.05) -> str:
    """A GeoJSON polygon: the square with this south-west corner (degrees)."""
    ring = [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def build_world(engine: Engine) -> dict[str, int]:
    """Create the district; returns grid code → id."""
    grids: dict[str, int] = {}
    with writing(engine, "test:world") as session:
        for row in range(2):
            for column in range(2):
                code = f"G{row}{column}"
                township = (
                    ("500199001", "青山街道", "street")
                    if row == 0
                    else ("500199002", "绿水镇", "township")
                )
                grid = ensure_grid(
                    session, district=DISTRICT, township=township, grid=(code, f"第{code}网格")
                )
                grid.boundary = square(106.50 + 0.05 * column, 29.50 + 0.05 * row)
                grid.responsible = [
                    {"name": f"网格员{code}", "phone": "13800000000", "duty": "网格长"}
                ]
                grids[code] = grid.id
        for index, (code, fields) in enumerate(SITE_KINDS.items()):
            upsert_site(
                session,
                code,
                name=f"{code} 点位",
                latitude=29.52 + 0.05 * (index // 2),
                longitude=106.52 + 0.05 * (index % 2),
                grid_id=list(grids.values())[index],
                **fields,
            )
        for username, role in USERS.items():
            add_user(session, username, role, password=PASSWORD)
        session.flush()
        set_user_grids(session, "officer", ["G00"])
    return grids


def credits_for_firm(engine: Engine, quantity: int = 100) -> dict[str, Any]:
    """Account ``E-FIRM`` of user ``firm`` holding one issued block of ``quantity`` tonnes."""
    admin = Principal(actor="test:admin", role="admin")
    registry.open_account(
        engine, admin, code="E-FIRM", name="示范制造有限公司", kind="enterprise", username="firm"
    )
    issued = registry.issue(
        engine,
        admin,
        key="issue",
        methodology="AR-CQCM-001",
        project_code="P001",
        project_name="青山碳汇造林",
        vintage=2023,
        quantity=quantity,
        to_account="E-FIRM",
        verification="核查报告",
    )
    return {
        "block_id": issued["new_block_id"],
        "serial": issued["serial"],
        "issuance_id": issued["issuance_id"],
    }


def surrender_for_firm(
    engine: Engine, block_id: int, quantity: int, verified_emissions_t: int
) -> dict[str, Any]:
    """``E-FIRM`` records verified emissions for 2025 under CN-ETS (offset cap 5 %) and
    surrenders ``quantity`` t of ``block_id`` against them; the surrender's answer."""
    admin = Principal(actor="test:admin", role="admin")
    obligation = registry.add_obligation(
        engine, admin, account_code="E-FIRM", scheme="CN-ETS", year=2025,
        verified_emissions_t=verified_emissions_t,
    )  # fmt: skip
    return registry.surrender(
        engine, admin, key="s-1", block_id=block_id, quantity=quantity,
        from_account="E-FIRM", obligation_id=obligation["id"],
    )  # fmt: skip


def market_for_firms(engine: Engine) -> dict[str, Any]:
    """A seller and a buyer: ``E-FIRM`` of user ``firm`` (which must exist) holds 100 t
    (:func:`credits_for_firm`); the new enterprise user ``rival`` owns ``E-RIVAL``, into which
    the administrator has deposited 1,500.00 yuan."""
    admin = Principal(actor="test:admin", role="admin")
    with writing(engine, "test:world") as session:
        add_user(session, "rival", "enterprise", password=PASSWORD)
    credits = credits_for_firm(engine)
    registry.open_account(
        engine, admin, code="E-RIVAL", name="绿色物流有限公司", kind="enterprise", username="rival"
    )
    market.deposit(
        engine,
        admin,
        key="deposit-rival",
        account_code="E-RIVAL",
        amount_fen=150_000,
        note="银行流水",
    )
    return credits


def trade_between_firms(engine: Engine, issuance_id: int) -> None:
    """Over :func:`market_for_firms`: E-FIRM offers 20 t at 24.08 yuan, E-RIVAL buys 10 t at
    up to 25 yuan (a trade at 24.08; 10 t stay on offer)."""
    admin = Principal(actor="test:admin", role="admin")
    orders = (("sell-20", "E-FIRM", "sell", 2_408, 20), ("buy-10", "E-RIVAL", "buy", 2_500, 10))
    for key, account, side, price, tonnes in orders:
        market.submit_order(
            engine,
            admin,
            key=key,
            account_code=account,
            issuance_id=issuance_id,
            side=side,
            price_fen_per_t=price,
            quantity=tonnes,
        )
