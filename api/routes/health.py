"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.errors import RETRY_AFTER, RETRY_AFTER_SECONDS
from api.routing import api_router
from api.schemas import Health
from infra.broker import broker_answers
from migrations import schema_ready

router = api_router(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up. A coroutine that touches nothing: it waits on no dependency, and
    not on the thread pool that requests blocked on one may have filled."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "headers": RETRY_AFTER}},
)
def readyz(services: ServicesDep) -> JSONResponse:
    """The database answers with its schema at the latest migration (or past it, see
    :func:`migrations.schema_ready`), and the broker answers, right now; the body names each
    check."""
    revisions = services.db.schema_revisions()
    checks = {
        "database": revisions is not None,
        "schema": revisions is not None and schema_ready(revisions),
        "broker": broker_answers(services.broker),
    }
    ok = all(checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    headers = None if ok else {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503, headers=headers)
