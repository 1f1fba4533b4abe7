"""The carbon-inclusion ledger on both backends: worked examples from the notes, splitting,
irreversible retirement, the compliance offset cap, idempotency and the journal."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError, IntegrityError

from qingshan.store import ledger
from qingshan.store.engine import reading, writing
from qingshan.store.ledger import LedgerError
from qingshan.store.models import (
    CreditBlock,
    LowCarbonAction,
    Methodology,
    RegistryAccount,
    Retirement,
)

RIDE = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 Beijing time, 2024-03-01


@pytest.fixture
def accounts(engine: Engine) -> dict[str, int]:
    with writing(engine, "test:fixture") as session:
        return {
            code: ledger.open_account(session, code, code, kind).id
            for code, kind in (
                ("RES1", "individual"),
                ("ENT1", "enterprise"),
                ("ENT2", "enterprise"),
                ("OWNER", "project_owner"),
            )
        }


def act(
    engine: Engine,
    account_id: int,
    methodology: str,
    quantity: float,
    key: str,
    at: datetime = RIDE,
) -> ledger.ActionOutcome:
    with writing(engine, "test") as session:
        return ledger.record_action(
            session,
            key,
            account_id=account_id,
            methodology_code=methodology,
            quantity=quantity,
            occurred_at=at,
        )


def points(engine: Engine, account_id: int) -> int:
    with reading(engine) as session:
        account = session.get(RegistryAccount, account_id)
        assert account is not None
        return account.points_centi


def issue(engine: Engine, owner: int, quantity: int, key: str, project: str = "P001") -> int:
    """Issue credits; returns the new block id."""
    with writing(engine, "test") as session:
        operation = ledger.issue(
            session,
            key,
            methodology_code="AR-CQCM-001",
            project_code=project,
            project_name="青山碳汇造林",
            vintage=2023,
            quantity=quantity,
            to_account_id=owner,
            verification="核查报告 2024-001",
        )
        assert operation.new_block_id is not None
        return operation.new_block_id


def block(engine: Engine, block_id: int) -> tuple[int, int, int, str]:
    with reading(engine) as session:
        found = session.get(CreditBlock, block_id)
        assert found is not None
        return found.first_serial, found.last_serial, found.account_id, found.status


# ------------------------------------------------------------------------------------------
# Points: worked examples of carbon.md §3.3.1 / §7.5
# ------------------------------------------------------------------------------------------


def test_bus_ride_is_120_g_and_1_1_points(engine: Engine, accounts: dict[str, int]) -> None:
    """碳惠通: ≈120 g CO2 per bus ride → 1.1 carbon points (carbon.md §3.3.1)."""
    outcome = act(engine, accounts["RES1"], "CQ-BUS", 1, "ride-1")
    assert outcome.status == "accepted"
    assert outcome.reduction_mg == 120_000
    assert outcome.points_centi == 110
    assert points(engine, accounts["RES1"]) == 110


def test_shared_ebike_is_43_g_per_km(engine: Engine, accounts: dict[str, int]) -> None:
    """重庆市共享电动助力车骑行项目方法学: 43 g CO2 per km (carbon.md §3.3.1); 2.5 km → 107.5 g,
    points at the bus rule's rate 0.3942/km → 0.9855 → 0.99."""
    outcome = act(engine, accounts["RES1"], "CQ-EBIKE", 2.5, "bike-1")
    assert outcome.reduction_mg == 107_500
    assert outcome.points_centi == 99


def test_daily_cap_rejects_with_reason_per_beijing_day(
    engine: Engine, accounts: dict[str, int]
) -> None:
    resident = accounts["RES1"]
    for ride in range(10):
        assert act(engine, resident, "CQ-BUS", 1, f"r{ride}").status == "accepted"
    over = act(engine, resident, "CQ-BUS", 1, "r10")
    assert over.status == "rejected"
    assert "daily cap of 10 trip" in (over.reason or "")
    assert over.points_centi == 0
    # 2024-03-01 16:30 UTC is 00:30 on 2024-03-02 in Beijing: a new day, a new cap
    next_day = act(engine, resident, "CQ-BUS", 1, "r11", datetime(2024, 3, 1, 16, 30, tzinfo=UTC))
    assert next_day.status == "accepted"
    assert points(engine, resident) == 11 * 110


def test_duplicate_key_is_recorded_once(engine: Engine, accounts: dict[str, int]) -> None:
    first = act(engine, accounts["RES1"], "CQ-BUS", 1, "same")
    again = act(engine, accounts["RES1"], "CQ-BUS", 1, "same")
    assert (first.status, again.status) == ("accepted", "duplicate")
    assert again.points_centi == first.points_centi == 110
    assert points(engine, accounts["RES1"]) == 110
    with reading(engine) as session:
        assert len(session.scalars(select(LowCarbonAction)).all()) == 1


def test_methodology_without_verified_factor_rejects(
    engine: Engine, accounts: dict[str, int]
) -> None:
    outcome = act(engine, accounts["RES1"], "GD-PV", 100, "pv-1")
    assert outcome.status == "rejected"
    assert "GD-PV" in (outcome.reason or "")


def test_points_redeem_and_never_go_negative(engine: Engine, accounts: dict[str, int]) -> None:
    """20 points buy a 2-yuan bus coupon (carbon.md §3.3.1); a short balance is refused."""
    resident = accounts["RES1"]
    for ride in range(10):
        act(engine, resident, "CQ-BUS", 1, f"r{ride}")
    with writing(engine, "test") as session:
        ledger.redeem(session, "coupon-1", account_id=resident, points=1000, note="2元公交券")
    assert points(engine, resident) == 100
    with pytest.raises(LedgerError, match="cannot redeem"), writing(engine, "test") as session:
        ledger.redeem(session, "coupon-2", account_id=resident, points=1000, note="2元公交券")
    with pytest.raises(IntegrityError), engine.begin() as connection:  # the database refuses too
        connection.execute(text("UPDATE registry_accounts SET points_centi = -1"))
    assert points(engine, resident) == 100


# ------------------------------------------------------------------------------------------
# Credits
# ------------------------------------------------------------------------------------------


def test_issuances_number_serials_without_overlap(engine: Engine, accounts: dict[str, int]) -> None:
    first = issue(engine, accounts["OWNER"], 1000, "i1")
    second = issue(engine, accounts["OWNER"], 500, "i2")
    other_project = issue(engine, accounts["OWNER"], 10, "i3", project="P002")
    assert block(engine, first)[:2] == (1, 1000)
    assert block(engine, second)[:2] == (1001, 1500)
    assert block(engine, other_project)[:2] == (1, 10)
    with reading(engine) as session:
        found = ledger.lookup_serial(session, "QS-AR-CQCM-001-2023-P001-990-1010")
    assert [entry["serial"] for entry in found] == [
        "QS-AR-CQCM-001-2023-P001-1-1000",
        "QS-AR-CQCM-001-2023-P001-1001-1500",
    ]


def test_partial_transfer_moves_the_upper_range(engine: Engine, accounts: dict[str, int]) -> None:
    origin = issue(engine, accounts["OWNER"], 1000, "i1")
    with writing(engine, "test") as session:
        operation = ledger.transfer(
            session,
            "t1",
            block_id=origin,
            quantity=300,
            from_account_id=accounts["OWNER"],
            to_account_id=accounts["ENT1"],
        )
        moved = operation.new_block_id
        assert operation.serial == "QS-AR-CQCM-001-2023-P001-701-1000"
    assert block(engine, origin) == (1, 700, accounts["OWNER"], "held")
    assert moved is not None
    assert block(engine, moved) == (701, 1000, accounts["ENT1"], "held")
    with reading(engine) as session:
        assert ledger.verify(session) == []


def test_only_the_owner_moves_and_not_more_than_held(
    engine: Engine, accounts: dict[str, int]
) -> None:
    origin = issue(engine, accounts["OWNER"], 100, "i1")
    with pytest.raises(LedgerError, match="not in account"), writing(engine, "t") as session:
        ledger.transfer(
            session,
            "t1",
            block_id=origin,
            quantity=1,
            from_account_id=accounts["ENT1"],
            to_account_id=accounts["ENT2"],
        )
    with pytest.raises(LedgerError, match="cannot move 101"), writing(engine, "t") as session:
        ledger.transfer(
            session,
            "t2",
            block_id=origin,
            quantity=101,
            from_account_id=accounts["OWNER"],
            to_account_id=accounts["ENT2"],
        )
    assert block(engine, origin) == (1, 100, accounts["OWNER"], "held")


def test_retirement_is_irreversible_and_certified(engine: Engine, accounts: dict[str, int]) -> None:
    origin = issue(engine, accounts["OWNER"], 100, "i1")
    with writing(engine, "test") as session:
        operation = ledger.retire(
            session,
            "ret1",
            block_id=origin,
            quantity=40,
            from_account_id=accounts["OWNER"],
            purpose="碳中和",
            beneficiary="2026 青山马拉松",
            note="赛事碳中和",
        )
        retired = operation.new_block_id
    assert retired is not None
    first, last, holder, status = block(engine, retired)
    assert (first, last, status) == (61, 100, "retired")
    for attempt in (
        lambda s: ledger.transfer(
            s,
            "x1",
            block_id=retired,
            quantity=1,
            from_account_id=holder,
            to_account_id=accounts["ENT1"],
        ),
        lambda s: ledger.cancel(s, "x2", block_id=retired, quantity=1, reason="undo"),
        lambda s: ledger.set_frozen(
            s, "x3", block_id=retired, quantity=1, frozen=True, reason="check"
        ),
    ):
        with pytest.raises(LedgerError, match="is retired"), writing(engine, "t") as session:
            attempt(session)
    with reading(engine) as session:
        found = ledger.lookup_serial(session, "QS-AR-CQCM-001-2023-P001-61-100")
        assert found[0]["status"] == "retired"
        assert found[0]["certificate"] == "QS-RET-00000001"
        assert ledger.verify(session) == []


def test_surrender_stops_at_the_five_percent_cap(engine: Engine, accounts: dict[str, int]) -> None:
    """碳排放权交易管理办法（试行） Art. 29: offsets ≤ 5 % of the allowances due, which Art. 28
    sets at the verified emissions: 1,000,000 t → 50,000 t (carbon.md §7.6)."""
    enterprise = accounts["ENT1"]
    origin = issue(engine, enterprise, 60_000, "i1")
    with writing(engine, "test") as session:
        obligation = ledger.add_obligation(session, enterprise, "CN-ETS", 2025, 1_000_000)
        assert obligation.offset_cap_t == 50_000
        ledger.surrender(
            session,
            "s1",
            block_id=origin,
            quantity=30_000,
            from_account_id=enterprise,
            obligation_id=obligation.id,
        )
        obligation_id = obligation.id
    with pytest.raises(LedgerError, match="20000 t left"), writing(engine, "t") as session:
        ledger.surrender(
            session,
            "s2",
            block_id=origin,
            quantity=20_001,
            from_account_id=enterprise,
            obligation_id=obligation_id,
        )
    with writing(engine, "test") as session:
        ledger.surrender(
            session,
            "s3",
            block_id=origin,
            quantity=20_000,
            from_account_id=enterprise,
            obligation_id=obligation_id,
        )
    assert block(engine, origin)[:2] == (1, 10_000)
    with (
        pytest.raises(LedgerError, match="compliance go through surrender"),
        writing(engine, "t") as session,
    ):
        ledger.retire(
            session,
            "s4",
            block_id=origin,
            quantity=1,
            from_account_id=enterprise,
            purpose="履约抵销",
            beneficiary="ENT1",
        )
    with reading(engine) as session:
        assert ledger.verify(session) == []


def test_a_surrender_is_certified_with_the_obligation_it_meets(
    engine: Engine, accounts: dict[str, int]
) -> None:
    """The certificate of a surrender seals the obligation (scheme, year, verified emissions,
    offset cap) besides what every retirement states; a neutrality retirement's does not."""
    enterprise = accounts["ENT1"]
    origin = issue(engine, enterprise, 1_000, "i1")
    with writing(engine, "test") as session:
        obligation = ledger.add_obligation(session, enterprise, "CN-ETS", 2025, 9_000)
        surrendered = ledger.surrender(
            session,
            "s1",
            block_id=origin,
            quantity=300,
            from_account_id=enterprise,
            obligation_id=obligation.id,
        )
        neutral = ledger.retire(
            session,
            "r1",
            block_id=origin,
            quantity=10,
            from_account_id=enterprise,
            purpose="碳中和",
            beneficiary="ENT1",
        )
        ids = (surrendered.details["retirement_id"], neutral.details["retirement_id"])
        obligation_id = obligation.id
    with writing(engine, "test") as session:  # a later surrender changes no sealed field
        ledger.surrender(
            session,
            "s2",
            block_id=origin,
            quantity=100,
            from_account_id=enterprise,
            obligation_id=obligation_id,
        )
    with reading(engine) as session:
        compliance, neutrality = (session.get(Retirement, found) for found in ids)
        assert compliance is not None and neutrality is not None
        content = ledger.certificate_content(session, compliance)
        assert content == {
            "certificate": "QS-RET-00000001",
            "serial": "QS-AR-CQCM-001-2023-P001-701-1000",
            "quantity_t": 300,
            "purpose": "履约抵销",
            "beneficiary": "ENT1",
            "note": "2025 年度履约",
            "account": "ENT1",
            "at": compliance.at.isoformat(),
            "scheme": "CN-ETS",
            "compliance_year": 2025,
            "verified_emissions_t": 9_000,
            "offset_cap_t": 450,  # 5 % of 9,000 t (Art. 29, carbon.md §7.6)
        }
        assert ledger.certificate_hash(content) == compliance.certificate_sha256
        neutral_content = ledger.certificate_content(session, neutrality)
        assert "scheme" not in neutral_content and "offset_cap_t" not in neutral_content
        assert ledger.certificate_hash(neutral_content) == neutrality.certificate_sha256
        assert ledger.verify(session) == []
    with engine.begin() as connection:  # the obligation is sealed: restating it breaks the seal
        connection.execute(
            text("UPDATE registry_obligations SET verified_emissions_t = 8000 WHERE id = :id"),
            {"id": obligation_id},
        )
    with reading(engine) as session:
        compliance = session.get(Retirement, ids[0])
        assert compliance is not None
        altered = ledger.certificate_content(session, compliance)
        assert ledger.certificate_hash(altered) != compliance.certificate_sha256


def test_retried_request_applies_once(engine: Engine, accounts: dict[str, int]) -> None:
    origin = issue(engine, accounts["OWNER"], 100, "i1")
    results = []
    for _ in range(2):
        with writing(engine, "test") as session:
            results.append(
                ledger.transfer(
                    session,
                    "same-key",
                    block_id=origin,
                    quantity=10,
                    from_account_id=accounts["OWNER"],
                    to_account_id=accounts["ENT1"],
                ).id
            )
    assert results[0] == results[1]
    assert block(engine, origin)[:2] == (1, 90)


def test_freeze_blocks_movement_and_cancel_needs_a_reason(
    engine: Engine, accounts: dict[str, int]
) -> None:
    owner = accounts["OWNER"]
    origin = issue(engine, owner, 100, "i1")
    with writing(engine, "test") as session:
        frozen = ledger.set_frozen(
            session, "f1", block_id=origin, quantity=20, frozen=True, reason="核查中"
        ).new_block_id
    assert frozen is not None
    with pytest.raises(LedgerError, match="is frozen"), writing(engine, "t") as session:
        ledger.transfer(
            session,
            "t1",
            block_id=frozen,
            quantity=1,
            from_account_id=owner,
            to_account_id=accounts["ENT1"],
        )
    with pytest.raises(LedgerError, match="needs a reason"), writing(engine, "t") as session:
        ledger.cancel(session, "c0", block_id=frozen, quantity=20, reason=" ")
    with writing(engine, "test") as session:
        ledger.cancel(session, "c1", block_id=frozen, quantity=5, reason="重复计算更正")
        ledger.set_frozen(session, "u1", block_id=frozen, quantity=15, frozen=False, reason="")
    assert block(engine, frozen) == (81, 95, owner, "held")
    with reading(engine) as session:
        supply = ledger.supply(session)
        assert supply[0] | {"serial_prefix": None} == {
            "issuance_id": supply[0]["issuance_id"],
            "serial_prefix": None,
            "issued_t": 100,
            "held": 95,
            "frozen": 0,
            "retired": 0,
            "cancelled": 5,
        }
        assert ledger.verify(session) == []


def test_block_timeline_follows_the_units_back_to_issuance(
    engine: Engine, accounts: dict[str, int]
) -> None:
    origin = issue(engine, accounts["OWNER"], 100, "i1")
    with writing(engine, "test") as session:
        moved = ledger.transfer(
            session,
            "t1",
            block_id=origin,
            quantity=50,
            from_account_id=accounts["OWNER"],
            to_account_id=accounts["ENT1"],
        ).new_block_id
        assert moved is not None
        ledger.retire(
            session,
            "r1",
            block_id=moved,
            quantity=50,
            from_account_id=accounts["ENT1"],
            purpose="自愿注销",
            beneficiary="ENT1",
        )
    with reading(engine) as session:
        kinds = [entry["kind"] for entry in ledger.block_timeline(session, moved)]
        assert kinds == ["issue", "transfer", "retire"]
        statement = [entry["kind"] for entry in ledger.account_timeline(session, accounts["ENT1"])]
        assert statement == ["transfer", "retire"]


def test_individual_reductions_become_credits_once(
    engine: Engine, accounts: dict[str, int]
) -> None:
    """A period's accepted reductions are issued in whole tonnes, rounded down, and each
    reduction at most once (the platform's aggregate project)."""
    with writing(engine, "test") as session:
        session.add(
            Methodology(
                code="TEST-PV",
                name="测试 光伏",
                version="1",
                scheme="TEST",
                kind="action",
                document="test",
                source="test",
                unit="kWh",
                grams_per_unit=500.0,
                points_per_unit=0.0,
                parameters={},
                active=True,
            )
        )
    resident = accounts["RES1"]
    act(engine, resident, "TEST-PV", 1500, "pv1")  # 0.75 t
    act(engine, resident, "TEST-PV", 1000, "pv2", datetime(2024, 3, 2, 1, tzinfo=UTC))  # 0.5 t
    act(engine, resident, "TEST-PV", 9000, "pv3", datetime(2024, 4, 1, 1, tzinfo=UTC))  # later
    period = {
        "methodology_code": "TEST-PV",
        "first_day": date(2024, 3, 1),
        "last_day": date(2024, 3, 31),
        "project_code": "AGG2403",
    }
    with writing(engine, "test") as session:
        platform = ledger.system_account(session, "SYS-PLATFORM").id
        operation = ledger.issue_from_actions(session, "agg1", **period, to_account_id=platform)
        assert operation.serial == "QS-TEST-PV-2024-AGG2403-1-1"
        assert operation.details["not_issued_mg"] == 250_000_000
    with pytest.raises(LedgerError, match="less than 1 t"), writing(engine, "t") as session:
        ledger.issue_from_actions(session, "agg2", **period, to_account_id=platform)


def test_database_refuses_to_change_retired_credits_or_delete_blocks(
    engine: Engine, accounts: dict[str, int]
) -> None:
    """Irreversibility does not rest on the ledger code alone: triggers of migration 0003."""
    origin = issue(engine, accounts["OWNER"], 10, "i1")
    with writing(engine, "test") as session:
        retired = ledger.retire(
            session,
            "r1",
            block_id=origin,
            quantity=4,
            from_account_id=accounts["OWNER"],
            purpose="自愿注销",
            beneficiary="b",
        ).new_block_id
    for statement, message in (
        (f"UPDATE registry_blocks SET status = 'held' WHERE id = {retired}", "never change"),
        (f"DELETE FROM registry_blocks WHERE id = {origin}", "never deleted"),
    ):
        with pytest.raises(DatabaseError, match=message), engine.begin() as connection:
            connection.execute(text(statement))
    assert block(engine, retired)[3] == "retired"
