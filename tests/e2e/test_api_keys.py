"""API keys over HTTP with the key job: every cell of the matrix for keys, reveal-once,
deletion stopping a key at once, and the job's re-checks (each of them, and the reveal window,
on a database session in tests/rules/test_api_keys.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.models import ApiKey
from tests.conftest import System
from tests.e2e.conftest import AddSupportAgent
from tests.support import text_body, to, wait_until

Person = dict[str, Any]


@pytest.fixture
def team(system: System) -> dict[str, Person]:
    """An approved team with an owner and a user, and an outsider with a team of their own."""
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma", role="user")
    outsider = system.sign_up("Xavier")
    system.approve_for_production(owner["team"]["id"])
    return {"owner": owner, "user": user, "outsider": outsider, "team_id": owner["team"]["id"]}


def keys_url(team: dict[str, Person], key_id: str = "") -> str:
    return f"/v1/teams/{team['team_id']}/api-keys" + (f"/{key_id}" if key_id else "")


def create(
    system: System, team: dict[str, Person], who: str, kind: str, name: str = "key"
) -> httpx.Response:
    return system.http.post(
        keys_url(team), json={"name": name, "kind": kind}, headers=team[who]["headers"]
    )


def active_key(system: System, team: dict[str, Person], who: str, kind: str) -> dict[str, Any]:
    response = create(system, team, who, kind, name=f"{who}'s {kind} key")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    key_id = response.json()["id"]

    def active() -> dict[str, Any] | None:
        body: dict[str, Any] = system.http.get(
            keys_url(team, key_id), headers=team[who]["headers"]
        ).json()
        return body if body["status"] == "active" else None

    return dict(wait_until(active, what="the key job"))


def reveal(system: System, team: dict[str, Person], who: str, key_id: str) -> httpx.Response:
    return system.http.post(keys_url(team, key_id) + "/reveal", headers=team[who]["headers"])


def use(system: System, secret: str, request_id: str = "r1") -> httpx.Response:
    return system.http.post(
        "/v1/usage",
        headers={"Authorization": f"Bearer {secret}"},
        json={"id": request_id, "model": "gpt-x", "input_tokens": 10, "output_tokens": 5},
    )


# --- trial keys ----------------------------------------------------------------------------


def test_members_create_list_reveal_and_rename_trial_keys(
    system: System, team: dict[str, Person]
) -> None:
    key = active_key(system, team, "user", "trial")
    assert key["masked"].startswith("tk_trial_…") and len(key["masked"]) == len("tk_trial_…") + 4
    for who in ("user", "owner"):
        listed = system.http.get(keys_url(team), headers=team[who]["headers"])
        assert [k["id"] for k in listed.json()["items"]] == [key["id"]]
        assert "secret" not in listed.text and "tk_trial_" in listed.text
        first, again = reveal(system, team, who, key["id"]), reveal(system, team, who, key["id"])
        assert first.status_code == again.status_code == 200
        assert first.json()["secret"] == again.json()["secret"]  # copy at any time
        assert first.json()["secret"].endswith(key["masked"][-4:])
        renamed = system.http.patch(
            keys_url(team, key["id"]), json={"name": f"by {who}"}, headers=team[who]["headers"]
        )
        assert renamed.status_code == 200 and renamed.json()["name"] == f"by {who}"


def test_only_owners_delete_trial_keys(system: System, team: dict[str, Person]) -> None:
    key = active_key(system, team, "user", "trial")
    refused = system.http.delete(keys_url(team, key["id"]), headers=team["user"]["headers"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_allowed"
    assert (
        system.http.delete(keys_url(team, key["id"]), headers=team["owner"]["headers"]).status_code
        == 204
    )


def test_outsiders_get_404_for_every_key_route(system: System, team: dict[str, Person]) -> None:
    key = active_key(system, team, "owner", "trial")
    headers = team["outsider"]["headers"]
    answers = [
        system.http.get(keys_url(team), headers=headers),
        system.http.post(keys_url(team), json={"name": "x", "kind": "trial"}, headers=headers),
        system.http.get(keys_url(team, key["id"]), headers=headers),
        system.http.post(keys_url(team, key["id"]) + "/reveal", headers=headers),
        system.http.patch(keys_url(team, key["id"]), json={"name": "x"}, headers=headers),
        system.http.delete(keys_url(team, key["id"]), headers=headers),
    ]
    assert [a.status_code for a in answers] == [404] * 6
    assert all(a.json()["error"]["code"] == "not_found" for a in answers)


# --- production keys -----------------------------------------------------------------------


def test_production_keys_need_an_approved_team(system: System) -> None:
    owner = system.sign_up("Nora")
    refused = system.http.post(
        f"/v1/teams/{owner['team']['id']}/api-keys",
        json={"name": "live", "kind": "production"},
        headers=owner["headers"],
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "production_not_approved"


def test_any_member_creates_production_keys_and_owners_are_emailed(
    system: System,
    team: dict[str, Person],
) -> None:
    key = active_key(system, team, "user", "production")
    assert (
        key["masked"].startswith("tk_live_…") and key["created_by"] == team["user"]["account"]["id"]
    )
    email = system.sink.wait_for(
        lambda m: to(team["owner"]["account"]["email"])(m) and "production key" in m["Subject"]
    )
    assert "Uma created a production API key" in text_body(email)
    assert key["masked"] in text_body(email)
    assert (
        system.sink.count(
            lambda m: to(team["user"]["account"]["email"])(m) and "production key" in m["Subject"]
        )
        == 0
    )
    # Everyone in the team sees that it exists, masked.
    listed = system.http.get(keys_url(team), headers=team["owner"]["headers"]).json()["items"]
    assert [k["masked"] for k in listed] == [key["masked"]]


def test_a_production_key_is_revealed_once_to_its_creator(
    system: System, team: dict[str, Person]
) -> None:
    key = active_key(system, team, "user", "production")
    assert key["revealable"] is True
    not_creator = reveal(system, team, "owner", key["id"])
    assert not_creator.status_code == 403
    shown = reveal(system, team, "user", key["id"])
    assert shown.status_code == 200 and shown.json()["secret"].startswith("tk_live_")
    again = reveal(system, team, "user", key["id"])
    assert again.status_code == 410 and again.json()["error"]["code"] == "already_revealed"
    with system.runtime.db.unit_of_work() as uow:
        row = uow.session.get(ApiKey, key["id"])
        assert row is not None and row.secret_encrypted is None  # wiped
    assert use(system, shown.json()["secret"]).status_code == 202


def test_revealing_a_pending_key_is_409_not_ready(system: System, team: dict[str, Person]) -> None:
    with system.jobs_held():
        pending = create(system, team, "owner", "trial").json()
        answer = reveal(system, team, "owner", pending["id"])
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_ready"


def test_only_owners_rename_and_delete_production_keys(
    system: System, team: dict[str, Person]
) -> None:
    key = active_key(system, team, "user", "production")
    url = keys_url(team, key["id"])
    assert (
        system.http.patch(url, json={"name": "x"}, headers=team["user"]["headers"]).status_code
        == 403
    )
    assert system.http.delete(url, headers=team["user"]["headers"]).status_code == 403
    assert (
        system.http.patch(url, json={"name": "gateway"}, headers=team["owner"]["headers"]).json()[
            "name"
        ]
        == "gateway"
    )
    assert system.http.delete(url, headers=team["owner"]["headers"]).status_code == 204
    email = system.sink.wait_for(
        lambda m: to(team["owner"]["account"]["email"])(m) and "deleted" in m["Subject"]
    )
    assert "Olive deleted the production API key gateway" in text_body(email)


def test_a_deleted_key_fails_at_once(system: System, team: dict[str, Person]) -> None:
    key = active_key(system, team, "owner", "trial")
    secret = reveal(system, team, "owner", key["id"]).json()["secret"]
    assert use(system, secret, "before").status_code == 202
    system.http.delete(keys_url(team, key["id"]), headers=team["owner"]["headers"])
    after = use(system, secret, "after")
    assert after.status_code == 401 and after.json()["error"]["code"] == "invalid_key"
    assert (
        system.http.get(keys_url(team, key["id"]), headers=team["owner"]["headers"]).json()[
            "status"
        ]
        == "deleted"
    )


def test_the_job_fails_the_key_if_its_requester_left(
    system: System, team: dict[str, Person]
) -> None:
    with system.jobs_held():
        pending = create(system, team, "user", "trial").json()
        left = system.http.delete(
            f"/v1/teams/{team['team_id']}/members/{team['user']['account']['id']}",
            headers=team["user"]["headers"],
        )
        assert left.status_code == 204
    key = wait_until(
        lambda: (
            (
                k := system.http.get(
                    keys_url(team, pending["id"]), headers=team["owner"]["headers"]
                ).json()
            )["status"]
            != "pending"
            and k
        )
    )
    assert key["status"] == "failed" and "no longer allowed" in key["failure_reason"]


def test_support_agents_cannot_see_keys(
    system: System,
    team: dict[str, Person],
    add_support_agent: AddSupportAgent,
) -> None:
    agent = add_support_agent()
    listed = system.http.get(keys_url(team), headers=agent["headers"])
    assert listed.status_code == 403
