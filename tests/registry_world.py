"""A retirement and a surrender to certify, shared by the certificate tests of services, API,
commands and pages."""

from __future__ import annotations

from sqlalchemy import Engine

from qingshan.store import ledger
from qingshan.store.engine import writing


def retire_some(engine: Engine, beneficiary: str = "2026 青山马拉松") -> int:
    """OWNER is issued 100 t of P001 (vintage 2023) and retires 40 for neutrality (碳中和) on
    behalf of ``beneficiary``; returns the retirement id."""
    with writing(engine, "test") as session:
        owner = ledger.open_account(session, "OWNER", "青山林场", "project_owner").id
        issued = ledger.issue(
            session, "i1", methodology_code="AR-CQCM-001", project_code="P001",
            project_name="青山碳汇造林", vintage=2023, quantity=100, to_account_id=owner,
            verification="核查报告 2024-001",
        )  # fmt: skip
        operation = ledger.retire(
            session, "r1", block_id=issued.new_block_id, quantity=40, from_account_id=owner,
            purpose="碳中和", beneficiary=beneficiary, note="赛事碳中和",
        )  # fmt: skip
        return int(operation.details["retirement_id"])


def surrender_some(engine: Engine) -> int:
    """Enterprise ENT1 is issued 1,000 t of P001 (vintage 2023), records verified emissions of
    9,000 t for 2025 under CN-ETS (offset cap 450 t) and surrenders 300 t against them; returns
    the retirement id."""
    with writing(engine, "test") as session:
        enterprise = ledger.open_account(session, "ENT1", "青山钢铁", "enterprise").id
        issued = ledger.issue(
            session, "i1", methodology_code="AR-CQCM-001", project_code="P001",
            project_name="青山碳汇造林", vintage=2023, quantity=1_000, to_account_id=enterprise,
            verification="核查报告 2024-001",
        )  # fmt: skip
        obligation = ledger.add_obligation(session, enterprise, "CN-ETS", 2025, 9_000)
        operation = ledger.surrender(
            session, "s1", block_id=issued.new_block_id, quantity=300,
            from_account_id=enterprise, obligation_id=obligation.id,
        )  # fmt: skip
        return int(operation.details["retirement_id"])
