"""Retirement certificates (碳减排量注销证明): the canonical record, verification and the PDF.

When credits are retired (碳中和 / 自愿注销) or surrendered (履约抵销), the ledger seals the
retirement: it numbers the certificate (``QS-RET-<id>``) and stores the SHA-256 of its content
as canonical JSON (:func:`qingshan.store.ledger.certificate_content` and
:func:`~qingshan.store.ledger.certificate_hash`: sorted keys, no spaces, UTF-8). The content
names the serial range, which spells out the methodology, vintage and project
(``QS-<methodology>-<vintage>-<project>-<first>-<last>``), so the seal covers them too. A
surrender's content also states the obligation it meets (:data:`OBLIGATION_FIELDS`: scheme,
compliance year, verified emissions, offset cap), so its certificate proves compliance use.

This module adds

* the **verification code**: the first :data:`CODE_LENGTH` hex digits of the sealed hash
  (80 bits, so codes cannot be guessed or enumerated, unlike certificate numbers). The public
  verification path is ``/verify/<code>``. A code finds its certificate only while the stored
  hash is the sealed one, and the certificate is *valid* only while its content still hashes
  to it: changing any sealed field, or the stored hash, makes verification fail;
* the certificate **record** (sealed content, hash, code, and the issuance it came from) and
  its **PDF**, with the hash, the verification link and a QR code of the link (segno).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingshan.carbon import inclusion
from qingshan.services import pdf, report_html
from qingshan.services.report_document import (
    Heading,
    Image,
    Paragraph,
    ReportDocument,
    Table,
    bullets,
    display,
)
from qingshan.store import ledger
from qingshan.store.ledger import NotFound
from qingshan.store.models import CreditIssuance, Methodology, Retirement

CODE_LENGTH = 20
"""Hex digits of the sealed SHA-256 that make the verification code (80 bits)."""
VERIFY_PATH = "/verify/{code}"
"""Where the public verification page of a code lives (the web layer serves it)."""
_CODE = re.compile(rf"^[0-9a-f]{{{CODE_LENGTH}}}$")
_NUMBER = re.compile(r"^QS-RET-\d+$")

FIELDS = (
    ("certificate", "证书编号 Certificate No."),
    ("serial", "序列号 Serial range"),
    ("quantity_t", "数量 Quantity (tCO2e)"),
    ("purpose", "用途 Purpose"),
    ("beneficiary", "受益方 Beneficiary"),
    ("note", "备注 Note"),
    ("account", "注销账户 Retiring account"),
    ("at", "注销时间 Retired at (UTC)"),
)
"""The sealed fields in the order a certificate prints them."""
OBLIGATION_FIELDS = (
    ("scheme", "履约机制 Compliance scheme"),
    ("compliance_year", "履约年度 Compliance year"),
    ("verified_emissions_t", "核查排放量 Verified emissions (tCO2e)"),
    ("offset_cap_t", "抵销上限 Offset cap (tCO2e)"),
)
"""The sealed fields a surrender's certificate adds: the obligation it is used against."""


@dataclass(frozen=True)
class Certificate:
    """A sealed retirement and what can be said about it now."""

    retirement_id: int
    content: dict[str, Any]
    """The sealed fields as the registry holds them now (what the hash covers)."""
    sha256: str
    """The hash sealed at retirement."""
    issuance: dict[str, Any]
    """Methodology, vintage and project of the retired units (from the serial's issuance)."""

    @property
    def number(self) -> str:
        return str(self.content["certificate"])

    @property
    def code(self) -> str:
        return self.sha256[:CODE_LENGTH]

    @property
    def verify_path(self) -> str:
        return VERIFY_PATH.format(code=self.code)

    @property
    def compliance(self) -> bool:
        """Whether this certifies a surrender against a compliance obligation (履约抵销)."""
        return "compliance_year" in self.content

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        """The sealed fields this certificate prints, with their bilingual labels."""
        return FIELDS + OBLIGATION_FIELDS if self.compliance else FIELDS

    @property
    def valid(self) -> bool:
        """Whether the content still hashes to the sealed SHA-256."""
        return ledger.certificate_hash(self.content) == self.sha256

    def record(self) -> dict[str, Any]:
        """The certificate as JSON: sealed content, hash, code, verification path, issuance."""
        return {
            "retirement_id": self.retirement_id,
            "certificate": self.number,
            "content": self.content,
            "sha256": self.sha256,
            "hash_rule": "SHA-256 of the content as JSON, keys sorted, separators ',' ':', UTF-8",
            "code": self.code,
            "verify_path": self.verify_path,
            "valid": self.valid,
            "issuance": self.issuance,
        }


def _issuance(session: Session, serial: str) -> dict[str, Any]:
    prefix, first, last = inclusion.parse_serial(serial)
    found = session.execute(
        select(CreditIssuance, Methodology)
        .join(Methodology, Methodology.id == CreditIssuance.methodology_id)
        .where(CreditIssuance.serial_prefix == prefix)
    ).first()
    ranges = [{"first": first, "last": last}]
    if found is None:
        return {"serial_prefix": prefix, "ranges": ranges}
    issuance, methodology = found
    return {
        "serial_prefix": prefix,
        "ranges": ranges,
        "issuance_id": issuance.id,
        "methodology": methodology.code,
        "methodology_name": methodology.name,
        "vintage": issuance.vintage,
        "project": issuance.project_code,
        "project_name": issuance.project_name,
        "verification": issuance.verification,
    }


def _retirement(session: Session, code_or_id: str | int) -> Retirement | None:
    text = str(code_or_id).strip()
    if _CODE.match(text.lower()):  # before ids: a code may be all digits
        return session.scalar(
            select(Retirement).where(Retirement.certificate_sha256.startswith(text.lower()))
        )
    if text.isdigit():
        return session.get(Retirement, int(text))
    if _NUMBER.match(text):
        return session.scalar(select(Retirement).where(Retirement.certificate_number == text))
    return None


def certificate_for(session: Session, code_or_id: str | int) -> Certificate:
    """The certificate of a retirement, by retirement id, certificate number or verification
    code; :class:`~qingshan.store.ledger.NotFound` when there is none (cancellations have no
    certificate)."""
    retirement = _retirement(session, code_or_id)
    if retirement is None or retirement.certificate_sha256 is None:
        raise NotFound(f"no certificate {code_or_id!r}")
    return Certificate(
        retirement_id=retirement.id,
        content=ledger.certificate_content(session, retirement),
        sha256=retirement.certificate_sha256,
        issuance=_issuance(session, retirement.serial),
    )


def verify_certificate(session: Session, code: str, sha256: str | None = None) -> dict[str, Any]:
    """The public verification of a code: ``valid`` when a certificate has this code, its
    content still hashes to the sealed SHA-256 and (when given) ``sha256`` is that hash."""
    if not _CODE.match(code.strip().lower()):
        return {"code": code, "found": False, "valid": False, "reason": "not a verification code"}
    try:
        found = certificate_for(session, code)
    except NotFound:
        return {"code": code, "found": False, "valid": False, "reason": "no such certificate"}
    reasons = []
    if not found.valid:
        reasons.append("the registry's record no longer matches its sealed hash")
    if sha256 is not None and sha256.strip().lower() != found.sha256:
        reasons.append("the hash given is not the sealed hash")
    return {
        **found.record(),
        "found": True,
        "valid": not reasons,
        "reason": "; ".join(reasons) or None,
    }


def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as PNG (segno, error correction M)."""
    import segno

    buffer = BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


def certificate_document(found: Certificate, verify_url: str) -> ReportDocument:
    """What the certificate says (bilingual), with its hash, link and QR code."""
    issuance = found.issuance
    issued = [
        (
            "方法学 Methodology",
            f"{issuance.get('methodology', '—')} {issuance.get('methodology_name', '')}".strip(),
        ),
        ("年份 Vintage", display(issuance.get("vintage"))),
        ("项目 Project", f"{issuance.get('project', '—')} {issuance.get('project_name', '')}"),
    ]
    rows = [(label, display(found.content[key])) for key, label in found.fields] + issued
    title = "碳减排量注销证明 Retirement certificate"
    if found.compliance:
        title = "碳减排量履约抵销注销证明 Compliance retirement certificate"
    document = ReportDocument(
        title,
        meta=[f"{found.number} · 青山碳普惠登记簿 Qingshan carbon-inclusion registry"],
    )
    return document.add(
        Table(("项目 Field", "内容 Value"), tuple(rows)),
        Heading("核验 Verification"),
        Paragraph(f"SHA-256：{found.sha256}"),
        Paragraph(f"核验码 Code：{found.code}"),
        Paragraph(f"核验链接 Verify at：{verify_url}"),
        Image(qr_png(verify_url), width_mm=35),
        bullets(
            [
                f"哈希为证书内容（上表前 {len(found.fields)} 项）按键排序、无空格的 UTF-8 JSON "
                "的 SHA-256，注销时由登记簿封存；任何一项被改动，核验即失败。",
                f"The hash is the SHA-256 of the sealed fields (the first {len(found.fields)} "
                "rows) as canonical JSON (sorted keys, no spaces, UTF-8), sealed by the "
                "registry at retirement; changing any of them makes verification fail.",
                "状态 Status：" + ("有效 valid" if found.valid else "记录与封存哈希不符 NOT VALID"),
            ]
        ),
    )


def verify_url(found: Certificate, base_url: str) -> str:
    """The verification link: ``base_url`` (where the platform is reached) + the code's path."""
    return base_url.rstrip("/") + found.verify_path


def certificate_pdf(found: Certificate, base_url: str) -> bytes:
    """The certificate as PDF."""
    return pdf.render(certificate_document(found, verify_url(found, base_url)))


def certificate_html(found: Certificate, base_url: str) -> str:
    """The certificate as a standalone HTML page (the same content as the PDF)."""
    return report_html.render(certificate_document(found, verify_url(found, base_url)))
