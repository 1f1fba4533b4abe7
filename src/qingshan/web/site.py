"""The whole web application: the API (``/api/v1``, ``/docs``) plus the pages and their assets.

``qingshan serve`` and ``qingshan demo`` serve :func:`create_site`; tests of the API alone use
``qingshan.api.app.create_app``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from qingshan.api.app import API_PREFIX, create_app
from qingshan.web.pages import PAGE_ROUTERS
from qingshan.web.rendering import render, use_request_locale
from qingshan.web.session import SignInRequired, login_redirect_url

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static/web"


def create_site(engine: Engine) -> FastAPI:
    """The API and the pages over the store behind ``engine`` (upgraded to the current schema)."""
    app = create_app(engine)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="web-static")
    for router in PAGE_ROUTERS:  # every page speaks the request's language from its start
        app.include_router(router, dependencies=[Depends(use_request_locale)])
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(HTTPException, _error_page)
    return app


async def _to_sign_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    return RedirectResponse(login_redirect_url(error.next_path), status_code=303)


async def _error_page(request: Request, error: Exception) -> Response:
    """API errors stay JSON; pages show the error in the page's language."""
    assert isinstance(error, HTTPException)
    if request.url.path.startswith((API_PREFIX, "/docs", "/static")):
        return await http_exception_handler(request, error)
    return render(
        request,
        "error.html",
        None,
        {"status_code": error.status_code, "detail": error.detail},
        status_code=error.status_code,
    )
