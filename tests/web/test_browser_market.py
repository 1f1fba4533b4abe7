"""The market in a real browser: one enterprise offers credits, another buys them, the trade
shows on the instrument's public page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from browser import LiveSite, open_page, sign_in, world_site
from web_world import PASSWORD, market_for_firms


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    yield from world_site(tmp_path_factory.mktemp("market"), market_for_firms)


@pytest.fixture
def page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    yield from open_page(browser, live_site)


def place_order(page: Any, account: str, side: str, tonnes: str, price: str) -> None:
    page.get_by_role("link", name="碳普惠", exact=True).click()
    page.get_by_role("link", name=account).click()
    form = page.locator("form.order-form")
    form.get_by_label("方向").select_option(label=side)
    form.get_by_label("吨数（整吨二氧化碳当量）").fill(tonnes)
    form.get_by_label("限价（元/吨）").fill(price)
    form.get_by_role("button", name="提交委托").click()
    page.wait_for_url("**#market")


def test_an_enterprise_buys_the_credits_another_offers(page: Any) -> None:
    sign_in(page, "firm", PASSWORD)
    place_order(page, "E-FIRM", "卖出", "30", "24.50")
    assert "未成交 30 吨" in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="退出").click()

    sign_in(page, "rival", PASSWORD)
    place_order(page, "E-RIVAL", "买入", "30", "25")
    outcome = page.get_by_role("status").inner_text()
    assert "已成交 30 吨" in outcome and "24.50 元/吨" in outcome
    assert page.locator('[data-cash="available"]').inner_text() == "765.00"  # 1,500 − 735

    page.get_by_role("link", name="行情表").click()
    assert page.get_by_role("cell", name="24.50").count() == 1  # the last price
    page.get_by_role("link", name="QS-", exact=False).first.click()
    trades = page.locator("table.trades tbody tr")
    assert trades.count() == 1
    assert trades.first.locator("td").nth(1).inner_text() == "24.50"
    assert trades.first.locator("td").nth(2).inner_text() == "30"
    assert page.locator("[data-chart=market-depth] canvas").count() == 1
