"""The alarms pages (SQLite and PostgreSQL): a grid officer's view is limited to their grids,
the actions shown are the role's, and the export holds the filtered list."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import openpyxl
import pytest
from sqlalchemy import Engine, select

from alarm_world import RULE
from outlet_owners import own_outlets
from qingshan.services.alarms import ALARM_COLUMNS
from qingshan.store.engine import writing
from qingshan.store.models import Alarm, Site
from qingshan.web.pages import alarms as alarm_pages
from qingshan.web.rendering import significant
from web.pages_world import PagesWorld, Visitor, build_pages_world

SignIn = Callable[[str], Visitor]
ALARM_LINK = re.compile(r'href="/alarms/(\d+)"')


@pytest.fixture
def world(engine: Engine) -> PagesWorld:
    return build_pages_world(engine)


def listed(page: str) -> list[int]:
    return [int(found) for found in ALARM_LINK.findall(page)]


def test_an_officer_sees_and_acts_only_on_their_grids_alarms(
    world: PagesWorld, as_user: SignIn
) -> None:
    officer = as_user("officer")
    own, other = world.alarms["AIR-01"], world.alarms["WAT-01"]
    assert listed(officer.get("/alarms").text) == [own]
    assert officer.get(f"/alarms/{other}").status_code == 404
    assert officer.post(f"/alarms/{other}/acknowledge").status_code == 404
    assert officer.post(f"/alarms/{other}/comment", {"body": "看一下"}).status_code == 404
    analyst = as_user("analyst")
    assert "未确认" in analyst.get(f"/alarms/{other}").text


def test_acknowledging_and_commenting_are_kept_on_the_alarm(
    world: PagesWorld, as_user: SignIn
) -> None:
    officer = as_user("officer")
    alarm = world.alarms["AIR-01"]
    page = officer.get(f"/alarms/{alarm}").text
    assert f'action="/alarms/{alarm}/acknowledge"' in page
    assert f'action="/alarms/{alarm}/clear"' not in page  # clearing is the bureau's
    moved = officer.post(f"/alarms/{alarm}/acknowledge")
    assert (moved.status_code, moved.headers["location"]) == (303, f"/alarms/{alarm}")
    officer.post(f"/alarms/{alarm}/comment", {"body": "已电话通知企业"})
    page = officer.get(f"/alarms/{alarm}").text
    state = re.search(r'<dd id="alarm-state">(.*?)</dd>', page)
    assert state is not None and state.group(1) == "未解除 · 已确认"
    assert "acknowledged" in page and "已电话通知企业" in page
    assert f'action="/alarms/{alarm}/acknowledge"' not in page
    assert listed(officer.get("/alarms?acknowledgement=unacknowledged").text) == []


def test_only_the_bureau_clears_by_hand(world: PagesWorld, as_user: SignIn) -> None:
    alarm = world.alarms["AIR-01"]
    assert as_user("officer").post(f"/alarms/{alarm}/clear").status_code == 403
    analyst = as_user("analyst")
    assert f'action="/alarms/{alarm}/clear"' in analyst.get(f"/alarms/{alarm}").text
    analyst.post(f"/alarms/{alarm}/clear", {"reason": "设备校准"})
    assert "cleared by hand: 设备校准" in analyst.get(f"/alarms/{alarm}").text
    assert listed(analyst.get("/alarms?state=cleared").text) == [alarm]
    assert listed(analyst.get("/alarms?state=active").text) == [world.alarms["WAT-01"]]


def test_forms_without_the_session_token_are_refused(world: PagesWorld, as_user: SignIn) -> None:
    officer = as_user("officer")
    response = officer.client.post(f"/alarms/{world.alarms['AIR-01']}/acknowledge", data={})
    assert response.status_code == 403
    assert "未确认" in officer.get(f"/alarms/{world.alarms['AIR-01']}").text


def _outlet_alarm(engine: Engine, like: int) -> int:
    """An alarm of the world's rule at SRC-01 (copying alarm ``like``), as rule evaluation
    writes one."""
    with writing(engine, "test:alarms") as session:
        air = session.get_one(Alarm, like)
        site = session.scalars(select(Site).where(Site.code == "SRC-01")).one()
        alarm = Alarm(
            series_key=f"{RULE}:{site.id}",
            rule_id=air.rule_id,
            rule_version=air.rule_version,
            site_id=site.id,
            grid_id=site.grid_id,
            severity="minor",
            started_at=air.started_at,
            last_triggered_at=air.started_at,
        )
        session.add(alarm)
        session.flush()
        return alarm.id


def test_an_enterprise_reads_only_its_outlets_alarms(
    engine: Engine, world: PagesWorld, as_user: SignIn
) -> None:
    """``firm`` operates SRC-01: its list and export hold that outlet's alarm only, other
    alarms are 404, and it gets no action forms (a posted acknowledgement is 403)."""
    own_outlets(engine, "firm", "FIRM", "SRC-01")
    own = _outlet_alarm(engine, world.alarms["AIR-01"])
    firm = as_user("firm")
    page = firm.get("/alarms").text
    assert listed(page) == [own]
    assert 'href="/alarms"' in page  # the navigation now offers the alarms
    assert firm.get(f"/alarms/{world.alarms['AIR-01']}").status_code == 404
    detail = firm.get(f"/alarms/{own}").text
    assert "SRC-01" in detail and "/acknowledge" not in detail and "/comment" not in detail
    assert firm.post(f"/alarms/{own}/acknowledge").status_code == 403
    exported = openpyxl.load_workbook(io.BytesIO(firm.get("/alarms/export.xlsx").content))
    rows = list(exported.active.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows] == [own]
    assert len(listed(as_user("analyst").get("/alarms").text)) == 3


def test_an_enterprise_without_outlets_sees_no_alarm(world: PagesWorld, as_user: SignIn) -> None:
    assert listed(as_user("firm").get("/alarms").text) == []


def test_severity_is_written_out_and_filters_combine(world: PagesWorld, as_user: SignIn) -> None:
    analyst = as_user("analyst")
    page = analyst.get("/alarms").text
    assert '<span class="badge sev-critical">红色 · 严重</span>' in page
    assert '<span class="badge sev-major">橙色 · 较重</span>' in page
    critical = analyst.get("/alarms?severity=critical&grid=G01&rule=" + RULE).text
    assert listed(critical) == [world.alarms["WAT-01"]]
    assert listed(analyst.get("/alarms?site=AIR-01").text) == [world.alarms["AIR-01"]]
    assert listed(analyst.get("/alarms?since=2026-11-21").text) == []
    assert len(listed(analyst.get("/alarms?since=2026-11-20&until=2026-11-20").text)) == 2
    assert analyst.get("/alarms?since=20.11.2026").status_code == 422
    assert analyst.get("/alarms?state=burning").status_code == 422


def test_pages_follow_the_cursor_newest_first(
    world: PagesWorld, as_user: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alarm_pages, "PAGE_SIZE", 1)
    analyst = as_user("analyst")
    first = analyst.get("/alarms?state=active").text
    assert listed(first) == [world.alarms["WAT-01"]]
    following = re.search(r'href="(/alarms\?[^"]*cursor=[^"]+)" rel="next"', first)
    assert following is not None
    second = analyst.get(following.group(1).replace("&amp;", "&")).text
    assert listed(second) == [world.alarms["AIR-01"]]
    assert 'rel="next"' not in second


def test_the_export_holds_the_filtered_list_of_the_callers_grids(
    world: PagesWorld, as_user: SignIn
) -> None:
    for username, expected in (("officer", ["AIR-01"]), ("analyst", ["WAT-01", "AIR-01"])):
        response = as_user(username).get("/alarms/export.xlsx?state=active")
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == ALARM_COLUMNS
        assert [row[ALARM_COLUMNS.index("site")] for row in rows[1:]] == expected


def test_a_peak_that_is_a_mean_is_shown_to_four_significant_figures(
    world: PagesWorld, engine: Engine, as_user: SignIn
) -> None:
    """The demo's spike rules store means such as 4.202653846153845 as the peak; the list and
    the alarm page show what an instrument could report, not the float's every digit."""
    alarm = world.alarms["AIR-01"]
    with writing(engine, "test:peak") as session:
        session.get_one(Alarm, alarm).peak_value = 4.202653846153845
    analyst = as_user("analyst")
    for page in (analyst.get("/alarms").text, analyst.get(f"/alarms/{alarm}").text):
        assert "4.203" in page
        assert "4.2026" not in page


def test_alarms_name_their_rule(world: PagesWorld, as_user: SignIn) -> None:
    """A bureau names its rules (the demo's: 氨氮劣于断面目标类别); the list and the alarm
    showed only the rule's code."""
    analyst = as_user("analyst")
    alarm = world.alarms["AIR-01"]
    for page in (analyst.get("/alarms").text, analyst.get(f"/alarms/{alarm}").text):
        assert f"AQI &gt; 200 <small>{RULE}</small>" in page


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (4.202653846153845, "4.203"),
        (900.0, "900"),
        (0.0465, "0.0465"),
        (12345.6, "12,346"),
        (None, "—"),
        (0.0, "0"),
        (-2.5, "-2.5"),
    ],
)
def test_significant_figures(value: float | None, shown: str) -> None:
    assert significant(value) == shown
