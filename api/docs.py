"""The interactive API documentation (Swagger UI at ``/docs``, ReDoc at ``/redoc``) from assets
this installation serves itself (the ``fastapi-offline`` package ships them; Swagger UI is
Apache-2.0, ReDoc MIT), so the pages work offline and load nothing from another site: their
Content-Security-Policy allows this site's files only (ReDoc's "by Redocly" logo, which it
would fetch from a CDN, is refused and hidden)."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the documentation pages' scripts, stylesheet and icon are served.
ASSETS = "/docs/assets"
#: A script written into the page (Swagger UI's start), allowed by its digest alone.
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page, allowed to load only this site's files (and its own inline script). Looser
    than the console's (``web.render``) where the two viewers need it: inline styles (both
    write them), ``data:`` images (Swagger UI's icons) and a ``blob:`` worker (ReDoc's search)."""
    body = bytes(page.body).decode()
    digests = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self' {digests}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; worker-src blob:; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


def install_docs(app: FastAPI, openapi_url: str) -> None:
    """Serve ``/docs`` and ``/redoc`` over ``openapi_url``, and their assets under
    :data:`ASSETS`; none of them is in the OpenAPI document."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=None,
        )
        return with_policy(page)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return with_policy(page)
