"""Monitoring pages and the overview's live state, on readings whose results are worked from
the standards (both store backends).

Worked values (see ``monitoring_world``):

* AIR-01, 15 June 11:00: PM2.5 115 µg/m³ is the breakpoint of IAQI 150 (HJ 633—2026 Table 1
  PM2.5 24-h: 35 → 50, 60 → 100, 115 → 150; §4.2.4 indexes hourly PM2.5 with them); the other
  IAQIs are lower, so AQI 150, 轻度污染, primary pollutant PM2.5.
* Daily: 12 and 13 June PM2.5 50 → IAQI 50 + (50 − 35)/(60 − 35) × 50 = 80, good days;
  14 June 115 → 150; 15 June has 12 hours (< 20, GB 3095 Table 4), no valid day. Good days
  2 of 3 valid days = 66.7 %; PM2.5 mean (50 + 50 + 115)/3 = 71.7 → 72 µg/m³, against the
  GB 3095—2026 transitional Class II annual limit.
* WAT-01 (river, target III), June: CODMn 7.0 mg/L is Class IV (III ≤ 6, IV ≤ 10, GB 3838
  Table 1), NH3-N 0.5 Class II, DO 6.5 Class II → Class IV, misses its target; May: CODMn 4.0
  Class II → Class II.
* NOI-01 (zone 2: day 60, night 50 dB(A), GB 3096—2008 Table 1): Ld 58.0 complies on every day,
  Ln 52.0 exceeds on both complete nights.
* SRC-01 (COD permit limit 50 mg/L): latest hour 62 → over the limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from monitoring_world import MN, NOW, seed_readings
from outlet_owners import own_outlets
from qingshan.standards import air_evaluation, aqi, water
from qingshan.store.engine import writing
from qingshan.store.registry import upsert_site
from qingshan.web.pages.monitoring import page_now
from web_world import build_world

Client = Callable[[str], TestClient]


@pytest.fixture
def world(engine: Engine) -> Engine:
    build_world(engine)
    seed_readings(engine)
    return engine


@pytest.fixture
def as_role(world: Engine, signed_in: Client) -> Iterator[Client]:
    """A signed-in client of ``role`` whose pages judge "now" at :data:`NOW`."""

    def client(role: str) -> TestClient:
        signed = signed_in(role)
        signed.app.dependency_overrides[page_now] = lambda: NOW  # type: ignore[attr-defined]
        return signed

    yield client


def _chart(page: str, chart_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', page)
    assert match, f"chart {chart_id} is not on the page"
    return json.loads(match.group(1))


def _map_colours(page: str) -> dict[str, str]:
    spec = _chart(page, "district-map")
    return {
        point["name"]: point["itemStyle"].get("color")
        for series in spec["option"]["series"][1:]
        for point in series["data"]
    }


def _class_colour(label: str) -> str:
    code = water.CLASS_LABELS.index(label)
    return str(water.status_field(water.status_grade([code]), "color")[0])


def test_the_air_list_shows_each_station_s_latest_aqi(as_role: Client) -> None:
    page = as_role("analyst").get("/air?lang=en").text
    row = re.search(r"AIR-01</small></th>(.*?)</tr>", page, re.S)
    assert row is not None
    cells = row.group(1)
    assert "2026-06-15 11:00" in cells
    assert '<td class="num">150</td>' in cells
    assert aqi.categories()[2].name_en in cells and aqi.categories()[2].color in cells
    assert "PM2.5" in cells


def test_the_station_page_draws_hours_days_the_calendar_and_the_annual_evaluation(
    as_role: Client,
) -> None:
    page = as_role("analyst").get("/air/AIR-01?lang=en").text
    daily = _chart(page, "air-daily-aqi")["option"]
    assert daily["xAxis"]["data"][:3] == ["2026-06-12", "2026-06-13", "2026-06-14"]
    assert daily["series"][0]["data"][:3] == [80, 80, 150]
    calendar = _chart(page, "air-calendar")["option"]
    assert calendar["calendar"]["range"] == "2026"
    assert [p["color"] for p in calendar["visualMap"]["pieces"]] == [
        c.color for c in aqi.categories()
    ]
    iaqi = _chart(page, "air-iaqi")["option"]
    assert max(iaqi["series"][0]["data"]) == 150
    hourly = _chart(page, "air-hourly")["option"]
    assert len(hourly["series"]) == 6
    assert "2 / 3 (66.7 %)" in page
    limit = air_evaluation.limit("pm25_annual", "2026-transitional", "II")
    row = re.search(r"PM₂.₅ annual mean</th>(.*?)</tr>", page, re.S)
    assert row is not None
    assert '<td class="num">72.0</td>' in row.group(1) or '<td class="num">72</td>' in row.group(1)
    assert f'<td class="num">{limit:g}' in row.group(1) or f">{limit}<" in row.group(1)
    assert "Not judged" in row.group(1)  # 3 valid days: too few for an annual judgement
    assert "<details" in page  # every chart has its data as a table
    assert "GB 3095—2026, transitional limits · Class II" in page


def test_the_chinese_station_and_section_pages_have_no_english_labels(as_role: Client) -> None:
    """The limit set, the waterbody and pH's unit came through as the kernel's English words."""
    client = as_role("analyst")
    station = client.get("/air/AIR-01").text
    assert "GB 3095—2026 过渡期限值 · II类区" in station and "transitional" not in station
    section = client.get("/water/WAT-01").text
    assert "<dd>河流</dd>" in section
    assert "dimensionless" not in section and "river" not in section


def test_the_overview_colours_each_site_by_its_state_and_shows_the_year(
    as_role: Client,
) -> None:
    page = as_role("analyst").get("/?lang=en").text
    colours = _map_colours(page)
    assert colours["AIR-01 点位"] == aqi.categories()[2].color
    assert colours["WAT-01 点位"] == _class_colour("IV")
    assert colours["NOI-01 点位"] == "#c62828"  # last complete night: Ln 52.0 > 50
    assert colours["SRC-01 点位"] == "#c62828"  # COD 62 > 50
    assert "66.7 %" in page and "2 good of 3 valid days" in page
    assert "72 µg/m³" in page
    limit = air_evaluation.limit("pm25_annual", "2026-transitional", "II")
    assert f"annual limit {limit:g} µg/m³" in page
    assert "0 / 1" in page  # WAT-01 misses its target in June
    assert 'href="/air/AIR-01"' in page


def test_sites_silent_for_three_intervals_are_grey(world: Engine, signed_in: Client) -> None:
    client = signed_in("analyst")
    client.app.dependency_overrides[page_now] = lambda: NOW + timedelta(hours=4)  # type: ignore[attr-defined]
    colours = _map_colours(client.get("/").text)
    assert set(colours.values()) == {"#9e9e9e"}


def test_the_targets_file_sets_the_good_day_target(
    as_role: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    (tmp_path / "targets.toml").write_text("[air.2026]\ngood_day_ratio = 90\n", "utf-8")
    page = as_role("analyst").get("/?lang=en").text
    assert "target 90 %" in page
    assert re.search(r'class="stat bad">\s*<h2><a href="/air">Good-day ratio 2026', page)
    (tmp_path / "targets.toml").write_text("[air.2026]\ngood_days = 90\n", "utf-8")
    page = as_role("analyst").get("/?lang=en").text
    assert "targets.toml: [air.2026]: unknown key &#39;good_days&#39;" in page


def test_the_water_pages_show_classes_targets_and_limits(as_role: Client) -> None:
    client = as_role("grid_officer")
    listing = client.get("/water?lang=en").text
    row = re.search(r"WAT-01</small></th>(.*?)</tr>", listing, re.S)
    assert row is not None
    assert "2026-06" in row.group(1)
    assert "IV</td>" in row.group(1) and "III</td>" in row.group(1) and ">No<" in row.group(1)
    assert water.item("codmn").name_en in row.group(1)
    page = client.get("/water/WAT-01?lang=en").text
    chart = _chart(page, "water-class")["option"]
    assert chart["xAxis"]["data"] == ["2026-05", "2026-06"]
    assert chart["series"][0]["data"] == ["II", "IV"]
    item = re.search(rf"{water.item('codmn').name_en}</th>(.*?)</tr>", page, re.S)
    assert item is not None
    assert "7.0" in item.group(1) and "≤ 6.0" in item.group(1) and "IV" in item.group(1)


def test_the_noise_pages_judge_ld_and_ln_against_the_zone_limits(as_role: Client) -> None:
    page = as_role("analyst").get("/noise/NOI-01?lang=en").text
    assert "3 / 3 (100.0 %)" in page  # days 13, 14, 15 June
    assert "0 / 2 (0.0 %)" in page  # nights of 13 and 14 June
    chart = _chart(page, "noise-daily")["option"]
    assert chart["series"][0]["data"] == [58.0, 58.0, 58.0]
    assert chart["series"][1]["data"][:2] == [52.0, 52.0]
    assert [line["yAxis"] for line in chart["series"][0]["markLine"]["data"]] == [60.0, 50.0]


def test_the_source_pages_show_permit_exceedance_devices_and_rejects(
    world: Engine, as_role: Client
) -> None:
    client = as_role("enterprise")
    own_outlets(world, "enterprise-0", "FIRM", "SRC-01")
    assert "Over the limit" in client.get("/sources?lang=en").text
    page = client.get("/sources/SRC-01?lang=en").text
    chart = _chart(page, "source-cod")["option"]
    assert chart["series"][0]["data"][-1] == 62.0
    assert chart["series"][0]["markLine"]["data"][0]["yAxis"] == 50.0
    assert MN in page and "Online" in page and "bad_crc" in page
    assert client.get("/air").status_code == 403


def test_monitoring_pages_need_staff(world: Engine, site: TestClient) -> None:
    response = site.get("/air/AIR-01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert site.get("/?lang=en").status_code == 200


def test_an_enterprise_sees_only_the_outlets_of_its_company(world: Engine, as_role: Client) -> None:
    """SRC-01 is the enterprise user's, SRC-02 a rival's: its source pages and the overview
    hold SRC-01 only (SRC-02 is 404), while an analyst sees both."""
    with writing(world, "test:world") as session:
        upsert_site(
            session,
            "SRC-02",
            name="SRC-02 点位",
            kind="source_outlet",
            latitude=29.53,
            longitude=106.53,
            permit_limits={"cod": {"limit": 50.0}},
        )
    firm, analyst = as_role("enterprise"), as_role("analyst")
    own_outlets(world, "enterprise-0", "FIRM", "SRC-01")
    own_outlets(world, None, "RIVAL", "SRC-02")
    sources = firm.get("/sources?lang=en").text
    assert "/sources/SRC-01" in sources and "/sources/SRC-02" not in sources
    assert "FIRM 有限公司" in sources and "Only the outlets your company operates" in sources
    assert 'id="outlet-owner">FIRM 有限公司' in firm.get("/sources/SRC-01").text
    assert firm.get("/sources/SRC-02").status_code == 404
    overview = firm.get("/?lang=en").text
    assert "SRC-02" not in overview and "SRC-01" in overview and "AIR-01" in overview
    listing = analyst.get("/sources?lang=en").text
    assert "/sources/SRC-01" in listing and "/sources/SRC-02" in listing
    assert "SRC-02" in analyst.get("/?lang=en").text


def test_an_enterprise_without_a_company_sees_no_outlet(as_role: Client) -> None:
    client = as_role("enterprise")
    assert "/sources/SRC-01" not in client.get("/sources").text
    assert client.get("/sources/SRC-01").status_code == 404
