"""One log line per request, naming the route's template rather than the path, so a token in a
path (an invitation or consent link) never reaches a log; the same request counted in the
metrics by that template; and the request's id.

The id is the client's ``X-Request-ID`` when it is a short token (a proxy or a caller that
made one), else a new one. It is answered in ``X-Request-ID``, set in ``infra.logs.request_id``
for every line logged while the request is served, and recorded on the jobs the request writes,
whose log lines carry it too.

A plain ASGI middleware: it only watches the response's start go by. (Starlette's
``BaseHTTPMiddleware`` would run every request through a second task and a memory stream,
which cost about a tenth of the web process's CPU per request.)
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.logs import request_id
from infra.metrics import Metrics

log = logging.getLogger("teamkeys.access")

#: A request id we take as given: up to 64 (``jobs.request_id``) characters a log line and a
#: header can carry as they are. Anything else is replaced, never trusted into a log.
GIVEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=@-]{0,63}")
HEADER = b"x-request-id"
#: The label of a request that matched no route (a 404 before any route).
NO_ROUTE = "(no route)"


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` if it is one we may use, else a new id."""
    for name, value in scope["headers"]:
        if name == HEADER:
            given = value.decode("latin-1")
            if GIVEN_ID.fullmatch(given):
                return str(given)
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``/v1/invitations/{token}``), never the path;
    for a mounted app (static files), its mount's (``/static/{path}``)."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    mounted = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    if "endpoint" in scope and mounted:
        return mounted + "/{path}"
    return NO_ROUTE


class AccessLog:
    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering
        rid = request_id_of(scope)
        echoed = (HEADER, rid.encode())

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        context = request_id.set(rid)
        try:
            await self.app(scope, receive, watch)
        finally:
            elapsed = time.perf_counter() - started
            route = route_of(scope)
            log.info("%s %s -> %d in %.1f ms", scope["method"], route, status, elapsed * 1000)
            if self.metrics is not None:
                self.metrics.request(scope["method"], route, status, elapsed)
        # Reached when the app answered. When it raised, the id stays for the error's own log
        # line, written outside this middleware (the request's task ends with it).
        request_id.reset(context)
