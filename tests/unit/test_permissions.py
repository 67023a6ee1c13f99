"""The permission matrix in code, held against the "Who may do what" table of docs/product.md
cell by cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import NotAllowed, NotFound
from domain.permissions import MATRIX, Actor, Permission, allows, require

#: The product rules, which hold the table (in the repository: every clone runs this test).
PRODUCT_DOC = Path(__file__).parents[2] / "docs" / "product.md"
HEADING = "## Who may do what"
CHECK = "✓"

#: Each row of the table, by its action text, and the one Permission that stands for it.
ROWS: dict[str, Permission] = {
    "view team and its members": Permission.TEAM_VIEW,
    "invite teammates (any role), resend, revoke invitations": Permission.INVITATIONS_MANAGE,
    "remove members, change a member's role": Permission.MEMBERS_MANAGE,
    "leave the team (not the last owner)": Permission.TEAM_LEAVE,
    "create and delete custom models": Permission.CUSTOM_MODELS_MANAGE,
    "view, create, copy (reveal), rename trial keys": Permission.TRIAL_KEYS_USE,
    "delete trial keys": Permission.TRIAL_KEYS_DELETE,
    "create production keys (team approved)": Permission.PRODUCTION_KEYS_CREATE,
    "see that production keys exist (masked)": Permission.PRODUCTION_KEYS_VIEW,
    "reveal a production key: creator only, once, right after creation": (
        Permission.PRODUCTION_KEYS_REVEAL_OWN
    ),
    "rename, delete production keys": Permission.PRODUCTION_KEYS_MANAGE,
    "submit the Go to Production form": Permission.PRODUCTION_APPLY,
    "view usage history": Permission.USAGE_VIEW,
    "view and download invoices": Permission.INVOICES_VIEW,
    "view and update payment information": Permission.PAYMENT_MANAGE,
    "open a migration ticket for an existing account": Permission.MIGRATION_REQUEST,
    "settle migration tickets; decide manual production reviews": Permission.SUPPORT_SETTLE,
    "view the team's audit events": Permission.EVENTS_VIEW,
}

#: The table's columns of who, in order, after the action column.
COLUMNS = (Actor.USER, Actor.OWNER, Actor.SUPPORT)


def table_lines(text: str) -> list[str]:
    """The lines of the markdown table that follows the "Who may do what" heading."""
    lines = text.splitlines()
    start = lines.index(HEADING)
    table: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    assert table, f"no table under {HEADING!r}"
    return table


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def documented_table() -> list[str]:
    return table_lines(PRODUCT_DOC.read_text(encoding="utf-8"))


def documented_grants() -> dict[str, set[Actor]]:
    """Action text → who has a ✓ in its row."""
    header, separator, *rows = documented_table()
    assert cells(header)[: 1 + len(COLUMNS)] == ["action", *COLUMNS]
    assert set(separator) <= set("|-: ")
    grants: dict[str, set[Actor]] = {}
    for row in rows:
        action, *marks = cells(row)
        marks = marks[: len(COLUMNS)]
        assert set(marks) <= {CHECK, ""}, f"unexpected mark in row {action!r}: {marks}"
        assert action not in grants, f"row {action!r} appears twice"
        grants[action] = {actor for actor, mark in zip(COLUMNS, marks, strict=True) if mark}
    return grants


GRANTS = documented_grants()


def test_every_row_of_the_table_is_mapped_to_a_permission() -> None:
    assert sorted(GRANTS) == sorted(ROWS)


def test_every_permission_stands_for_exactly_one_row() -> None:
    assert sorted(ROWS.values()) == sorted(Permission)
    assert len(set(ROWS.values())) == len(ROWS)


def test_the_matrix_in_code_covers_every_permission() -> None:
    assert set(MATRIX) == set(Permission)


@pytest.mark.parametrize("actor", COLUMNS)
@pytest.mark.parametrize("action", sorted(ROWS))
def test_matrix_cell_matches_design(action: str, actor: Actor) -> None:
    permission = ROWS[action]
    documented = actor in GRANTS[action]
    assert (actor in MATRIX[permission]) == documented, (
        f"docs/product.md says {actor} {'may' if documented else 'may not'} {action!r}"
    )
    assert allows(actor, permission) == documented


@pytest.mark.parametrize("permission", list(Permission))
def test_stranger_to_the_team_gets_not_found_whatever_the_action(permission: Permission) -> None:
    with pytest.raises(NotFound) as refused:
        require(None, permission)
    assert refused.value.code == "not_found"


def test_user_lacking_the_role_gets_not_allowed() -> None:
    with pytest.raises(NotAllowed) as refused:
        require(Actor.USER, Permission.MEMBERS_MANAGE)
    assert refused.value.code == "not_allowed"
    assert "user" in refused.value.message


def test_support_agent_cannot_change_roles() -> None:
    with pytest.raises(NotAllowed):
        require(Actor.SUPPORT, Permission.MEMBERS_MANAGE)


def test_customer_cannot_settle_support_work() -> None:
    for actor in (Actor.USER, Actor.OWNER):
        with pytest.raises(NotAllowed):
            require(actor, Permission.SUPPORT_SETTLE)


@pytest.mark.parametrize("actor", COLUMNS)
@pytest.mark.parametrize("permission", list(Permission))
def test_require_lets_through_exactly_whom_the_matrix_allows(
    actor: Actor, permission: Permission
) -> None:
    if allows(actor, permission):
        assert require(actor, permission) is actor
    else:
        with pytest.raises(NotAllowed):
            require(actor, permission)
