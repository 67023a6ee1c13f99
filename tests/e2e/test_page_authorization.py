"""The authorization matrix over the web console: every page and every form of the app (found
from its routes, so a new page is covered the day it is added), as anonymous, outsider, user,
owner and support agent.

* Public pages (everything outside ``/support``, ``/team`` and ``/account``) answer everyone,
  never with a server error.
* Team pages (``/team…``, a member's own team): anonymous → the sign-in page; an agent (in no
  team) → 404; the owner → the page; a user → the page, but 404 on the owners' pages (billing,
  audit events); an outsider → their own team's page, never a word of ours. ``/account`` is
  every signed-in person's.
* Support pages: anonymous → the sign-in page (303, and back after); outsider, user and owner
  → 404, as if there were no such page; the agent → the page (or 404 for an unknown id).
* Every form posted without this browser's form token → 403, whoever posts it (and a forged
  support form never reaches the agent's action); with the token, support forms are refused
  to anyone but an agent as their pages are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import System
from tests.e2e.conftest import AGENT_PASSWORD, run_add_agent
from web.app import ROUTERS
from web.pages import PageRoute

CALLERS = ("anonymous", "outsider", "user", "owner", "agent")
#: The team's pages that only its owners see.
OWNERS_ONLY = ("/team/billing", "/team/events")
#: The owner's team, as its pages name it: an outsider's pages must never show it.
OURS = "Olive&#39;s Team"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class PageCall:
    method: str
    path: str

    @property
    def support(self) -> bool:
        return self.path == "/support" or self.path.startswith("/support/")

    @property
    def team(self) -> bool:
        return self.path == "/team" or self.path.startswith("/team/")

    @property
    def account(self) -> bool:
        return self.path == "/account" or self.path.startswith("/account/")

    @property
    def owners_only(self) -> bool:
        return self.path.startswith(OWNERS_ONLY)

    @property
    def has_parameters(self) -> bool:
        return "{" in self.path

    def url(self) -> str:
        """Each parameter filled with something that names nothing (``unknown``)."""
        return re.sub(r"\{[^}]+\}", "unknown", self.path)


def page_calls() -> list[PageCall]:
    calls = [
        PageCall(method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, PageRoute)
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    assert len(calls) >= 4, calls
    return calls


@pytest.fixture
def browsers(system: System) -> Iterator[dict[str, httpx.Client]]:
    """One client per caller, each with its own cookies: a signed-in caller's page cookie holds
    its session token, exactly what signing in on the page sets."""
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    outsider = system.sign_up("Otto")
    email = "sam.pages@support.teamkeys.test"
    assert run_add_agent(system, email, "Sam") == 0
    agent = system.http.post("/v1/sessions", json={"email": email, "password": AGENT_PASSWORD})
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "outsider": outsider["token"],
        "user": user["token"],
        "owner": owner["token"],
        "agent": agent.json()["token"],
    }
    clients = {}
    for caller, token in tokens.items():
        client = httpx.Client(base_url=str(system.http.base_url), follow_redirects=False)
        if token:
            client.cookies.set("__Host-tk_session", token)  # https public URL: host-only names
        clients[caller] = client
    yield clients
    for client in clients.values():
        client.close()


def form_token(client: httpx.Client) -> str:
    """This browser's form token, as a page's form carries it, and its browser cookie (set by
    hand: the tests' public URL is https, so the cookie is Secure, which a browser keeps for
    127.0.0.1 but httpx does not)."""
    answer = client.get("/sign-in")
    cookie = re.search(r"__Host-tk_browser=([^;]+)", answer.headers.get("set-cookie", ""))
    if cookie is not None:  # a new one (first visit, or just signed in)
        client.cookies.set("__Host-tk_browser", cookie[1])
    found = TOKEN.search(answer.text)
    assert found is not None
    return found[1]


def expect_page(call: PageCall, caller: str, answer: httpx.Response) -> None:
    where = f"{call.method} {call.path} as {caller}: {answer.status_code}"
    assert answer.status_code < 500, where
    missing = {404} if call.has_parameters else set()  # an unknown id is no page
    if call.team or call.account:
        if caller == "anonymous":
            assert answer.status_code == 303, where
            expected = "/sign-in?next=" if call.method == "GET" else "/sign-in"
            assert answer.headers["location"].startswith(expected), where
        elif caller == "agent" and call.team:
            assert answer.status_code == 404, where
        elif caller == "user" and call.owners_only:
            assert answer.status_code in {403, 404}, where
        elif call.method == "GET":
            assert answer.status_code in {200, 303} | missing, where
        if caller == "outsider":
            assert OURS not in answer.text, where
    elif call.support:
        if caller == "anonymous":
            assert answer.status_code == 303, where
            # A page comes back after signing in; a form starts again from its page.
            expected = "/sign-in?next=" if call.method == "GET" else "/sign-in"
            assert answer.headers["location"].startswith(expected), where
        elif caller != "agent":
            assert answer.status_code == 404, where
        else:
            allowed = {200, 303, 404} if call.has_parameters else {200, 303}
            assert answer.status_code in allowed, where
    assert answer.headers["cache-control"] == "no-store", where
    assert "content-security-policy" in answer.headers, where


@pytest.mark.parametrize("caller", CALLERS)
def test_every_page_answers_each_caller_as_the_matrix_says(
    system: System, browsers: dict[str, httpx.Client], caller: str
) -> None:
    client = browsers[caller]
    for call in page_calls():
        if call.method == "GET":
            expect_page(call, caller, client.get(call.url()))


@pytest.mark.parametrize("caller", CALLERS)
def test_every_form_posted_without_the_pages_token_is_refused(
    system: System, browsers: dict[str, httpx.Client], caller: str
) -> None:
    client = browsers[caller]
    form_token(client)  # the browser has its cookie: only the token is missing
    for call in page_calls():
        if call.method != "POST":
            continue
        for forged in ("forged", "é", ""):  # any text at all, never a server error
            answer = client.post(call.url(), data={"csrf_token": forged})
            where = f"POST {call.path} as {caller} with {forged!r}: {answer.status_code}"
            if call.support and caller == "anonymous":
                assert answer.status_code in (303, 403), where
            elif call.support and caller != "agent":
                assert answer.status_code in (403, 404), where
            else:
                assert answer.status_code == 403, where


@pytest.mark.parametrize("caller", CALLERS)
def test_support_and_team_forms_with_the_token_answer_as_their_pages(
    system: System, browsers: dict[str, httpx.Client], caller: str
) -> None:
    """Support forms are the agents' alone; team forms refuse anyone signed out and anyone in
    no team, and never fail with a server error, whatever is posted."""
    client = browsers[caller]
    data: dict[str, Any] = {"note": "n", "reason": "r", "email": "x@example.com", "name": "n"}
    # Leaving the team last: after it, the caller owns a team of their own.
    calls = sorted(page_calls(), key=lambda call: call.path.endswith("/leave"))
    for call in calls:
        if call.method == "POST" and (call.support or call.team):
            data["csrf_token"] = form_token(client)  # a form may sign its sender in or out
            expect_page(call, caller, client.post(call.url(), data=data))
