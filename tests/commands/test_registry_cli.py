"""``qingshan registry …`` end to end on both backends: actions import (exit 2 on bad cells),
issue, trade, retire, surrender, statement, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qingshan.cli import app

runner = CliRunner()

ACTIONS = """account,methodology,quantity,time,key,evidence
RES1,CQ-BUS,1,2024-03-01 08:10,a1,卡号 0001
RES1,CQ-BUS,9,2024-03-01 18:00,a2,
RES1,CQ-BUS,1,2024-03-01 19:00,a3,
RES1,CQ-EBIKE,2.5,2024-03-01 20:00,a4,订单 77
"""


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["registry", *args, "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


@pytest.fixture
def configured(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    for code, kind in (("RES1", "individual"), ("OWNER", "project_owner"), ("ENT1", "enterprise")):
        assert run("accounts", "add", code, "--name", code, "--kind", kind)[0] == 0
    return tmp_path


def test_actions_import_accepts_rejects_over_cap_and_skips_duplicates(configured: Path) -> None:
    path = configured / "actions.csv"
    path.write_text(ACTIONS, encoding="utf-8")
    code, report = run("actions", "import", str(path), "-o", str(configured / "out.csv"))
    assert (code, report["accepted"], report["rejected"]) == (0, 3, 1)  # a3: 11th ride that day
    out = (configured / "out.csv").read_text(encoding="utf-8-sig")
    assert "daily cap of 10 trip" in out
    code, again = run("actions", "import", str(path))
    assert (code, again["duplicate"]) == (0, 4)
    code, listed = run("accounts", "list")
    balance = {row["code"]: row["points"] for row in listed["accounts"]}
    assert balance["RES1"] == pytest.approx(10 * 1.1 + 0.99)
    code, refused = run(
        "issue-actions", "--methodology", "CQ-BUS", "--from", "2024-03-01",
        "--until", "2024-03-31", "--project", "BUS2403",
    )  # fmt: skip
    assert code == 2
    assert "1.200 kg of unissued reductions" in refused["error"]


def test_bad_action_cells_exit_2_and_record_nothing(configured: Path) -> None:
    path = configured / "bad.csv"
    path.write_text(ACTIONS + "NOBODY,CQ-BUS,lots,2024-03-01 21:00,a5,\n", encoding="utf-8")
    code, report = run("actions", "import", str(path))
    assert code == 2
    cells = {(problem["row"], problem["column"]) for problem in report["problems"]}
    assert cells == {(6, "account"), (6, "quantity")}
    accounts = run("accounts", "list")[1]["accounts"]
    assert {row["code"]: row["points"] for row in accounts}["RES1"] == 0


def test_issue_trade_retire_surrender_statement_verify(configured: Path) -> None:
    code, issued = run(
        "issue", "--methodology", "AR-CQCM-001", "--project", "P001", "--project-name", "碳汇造林",
        "--vintage", "2023", "--quantity", "1000", "--to", "OWNER", "--verification", "报告",
        "--key", "iss-1",
    )  # fmt: skip
    assert code == 0
    assert issued["serial"] == "QS-AR-CQCM-001-2023-P001-1-1000"
    code, traded = run(
        "transfer", "--block", str(issued["new_block_id"]), "--quantity", "600",
        "--from", "OWNER", "--to", "ENT1", "--price", "30",
    )  # fmt: skip
    assert (code, traded["kind"]) == (0, "trade")
    assert traded["serial"] == "QS-AR-CQCM-001-2023-P001-401-1000"
    bought = str(traded["new_block_id"])
    code, retired = run(
        "retire", "--block", bought, "--quantity", "100", "--from", "ENT1",
        "--purpose", "碳中和", "--beneficiary", "青山区政府 2026 年会",
    )  # fmt: skip
    assert code == 0
    code, obligation = run("obligation", "ENT1", "--year", "2025", "--emissions", "9000")
    assert obligation["offset_cap_t"] == 450
    code, refused = run(
        "surrender", "--block", bought, "--quantity", "451", "--from", "ENT1",
        "--obligation", str(obligation["id"]),
    )  # fmt: skip
    assert code == 2
    assert "offset cap" in refused["error"]
    code, _ = run(
        "surrender", "--block", bought, "--quantity", "450", "--from", "ENT1",
        "--obligation", str(obligation["id"]),
    )  # fmt: skip
    assert code == 0
    code, statement = run("statement", "ENT1")
    assert [h["quantity_t"] for h in statement["holdings"] if h["status"] == "held"] == [50]
    code, found = run("serial", retired["serial"])
    assert found["blocks"][0]["certificate"].startswith("QS-RET-")
    assert run("verify") == (0, {"ok": True, "problems": []})
