"""Request and response bodies of docs/api.md. Requests refuse unknown fields."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import (
    AliasGenerator,
    AliasPath,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    field_validator,
)

from domain.models import (
    MAX_NAME_LENGTH,
    MAX_PERSON_NAME_LENGTH,
    ApplicationStatus,
    EmailStatus,
    InvitationStatus,
    KeyKind,
    KeyStatus,
    ProductionStatus,
    Role,
    TicketStatus,
)

T = TypeVar("T")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL text cannot hold NUL: refuse it as invalid input (422), never a 500."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Out(BaseModel):
    """A response body, read from the attributes of the domain's objects and views:
    ``Model.model_validate(obj)``, nested models included."""

    model_config = ConfigDict(from_attributes=True)


class Items(Out, Generic[T]):
    """A list answer: ``{"items": [...]}``."""

    items: list[T]

    @classmethod
    def of(cls, found: Iterable[object]) -> Self:
        """The answer listing ``found``, each item read from its attributes."""
        return cls.model_validate({"items": found})


def of(*path: str, **field: Any) -> Any:
    """A field read along ``path`` from the object validated: ``of("team", "name")`` is
    ``obj.team.name``. The JSON keeps the field's own name."""
    return Field(validation_alias=AliasPath(*path), **field)


def fields_of(part: str) -> ConfigDict:
    """For a model read from a view: each field is ``view.<part>.<field>``, but for those
    that say with :func:`of` where they come from."""
    return ConfigDict(
        from_attributes=True,
        alias_generator=AliasGenerator(validation_alias=lambda name: AliasPath(part, name)),
    )


class ErrorDetail(Out):
    code: str = Field(examples=["not_allowed"])
    message: str
    fields: list[dict[str, Any]] | None = None


class ErrorBody(Out):
    error: ErrorDetail


class SignUpRequest(Request):
    email: EmailStr
    name: str = Field(min_length=1, max_length=MAX_PERSON_NAME_LENGTH)
    password: str = Field(min_length=1, max_length=1024)


class SignInRequest(Request):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class AccountOut(Out):
    id: str
    email: str
    name: str
    email_verified: bool = Field(
        description="false until the holder opens the emailed link; until then only GET "
        "/v1/me, POST /v1/email-verifications and DELETE /v1/sessions/current are allowed"
    )


class EmailVerificationConfirm(Request):
    token: str = Field(min_length=1, max_length=200, description="the token from the emailed link")


class PasswordChange(Request):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordResetRequest(Request):
    email: str = Field(min_length=1, max_length=320)


class PasswordResetConfirm(Request):
    token: str = Field(min_length=1, max_length=200, description="the token from the emailed link")
    new_password: str = Field(min_length=1, max_length=1024)


class SessionItem(Out):
    id: str
    created_at: datetime
    last_used_at: datetime | None
    client: str = Field(description="the User-Agent the session signed in with")
    ip: str
    current: bool = Field(description="whether this is the session making the request")


class SessionList(Items[SessionItem]):
    pass


class TeamRef(Out):
    id: str
    name: str


class TeamOut(Out):
    id: str
    name: str
    production_status: str
    created_at: datetime


class SignUpResponse(Out):
    account: AccountOut
    team: TeamOut
    token: str
    expires_at: datetime


class SessionOut(Out):
    token: str
    expires_at: datetime


class MeOut(Out):
    account: AccountOut
    team: TeamRef | None
    role: Role | None


# Read from :class:`domain.teams.Member`.
class MemberOut(Out):
    model_config = fields_of("membership")

    account_id: str
    email: str = of("account", "email")
    name: str = of("account", "name")
    role: Role
    joined_at: datetime


class MemberList(Items[MemberOut]):
    pass


class RoleChange(Request):
    role: Role


class EventOut(Out):
    id: str
    at: datetime
    actor_id: str | None
    action: str
    target: str
    details: dict[str, Any]


class EventList(Items[EventOut]):
    pass


class EmailOut(Out):
    id: str
    template: str
    to_address: str
    team_id: str | None
    status: EmailStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class EmailList(Items[EmailOut]):
    pass


class Health(Out):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)


class InvitationRequest(Request):
    email: EmailStr
    role: Role


class InvitationOut(Out):
    id: str
    email: str
    role: Role
    status: InvitationStatus
    expires_at: datetime
    created_at: datetime
    sent_at: datetime | None
    accepted_at: datetime | None
    failure_reason: str | None


class InvitationList(Items[InvitationOut]):
    pass


# Read from :class:`domain.team_links.Preview` (an invitation's link and its sender).
class InvitationPreview(Out):
    model_config = fields_of("link")

    team_name: str = of("team", "name")
    inviter_name: str = of("sender", "name")
    email: str
    role: Role
    expires_at: datetime


class AcceptInvitation(Request):
    token: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=MAX_PERSON_NAME_LENGTH)
    password: str = Field(min_length=1, max_length=1024)


class AcceptedInvitation(Out):
    account: AccountOut
    team: TeamOut
    role: Role
    token: str
    expires_at: datetime


class ApiKeyRequest(Request):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    kind: KeyKind


class ApiKeyRename(Request):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


# Read from :class:`domain.api_keys.KeyView`.
class ApiKeyOut(Out):
    model_config = fields_of("key")

    id: str
    name: str
    kind: KeyKind
    status: KeyStatus
    masked: str | None = of("masked", description="prefix…last 4; null until the key is generated")
    created_by: str = Field(description="account id of the member who created it")
    created_by_name: str | None = of("created_by_name")
    created_at: datetime
    activated_at: datetime | None
    last_used_at: datetime | None
    failure_reason: str | None
    revealable: bool = of("revealable", description="whether POST …/reveal can show the secret now")


class ApiKeyList(Items[ApiKeyOut]):
    pass


class RevealedSecret(Out):
    secret: str


class UsageCall(Request):
    id: str = Field(min_length=1, max_length=100, description="the gateway's idempotency id")
    model: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    input_tokens: int = Field(ge=0, le=10**9)
    output_tokens: int = Field(ge=0, le=10**9)
    occurred_at: datetime | None = Field(
        default=None, description="defaults to now; at most 35 days back, never ahead"
    )


class UsageAccepted(Out):
    status: Literal["recorded", "duplicate"]


class UsageRowOut(Out):
    date: date
    model: str
    key_kind: KeyKind
    calls: int
    input_tokens: int
    output_tokens: int


class UsageList(Items[UsageRowOut]):
    pass


class CustomModelRequest(Request):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    base_model: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


class CustomModelOut(Out):
    id: str
    name: str
    base_model: str
    created_by: str
    created_at: datetime


class CustomModelList(Items[CustomModelOut]):
    pass


class ProductionApplicationRequest(Request):
    company_name: str = Field(min_length=1, max_length=200)
    website: HttpUrl = Field(description="http or https URL")
    use_case: str = Field(min_length=50, max_length=5000, description="at least 50 characters")
    expected_monthly_requests: int = Field(gt=0, le=10**12)
    contact_email: EmailStr
    accept_terms: Literal[True] = Field(description="must be true")

    @field_validator("website")
    @classmethod
    def http_or_https(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme not in ("http", "https"):
            raise ValueError("website must be an http or https URL")
        return value


class ProductionApplicationStatus(Out):
    status: Literal["submitted"]


class ProductionApplicationOut(Out):
    status: ProductionStatus
    submitted_at: datetime | None
    decided_at: datetime | None
    reasons: list[str]


# Read from :class:`domain.production.ApplicationView`.
class SupportProductionApplication(Out):
    model_config = fields_of("application")

    id: str
    status: ApplicationStatus
    team: TeamRef = of("team")
    company_name: str
    website: str
    use_case: str
    expected_monthly_requests: int
    contact_email: str
    submitted_by: str
    submitted_at: datetime
    decided_at: datetime | None
    reasons: list[str]


class SupportProductionApplicationList(Items[SupportProductionApplication]):
    pass


class Decision(Request):
    reason: str = Field(min_length=1, max_length=2000)


class PaymentMethodRequest(Request):
    billing_email: EmailStr
    provider_token: str = Field(
        min_length=1, max_length=200, description="the payment provider's reference; never returned"
    )
    brand: Literal["visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay"]
    last4: str = Field(pattern=r"^[0-9]{4}$")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)


class PaymentMethodOut(Out):
    billing_email: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class InvoiceSummary(Out):
    id: str
    period: str = Field(description="YYYY-MM")
    status: str
    currency: str
    total_cents: int


class InvoiceList(Items[InvoiceSummary]):
    pass


class InvoiceLineOut(Out):
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    amount_cents: int
    late_from: str | None = Field(
        description="YYYY-MM: usage dated into that earlier month and recorded after it, "
        "billed here; null for the invoice's own month"
    )
    description: str = Field(description='e.g. "teamkeys-large, late usage from 2026-10"')


class InvoiceRunOut(Out):
    id: str
    period: str = Field(description="YYYY-MM")
    source: str = Field(description="scheduler or command")
    started_at: datetime
    finished_at: datetime | None = Field(description="null while its teams' jobs run")
    teams: int = Field(description="teams with production usage recorded in the period")
    teams_done: int
    teams_failed: int = Field(description="of those, teams whose invoice job died")
    invoices: int = Field(description="invoices this run issued (existing ones are left)")
    total_cents: int
    currency: str


class NextInvoiceRun(Out):
    period: str = Field(description="YYYY-MM")
    due_at: datetime


class InvoiceRunList(Items[InvoiceRunOut]):
    next: NextInvoiceRun = Field(description="the scheduler's next run")


class InvoiceOut(InvoiceSummary):
    issued_at: datetime
    lines: list[InvoiceLineOut] = of("line_items")


class MigrationTicketRequest(Request):
    email: EmailStr
    role: Role
    note: str = Field(default="", max_length=2000, description="for the support agent")


class MigrationTicketOut(Out):
    id: str
    email: str
    role: Role
    note: str
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    expires_at: datetime = Field(description="when the consent link stops working")
    failure_reason: str | None = Field(description="why it failed, or the rejection's reason")


class MigrationTicketList(Items[MigrationTicketOut]):
    pass


class MigrationConsentDecision(Request):
    token: str = Field(min_length=1, max_length=200)
    decision: Literal["accept", "decline"]


# Read from :class:`domain.team_links.Preview` (a ticket's consent link and its requester).
class MigrationConsentPreview(Out):
    model_config = fields_of("link")

    requester_email: str = of("sender", "email")
    requester_name: str = of("sender", "name")
    team_name: str = of("team", "name")
    role: Role
    account_email: str = of("link", "email")
    expires_at: datetime


class MigrationConsentResult(Out):
    status: TicketStatus


# Read from :class:`domain.migration_tickets.HistoryEntry`.
class TicketChangeOut(Out):
    model_config = fields_of("change")

    at: datetime
    from_status: TicketStatus | None
    to_status: TicketStatus
    actor_id: str | None = Field(description="null when the system moved it")
    actor_email: str | None = of("actor_email")
    note: str


# Read from :class:`domain.migration_tickets.CurrentTeam`.
class CurrentTeamOut(Out):
    id: str = of("team", "id")
    name: str = of("team", "name")
    member_count: int
    owner_count: int
    account_role: Role
    account_is_sole_owner: bool


# Read from :class:`domain.migration_tickets.TicketView`.
class SupportTicketOut(Out):
    model_config = fields_of("ticket")

    id: str
    status: TicketStatus
    requester_id: str = of("requester", "id")
    requester_email: str = of("requester", "email")
    requester_name: str = of("requester", "name")
    account_id: str = of("account", "id")
    account_email: str = of("account", "email")
    account_name: str = of("account", "name")
    target_team: TeamRef = of("target_team")
    current_team: CurrentTeamOut | None = of("current_team")
    role: Role
    note: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    failure_reason: str | None
    history: list[TicketChangeOut] = of("history")


class SupportTicketList(Items[SupportTicketOut]):
    pass


class ApproveTicket(Request):
    note: str = Field(default="", max_length=2000)


class RejectTicket(Request):
    reason: str = Field(min_length=1, max_length=2000)
