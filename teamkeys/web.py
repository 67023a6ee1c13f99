"""The app as ``teamkeys web`` serves it."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from infra.logs import configure_logging
from infra.settings import get_settings
from teamkeys.runtime import build_runtime


def create_served_app() -> FastAPI:
    """Made by uvicorn in each of its server processes (``--workers N``): settings from the
    environment, a runtime of the process's own (database pool, broker connection), closed when
    the server shuts down."""
    settings = get_settings()
    configure_logging(settings.log_level)
    runtime = build_runtime(settings)
    return create_app(runtime, on_shutdown=runtime.close)
