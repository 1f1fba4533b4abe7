"""The carbon page shows the books folder's inventory and target pace (examples/carbon)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

EXAMPLES = Path(__file__).parents[2] / "examples" / "carbon"


@pytest.fixture
def books(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "carbon"
    shutil.copytree(EXAMPLES, folder)
    monkeypatch.setenv("QINGSHAN_CARBON_BOOKS_DIR", str(folder))
    return folder


def test_inventory_and_target_pace(books: Path, signed_in: Callable[[str], TestClient]) -> None:
    page = signed_in("analyst").get("/carbon")
    assert page.status_code == 200
    text = page.text
    # district_emissions.csv (official totals): 2023 CO2 6,779,933 t = 678.0 × 10⁴ t
    assert "678.0 万吨" in text
    # total_energy is off pace (+7.65 % against a required +6.69 %), intensity on pace
    assert text.count("进度滞后") >= 2 and "进度符合要求" in text
    assert "能源供应" in text and 'data-chart="trajectory-co2_per_gdp"' in text


def test_a_bad_books_file_is_named_with_its_row(
    books: Path, signed_in: Callable[[str], TestClient]
) -> None:
    (books / "district_gdp.csv").write_text("year,gdp\n2021,abc\n", encoding="utf-8")
    text = signed_in("analyst").get("/carbon").text
    assert "district_gdp.csv" in text and "row 2" in text


def test_no_books_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed_in: Callable[[str], TestClient]
) -> None:
    monkeypatch.setenv("QINGSHAN_CARBON_BOOKS_DIR", str(tmp_path / "none"))
    assert "district_activity.csv" in signed_in("analyst").get("/carbon").text


def test_factor_library_lists_sources(books: Path, signed_in: Callable[[str], TestClient]) -> None:
    text = signed_in("analyst").get("/carbon/factors?series=ets_grid").text
    assert "ets_grid/electricity/co2/2022/CN" in text and "0.5703" in text
    assert "cn_guideline/heat/co2" not in text


def test_the_carbon_books_are_for_analysts(
    books: Path, signed_in: Callable[[str], TestClient]
) -> None:
    assert signed_in("grid_officer").get("/carbon").status_code == 403


def test_the_overview_shows_the_intensity_against_its_pace(books: Path, site: TestClient) -> None:
    text = site.get("/").text
    # co2_per_gdp 2023 vs 2021: −10.40 % against a required −10.28 % (on pace)
    assert "单位GDP二氧化碳排放，2023年较2021年" in text
    assert "-10.4 %" in text and "进度要求 -10.3%" in text
