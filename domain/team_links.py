"""Links a team's owner had emailed: an invitation, a request for consent to a migration.

Such a link works while what it stands for is still open and unexpired, and only while the
owner who sent it still owns the team; anything else answers 410, each case with its own code
and words for the person holding it. Before answering, its holder may see who asks and for
which team.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.errors import Gone
from domain.links import by_token
from domain.models import Account, Invitation, MigrationTicket, Team
from domain.permissions import Actor
from domain.teams import actor_in

Sent = TypeVar("Sent", Invitation, MigrationTicket)


@dataclass(frozen=True)
class Refusal:
    """Why a link does not work, for the person holding it, and the error's code."""

    message: str
    code: str

    def error(self) -> Gone:
        return Gone(self.message, code=self.code)


@dataclass(frozen=True)
class Preview(Generic[Sent]):
    """What the holder of a link may see before answering it."""

    link: Sent
    team: Team
    #: The owner who sent it.
    sender: Account


@dataclass(frozen=True)
class TeamLink(Generic[Sent]):
    """When one kind of owner's link works, and what its holder is told when it does not."""

    model: type[Sent]
    #: Still open: not used, withdrawn, replaced or ended.
    is_open: Callable[[Sent], bool]
    sender_id: Callable[[Sent], str]
    #: Unknown, or no longer open.
    unusable: Refusal
    expired: Refusal
    sender_not_owner: Refusal

    def usable(self, session: Session, token: str, *, lock: bool) -> Sent:
        """What the link stands for, if it can still be used; else :class:`Gone`."""
        found = by_token(session, self.model, token, lock=lock)
        if found is None or not self.is_open(found):
            raise self.unusable.error()
        if found.expires_at <= utcnow():
            raise self.expired.error()
        sender = session.get(Account, self.sender_id(found))
        if sender is None or actor_in(session, sender, found.team_id) is not Actor.OWNER:
            raise self.sender_not_owner.error()
        return found

    def preview(self, session: Session, token: str) -> Preview[Sent]:
        found = self.usable(session, token, lock=False)
        team = session.get(Team, found.team_id)
        sender = session.get(Account, self.sender_id(found))
        assert team is not None and sender is not None
        return Preview(found, team, sender)
