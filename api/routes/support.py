"""Support routes: what support agents see and settle. Customers get 403 here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import SupportAgent, UowDep
from api.errors import error_responses
from api.schemas import (
    Decision,
    EmailList,
    EmailOut,
    SupportProductionApplication,
    SupportProductionApplicationList,
    TeamRef,
)
from domain import production
from domain.models import ApplicationStatus, Email, EmailStatus, ProductionApplication, Team

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


def support_application(
    application: ProductionApplication, team: Team
) -> SupportProductionApplication:
    return SupportProductionApplication(
        id=application.id,
        status=ApplicationStatus(application.status),
        team=TeamRef(id=team.id, name=team.name),
        company_name=application.company_name,
        website=application.website,
        use_case=application.use_case,
        expected_monthly_requests=application.expected_monthly_requests,
        contact_email=application.contact_email,
        submitted_by=application.submitted_by,
        submitted_at=application.submitted_at,
        decided_at=application.decided_at,
        reasons=list(application.reasons),
    )


@router.get(
    "/production-applications",
    response_model=SupportProductionApplicationList,
    responses=error_responses(401, 403, 422),
)
def list_production_applications(
    uow: UowDep,
    agent: SupportAgent,
    status: Annotated[ApplicationStatus | None, Query()] = None,
) -> SupportProductionApplicationList:
    """Applications by status, oldest first: ``manual_review`` is the queue to work."""
    found = production.applications_for_support(uow.session, agent, status)
    return SupportProductionApplicationList(items=[support_application(a, t) for a, t in found])


def _settle(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent, approve: bool
) -> SupportProductionApplication:
    application = production.settle_manual_review(
        uow.session, agent, application_id, approve=approve, reason=body.reason
    )
    uow.commit()
    team = uow.session.get(Team, application.team_id)
    assert team is not None
    return support_application(application, team)


@router.post(
    "/production-applications/{application_id}/approve",
    response_model=SupportProductionApplication,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def approve_production_application(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent
) -> SupportProductionApplication:
    """Approve an application in manual review, with the reason owners will read."""
    return _settle(application_id, body, uow, agent, approve=True)


@router.post(
    "/production-applications/{application_id}/reject",
    response_model=SupportProductionApplication,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def reject_production_application(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent
) -> SupportProductionApplication:
    """Reject an application in manual review, with the reason owners will read."""
    return _settle(application_id, body, uow, agent, approve=False)
