"""The team console's usage and Go to Production pages in a browser: calls the gateway records
show in the charts, the table and the CSV; an owner applies for production on the page and
sees the automatic review approve it; a user sees the status but not the form."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import snap
from tests.conftest import PASSWORD, System
from tests.support import CARD, PRODUCTION_FORM, wait_until


def sign_in(page: Page, person: dict[str, Any], then: str) -> None:
    page.goto(then)  # signed out: sent to sign in, and back here after
    page.get_by_label("Email").fill(person["account"]["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(then) + "$"))


def record(
    system: System,
    secret: str,
    request_id: str,
    model: str,
    when: datetime,
    tokens: tuple[int, int],
) -> None:
    answer = system.http.post(
        "/v1/usage",
        json={
            "id": request_id,
            "model": model,
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "occurred_at": when.isoformat(),
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code == 202, answer.text


def test_recorded_usage_shows_in_the_charts_the_table_and_the_csv(
    page: Page, system: System
) -> None:
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    secret = system.key_secret(owner)
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    record(system, secret, "r1", "gpt-x", now, (100, 20))
    record(system, secret, "r2", "gpt-x", now, (50, 5))
    record(system, secret, "r3", "gpt-y", now, (7, 3))
    record(system, secret, "r4", "gpt-x", yesterday, (10, 1))
    api = system.http.get(
        f"/v1/teams/{owner['team']['id']}/usage", headers=owner["headers"]
    ).json()["items"]

    sign_in(page, user, "/team/usage")  # the usage view is every member's
    expect(page.get_by_role("heading", name="Usage", exact=True)).to_be_visible()
    expect(page.get_by_label("To (last day, UTC, inclusive)")).to_have_value(now.date().isoformat())
    calls = page.get_by_role("img", name=re.compile("^Calls per day"))
    expect(calls).to_be_visible()
    days = page.locator("#chart-calls g.day")
    expect(days).to_have_count(2)  # a bar per day with calls
    assert days.nth(0).get_attribute("data-day") == yesterday.date().isoformat()
    assert days.nth(0).get_attribute("data-total") == "1"
    assert days.nth(1).get_attribute("data-total") == "3"
    expect(days.nth(1).locator("rect")).to_have_count(2)  # gpt-x and gpt-y stacked
    expect(page.locator("#chart-tokens g.day").nth(1)).to_have_attribute("data-total", "185")
    legend = page.get_by_role("list", name="Legend: model and key kind")
    expect(legend.get_by_role("listitem")).to_have_text(["gpt-x · trial", "gpt-y · trial"])
    snap(page, "team-usage")

    table = page.get_by_role("table", name="Calls and tokens per day, model and key kind")
    body = table.locator("tbody tr")
    expect(body).to_have_count(len(api))
    total = table.locator("tfoot tr")
    expect(total).to_have_text(re.compile(r"Total\s*4\s*167\s*29"))
    assert sum(r["calls"] for r in api) == 4

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download these figures as CSV").click()
    text = downloading.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        (r["date"], r["model"], r["key_kind"], int(r["calls"]), int(r["input_tokens"]),
         int(r["output_tokens"]))
        for r in rows
    ] == [
        (r["date"], r["model"], r["key_kind"], r["calls"], r["input_tokens"], r["output_tokens"])
        for r in api
    ]  # fmt: skip

    # A range the API refuses is refused here, with its message and status.
    answer = page.goto("/team/usage?from=2026-01-10&to=2026-01-01")
    assert answer is not None and answer.status == 422
    expect(page.get_by_role("alert")).to_have_text("end is before start.")
    answer = page.goto("/team/usage?from=2020-01-01&to=2026-01-01")
    assert answer is not None and answer.status == 422
    expect(page.get_by_role("alert")).to_have_text("Ask for at most a year at a time.")
    snap(page, "team-usage-refused")
    page.get_by_label("From (first day, UTC)").fill(yesterday.date().isoformat())
    page.get_by_label("To (last day, UTC, inclusive)").fill(yesterday.date().isoformat())
    page.get_by_role("button", name="Show usage").click()
    expect(page.locator("#chart-calls g.day")).to_have_count(1)
    expect(table.locator("tfoot tr")).to_have_text(re.compile(r"Total\s*1\s*10\s*1"))


def test_the_y_axis_title_clears_the_widest_tick_label(page: Page, system: System) -> None:
    """A day of two billion tokens: the Tokens chart's widest label ("2,000,000,000") stands
    wholly inside the chart, beside its axis title, not over it."""
    owner = system.sign_up("Olive")
    secret = system.key_secret(owner)
    record(system, secret, "big", "gpt-x", datetime.now(UTC), (10**9, 10**9))
    sign_in(page, owner, "/team/usage")
    expect(page.locator("#chart-tokens .y-axis text").last).to_be_visible()
    expect(page.locator("#chart-tokens .y-axis text").nth(4)).to_have_text("2,000,000,000")
    for slug in ("calls", "tokens"):
        chart = page.locator(f"#chart-{slug}").bounding_box()
        title = page.locator(f"#chart-{slug} .y-axis text.axis-title").bounding_box()
        ticks = page.locator(f"#chart-{slug} .y-axis text:not(.axis-title)")
        assert chart is not None and title is not None
        assert title["x"] >= chart["x"], slug
        for n in range(ticks.count()):
            label = ticks.nth(n).bounding_box()
            assert label is not None
            assert label["x"] >= title["x"] + title["width"] + 2, (slug, n, label, title)
    snap(page, "team-usage-wide-labels")


def test_an_owner_goes_to_production_on_the_page_and_a_user_sees_the_status(
    page: Page, system: System
) -> None:
    owner = system.sign_up("Olive")
    team_id = owner["team"]["id"]
    user = system.join(team_id, "Uma")
    card = system.http.put(
        f"/v1/teams/{team_id}/payment-method", json=CARD, headers=owner["headers"]
    )
    assert card.status_code == 200, card.text

    sign_in(page, owner, "/team/production")
    expect(page.get_by_text("Not applied")).to_be_visible()
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()
    snap(page, "team-production")
    page.get_by_label("Company name").fill(PRODUCTION_FORM["company_name"])
    page.get_by_label("Website").fill(PRODUCTION_FORM["website"])
    page.get_by_label("Use case").fill("Too short.")
    page.get_by_label("Expected requests a month").fill(
        str(PRODUCTION_FORM["expected_monthly_requests"])
    )
    page.get_by_label("Contact email").fill(PRODUCTION_FORM["contact_email"])
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Submit the application").click()
    assert posted.value.status == 422
    use_case = page.get_by_label("Use case")
    expect(use_case).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Accept the terms to apply.")).to_be_visible()
    expect(page.get_by_label("Company name")).to_have_value(PRODUCTION_FORM["company_name"])
    snap(page, "team-production-refused")

    use_case.fill(PRODUCTION_FORM["use_case"])
    page.get_by_label("I accept the terms of production use").check()
    page.get_by_role("button", name="Submit the application").click()
    expect(page).to_have_url(re.compile(r"/team/production\?done=submitted$"))
    expect(page.get_by_role("status")).to_contain_text("Your application is submitted")

    def approved() -> bool:
        page.reload()
        return page.locator("#production-status").inner_text() == "Approved"

    wait_until(approved, what="the application approved on the page")
    expect(page.get_by_text("Payment method on file; the automatic checks passed.")).to_be_visible()
    expect(page.get_by_role("button", name="Submit the application")).to_have_count(0)
    snap(page, "team-production-approved")

    page.context.clear_cookies()
    sign_in(page, user, "/team/production")
    expect(page.locator("#production-status")).to_have_text("Approved")
    expect(page.get_by_role("button", name="Submit the application")).to_have_count(0)


def test_a_user_sees_the_status_but_no_form(page: Page, system: System) -> None:
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    sign_in(page, user, "/team/production")
    expect(page.locator("#production-status")).to_have_text("Not applied")
    expect(page.get_by_text("Only an owner of the team can apply.")).to_be_visible()
    expect(page.get_by_label("Company name")).to_have_count(0)
    expect(page.get_by_role("button", name="Submit the application")).to_have_count(0)
    snap(page, "team-production-user")
