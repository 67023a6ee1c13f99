"""The emailed single-use link: invitations, migration consents, verification and reset links.

Its token exists in plain only in the email. The job that sends the email makes it from what
the link is for, under a server key (so a retried or duplicated job sends the same working
link), and stores only its digest; opening the link looks the digest up. Each flow keeps its
own rules (when its link works, what its job re-checks, what delivery changes) in its module;
what they share is here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.emails import NewEmail, queue_email
from domain.models import AccountLink, Email, EmailStatus, Invitation, MigrationTicket
from domain.secrets import link_token, token_digest

#: What a link stands for: the row that keeps its digest and expiry.
Holder = TypeVar("Holder", Invitation, MigrationTicket, AccountLink)
#: How a flow names one link's email from its job's arguments (an invitation's round, say).
Key = TypeVar("Key")


@dataclass(frozen=True)
class LinkKind:
    """How one kind of link looks."""

    #: Mixed into the token, so no kind's token can stand for another's.
    purpose: str
    #: The token's prefix, so a person (and a log scanner) can tell what it is.
    prefix: str
    #: The web console's page for it, under the public URL.
    path: str
    #: What the email's template calls the link.
    url_key: str = "link_url"


def by_token(
    session: Session,
    model: type[Holder],
    token: str,
    *criteria: ColumnElement[bool],
    lock: bool = False,
) -> Holder | None:
    """The row behind ``token`` (matching ``criteria`` too), whatever its state; locked and
    read afresh with ``lock``."""
    query = select(model).where(model.token_digest == token_digest(token), *criteria)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def past_expiry(
    session: Session, model: type[Holder], *criteria: ColumnElement[bool], limit: int
) -> Sequence[Holder]:
    """For a sweep: up to ``limit`` rows matching ``criteria`` whose link has expired, locked;
    rows another sweep holds are skipped."""
    return session.scalars(
        select(model)
        .where(*criteria, model.expires_at <= utcnow())
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


@dataclass(frozen=True)
class LinkEmail:
    """The email that carries a link, and the link's token (never stored in plain)."""

    email: Email
    token: str
    kind: LinkKind


def email_link(
    session: Session,
    holder: Invitation | MigrationTicket | AccountLink,
    kind: LinkKind,
    secret: bytes,
    email: NewEmail,
    *ids: object,
) -> LinkEmail:
    """Make ``holder``'s token from ``ids`` (the same on every retry), keep its digest, and
    queue ``email`` to carry it; the calling job sends it, adding the link at render time."""
    token = link_token(secret, kind.prefix, kind.purpose, *ids)
    holder.token_digest = token_digest(token)
    return LinkEmail(queue_email(session, email, send_by_job=False), token, kind)


@dataclass
class LinkSending(Generic[Key]):
    """What the job that emails one flow's link asks of that flow (``workers.send_link``)."""

    #: The link's email, as the flow names it, from the job's arguments.
    key: Callable[[Mapping[str, str]], Key]
    #: The cause of that email (``domain.emails``).
    email_cause: Callable[[Key], str]
    #: Re-checks at run time: the email to send and its token, or ``None`` (nothing to send).
    prepare: Callable[[Session, Key, bytes], LinkEmail | None]
    #: Carries the email's status over to the flow, once the server answered (or had).
    record: Callable[[Session, Key, EmailStatus], None]
    #: Every retry failed, for the reason given: what the flow records.
    died: Callable[[Session, Key, str], None]
