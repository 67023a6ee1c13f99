"""Go to Production over HTTP with the review job and SMTP: automatic approval and rejection,
manual review settled by a support agent, resubmission, the payment method, and approval
unlocking production keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import System
from tests.e2e.conftest import AddSupportAgent
from tests.support import CARD, PRODUCTION_FORM, text_body, to, wait_until

Person = dict[str, Any]
FORM = PRODUCTION_FORM | {"accept_terms": True}


@pytest.fixture
def team(system: System) -> dict[str, Person]:
    owner = system.sign_up("Olive")
    co_owner = system.join(owner["team"]["id"], "Otto", role="owner")
    user = system.join(owner["team"]["id"], "Uma", role="user")
    return {"owner": owner, "co_owner": co_owner, "user": user, "team_id": owner["team"]["id"]}


def url(team: dict[str, Person], path: str) -> str:
    return f"/v1/teams/{team['team_id']}/{path}"


def apply(
    system: System, team: dict[str, Person], who: str = "owner", **changes: Any
) -> httpx.Response:
    return system.http.put(
        url(team, "production-application"), json=FORM | changes, headers=team[who]["headers"]
    )


def add_card(system: System, team: dict[str, Person]) -> None:
    answer = system.http.put(
        url(team, "payment-method"), json=CARD, headers=team["owner"]["headers"]
    )
    assert answer.status_code == 200, answer.text


def decided(system: System, team: dict[str, Person], *statuses: str) -> dict[str, Any]:
    def read() -> dict[str, Any] | None:
        body: dict[str, Any] = system.http.get(
            url(team, "production-application"), headers=team["user"]["headers"]
        ).json()
        return body if body["status"] in statuses else None

    return dict(wait_until(read, what=f"the review to reach {statuses}"))


def decision_emails(system: System, team: dict[str, Person], words: str) -> list[Any]:
    return [
        m
        for m in system.sink.messages
        if words in m["Subject"]
        and any(to(team[w]["account"]["email"])(m) for w in ("owner", "co_owner"))
    ]


def test_with_a_card_on_file_an_application_is_approved_and_unlocks_production_keys(
    system: System,
    team: dict[str, Person],
) -> None:
    assert (
        system.http.get(
            url(team, "production-application"), headers=team["user"]["headers"]
        ).json()["status"]
        == "none"
    )
    add_card(system, team)
    submitted = apply(system, team)
    assert submitted.status_code == 202 and submitted.json() == {"status": "submitted"}
    result = decided(system, team, "approved")
    assert result["decided_at"] and result["reasons"]
    wait_until(
        lambda: len(decision_emails(system, team, "approved for production")) == 2,
        what="both owners emailed",
    )
    assert (
        system.sink.count(
            lambda m: to(team["user"]["account"]["email"])(m) and "production" in m["Subject"]
        )
        == 0
    )
    assert (
        system.http.get(f"/v1/teams/{team['team_id']}", headers=team["user"]["headers"]).json()[
            "production_status"
        ]
        == "approved"
    )
    # Any member may now create production keys.
    key = system.http.post(
        url(team, "api-keys"),
        json={"name": "live", "kind": "production"},
        headers=team["user"]["headers"],
    )
    assert key.status_code == 202
    # And an approved team cannot apply again.
    again = apply(system, team)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_approved"


def test_without_a_payment_method_it_is_rejected_and_may_be_resubmitted(
    system: System,
    team: dict[str, Person],
) -> None:
    assert apply(system, team).status_code == 202
    rejected = decided(system, team, "rejected")
    assert any("payment method" in r for r in rejected["reasons"])
    [email, _] = wait_until(
        lambda: (
            decision_emails(system, team, "was not approved")[:2] or None
            if len(decision_emails(system, team, "was not approved")) == 2
            else None
        ),
        what="rejection emails",
    )
    assert "No payment method is on file" in text_body(email)
    refused = system.http.post(
        url(team, "api-keys"),
        json={"name": "x", "kind": "production"},
        headers=team["owner"]["headers"],
    )
    assert (
        refused.status_code == 403 and refused.json()["error"]["code"] == "production_not_approved"
    )

    add_card(system, team)
    assert apply(system, team).status_code == 202
    assert decided(system, team, "approved")["status"] == "approved"


def test_risky_applications_go_to_a_support_agent_who_approves(
    system: System,
    team: dict[str, Person],
    add_support_agent: AddSupportAgent,
) -> None:
    """Over HTTP with a disposable contact address; every risk the review job weighs, on a
    database session, in tests/rules/test_production.py."""
    add_card(system, team)
    apply(system, team, contact_email="someone@mailinator.com")
    review = decided(system, team, "manual_review")
    assert any("disposable" in r for r in review["reasons"])
    wait_until(lambda: len(decision_emails(system, team, "with our support team")) == 2)
    # Still not approved: no production keys yet, and no second application meanwhile.
    assert apply(system, team).json()["error"]["code"] == "review_in_progress"

    agent = add_support_agent()
    queue = system.http.get(
        "/v1/support/production-applications",
        params={"status": "manual_review"},
        headers=agent["headers"],
    )
    [item] = queue.json()["items"]
    assert item["team"]["id"] == team["team_id"] and item["company_name"] == "Acme Robotics"
    approved = system.http.post(
        f"/v1/support/production-applications/{item['id']}/approve",
        json={"reason": "Checked the company; all good."},
        headers=agent["headers"],
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    result = decided(system, team, "approved")
    assert result["reasons"] == ["Checked the company; all good."]
    email = wait_until(lambda: decision_emails(system, team, "approved for production"))[0]
    assert "Decided by a support agent" in text_body(email)
    assert "Checked the company" in text_body(email)
    # Deciding twice is refused.
    twice = system.http.post(
        f"/v1/support/production-applications/{item['id']}/reject",
        json={"reason": "x"},
        headers=agent["headers"],
    )
    assert twice.status_code == 409
    events = system.http.get(url(team, "events"), headers=team["owner"]["headers"]).json()
    actions = [e["action"] for e in events["items"]]
    assert actions[:3] == [
        "production.approved",
        "production.manual_review",
        "production.submitted",
    ]
    assert events["items"][0]["actor_id"] == agent["account"]["id"]


def test_a_support_agent_rejects_a_manual_review_and_the_team_may_resubmit(
    system: System,
    team: dict[str, Person],
    add_support_agent: AddSupportAgent,
) -> None:
    add_card(system, team)
    apply(system, team, contact_email="x@guerrillamail.com")
    decided(system, team, "manual_review")
    agent = add_support_agent()
    [item] = system.http.get(
        "/v1/support/production-applications",
        params={"status": "manual_review"},
        headers=agent["headers"],
    ).json()["items"]
    rejected = system.http.post(
        f"/v1/support/production-applications/{item['id']}/reject",
        json={"reason": "Use a company contact address."},
        headers=agent["headers"],
    )
    assert rejected.status_code == 200
    assert decided(system, team, "rejected")["reasons"] == ["Use a company contact address."]
    assert apply(system, team).status_code == 202
    assert decided(system, team, "approved")["status"] == "approved"


def test_only_owners_apply_members_read_and_outsiders_see_nothing(
    system: System,
    team: dict[str, Person],
) -> None:
    refused = apply(system, team, who="user")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_allowed"
    outsider = system.sign_up("Xavier")
    hidden = system.http.put(
        url(team, "production-application"), json=FORM, headers=outsider["headers"]
    )
    assert hidden.status_code == 404
    assert (
        system.http.get(
            url(team, "production-application"), headers=outsider["headers"]
        ).status_code
        == 404
    )


def test_customers_cannot_use_the_support_queue(system: System, team: dict[str, Person]) -> None:
    for path in ("/v1/support/production-applications",):
        answer = system.http.get(path, headers=team["owner"]["headers"])
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "not_allowed"
    answer = system.http.post(
        "/v1/support/production-applications/app_x/approve",
        json={"reason": "x"},
        headers=team["owner"]["headers"],
    )
    assert answer.status_code == 403


def test_the_form_names_each_bad_field(system: System, team: dict[str, Person]) -> None:
    bad: dict[str, Any] = {
        "company_name": "",
        "website": "ftp://acme.example",
        "use_case": "too short",
        "expected_monthly_requests": 0,
        "contact_email": "not-an-email",
        "accept_terms": False,
    }
    answer = system.http.put(
        url(team, "production-application"), json=bad, headers=team["owner"]["headers"]
    )
    assert answer.status_code == 422
    fields = {f["field"] for f in answer.json()["error"]["fields"]}
    assert fields == set(bad)
    missing = system.http.put(
        url(team, "production-application"), json={}, headers=team["owner"]["headers"]
    )
    assert missing.status_code == 422


def test_payment_method_is_owners_only_and_never_a_card_number(
    system: System,
    team: dict[str, Person],
) -> None:
    assert (
        system.http.get(url(team, "payment-method"), headers=team["owner"]["headers"]).status_code
        == 404
    )
    add_card(system, team)
    shown = system.http.get(url(team, "payment-method"), headers=team["owner"]["headers"])
    assert shown.json() == {
        "billing_email": "billing@acme.example",
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
    }
    assert "pm_1Nx8Qb2eZvKYlo2C" not in shown.text
    assert (
        system.http.get(url(team, "payment-method"), headers=team["user"]["headers"]).status_code
        == 403
    )
    assert (
        system.http.put(
            url(team, "payment-method"), json=CARD, headers=team["user"]["headers"]
        ).status_code
        == 403
    )

    def put(**changes: Any) -> httpx.Response:
        return system.http.put(
            url(team, "payment-method"), json=CARD | changes, headers=team["owner"]["headers"]
        )

    for changes in (
        {"last4": "42"},
        {"last4": "abcd"},
        {"brand": "acme-card"},
        {"exp_month": 13},
        {"exp_year": 2020},
        {"card_number": "4242424242424242"},
        {"provider_token": "4242 4242 4242 4242"},
    ):
        answer = put(**changes)
        assert answer.status_code == 422, changes
        assert "4242424242424242" not in answer.text
