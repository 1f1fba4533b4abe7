"""The device channels' event loop: uvloop when installed, asyncio's own otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from qingshan.services import event_loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_runs_the_coroutine_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert event_loop.loop_name() == "uvloop"
    assert event_loop.run(_loop_module()).startswith("uvloop")


def test_asyncio_when_uvloop_is_not_wanted() -> None:
    assert event_loop.loop_name(prefer_uvloop=False) == "asyncio"
    assert event_loop.run(_loop_module(), prefer_uvloop=False).startswith("asyncio")


def test_asyncio_when_uvloop_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop → ImportError
    assert event_loop.loop_name() == "asyncio"
    assert event_loop.run(_loop_module()).startswith("asyncio")
