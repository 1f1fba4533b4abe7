"""Retiring credits in a real browser, then checking the certificate as the public."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from browser import LiveSite, open_page, sign_in, world_site
from web_world import PASSWORD, credits_for_firm


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    yield from world_site(tmp_path_factory.mktemp("registry"), credits_for_firm)


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
