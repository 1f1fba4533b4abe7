"""The GEP page shows a kept run (examples/gep, compared with 2022): totals, townships, YoY."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from qingshan.services import gep_runs
from qingshan.store.engine import writing
from qingshan.store.identity import add_user, issue_token
from qingshan.store.registry import ensure_grid
from web_world import square

EXAMPLE = Path(__file__).parents[2] / "examples" / "gep"


@pytest.fixture
def kept_run(
    engine: Engine, site: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> gep_runs.KeptRun:
    """The example's 2023 run, kept through the API as an analyst would."""
    data_dir = tmp_path / "data"
    shutil.copytree(EXAMPLE, data_dir / "gep" / "inputs" / "example")
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(data_dir))
    with writing(engine, "test") as session:
        token = issue_token(session, add_user(session, "runner", "analyst"), "test")
        grid = ensure_grid(
            session,
            district=("500199", "示范区"),
            township=("500199009", "白云街道", "street"),
            grid=("BY-01", "白云一网格"),
        )
        grid.boundary = square(106.5, 29.5)
    created = site.post(
        "/api/v1/gep/runs",
        headers={"Authorization": f"Bearer {token}"},
        json={"config": "example/config.toml"},
    )
    assert created.status_code == 201, created.text
    run = gep_runs.open_run(gep_runs.runs_folder(data_dir), created.json()["run_id"])
    assert run is not None
    return run


def test_the_run_its_townships_and_change_on_last_year(
    kept_run: gep_runs.KeptRun, signed_in: Callable[[str], TestClient]
) -> None:
    page = signed_in("analyst").get("/gep")
    assert page.status_code == 200
    text = page.text
    assert f"{kept_run.manifest['gep_wan']:,.0f}" in text
    yoy_path = kept_run.table_path("yoy_townships")
    assert yoy_path is not None
    first = gep_runs.table_frame(yoy_path).row(0, named=True)
    assert f"{first['change_pct']:+.1f} %" in text
    assert 'data-chart="gep-townships"' in text  # 白云街道 drawn from its grid's polygon
    assert f'href="/gep/{kept_run.run_id}/download/pdf"' in text


def test_downloads_and_roles(
    kept_run: gep_runs.KeptRun, signed_in: Callable[[str], TestClient]
) -> None:
    analyst = signed_in("analyst")
    workbook = analyst.get(f"/gep/{kept_run.run_id}/download/xlsx")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    report = analyst.get(f"/gep/{kept_run.run_id}/download/pdf")
    assert report.status_code == 200 and report.content.startswith(b"%PDF")
    assert analyst.get("/gep/20990101T000000Z-00000000/download/xlsx").status_code == 404
    assert signed_in("enterprise").get("/gep").status_code == 403


def test_district_level_lines_are_named_and_unranked_in_both_languages(
    kept_run: gep_runs.KeptRun, signed_in: Callable[[str], TestClient]
) -> None:
    """全区 holds the lines reported for the whole district only: it is not a township, has no
    rank (was printed "None") and comes after the ranked townships; the route is in words."""
    analyst = signed_in("analyst")
    text = analyst.get("/gep").text
    assert "区级项目（未分到乡镇）" in text and "按土地覆被栅格核算" in text
    assert ">None<" not in text and ">全区<" not in text
    rows = re.findall(r'<th scope="row">([^<]*)</th>', text)
    assert rows.index("区级项目（未分到乡镇）") > rows.index("白云街道")
    english = analyst.get("/gep?lang=en").text
    assert "District-level lines (not allotted to a township)" in english
    assert "from a land-cover raster" in english  # the example's route
