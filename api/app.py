"""The FastAPI application, made by a function from a runtime (nothing built at import)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from api.errors import install_error_handlers
from api.routes import (
    accounts,
    api_keys,
    custom_models,
    health,
    invitations,
    invoices,
    migrations,
    production,
    support,
    teams,
    usage,
)
from teamkeys.runtime import Runtime

access = logging.getLogger("teamkeys.access")


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="teamkeys",
        version="1",
        description="Teams and Roles: teams, members, invitations, API keys, production review, "
        "account migrations, usage and invoices. Errors are "
        '`{"error": {"code": "...", "message": "..."}}`.',
    )
    app.state.runtime = runtime
    install_error_handlers(app)

    @app.middleware("http")
    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """One line per request, naming the route's template rather than the path, so a token
        in a path (an invitation link) never reaches a log."""
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "(no route)")
        access.info(
            "%s %s -> %d in %.1f ms",
            request.method,
            route,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    for module in (
        health,
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
    return app
