"""Alarms and cases in a real browser: acknowledge an alarm, move a case through every state
with the officer and the bureau in separate browser contexts, download the problem list."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from browser import LiveSite, open_page, sign_in, world_site
from qingshan.services.case_workflow import beijing_day
from qingshan.services.cases import EXPORT_COLUMNS
from qingshan.store.types import utc_now
from web.pages_world import PagesWorld, add_alarms_and_reviewer
from web_world import PASSWORD

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, PagesWorld]]:
    folder: Path = tmp_path_factory.mktemp("cases-site")
    worlds: list[PagesWorld] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QINGSHAN_DATA_DIR", str(folder))  # evidence files
        for live in world_site(
            folder, lambda engine: worlds.append(add_alarms_and_reviewer(engine))
        ):
            yield live, worlds[0]


def person(browser: Any, live: LiveSite, username: str) -> Iterator[Any]:
    """A page in its own browser context, signed in as ``username``."""
    for page in open_page(browser, live, accept_downloads=True):
        sign_in(page, username, PASSWORD)
        yield page


def test_an_officer_acknowledges_an_alarm(
    browser: Any, served: tuple[LiveSite, PagesWorld]
) -> None:
    live, world = served
    for page in person(browser, live, "officer"):
        page.goto("/alarms")
        page.get_by_role("link", name=f"#{world.alarms['AIR-01']}").click()
        assert page.locator("#alarm-state").inner_text() == "未解除 · 未确认"
        page.get_by_role("button", name="确认", exact=True).click()
        page.wait_for_load_state()
        assert page.locator("#alarm-state").inner_text() == "未解除 · 已确认"
        assert page.get_by_role("button", name="确认", exact=True).count() == 0


def test_a_case_goes_round_the_loop_and_the_list_downloads(
    browser: Any, served: tuple[LiveSite, PagesWorld], tmp_path: Path
) -> None:
    live, _world = served
    deadline = (beijing_day(utc_now()) + timedelta(days=3)).isoformat()
    photo = tmp_path / "site.png"
    photo.write_bytes(PNG)
    officers, analysts = person(browser, live, "officer"), person(browser, live, "analyst")
    officer, analyst = next(officers), next(analysts)

    officer.goto("/cases/new")
    officer.get_by_label("问题类别").fill("扬尘")
    officer.get_by_label("问题描述").fill("工地裸土未覆盖")
    officer.get_by_role("button", name="立案").click()
    officer.wait_for_url("**/cases/*")
    case_url = officer.url
    officer.get_by_label("责任单位").fill("某建筑公司")
    officer.get_by_label("整改时限").fill(deadline)
    officer.get_by_role("button", name="交办 → 已交办").click()
    officer.get_by_role("button", name="开始整改 → 整改中").click()
    officer.get_by_label("文字说明").fill("已覆盖防尘网")
    officer.get_by_label("照片或文件").set_input_files(str(photo))
    officer.get_by_role("button", name="提交材料").click()
    assert officer.locator("img[alt='已覆盖防尘网']").evaluate("image => image.naturalWidth") == 1
    officer.get_by_role("button", name="提交销号 → 待销号").click()
    assert officer.locator("#case-state").inner_text() == "待销号"
    assert officer.get_by_role("button", name="销号 → 已销号").count() == 0

    analyst.goto(case_url)
    analyst.get_by_role("button", name="销号 → 已销号").click()
    assert analyst.locator("#case-state").inner_text() == "已销号"
    for reviewer in person(browser, live, "analyst2"):
        reviewer.goto(case_url)
        reviewer.get_by_role("button", name="复核 → 已复核").click()
        assert reviewer.locator("#case-state").inner_text() == "已复核"

    officer.reload()
    assert officer.locator("#timeline li").count() == 7
    officer.goto("/cases")
    with officer.expect_download() as download:
        officer.get_by_role("link", name="下载问题清单（XLSX）").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    rows = list(openpyxl.load_workbook(saved)["问题清单"].iter_rows(values_only=True))
    assert rows[0] == EXPORT_COLUMNS
    assert rows[1][EXPORT_COLUMNS.index("状态")] == "已复核"
    for pages in (officers, analysts):
        next(pages, None)  # close the context and check it logged no error


@pytest.mark.parametrize(
    "viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}]
)
def test_the_lists_and_a_case_fit_a_laptop_and_a_phone(
    browser: Any, served: tuple[LiveSite, PagesWorld], viewport: dict[str, int]
) -> None:
    live, world = served
    for page in open_page(browser, live, viewport=viewport):
        sign_in(page, "analyst", PASSWORD)
        for path in ("/alarms", f"/alarms/{world.alarms['WAT-01']}", "/cases", "/cases/new"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, path
