"""Go to Production as rules: which applications the review job sends to a support agent, and
that a team waits for the decision. The whole way over HTTP, with the agent's decision and
the emails, in tests/e2e/test_production.py."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from domain import payments, production
from domain.errors import Conflict
from domain.models import ApplicationStatus, ProductionStatus, Team
from infra.services import Services
from tests.rules.conftest import People, refused
from tests.support import CARD, PRODUCTION_FORM

RISKS = [
    ({"contact_email": "someone@mailinator.com"}, "disposable"),
    ({"contact_email": "someone@eu.yopmail.com"}, "disposable"),
    ({"expected_monthly_requests": 50_000_000}, "above"),
]


@pytest.mark.parametrize("changes, reason", RISKS)
def test_risky_applications_go_to_a_support_agent(
    session: Session, services: Services, people: People, changes: dict[str, Any], reason: str
) -> None:
    owner = people.sign_up("Olive")
    team_id = people.team_of(owner)
    payments.set_payment_method(session, owner, team_id, payments.CardOnFile(**CARD))
    form = production.Application(**PRODUCTION_FORM | changes)
    submitted = production.submit_application(session, owner, team_id, form)
    session.commit()

    policy = production.ReviewPolicy(
        manual_review_above=services.settings.production_manual_review_above
    )
    reviewed = production.review_application(session, submitted.id, policy)
    session.commit()

    assert reviewed is not None and reviewed.status == ApplicationStatus.MANUAL_REVIEW
    assert any(reason in r for r in reviewed.reasons)
    assert session.get_one(Team, team_id).production_status != ProductionStatus.APPROVED
    # No second application meanwhile.
    with refused(session, Conflict, "review_in_progress"):
        production.submit_application(session, owner, team_id, form)
