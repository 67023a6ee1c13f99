"""Role changes, removal and leaving as rules (docs/product.md "Teams and members"):
who may, the last owner, and what stays as it was after a refusal. Over HTTP, with their
emails and status codes, in tests/e2e/test_teams.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain import accounts, teams
from domain.errors import LastOwner, NotAllowed, NotFound
from domain.models import MAX_PERSON_NAME_LENGTH, Membership, Role, Team
from tests.rules.conftest import People, email_recipients, refused, roles


def test_a_user_cannot_change_roles(session: Session, people: People) -> None:
    ada = people.sign_up("Ada")
    team_id = people.team_of(ada)
    uma = people.join(team_id, "Uma")
    before = roles(session, team_id)

    with refused(session, NotAllowed, "not_allowed"):
        teams.change_role(session, uma, team_id, uma.id, Role.OWNER)
    with refused(session, NotAllowed, "not_allowed"):
        teams.change_role(session, uma, team_id, ada.id, Role.USER)

    assert roles(session, team_id) == before
    assert email_recipients(session, "role_changed") == []


def test_an_owner_may_demote_itself_when_another_owner_exists(
    session: Session, people: People
) -> None:
    ada = people.sign_up("Ada")
    team_id = people.team_of(ada)
    bob = people.join(team_id, "Bob", role=Role.OWNER)

    changed = teams.change_role(session, ada, team_id, ada.id, Role.USER)
    session.commit()

    assert changed.membership.role == Role.USER
    assert roles(session, team_id) == {ada.id: "user", bob.id: "owner"}
    # Now a user, Ada can no longer change roles; Bob, the last owner, cannot step down.
    with refused(session, NotAllowed, "not_allowed"):
        teams.change_role(session, ada, team_id, ada.id, Role.OWNER)
    with refused(session, LastOwner, "last_owner"):
        teams.change_role(session, bob, team_id, bob.id, Role.USER)
    assert roles(session, team_id) == {ada.id: "user", bob.id: "owner"}


def test_changing_a_member_outside_the_team_is_not_found(session: Session, people: People) -> None:
    ada = people.sign_up("Ada")
    stan = people.sign_up("Stan")
    stans_team = people.team_of(stan)

    with refused(session, NotFound):
        teams.change_role(session, ada, people.team_of(ada), stan.id, Role.USER)

    assert roles(session, stans_team) == {stan.id: "owner"}


def test_the_last_owner_cannot_leave(session: Session, people: People) -> None:
    ada = people.sign_up("Ada")
    team_id = people.team_of(ada)
    uma = people.join(team_id, "Uma")

    with refused(session, LastOwner, "last_owner"):
        teams.remove_member(session, ada, team_id, ada.id)

    assert roles(session, team_id) == {ada.id: "owner", uma.id: "user"}
    assert email_recipients(session, "member_removed") == []


def test_alone_in_a_team_its_owner_cannot_leave_either(session: Session, people: People) -> None:
    ada = people.sign_up("Ada")
    team_id = people.team_of(ada)

    with refused(session, LastOwner, "last_owner"):
        teams.remove_member(session, ada, team_id, ada.id)

    assert roles(session, team_id) == {ada.id: "owner"}
    assert teams.get_team(session, ada, team_id).name == "Ada's Team"


def test_a_user_cannot_remove_another_member(session: Session, people: People) -> None:
    ada = people.sign_up("Ada")
    team_id = people.team_of(ada)
    uma = people.join(team_id, "Uma")
    vic = people.join(team_id, "Vic")

    with refused(session, NotAllowed, "not_allowed"):
        teams.remove_member(session, uma, team_id, vic.id)
    with refused(session, NotAllowed, "not_allowed"):
        teams.remove_member(session, uma, team_id, ada.id)

    assert roles(session, team_id) == {ada.id: "owner", uma.id: "user", vic.id: "user"}


def test_removing_someone_who_is_not_a_member_is_not_found(
    session: Session, people: People
) -> None:
    ada = people.sign_up("Ada")
    stan = people.sign_up("Stan")
    stans_team = people.team_of(stan)

    with refused(session, NotFound):
        teams.remove_member(session, ada, people.team_of(ada), stan.id)

    assert people.team_of(stan) == stans_team


def test_a_member_who_leaves_owns_a_fresh_personal_team(session: Session, people: People) -> None:
    ada = people.sign_up("Ada")
    team_id = people.team_of(ada)
    uma = people.join(team_id, "Uma")

    new_team = teams.remove_member(session, uma, team_id, uma.id)
    session.commit()

    assert new_team.id != team_id and new_team.name == "Uma's Team"
    assert roles(session, team_id) == {ada.id: "owner"}
    assert roles(session, new_team.id) == {uma.id: "owner"}
    assert email_recipients(session, "member_removed") == sorted([ada.email, uma.email])
    with refused(session, NotFound):
        teams.get_team(session, uma, team_id)


def test_a_person_with_the_longest_name_gets_a_team_whose_name_fits(
    session: Session, people: People
) -> None:
    """A team's column holds as much as a person's name; "'s Team" must not overflow it (on
    PostgreSQL that would fail the sign-up)."""
    longest = people.sign_up("A" * MAX_PERSON_NAME_LENGTH)
    team = session.get_one(Team, session.get_one(Membership, longest.id).team_id)
    assert len(team.name) == MAX_PERSON_NAME_LENGTH
    assert team.name.endswith("'s Team")
    assert accounts.personal_team_name("Ada") == "Ada's Team"
