"""Request dependencies: the services, one unit of work per request, who is asking and from
where."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.accounts import Client, SignedIn, authenticate, require_verified
from domain.clock import utcnow
from domain.errors import Unauthenticated
from domain.models import Account
from domain.teams import require_support
from infra.db import UnitOfWork
from infra.services import Services

_bearer = HTTPBearer(auto_error=False, description="A session token from POST /v1/sessions")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_uow(services: ServicesDep) -> Iterator[UnitOfWork]:
    with services.db.unit_of_work() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def client_of(request: Request) -> Client:
    """The client's address is the socket's; behind a proxy listed in
    ``TEAMKEYS_TRUSTED_PROXIES`` it is the one the proxy forwarded (``api.app``)."""
    return Client(
        ip=request.client.host if request.client else "",
        agent=request.headers.get("user-agent", ""),
    )


ClientDep = Annotated[Client, Depends(client_of)]


def bearer_token(credentials: BearerDep) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("Sign in first: send 'Authorization: Bearer <session token>'.")
    return credentials.credentials


TokenDep = Annotated[str, Depends(bearer_token)]


def signed_in(uow: UowDep, token: TokenDep, services: ServicesDep) -> SignedIn:
    """The session behind the token, verified email or not; its last use is noted."""
    who = authenticate(uow.session, token)
    services.sessions_last_used.touch(who.session_id, utcnow())
    return who


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def any_account(who: SignedInDep) -> Account:
    """For the few routes an unverified account may use: who am I, a new link, sign out."""
    return who.account


AnyAccount = Annotated[Account, Depends(any_account)]


def current_account(who: SignedInDep) -> Account:
    """The signed-in account, which must have proven its email (403 ``email_not_verified``)."""
    return require_verified(who.account)


CurrentAccount = Annotated[Account, Depends(current_account)]


def verified_session(who: SignedInDep) -> SignedIn:
    """The session, whose account must have proven its email (403 ``email_not_verified``)."""
    require_verified(who.account)
    return who


VerifiedSession = Annotated[SignedIn, Depends(verified_session)]

#: The dependencies that refuse a session whose email is not proven yet. A route that needs one
#: of them, directly or through another (:data:`SupportAgent`), may answer 403
#: ``email_not_verified``, and its OpenAPI entry says so without the route declaring it
#: (``api.routing.ApiRoute``).
REFUSE_UNVERIFIED = frozenset({current_account, verified_session})


def refuses_unverified(dependant: Dependant) -> bool:
    """Whether ``dependant`` (a route's, or a dependency's) needs a session with a verified
    email anywhere in its tree of dependencies."""
    return dependant.call in REFUSE_UNVERIFIED or any(
        refuses_unverified(sub) for sub in dependant.dependencies
    )


def support_agent(account: CurrentAccount) -> Account:
    """Support routes ask the matrix too; customers (of any role) are refused with 403."""
    return require_support(account)


SupportAgent = Annotated[Account, Depends(support_agent)]
