"""The FastAPI application, made by a function from the shared services (nothing built at
import)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.access_log import AccessLog
from api.body_limit import BodyLimit, NoNulInPath
from api.docs import install_docs
from api.errors import FailuresAnswered, install_error_handlers
from api.routes import (
    accounts,
    api_keys,
    custom_models,
    health,
    invitations,
    invoices,
    metrics,
    migrations,
    production,
    support,
    teams,
    usage,
)
from infra.services import Services


def create_app(services: Services, *, on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if on_shutdown is not None:
                on_shutdown()

    settings = services.settings
    app = FastAPI(
        lifespan=lifespan,
        title="teamkeys",
        version="1",
        description="Teams and Roles: teams, members, invitations, API keys, production review, "
        "account migrations, usage and invoices. Errors are "
        '`{"error": {"code": "...", "message": "..."}}`.',
        # Served from our own assets (api.docs), never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)

    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        per_path={"/v1/usage": settings.usage_max_body_bytes},
    )
    app.add_middleware(NoNulInPath)
    app.add_middleware(FailuresAnswered)  # inside the access log: it logs the status answered
    app.add_middleware(AccessLog, metrics=services.metrics)
    if settings.trusted_proxies:
        # Behind these proxies the client's address is the one they forward; anyone else's
        # X-Forwarded-For is ignored (it would let a client pick its own address).
        app.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=[host.strip() for host in settings.trusted_proxies.split(",")],
        )

    for module in (
        health,
        metrics,
        accounts,
        teams,
        invitations,
        migrations,
        api_keys,
        custom_models,
        usage,
        production,
        invoices,
        support,
    ):
        app.include_router(module.router)
    install_docs(app, app.openapi_url or "/openapi.json")
    return app
