"""API keys as rules: the key job's re-checks and the production key's reveal window. Over
HTTP, with the workers running the job, in tests/e2e/test_api_keys.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from domain import api_keys, teams
from domain.clock import utcnow
from domain.errors import Gone
from domain.models import Account, ApiKey, KeyKind, KeyStatus, ProductionStatus, Team
from infra.services import Services
from tests.rules.conftest import People, refused


@pytest.fixture
def team(people: People) -> tuple[str, Account, Account]:
    """An approved team with an owner and a user."""
    owner = people.sign_up("Olive")
    team_id = people.team_of(owner)
    user = people.join(team_id, "Uma")
    people.approve_for_production(team_id)
    return team_id, owner, user


def requested(session: Session, team_id: str, by: Account, kind: KeyKind) -> ApiKey:
    """A pending key, as ``POST …/api-keys`` leaves it for its job."""
    key = api_keys.request_api_key(session, by, team_id, name=f"{by.name}'s key", kind=kind)
    session.commit()
    return key


def generated(session: Session, services: Services, key: ApiKey) -> ApiKey:
    """The key job's run on ``key``."""
    done = api_keys.generate_api_key(session, services.secret_box, key.id)
    session.commit()
    assert done is not None
    return done


def test_the_job_fails_the_key_if_approval_went_away_meanwhile(
    session: Session, services: Services, team: tuple[str, Account, Account]
) -> None:
    team_id, owner, _user = team
    pending = requested(session, team_id, owner, KeyKind.PRODUCTION)
    session.get_one(Team, team_id).production_status = ProductionStatus.REJECTED
    session.commit()

    key = generated(session, services, pending)

    assert key.status == KeyStatus.FAILED
    assert key.failure_reason is not None and "no longer approved" in key.failure_reason
    assert key.last4 is None and key.secret_encrypted is None
    assert api_keys.generate_api_key(session, services.secret_box, key.id) is None  # done


def test_the_job_fails_the_key_if_its_requester_left(
    session: Session, services: Services, team: tuple[str, Account, Account]
) -> None:
    team_id, _owner, user = team
    pending = requested(session, team_id, user, KeyKind.TRIAL)
    teams.remove_member(session, user, team_id, user.id)
    session.commit()

    key = generated(session, services, pending)

    assert key.status == KeyStatus.FAILED
    assert key.failure_reason is not None and "no longer allowed" in key.failure_reason
    assert key.last4 is None and key.secret_encrypted is None


def test_a_production_key_cannot_be_revealed_after_the_window(
    session: Session, services: Services, team: tuple[str, Account, Account]
) -> None:
    team_id, owner, _user = team
    key = generated(session, services, requested(session, team_id, owner, KeyKind.PRODUCTION))
    assert key.status == KeyStatus.ACTIVE and key.secret_encrypted is not None
    key.activated_at = utcnow() - timedelta(minutes=16)
    session.commit()

    with refused(session, Gone, "already_revealed"):
        api_keys.reveal_api_key(
            session, services.secret_box, owner, team_id, key.id, services.key_policy
        )

    # The sweep wipes a secret nobody revealed in time (invariant 3).
    assert api_keys.wipe_unrevealed_secrets(session, services.key_policy) == 1
    assert session.get_one(ApiKey, key.id, populate_existing=True).secret_encrypted is None
