"""``qingshan reports bulletin`` and ``qingshan registry certificate`` on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.store.engine import create_store_engine
from registry_world import retire_some

runner = CliRunner()


@pytest.fixture
def configured(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return tmp_path


def test_bulletin_as_pdf_and_xlsx(configured: Path) -> None:
    pdf, xlsx = configured / "bulletin.pdf", configured / "bulletin.xlsx"
    result = runner.invoke(app, ["reports", "bulletin", "--month", "2026-10", "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    assert "地表水" in result.stdout
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "环境质量月报 2026年10月" in text
    result = runner.invoke(
        app, ["reports", "bulletin", "--month", "2026-10", "-o", str(xlsx), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["month"] == "2026-10" and summary["air_good_day_ratio"] is None
    assert "空气 Air" in openpyxl.load_workbook(xlsx).sheetnames


@pytest.mark.parametrize(
    ("month", "name"), [("2026-13", "b.pdf"), ("2026-10", "b.docx"), ("October", "b.pdf")]
)
def test_bad_month_or_format_exits_2_and_writes_nothing(configured: Path, month, name) -> None:
    output = configured / name
    result = runner.invoke(app, ["reports", "bulletin", "--month", month, "-o", str(output)])
    assert result.exit_code == 2 and not output.exists()


def test_certificate_pdf_by_retirement_id(configured: Path, database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        retirement_id = retire_some(engine)
    finally:
        engine.dispose()
    output = configured / "cert.pdf"
    result = runner.invoke(
        app,
        ["registry", "certificate", str(retirement_id), "-o", str(output),
         "--base-url", "https://qs.example", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    text = "".join(page.extract_text() for page in PdfReader(output).pages)
    assert record["sha256"] in text and f"https://qs.example/verify/{record['code']}" in text
    missing = runner.invoke(app, ["registry", "certificate", "999", "-o", str(output)])
    assert missing.exit_code == 2
