"""Accounts and sessions (docs/api.md): sign-up and email verification, sign-in and sign-out,
passwords and their reset, the person's own sessions, who am I."""

from __future__ import annotations

from fastapi import Response

from api.deps import (
    AnyAccount,
    ClientDep,
    ServicesDep,
    TokenDep,
    UowDep,
    VerifiedSession,
)
from api.routing import answer, api_router, committed, empty_answer
from api.schemas import (
    AccountOut,
    EmailVerificationConfirm,
    MeOut,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    SessionItem,
    SessionList,
    SessionOut,
    SignInRequest,
    SignUpRequest,
    SignUpResponse,
    TeamOut,
    TeamRef,
)
from domain import accounts
from domain.accounts import Client, IssuedSession, SignedIn
from domain.models import Account, Role, Team
from infra.db import UnitOfWork
from infra.services import Services

router = api_router(prefix="/v1", tags=["accounts"])


@router.post("/signup", **answer(SignUpResponse, 400, 409, 422, 429, status=201))
def sign_up(
    body: SignUpRequest, uow: UowDep, services: ServicesDep, client: ClientDep
) -> SignUpResponse:
    """Create an account that owns a new team. The account is unverified until the link in
    the verification email is opened; the welcome email follows then."""
    issued, team = sign_up_with(uow, services, body, client)
    return committed(
        uow,
        SignUpResponse(
            account=AccountOut.model_validate(issued.account),
            team=TeamOut.model_validate(team),
            token=issued.token,
            expires_at=issued.expires_at,
        ),
    )


@router.post("/email-verifications", **empty_answer(202, 401, 409, 429))
def resend_verification(
    uow: UowDep, account: AnyAccount, services: ServicesDep, client: ClientDep
) -> Response:
    """Email a new verification link; the previous one stops working. 409 if the email is
    confirmed already."""
    accounts.request_verification(
        uow.session, services.limiter, services.account_policy, account, client
    )
    return committed(uow, Response(status_code=202))


@router.post("/email-verifications/confirm", **answer(MeOut, 400, 410, 422))
def confirm_verification(body: EmailVerificationConfirm, uow: UowDep) -> MeOut:
    """The emailed link's token proves the address: the account is verified (any other
    unverified account with it is deleted) and the welcome email is sent. 410 if the link
    was used, replaced by a newer one, or has expired."""
    account = accounts.confirm_verification(uow.session, body.token)
    return committed(uow, me_out(account))


@router.post("/sessions", **answer(SessionOut, 400, 401, 422, 429, status=201))
def sign_in(
    body: SignInRequest, uow: UowDep, services: ServicesDep, client: ClientDep
) -> SessionOut:
    """Exchange email and password for a session token. Failed attempts are limited per email
    and address, and per address (429 with Retry-After)."""
    issued = sign_in_with(uow, services, body, client)
    return committed(uow, SessionOut.model_validate(issued))


@router.delete("/sessions/current", **empty_answer(204, 401))
def sign_out(uow: UowDep, token: TokenDep, _account: AnyAccount) -> Response:
    accounts.sign_out(uow.session, token)
    return committed(uow, Response(status_code=204))


@router.get("/me", **answer(MeOut, 401))
def me(account: AnyAccount) -> MeOut:
    """Who is signed in, and whether the email is confirmed yet."""
    return me_out(account)


def me_out(account: Account) -> MeOut:
    membership = account.membership
    return MeOut(
        account=AccountOut.model_validate(account),
        team=TeamRef.model_validate(membership.team) if membership else None,
        role=Role(membership.role) if membership else None,
    )


@router.put("/me/password", **empty_answer(204, 400, 401, 409, 422, 429))
def change_password(
    body: PasswordChange,
    uow: UowDep,
    who: VerifiedSession,
    services: ServicesDep,
    client: ClientDep,
) -> Response:
    """Set a new password with the current one; every other session ends. A wrong current
    password is 401 ``wrong_password`` and counts as a failed sign-in."""
    change_password_with(uow, services, who, body, client)
    return committed(uow, Response(status_code=204))


@router.post("/password-resets", **empty_answer(202, 400, 422, 429))
def request_password_reset(
    body: PasswordResetRequest, uow: UowDep, services: ServicesDep, client: ClientDep
) -> Response:
    """Email a reset link (valid one hour, once) if an account has this email. The answer is
    202 either way, so it tells nobody whether the email has an account."""
    accounts.request_password_reset(
        uow.session, services.limiter, services.account_policy, email=body.email, client=client
    )
    return committed(uow, Response(status_code=202))


@router.post("/password-resets/confirm", **empty_answer(204, 400, 410, 422))
def reset_password(body: PasswordResetConfirm, uow: UowDep, services: ServicesDep) -> Response:
    """Set a new password with the emailed link's token: the email counts as confirmed, and
    every session of the account ends. 410 if the link was used, replaced or has expired."""
    accounts.reset_password(
        uow.session, services.passwords, token=body.token, new_password=body.new_password
    )
    return committed(uow, Response(status_code=204))


@router.get("/me/sessions", **answer(SessionList, 401))
def list_sessions(uow: UowDep, who: VerifiedSession) -> SessionList:
    """The person's own sessions, most recently used first; ``current`` marks this one."""
    return SessionList(
        items=[
            SessionItem(
                id=row.id,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                client=row.client,
                ip=row.ip,
                current=row.id == who.session_id,
            )
            for row in accounts.list_sessions(uow.session, who)
        ]
    )


@router.delete("/me/sessions", **empty_answer(204, 401))
def end_other_sessions(uow: UowDep, who: VerifiedSession) -> Response:
    """Sign out everywhere else: every session but this one ends."""
    accounts.end_other_sessions(uow.session, who)
    return committed(uow, Response(status_code=204))


@router.delete("/me/sessions/{session_id}", **empty_answer(204, 401, 404))
def end_session(session_id: str, uow: UowDep, who: VerifiedSession) -> Response:
    """End one of your own sessions (this one too, if it is named)."""
    accounts.end_session(uow.session, who, session_id)
    return committed(uow, Response(status_code=204))


# The domain calls behind signing up and in, made by the pages too (``web.routes.public``):
# the same services and the same body, so a page refuses what the API refuses.


def sign_up_with(
    uow: UnitOfWork, services: Services, body: SignUpRequest, client: Client
) -> tuple[IssuedSession, Team]:
    return accounts.sign_up(
        uow.session,
        services.passwords,
        services.limiter,
        services.account_policy,
        email=body.email,
        name=body.name,
        password=body.password,
        client=client,
    )


def sign_in_with(
    uow: UnitOfWork, services: Services, body: SignInRequest, client: Client
) -> IssuedSession:
    return accounts.sign_in(
        uow.session,
        services.passwords,
        services.limiter,
        services.account_policy,
        email=body.email,
        password=body.password,
        client=client,
    )


def change_password_with(
    uow: UnitOfWork, services: Services, who: SignedIn, body: PasswordChange, client: Client
) -> None:
    accounts.change_password(
        uow.session,
        services.passwords,
        services.limiter,
        who,
        current_password=body.current_password,
        new_password=body.new_password,
        client=client,
    )
