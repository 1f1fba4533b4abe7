"""``qingshan registry …`` end to end on both backends: actions import (exit 2 on bad cells),
issue, trade, retire, surrender, statement, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.store import create_store_engine
from qingshan.store.ledger import SYSTEM_ACCOUNTS

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
    code, surrendered = run(
        "surrender", "--block", bought, "--quantity", "450", "--from", "ENT1",
        "--obligation", str(obligation["id"]),
    )  # fmt: skip
    assert code == 0
    assert surrendered["certificate"].startswith("QS-RET-")
    assert surrendered["certificate"] != retired["certificate"]
    assert surrendered["verify_path"].startswith("/verify/")
    pdf = configured / "surrender.pdf"
    code, certificate = run("certificate", surrendered["certificate"], "-o", str(pdf))
    assert (code, certificate["valid"]) == (0, True) and pdf.read_bytes().startswith(b"%PDF")
    assert certificate["verify_path"] == surrendered["verify_path"]
    sealed = certificate["content"]
    assert (sealed["purpose"], sealed["scheme"], sealed["compliance_year"]) == (
        "履约抵销", "CN-ETS", 2025)  # fmt: skip
    assert (sealed["verified_emissions_t"], sealed["offset_cap_t"]) == (9000, 450)
    human = runner.invoke(app, [
        "registry", "retire", "--block", bought, "--quantity", "1", "--from", "ENT1",
        "--purpose", "自愿注销", "--beneficiary", "ENT1",
    ])  # fmt: skip
    assert human.exit_code == 0 and " → QS-RET-" in human.stdout and "/verify/" in human.stdout
    code, statement = run("statement", "ENT1")
    assert [h["quantity_t"] for h in statement["holdings"] if h["status"] == "held"] == [49]
    code, found = run("serial", retired["serial"])
    assert found["blocks"][0]["certificate"].startswith("QS-RET-")
    assert run("verify") == (0, {"ok": True, "problems": []})


def issue_and_trade(configured: Path) -> None:
    code, issued = run(
        "issue", "--methodology", "AR-CQCM-001", "--project", "P001", "--project-name", "碳汇造林",
        "--vintage", "2023", "--quantity", "1000", "--to", "OWNER", "--verification", "报告",
        "--key", "iss-1",
    )  # fmt: skip
    assert code == 0
    code, _ = run(
        "transfer", "--block", str(issued["new_block_id"]), "--quantity", "600",
        "--from", "OWNER", "--to", "ENT1", "--key", "t-1",
    )  # fmt: skip
    assert code == 0


def test_export_writes_the_ledger_as_a_workbook(configured: Path) -> None:
    issue_and_trade(configured)
    path = configured / "ledger.xlsx"
    code, report = run("export", "-o", str(path))
    assert code == 0
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert workbook.sheetnames == [
        "accounts", "methodologies", "issuances", "blocks", "retirements", "journal",
    ]  # fmt: skip
    sheets = {
        name: [row for row in workbook[name].iter_rows(values_only=True)]
        for name in workbook.sheetnames
    }
    blocks = [dict(zip(sheets["blocks"][0], row, strict=True)) for row in sheets["blocks"][1:]]
    assert [(b["serial"], b["account"], b["quantity_t"]) for b in blocks] == [
        ("QS-AR-CQCM-001-2023-P001-1-400", "OWNER", 400),
        ("QS-AR-CQCM-001-2023-P001-401-1000", "ENT1", 600),
    ]
    journal = [dict(zip(sheets["journal"][0], row, strict=True)) for row in sheets["journal"][1:]]
    assert [(line["seq"], line["operation_key"], line["account"], line["book"], line["quantity"])
            for line in journal] == [
        (1, "iss-1", None, "issuance", -1000),
        (1, "iss-1", "OWNER", None, 1000),
        (2, "t-1", "OWNER", None, -600),
        (2, "t-1", "ENT1", None, 600),
    ]  # fmt: skip
    assert report["rows"]["journal"] == 4
    accounts = len(SYSTEM_ACCOUNTS) + 3  # the system accounts and the three opened
    assert len(sheets["accounts"]) - 1 == report["rows"]["accounts"] == accounts


def test_verify_exits_1_and_names_the_changed_journal_entry(
    configured: Path, database_url: str
) -> None:
    issue_and_trade(configured)
    engine = create_store_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER registry_journal_lines_no_update"))
        else:
            connection.execute(
                text("DROP TRIGGER registry_journal_lines_no_change ON registry_journal_lines")
            )
        connection.execute(
            text("UPDATE registry_journal_lines SET quantity = 500 WHERE quantity = 600")
        )
    engine.dispose()
    code, report = run("verify")
    assert code == 1
    assert any("(seq 2): hash mismatch" in problem for problem in report["problems"])
    assert any("lines sum to -100, not 0" in problem for problem in report["problems"])
