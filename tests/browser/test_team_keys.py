"""The team's API keys and custom models on the pages: a user makes a trial key and sees it
become active without reloading (or by refreshing, with JavaScript off), reveals and copies
it, and sees no owner-only control; an owner of an approved team makes a production key and
sees its secret once; keys are renamed and deleted; custom models are made and deleted."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import snap
from tests.conftest import PASSWORD, System


def sign_in(page: Page, person: dict[str, Any], then: str = "/team/keys") -> None:
    page.goto(then)  # signed out: sent to sign in, and back here after
    page.get_by_label("Email").fill(person["account"]["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def create_key(page: Page, name: str, kind: str = "Trial") -> None:
    page.get_by_label("Key name").fill(name)
    page.get_by_label(kind, exact=True).check()
    page.get_by_role("button", name="Create key").click()


def api_key(system: System, person: dict[str, Any], name: str) -> dict[str, Any]:
    """The key named ``name`` as the API lists it to ``person``."""
    listed = system.http.get(
        f"/v1/teams/{person['team']['id']}/api-keys", headers=person["headers"]
    ).json()
    [key] = [k for k in listed["items"] if k["name"] == name]
    return dict(key)


def test_a_user_makes_a_trial_key_sees_it_become_active_and_reveals_and_copies_it(
    page: Page, system: System
) -> None:
    owner = system.sign_up("Olga")
    uma = system.join(owner["team"]["id"], "Uma")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, uma)
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()

    with system.jobs_held():  # the key job waits: the page shows the key pending first
        create_key(page, "ci runner")
        expect(page.get_by_text("Your key is being generated")).to_be_visible()
        row = page.get_by_role("row", name="ci runner")
        expect(row).to_contain_text("pending")
        snap(page, "team-keys-pending")
        page.evaluate("window.notReloaded = true")
    expect(row).to_contain_text("active")  # keys.js fetched its row again
    assert page.evaluate("window.notReloaded === true")  # the same page: never reloaded
    expect(page.locator("#keys-live")).to_have_text("Key ci runner is active.")
    key = api_key(system, uma, "ci runner")
    expect(row).to_contain_text(key["masked"])
    expect(row).to_contain_text("Uma")
    expect(row).to_contain_text("never")  # last used

    # A user may rename a trial key; deleting one is the owners' (trial_keys:delete).
    expect(row.get_by_role("button", name="Delete ci runner")).to_have_count(0)
    expect(row.get_by_text("Rename")).to_be_visible()

    row.get_by_role("button", name="Reveal ci runner").click()
    secret = page.get_by_label("Secret of ci runner")
    expect(secret).to_have_attribute("readonly", "")
    value = secret.input_value()
    by_api = system.http.post(
        f"/v1/teams/{owner['team']['id']}/api-keys/{key['id']}/reveal", headers=uma["headers"]
    )
    assert value == by_api.json()["secret"]
    expect(page.get_by_text("You will not see this again")).to_have_count(0)
    page.get_by_role("button", name="Copy the secret").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == value
    snap(page, "team-keys-trial-revealed")

    # Again later: a trial key's secret can be revealed at any time.
    page.goto("/team/keys")
    page.get_by_role("button", name="Reveal ci runner").click()
    expect(page.get_by_label("Secret of ci runner")).to_have_value(value)

    # The server refuses what the page hides: a user deleting a trial key, with the API's
    # status and message.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"/team/keys/{key['id']}/delete", form={"csrf_token": token or ""})
    assert refused.status == 403
    assert api_key(system, uma, "ci runner")["status"] == "active"


def test_a_trial_key_is_renamed_and_production_keys_need_approval(
    page: Page, system: System
) -> None:
    owner = system.sign_up("Olga")
    sign_in(page, owner)
    create_key(page, "staging")
    page.get_by_role("row", name="staging").get_by_text("Rename").click()
    page.get_by_label("New name for staging").fill("staging box")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_text("The key was renamed.")).to_be_visible()
    expect(page.get_by_role("row", name="staging box")).to_be_visible()

    create_key(page, "live", kind="Production")
    expect(page.get_by_role("alert")).to_contain_text(
        "Production keys need the team to be approved for production"
    )
    snap(page, "team-keys-production-refused")


def test_an_owner_sees_a_new_production_keys_secret_once_then_deletes_keys(
    page: Page, system: System
) -> None:
    owner = system.sign_up("Olga")
    system.approve_for_production(owner["team"]["id"])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, owner)
    create_key(page, "live", kind="Production")
    row = page.get_by_role("row", name="live")
    row.get_by_role("button", name="Show the secret of live (once)").click()
    expect(page.get_by_text("You will not see this again")).to_be_visible()
    secret = page.get_by_label("Secret of live")
    assert secret.input_value().endswith(api_key(system, owner, "live")["masked"][-4:])
    page.get_by_role("button", name="Copy the secret").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret.input_value()
    snap(page, "team-keys-production-secret")

    # Leaving the page and coming back: the secret is gone for good.
    page.get_by_role("link", name="Custom models").click()
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_label("Secret of live")).to_have_count(0)
    expect(page.get_by_role("button", name="Show the secret of live (once)")).to_have_count(0)

    # Owners rename and delete production keys, and delete trial keys.
    row = page.get_by_role("row", name="live")
    row.get_by_text("Rename").click()
    page.get_by_label("New name for live").fill("live eu")
    page.get_by_role("button", name="Save name").click()
    page.get_by_role("row", name="live eu").get_by_role("button", name="Delete live eu").click()
    expect(page.get_by_text("The key was deleted")).to_be_visible()
    expect(page.get_by_role("row", name="live eu")).to_have_count(0)
    assert api_key(system, owner, "live eu")["status"] == "deleted"
    create_key(page, "scratch")
    page.get_by_role("row", name="scratch").get_by_role("button", name="Delete scratch").click()
    expect(page.get_by_role("row", name="scratch")).to_have_count(0)
    snap(page, "team-keys-owner")


def test_with_javascript_off_a_refresh_shows_the_key_active(
    browser: Browser, system: System
) -> None:
    context = browser.new_context(base_url=str(system.http.base_url), java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        owner = system.sign_up("Olga")
        sign_in(page, owner)
        with system.jobs_held():
            create_key(page, "batch")
            expect(page.get_by_role("row", name="batch")).to_contain_text("pending")
        expect(page.get_by_role("button", name="Copy the secret")).to_have_count(0)

        def shown_active() -> bool:
            page.reload()
            return "active" in page.get_by_role("row", name="batch").inner_text()

        for _ in range(50):
            if shown_active():
                break
        assert "active" in page.get_by_role("row", name="batch").inner_text()
        page.get_by_role("button", name="Reveal batch").click()
        field = page.get_by_label("Secret of batch")
        expect(field).to_have_attribute("readonly", "")
        expect(page.get_by_role("button", name="Copy the secret")).to_be_hidden()
        snap(page, "team-keys-no-javascript")
    finally:
        context.close()


def test_members_create_and_delete_custom_models(page: Page, system: System) -> None:
    owner = system.sign_up("Olga")
    uma = system.join(owner["team"]["id"], "Uma")
    sign_in(page, uma, then="/team/models")
    expect(page.get_by_role("heading", name="Custom models")).to_be_visible()
    expect(page.get_by_text("No custom models yet.")).to_be_visible()
    page.get_by_label("Model name").fill("support bot")
    page.get_by_label("Base model").fill("tk-large")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_text("The custom model was created.")).to_be_visible()
    expect(page.get_by_role("row", name="support bot")).to_contain_text("tk-large")

    page.get_by_label("Model name").fill("support bot")
    page.get_by_label("Base model").fill("tk-small")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_role("alert")).to_contain_text("already has a custom model named")
    snap(page, "team-models")

    page.get_by_role("button", name="Delete support bot").click()
    expect(page.get_by_text("The custom model was deleted.")).to_be_visible()
    expect(page.get_by_role("row", name="support bot")).to_have_count(0)


def test_a_user_sees_production_keys_but_not_the_owners_controls(
    page: Page, system: System
) -> None:
    owner = system.sign_up("Olga")
    system.approve_for_production(owner["team"]["id"])
    system.key_secret(owner, kind="production", name="live")  # revealed by Olga already
    uma = system.join(owner["team"]["id"], "Uma")
    sign_in(page, uma)
    row = page.get_by_role("row", name="live")
    expect(row).to_contain_text("Olga")
    expect(row).to_contain_text("active")
    for control in ("Rename", "Delete live", "Show the secret of live (once)"):
        expect(row.get_by_text(control)).to_have_count(0)
    snap(page, "team-keys-user")

    # The server refuses them anyway, with the API's status and message.
    key = api_key(system, uma, "live")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    renamed = page.request.post(
        f"/team/keys/{key['id']}/rename", form={"csrf_token": token, "name": "mine"}
    )
    assert renamed.status == 403
    revealed = page.request.post(f"/team/keys/{key['id']}/reveal", form={"csrf_token": token})
    assert revealed.status == 403
    assert "Only the member who created a production key may reveal it." in revealed.text()
    assert api_key(system, uma, "live")["name"] == "live"

    # A name the API refuses: its message, with the row's rename form open again.
    create_key(page, "mine")
    page.get_by_role("row", name="mine").get_by_text("Rename").click()
    page.get_by_label("New name for mine").fill(" ")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("alert")).to_contain_text("Name must not be empty.")
    expect(page.get_by_label("New name for mine")).to_be_visible()
