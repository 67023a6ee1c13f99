"""Usage as rules: how far back a call may be dated, and the trial cap. The calls over HTTP,
authenticated by the key, and the history members read, in tests/e2e/test_usage.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from domain import api_keys, usage
from domain.errors import InvalidInput, Throttled
from domain.models import Account, KeyKind
from infra.services import Services
from tests.rules.conftest import People, refused


@pytest.fixture
def keyed(session: Session, services: Services, people: People) -> tuple[Account, str, str]:
    """An owner, their team, and the secret of its active trial key."""
    owner = people.sign_up("Olive")
    team_id = people.team_of(owner)
    key = api_keys.request_api_key(session, owner, team_id, name="k", kind=KeyKind.TRIAL)
    api_keys.generate_api_key(session, services.secret_box, key.id)
    secret = api_keys.reveal_api_key(
        session, services.secret_box, owner, team_id, key.id, services.key_policy
    )
    session.commit()
    return owner, team_id, secret


def call(
    session: Session, secret: str, request_id: str, occurred_at: datetime | None = None
) -> usage.Recorded:
    """``POST /v1/usage``'s work, with a cap of three trial calls a month."""
    recorded = usage.record_usage(
        session,
        secret,
        usage.Call(request_id, "gpt-x", 100, 20, occurred_at),
        usage.UsagePolicy(trial_monthly_calls=3),
    )
    session.commit()
    return recorded


def test_calls_may_be_dated_back_35_days_but_never_ahead(
    session: Session, keyed: tuple[Account, str, str]
) -> None:
    owner, team_id, secret = keyed
    now = datetime.now(UTC)
    call(session, secret, "old", now - timedelta(days=34))
    with refused(session, InvalidInput, "invalid_occurred_at"):
        call(session, secret, "older", now - timedelta(days=36))
    with refused(session, InvalidInput, "invalid_occurred_at"):
        call(session, secret, "ahead", now + timedelta(minutes=5))

    day = (now - timedelta(days=34)).date()
    rows = usage.usage_history(session, owner, team_id, start=day, end=day)
    assert [row.calls for row in rows] == [1]


def test_trial_calls_past_the_monthly_cap_are_refused(
    session: Session, keyed: tuple[Account, str, str]
) -> None:
    _owner, _team_id, secret = keyed
    for n in range(3):
        assert not call(session, secret, f"c{n}").duplicate

    with pytest.raises(Throttled) as over:
        call(session, secret, "c3")
    assert over.value.code == "trial_cap_reached" and over.value.retry_after > 0
    session.rollback()
    # A repeat of a counted call is still fine, and the refused one was not kept.
    assert call(session, secret, "c0").duplicate
    with pytest.raises(Throttled):
        call(session, secret, "c3")
