"""Usage (docs/api.md): the gateway records calls with the API key; members read the history."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse

from api.deps import BearerDep, CurrentAccount, ServicesDep, UowDep
from api.routing import answer, api_router
from api.schemas import UsageAccepted, UsageCall, UsageList
from domain import usage
from domain.clock import utcnow
from domain.errors import InvalidKey

router = api_router(prefix="/v1", tags=["usage"])


@router.post("/usage", **answer(UsageAccepted, 400, 401, 422, 429, status=202))
def record(
    body: UsageCall, uow: UowDep, credentials: BearerDep, services: ServicesDep
) -> JSONResponse:
    """Record one call, authenticated by the API key itself. The same ``id`` again is
    answered 202 and not counted twice. Trial calls past the monthly cap are 429."""
    if credentials is None:
        raise InvalidKey("Send the API key: 'Authorization: Bearer <key>'.")
    recorded = usage.record_usage(
        uow.session,
        credentials.credentials,
        usage.Call(request_id=body.id, **body.model_dump(exclude={"id"})),
        services.usage_policy,
    )
    uow.commit()
    services.last_used.touch(recorded.api_key_id, utcnow())
    return JSONResponse(
        {"status": "duplicate" if recorded.duplicate else "recorded"}, status_code=202
    )


@router.get("/teams/{team_id}/usage", **answer(UsageList, 401, 403, 404, 422))
def history(
    team_id: str,
    uow: UowDep,
    account: CurrentAccount,
    start: Annotated[
        date | None,
        Query(description="first day (UTC), default 30 days ago"),
    ] = None,
    end: Annotated[
        date | None, Query(description="last day (UTC), inclusive, default today")
    ] = None,
) -> UsageList:
    """Calls and tokens by day, model and key kind."""
    return UsageList.of(usage.usage_history(uow.session, account, team_id, start=start, end=end))
