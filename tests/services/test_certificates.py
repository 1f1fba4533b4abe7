"""Retirement certificates: the record names its issuance, the hash is the SHA-256 of the
canonical JSON and changes with any sealed field, and verification fails on tampering."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import text

from qingshan.services import certificates
from qingshan.store import ledger
from qingshan.store.engine import reading, writing
from qingshan.store.ledger import NotFound
from registry_world import retire_some, surrender_some

SEALED = {
    "certificate": "QS-RET-00000001",
    "serial": "QS-AR-CQCM-001-2023-P001-61-100",
    "quantity_t": 40,
    "purpose": "碳中和",
    "beneficiary": "2026 青山马拉松",
    "note": "赛事碳中和",
    "account": "OWNER",
    "at": "2026-10-01T08:00:00+00:00",
}


def test_record_names_the_issuance_and_its_hash_is_the_canonical_sha256(engine) -> None:
    retirement_id = retire_some(engine)
    with reading(engine) as session:
        found = certificates.certificate_for(session, retirement_id)
        assert certificates.certificate_for(session, found.number) == found
        assert certificates.certificate_for(session, found.code) == found
    record = found.record()
    canonical = json.dumps(record["content"], ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))  # fmt: skip
    assert record["sha256"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert record["valid"] is True
    assert record["code"] == record["sha256"][: certificates.CODE_LENGTH]
    assert record["verify_path"] == f"/verify/{record['code']}"
    assert record["content"]["serial"] == "QS-AR-CQCM-001-2023-P001-61-100"
    issuance = record["issuance"]
    assert (issuance["methodology"], issuance["vintage"], issuance["project"]) == (
        "AR-CQCM-001", 2023, "P001")  # fmt: skip
    assert issuance["ranges"] == [{"first": 61, "last": 100}]


def test_hash_is_stable_whatever_the_key_order() -> None:
    reordered = dict(reversed(list(SEALED.items())))
    assert ledger.certificate_hash(reordered) == ledger.certificate_hash(dict(SEALED))


@given(
    field=st.sampled_from([key for key, _ in certificates.FIELDS]),
    value=st.one_of(st.text(max_size=30), st.integers()),
)
def test_hash_changes_when_any_sealed_field_changes(field: str, value: object) -> None:
    changed = {**SEALED, field: value}
    if changed[field] == SEALED[field]:
        return
    assert ledger.certificate_hash(changed) != ledger.certificate_hash(SEALED)


def test_verification_fails_when_the_record_is_altered(engine) -> None:
    retirement_id = retire_some(engine)
    with reading(engine) as session:
        code = certificates.certificate_for(session, retirement_id).code
        assert certificates.verify_certificate(session, code)["valid"] is True
        given_hash = certificates.certificate_for(session, retirement_id).sha256
        wrong = certificates.verify_certificate(session, code, sha256="0" * 64)
        assert (wrong["found"], wrong["valid"]) == (True, False)
        assert certificates.verify_certificate(session, code, sha256=given_hash)["valid"]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE registry_retirements SET beneficiary = '别人' WHERE id = :id"),
            {"id": retirement_id},
        )
    with reading(engine) as session:
        tampered = certificates.verify_certificate(session, code)
        assert (tampered["found"], tampered["valid"]) == (True, False)
        assert "no longer matches" in tampered["reason"]
    with engine.begin() as connection:  # re-sealing changes the hash, so the old code is gone
        connection.execute(
            text("UPDATE registry_retirements SET certificate_sha256 = :h WHERE id = :id"),
            {"h": "f" * 64, "id": retirement_id},
        )
    with reading(engine) as session:
        assert certificates.verify_certificate(session, code)["found"] is False


def test_unknown_codes_and_cancellations_have_no_certificate(engine) -> None:
    with writing(engine, "test") as session:
        owner = ledger.open_account(session, "OWNER", "青山林场", "project_owner").id
        issued = ledger.issue(
            session, "i1", methodology_code="AR-CQCM-001", project_code="P001",
            project_name="青山碳汇造林", vintage=2023, quantity=10, to_account_id=owner,
            verification="v",
        )  # fmt: skip
        cancelled = ledger.cancel(
            session, "c1", block_id=issued.new_block_id, quantity=3, reason="重复签发"
        )
        cancellation_id = int(cancelled.details["retirement_id"])
    with reading(engine) as session:
        for unknown in (cancellation_id, "QS-RET-99999999", "0" * certificates.CODE_LENGTH):
            with pytest.raises(NotFound):
                certificates.certificate_for(session, unknown)
        assert certificates.verify_certificate(session, "not-a-code")["valid"] is False


def test_pdf_states_the_fields_hash_link_and_carries_a_qr_code(engine) -> None:
    retirement_id = retire_some(engine)
    with reading(engine) as session:
        found = certificates.certificate_for(session, retirement_id)
    document = PdfReader(io.BytesIO(certificates.certificate_pdf(found, "https://qs.example/")))
    text_ = "".join(page.extract_text() for page in document.pages)
    for expected in (
        "碳减排量注销证明",
        found.number,
        "2026 青山马拉松",
        found.sha256,
        f"https://qs.example/verify/{found.code}",
        "AR-CQCM-001",
        "P001",
    ):
        assert expected in text_
    assert len(document.pages[0].images) == 1  # the QR code of the link


def test_html_page_has_the_same_content_escaped(engine) -> None:
    retirement_id = retire_some(engine, beneficiary="<script>alert(1)</script>")
    with reading(engine) as session:
        found = certificates.certificate_for(session, retirement_id)
    page = certificates.certificate_html(found, "https://qs.example")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert found.sha256 in page and f"https://qs.example/verify/{found.code}" in page
    assert "data:image/png;base64," in page  # the QR code, inline


def test_a_surrender_s_certificate_states_the_obligation_in_both_languages(engine) -> None:
    retirement_id = surrender_some(engine)
    with reading(engine) as session:
        found = certificates.certificate_for(session, retirement_id)
        assert certificates.verify_certificate(session, found.code)["valid"] is True
    assert found.compliance and found.fields == certificates.FIELDS + certificates.OBLIGATION_FIELDS
    sealed = found.content
    assert (sealed["purpose"], sealed["scheme"], sealed["compliance_year"]) == (
        "履约抵销", "CN-ETS", 2025)  # fmt: skip
    assert (sealed["verified_emissions_t"], sealed["offset_cap_t"]) == (9_000, 450)
    page = certificates.certificate_html(found, "https://qs.example")
    document = PdfReader(io.BytesIO(certificates.certificate_pdf(found, "https://qs.example")))
    text_ = "".join(page.extract_text() for page in document.pages)
    for rendered in (page, text_):
        for expected in (
            "履约抵销注销证明",
            "履约机制 Compliance scheme",
            "CN-ETS",
            "履约年度 Compliance year",
            "核查排放量 Verified emissions (tCO2e)",
            "9000",
            "抵销上限 Offset cap (tCO2e)",
            "450",
            "前 12 项",
            found.sha256,
        ):
            assert expected in rendered, expected


def test_a_neutrality_certificate_states_no_obligation(engine) -> None:
    with reading(engine) as session:
        found = certificates.certificate_for(session, retire_some(engine))
    assert not found.compliance and found.fields == certificates.FIELDS
    assert "Compliance scheme" not in certificates.certificate_html(found, "https://qs.example")
