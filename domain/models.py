"""The tables. Every state change of the product lands in one of these rows."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.sql.dml import Insert

from domain.clock import utcnow
from domain.ids import new_id

#: Longest name of a thing a team names (an API key, a custom model, so also the model a usage
#: call names): the API's limit, ``clean_name``'s and the column's.
MAX_NAME_LENGTH = 100
#: Longest name of a person (an account): the API's limit, ``clean_name``'s and the column's;
#: a team's too (a new team is "<person>'s Team", the person's name cut to fit).
MAX_PERSON_NAME_LENGTH = 200

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back an aware datetime, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_unless_present(session: Session, model: type[Base], *, unique: list[str]) -> Insert:
    """``INSERT … ON CONFLICT (unique) DO NOTHING`` into ``model``'s table, in the dialect of
    ``session``'s database (PostgreSQL or SQLite): a row that is there already is left as it
    is, also when another transaction inserts it at the same moment."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing(index_elements=unique)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Role(enum.StrEnum):
    OWNER = "owner"
    USER = "user"


class ProductionStatus(enum.StrEnum):
    NONE = "none"
    SUBMITTED = "submitted"
    MANUAL_REVIEW = "manual_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class Account(Base):
    """A person who signs in. Until its holder proves the email (the verification link, an
    accepted invitation, a password reset) the account is *unverified*: it may share its
    address with other unverified accounts and can do nothing but ask for a new link."""

    __tablename__ = "accounts"
    __table_args__ = (
        # Invariant 1: emails are unique among verified accounts only, so typing someone
        # else's address never blocks its real holder.
        Index(
            "uq_accounts_verified_email",
            "email",
            unique=True,
            postgresql_where=text("email_verified_at IS NOT NULL"),
            sqlite_where=text("email_verified_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("acc"))
    #: Trimmed and lower-cased, so uniqueness is case-insensitive (invariant 1).
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(MAX_PERSON_NAME_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_support: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the holder proved the email; ``None`` while the account is unverified.
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)

    membership: Mapped[Membership | None] = relationship(back_populates="account", uselist=False)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("team"))
    name: Mapped[str] = mapped_column(String(MAX_PERSON_NAME_LENGTH))
    production_status: Mapped[str] = mapped_column(String(20), default=ProductionStatus.NONE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when a team is closed (its last member left through a migration).
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    memberships: Mapped[list[Membership]] = relationship(back_populates="team")


class Membership(Base):
    """An account's place in its one team; the primary key makes "one team" structural."""

    __tablename__ = "memberships"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(back_populates="membership")
    team: Mapped[Team] = relationship(back_populates="memberships")


class AuthSession(Base):
    """A signed-in session; only the SHA-256 digest of its bearer token is kept."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ses"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    #: Written coalesced (every few seconds), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The client's ``User-Agent`` at sign-in, shortened; for the person's list of sessions.
    client: Mapped[str] = mapped_column(String(200), default="")
    #: The client's address at sign-in (the socket's, or a trusted proxy's ``X-Forwarded-For``).
    ip: Mapped[str] = mapped_column(String(45), default="")


class LinkPurpose(enum.StrEnum):
    """What an emailed account link proves or allows."""

    EMAIL_VERIFICATION = "email_verification"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a name, not a secret


class LinkStatus(enum.StrEnum):
    LIVE = "live"
    USED = "used"
    #: A newer link of the same purpose was asked for: only the newest works.
    REPLACED = "replaced"
    #: Its email could not be delivered.
    FAILED = "failed"


class AccountLink(Base):
    """A single-use link emailed to an account's address (email verification, password
    reset). Its token exists in plain only in the email: the job that sends it makes it, and
    only its digest is kept."""

    __tablename__ = "account_links"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("lnk"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10), default=LinkStatus.LIVE)
    #: SHA-256 of the link's token; ``None`` until the email is sent.
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Event(Base):
    """One audit event: who did what to what, when, with the details a reader needs."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_team_at", "team_id", "at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(80))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class Job(Base):
    """The transactional outbox: a job commits with the state change that causes it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "available_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    name: Mapped[str] = mapped_column(String(60))
    #: Ids only: a job re-reads everything else when it runs (invariant 5).
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not before this time (backoff after a failed attempt).
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: While in the future, the job is in the broker or running; afterwards the relay re-sends it.
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The id of the HTTP request that wrote the job (``X-Request-ID``), so the job's log lines
    #: can be found with the request's; none for jobs the scheduler or a command wrote.
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)


class EmailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    #: The server refused it for good (5xx): retrying cannot help.
    FAILED = "failed"
    #: Every retry failed; support can see it and the reason.
    DEAD = "dead"


class Email(Base):
    """One email to one person for one cause; the unique cause means it is sent at most once."""

    __tablename__ = "emails"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("eml"))
    template: Mapped[str] = mapped_column(String(60))
    #: What caused it, e.g. ``welcome:acc_…``: the dedupe key and the seed of the Message-ID.
    cause: Mapped[str] = mapped_column(String(200), unique=True)
    team_id: Mapped[str | None] = mapped_column(String(40), index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(200))
    #: Template variables; never a secret (invariant 3).
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default=EmailStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"
    FAILED = "failed"


class Invitation(Base):
    """An emailed, single-use, expiring offer to join a team; one row per team and email."""

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("team_id", "email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("inv"))
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=InvitationStatus.PENDING)
    inviter_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    #: SHA-256 of the link's token; ``None`` until the email is sent and after the link dies.
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    #: Bumped by every re-invite or resend: each round is one email, with a fresh token.
    rotation: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    account_id: Mapped[str | None] = mapped_column(String(40), default=None)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)


class KeyKind(enum.StrEnum):
    TRIAL = "trial"
    PRODUCTION = "production"


class KeyStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    FAILED = "failed"
    DELETED = "deleted"


class ApiKey(Base):
    """An API key of a team. The secret is found by its SHA-256 digest; a trial key's secret
    is also kept encrypted so members can copy it, a production key's only until revealed."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default=KeyStatus.PENDING)
    created_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    secret_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    #: Fernet token of the secret; wiped when a production key is revealed (or its window ends).
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    #: For the masked form: the key's kind prefix and its last four characters.
    last4: Mapped[str | None] = mapped_column(String(4), default=None)
    revealed_at: Mapped[datetime | None] = mapped_column(default=None)


class UsageRecord(Base):
    """One metered call, recorded once per gateway id (``request_id``) and team."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("team_id", "request_id"),
        Index("ix_usage_team_day", "team_id", "occurred_on"),
        # An invoice bills what was recorded in its month (late usage included).
        Index("ix_usage_team_recorded", "team_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    team_id: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[str] = mapped_column(String(40))
    key_kind: Mapped[str] = mapped_column(String(12))
    model: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]
    #: The UTC day of ``occurred_at``, stored so history groups and filters on an index.
    occurred_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageCounter(Base):
    """Calls per team, month and key kind: the trial cap is checked against this row in the
    same statement that counts the call."""

    __tablename__ = "usage_counters"

    team_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    key_kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)


class CustomModel(Base):
    __tablename__ = "custom_models"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cm"))
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    base_model: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    created_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplicationStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    MANUAL_REVIEW = "manual_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class ProductionApplication(Base):
    """One submission of the Go to Production form and its review; a team's latest one
    decides its ``production_status``."""

    __tablename__ = "production_applications"
    __table_args__ = (Index("ix_production_applications_status", "status", "submitted_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("app"))
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ApplicationStatus.SUBMITTED)
    company_name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(String(500))
    use_case: Mapped[str] = mapped_column(Text)
    expected_monthly_requests: Mapped[int] = mapped_column(BigInteger)
    contact_email: Mapped[str] = mapped_column(String(320))
    submitted_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The support agent who decided a manual review; ``None`` for the automatic checks.
    decided_by: Mapped[str | None] = mapped_column(String(40), default=None)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)


class PaymentMethod(Base):
    """A team's payment-method reference from the payment provider, with display fields.
    A card number is never accepted or stored; the provider token is never returned."""

    __tablename__ = "payment_methods"

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    billing_email: Mapped[str] = mapped_column(String(320))
    provider_token: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True)
class InvoiceLine:
    """One model's production usage recorded in an invoice's month, priced: part of the
    invoice. Usage dated into an earlier month (the gateway caught up late) has lines of its
    own, ``late_from`` that month."""

    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    amount_cents: int
    #: ``YYYY-MM`` of a late line's usage; ``None`` for the invoice's own month.
    late_from: str | None = None

    @property
    def description(self) -> str:
        """What the line bills, as the invoice shows it."""
        if self.late_from is None:
            return self.model
        return f"{self.model}, late usage from {self.late_from}"


class Invoice(Base):
    """A team's bill for one calendar month of production usage; issued once, never changed.

    Its lines are part of the issued document and stored with it (a JSON array, one object
    per model, sorted by model): an invoice is read, shown and printed whole, never queried
    line by line, and writing it is one row, not one per line.
    """

    __tablename__ = "invoices"
    # The unique (team_id, period) index also serves every look-up by team.
    __table_args__ = (UniqueConstraint("team_id", "period"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("invc"))
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    #: ``YYYY-MM``, the UTC calendar month billed.
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10), default="issued")
    currency: Mapped[str] = mapped_column(String(3))
    #: Integer minor units (invariant 4): the sum of the lines' amounts.
    total_cents: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: :class:`InvoiceLine` fields: one object per model for the month's own usage, sorted by
    #: model, then one per earlier month and model for late usage.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    @property
    def line_items(self) -> list[InvoiceLine]:
        return [InvoiceLine(**line) for line in self.lines]


class InvoiceRun(Base):
    """One run of a month's invoices, by the scheduler (one job per team) or the command line:
    what support sees at ``/v1/support/invoice-runs``. A scheduled run is finished when the
    last of its teams' jobs is."""

    __tablename__ = "invoice_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("irun"))
    period: Mapped[str] = mapped_column(String(7), index=True)
    #: ``scheduler`` or ``command``.
    source: Mapped[str] = mapped_column(String(20))
    #: Teams with production usage recorded in the period: one job (or one step) each.
    teams: Mapped[int] = mapped_column(Integer, default=0)
    teams_done: Mapped[int] = mapped_column(Integer, default=0)
    #: Of those, teams whose job died without issuing their invoice (support sees the job).
    teams_failed: Mapped[int] = mapped_column(Integer, default=0)
    #: Invoices this run issued (a team's existing invoice is left alone and not counted).
    invoices: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class ScheduledRun(Base):
    """A periodic run that happened (e.g. the invoices of ``2026-10``): the row is the lock
    that lets only one scheduler do it, and the record that lets a restarted one catch up."""

    __tablename__ = "scheduled_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerLease(Base):
    """Which scheduler process is the active one. One may run on every machine; the one
    holding this row works, the others wait. The holder renews ``beat_at`` every few seconds;
    a row not renewed within its lease is free for another to take (its holder died)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Who holds it: host, process id and a random part, unique per process run.
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The holder's last beat; ``/metrics`` shows it.
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Free for another holder after this.
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketStatus(enum.StrEnum):
    AWAITING_CONSENT = "awaiting_consent"
    AWAITING_REVIEW = "awaiting_review"
    APPROVED = "approved"
    COMPLETED = "completed"
    FAILED = "failed"
    DECLINED = "declined"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: A ticket in one of these states blocks another for the same account.
OPEN_TICKET_STATUSES = (
    TicketStatus.AWAITING_CONSENT,
    TicketStatus.AWAITING_REVIEW,
    TicketStatus.APPROVED,
)


class MigrationTicket(Base):
    """A request that support move an existing account into ``team_id`` with ``role``."""

    __tablename__ = "migration_tickets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("mig"))
    #: The team the account is to join.
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    requester_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: The account's email when the ticket was opened.
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.AWAITING_CONSENT)
    #: ``account_id`` while the ticket is open, else ``None``: the unique constraint makes
    #: "one open ticket per account" hold under concurrency too.
    open_account_id: Mapped[str | None] = mapped_column(String(40), unique=True, default=None)
    #: SHA-256 of the consent link's token; ``None`` until the email is sent and after use.
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    #: When the consent link stops working (the sweep then marks the ticket ``expired``).
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    consent_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The team the account left, recorded when the migration ran.
    source_team_id: Mapped[str | None] = mapped_column(String(40), default=None)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    history: Mapped[list[MigrationTicketChange]] = relationship(
        order_by="MigrationTicketChange.id", back_populates="ticket"
    )


class MigrationTicketChange(Base):
    """One state change of a ticket: who moved it, when, from what to what, and why."""

    __tablename__ = "migration_ticket_changes"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    ticket_id: Mapped[str] = mapped_column(ForeignKey("migration_tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``None`` when the system moved it (the job, the expiry sweep).
    actor_id: Mapped[str | None] = mapped_column(String(40), default=None)
    from_status: Mapped[str | None] = mapped_column(String(20), default=None)
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    ticket: Mapped[MigrationTicket] = relationship(back_populates="history")
