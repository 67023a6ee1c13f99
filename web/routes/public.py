"""The public pages: the start page, signing up and in and out, and the pages the emails'
links open (verification, password reset, invitations, migration consents)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request, Response

from api.deps import ClientDep, ServicesDep, UowDep
from api.schemas import SignInRequest
from domain import accounts
from domain.clock import utcnow
from domain.errors import DomainError, InvalidCredentials
from web.pages import Form, Invalid, form_error, page_router, parse, status_of_refusal
from web.render import redirect, render
from web.session import SESSION_COOKIE, end_page_session, start_page_session

router = page_router()


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/")
def home(request: Request) -> Response:
    """Where to click first: sign in or up; once signed in, who you are and where to go."""
    return render(request, "home.html", title="teamkeys")


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "sign_in.html", title="Sign in", next=safe_next(next), values={})


@router.post("/sign-in")
def sign_in(
    request: Request,
    form: Form,
    uow: UowDep,
    services: ServicesDep,
    client: ClientDep,
) -> Response:
    """The API's sign-in (``POST /v1/sessions``): the same limits and the same refusals; the
    session's token goes into the page cookie instead of the answer."""
    target = safe_next(form.get("next"))
    try:
        body = parse(SignInRequest, form)
        issued = accounts.sign_in(
            uow.session,
            services.passwords,
            services.limiter,
            services.account_policy,
            email=body.email,
            password=body.password,
            client=client,
        )
        if issued is None:
            raise InvalidCredentials("Email or password is wrong.")
        uow.commit()
    except (DomainError, Invalid) as refused:
        return render(
            request,
            "sign_in.html",
            status_of_refusal(refused),
            title="Sign in",
            next=target,
            values={"email": form.get("email", "")},
            **form_error(refused),
        )
    response = redirect(target)
    max_age = int((issued.expires_at - utcnow()).total_seconds())
    start_page_session(request, response, issued.token, max_age)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: Form, uow: UowDep) -> Response:
    """Ends the page's session (the same as ``DELETE /v1/sessions/current``)."""
    del form  # checked: only our own page may sign a person out
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.sign_out(uow.session, token)
        uow.commit()
    response = redirect("/sign-in?signed_out=1")
    end_page_session(request, response)
    return response
