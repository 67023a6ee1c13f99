"""The FastAPI application, made by a function from a runtime (nothing built at import)."""

from __future__ import annotations

from fastapi import FastAPI

from api.access_log import AccessLog
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

    app.add_middleware(AccessLog)

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
