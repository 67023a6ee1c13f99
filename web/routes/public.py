"""The public pages: the start page, signing up and in and out, and the pages the emails'
links open (verification, password reset, invitations, migration consents)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request, Response

from api.deps import ClientDep, ServicesDep, UowDep
from api.routes.accounts import sign_in_with, sign_up_with
from api.routes.invitations import accept_with
from api.schemas import (
    AcceptInvitation,
    MigrationConsentDecision,
    PasswordResetConfirm,
    PasswordResetRequest,
    SignInRequest,
    SignUpRequest,
)
from domain import accounts, invitations, migration_tickets
from domain.account_links import usable_link
from domain.accounts import IssuedSession
from domain.clock import utcnow
from domain.errors import (
    DomainError,
    Gone,
    InvalidInput,
    LinkUnusable,
    NotFound,
    Unauthenticated,
)
from domain.models import LinkPurpose, TicketStatus
from infra.db import UnitOfWork
from web.pages import Form, Invalid, form_error, page_router, parse, refused_form, status_of_refusal
from web.render import redirect, render
from web.session import Page, end_page_session, session_token, start_page_session

router = page_router()


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if not target or any(ch == "\\" or ord(ch) < 32 for ch in target):
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
        issued = sign_in_with(uow, services, parse(SignInRequest, form), client)
        uow.commit()
    except (DomainError, Invalid) as refused:
        return refused_form(
            request,
            "sign_in.html",
            refused,
            title="Sign in",
            next=target,
            values={"email": form.get("email", "")},
        )
    return signed_in_at(request, uow, target, issued)


def signed_in_at(request: Request, uow: UnitOfWork, target: str, issued: IssuedSession) -> Response:
    """On to ``target`` with the new session in the page cookie; the session this browser held
    before, if any, ends (a cookie replaced must not leave a live session behind)."""
    replaced = session_token(request)
    if replaced:
        accounts.sign_out(uow.session, replaced)
        uow.commit()
    response = redirect(target)
    max_age = int((issued.expires_at - utcnow()).total_seconds())
    start_page_session(request, response, issued.token, max_age)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: Form, uow: UowDep) -> Response:
    """Ends the page's session (the same as ``DELETE /v1/sessions/current``)."""
    del form  # checked: only our own page may sign a person out
    token = session_token(request)
    if token:
        accounts.sign_out(uow.session, token)
        uow.commit()
    response = redirect("/sign-in?signed_out=1")
    end_page_session(request, response)
    return response


def link_gone(request: Request, refused: Gone) -> Response:
    """An emailed link that cannot be used: the API's 410, with its words for why."""
    return render(request, "error.html", 410, title="This link cannot be used", error=refused)


# --- signing up and confirming the email -----------------------------------------------------


@router.get("/sign-up")
def sign_up_page(request: Request) -> Response:
    return render(request, "sign_up.html", title="Create an account", values={})


@router.post("/sign-up")
def sign_up(
    request: Request,
    form: Form,
    uow: UowDep,
    services: ServicesDep,
    client: ClientDep,
) -> Response:
    """The API's sign-up (``POST /v1/signup``): an unverified account owning a new team, signed
    in at once; the page then asks the person to open the emailed link."""
    try:
        issued, _team = sign_up_with(uow, services, parse(SignUpRequest, form), client)
        uow.commit()
    except (DomainError, Invalid) as refused:
        return refused_form(
            request,
            "sign_up.html",
            refused,
            title="Create an account",
            values={"name": form.get("name", ""), "email": form.get("email", "")},
        )
    return signed_in_at(request, uow, "/check-email", issued)


def signed_in_page(request: Request) -> Page:
    """The visitor's page, if signed in (verified or not); else to the sign-in page."""
    page: Page = request.state.page
    if page.signed_in is None:
        raise Unauthenticated("Sign in first.")
    return page


@router.get("/check-email")
def check_email(request: Request) -> Response:
    """After signing up: open the emailed link (or ask for a new one)."""
    signed_in_page(request)
    return render(request, "check_email.html", title="Check your email")


@router.post("/check-email")
def resend_verification(
    request: Request, form: Form, uow: UowDep, services: ServicesDep, client: ClientDep
) -> Response:
    """The API's ``POST /v1/email-verifications``: a new link; the older one stops working."""
    del form  # checked: only our own page may ask
    page = signed_in_page(request)
    assert page.signed_in is not None
    try:
        accounts.request_verification(
            uow.session,
            services.limiter,
            services.account_policy,
            page.signed_in.account,
            client,
        )
        uow.commit()
    except DomainError as refused:
        return refused_form(
            request,
            "check_email.html",
            refused,
            title="Check your email",
        )
    return redirect("/check-email?sent=1")


def account_link_page(
    request: Request, uow: UowDep, token: str, purpose: LinkPurpose, template: str, title: str
) -> Response:
    """An emailed account link's page: its form if the link can still be used (opening it
    spends nothing: mail scanners open links), else the 410 page saying why."""
    try:
        usable_link(uow.session, token, purpose)
    except Gone as refused:
        return link_gone(request, refused)
    return render(request, template, title=title, token=token)


@router.get("/verify-email/{token}")
def verify_email_page(request: Request, token: str, uow: UowDep) -> Response:
    return account_link_page(
        request,
        uow,
        token,
        LinkPurpose.EMAIL_VERIFICATION,
        "verify_email.html",
        "Confirm your email",
    )


@router.post("/verify-email/{token}")
def verify_email(request: Request, token: str, form: Form, uow: UowDep) -> Response:
    """The API's ``POST /v1/email-verifications/confirm``."""
    del form  # checked: only our own page may confirm
    try:
        accounts.confirm_verification(uow.session, token)
        uow.commit()
    except Gone as refused:
        return link_gone(request, refused)
    except DomainError as refused:
        return render(
            request, "error.html", status_of_refusal(refused), title="Not confirmed", error=refused
        )
    return redirect("/welcome")


@router.get("/welcome")
def welcome(request: Request) -> Response:
    return render(request, "welcome.html", title="Your email is confirmed")


# --- a forgotten password --------------------------------------------------------------------


@router.get("/forgot-password")
def forgot_password_page(request: Request) -> Response:
    return render(request, "forgot_password.html", title="Reset your password", values={})


@router.post("/forgot-password")
def forgot_password(
    request: Request, form: Form, uow: UowDep, services: ServicesDep, client: ClientDep
) -> Response:
    """The API's ``POST /v1/password-resets``: the same page whether or not the email has an
    account, so it tells nobody which emails do."""
    try:
        body = parse(PasswordResetRequest, form)
        accounts.request_password_reset(
            uow.session,
            services.limiter,
            services.account_policy,
            email=body.email,
            client=client,
        )
        uow.commit()
    except (DomainError, Invalid) as refused:
        return refused_form(
            request,
            "forgot_password.html",
            refused,
            title="Reset your password",
            values={"email": form.get("email", "")},
        )
    return redirect("/forgot-password/sent")


@router.get("/forgot-password/sent")
def reset_link_sent(request: Request) -> Response:
    return render(request, "reset_link_sent.html", title="Check your email")


@router.get("/reset-password/{token}")
def reset_password_page(request: Request, token: str, uow: UowDep) -> Response:
    return account_link_page(
        request,
        uow,
        token,
        LinkPurpose.PASSWORD_RESET,
        "reset_password.html",
        "Choose a new password",
    )


@router.post("/reset-password/{token}")
def reset_password(
    request: Request, token: str, form: Form, uow: UowDep, services: ServicesDep
) -> Response:
    """The API's ``POST /v1/password-resets/confirm``: every session of the account ends, so
    the person signs in afresh with the new password."""
    try:
        body = parse(PasswordResetConfirm, form, token=token)
        accounts.reset_password(
            uow.session, services.passwords, token=token, new_password=body.new_password
        )
        held = session_token(request)
        if held:  # this browser may hold someone else's session: it ends too
            accounts.sign_out(uow.session, held)
        uow.commit()
    except Gone as refused:
        return link_gone(request, refused)
    except Invalid as invalid:
        if "token" in invalid.fields:
            return link_gone(request, LinkUnusable("This link is not valid: it never existed."))
        return render(
            request,
            "reset_password.html",
            422,
            title="Choose a new password",
            token=token,
            **form_error(invalid),
        )
    except DomainError as refused:
        return refused_form(
            request,
            "reset_password.html",
            refused,
            title="Choose a new password",
            token=token,
        )
    response = redirect("/sign-in?password_reset=1")
    end_page_session(request, response)  # it ended with every other session of the account
    return response


# --- an invitation ---------------------------------------------------------------------------


def invitation_page(
    request: Request, token: str, uow: UowDep, status: int = 200, **context: object
) -> Response:
    """Who invites whom, to which team, as what, until when (the API's preview)."""
    try:
        preview = invitations.preview_invitation(uow.session, token)
    except Gone as refused:
        return link_gone(request, refused)
    return render(
        request,
        "invitation.html",
        status,
        title=f"Join {preview.team.name}",
        token=token,
        invitation=preview.link,
        team=preview.team,
        inviter=preview.sender,
        **context,
    )


@router.get("/invitations/{token}")
def invitation(request: Request, token: str, uow: UowDep) -> Response:
    return invitation_page(request, token, uow, values={})


@router.post("/invitations/{token}")
def accept_invitation(
    request: Request,
    token: str,
    form: Form,
    uow: UowDep,
    services: ServicesDep,
    client: ClientDep,
) -> Response:
    """The API's ``POST /v1/invitations/accept``: the account (verified: the link proves the
    email) and its membership, signed in at once."""
    try:
        body = parse(AcceptInvitation, form, token=token)
        issued, _team, _role = accept_with(uow, services, body, client)
        uow.commit()
    except Gone as refused:
        return link_gone(request, refused)
    except (DomainError, Invalid) as refused:
        uow.session.rollback()
        return invitation_page(
            request,
            token,
            uow,
            status_of_refusal(refused),
            values={"name": form.get("name", "")},
            **form_error(refused),
        )
    return signed_in_at(request, uow, "/", issued)


# --- a migration request ---------------------------------------------------------------------


@router.get("/migration-consents/{token}")
def migration_consent(request: Request, token: str, uow: UowDep) -> Response:
    """Who asks to move the link holder's account, into which team, as what, and what the
    move would do to the team the person is in now (as the support agent sees it)."""
    try:
        preview = migration_tickets.preview_consent(uow.session, token)
    except Gone as refused:
        return link_gone(request, refused)
    view = migration_tickets.ticket_view(uow.session, preview.link.id)
    return render(
        request,
        "migration_consent.html",
        title=f"Move to {preview.team.name}?",
        token=token,
        ticket=preview.link,
        team=preview.team,
        requester=preview.sender,
        current=view.current_team,
    )


@router.post("/migration-consents/{token}")
def answer_migration(request: Request, token: str, form: Form, uow: UowDep) -> Response:
    """The API's ``POST /v1/migration-consents``: accept (a support agent reviews it next) or
    decline (it ends, and the owner who asked is told)."""
    try:
        body = parse(MigrationConsentDecision, form, token=token)
        ticket = migration_tickets.decide_consent(
            uow.session, token, accept=body.decision == "accept"
        )
        status = str(ticket.status)
        uow.commit()
    except Gone as refused:
        return link_gone(request, refused)
    except Invalid as invalid:
        if "token" in invalid.fields:
            return link_gone(request, LinkUnusable("This link is not valid: it never existed."))
        unanswered = InvalidInput("Choose Accept or Decline.")
        return render(request, "error.html", 422, title="Not answered", error=unanswered)
    except DomainError as refused:
        return render(
            request, "error.html", status_of_refusal(refused), title="Not answered", error=refused
        )
    return redirect(f"/migration-consents/answered/{status}")


@router.get("/migration-consents/answered/{status}")
def migration_answered(request: Request, status: str) -> Response:
    """What happens next: a support agent's review, or nothing (declined)."""
    if status not in (TicketStatus.AWAITING_REVIEW, TicketStatus.DECLINED):
        raise NotFound("No such page.")
    accepted = status == TicketStatus.AWAITING_REVIEW
    return render(
        request,
        "migration_answered.html",
        title="Request accepted" if accepted else "Request declined",
        accepted=accepted,
    )
