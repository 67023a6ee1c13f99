"""Request and response bodies of API.md. Requests refuse unknown fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, field_validator

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


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL text cannot hold NUL: refuse it as invalid input (422), never a 500."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_allowed"])
    message: str
    fields: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class SignUpRequest(Request):
    email: EmailStr
    name: str = Field(min_length=1, max_length=MAX_PERSON_NAME_LENGTH)
    password: str = Field(min_length=1, max_length=1024)


class SignInRequest(Request):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class AccountOut(BaseModel):
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


class SessionItem(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime | None
    client: str = Field(description="the User-Agent the session signed in with")
    ip: str
    current: bool = Field(description="whether this is the session making the request")


class SessionList(BaseModel):
    items: list[SessionItem]


class TeamRef(BaseModel):
    id: str
    name: str


class TeamOut(BaseModel):
    id: str
    name: str
    production_status: str
    created_at: datetime


class SignUpResponse(BaseModel):
    account: AccountOut
    team: TeamOut
    token: str
    expires_at: datetime


class SessionOut(BaseModel):
    token: str
    expires_at: datetime


class MeOut(BaseModel):
    account: AccountOut
    team: TeamRef | None
    role: Role | None


class MemberOut(BaseModel):
    account_id: str
    email: str
    name: str
    role: Role
    joined_at: datetime


class MemberList(BaseModel):
    items: list[MemberOut]


class RoleChange(Request):
    role: Role


class EventOut(BaseModel):
    id: str
    at: datetime
    actor_id: str | None
    action: str
    target: str
    details: dict[str, Any]


class EventList(BaseModel):
    items: list[EventOut]


class EmailOut(BaseModel):
    id: str
    template: str
    to_address: str
    team_id: str | None
    status: EmailStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class EmailList(BaseModel):
    items: list[EmailOut]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)


class InvitationRequest(Request):
    email: EmailStr
    role: Role


class InvitationOut(BaseModel):
    id: str
    email: str
    role: Role
    status: InvitationStatus
    expires_at: datetime
    created_at: datetime
    sent_at: datetime | None
    accepted_at: datetime | None
    failure_reason: str | None


class InvitationList(BaseModel):
    items: list[InvitationOut]


class InvitationPreview(BaseModel):
    team_name: str
    inviter_name: str
    email: str
    role: Role
    expires_at: datetime


class AcceptInvitation(Request):
    token: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=MAX_PERSON_NAME_LENGTH)
    password: str = Field(min_length=1, max_length=1024)


class AcceptedInvitation(BaseModel):
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


class ApiKeyOut(BaseModel):
    id: str
    name: str
    kind: KeyKind
    status: KeyStatus
    masked: str | None = Field(description="prefix…last 4; null until the key is generated")
    created_by: str = Field(description="account id of the member who created it")
    created_by_name: str | None
    created_at: datetime
    activated_at: datetime | None
    last_used_at: datetime | None
    failure_reason: str | None
    revealable: bool = Field(description="whether POST …/reveal can show the secret now")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class RevealedSecret(BaseModel):
    secret: str


class UsageCall(Request):
    id: str = Field(min_length=1, max_length=100, description="the gateway's idempotency id")
    model: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    input_tokens: int = Field(ge=0, le=10**9)
    output_tokens: int = Field(ge=0, le=10**9)
    occurred_at: datetime | None = Field(
        default=None, description="defaults to now; at most 35 days back, never ahead"
    )


class UsageAccepted(BaseModel):
    status: Literal["recorded", "duplicate"]


class UsageRowOut(BaseModel):
    date: date
    model: str
    key_kind: KeyKind
    calls: int
    input_tokens: int
    output_tokens: int


class UsageList(BaseModel):
    items: list[UsageRowOut]


class CustomModelRequest(Request):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    base_model: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


class CustomModelOut(BaseModel):
    id: str
    name: str
    base_model: str
    created_by: str
    created_at: datetime


class CustomModelList(BaseModel):
    items: list[CustomModelOut]


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


class ProductionApplicationStatus(BaseModel):
    status: Literal["submitted"]


class ProductionApplicationOut(BaseModel):
    status: ProductionStatus
    submitted_at: datetime | None
    decided_at: datetime | None
    reasons: list[str]


class SupportProductionApplication(BaseModel):
    id: str
    status: ApplicationStatus
    team: TeamRef
    company_name: str
    website: str
    use_case: str
    expected_monthly_requests: int
    contact_email: str
    submitted_by: str
    submitted_at: datetime
    decided_at: datetime | None
    reasons: list[str]


class SupportProductionApplicationList(BaseModel):
    items: list[SupportProductionApplication]


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


class PaymentMethodOut(BaseModel):
    billing_email: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class InvoiceSummary(BaseModel):
    id: str
    period: str = Field(description="YYYY-MM")
    status: str
    currency: str
    total_cents: int


class InvoiceList(BaseModel):
    items: list[InvoiceSummary]


class InvoiceLineOut(BaseModel):
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    amount_cents: int


class InvoiceOut(InvoiceSummary):
    issued_at: datetime
    lines: list[InvoiceLineOut]


class MigrationTicketRequest(Request):
    email: EmailStr
    role: Role
    note: str = Field(default="", max_length=2000, description="for the support agent")


class MigrationTicketOut(BaseModel):
    id: str
    email: str
    role: Role
    note: str
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    expires_at: datetime = Field(description="when the consent link stops working")
    failure_reason: str | None = Field(description="why it failed, or the rejection's reason")


class MigrationTicketList(BaseModel):
    items: list[MigrationTicketOut]


class MigrationConsentPreview(BaseModel):
    requester_email: str
    requester_name: str
    team_name: str
    role: Role
    account_email: str
    expires_at: datetime


class MigrationConsentDecision(Request):
    token: str = Field(min_length=1, max_length=200)
    decision: Literal["accept", "decline"]


class MigrationConsentResult(BaseModel):
    status: TicketStatus


class TicketChangeOut(BaseModel):
    at: datetime
    from_status: TicketStatus | None
    to_status: TicketStatus
    actor_id: str | None = Field(description="null when the system moved it")
    actor_email: str | None
    note: str


class CurrentTeamOut(BaseModel):
    id: str
    name: str
    member_count: int
    owner_count: int
    account_role: Role
    account_is_sole_owner: bool


class SupportTicketOut(BaseModel):
    id: str
    status: TicketStatus
    requester_id: str
    requester_email: str
    requester_name: str
    account_id: str
    account_email: str
    account_name: str
    target_team: TeamRef
    current_team: CurrentTeamOut | None
    role: Role
    note: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    failure_reason: str | None
    history: list[TicketChangeOut]


class SupportTicketList(BaseModel):
    items: list[SupportTicketOut]


class ApproveTicket(Request):
    note: str = Field(default="", max_length=2000)


class RejectTicket(Request):
    reason: str = Field(min_length=1, max_length=2000)
