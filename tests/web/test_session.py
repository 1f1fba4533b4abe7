"""Signing in and out of the pages, role-aware navigation, form protection, language."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.requests import Request

from qingshan.api.deps import Caller
from qingshan.store.engine import writing
from qingshan.store.identity import add_user
from qingshan.web.session import SESSION_COOKIE, csrf_token, safe_next
from qingshan.web.session import signed_in as page_for
from qingshan.web.site import create_site
from web_world import PASSWORD

NAV = re.compile(r'<nav id="nav".*?</nav>', re.S)


def nav_links(page: str) -> list[str]:
    found = NAV.search(page)
    assert found is not None
    return re.findall(r'href="([^"]+)"', found.group(0))


def test_the_public_sees_the_overview_and_registry_only(site: TestClient) -> None:
    page = site.get("/")
    assert page.status_code == 200
    assert nav_links(page.text) == ["/", "/registry"]
    assert "登录" in page.text  # 简体中文 by default


def test_wrong_password_is_refused_without_a_session(site: TestClient) -> None:
    response = site.post("/login", data={"username": "nobody", "password": "x", "next": "/"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert SESSION_COOKIE not in response.cookies


def test_a_page_for_staff_sends_the_public_to_sign_in_and_back(
    engine: Engine,
) -> None:
    app = create_site(engine)

    @app.get("/staff-only")
    def staff_only(caller: Annotated[Caller, Depends(page_for("analyst"))]) -> str:
        return caller.username

    with TestClient(app) as public:
        response = public.get("/staff-only?grid=G01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/staff-only%3Fgrid%3DG01"
    with writing(engine, actor="test") as session:
        add_user(session, "firm", "enterprise", password=PASSWORD)
    with TestClient(app) as enterprise:
        enterprise.post("/login", data={"username": "firm", "password": PASSWORD})
        refused = enterprise.get("/staff-only")
    assert refused.status_code == 403
    assert "this page is not for your role" in refused.text


def test_navigation_follows_the_role(signed_in: Callable[[str], TestClient]) -> None:
    analyst = nav_links(signed_in("analyst").get("/").text)
    officer = nav_links(signed_in("grid_officer").get("/").text)
    enterprise = nav_links(signed_in("enterprise").get("/").text)
    assert {"/carbon", "/gep", "/reports", "/alarms"} <= set(analyst)
    assert "/alarms" in officer and "/carbon" not in officer
    assert {"/sources", "/alarms", "/registry"} <= set(enterprise)  # alarms of its outlets
    assert "/air" not in enterprise and "/cases" not in enterprise


def test_sign_out_needs_the_form_token_and_revokes_the_session(
    signed_in: Callable[[str], TestClient],
) -> None:
    client = signed_in("analyst")
    session_token = client.cookies[SESSION_COOKIE]
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    form_token = csrf_token(_request_with_cookie(session_token))
    response = client.post("/logout", data={"csrf": form_token}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.set(SESSION_COOKIE, session_token)  # a copy of the old cookie is useless
    assert "退出" not in client.get("/").text


def test_language_switch_is_remembered(site: TestClient) -> None:
    english = site.get("/?lang=en")
    assert "Sign in" in english.text and '<html lang="en">' in english.text
    assert "Sign in" in site.get("/").text  # the cookie keeps English
    assert "登录" in site.get("/?lang=zh_CN").text


def test_sign_in_returns_only_to_this_site() -> None:
    assert safe_next("/cases?state=open") == "/cases?state=open"
    assert safe_next("https://example.com/") == "/"
    assert safe_next("//example.com/") == "/"


def _request_with_cookie(token: str) -> Request:
    return Request({"type": "http", "headers": [(b"cookie", f"{SESSION_COOKIE}={token}".encode())]})
