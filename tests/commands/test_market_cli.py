"""``qingshan market …`` end to end on both backends: deposit, a custodial seller's offer, a
buy that trades, book, trades, statistics, cancel, withdraw; refusals exit with 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qingshan.cli import app

runner = CliRunner()


def run(group: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [group, *args, "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


@pytest.fixture
def listed(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    for code, kind in (("OWNER", "project_owner"), ("ENT1", "enterprise")):
        assert run("registry", "accounts", "add", code, "--name", code, "--kind", kind)[0] == 0
    code, issued = run(
        "registry", "issue", "--methodology", "AR-CQCM-001", "--project", "P001",
        "--project-name", "青山碳汇造林", "--vintage", "2023", "--quantity", "1000",
        "--to", "OWNER", "--verification", "核查报告", "--key", "iss-1",
    )  # fmt: skip
    assert code == 0, issued
    return {"issuance": issued["issuance_id"], "block": issued["new_block_id"]}


def test_deposit_offer_buy_book_trades_stats_cancel_withdraw(listed: dict[str, int]) -> None:
    code, cash = run(
        "market", "deposit", "ENT1", "--yuan", "30000.50", "--note", "流水 1", "--key", "d1"
    )
    assert (code, cash["available_fen"]) == (0, 3_000_050)
    assert (
        run("market", "deposit", "ENT1", "--yuan", "30000.50", "--note", "流水 1", "--key", "d1")[
            1
        ]["available_fen"]
        == 3_000_050
    )  # the same key applies once
    issuance = str(listed["issuance"])
    code, offer = run(
        "market", "order", "OWNER", "--side", "sell", "--issuance", issuance,
        "--price", "24.08", "--quantity", "800", "--block", str(listed["block"]),
    )  # fmt: skip
    assert (code, offer["status"]) == (0, "open")
    code, bought = run(
        "market", "order", "ENT1", "--side", "buy", "--issuance", issuance,
        "--price", "25", "--quantity", "1000",
    )  # fmt: skip
    assert (code, bought["filled_t"], bought["status"]) == (0, 800, "open")
    code, depth = run("market", "book", issuance)
    assert depth["bids"] == [{"price_fen_per_t": 2500, "quantity_t": 200, "orders": 1}]
    code, history = run("market", "trades", "--account", "ENT1")
    assert [(t["seller"], t["quantity_t"], t["price_fen_per_t"]) for t in history["trades"]] == [
        ("OWNER", 800, 2408)
    ]
    code, stats = run("market", "stats", issuance)
    assert stats["days"][0]["turnover_fen"] == 800 * 2408
    assert run("market", "cancel", str(bought["id"]))[1]["status"] == "cancelled"
    code, cash = run("market", "cash", "ENT1")
    assert (cash["available_fen"], cash["reserved_fen"]) == (3_000_050 - 800 * 2408, 0)
    code, refused = run("market", "withdraw", "ENT1", "--yuan", "20000", "--note", "x")
    assert code == 2 and "cannot take" in refused["error"]
    code, refused = run("market", "deposit", "ENT1", "--yuan", "1.001", "--note", "x")
    assert code == 2 and "two decimals" in refused["error"]
    assert run("registry", "verify")[1] == {"ok": True, "problems": []}
