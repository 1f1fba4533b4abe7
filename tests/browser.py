"""A real browser on a live site: Debian's chromium driven by Playwright, no downloads.

``live_site`` serves :func:`qingshan.web.site.create_site` with uvicorn in a thread on a free
port; ``page`` opens a fresh browser context that fails the test on any console error or any
request to a host other than the live site (the platform must work without internet).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from qingshan.web.site import create_site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveSite:
    base_url: str
    engine: Engine


def world_site(
    folder: Path, prepare: Callable[[Engine], object] = lambda engine: None
) -> Iterator[LiveSite]:
    """Serve a new SQLite store in ``folder`` holding the small district of ``web_world``
    plus whatever ``prepare(engine)`` adds."""
    from qingshan.services import database
    from qingshan.store.engine import create_store_engine
    from web_world import build_world

    engine = create_store_engine(f"sqlite:///{folder / 'qingshan.db'}")
    database.upgrade(engine)
    build_world(engine)
    prepare(engine)
    yield from serve(engine)
    engine.dispose()


def serve(engine: Engine) -> Iterator[LiveSite]:
    """Serve the site over ``engine`` until the generator is closed."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_site(engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the live site did not start within 10 s")
        time.sleep(0.02)
    try:
        yield LiveSite(f"http://127.0.0.1:{port}", engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class PageWatch:
    """What a page did that it must not: console errors, requests leaving the site."""

    base_url: str
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def on_request(self, request: Any) -> None:
        if not request.url.startswith((self.base_url, "data:", "blob:", "about:")):
            self.outside_requests.append(request.url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not kept for the whole session: Playwright's synchronous
    API keeps an event loop running in the main thread while it is started, and later tests
    that call ``asyncio.run`` (the device channels) must not find one."""
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(browser: Any, site: LiveSite, **context_options: Any) -> Iterator[Any]:
    """A page in a fresh context that fails on console errors and outside requests."""
    context = browser.new_context(base_url=site.base_url, **context_options)
    page = context.new_page()
    watch = PageWatch(site.base_url)
    page.on("console", watch.on_console)
    page.on("pageerror", lambda error: watch.console_errors.append(str(error)))
    page.on("request", watch.on_request)
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert watch.console_errors == []
    assert watch.outside_requests == []


def sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")
