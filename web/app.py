"""Serving the web console from the API's application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web.render import web_root
from web.routes import (
    public,
    support,
    team,
    team_billing,
    team_keys,
    team_members,
    team_usage,
)

#: Every page and form of the console, one router per part.
ROUTERS = (
    public.router,
    support.router,
    team.router,
    team_members.router,
    team_keys.router,
    team_usage.router,
    team_billing.router,
)


def mount(app: FastAPI) -> None:
    """Serve the pages and their static files (the stylesheet, the icon) from ``app``."""
    app.mount("/static", StaticFiles(directory=web_root() / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
