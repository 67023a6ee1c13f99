"""Custom models: members create, list and delete them; others cannot."""

from __future__ import annotations

from tests.conftest import System


def test_members_create_list_and_delete_custom_models(system: System) -> None:
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    url = f"/v1/teams/{owner['team']['id']}/custom-models"

    made = system.http.post(
        url, json={"name": "support-bot", "base_model": "gpt-x"}, headers=user["headers"]
    )
    assert made.status_code == 201
    assert (
        made.json()["name"] == "support-bot" and made.json()["created_by"] == user["account"]["id"]
    )
    twin = system.http.post(
        url, json={"name": "support-bot", "base_model": "gpt-y"}, headers=owner["headers"]
    )
    assert twin.status_code == 409 and twin.json()["error"]["code"] == "name_taken"
    listed = system.http.get(url, headers=owner["headers"]).json()["items"]
    assert [m["name"] for m in listed] == ["support-bot"]
    assert (
        system.http.delete(f"{url}/{made.json()['id']}", headers=owner["headers"]).status_code
        == 204
    )
    assert system.http.get(url, headers=user["headers"]).json()["items"] == []
    assert (
        system.http.delete(f"{url}/{made.json()['id']}", headers=owner["headers"]).status_code
        == 404
    )


def test_outsiders_cannot_touch_custom_models(system: System) -> None:
    owner = system.sign_up("Olive")
    outsider = system.sign_up("Xavier")
    url = f"/v1/teams/{owner['team']['id']}/custom-models"
    made = system.http.post(
        url, json={"name": "m", "base_model": "gpt-x"}, headers=owner["headers"]
    ).json()
    assert system.http.get(url, headers=outsider["headers"]).status_code == 404
    assert (
        system.http.post(
            url, json={"name": "n", "base_model": "gpt-x"}, headers=outsider["headers"]
        ).status_code
        == 404
    )
    assert system.http.delete(f"{url}/{made['id']}", headers=outsider["headers"]).status_code == 404
    assert (
        system.http.post(
            url, json={"name": "", "base_model": "gpt-x"}, headers=owner["headers"]
        ).status_code
        == 422
    )
