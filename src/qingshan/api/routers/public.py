"""Public endpoints under ``/api/v1/public`` — no token: what anyone holding a certificate may
check (docs/reports.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from qingshan.api.deps import ReadSession
from qingshan.services import certificates

router = APIRouter(prefix="/public", tags=["public 公开核验"])


@router.get("/certificates/{code}")
def verify_certificate(
    code: str,
    session: ReadSession,
    sha256: Annotated[str | None, Query(description="The hash printed on the certificate")] = None,
) -> dict[str, Any]:
    """Verify a retirement certificate by its verification code: ``valid`` is true when the
    registry's record still hashes to the sealed SHA-256 (and equals ``sha256`` when given);
    404 when no certificate has this code."""
    found = certificates.verify_certificate(session, code, sha256)
    if not found["found"]:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no certificate with code {code!r}")
    return found
