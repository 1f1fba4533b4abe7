"""The monitoring pages in a real browser: from the overview into a station, charts drawn."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from browser import LiveSite, open_page, serve, sign_in
from monitoring_world import BEIJING, seed_readings
from outlet_owners import own_outlets
from qingshan.services import database
from qingshan.store.engine import create_store_engine
from web_world import PASSWORD, build_world


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    path: Path = tmp_path_factory.mktemp("site") / "qingshan.db"
    engine = create_store_engine(f"sqlite:///{path}")
    database.upgrade(engine)
    build_world(engine)
    last_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    seed_readings(engine, last_hour.astimezone(BEIJING))
    own_outlets(engine, "firm", "FIRM", "SRC-01")
    yield from serve(engine)
    engine.dispose()


@pytest.fixture
def page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    yield from open_page(browser, live_site)


def test_an_analyst_drills_from_the_overview_into_a_station(page: Any) -> None:
    sign_in(page, "analyst", PASSWORD)
    page.locator("[data-chart='district-map'] canvas").wait_for()
    page.get_by_role("link", name="AIR-01 点位").click()
    page.wait_for_url("**/air/AIR-01")
    for chart in ("air-hourly", "air-hourly-aqi", "air-iaqi"):
        canvas = page.locator(f"[data-chart='{chart}'] canvas")
        canvas.wait_for()
        assert canvas.bounding_box()["height"] > 200
    assert page.locator("figcaption", has_text="最近 7 天的小时浓度").count() == 1
    page.locator("details.chart-data summary").first.click()
    assert page.locator("details.chart-data[open] tbody tr").count() > 24


def test_an_enterprise_user_opens_an_outlet_with_its_permit_limit(page: Any) -> None:
    sign_in(page, "firm", PASSWORD)
    page.goto("/sources")
    page.get_by_role("link", name="SRC-01 点位").click()
    page.locator("[data-chart='source-cod'] canvas").wait_for()
    assert page.get_by_text("bad_crc").count() == 1
