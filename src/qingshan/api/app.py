"""The FastAPI application: routers under ``/api/v1``, OpenAPI docs at ``/docs`` served offline.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package (Swagger UI 5, which renders
FastAPI's OpenAPI 3.1), so the documentation works on a bureau network without internet.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from swagger_ui_bundle import swagger_ui_path

from qingshan import __version__
from qingshan.api.routers import (
    alarms,
    auth,
    carbon,
    cases,
    gep,
    health,
    market,
    public,
    readings,
    registry,
    reports,
    rules,
    sites,
)

API_PREFIX = "/api/v1"
SWAGGER_STATIC = "/static/swagger-ui"


def create_app(engine: Engine) -> FastAPI:
    """The API over the store behind ``engine`` (already upgraded to the current schema)."""
    app = FastAPI(
        title="青山 Qingshan API",
        version=__version__,
        description="Monitoring, evaluation, carbon and GEP platform of an ecology-and-environment "
        "bureau. Sign in at `POST /api/v1/auth/token`, then send `Authorization: Bearer <token>`.",
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.engine = engine
    app.mount(SWAGGER_STATIC, StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    for module in (
        health,
        auth,
        sites,
        readings,
        rules,
        alarms,
        cases,
        carbon,
        gep,
        registry,
        reports,
        public,
        market,
    ):
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="青山 Qingshan API",
            swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_STATIC}/favicon-32x32.png",
        )

    return app
