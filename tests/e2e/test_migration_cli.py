"""``teamkeys support tickets``: an agent lists and settles tickets from a terminal, with the
same rules as the API, and the job it writes is run by the running system's workers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import System
from tests.e2e.conftest import AddSupportAgent, run_cli
from tests.e2e.test_migrations import consented_ticket, me, open_ticket, wait_for_status

AGENT = "sam@support.teamkeys.test"
Person = dict[str, Any]


@pytest.fixture
def people(system: System, add_support_agent: AddSupportAgent) -> tuple[Person, Person, Person]:
    """Sam, a support agent with the address the commands name; Carol and Dave, customers."""
    return add_support_agent(email=AGENT), system.sign_up("Carol"), system.sign_up("Dave")


def test_an_agent_lists_shows_and_approves_a_ticket_from_the_terminal(
    system: System, people: tuple[Person, Person, Person], capsys: pytest.CaptureFixture[str]
) -> None:
    sam, carol, dave = people
    erin = system.sign_up("Erin")
    ticket_id = consented_ticket(system, carol, dave, role="owner")
    waiting = open_ticket(system, carol, erin["account"]["email"]).json()["id"]
    capsys.readouterr()

    assert run_cli(system, ["support", "tickets"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "ID", "STATUS", "OPENED", "(UTC)", "ACCOUNT", "NOW", "IN", "INTO", "ROLE", "REQUESTER"
    ]  # fmt: skip
    assert [line.split()[:2] for line in table[1:]] == [
        [ticket_id, "awaiting_review"],
        [waiting, "awaiting_consent"],
    ]
    assert "Dave's Team (1 members, sole owner)" in table[1]

    assert run_cli(system, ["support", "tickets", "--status", "awaiting_review"]) == 0
    assert waiting not in capsys.readouterr().out
    assert run_cli(system, ["support", "tickets", "--status", "rejected"]) == 0
    assert capsys.readouterr().out.strip() == "no tickets rejected"

    assert run_cli(system, ["support", "tickets", "show", ticket_id]) == 0
    shown = capsys.readouterr().out
    assert f"ticket      {ticket_id}" in shown and "status      awaiting_review" in shown
    assert "account is owner, the sole owner" in shown
    assert "(new) -> awaiting_consent" in shown and "awaiting_consent -> awaiting_review" in shown

    assert run_cli(system, ["support", "tickets", "approve", ticket_id, "--agent", AGENT]) == 0
    assert f"ticket {ticket_id} approved" in capsys.readouterr().out
    done = wait_for_status(system, sam, ticket_id, "completed")

    assert me(system, dave)["team"]["id"] == carol["team"]["id"]
    assert me(system, dave)["role"] == "owner"
    assert [h["actor_email"] for h in done["history"]][2] == AGENT


def refused(capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert code == 1
    err: str = capsys.readouterr().err
    assert err.startswith("error: ")
    return err


def test_refused_terminal_actions_print_an_error_and_exit_1(
    system: System, people: tuple[Person, Person, Person], capsys: pytest.CaptureFixture[str]
) -> None:
    sam, carol, dave = people
    ticket_id = consented_ticket(system, carol, dave)
    capsys.readouterr()
    tickets: list[Any] = ["support", "tickets"]
    customer = carol["account"]["email"]

    err = refused(capsys, run_cli(system, [*tickets, "approve", ticket_id, "--agent", customer]))
    assert "does not allow" in err
    err = refused(capsys, run_cli(system, [*tickets, "approve", ticket_id, "--agent", "x@y.z"]))
    assert "No account has this email" in err
    err = refused(capsys, run_cli(system, [*tickets, "show", "mig_nope"]))
    assert "No such migration ticket" in err
    err = refused(
        capsys, run_cli(system, [*tickets, "reject", ticket_id, "--agent", AGENT, "--reason", " "])
    )
    assert "Reason must not be empty" in err

    reason = "Owner of the other team objected."
    rejected = run_cli(
        system, [*tickets, "reject", ticket_id, "--agent", AGENT, "--reason", reason]
    )
    assert rejected == 0 and f"ticket {ticket_id} rejected" in capsys.readouterr().out
    err = refused(capsys, run_cli(system, [*tickets, "approve", ticket_id, "--agent", AGENT]))
    assert "only a ticket awaiting review can be approved" in err
    listed = system.http.get(
        f"/v1/support/migration-tickets/{ticket_id}", headers=sam["headers"]
    ).json()
    assert listed["status"] == "rejected" and listed["failure_reason"] == reason
    assert me(system, dave)["team"]["id"] == dave["team"]["id"]
