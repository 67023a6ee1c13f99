"""The metrics port of ``teamkeys worker``: one process beside Dramatiq's worker processes (a
Dramatiq fork function) serves ``GET /metrics`` with the job figures of all of them, added up
from the directory each counts into (``infra.metrics``). The same clients may read it as the
API's ``/metrics`` (``TEAMKEYS_METRICS_NETWORKS``, ``TEAMKEYS_METRICS_TOKEN``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import generate_latest

from infra.metrics import CONTENT_TYPE, METRICS_REFUSED, may_read_metrics, multiprocess_registry
from infra.settings import Settings, get_settings

log = logging.getLogger("teamkeys.metrics")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REFUSED = json.dumps({"error": {"code": "not_allowed", "message": METRICS_REFUSED}}).encode()
_NOT_FOUND = json.dumps(
    {"error": {"code": "not_found", "message": "Only /metrics is served here."}}
).encode()


def metrics_app(settings: Settings) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI application answering ``GET /metrics`` to the clients that may read it."""
    registry = multiprocess_registry()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        as_json = [("Content-Type", "application/json")]
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", as_json)
            return [_NOT_FOUND]
        client, authorization = environ.get("REMOTE_ADDR", ""), environ.get("HTTP_AUTHORIZATION")
        if not may_read_metrics(settings, client, authorization or ""):
            start_response("403 Forbidden", as_json)
            return [_REFUSED]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [generate_latest(registry)]

    return app


class _QuietHandler(WSGIRequestHandler):
    """No line per scrape on standard error."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


def serve_worker_metrics() -> int:
    """Run by Dramatiq's CLI in a process of its own until the worker stops."""
    settings = get_settings()
    port = settings.worker_metrics_port
    try:
        server = make_server("", port, metrics_app(settings), handler_class=_QuietHandler)
    except OSError as exc:
        log.error("worker metrics: cannot listen on port %d: %s", port, exc)
        return 1
    log.info("worker metrics on port %d at /metrics", port)
    with server:
        server.serve_forever()
    return 0
