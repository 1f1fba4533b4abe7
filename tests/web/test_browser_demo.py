"""The demo district end to end in a real browser: ten days of the real demo seed (its 45 sites,
long Chinese names, alarms and cases), an analyst signs in, reads the map and the headline
cards, drills into an air station from the sites table, sees its charts drawn and switches to
English; on a phone, the demo's long names do not push the pages wider than the screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from browser import LiveSite, open_page, serve, sign_in
from qingshan.services import database, demo, demo_world
from qingshan.store.engine import create_store_engine

DAYS = 10
"""Ten days end at the start of today: the station's 7-day charts and this year's days have data."""


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    folder = tmp_path_factory.mktemp("demo")
    engine = create_store_engine(f"sqlite:///{folder / 'qingshan.db'}")
    database.upgrade(engine)
    demo.seed_demo(engine, days=DAYS, data_dir=folder / "data")
    yield from serve(engine)
    engine.dispose()


def _password(username: str) -> str:
    return next(person.password for person in demo_world.users() if person.username == username)


def _drawn(page: Any, chart: str) -> None:
    canvas = page.locator(f"[data-chart='{chart}'] canvas").first
    canvas.wait_for()
    assert canvas.bounding_box()["height"] > 150


def test_an_analyst_reads_the_map_drills_into_a_station_and_switches_to_english(
    browser: Any, demo_site: LiveSite
) -> None:
    for page in open_page(browser, demo_site, viewport={"width": 1366, "height": 768}):
        sign_in(page, "analyst", _password("analyst"))
        _drawn(page, "district-map")
        cards = page.locator(".stats .stat").all_inner_texts()
        assert len(cards) >= 3
        assert all(re.search(r"\d", card) for card in cards), cards  # numbers, not "—"
        page.get_by_role("link", name="青峰空气自动站", exact=True).click()
        page.wait_for_url("**/air/AIR01")
        for chart in ("air-hourly", "air-hourly-aqi", "air-daily-aqi", "air-calendar"):
            _drawn(page, chart)
        page.get_by_role("link", name="English").click()
        page.wait_for_url("**/air/AIR01?lang=en")
        assert page.get_by_role("link", name="Overview", exact=True).count() == 1
        assert "transitional limits" in page.locator("main").inner_text()


def test_the_demo_enterprise_sees_only_its_company_s_outlet(
    browser: Any, demo_site: LiveSite
) -> None:
    """The ``enterprise`` user is 青峰热电 (ENT01), which operates SRC01 alone."""
    for page in open_page(browser, demo_site, viewport={"width": 1366, "height": 768}):
        sign_in(page, "enterprise", _password("enterprise"))
        page.goto("/sources")
        links = page.locator("main a[href^='/sources/']")
        assert links.evaluate_all("links => links.map(a => a.getAttribute('href'))") == [
            "/sources/SRC01"
        ]
        assert "青峰热电有限公司" in page.locator("main").inner_text()


@pytest.mark.parametrize("path", ["/?lang=en", "/sources/SRC01?lang=en"])
def test_the_demo_s_long_names_fit_a_phone(browser: Any, demo_site: LiveSite, path: str) -> None:
    for page in open_page(browser, demo_site, viewport={"width": 390, "height": 844}):
        sign_in(page, "analyst", _password("analyst"))
        page.goto(path)
        page.locator("main").wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0


def test_a_radio_button_sits_on_its_label_s_line(browser: Any, demo_site: LiveSite) -> None:
    """The report format's radio buttons took the text inputs' full width, a line above their
    label's text."""
    for page in open_page(browser, demo_site, viewport={"width": 1366, "height": 768}):
        sign_in(page, "analyst", _password("analyst"))
        page.goto("/reports")
        for name in ("PDF", "Excel (XLSX)"):
            radio = page.get_by_label(name, exact=True)
            label = page.locator("label", has=radio).bounding_box()
            box = radio.bounding_box()
            assert box["width"] < 30 and label["height"] < 2 * box["height"] + 12


LINES_OF_SHORT_CELLS = """
Array.from(document.querySelectorAll('tbody td')).slice(0, 40)
  .filter(td => td.children.length === 0 && td.textContent.trim().length <= 10)
  .map(td => {
    const range = document.createRange();
    range.selectNodeContents(td);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  })
"""
"""Lines of text in each short cell (no child elements, ≤ 10 characters) of a table."""


def test_the_case_list_keeps_short_values_on_one_line(browser: Any, demo_site: LiveSite) -> None:
    """The descriptions took the width and 巡查, 整改中 and the deadlines broke a character a
    line."""
    for page in open_page(browser, demo_site, viewport={"width": 1366, "height": 768}):
        sign_in(page, "analyst", _password("analyst"))
        page.goto("/cases")
        lines = page.evaluate(LINES_OF_SHORT_CELLS)
        assert lines and max(lines) == 1, lines
