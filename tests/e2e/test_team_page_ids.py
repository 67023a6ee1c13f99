"""A team's things named by their real ids on another team's pages: an outsider (a signed-in
owner of a team of their own) who puts our invitation's, key's, member's, model's, invoice's or
session's id into a team page's address gets the 404 page, sees none of it, and changes
nothing, whether the page is read or its form posted with the outsider's valid form token.
(tests/e2e/test_page_authorization.py asks every page with ids that name nothing.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import System
from tests.e2e.test_invoices import PERIOD, down_since_last_month, run_scheduler, use
from tests.e2e.test_page_authorization import OURS, page_calls
from tests.e2e.test_pages import signed_in
from tests.support import wait_until

Person = dict[str, Any]

#: Every team and account page whose address names one of the team's things, and what it names.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/team/keys/{key_id}/row"): "key",
    ("POST", "/team/keys/{key_id}/reveal"): "key",
    ("POST", "/team/keys/{key_id}/rename"): "key",
    ("POST", "/team/keys/{key_id}/delete"): "key",
    ("POST", "/team/members/{account_id}/role"): "member",
    ("POST", "/team/members/{account_id}/remove"): "member",
    ("POST", "/team/invitations/{invitation_id}/resend"): "invitation",
    ("POST", "/team/invitations/{invitation_id}/revoke"): "invitation",
    ("POST", "/team/models/{model_id}/delete"): "model",
    ("GET", "/team/billing/invoices/{invoice_id}"): "invoice",
    ("GET", "/team/billing/invoices/{invoice_id}.pdf"): "invoice",
    ("POST", "/account/sessions/{session_id}/end"): "session",
}


def test_every_page_with_an_id_is_asked_below() -> None:
    """A page added with an id in its address is added here too, or this fails."""
    with_ids = {
        (call.method, call.path)
        for call in page_calls()
        if (call.team or call.account) and call.has_parameters
    }
    assert with_ids == set(ROUTES)


def items(system: System, owner: Person, path: str) -> Any:
    answer = system.http.get(f"/v1/teams/{owner['team']['id']}/{path}", headers=owner["headers"])
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()["items"]


def state(system: System, owner: Person) -> dict[str, Any]:
    """All that the pages above could change, as the owner's API shows it."""
    sessions = system.http.get("/v1/me/sessions", headers=owner["headers"]).json()["items"]
    return {
        "members": items(system, owner, "members"),
        "invitations": items(system, owner, "invitations"),
        "keys": items(system, owner, "api-keys"),
        "models": items(system, owner, "custom-models"),
        "invoices": items(system, owner, "invoices"),
        "events": items(system, owner, "events"),
        "sessions": sorted(s["id"] for s in sessions),  # their last use moves as we ask
        "emails": len(system.sink.messages),
    }


def made_key(system: System, owner: Person) -> tuple[str, str]:
    """A trial key (its secret is the word never to show: a reveal would put it on the page)."""
    secret = system.key_secret(owner, name="olive's laptop")
    [key] = items(system, owner, "api-keys")
    return key["id"], secret


def made_member(system: System, owner: Person) -> tuple[str, str]:
    uma = system.join(owner["team"]["id"], "Uma")
    return uma["account"]["id"], uma["account"]["email"]


def made_invitation(system: System, owner: Person) -> tuple[str, str]:
    email = "ivy.ids@example.com"
    answer = system.http.post(
        f"/v1/teams/{owner['team']['id']}/invitations",
        json={"email": email, "role": "user"},
        headers=owner["headers"],
    )
    assert answer.status_code == 202, answer.text

    def sent() -> bool:  # the email job done: nothing moves on its own meanwhile
        return bool(items(system, owner, "invitations")[0]["status"] == "sent")

    wait_until(sent, what="the invitation sent")
    return answer.json()["id"], email


def made_model(system: System, owner: Person) -> tuple[str, str]:
    answer = system.http.post(
        f"/v1/teams/{owner['team']['id']}/custom-models",
        json={"name": "olive-bot", "base_model": "teamkeys-large"},
        headers=owner["headers"],
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], "olive-bot"


def made_invoice(system: System, owner: Person) -> tuple[str, str]:
    system.approve_for_production(owner["team"]["id"])
    live = system.key_secret(owner, "production")
    use(system, live, "a", "teamkeys-large", 1_000_000, 100_000)
    down_since_last_month(system)
    assert PERIOD in run_scheduler(system)
    [invoice] = wait_until(lambda: items(system, owner, "invoices"), what="the month's invoice")
    # Its email goes out on its own time: wait for it, so it is not counted as a change.
    wait_until(
        lambda: system.sink.count(lambda m: m["X-Teamkeys-Email"] == "invoice_ready"),
        what="the invoice's email",
    )
    return invoice["id"], PERIOD


def made_session(system: System, owner: Person) -> tuple[str, str]:
    sessions = system.http.get("/v1/me/sessions", headers=owner["headers"]).json()["items"]
    return sessions[0]["id"], owner["account"]["email"]


#: How each kind of thing is made in the owner's team: its id, and a word of it that an
#: outsider's page must not show (the key's secret, the member's email, the model's name…).
MAKE: dict[str, Callable[[System, Person], tuple[str, str]]] = {
    "key": made_key,
    "member": made_member,
    "invitation": made_invitation,
    "model": made_model,
    "invoice": made_invoice,
    "session": made_session,
}


@pytest.mark.parametrize(
    ("method", "path"), [pytest.param(*route, id=" ".join(route)) for route in sorted(ROUTES)]
)
def test_an_outsider_naming_our_things_gets_the_404_page_and_changes_nothing(
    system: System, method: str, path: str
) -> None:
    olive = system.sign_up("Olive")
    thing, word = MAKE[ROUTES[(method, path)]](system, olive)
    otto = system.sign_up("Otto")
    before = state(system, olive)
    client, token = signed_in(system, otto, "/team/members")
    try:
        url = path.replace(path[path.index("{") : path.index("}") + 1], thing)
        data = {"csrf_token": token, "role": "user", "name": "mine now"}
        answer = client.get(url) if method == "GET" else client.post(url, data=data)
        assert answer.status_code == 404, (url, answer.status_code)
        assert OURS not in answer.text and word not in answer.text
    finally:
        client.close()
    assert state(system, olive) == before
