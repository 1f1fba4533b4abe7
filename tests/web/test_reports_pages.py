"""The reports page: the monthly bulletin as PDF and XLSX, for analysts and grid officers."""

from __future__ import annotations

import io
from collections.abc import Callable

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from qingshan.web.pages.reports import last_month
from web_world import build_world


def test_the_bulletin_downloads_in_both_formats(
    engine: Engine, signed_in: Callable[[str], TestClient]
) -> None:
    build_world(engine)  # one station, section and point, no readings: all shown as missing
    officer = signed_in("grid_officer")
    page = officer.get("/reports")
    assert page.status_code == 200 and f'value="{last_month()}"' in page.text
    pdf = officer.get("/reports/bulletin", params={"month": "2026-10", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xlsx = officer.get("/reports/bulletin", params={"month": "2026-10", "format": "xlsx"})
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert len(workbook.sheetnames) >= 3
    cells = {cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row}
    assert "AIR-01 点位" in cells or "AIR-01" in cells


def test_a_bad_month_is_refused_and_the_public_is_sent_to_sign_in(
    site: TestClient, signed_in: Callable[[str], TestClient]
) -> None:
    assert signed_in("analyst").get("/reports/bulletin?month=2026-13").status_code == 422
    assert site.get("/reports", follow_redirects=False).status_code == 303
    assert signed_in("enterprise").get("/reports").status_code == 403
