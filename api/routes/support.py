"""Support routes: what support agents see and settle. Customers get 403 here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import SupportAgent, UowDep
from api.errors import error_responses
from api.schemas import EmailList, EmailOut
from domain.models import Email, EmailStatus

router = APIRouter(prefix="/v1/support", tags=["support"])


@router.get("/emails", response_model=EmailList, responses=error_responses(401, 403, 422))
def list_emails(
    uow: UowDep,
    _agent: SupportAgent,
    status: Annotated[Literal["queued", "sent", "failed", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EmailList:
    """Emails by status, newest first: ``dead`` ones ran out of retries, ``failed`` ones were
    refused for good by the mail server; ``last_error`` says why."""
    query = select(Email).order_by(Email.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(Email.status == status)
    return EmailList(
        items=[
            EmailOut(
                id=e.id,
                template=e.template,
                to_address=e.to_address,
                team_id=e.team_id,
                status=EmailStatus(e.status),
                attempts=e.attempts,
                last_error=e.last_error,
                created_at=e.created_at,
                sent_at=e.sent_at,
            )
            for e in uow.session.scalars(query)
        ]
    )
