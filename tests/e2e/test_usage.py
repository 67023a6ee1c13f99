"""Usage over HTTP, authenticated by the key itself: idempotency, dating, last-used times, and
the history members read. How far back a call may be dated, and the trial cap's rule, on a
database session in tests/rules/test_usage.py; here only the cap's answer over HTTP (429,
Retry-After)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from domain.models import ApiKey
from infra.settings import Settings
from tests.conftest import System, running_system
from tests.error_body import assert_error
from tests.faulty_sink import FaultySink
from tests.support import wait_until


@pytest.fixture
def keyed(system: System) -> dict[str, Any]:
    """An owner, a user, and an active trial key's secret."""
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    team_id = owner["team"]["id"]
    key_id = system.http.post(
        f"/v1/teams/{team_id}/api-keys",
        json={"name": "k", "kind": "trial"},
        headers=owner["headers"],
    ).json()["id"]
    url = f"/v1/teams/{team_id}/api-keys/{key_id}"
    wait_until(lambda: system.http.get(url, headers=owner["headers"]).json()["status"] == "active")
    secret = system.http.post(url + "/reveal", headers=owner["headers"]).json()["secret"]
    return {"owner": owner, "user": user, "team_id": team_id, "key_id": key_id, "secret": secret}


def call(system: System, secret: str, **fields: Any) -> httpx.Response:
    body = {"id": "req-1", "model": "gpt-x", "input_tokens": 100, "output_tokens": 20} | fields
    return system.http.post("/v1/usage", json=body, headers={"Authorization": f"Bearer {secret}"})


def history(
    system: System, keyed: dict[str, Any], who: str = "owner", **params: str
) -> httpx.Response:
    return system.http.get(
        f"/v1/teams/{keyed['team_id']}/usage", params=params, headers=keyed[who]["headers"]
    )


def test_calls_are_recorded_once_per_id(system: System, keyed: dict[str, Any]) -> None:
    first = call(system, keyed["secret"])
    again = call(system, keyed["secret"])
    other = call(system, keyed["secret"], id="req-2", model="gpt-y", input_tokens=7)
    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 202)
    assert first.json() == {"status": "recorded"} and again.json() == {"status": "duplicate"}

    items = history(system, keyed, who="user").json()["items"]
    today = datetime.now(UTC).date().isoformat()
    assert items == [
        {
            "date": today,
            "model": "gpt-x",
            "key_kind": "trial",
            "calls": 1,
            "input_tokens": 100,
            "output_tokens": 20,
        },
        {
            "date": today,
            "model": "gpt-y",
            "key_kind": "trial",
            "calls": 1,
            "input_tokens": 7,
            "output_tokens": 20,
        },
    ]


@pytest.fixture
def one_trial_call_a_month(settings: Settings, sink: FaultySink) -> Iterator[System]:
    with running_system(settings.model_copy(update={"trial_monthly_calls": 1}), sink) as running:
        yield running


def test_trial_calls_past_the_monthly_cap_answer_429_with_retry_after(
    one_trial_call_a_month: System,
) -> None:
    system = one_trial_call_a_month
    secret = system.key_secret(system.sign_up("Olive"))
    assert call(system, secret, id="c0").status_code == 202
    over = call(system, secret, id="c1")
    assert_error(over, 429, "trial_cap_reached")
    assert int(over.headers["Retry-After"]) > 0


def test_typod_made_up_and_missing_keys_are_401(system: System, keyed: dict[str, Any]) -> None:
    secret: str = keyed["secret"]
    typo = secret[:-3] + ("a" if secret[-3] != "a" else "b") + secret[-2:]
    made_up = "tk_trial_" + "A" * 38
    for bad in (typo, made_up, "hello"):
        answer = call(system, bad)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_key"
    assert (
        system.http.post(
            "/v1/usage", json={"id": "x", "model": "m", "input_tokens": 1, "output_tokens": 1}
        ).status_code
        == 401
    )


def test_last_used_is_written_coalesced_not_per_call(system: System, keyed: dict[str, Any]) -> None:
    for n in range(5):
        call(system, keyed["secret"], id=f"u{n}")

    def last_used() -> datetime | None:
        with system.runtime.db.unit_of_work() as uow:
            return uow.session.scalar(
                select(ApiKey.last_used_at).where(ApiKey.id == keyed["key_id"])
            )

    assert last_used() is None  # nothing written per call
    assert system.runtime.last_used.flush() == 1  # one write for five calls
    assert last_used() is not None
    listed = system.http.get(
        f"/v1/teams/{keyed['team_id']}/api-keys", headers=keyed["owner"]["headers"]
    ).json()["items"]
    assert listed[0]["last_used_at"] is not None


def test_usage_history_is_for_members_only(system: System, keyed: dict[str, Any]) -> None:
    outsider = system.sign_up("Xavier")
    hidden = system.http.get(f"/v1/teams/{keyed['team_id']}/usage", headers=outsider["headers"])
    assert hidden.status_code == 404
    backwards = history(system, keyed, start="2026-02-01", end="2026-01-01")
    assert backwards.status_code == 422
    assert history(system, keyed, start="not-a-date").status_code == 422


def test_bad_usage_bodies_are_422(system: System, keyed: dict[str, Any]) -> None:
    for bad in (
        {"input_tokens": -1},
        {"output_tokens": "many"},
        {"model": ""},
        {"occurred_at": "yesterday"},
        {"extra": 1},
    ):
        answer = call(system, keyed["secret"], **bad)
        assert answer.status_code == 422, bad


def test_calls_are_dated_by_their_utc_day(system: System, keyed: dict[str, Any]) -> None:
    utc = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    if utc > datetime.now(UTC):
        utc -= timedelta(days=1)
    new_york = utc.astimezone(timezone(timedelta(hours=-5)))  # 21:00 the day before there
    assert (
        call(system, keyed["secret"], id="ny", occurred_at=new_york.isoformat()).status_code == 202
    )
    day = utc.date().isoformat()
    assert [i["date"] for i in history(system, keyed, start=day, end=day).json()["items"]] == [day]


def test_absurd_history_dates_are_422_not_500(system: System, keyed: dict[str, Any]) -> None:
    assert history(system, keyed, end="0001-01-05").status_code == 422
    assert history(system, keyed, start="9999-12-31").status_code == 422
