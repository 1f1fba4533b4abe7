"""The event loop of the device channels: uvloop when installed, else asyncio's own.

Why: the HJ 212 server's per-packet socket work (``data_received``, ``transport.write``, the
epoll wait) runs in the event loop; uvloop (libuv, written in Cython) does it in C instead of
asyncio's Python selector loop, which leaves more of the interpreter to decoding and checking
packets (``docs/hj212.md``, performance). Everything works on the standard loop too: uvloop is
a speed dependency, not a behaviour one, and platforms without it (Windows) fall back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name(prefer_uvloop: bool = True) -> str:
    """``"uvloop"`` when it will be used, else ``"asyncio"``."""
    if prefer_uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "asyncio"
        return "uvloop"
    return "asyncio"


def run(main: Coroutine[Any, Any, T], *, prefer_uvloop: bool = True) -> T:
    """``asyncio.run(main)`` on uvloop when it is installed (and preferred)."""
    if loop_name(prefer_uvloop) == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
