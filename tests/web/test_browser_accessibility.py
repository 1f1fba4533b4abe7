"""Accessibility of the pages, checked by axe-core (WCAG 2.1 A and AA rules) in chromium.

Any violation axe rates serious or critical fails the test: missing labels, contrast below
4.5:1, unnamed buttons or links, landmarks, document language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from browser import LiveSite, open_page, sign_in, world_site
from web.pages_world import add_alarms_and_reviewer, open_sample_case
from web_world import PASSWORD, market_for_firms, surrender_for_firm, trade_between_firms

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PUBLIC_PAGES = [
    "/",
    "/login",
    "/registry",
    "/registry/serial?serial=QS-X",
    "/registry/certificates/QS-RET-00000001",
    "/registry/market",
    "/registry/market/1",
]
ANALYST_PAGES = [
    "/",
    "/carbon",
    "/carbon/factors",
    "/gep",
    "/registry",
    "/registry/accounts/E-FIRM",
    "/registry/market",
    "/registry/market/1",
    "/alarms",
    "/alarms/1",
    "/cases",
    "/cases/1",
    "/cases/new",
    "/cases/summary",
]


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    yield from world_site(tmp_path_factory.mktemp("a11y"), prepare)


def prepare(engine: Engine) -> None:
    """Credits of the firm, a trade on issuance 1, a compliance surrender (certificate
    QS-RET-00000001, listed on the firm's account page), alarms, and case 1 opened from alarm 1
    (as the paths above name)."""
    credits = market_for_firms(engine)
    trade_between_firms(engine, credits["issuance_id"])
    surrender_for_firm(engine, credits["block_id"], 30, 2_000)
    open_sample_case(engine, add_alarms_and_reviewer(engine))


@pytest.fixture
def page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    yield from open_page(browser, live_site)


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=WCAG)
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_public_pages(page: Any) -> None:
    found = {}
    for path in PUBLIC_PAGES:
        page.goto(path)
        found[path] = serious_violations(page)
    assert {path: problems for path, problems in found.items() if problems} == {}


def test_analyst_pages_in_both_languages(page: Any) -> None:
    sign_in(page, "analyst", PASSWORD)
    found = {}
    for language in ("zh_CN", "en"):
        for path in ANALYST_PAGES:
            page.goto(f"{path}{'&' if '?' in path else '?'}lang={language}")
            found[f"{language} {path}"] = serious_violations(page)
    assert {key: value for key, value in found.items() if value} == {}
