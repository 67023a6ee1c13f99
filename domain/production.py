"""Go to Production: owners apply, automatic checks decide or hand over to a support agent."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import emails
from domain.audit import record_event
from domain.clock import utcnow
from domain.errors import Conflict, NotFound
from domain.ids import new_id
from domain.jobs import JobName, enqueue_job
from domain.models import (
    Account,
    ApplicationStatus,
    PaymentMethod,
    ProductionApplication,
    ProductionStatus,
    Team,
)
from domain.permissions import Actor, Permission
from domain.teams import (
    actor_in,
    authorize_locked,
    authorize_member,
    lock_team,
    require_support,
    team_owners,
)

#: Statuses in which an application waits for a decision.
UNDECIDED = (ApplicationStatus.SUBMITTED, ApplicationStatus.MANUAL_REVIEW)


@dataclass(frozen=True)
class ReviewPolicy:
    #: Expected monthly requests above this go to a support agent.
    manual_review_above: int


@dataclass(frozen=True)
class Application:
    """The form, validated by the API (types, lengths, URL, e-mail, terms accepted)."""

    company_name: str
    website: str
    use_case: str
    expected_monthly_requests: int
    contact_email: str


@cache
def disposable_domains() -> frozenset[str]:
    """The list shipped with the project (``domain/disposable_domains.txt``)."""
    text = (Path(__file__).parent / "disposable_domains.txt").read_text()
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def is_disposable(email: str) -> bool:
    domain = email.rsplit("@", 1)[-1].strip().lower()
    parts = domain.split(".")
    return any(".".join(parts[i:]) in disposable_domains() for i in range(len(parts) - 1))


def submit_application(
    session: Session,
    actor: Account,
    team_id: str,
    form: Application,
) -> ProductionApplication:
    """Record the form and queue the review. An approved team cannot apply again (409); a
    rejected one may."""
    team = authorize_locked(session, actor, team_id, Permission.PRODUCTION_APPLY)
    if team.production_status == ProductionStatus.APPROVED:
        raise Conflict("This team is already approved for production.", code="already_approved")
    if team.production_status in UNDECIDED:
        raise Conflict(
            "This team's application is being reviewed; wait for the decision.",
            code="review_in_progress",
        )
    application = ProductionApplication(
        id=new_id("app"),
        team_id=team_id,
        status=ApplicationStatus.SUBMITTED,
        company_name=form.company_name.strip(),
        website=form.website,
        use_case=form.use_case.strip(),
        expected_monthly_requests=form.expected_monthly_requests,
        contact_email=form.contact_email.strip().lower(),
        submitted_by=actor.id,
        submitted_at=utcnow(),
        reasons=[],
    )
    session.add(application)
    team.production_status = ProductionStatus.SUBMITTED
    session.flush()
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="production.submitted",
        target=application.id,
        details={
            "company_name": application.company_name,
            "expected_monthly_requests": application.expected_monthly_requests,
        },
    )
    enqueue_job(session, JobName.REVIEW_PRODUCTION, application_id=application.id)
    return application


def latest_application(
    session: Session, actor: Account, team_id: str
) -> ProductionApplication | None:
    authorize_member(session, actor, team_id)
    return session.scalar(
        select(ProductionApplication)
        .where(ProductionApplication.team_id == team_id)
        .order_by(ProductionApplication.submitted_at.desc())
        .limit(1)
    )


def review_application(
    session: Session, application_id: str, policy: ReviewPolicy
) -> ProductionApplication | None:
    """The review job's automatic checks, in order; ``None`` if already reviewed.

    1. No payment method on file: ``rejected``.
    2. A disposable contact domain, or more expected requests than the threshold:
       ``manual_review`` for a support agent.
    3. Otherwise ``approved``.
    """
    application = session.get(ProductionApplication, application_id, with_for_update=True)
    if application is None or application.status != ApplicationStatus.SUBMITTED:
        return None
    team = lock_team(session, application.team_id)
    submitter = session.get(Account, application.submitted_by)
    if submitter is None or actor_in(session, submitter, team.id) is not Actor.OWNER:
        return _decide(
            session,
            application,
            team,
            ApplicationStatus.REJECTED,
            [
                "The owner who submitted the application is no longer an owner of the "
                "team; an owner submits it again."
            ],
            agent=None,
        )
    if session.get(PaymentMethod, team.id) is None:
        return _decide(
            session,
            application,
            team,
            ApplicationStatus.REJECTED,
            ["No payment method is on file: an owner adds one, then submits again."],
            agent=None,
        )
    reasons = []
    if is_disposable(application.contact_email):
        reasons.append("The contact email uses a disposable email domain.")
    if application.expected_monthly_requests > policy.manual_review_above:
        reasons.append(
            f"Expected volume ({application.expected_monthly_requests:,} requests a "
            f"month) is above {policy.manual_review_above:,}."
        )
    if reasons:
        return _decide(
            session,
            application,
            team,
            ApplicationStatus.MANUAL_REVIEW,
            [*reasons, "A support agent will review the application."],
            agent=None,
        )
    return _decide(
        session,
        application,
        team,
        ApplicationStatus.APPROVED,
        ["Payment method on file; the automatic checks passed."],
        agent=None,
    )


@dataclass(frozen=True)
class ApplicationView:
    """An application and its team, as support agents see it."""

    application: ProductionApplication
    team: Team


def settle_manual_review(
    session: Session,
    agent: Account,
    application_id: str,
    *,
    approve: bool,
    reason: str,
) -> ApplicationView:
    """A support agent decides an application the automatic checks handed over."""
    require_support(agent)
    application = session.get(ProductionApplication, application_id, with_for_update=True)
    if application is None:
        raise NotFound("No such production application.", code="no_such_application")
    if application.status != ApplicationStatus.MANUAL_REVIEW:
        raise Conflict(
            f"This application is {application.status}, not waiting for a manual review.",
            code="not_in_manual_review",
        )
    team = lock_team(session, application.team_id)
    status = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    decided = _decide(session, application, team, status, [reason.strip()], agent=agent)
    return ApplicationView(decided, team)


def applications_for_support(
    session: Session, agent: Account, status: ApplicationStatus | None
) -> list[ApplicationView]:
    require_support(agent)
    query = (
        select(ProductionApplication, Team)
        .join(Team, Team.id == ProductionApplication.team_id)
        .order_by(ProductionApplication.submitted_at)
    )
    if status is not None:
        query = query.where(ProductionApplication.status == status)
    return [ApplicationView(a, t) for a, t in session.execute(query.limit(500)).tuples()]


def _decide(
    session: Session,
    application: ProductionApplication,
    team: Team,
    status: ApplicationStatus,
    reasons: list[str],
    agent: Account | None,
) -> ProductionApplication:
    application.status = status
    application.reasons = reasons
    application.decided_by = agent.id if agent else None
    if status is not ApplicationStatus.MANUAL_REVIEW:
        application.decided_at = utcnow()
    team.production_status = ProductionStatus(status)
    event = record_event(
        session,
        team_id=team.id,
        actor_id=agent.id if agent else None,
        action=f"production.{status}",
        target=application.id,
        details={"reasons": reasons, "by": "support" if agent else "automatic"},
    )
    owners = team_owners(session, team.id)
    told = emails.production_decision(event, team, owners, status, reasons, agent)
    emails.queue_emails(session, told)
    return application
