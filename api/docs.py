"""The interactive API documentation (Swagger UI at ``/docs``, ReDoc at ``/redoc``) from assets
this installation serves itself (the ``fastapi-offline`` package ships them, with their
licenses: Swagger UI's Apache-2.0, ReDoc's MIT), so the pages work offline and load nothing
from another site."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the documentation pages' scripts, stylesheet and icon are served.
ASSETS = "/docs/assets"


def install_docs(app: FastAPI, openapi_url: str) -> None:
    """Serve ``/docs`` and ``/redoc`` over ``openapi_url``, and their assets under
    :data:`ASSETS`; none of them is in the OpenAPI document."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=None,
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
