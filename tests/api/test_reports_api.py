"""``/api/v1/reports`` (the monthly bulletin as PDF and XLSX), the retirement certificate under
``/api/v1/registry`` and the public verification under ``/api/v1/public``: roles, formats and
verification, on both store backends."""

from __future__ import annotations

import io

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import text

from registry_world import retire_some

API = "/api/v1"


def test_bulletin_downloads_as_pdf_and_xlsx_for_bureau_roles(client, token_for) -> None:
    analyst, officer = token_for("analyst"), token_for("grid_officer")
    pdf = client.get(f"{API}/reports/bulletin", params={"month": "2026-10"}, headers=analyst)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert 'filename="bulletin_2026-10.pdf"' in pdf.headers["content-disposition"]
    text_ = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "环境质量月报 2026年10月" in text_ and "GB 3095" in text_
    xlsx = client.get(
        f"{API}/reports/bulletin", params={"month": "2026-10", "format": "xlsx"}, headers=officer
    )
    assert xlsx.status_code == 200
    sheets = openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames
    assert sheets == ["概况 Summary", "空气 Air", "地表水 Water", "噪声 Noise", "依据 Notes"]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"month": "2026-13"}, 422), ({"month": "2026-10", "format": "docx"}, 422), ({}, 422)],
)
def test_bad_bulletin_requests_are_422(client, token_for, params, status) -> None:
    answer = client.get(f"{API}/reports/bulletin", params=params, headers=token_for("analyst"))
    assert answer.status_code == status


def test_bulletin_roles(client, token_for) -> None:
    month = {"month": "2026-10"}
    assert client.get(f"{API}/reports/bulletin", params=month).status_code == 401
    for role in ("enterprise", "device"):
        answer = client.get(f"{API}/reports/bulletin", params=month, headers=token_for(role))
        assert answer.status_code == 403


def test_unknown_gep_run_report_is_404(client, token_for, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    answer = client.get(
        f"{API}/reports/gep/20261125T000000Z-00000000", headers=token_for("analyst")
    )
    assert answer.status_code == 404


def test_retirement_certificate_json_and_pdf(client, token_for, engine) -> None:
    retirement_id = retire_some(engine)
    analyst = token_for("analyst")
    url = f"{API}/registry/retirements/{retirement_id}/certificate"
    record = client.get(url, params={"format": "json"}, headers=token_for("enterprise")).json()
    assert record["valid"] is True and record["issuance"]["project"] == "P001"
    pdf = client.get(url, headers=analyst)
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    text_ = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert record["sha256"] in text_ and f"http://testserver/verify/{record['code']}" in text_
    page = client.get(url, params={"format": "html"}, headers=analyst)
    assert page.headers["content-type"].startswith("text/html") and record["sha256"] in page.text
    assert client.get(url, headers=token_for("device")).status_code == 403
    assert client.get(url).status_code == 401
    missing = f"{API}/registry/retirements/999/certificate"
    assert client.get(missing, headers=analyst).status_code == 404


def test_public_verification_needs_no_token_and_sees_tampering(client, token_for, engine) -> None:
    retirement_id = retire_some(engine)
    url = f"{API}/registry/retirements/{retirement_id}/certificate"
    record = client.get(url, params={"format": "json"}, headers=token_for("analyst")).json()
    public = f"{API}/public/certificates/{record['code']}"
    verified = client.get(public).json()
    assert (verified["valid"], verified["sha256"]) == (True, record["sha256"])
    assert client.get(public, params={"sha256": "0" * 64}).json()["valid"] is False
    assert client.get(f"{API}/public/certificates/{'0' * 20}").status_code == 404
    with engine.begin() as connection:
        connection.execute(text("UPDATE registry_retirements SET quantity = 41"))
    assert client.get(public).json()["valid"] is False
