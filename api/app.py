"""The FastAPI application, made by a function from a runtime (nothing built at import)."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import accounts, health, support, teams
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
    for module in (health, accounts, teams, support):
        app.include_router(module.router)
    return app
