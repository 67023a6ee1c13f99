"""The application every web process serves: the HTTP API and the web console's pages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from api.app import create_app
from infra.logs import configure_logging
from infra.services import Services
from infra.settings import get_settings
from teamkeys.runtime import build_runtime
from web.app import mount


def build_app(services: Services, *, on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    """The API (``api.app``) with the pages (``web``) on the same app and port."""
    app = create_app(services, on_shutdown=on_shutdown)
    mount(app)
    return app


def create_served_app() -> FastAPI:
    """Made by uvicorn in each of its server processes (``--workers N``): settings from the
    environment, a runtime of the process's own (database pool, broker connection), closed when
    the server shuts down."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    runtime = build_runtime(settings)
    return build_app(runtime, on_shutdown=runtime.close)
