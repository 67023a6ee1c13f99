"""The billing pages over HTTP: the payment method form refuses what the API refuses, with its
message beside the field and its status, and the team's tabs show a user no Billing tab."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx

from tests.conftest import System
from web.render import environment

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def owners_browser(system: System, owner: dict[str, Any]) -> tuple[httpx.Client, str]:
    """A browser signed in as ``owner`` (its cookies set by hand: the tests' public URL is
    https, so they are Secure, which httpx keeps off 127.0.0.1) and the billing form's token."""
    client = httpx.Client(base_url=str(system.http.base_url), follow_redirects=False)
    client.cookies.set("__Host-tk_session", owner["token"])
    first = client.get("/team/billing")
    cookie = re.search(r"__Host-tk_browser=([^;]+)", first.headers["set-cookie"])
    assert cookie is not None
    client.cookies.set("__Host-tk_browser", cookie[1])
    found = TOKEN.search(client.get("/team/billing").text)
    assert found is not None
    return client, found[1]


def card(**changed: str) -> dict[str, str]:
    return {
        "provider_token": "tok_visa_olive",
        "brand": "visa",
        "last4": "4242",
        "exp_month": "12",
        "exp_year": str(datetime.now(UTC).year + 2),
        "billing_email": "billing@olive.example",
    } | changed


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', page)
    return found[1] if found else ""


def test_the_form_refuses_what_the_api_refuses_beside_the_field(system: System) -> None:
    owner = system.sign_up("Olive")
    client, token = owners_browser(system, owner)
    try:
        for fields, status, name, message in (
            (card(provider_token="4111-1111-1111-1111"), 422, "provider_token", "card number"),
            (card(exp_year="1999"), 422, "exp_year", "greater than or equal to 2000"),
            (card(exp_year=str(datetime.now(UTC).year - 1)), 422, "exp_year", "has expired"),
            (card(last4="4111111111111111"), 422, "last4", "should match pattern"),
            (card(brand="mystery"), 422, "brand", "Input should be"),
        ):
            answer = client.post(
                "/team/billing/payment-method", data={"csrf_token": token} | fields
            )
            assert answer.status_code == status, (fields, answer.status_code)
            if "card number" in message or "has expired" in message:
                # the API's own answer to the same body: the same status and message
                api = system.http.put(
                    f"/v1/teams/{owner['team']['id']}/payment-method",
                    json=fields | {"exp_month": 12, "exp_year": int(fields["exp_year"])},
                    headers=owner["headers"],
                )
                assert api.status_code == status
                assert api.json()["error"]["message"].replace("'", "&#39;") in answer.text
            assert message.replace("'", "&#39;") in field_error(answer.text, name), name
            assert "4111" not in answer.text.replace('value="4242"', "")  # never echoed back
        stored = system.http.get(
            f"/v1/teams/{owner['team']['id']}/payment-method", headers=owner["headers"]
        )
        assert stored.status_code == 404  # nothing refused was kept

        saved = client.post("/team/billing/payment-method", data={"csrf_token": token} | card())
        assert saved.status_code == 303
        assert saved.headers["location"] == "/team/billing?done=payment-method"
        page = client.get("/team/billing").text
        assert "Visa ending in 4242" in page and "tok_visa_olive" not in page
    finally:
        client.close()


def test_the_team_tabs_show_billing_to_owners_only() -> None:
    layout = environment().get_template("team/_layout.html")
    for is_owner in (True, False):
        team = SimpleNamespace(team=SimpleNamespace(name="Olive's Team"), is_owner=is_owner)
        html = layout.render(team=team, section="members", me=None, csrf_token="t")
        assert ('href="/team/billing"' in html) is is_owner
