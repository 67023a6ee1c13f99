"""``GET /metrics``: the Prometheus scrape (``infra.metrics``), for operators only."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.deps import ServicesDep
from api.errors import error_responses
from api.routing import api_router
from domain.errors import NotAllowed
from infra.metrics import CONTENT_TYPE, METRICS_REFUSED, may_read_metrics

router = api_router(tags=["operations"])

_SCRAPE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text format: every metric of docs/architecture.md",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    **error_responses(403),
}


@router.get("/metrics", response_class=Response, responses=_SCRAPE)
def metrics(request: Request, services: ServicesDep) -> Response:
    """The process's requests and jobs, and the database's figures. Only for clients in
    ``TEAMKEYS_METRICS_NETWORKS`` (loopback by default) or bearing ``TEAMKEYS_METRICS_TOKEN``;
    anyone else gets 403."""
    client = request.client.host if request.client else ""
    if not may_read_metrics(services.settings, client, request.headers.get("authorization", "")):
        raise NotAllowed(METRICS_REFUSED)
    return Response(services.metrics.scrape(), media_type=CONTENT_TYPE)
