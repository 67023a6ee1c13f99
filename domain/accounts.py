"""Accounts and sessions: sign-up and email verification, sign-in, passwords and their reset,
the person's own sessions, support agents (docs/product.md "Sign-up and email
verification", "Passwords and sessions").

Password hashing is slow on purpose, and never runs while the database holds a lock for us (on
SQLite every transaction holds the write lock): a use case hashes before its first statement,
or ends the transaction that only read (:func:`end_reads`) and starts a fresh one after.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import emails
from domain.account_links import find_link, issue_link, usable_link, use_link
from domain.audit import record_event
from domain.clock import utcnow
from domain.errors import (
    Conflict,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
    InvalidName,
    LinkUnusable,
    NotFound,
    Unauthenticated,
)
from domain.ids import new_id
from domain.limits import Limit, RateLimits
from domain.models import (
    MAX_NAME_LENGTH,
    MAX_PERSON_NAME_LENGTH,
    Account,
    AccountLink,
    AuthSession,
    Event,
    LinkPurpose,
    Membership,
    Role,
    Team,
)
from domain.secrets import Passwords, new_token, token_digest

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class AccountPolicy:
    """How long sessions and emailed links live, and how long an unverified account waits
    (values: ``infra.services.build_policies``, from settings)."""

    session_ttl: timedelta
    verification_ttl: timedelta
    reset_ttl: timedelta
    #: Unverified accounts older than this are deleted by the sweep.
    unverified_ttl: timedelta


@dataclass(frozen=True)
class Client:
    """Where a request comes from: its address (for abuse limits and the session list) and its
    ``User-Agent``."""

    ip: str
    agent: str = ""


@dataclass(frozen=True)
class IssuedSession:
    """A new session's bearer token: shown once to its owner, stored only as a digest."""

    token: str
    expires_at: datetime
    account: Account


@dataclass(frozen=True)
class SignedIn:
    """The account behind a request's session token, and which session it is."""

    account: Account
    session_id: str


# --- names, emails, passwords -------------------------------------------------------------

#: A URL scheme (``https://``, ``mailto:``), ``www.``, or a host with a path, a port maybe
#: (``evil.example/login``, ``evil.example:8080/login``): names go into emails, where a link
#: would lend it our voice. The dot of a host may have spaces before it (``evil
#: .example/login``, ``evil . example/``); a dot with spaces after it only is a sentence's or
#: an initial's (``Dr. Smith/Jones``).
_LINK = re.compile(
    r"[a-z][a-z0-9+.\-]*://|\b(?:mailto|javascript|data):|\bwww\.|"
    r"[\w\-](?:\.|\s+\.\s*)[^\W\d_][\w\-]*(?::\d+)?/",
    re.IGNORECASE,
)
#: Dots that NFKC leaves alone but that read as one between labels of a host: the
#: ideographic full stop (which NFKC also makes of its halfwidth and vertical forms, and a
#: browser's IDNA mapping reads as a dot), the hyphenation point and the katakana middle
#: dot, which NFKC makes of its halfwidth form (look-alikes a reader takes for one).
_HOST_DOTS = str.maketrans({"\u3002": ".", "\u2027": ".", "\u30fb": "."})


def _has_link(name: str) -> bool:
    """Whether ``name`` holds a link, its look-alikes too: it is checked after NFKC (which
    makes fullwidth letters, colons and slashes, fullwidth and small dots and the one dot
    leader plain ASCII), with every ideographic full stop read as a dot."""
    return _LINK.search(unicodedata.normalize("NFKC", name).translate(_HOST_DOTS)) is not None


def normalize_email(raw: str) -> str:
    """Emails compare case-insensitively after trimming (invariant 1)."""
    return raw.strip().lower()


def clean_name(raw: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """A name a person chose (key, custom model; their own with ``MAX_PERSON_NAME_LENGTH``),
    trimmed and otherwise as typed. Control characters are refused (no header can be
    injected) and so are links, disguised ones too (names go into emails: :func:`_has_link`)."""
    name = raw.strip()
    if not name:
        raise InvalidName("Name must not be empty.")
    if len(name) > max_length:
        raise InvalidName(f"Name is longer than {max_length} characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidName("Name must not contain control characters.")
    if _has_link(name):
        raise InvalidInput(
            "Name must not contain a link or web address: names are shown in emails.",
            code="name_has_link",
        )
    return name


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            code="weak_password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("Password is too long.", code="invalid_password")


def hash_new_password(session: Session, passwords: Passwords, password: str) -> str:
    """Check a new password and hash it, before ``session`` has begun a transaction."""
    check_password_strength(password)
    _outside_transaction(session)
    return passwords.hash(password)


def _outside_transaction(session: Session) -> None:
    if session.in_transaction():
        raise RuntimeError("a password must not be hashed while a database transaction is open")


def end_reads(session: Session) -> None:
    """End the transaction so far, which only read, so that the slow work that follows (a
    password hash) holds no database lock; the next statement begins a new transaction. What
    was read must be kept as plain values: loaded objects are expired."""
    session.rollback()


# --- accounts -------------------------------------------------------------------------------


def verified_account(session: Session, email: str) -> Account | None:
    """The verified account with ``email``, if there is one (there is at most one)."""
    return session.scalar(
        select(Account).where(
            Account.email == normalize_email(email), Account.email_verified_at.is_not(None)
        )
    )


def create_account(
    session: Session,
    *,
    email: str,
    name: str,
    password_hash: str,
    verified: bool = False,
    is_support: bool = False,
) -> Account:
    """Insert an account. An email that has a verified account is :class:`EmailTaken`; a
    verified new account takes the email from any unverified ones (:func:`claim_email`)."""
    email = normalize_email(email)
    name = clean_name(name, MAX_PERSON_NAME_LENGTH)
    now = utcnow()
    account = Account(
        id=new_id("acc"),
        email=email,
        name=name,
        password_hash=password_hash,
        is_support=is_support,
        created_at=now,
        email_verified_at=None,
    )
    if verified:
        claim_email(session, email, keep=None)
        account.email_verified_at = now
    elif verified_account(session, email) is not None:
        raise _taken()
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:  # proven by another account at this very moment
        raise _taken() from exc
    return account


def claim_email(session: Session, email: str, *, keep: Account | None) -> None:
    """Make way for ``email`` to be proven by ``keep`` (or a new account): refuse if another
    account proved it already, and delete every other unverified account with it, their
    sessions and teams with them. The accounts are locked in id order first, so two people
    proving one address at once are served one after the other."""
    holders = session.scalars(
        select(Account)
        .where(Account.email == normalize_email(email))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if keep is not None and keep.id not in {a.id for a in holders}:
        raise _link_gone()  # removed meanwhile: another holder proved the address first
    others = [a for a in holders if keep is None or a.id != keep.id]
    if any(a.email_verified for a in others):
        raise _taken()
    remove_unverified_accounts(
        session, [a.id for a in others], reason="another account proved the email"
    )


def remove_unverified_accounts(
    session: Session, account_ids: Sequence[str], *, reason: str
) -> None:
    """Delete unverified accounts with their links, sessions and teams. An unverified owner can
    bring nobody into its team nor make anything in it, so the team holds only its events."""
    ids = list(account_ids)
    if not ids:
        return
    rows = session.execute(
        select(Account.id, Account.email, Membership.team_id)
        .outerjoin(Membership, Membership.account_id == Account.id)
        .where(Account.id.in_(ids), Account.email_verified_at.is_(None))
    ).all()
    ids = [row.id for row in rows]
    teams = [row.team_id for row in rows if row.team_id is not None]
    for statement in (
        delete(AccountLink).where(AccountLink.account_id.in_(ids)),
        delete(AuthSession).where(AuthSession.account_id.in_(ids)),
        delete(Membership).where(Membership.account_id.in_(ids)),
        delete(Event).where(Event.team_id.in_(teams)),
        delete(Team).where(Team.id.in_(teams)),
        delete(Account).where(Account.id.in_(ids)),
    ):
        session.execute(statement.execution_options(synchronize_session="fetch"))
    for row in rows:
        record_event(
            session,
            team_id=None,
            actor_id=None,
            action="account.unverified_removed",
            target=row.id,
            details={"email": row.email, "team_id": row.team_id, "reason": reason},
        )


def remove_stale_unverified(session: Session, policy: AccountPolicy, *, limit: int = 500) -> int:
    """The sweep: unverified accounts older than ``policy.unverified_ttl`` are deleted."""
    stale = session.scalars(
        select(Account.id)
        .where(
            Account.email_verified_at.is_(None),
            Account.created_at <= utcnow() - policy.unverified_ttl,
        )
        .limit(limit)
    ).all()
    remove_unverified_accounts(session, stale, reason="never verified")
    return len(stale)


def personal_team_name(person: str) -> str:
    """ "<name>'s Team", the person's name cut short if the whole would not fit a team's name."""
    suffix = "'s Team"
    return f"{person[: MAX_PERSON_NAME_LENGTH - len(suffix)].rstrip()}{suffix}"


def found_personal_team(session: Session, account: Account) -> Team:
    """Make ``account`` the owner of a new team of its own (sign-up, removal, leaving)."""
    now = utcnow()
    team = Team(id=new_id("team"), name=personal_team_name(account.name), created_at=now)
    session.add(team)
    session.add(Membership(account_id=account.id, team_id=team.id, role=Role.OWNER, joined_at=now))
    session.flush()
    record_event(
        session,
        team_id=team.id,
        actor_id=account.id,
        action="team.created",
        target=team.id,
        details={"owner": account.id},
    )
    return team


def sign_up(
    session: Session,
    passwords: Passwords,
    limits: RateLimits,
    policy: AccountPolicy,
    *,
    email: str,
    name: str,
    password: str,
    client: Client,
) -> tuple[IssuedSession, Team]:
    """A new, unverified account owning a new team, a first session, and the verification
    email. An email with a verified account is :class:`EmailTaken`; one with only unverified
    accounts goes ahead (typing an address proves nothing)."""
    email = normalize_email(email)
    name = clean_name(name, MAX_PERSON_NAME_LENGTH)
    check_password_strength(password)
    limits.hit(Limit.SIGN_UP_PER_IP, client.ip)
    limits.hit(Limit.SIGN_UP_PER_EMAIL, email)
    password_hash = hash_new_password(session, passwords, password)
    account = create_account(session, email=email, name=name, password_hash=password_hash)
    team = found_personal_team(session, account)
    record_event(
        session,
        team_id=team.id,
        actor_id=account.id,
        action="account.signed_up",
        target=account.id,
        details={"email": account.email},
    )
    issue_link(session, account, LinkPurpose.EMAIL_VERIFICATION, policy.verification_ttl)
    return start_session(session, account, policy, client), team


def require_verified(account: Account) -> Account:
    """An unverified account may only read itself, ask for a new link, and sign out."""
    if not account.email_verified:
        raise EmailNotVerified(
            "Confirm your email first: open the link in the email we sent you (POST "
            "/v1/email-verifications sends a new one)."
        )
    return account


def request_verification(
    session: Session,
    limits: RateLimits,
    policy: AccountPolicy,
    account: Account,
    client: Client,
) -> None:
    """A new verification link by email; the older one dies."""
    if account.email_verified:
        raise Conflict("This email is confirmed already.", code="already_verified")
    limits.hit(Limit.VERIFICATION_PER_IP, client.ip)
    limits.hit(Limit.VERIFICATION_PER_EMAIL, account.email)
    issue_link(session, account, LinkPurpose.EMAIL_VERIFICATION, policy.verification_ttl)


def confirm_verification(session: Session, token: str) -> Account:
    """The verification link's holder proves the email: the account is verified, any other
    unverified account with the address is deleted, and the welcome email goes out."""
    found = find_link(session, token, LinkPurpose.EMAIL_VERIFICATION)
    account = session.get(Account, found.account_id)
    if account is None:
        raise _link_gone()
    claim_email(session, account.email, keep=account)  # locks the accounts before the link
    link = use_link(session, found.id, LinkPurpose.EMAIL_VERIFICATION)
    account = session.get(Account, link.account_id, populate_existing=True)
    if account is None:
        raise _link_gone()
    _mark_verified(session, account, how="link")
    return account


def _mark_verified(session: Session, account: Account, *, how: str) -> None:
    if account.email_verified:
        return
    account.email_verified_at = utcnow()
    team = account.membership.team if account.membership is not None else None
    record_event(
        session,
        team_id=team.id if team is not None else None,
        actor_id=account.id,
        action="account.email_verified",
        target=account.id,
        details={"email": account.email, "how": how},
    )
    if team is not None and not account.is_support:
        emails.queue_email(session, emails.welcome(account, team))


# --- sessions -------------------------------------------------------------------------------


def start_session(
    session: Session, account: Account, policy: AccountPolicy, client: Client
) -> IssuedSession:
    token = new_token("tks")
    now = utcnow()
    expires_at = now + policy.session_ttl
    session.add(
        AuthSession(
            id=new_id("ses"),
            account_id=account.id,
            token_digest=token_digest(token),
            created_at=now,
            expires_at=expires_at,
            last_used_at=now,
            client=_printable(client.agent)[:200],
            ip=client.ip[:45],
        )
    )
    return IssuedSession(token=token, expires_at=expires_at, account=account)


def sign_in(
    session: Session,
    passwords: Passwords,
    limits: RateLimits,
    policy: AccountPolicy,
    *,
    email: str,
    password: str,
    client: Client,
) -> IssuedSession:
    """A session for the right password; a wrong one is :class:`InvalidCredentials`.

    Failures are counted per email and address, and per address: a guesser is slowed down,
    but the person whose email is attacked still signs in from their own address. If an
    email has a verified account only that one can sign in; otherwise each unverified account
    with the email is tried (their holders have not proven the address yet).
    """
    email = normalize_email(email)
    limits.check(Limit.SIGN_IN_PER_EMAIL_IP, email, client.ip)
    limits.check(Limit.SIGN_IN_PER_IP, client.ip)
    candidates = session.execute(
        select(Account.id, Account.password_hash, Account.email_verified_at)
        .where(Account.email == email)
        .order_by(Account.email_verified_at.is_(None), Account.created_at.desc())
        .limit(5)
    ).all()
    if candidates and candidates[0].email_verified_at is not None:
        candidates = candidates[:1]
    end_reads(session)
    matched = next((c for c in candidates if passwords.verify(c.password_hash, password)), None)
    if matched is None:
        if not candidates:
            passwords.verify(None, password)  # as slow as a wrong password: no enumeration
        limits.hit(Limit.SIGN_IN_PER_EMAIL_IP, email, client.ip)
        limits.hit(Limit.SIGN_IN_PER_IP, client.ip)
        raise _wrong_credentials()
    rehashed = passwords.hash(password) if passwords.needs_rehash(matched.password_hash) else None
    account = session.get(Account, matched.id)
    if account is None or account.password_hash != matched.password_hash:
        raise _wrong_credentials()  # deleted, or its password changed, while we checked
    if rehashed is not None:
        account.password_hash = rehashed
    return start_session(session, account, policy, client)


def authenticate(session: Session, token: str) -> SignedIn:
    """The account and session behind a session token, if it exists and has not expired."""
    row = session.execute(
        select(Account, AuthSession.id, AuthSession.expires_at)
        .join(AuthSession, AuthSession.account_id == Account.id)
        .where(AuthSession.token_digest == token_digest(token))
    ).first()
    if row is None or row.expires_at <= utcnow():
        raise Unauthenticated("Sign in first: the session token is missing, unknown or expired.")
    return SignedIn(account=row.Account, session_id=row.id)


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(AuthSession).where(AuthSession.token_digest == token_digest(token)))


def purge_expired_sessions(session: Session) -> int:
    result = session.execute(delete(AuthSession).where(AuthSession.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def list_sessions(session: Session, signed_in: SignedIn) -> list[AuthSession]:
    """The person's own live sessions, most recently used first."""
    return list(
        session.scalars(
            select(AuthSession)
            .where(
                AuthSession.account_id == signed_in.account.id,
                AuthSession.expires_at > utcnow(),
            )
            .order_by(AuthSession.last_used_at.desc(), AuthSession.created_at.desc())
        )
    )


def end_session(session: Session, signed_in: SignedIn, session_id: str) -> None:
    """End one of the person's own sessions (another's is 404, as if it did not exist)."""
    ended = session.execute(
        delete(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.account_id == signed_in.account.id)
        .returning(AuthSession.id)
    ).first()
    if ended is None:
        raise NotFound("You have no such session.", code="no_such_session")


def end_other_sessions(session: Session, signed_in: SignedIn) -> int:
    """Sign out everywhere but here."""
    ended = session.execute(
        delete(AuthSession)
        .where(
            AuthSession.account_id == signed_in.account.id,
            AuthSession.id != signed_in.session_id,
        )
        .returning(AuthSession.id)
    ).all()
    return len(ended)


# --- passwords ------------------------------------------------------------------------------


def change_password(
    session: Session,
    passwords: Passwords,
    limits: RateLimits,
    signed_in: SignedIn,
    *,
    current_password: str,
    new_password: str,
    client: Client,
) -> None:
    """Set a new password given the current one; every other session of the account ends. A
    wrong current password counts as a failed sign-in."""
    check_password_strength(new_password)
    account_id, email = signed_in.account.id, signed_in.account.email
    stored = signed_in.account.password_hash
    limits.check(Limit.SIGN_IN_PER_EMAIL_IP, email, client.ip)
    end_reads(session)
    if not passwords.verify(stored, current_password):
        limits.hit(Limit.SIGN_IN_PER_EMAIL_IP, email, client.ip)
        limits.hit(Limit.SIGN_IN_PER_IP, client.ip)
        raise InvalidCredentials("The current password is wrong.", code="wrong_password")
    new_hash = passwords.hash(new_password)
    changed = session.execute(
        update(Account)
        .where(Account.id == account_id, Account.password_hash == stored)
        .values(password_hash=new_hash)
        .returning(Account.id)
    ).first()
    if changed is None:
        raise Conflict(
            "The password was changed meanwhile; sign in again.", code="password_changed"
        )
    session.execute(
        delete(AuthSession).where(
            AuthSession.account_id == account_id, AuthSession.id != signed_in.session_id
        )
    )
    record_event(
        session,
        team_id=_team_of(session, account_id),
        actor_id=account_id,
        action="account.password_changed",
        target=account_id,
        details={"ip": client.ip},
    )


def request_password_reset(
    session: Session,
    limits: RateLimits,
    policy: AccountPolicy,
    *,
    email: str,
    client: Client,
) -> None:
    """Email a reset link to the account with ``email``, if there is one; the caller answers
    the same either way. Without a verified account, the newest unverified one gets it (the
    link proves the address, as verification does)."""
    email = normalize_email(email)
    limits.hit(Limit.PASSWORD_RESET_PER_IP, client.ip)
    limits.hit(Limit.PASSWORD_RESET_PER_EMAIL, email)
    account = session.scalar(
        select(Account)
        .where(Account.email == email)
        .order_by(Account.email_verified_at.is_(None), Account.created_at.desc())
        .limit(1)
    )
    if account is not None:
        issue_link(session, account, LinkPurpose.PASSWORD_RESET, policy.reset_ttl)


def reset_password(
    session: Session, passwords: Passwords, *, token: str, new_password: str
) -> None:
    """The reset link's holder sets a new password: the email counts as proven, and every
    session of the account ends."""
    link_id = usable_link(session, token, LinkPurpose.PASSWORD_RESET).id  # no hashing for nothing
    check_password_strength(new_password)
    end_reads(session)
    new_hash = hash_new_password(session, passwords, new_password)
    found = find_link(session, token, LinkPurpose.PASSWORD_RESET)
    if found.id != link_id:
        raise _link_gone()
    account = session.get(Account, found.account_id)
    if account is None:
        raise _link_gone()
    claim_email(session, account.email, keep=account)
    link = use_link(session, found.id, LinkPurpose.PASSWORD_RESET)
    account = session.get(Account, link.account_id, populate_existing=True)
    if account is None:
        raise _link_gone()
    account.password_hash = new_hash
    session.execute(delete(AuthSession).where(AuthSession.account_id == account.id))
    _mark_verified(session, account, how="password reset")
    record_event(
        session,
        team_id=_team_of(session, account.id),
        actor_id=account.id,
        action="account.password_reset",
        target=account.id,
        details={},
    )


# --- support agents -------------------------------------------------------------------------


def add_support_agent(
    session: Session,
    passwords: Passwords,
    *,
    email: str,
    name: str,
    password: str,
) -> Account:
    """A support agent: a verified account that belongs to no team."""
    password_hash = hash_new_password(session, passwords, password)
    agent = create_account(
        session,
        email=email,
        name=name,
        password_hash=password_hash,
        verified=True,
        is_support=True,
    )
    record_event(
        session,
        team_id=None,
        actor_id=None,
        action="support.agent_added",
        target=agent.id,
        details={"email": agent.email},
    )
    return agent


def _team_of(session: Session, account_id: str) -> str | None:
    return session.scalar(select(Membership.team_id).where(Membership.account_id == account_id))


def _printable(text: str) -> str:
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))


def _wrong_credentials() -> InvalidCredentials:
    return InvalidCredentials("Email or password is wrong.")


def _taken() -> EmailTaken:
    return EmailTaken("An account with this email already exists.")


def _link_gone() -> LinkUnusable:
    return LinkUnusable("The account this link was for no longer exists.")
