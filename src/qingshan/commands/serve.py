"""``qingshan serve``: the web pages, the HTTP API and its documentation, with uvicorn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import Engine

from qingshan.commands.db import store_engine

if TYPE_CHECKING:
    import uvicorn


def site_server(engine: Engine, host: str, port: int) -> uvicorn.Server:
    """The uvicorn server of the pages and the API on ``engine`` (``qingshan serve`` and
    ``qingshan demo``).

    Imported here: the web stack is only needed by the serving commands, not at every CLI
    start.
    """
    import uvicorn

    from qingshan.web.site import create_site

    return uvicorn.Server(
        uvicorn.Config(create_site(engine), host=host, port=port, log_level="info")
    )


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the pages at http://HOST:PORT/, the API at /api/v1 and its documentation at /docs."""
    site_server(store_engine(), host, port).run()
