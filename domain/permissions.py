"""The permission matrix of docs/product.md, as the one table that the API and the workers ask."""

from __future__ import annotations

import enum

from domain.errors import NotAllowed, NotFound


class Actor(enum.StrEnum):
    """Who is asking, relative to one team: its role there, or a support agent."""

    USER = "user"
    OWNER = "owner"
    SUPPORT = "support"


class Permission(enum.StrEnum):
    TEAM_VIEW = "team:view"
    INVITATIONS_MANAGE = "invitations:manage"
    MEMBERS_MANAGE = "members:manage"
    TEAM_LEAVE = "team:leave"
    CUSTOM_MODELS_MANAGE = "custom_models:manage"
    TRIAL_KEYS_USE = "trial_keys:use"
    TRIAL_KEYS_DELETE = "trial_keys:delete"
    PRODUCTION_KEYS_CREATE = "production_keys:create"
    PRODUCTION_KEYS_VIEW = "production_keys:view"
    PRODUCTION_KEYS_REVEAL_OWN = "production_keys:reveal_own"
    PRODUCTION_KEYS_MANAGE = "production_keys:manage"
    PRODUCTION_APPLY = "production:apply"
    USAGE_VIEW = "usage:view"
    INVOICES_VIEW = "invoices:view"
    PAYMENT_MANAGE = "payment:manage"
    MIGRATION_REQUEST = "migration:request"
    SUPPORT_SETTLE = "support:settle"
    EVENTS_VIEW = "events:view"


_U, _O, _S = Actor.USER, Actor.OWNER, Actor.SUPPORT

#: docs/product.md "Who may do what", row by row; tests/unit/test_permissions.py holds the two
#: together cell by cell.
MATRIX: dict[Permission, frozenset[Actor]] = {
    Permission.TEAM_VIEW: frozenset({_U, _O, _S}),
    Permission.INVITATIONS_MANAGE: frozenset({_O}),
    Permission.MEMBERS_MANAGE: frozenset({_O}),
    Permission.TEAM_LEAVE: frozenset({_U, _O}),
    Permission.CUSTOM_MODELS_MANAGE: frozenset({_U, _O}),
    Permission.TRIAL_KEYS_USE: frozenset({_U, _O}),
    Permission.TRIAL_KEYS_DELETE: frozenset({_O}),
    Permission.PRODUCTION_KEYS_CREATE: frozenset({_U, _O}),
    Permission.PRODUCTION_KEYS_VIEW: frozenset({_U, _O}),
    Permission.PRODUCTION_KEYS_REVEAL_OWN: frozenset({_U, _O}),
    Permission.PRODUCTION_KEYS_MANAGE: frozenset({_O}),
    Permission.PRODUCTION_APPLY: frozenset({_O}),
    Permission.USAGE_VIEW: frozenset({_U, _O}),
    Permission.INVOICES_VIEW: frozenset({_O}),
    Permission.PAYMENT_MANAGE: frozenset({_O}),
    Permission.MIGRATION_REQUEST: frozenset({_O}),
    Permission.SUPPORT_SETTLE: frozenset({_S}),
    Permission.EVENTS_VIEW: frozenset({_O}),
}


def allows(actor: Actor, permission: Permission) -> bool:
    return actor in MATRIX[permission]


def require(actor: Actor | None, permission: Permission) -> Actor:
    """Raise unless ``actor`` may do ``permission``; ``None`` means a stranger to the team.

    Strangers get :class:`NotFound` so they never learn that another team's resource exists;
    members lacking the role get :class:`NotAllowed`.
    """
    if actor is None:
        raise NotFound("No such team, or you are not a member of it.")
    if not allows(actor, permission):
        raise NotAllowed(f"Your role ({actor}) does not allow this ({permission}).")
    return actor
