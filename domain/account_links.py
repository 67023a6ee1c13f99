"""Single-use links emailed to an account's address: email verification and password reset.

As for invitations, the token exists in plain only in the email. The job that sends the
email makes it from the link's id under a server key (so a retried job sends the same working
link) and stores only its digest, which stays after the link dies so that a person opening a
dead link is told why (used, replaced, expired). Asking for a new link of a purpose replaces
the older one, which dies at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain import emails
from domain.clock import utcnow
from domain.errors import Gone, LinkUnusable
from domain.ids import new_id
from domain.jobs import JobName, enqueue_job
from domain.links import LinkEmail, LinkKind, LinkSending, by_token, email_link
from domain.models import Account, AccountLink, EmailStatus, LinkPurpose, LinkStatus

#: Each purpose's link, and the email that carries it.
KINDS = {
    LinkPurpose.EMAIL_VERIFICATION: (
        LinkKind(LinkPurpose.EMAIL_VERIFICATION, "vfy", "verify-email"),
        emails.email_verification,
    ),
    LinkPurpose.PASSWORD_RESET: (
        LinkKind(LinkPurpose.PASSWORD_RESET, "rst", "reset-password"),
        emails.password_reset,
    ),
}


def issue_link(
    session: Session, account: Account, purpose: LinkPurpose, ttl: timedelta
) -> AccountLink:
    """A new link of ``purpose`` for ``account``; any older live one of that purpose dies. The
    job that emails it is written in this transaction."""
    now = utcnow()
    session.execute(
        update(AccountLink)
        .where(
            AccountLink.account_id == account.id,
            AccountLink.purpose == purpose,
            AccountLink.status == LinkStatus.LIVE,
        )
        .values(status=LinkStatus.REPLACED)
    )
    link = AccountLink(
        id=new_id("lnk"),
        account_id=account.id,
        purpose=purpose,
        status=LinkStatus.LIVE,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(link)
    enqueue_job(session, JobName.SEND_ACCOUNT_LINK, link_id=link.id)
    return link


def find_link(session: Session, token: str, purpose: LinkPurpose) -> AccountLink:
    """The link behind ``token`` whatever its state (no lock); unknown tokens are :class:`Gone`."""
    link = by_token(session, AccountLink, token, AccountLink.purpose == purpose)
    if link is None:
        raise LinkUnusable(
            "This link is not valid: it was replaced by a newer one, or it never existed. "
            "Ask for a new one."
        )
    return link


def usable_link(session: Session, token: str, purpose: LinkPurpose) -> AccountLink:
    """The link behind ``token`` if it can still be used, changing nothing (the page a link
    opens asks before it offers its button); else :class:`Gone` saying why."""
    link = find_link(session, token, purpose)
    _refuse_unusable(link)
    return link


def _refuse_unusable(link: AccountLink | None) -> None:
    if link is None or link.status not in (LinkStatus.LIVE, LinkStatus.USED):
        raise Gone(
            "This link was replaced by a newer one; use the link in the latest email.",
            code="link_replaced",
        )
    if link.status == LinkStatus.USED:
        raise Gone("This link was used already; it works once.", code="link_used")
    if link.expires_at <= utcnow():
        raise Gone("This link has expired; ask for a new one.", code="link_expired")


def use_link(session: Session, link_id: str, purpose: LinkPurpose) -> AccountLink:
    """Lock the link and spend it, if it is still usable; else :class:`Gone` saying why."""
    link = session.scalar(
        select(AccountLink)
        .where(AccountLink.id == link_id, AccountLink.purpose == purpose)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    _refuse_unusable(link)
    assert link is not None
    link.status = LinkStatus.USED
    link.used_at = utcnow()
    return link


# --- for the job that sends a link -------------------------------------------------------


def prepare_link_email(session: Session, link_id: str, secret: bytes) -> LinkEmail | None:
    """Re-check at run time and make the link's token; ``None`` when nothing should go out: the
    link was replaced, used or has expired, its account is gone, or (for a verification link)
    the email was proven meanwhile."""
    row = session.execute(
        select(AccountLink, Account)
        .join(Account, Account.id == AccountLink.account_id)
        .where(AccountLink.id == link_id)
        .with_for_update(of=AccountLink)
    ).first()
    if row is None:
        return None
    link, account = row
    if link.status != LinkStatus.LIVE or link.expires_at <= utcnow():
        return None
    purpose = LinkPurpose(link.purpose)
    if purpose is LinkPurpose.EMAIL_VERIFICATION and account.email_verified:
        return None
    kind, email = KINDS[purpose]
    return email_link(session, link, kind, secret, email(link, account), link.id)


def record_link_delivery(session: Session, link_id: str, status: EmailStatus) -> None:
    """The link's email went out, or could not: a link nobody received is ``failed``."""
    link = session.get(AccountLink, link_id, with_for_update=True)
    if link is None or link.status != LinkStatus.LIVE:
        return
    if status is EmailStatus.SENT:
        link.sent_at = utcnow()
    elif status in (EmailStatus.FAILED, EmailStatus.DEAD):
        link.status, link.token_digest = LinkStatus.FAILED, None


#: For the job that emails a link (``send_account_link``).
SENDING = LinkSending(
    key=lambda args: args["link_id"],
    email_cause=emails.account_link_cause,
    prepare=prepare_link_email,
    record=record_link_delivery,
    died=lambda session, link_id, _reason: record_link_delivery(session, link_id, EmailStatus.DEAD),
)
