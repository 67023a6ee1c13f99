"""The team console's billing pages in a browser: an owner opens a month's invoice, sees its
lines and downloads its PDF, and keeps a payment method on file (a card number is refused with
the domain's message); a user gets the 404 page and no Billing tab."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.conftest import snap
from tests.conftest import PASSWORD, System
from tests.e2e.test_invoices import PERIOD, down_since_last_month, run_scheduler, use
from tests.support import wait_until


#: The last day of last month: within the 35 days a call may be dated back.
@pytest.fixture
def invoiced(system: System) -> dict[str, Any]:
    """A team with production usage last month on two models, and that month's invoice
    issued by the monthly run (as tests/e2e/test_invoices.py does)."""
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    system.approve_for_production(owner["team"]["id"])
    live = system.key_secret(owner, "production")
    use(system, live, "a", "teamkeys-large", 1_000_000, 100_000)  # 300 + 150 = 450 cents
    use(system, live, "b", "teamkeys-large", 500_000, 0)  # + 150 → 600 cents
    use(system, live, "c", "mystery-model", 10_000, 0)  # 1 cent
    down_since_last_month(system)
    assert PERIOD in run_scheduler(system)
    url = f"/v1/teams/{owner['team']['id']}/invoices"

    def issued() -> list[dict[str, Any]]:
        return list(system.http.get(url, headers=owner["headers"]).json()["items"])

    [invoice] = wait_until(issued, what="the month's invoice")
    return {"owner": owner, "user": user, "invoice": invoice}


def sign_in(page: Page, person: dict[str, Any], then: str) -> None:
    page.goto(then)  # signed out: sent to sign in, and back here after
    page.get_by_label("Email").fill(person["account"]["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_owner_opens_an_invoice_sees_its_lines_and_downloads_its_pdf(
    page: Page, system: System, invoiced: dict[str, Any], tmp_path: Path
) -> None:
    invoice = invoiced["invoice"]
    sign_in(page, invoiced["owner"], "/team/billing")
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Billing")).to_have_attribute("aria-current", "page")
    row = page.get_by_role("row").filter(has_text=PERIOD)
    expect(row).to_contain_text("6.01 USD")
    expect(row).to_contain_text("issued")
    snap(page, "team-billing")

    page.get_by_role("link", name=f"Invoice for {PERIOD}").click()
    expect(page).to_have_url(f"{system.http.base_url}/team/billing/invoices/{invoice['id']}")
    expect(page.get_by_role("heading", name=f"Invoice for {PERIOD}")).to_be_visible()
    large = page.get_by_role("row").filter(has_text="teamkeys-large")
    for cell in ("2", "1,500,000", "100,000", "6.00 USD"):
        expect(large.get_by_role("cell", name=cell, exact=True)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="mystery-model")).to_contain_text("0.01 USD")
    snap(page, "team-billing-invoice")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download PDF").click()
    download = downloading.value
    assert download.suggested_filename == f"teamkeys-{PERIOD}-{invoice['id']}.pdf"
    saved = tmp_path / "invoice.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    answer = page.request.get(f"/team/billing/invoices/{invoice['id']}.pdf")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("attachment;")
    served_by_api = system.http.get(
        f"/v1/teams/{invoiced['owner']['team']['id']}/invoices/{invoice['id']}/pdf",
        headers=invoiced["owner"]["headers"],
    ).content
    # The very document the API serves, word for word (each is stamped with when it was made).
    assert pdf_text(answer.body()) == pdf_text(served_by_api)
    assert invoice["id"] in pdf_text(served_by_api)


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def test_an_owner_keeps_a_payment_method_and_a_card_number_is_refused(
    page: Page, system: System
) -> None:
    owner = system.sign_up("Olive")
    sign_in(page, owner, "/team/billing")
    expect(page.get_by_text("No payment method on file.")).to_be_visible()
    expect(page.get_by_text("No invoice yet.")).to_be_visible()
    expect(page.get_by_text("Card numbers are never accepted.")).to_be_visible()
    year = str(datetime.now(UTC).year + 2)

    page.get_by_label("Payment provider token or reference").fill("4242 4242 4242 4242")
    page.get_by_label("Card brand").select_option("visa")
    page.get_by_label("Last four digits").fill("4242")
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill(year)
    page.get_by_label("Billing email").fill("billing@olive.example")
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.get_by_role("button", name="Save payment method").click()
    assert answered.value.status == 422
    refusal = "provider_token looks like a card number."
    expect(page.get_by_role("alert")).to_contain_text(refusal)
    token = page.get_by_label("Payment provider token or reference")
    expect(token).to_have_accessible_description(re.compile(re.escape(refusal)))  # beside it
    expect(token).to_have_value("")  # what was typed is not echoed back
    expect(page.get_by_label("Last four digits")).to_have_value("4242")  # the rest is kept
    snap(page, "team-billing-card-number-refused")

    token.fill("tok_visa_olive")
    page.get_by_role("button", name="Save payment method").click()
    expect(page.get_by_role("status")).to_contain_text("The payment method is updated.")
    expect(page.get_by_text("Visa ending in 4242")).to_be_visible()
    expect(page.get_by_text(f"12/{year}")).to_be_visible()
    expect(page.get_by_role("heading", name="Replace the payment method")).to_be_visible()
    snap(page, "team-billing-payment-method")
    stored = system.http.get(
        f"/v1/teams/{owner['team']['id']}/payment-method", headers=owner["headers"]
    ).json()
    assert stored == stored | {"brand": "visa", "last4": "4242", "exp_month": 12}


def test_a_user_gets_the_404_page_and_no_billing_tab(
    page: Page, system: System, invoiced: dict[str, Any]
) -> None:
    invoice = invoiced["invoice"]
    sign_in(page, invoiced["user"], "/team/billing")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    snap(page, "team-billing-user-404")
    for path in (
        f"/team/billing/invoices/{invoice['id']}",
        f"/team/billing/invoices/{invoice['id']}.pdf",
    ):
        answer = page.request.get(path)
        assert answer.status == 404, path
        assert "%PDF" not in answer.text()
    # The server refuses the form as well (the domain's permission check): the 404 page.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    posted = page.request.post(
        "/team/billing/payment-method",
        form={
            "csrf_token": csrf or "",
            "provider_token": "tok_uma",
            "brand": "visa",
            "last4": "4242",
            "exp_month": "12",
            "exp_year": str(datetime.now(UTC).year + 2),
            "billing_email": "uma@example.com",
        },
    )
    assert posted.status == 404
    owner = invoiced["owner"]
    method = system.http.get(
        f"/v1/teams/{owner['team']['id']}/payment-method", headers=owner["headers"]
    )
    assert method.status_code == 404  # nothing was stored
    page.goto("/team")  # the team's pages show a user no Billing tab
    expect(page.get_by_role("link", name="Billing")).to_have_count(0)
