"""Market pages: the quote board and an instrument's book for the public, an account's cash,
open orders and order form for its owner (docs/registry.md, Pages)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from qingshan.services import market
from qingshan.services.registry import Principal
from qingshan.store.engine import writing
from qingshan.store.identity import add_user
from web.pages_world import Visitor
from web_world import PASSWORD, market_for_firms

PLATFORM = Principal(actor="test", role="admin")
ORDER_KEY = re.compile(r'name="key" value="([0-9a-f]{32})"')


@pytest.fixture
def credits(engine: Engine) -> dict[str, Any]:
    """E-FIRM (user firm) holds 100 t of issuance 1; E-RIVAL (user rival) holds 1,500 yuan."""
    with writing(engine, "test") as session:
        add_user(session, "firm", "enterprise", password=PASSWORD)
    return market_for_firms(engine)


def order_form(visitor: Visitor, account: str, **fields: Any) -> dict[str, str]:
    """The account page's order form filled in, with the key the page issued."""
    key = ORDER_KEY.search(visitor.get(f"/registry/accounts/{account}").text)
    assert key is not None
    return {"key": key.group(1), **{name: str(value) for name, value in fields.items()}}


def place(visitor: Visitor, account: str, form: dict[str, str]) -> str:
    """POST the form; the page it redirects to (the account's market section)."""
    answer = visitor.post(f"/registry/accounts/{account}/orders", data=form)
    assert answer.status_code == 303 and answer.headers["location"].endswith("#market")
    return visitor.get(answer.headers["location"]).text


def cash_shown(page: str) -> tuple[str, str]:
    found = dict(re.findall(r'data-cash="(\w+)">([^<]+)<', page))
    return found["available"], found["reserved"]


def test_a_buy_order_fills_against_the_resting_sell_order(
    credits: dict[str, Any], engine: Engine, as_user: Callable[[str], Visitor]
) -> None:
    firm, rival = as_user("firm"), as_user("rival")
    issuance = credits["issuance_id"]
    sell = order_form(firm, "E-FIRM", side="sell", issuance_id=issuance, quantity=40)
    seller_page = place(firm, "E-FIRM", sell | {"price_yuan": "24.08"})
    assert 'role="status"' in seller_page and "24.08" in seller_page
    assert seller_page.count('<form method="post" action="/registry/accounts/E-FIRM/orders/') == 1

    buy = order_form(rival, "E-RIVAL", side="buy", issuance_id=issuance, quantity=50)
    buy["price_yuan"] = "25"
    buyer_page = place(rival, "E-RIVAL", buy)
    outcome = re.search(r'<div class="notice outcome" role="status">.*?</div>', buyer_page, re.S)
    assert outcome is not None  # filled 40 t at the resting price, 10 t rest on the book
    assert "已成交 40 吨，未成交 10 吨" in outcome.group(0)
    assert "<li>40 吨，成交价 24.08 元/吨</li>" in outcome.group(0)
    stored = market.cash(engine, PLATFORM, "E-RIVAL")
    assert stored == {"account": "E-RIVAL", "available_fen": 28_680, "reserved_fen": 25_000}
    assert cash_shown(buyer_page) == ("286.80", "250.00")  # 1,500 − 40 × 24.08 − 10 × 25
    assert cash_shown(firm.get("/registry/accounts/E-FIRM").text) == ("963.20", "0.00")

    again = place(rival, "E-RIVAL", buy)  # the same form sent a second time
    assert 'role="status"' in again
    assert len(market.orders(engine, PLATFORM, "E-RIVAL")) == 1
    assert cash_shown(again) == ("286.80", "250.00")

    book = rival.get(f"/registry/market/{issuance}").text
    levels = re.findall(
        r'<tr class="(bid|ask)">.*?<td class="num">([\d.,]+)</td><td class="num">(\d+)</td>', book
    )
    assert levels == [("bid", "25.00", "10")]
    trades = re.findall(r'<table class="trades">.*?</table>', book, re.S)[0]
    assert re.findall(r'<td class="num">([\d.,]+)</td><td class="num">(\d+)</td>', trades) == [
        ("24.08", "40")
    ]


def test_an_order_beyond_the_cash_balance_is_refused_with_the_reason(
    credits: dict[str, Any], engine: Engine, as_user: Callable[[str], Visitor]
) -> None:
    rival = as_user("rival")
    form = order_form(rival, "E-RIVAL", side="buy", issuance_id=credits["issuance_id"], quantity=61)
    page = place(rival, "E-RIVAL", form | {"price_yuan": "25.00"})  # 1,525 yuan > 1,500
    alert = re.search(r'role="alert">([^<]+)<', page)
    assert alert is not None and "1,500.00 yuan available" in alert.group(1)
    assert market.orders(engine, PLATFORM, "E-RIVAL") == []
    assert cash_shown(page) == ("1,500.00", "0.00")
    third_decimal = place(rival, "E-RIVAL", form | {"key": "other", "price_yuan": "24.081"})
    assert 'role="alert"' in third_decimal and "two decimals" in third_decimal


def test_cancelling_an_open_order_gives_the_reservation_back(
    credits: dict[str, Any], engine: Engine, as_user: Callable[[str], Visitor]
) -> None:
    rival, firm = as_user("rival"), as_user("firm")
    form = order_form(rival, "E-RIVAL", side="buy", issuance_id=credits["issuance_id"], quantity=10)
    place(rival, "E-RIVAL", form | {"price_yuan": "20"})
    (order,) = market.orders(engine, PLATFORM, "E-RIVAL", "open")
    cancel = f"/registry/accounts/E-RIVAL/orders/{order['id']}/cancel"
    assert cancel in rival.get("/registry/accounts/E-RIVAL").text
    assert firm.post(cancel).status_code == 403  # not the firm's order
    answer = rival.post(cancel)
    assert answer.status_code == 303
    page = rival.get(answer.headers["location"]).text
    assert cash_shown(page) == ("1,500.00", "0.00") and cancel not in page
    assert market.orders(engine, PLATFORM, "E-RIVAL", "open") == []


def test_the_public_sees_the_board_but_no_account_names(
    credits: dict[str, Any], engine: Engine, site: Any, as_user: Callable[[str], Visitor]
) -> None:
    firm, rival = as_user("firm"), as_user("rival")
    issuance = credits["issuance_id"]
    place(
        firm,
        "E-FIRM",
        order_form(firm, "E-FIRM", side="sell", issuance_id=issuance, quantity=30)
        | {"price_yuan": "30.50"},
    )
    place(
        rival,
        "E-RIVAL",
        order_form(rival, "E-RIVAL", side="buy", issuance_id=issuance, quantity=20)
        | {"price_yuan": "31"},
    )

    assert "/registry/market" in site.get("/registry").text
    board = site.get("/registry/market")
    assert board.status_code == 200
    row = re.search(
        r"<tr>\s*<th scope=\"row\"><a href=\"/registry/market/\d+\">QS-.*?</tr>", board.text, re.S
    )
    assert row is not None
    assert re.findall(r'<td class="num">([^<]+)</td>', row.group(0)) == [
        "—",
        "30.50",
        "30.50",
        "20",
    ]
    public = site.get(f"/registry/market/{issuance}").text
    assert "30.50" in public and 'data-chart="market-depth"' in public
    assert "E-FIRM" not in public and "E-RIVAL" not in public
    assert site.get("/registry/accounts/E-FIRM", follow_redirects=False).status_code in (303, 401)
    assert site.get("/registry/market/999").status_code == 404


def test_the_platform_sees_who_traded(
    credits: dict[str, Any], signed_in: Callable[[str], Any], as_user: Callable[[str], Visitor]
) -> None:
    firm, rival = as_user("firm"), as_user("rival")
    issuance = credits["issuance_id"]
    place(
        firm,
        "E-FIRM",
        order_form(firm, "E-FIRM", side="sell", issuance_id=issuance, quantity=5)
        | {"price_yuan": "26"},
    )
    place(
        rival,
        "E-RIVAL",
        order_form(rival, "E-RIVAL", side="buy", issuance_id=issuance, quantity=5)
        | {"price_yuan": "26"},
    )
    page = signed_in("analyst").get(f"/registry/market/{issuance}").text
    assert "E-FIRM" in page and "E-RIVAL" in page
    assert 'data-chart="market-days"' in page
