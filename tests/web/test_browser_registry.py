"""Retiring credits in a real browser, then checking the certificate as the public; finding a
compliance surrender's certificate from the enterprise's account page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from browser import LiveSite, open_page, sign_in, world_site
from web_world import PASSWORD, credits_for_firm, surrender_for_firm


def credits_and_a_surrender(engine: Engine) -> None:
    """E-FIRM holds 100 t (:func:`credits_for_firm`) and surrenders 30 t against verified
    emissions of 2,000 t for 2025 under CN-ETS (offset cap 100 t)."""
    surrender_for_firm(engine, credits_for_firm(engine)["block_id"], 30, 2_000)


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    yield from world_site(tmp_path_factory.mktemp("registry"), credits_and_a_surrender)


@pytest.fixture
def page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    yield from open_page(browser, live_site)


def test_an_enterprise_retires_credits_and_gets_a_verified_certificate(page: Any) -> None:
    sign_in(page, "firm", PASSWORD)
    page.get_by_role("link", name="碳普惠", exact=True).click()
    page.get_by_role("link", name="E-FIRM").click()
    form = page.locator("form.retire-form").first
    form.get_by_label("吨数").fill("25")
    form.get_by_label("用途").select_option("碳中和")
    form.get_by_label("受益方").fill("示范区环保志愿者大会")
    form.get_by_role("button", name="注销").click()
    page.wait_for_url("**/registry/certificates/**")
    assert page.get_by_role("status").inner_text().startswith("核验通过")
    certificate = page.url
    page.get_by_role("button", name="退出").click()
    page.goto(certificate)
    assert "示范区环保志愿者大会" in page.content()
    page.get_by_role("link", name="QS-", exact=False).first.click()
    assert page.get_by_role("cell", name="已注销").count() == 1


def test_an_enterprise_finds_its_compliance_certificate_on_its_account_page(page: Any) -> None:
    sign_in(page, "firm", PASSWORD)
    page.goto("/registry/accounts/E-FIRM")
    obligations = page.locator("table", has=page.get_by_role("columnheader", name="履约年度"))
    obligations.get_by_role("link", name="QS-RET-", exact=False).click()
    page.wait_for_url("**/registry/certificates/QS-RET-*")
    assert page.get_by_role("heading", level=1).inner_text().startswith("碳减排量履约抵销注销证明")
    assert page.get_by_role("status").inner_text().startswith("核验通过")
    for label, value in (("履约机制", "CN-ETS"), ("履约年度", "2025"),
                         ("核查排放量（吨二氧化碳当量）", "2000"),
                         ("抵销上限（吨二氧化碳当量）", "100")):  # fmt: skip
        row = page.get_by_role("row", name=label)
        assert row.get_by_role("cell").inner_text() == value
    certificate = page.url
    page.get_by_role("button", name="退出").click()
    page.goto(certificate)  # as the public
    page.get_by_role("link", name="/verify/", exact=False).click()
    page.wait_for_url("**/verify/*")
    assert page.get_by_role("status").inner_text().startswith("核验通过")
    assert page.get_by_role("row", name="抵销上限（吨二氧化碳当量）").count() == 1
