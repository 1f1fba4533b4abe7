"""Registry pages: public serial and certificate lookups, owners' statements, retirement."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from qingshan.services import registry
from qingshan.store.engine import writing
from qingshan.store.identity import add_user
from web_world import PASSWORD, credits_for_firm, surrender_for_firm


@pytest.fixture
def firm_block(engine: Engine) -> dict[str, Any]:
    """A 100 t block in the account of enterprise user ``firm``; ``rival`` is another firm."""
    with writing(engine, "test") as session:
        add_user(session, "firm", "enterprise", password=PASSWORD)
        add_user(session, "rival", "enterprise", password=PASSWORD)
    return credits_for_firm(engine)


def client_of(engine_site: TestClient, username: str) -> TestClient:
    response = engine_site.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return engine_site


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def test_an_owner_retires_and_the_public_verifies_the_certificate(
    firm_block: dict[str, Any], site: TestClient
) -> None:
    firm = client_of(site, "firm")
    statement = firm.get("/registry/accounts/E-FIRM")
    assert statement.status_code == 200 and firm_block["serial"] in statement.text
    key = re.search(r'name="key" value="([^"]+)"', statement.text)
    assert key is not None
    form = {
        "csrf": csrf_of(statement.text),
        "key": key.group(1),
        "block_id": firm_block["block_id"],
        "quantity": 30,
        "purpose": "碳中和",
        "beneficiary": "2026 示范区马拉松",
        "note": "",
    }
    certificate = firm.post("/registry/accounts/E-FIRM/retire", data=form)
    assert certificate.status_code == 200
    assert "核验通过" in certificate.text and "2026 示范区马拉松" in certificate.text
    again = firm.post("/registry/accounts/E-FIRM/retire", data=form)  # a resubmitted form
    assert again.url == certificate.url
    supply = registry.supply(firm.app.state.engine)[0]
    assert (supply["retired"], supply["held"]) == (30, 70)

    firm.post("/logout", data={"csrf": csrf_of(firm.get("/").text)})
    public = firm.get(str(certificate.url.path))
    assert public.status_code == 200 and "核验通过" in public.text
    verify_link = re.search(r'href="(/verify/[0-9a-f]+)"', public.text)
    assert verify_link is not None and "核验通过" in firm.get(verify_link.group(1)).text
    pdf = firm.get(f"{certificate.url.path}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    lookup = firm.get("/registry/serial", params={"serial": firm_block["serial"]})
    assert lookup.text.count("<code>QS-") == 2  # the retired part and the held rest
    assert "已注销" in lookup.text and "持有" in lookup.text


def test_an_enterprise_s_surrender_certificate_states_the_obligation_and_verifies(
    firm_block: dict[str, Any], site: TestClient, engine: Engine
) -> None:
    surrendered = surrender_for_firm(engine, firm_block["block_id"], 60, 1_200)
    number = surrendered["certificate"]
    firm = client_of(site, "firm")
    account = firm.get("/registry/accounts/E-FIRM").text
    assert "履约义务" in account and "CN-ETS" in account
    assert account.count(f'href="/registry/certificates/{number}"') == 2  # obligation, timeline
    firm.post("/logout", data={"csrf": csrf_of(account)})
    for path in (f"/registry/certificates/{number}", surrendered["verify_path"]):
        page = site.get(path)
        assert page.status_code == 200 and "核验通过" in page.text
        assert "履约抵销注销证明" in page.text
        for label, value in (("履约机制", "CN-ETS"), ("履约年度", "2025"),
                             ("核查排放量（吨二氧化碳当量）", "1200"),
                             ("抵销上限（吨二氧化碳当量）", "60")):  # fmt: skip
            assert re.search(rf"<th scope=\"row\">{label}</th><td>{value}</td>", page.text), label
    english = site.get(f"/registry/certificates/{number}?lang=en")
    assert "Offset cap (t CO2e)" in english.text and "Compliance year" in english.text


def test_retiring_more_than_held_is_refused_with_the_reason(
    firm_block: dict[str, Any], site: TestClient
) -> None:
    firm = client_of(site, "firm")
    statement = firm.get("/registry/accounts/E-FIRM").text
    refused = firm.post(
        "/registry/accounts/E-FIRM/retire",
        data={
            "csrf": csrf_of(statement),
            "key": "k1",
            "block_id": firm_block["block_id"],
            "quantity": 101,
            "purpose": "碳中和",
            "beneficiary": "x",
        },
    )
    assert refused.status_code == 200 and 'role="alert"' in refused.text
    assert registry.supply(firm.app.state.engine)[0]["held"] == 100


def test_only_owners_and_the_platform_see_an_account(
    firm_block: dict[str, Any], site: TestClient, signed_in: Callable[[str], TestClient]
) -> None:
    assert client_of(site, "rival").get("/registry/accounts/E-FIRM").status_code == 403
    analyst = signed_in("analyst")
    assert analyst.get("/registry/accounts/E-FIRM").status_code == 200
    home = analyst.get("/registry").text
    assert "E-FIRM" in home and "<td>企业</td>" in home  # the account kind in the page's language


def test_a_malformed_serial_is_explained(site: TestClient) -> None:
    page = site.get("/registry/serial", params={"serial": "not-a-serial"})
    assert page.status_code == 200 and 'role="alert"' in page.text
    assert site.get("/registry/certificates/NO-SUCH").status_code == 404
