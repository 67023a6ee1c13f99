"""Request dependencies: the runtime, one unit of work per request, the signed-in account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.accounts import authenticate
from domain.errors import Unauthenticated
from domain.models import Account
from domain.teams import require_support
from teamkeys.db import UnitOfWork
from teamkeys.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="A session token from POST /v1/sessions")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_uow(runtime: RuntimeDep) -> Iterator[UnitOfWork]:
    with runtime.db.unit_of_work() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def bearer_token(credentials: BearerDep) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("Sign in first: send 'Authorization: Bearer <session token>'.")
    return credentials.credentials


TokenDep = Annotated[str, Depends(bearer_token)]


def current_account(uow: UowDep, token: TokenDep) -> Account:
    return authenticate(uow.session, token)


CurrentAccount = Annotated[Account, Depends(current_account)]


def support_agent(account: CurrentAccount) -> Account:
    """Support routes ask the matrix too; customers (of any role) are refused with 403."""
    return require_support(account)


SupportAgent = Annotated[Account, Depends(support_agent)]
