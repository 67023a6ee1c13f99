"""Who a page is for, and the form token that proves a form came from our own page.

A page session is the API's session: the same token (``tks_…``, stored only as a digest),
carried in an HttpOnly, SameSite=Lax cookie, Secure when the public URL is https. Every form
carries a token tied to a random cookie of the browser's (double submit): a page of another
site cannot read the cookie, so it cannot post a form we accept (403)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from domain.accounts import SignedIn, authenticate, end_reads, require_verified
from domain.clock import utcnow
from domain.errors import DomainError, NotAllowed, Unauthenticated
from domain.models import Account
from infra.db import UnitOfWork
from infra.services import Services

SESSION_COOKIE = "tk_session"
BROWSER_COOKIE = "tk_browser"
CSRF_FIELD = "csrf_token"
#: Under https the cookies' names carry this prefix: the browser then keeps them only if they
#: are Secure, for the whole site and this host alone, so no sibling subdomain can plant one.
HOST_ONLY = "__Host-"


@dataclass
class Page:
    """What every page knows of its visitor: set on ``request.state.page``."""

    signed_in: SignedIn | None
    csrf_token: str
    #: A new browser cookie to set on the answer (first visit), if any.
    new_browser: str | None = None

    @property
    def account(self) -> Account | None:
        return self.signed_in.account if self.signed_in else None


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _https(request: Request) -> bool:
    return services_of(request).settings.public_url.startswith("https://")


def cookie_name(request: Request, name: str) -> str:
    return f"{HOST_ONLY}{name}" if _https(request) else name


def session_token(request: Request) -> str | None:
    """The session token the page cookie holds, if any."""
    return request.cookies.get(cookie_name(request, SESSION_COOKIE))


def _form_token(services: Services, browser: str, signed_in: SignedIn | None) -> str:
    """Tied to the browser's cookie and to its session: signing in or out changes it."""
    bound = f"{browser}|{signed_in.session_id if signed_in else ''}"
    return hmac.new(services.form_secret, bound.encode(), "sha256").hexdigest()


def open_page(request: Request, uow: UnitOfWork) -> Page:
    """Find the visitor's session (if its cookie holds a live one) and form token."""
    services = services_of(request)
    signed_in = None
    token = session_token(request)
    if token:
        try:
            signed_in = authenticate(uow.session, token)
            services.sessions_last_used.touch(signed_in.session_id, utcnow())
        except DomainError:
            signed_in = None  # ended or expired: the page is seen as by anyone
        # Only a read so far: end it, so a form that hashes a password holds no lock.
        end_reads(uow.session)
    browser = request.cookies.get(cookie_name(request, BROWSER_COOKIE))
    new_browser = None
    if not browser or len(browser) > 100:
        browser = new_browser = secrets.token_urlsafe(24)
    page = Page(signed_in, _form_token(services, browser, signed_in), new_browser)
    request.state.page = page
    return page


def check_form_token(request: Request, submitted: str) -> None:
    """403 unless the form carries this browser's token (``web.pages`` answers it)."""
    page: Page = request.state.page
    matches = hmac.compare_digest(submitted.encode(), page.csrf_token.encode())
    if page.new_browser is not None or not matches:
        raise ForgedForm("This form did not come from this site's page. Reload the page.")


class ForgedForm(NotAllowed):
    code = "invalid_form_token"


def set_cookies(request: Request, response: Response) -> None:
    """The browser cookie on a first visit (a year: it only ties forms to this browser)."""
    page: Page | None = getattr(request.state, "page", None)
    if page is not None and page.new_browser is not None:
        _set(request, response, BROWSER_COOKIE, page.new_browser, BROWSER_COOKIE_AGE)


BROWSER_COOKIE_AGE = 365 * 24 * 3600


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """Every cookie of ours: HttpOnly, SameSite=Lax, and Secure (host-only) when on https."""
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_https(request),
    )


def start_page_session(request: Request, response: Response, token: str, max_age: int) -> None:
    """The new session in the page cookie, and a new browser cookie with it (so no form token
    known before signing in is good after)."""
    _set(request, response, SESSION_COOKIE, token, max_age)
    _set(request, response, BROWSER_COOKIE, secrets.token_urlsafe(24), BROWSER_COOKIE_AGE)


def end_page_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        cookie_name(request, SESSION_COOKIE), path="/", secure=_https(request), httponly=True
    )


def signed_in_account(request: Request) -> Account:
    """The page's verified account: anyone signed out is sent to the sign-in page, an account
    that has not proven its email to the page that asks for it (``web.pages``)."""
    page: Page = request.state.page
    if page.signed_in is None:
        raise Unauthenticated("Sign in first.")
    return require_verified(page.signed_in.account)


PageAccount = Annotated[Account, Depends(signed_in_account)]
