"""The overview in a real browser: the map draws, sign-in works, the language switches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from browser import LiveSite, open_page, sign_in, world_site
from web_world import PASSWORD


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    yield from world_site(tmp_path_factory.mktemp("site"))


@pytest.fixture
def page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    yield from open_page(browser, live_site)


def test_the_public_sees_the_map_of_grids_and_sites(page: Any) -> None:
    page.goto("/")
    assert page.title().startswith("一张图")
    canvas = page.locator("[data-chart='district-map'] canvas")
    canvas.wait_for()
    assert canvas.bounding_box()["height"] > 300
    assert page.get_by_role("row", name="AIR-01 点位").count() == 1


def test_an_analyst_signs_in_and_switches_to_english(page: Any) -> None:
    sign_in(page, "analyst", PASSWORD)
    assert page.get_by_role("link", name="问题清单", exact=True).count() == 1
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/?lang=en")
    assert page.get_by_role("link", name="Cases", exact=True).count() == 1
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("link", name="Sign in").count() == 1


@pytest.mark.parametrize(
    "viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}]
)
def test_the_overview_fits_a_laptop_and_a_phone(
    browser: Any, live_site: LiveSite, viewport: dict[str, int]
) -> None:
    for page in open_page(browser, live_site, viewport=viewport):
        page.goto("/")
        page.locator("[data-chart='district-map'] canvas").wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
