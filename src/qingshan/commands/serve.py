"""``qingshan serve``: the web pages, the HTTP API and its documentation, with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from qingshan.commands.db import store_engine


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the pages at http://HOST:PORT/, the API at /api/v1 and its documentation at /docs."""
    # Imported here: the web stack is only needed by this command, not at every CLI start.
    import uvicorn

    from qingshan.web.site import create_site

    uvicorn.run(create_site(store_engine()), host=host, port=port, log_level="info")
