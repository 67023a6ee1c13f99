"""Accounts and sessions (API.md): sign-up, sign-in, sign-out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CurrentAccount, RuntimeDep, TokenDep, UowDep
from api.errors import error_responses
from api.schemas import (
    AccountOut,
    MeOut,
    SessionOut,
    SignInRequest,
    SignUpRequest,
    SignUpResponse,
    TeamOut,
    TeamRef,
)
from domain import accounts
from domain.errors import InvalidCredentials
from domain.models import Account, Role, Team

router = APIRouter(prefix="/v1", tags=["accounts"])


def account_out(account: Account) -> AccountOut:
    return AccountOut(id=account.id, email=account.email, name=account.name)


def team_out(team: Team) -> TeamOut:
    return TeamOut(
        id=team.id,
        name=team.name,
        production_status=team.production_status,
        created_at=team.created_at,
    )


@router.post(
    "/signup",
    status_code=201,
    response_model=SignUpResponse,
    responses=error_responses(400, 409, 422),
)
def sign_up(body: SignUpRequest, uow: UowDep, runtime: RuntimeDep) -> SignUpResponse:
    """Create an account that owns a new team; a welcome email follows."""
    issued, team = accounts.sign_up(
        uow.session,
        runtime.passwords,
        runtime.session_policy,
        email=body.email,
        name=body.name,
        password=body.password,
    )
    uow.commit()
    return SignUpResponse(
        account=account_out(issued.account),
        team=team_out(team),
        token=issued.token,
        expires_at=issued.expires_at,
    )


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=error_responses(400, 401, 422, 429),
)
def sign_in(body: SignInRequest, uow: UowDep, runtime: RuntimeDep) -> SessionOut:
    """Exchange email and password for a session token."""
    issued = accounts.sign_in(
        uow.session,
        runtime.passwords,
        runtime.session_policy,
        email=body.email,
        password=body.password,
    )
    uow.commit()  # a failure is counted even though the answer is 401
    if issued is None:
        raise InvalidCredentials("Email or password is wrong.")
    return SessionOut(token=issued.token, expires_at=issued.expires_at)


@router.delete(
    "/sessions/current", status_code=204, response_class=Response, responses=error_responses(401)
)
def sign_out(uow: UowDep, token: TokenDep, _account: CurrentAccount) -> Response:
    accounts.sign_out(uow.session, token)
    uow.commit()
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, responses=error_responses(401))
def me(account: CurrentAccount) -> MeOut:
    membership = account.membership
    if membership is None:
        return MeOut(account=account_out(account), team=None, role=None)
    return MeOut(
        account=account_out(account),
        team=TeamRef(id=membership.team.id, name=membership.team.name),
        role=Role(membership.role),
    )
