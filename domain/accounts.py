"""Accounts and sessions: sign-up, sign-in with throttling, sign-out, support agents."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.audit import record_event
from domain.clock import utcnow
from domain.emails import request_email
from domain.errors import EmailTaken, InvalidInput, Throttled, Unauthenticated
from domain.ids import new_id
from domain.models import Account, AuthSession, Membership, Role, SignInThrottle, Team
from domain.secrets import Passwords, new_token, token_digest

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live and how hard repeated failed sign-ins are throttled."""

    ttl: timedelta = timedelta(days=14)
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class IssuedSession:
    """A new session's bearer token: shown once to its owner, stored only as a digest."""

    token: str
    expires_at: datetime
    account: Account


def normalize_email(raw: str) -> str:
    """Emails compare case-insensitively after trimming (invariant 1)."""
    return raw.strip().lower()


def clean_name(raw: str) -> str:
    """A display name, trimmed; control characters are refused so no header can be injected."""
    name = raw.strip()
    if not name:
        raise InvalidInput("Name must not be empty.", code="invalid_name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"Name is longer than {MAX_NAME_LENGTH} characters.", code="invalid_name"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("Name must not contain control characters.", code="invalid_name")
    return name


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            code="weak_password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("Password is too long.", code="invalid_password")


def create_account(
    session: Session,
    passwords: Passwords,
    *,
    email: str,
    name: str,
    password: str,
    is_support: bool = False,
) -> Account:
    """Insert an account; a taken email (in any letter case) is :class:`EmailTaken`."""
    email = normalize_email(email)
    name = clean_name(name)
    check_password_strength(password)
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise EmailTaken("An account with this email already exists.")
    account = Account(
        id=new_id("acc"),
        email=email,
        name=name,
        password_hash=passwords.hash(password),
        is_support=is_support,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:
        raise EmailTaken("An account with this email already exists.") from exc
    return account


def found_personal_team(session: Session, account: Account) -> Team:
    """Make ``account`` the owner of a new team of its own (sign-up, removal, leaving)."""
    now = utcnow()
    team = Team(id=new_id("team"), name=f"{account.name}'s Team", created_at=now)
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
    policy: SessionPolicy,
    *,
    email: str,
    name: str,
    password: str,
) -> tuple[IssuedSession, Team]:
    """A new account owning a new team, a welcome email, and a first session."""
    account = create_account(session, passwords, email=email, name=name, password=password)
    team = found_personal_team(session, account)
    record_event(
        session,
        team_id=team.id,
        actor_id=account.id,
        action="account.signed_up",
        target=account.id,
        details={"email": account.email},
    )
    request_email(
        session,
        template="welcome",
        cause=f"welcome:{account.id}",
        to=account,
        team_id=team.id,
        context={"team_name": team.name, "account_name": account.name},
        reason="you signed up for teamkeys with this address.",
    )
    return start_session(session, account, policy), team


def start_session(session: Session, account: Account, policy: SessionPolicy) -> IssuedSession:
    token = new_token("tks")
    expires_at = utcnow() + policy.ttl
    session.add(
        AuthSession(
            id=new_id("ses"),
            account_id=account.id,
            token_digest=token_digest(token),
            expires_at=expires_at,
        )
    )
    return IssuedSession(token=token, expires_at=expires_at, account=account)


def sign_in(
    session: Session,
    passwords: Passwords,
    policy: SessionPolicy,
    *,
    email: str,
    password: str,
) -> IssuedSession | None:
    """A session for the right password, ``None`` for a wrong one (the failure is counted).

    Past ``policy.max_failures`` failures within ``policy.lockout`` the email is locked for the
    rest of that window and even a right password gets :class:`Throttled`: guessing stops paying.
    The caller commits in both cases, so the count survives the refusal.
    """
    email = normalize_email(email)
    now = utcnow()
    throttle = session.get(SignInThrottle, email, with_for_update=True)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        wait = math.ceil((throttle.locked_until - now).total_seconds())
        raise Throttled(
            f"Too many failed sign-ins for this email; try again in {wait} s.",
            retry_after=wait,
            code="too_many_attempts",
        )
    account = session.scalar(select(Account).where(Account.email == email))
    if passwords.verify(account.password_hash if account else None, password) and account:
        if throttle is not None:
            session.delete(throttle)
        if passwords.needs_rehash(account.password_hash):
            account.password_hash = passwords.hash(password)
        return start_session(session, account, policy)
    _count_failure(session, throttle, email, now, policy)
    return None


def _count_failure(
    session: Session,
    throttle: SignInThrottle | None,
    email: str,
    now: datetime,
    policy: SessionPolicy,
) -> None:
    if throttle is None:
        throttle = SignInThrottle(email=email, failures=0, window_started_at=now)
        try:
            with session.begin_nested():
                session.add(throttle)
        except IntegrityError:
            found = session.get(SignInThrottle, email, with_for_update=True)
            assert found is not None
            throttle = found
    if now - throttle.window_started_at > policy.lockout:
        throttle.failures, throttle.window_started_at, throttle.locked_until = 0, now, None
    throttle.failures += 1
    if throttle.failures >= policy.max_failures:
        throttle.locked_until = now + policy.lockout


def authenticate(session: Session, token: str) -> Account:
    """The account behind a session token, if the session exists and has not expired."""
    row = session.execute(
        select(Account, AuthSession.expires_at)
        .join(AuthSession, AuthSession.account_id == Account.id)
        .where(AuthSession.token_digest == token_digest(token))
    ).first()
    if row is None or row.expires_at <= utcnow():
        raise Unauthenticated("Sign in first: the session token is missing, unknown or expired.")
    account: Account = row.Account
    return account


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(AuthSession).where(AuthSession.token_digest == token_digest(token)))


def purge_expired_sessions(session: Session) -> int:
    result = session.execute(delete(AuthSession).where(AuthSession.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def add_support_agent(
    session: Session,
    passwords: Passwords,
    *,
    email: str,
    name: str,
    password: str,
) -> Account:
    """A support agent: an account that belongs to no team."""
    agent = create_account(
        session, passwords, email=email, name=name, password=password, is_support=True
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
